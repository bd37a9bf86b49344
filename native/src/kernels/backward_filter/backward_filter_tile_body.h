/*
 * backward_filter_tile_body.h -- dense / grouped backward filter (see backward_filter_plan.h), written
 * once over a few vector macros; included by backward_filter_tile__avx512.c and __avx2.c only.
 *
 * Item: (g, block of up to BFT_OCB ocg, block of up to BFT_ICB icg, chunk of up to TC taps). Per
 * 16-lane pixel block (16 / BFT_VL vectors) and tap: BFT_OCB diff + BFT_ICB src masked loads (one lane
 * mask: the tap's predicate bits) and BFT_OCB * BFT_ICB FMAs into as many accumulators. The pixel
 * domain is walked in chunks that stay in L1; the accumulators of the chunk's taps live in a small
 * stack array between chunks. The lanes of a tap are summed in a fixed order at the end (BFT_HSUM).
 *
 * The including file includes <immintrin.h> and defines:
 *   BFT_VL               lanes per vector (16 or 8)
 *   BFT_FN(name)         name with the ISA suffix
 *   BFT_VEC, BFT_MASK    vector and in-register lane mask; BFT_TOMASK(bits) bits -> mask
 *   BFT_ZERO()           zero vector
 *   BFT_LOADZ(k, p)      masked load: lanes outside k are 0 and neither read nor faulting
 *   BFT_FMA(d, s, acc, k) acc + d*s on the lanes of k (one rounding); elsewhere acc unchanged. Both
 *                        factors come from BFT_LOADZ under k, so an ISA may add 0*0 = +0 there instead
 *                        (at most a -0 lane of acc turns +0, which the lane sum cannot tell apart)
 *   BFT_HSUM(v)          the sum of v's lanes in a fixed order
 *   BFT_OCB, BFT_ICB     output and input channels per item; BFT_CASES(X) X(on, in) for each pair
 *   BFT_PREFETCH         1: prefetch the next chunk while passing over one (see tile_item)
 * and, for the half rows (float32 unless defined):
 *   BFT_T                the element type of src and diff (float, or uint16_t bit patterns of c.dtype)
 *   BFT_LOADZ_SRC(P, k, p), BFT_LOADZ_DIFF(P, k, p)  BFT_LOADZ for BFT_T elements of src / diff (as
 *                        floats, 0 outside k); P: the plan (the tensors' bounds)
 *   BFT_FN_T(name)       the pass's name (BFT_FN(name), or with the type in it)
 * A half instantiation sums the float32 one's products of the widened data in the same order (P->out
 * stays float: rr_bwf_run rounds it once to the output type).
 */
#include "backward_filter_plan.h"

#ifndef BFT_T
#define BFT_T float
#define BFT_LOADZ_SRC(P, k, p) BFT_LOADZ((k), (p))
#define BFT_LOADZ_DIFF(P, k, p) BFT_LOADZ((k), (p))
#define BFT_FN_T(name) BFT_FN(name)
#endif

#define TC 16 /* taps per item */
#ifndef CHUNK_BYTES
#define CHUNK_BYTES (20 * 1024)
#endif

#define INLINE static inline __attribute__((always_inline))

