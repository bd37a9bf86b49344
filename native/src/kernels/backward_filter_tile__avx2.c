/*
 * backward_filter_tile__avx2.c -- dense / grouped backward filter, AVX2 (see backward_filter_plan.h).
 *
 * Item: (g, block of up to 4 ocg, block of up to 2 icg, chunk of up to TC taps). Per 8-lane half of a
 * pixel block and tap: 4 diff + 2 src masked loads (one lane mask from the tap's predicate bits) and
 * 8 FMAs into 8 ymm accumulators. Both factors are loaded with the mask, so a masked-off lane adds
 * 0*0 = +0 and leaves its accumulator as it was (no blend needed; at most a -0 lane turns +0);
 * such loads never fault. The pixel domain is walked in chunks that stay in L1; the accumulators
 * of the chunk's taps live in a small stack array between chunks.
 */
#include "backward_filter_plan.h"

#include <immintrin.h>

#define OCB 4
#define ICB 2
#define TC 16 /* taps per item */
#define CHUNK_BYTES (20 * 1024)

#define INLINE static inline __attribute__((always_inline))

/* Lane j all-ones iff bit j of bits (0..255). */
INLINE __m256i lane_mask(unsigned bits)
{
    const __m256i lane_bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), lane_bits), lane_bits);
}

/* Sum of the 8 lanes in a fixed order. */
INLINE float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE void tile_item(const rr_bwf_plan *P, int64_t g, int64_t oc0, int64_t ic0, int64_t t0, int64_t t1,
                      const int on, const int in)
{
    const rr_conv *c = &P->c;
    const int64_t R = P->rows, Bn = P->blocks, T = P->ntaps;
    __m256 accm[TC][OCB][ICB];
    for (int64_t t = 0; t < t1 - t0; t++)
#pragma GCC unroll 16
        for (int o = 0; o < on; o++)
#pragma GCC unroll 16
            for (int i = 0; i < in; i++) accm[t][o][i] = _mm256_setzero_ps();

    /* chunk of pixel blocks: whole rows (by rows) or a run of blocks (flat) */
    int64_t chunk_blocks = CHUNK_BYTES / (64 * (on + in));
    if (chunk_blocks < 1) chunk_blocks = 1;
    const int64_t rows_per_chunk = P->flat ? 1 : (chunk_blocks / Bn > 0 ? chunk_blocks / Bn : 1);
    const int64_t src_c = P->src_c, diff_c = P->diff_c;

    for (int64_t n = P->n0; n < P->n1; n++) {
        const float *sb = P->src + n * P->src_n + (g * c->icpg + ic0) * src_c;
        const float *db = P->diff + n * P->diff_n + (g * c->ocpg + oc0) * diff_c;
        const uint16_t *mb = P->mask + (n - P->n0) * R * T * Bn;
        for (int64_t ra = 0, ba = 0; ra < R && ba < Bn;) {
            int64_t rb, bb;
            if (P->flat) {
                bb = ba + chunk_blocks < Bn ? ba + chunk_blocks : Bn;
                rb = 1;
            } else {
                rb = ra + rows_per_chunk < R ? ra + rows_per_chunk : R;
                bb = Bn;
            }
            for (int64_t t = t0; t < t1; t++) {
                const int64_t kh = t / c->fw, kw = t % c->fw;
                int64_t r0 = ra, r1 = rb;
                if (!P->flat) {
                    if (r0 < P->r_lo[kh]) r0 = P->r_lo[kh];
                    if (r1 > P->r_hi[kh]) r1 = P->r_hi[kh];
                }
                if (r0 >= r1) continue;
                __m256 acc[OCB][ICB];
#pragma GCC unroll 16
                for (int o = 0; o < on; o++)
#pragma GCC unroll 16
                    for (int i = 0; i < in; i++) acc[o][i] = accm[t - t0][o][i];
                for (int64_t r = r0; r < r1; r++) {
                    const int64_t roff = P->flat ? P->row_off0[kh] : (r * c->sh - c->ph + kh * c->dh) * P->src_row;
                    const float *sp = sb + roff + P->col_off[kw];
                    const float *dp = db + r * P->diff_r;
                    const uint16_t *mp = mb + r * Bn * T + t;
                    for (int64_t b = ba; b < bb; b++) {
                        const unsigned k16 = mp[b * T];
                        if (k16 == 0) continue;
#pragma GCC unroll 16
                        for (int h = 0; h < 2; h++) {
                            const unsigned k8 = (k16 >> (8 * h)) & 0xFFu;
                            if (k8 == 0) continue;
                            const __m256i m = lane_mask(k8);
                            const int64_t off = 16 * b + 8 * h;
                            __m256 dv[OCB];
#pragma GCC unroll 16
                            for (int o = 0; o < on; o++) dv[o] = _mm256_maskload_ps(dp + o * diff_c + off, m);
#pragma GCC unroll 16
                            for (int i = 0; i < in; i++) {
                                const __m256 sv = _mm256_maskload_ps(sp + i * src_c + off, m);
#pragma GCC unroll 16
                                for (int o = 0; o < on; o++) acc[o][i] = _mm256_fmadd_ps(dv[o], sv, acc[o][i]);
                            }
                        }
                    }
                }
#pragma GCC unroll 16
                for (int o = 0; o < on; o++)
#pragma GCC unroll 16
                    for (int i = 0; i < in; i++) accm[t - t0][o][i] = acc[o][i];
            }
            if (P->flat) ba = bb;
            else ra = rb;
        }
    }

    float *out = P->out + ((g * c->ocpg + oc0) * c->icpg + ic0) * T;
    for (int64_t t = t0; t < t1; t++) {
#pragma GCC unroll 16
        for (int o = 0; o < on; o++) {
#pragma GCC unroll 16
            for (int i = 0; i < in; i++) {
                const float v = hsum(accm[t - t0][o][i]);
                float *e = out + (o * c->icpg + i) * T + t;
                *e = P->first_batch ? v : *e + v;
            }
        }
    }
}