INLINE void tile_item(const rr_bwf_plan *P, int64_t g, int64_t oc0, int64_t ic0, int64_t t0, int64_t t1,
                      const int on, const int in, const int flat)
{
    const rr_conv *c = &P->c;
    const int64_t R = P->rows, Bn = P->blocks, T = P->ntaps;
    BFT_VEC accm[TC][BFT_OCB][BFT_ICB];
    for (int64_t t = 0; t < t1 - t0; t++)
#pragma GCC unroll 16
        for (int o = 0; o < on; o++)
#pragma GCC unroll 16
            for (int i = 0; i < in; i++) accm[t][o][i] = BFT_ZERO();

    /* chunk of pixel blocks: whole rows (by rows) or a run of blocks (flat) */
    int64_t chunk_blocks = CHUNK_BYTES / (64 * (on + in));
    if (chunk_blocks < 1) chunk_blocks = 1;
    const int64_t rows_per_chunk = flat ? 1 : (chunk_blocks / Bn > 0 ? chunk_blocks / Bn : 1);
#if BFT_PREFETCH
    /* the passes over a chunk prefetch the next chunk (prefetches never fault) */
    const int64_t pf_d = flat ? 16 * chunk_blocks : rows_per_chunk * P->diff_r;
    const int64_t pf_s = flat ? 16 * chunk_blocks : rows_per_chunk * c->sh * P->src_row;
#endif
    const int64_t src_c = P->src_c, diff_c = P->diff_c;

    for (int64_t n = P->n0; n < P->n1; n++) {
        const BFT_T *sb = (const BFT_T *)(const void *)P->src + n * P->src_n + (g * c->icpg + ic0) * src_c;
        const BFT_T *db = (const BFT_T *)(const void *)P->diff + n * P->diff_n + (g * c->ocpg + oc0) * diff_c;
        const uint16_t *mb = P->mask + (n - P->n0) * R * T * Bn;
        for (int64_t ra = 0, ba = 0; ra < R && ba < Bn;) {
            int64_t rb, bb;
            if (flat) {
                bb = ba + chunk_blocks < Bn ? ba + chunk_blocks : Bn;
                rb = 1;
            } else {
                rb = ra + rows_per_chunk < R ? ra + rows_per_chunk : R;
                bb = Bn;
            }
            for (int64_t t = t0; t < t1; t++) {
                const int64_t kh = t / c->fw, kw = t % c->fw;
                int64_t r0 = ra, r1 = rb;
                if (!flat) {
                    if (r0 < P->r_lo[kh]) r0 = P->r_lo[kh];
                    if (r1 > P->r_hi[kh]) r1 = P->r_hi[kh];
                }
                if (r0 >= r1) continue;
                BFT_VEC acc[BFT_OCB][BFT_ICB];
#pragma GCC unroll 16
                for (int o = 0; o < on; o++)
#pragma GCC unroll 16
                    for (int i = 0; i < in; i++) acc[o][i] = accm[t - t0][o][i];
#if BFT_PREFETCH
                /* Flat, pass j prefetches the next chunk's planes p = j (mod passes); by rows, the first
                   pass prefetches all of them (below). Each measured the faster for its domain. */
                const char *pf[BFT_OCB + BFT_ICB];
                int npf = 0;
                if (flat)
                    for (int64_t pl = t - t0; pl < on + in; pl += t1 - t0)
                        pf[npf++] = (const char *)(pl < on ? db + pl * diff_c + pf_d : sb + (pl - on) * src_c + pf_s);
#endif
                for (int64_t r = r0; r < r1; r++) {
                    const int64_t roff = flat ? P->row_off0[kh] : (r * c->sh - c->ph + kh * c->dh) * P->src_row;
                    const BFT_T *sp = sb + roff + P->col_off[kw];
                    const BFT_T *dp = db + r * P->diff_r;
                    const uint16_t *mp = mb + r * Bn * T + t;
                    for (int64_t b = ba; b < bb; b++) {
#if BFT_PREFETCH
                        if (flat) {
                            for (int q = 0; q < npf; q++) _mm_prefetch(pf[q] + 16 * sizeof(BFT_T) * b, _MM_HINT_T0);
                        } else if (t == t0) {
#pragma GCC unroll 16
                            for (int o = 0; o < on; o++)
                                _mm_prefetch((const char *)(dp + o * diff_c + 16 * b + pf_d), _MM_HINT_T0);
#pragma GCC unroll 16
                            for (int i = 0; i < in; i++)
                                _mm_prefetch((const char *)(sp + i * src_c + 16 * b + pf_s), _MM_HINT_T0);
                        }
#endif
                        const unsigned k16 = mp[b * T];
                        if (k16 == 0) continue;
#pragma GCC unroll 2
                        for (int h = 0; h < 16 / BFT_VL; h++) {
                            const unsigned kb = (k16 >> (BFT_VL * h)) & ((1u << BFT_VL) - 1u);
                            if (BFT_VL < 16 && kb == 0) continue;
                            const BFT_MASK k = BFT_TOMASK(kb);
                            const int64_t off = 16 * b + BFT_VL * h;
                            BFT_VEC dv[BFT_OCB];
#pragma GCC unroll 16
                            for (int o = 0; o < on; o++) dv[o] = BFT_LOADZ_DIFF(P, k, dp + o * diff_c + off);
#pragma GCC unroll 16
                            for (int i = 0; i < in; i++) {
                                const BFT_VEC sv = BFT_LOADZ_SRC(P, k, sp + i * src_c + off);
#pragma GCC unroll 16
                                for (int o = 0; o < on; o++) acc[o][i] = BFT_FMA(dv[o], sv, acc[o][i], k);
                            }
                        }
                    }
                }
#pragma GCC unroll 16
                for (int o = 0; o < on; o++)
#pragma GCC unroll 16
                    for (int i = 0; i < in; i++) accm[t - t0][o][i] = acc[o][i];
            }
            if (flat) ba = bb;
            else ra = rb;
        }
    }

    float *out = P->out + ((g * c->ocpg + oc0) * c->icpg + ic0) * T;
    for (int64_t t = t0; t < t1; t++) {
#pragma GCC unroll 16
        for (int o = 0; o < on; o++) {
#pragma GCC unroll 16
            for (int i = 0; i < in; i++) {
                const float v = BFT_HSUM(accm[t - t0][o][i]);
                float *e = out + (o * c->icpg + i) * T + t;
                *e = P->first_batch ? v : *e + v;
            }
        }
    }
}

#define TILE_CASE(ON, IN)                                                                          \
    case (ON - 1) * BFT_ICB + (IN - 1):                                                            \
        if (P->flat) tile_item(P, g, oc0, ic0, t0, t1, ON, IN, 1);                                 \
        else tile_item(P, g, oc0, ic0, t0, t1, ON, IN, 0);                                         \
        break;

static void tile_range(void *vctx, int64_t begin, int64_t end)
{
    const rr_bwf_plan *P = (const rr_bwf_plan *)vctx;
    const rr_conv *c = &P->c;
    const int64_t nob = (c->ocpg + BFT_OCB - 1) / BFT_OCB, nib = (c->icpg + BFT_ICB - 1) / BFT_ICB;
    const int64_t ntc = (P->ntaps + TC - 1) / TC;
    for (int64_t item = begin; item < end; item++) {
        int64_t x = item;
        const int64_t tc = x % ntc; x /= ntc;
        const int64_t ib = x % nib; x /= nib;
        const int64_t ob = x % nob; x /= nob;
        const int64_t g = x;
        const int64_t oc0 = ob * BFT_OCB, ic0 = ib * BFT_ICB, t0 = tc * TC;
        const int64_t t1 = t0 + TC < P->ntaps ? t0 + TC : P->ntaps;
        const int on = (int)(c->ocpg - oc0 < BFT_OCB ? c->ocpg - oc0 : BFT_OCB);
        const int in = (int)(c->icpg - ic0 < BFT_ICB ? c->icpg - ic0 : BFT_ICB);
        switch ((on - 1) * BFT_ICB + (in - 1)) {
            BFT_CASES(TILE_CASE)
        default: break;
        }
    }
}

void BFT_FN_T(rr_bwf_pass_tile)(const rr_bwf_plan *P)
{
    const rr_conv *c = &P->c;
    const int64_t items = c->groups * ((c->ocpg + BFT_OCB - 1) / BFT_OCB) * ((c->icpg + BFT_ICB - 1) / BFT_ICB) *
                          ((P->ntaps + TC - 1) / TC);
    rr_parallel_for(items, tile_range, (void *)(uintptr_t)P);
}