#define TILE_CASE(ON, IN)                                                                          \
    case (ON - 1) * ICB + (IN - 1): tile_item(P, g, oc0, ic0, t0, t1, ON, IN); break;

static void tile_range(void *vctx, int64_t begin, int64_t end)
{
    const rr_bwf_plan *P = (const rr_bwf_plan *)vctx;
    const rr_conv *c = &P->c;
    const int64_t nob = (c->ocpg + OCB - 1) / OCB, nib = (c->icpg + ICB - 1) / ICB;
    const int64_t ntc = (P->ntaps + TC - 1) / TC;
    for (int64_t item = begin; item < end; item++) {
        int64_t x = item;
        const int64_t tc = x % ntc; x /= ntc;
        const int64_t ib = x % nib; x /= nib;
        const int64_t ob = x % nob; x /= nob;
        const int64_t g = x;
        const int64_t oc0 = ob * OCB, ic0 = ib * ICB, t0 = tc * TC;
        const int64_t t1 = t0 + TC < P->ntaps ? t0 + TC : P->ntaps;
        const int on = (int)(c->ocpg - oc0 < OCB ? c->ocpg - oc0 : OCB);
        const int in = (int)(c->icpg - ic0 < ICB ? c->icpg - ic0 : ICB);
        switch ((on - 1) * ICB + (in - 1)) {
            TILE_CASE(1, 1) TILE_CASE(1, 2)
            TILE_CASE(2, 1) TILE_CASE(2, 2)
            TILE_CASE(3, 1) TILE_CASE(3, 2)
            TILE_CASE(4, 1) TILE_CASE(4, 2)
        default: break;
        }
    }
}

void rr_bwf_pass_tile_avx2(const rr_bwf_plan *P)
{
    const rr_conv *c = &P->c;
    const int64_t items = c->groups * ((c->ocpg + OCB - 1) / OCB) * ((c->icpg + ICB - 1) / ICB) *
                          ((P->ntaps + TC - 1) / TC);
    rr_parallel_for(items, tile_range, (void *)(uintptr_t)P);
}
