/*
 * backward_filter_icpg1_body.h -- depthwise backward filter (icpg == 1, see backward_filter_plan.h), written
 * once over a few vector macros; included by backward_filter_icpg1__avx512.c and __avx2.c only.
 *
 * Item: (BFD_CB output channels, block of up to 3 kh, block of up to BFD_KWB kw; at most BFD_KTB taps).
 * The channels' src planes are g = oc / ocpg. Per 16-lane pixel block, in 16 / BFD_VL vectors, and kh:
 * one diff load per channel, then per kw one lane mask (shared by the channels), one masked shifted
 * src load and one masked FMA per channel, into up to BFD_CB * BFD_KTB accumulators. Small kernels
 * (3x3) thus read their data once per channel. With stride_w = dil_w = 1 the kw taps are consecutive
 * columns (`unit`): one base pointer with constant offsets, which keeps the loop out of
 * general-register spills. Masked-off lanes are never loaded and keep their accumulator (diff there
 * may be NaN or Inf). The lanes of a tap are summed in a fixed order at the end (BFD_HSUM).
 *
 * The including file includes <immintrin.h> and defines:
 *   BFD_VL               lanes per vector (16 or 8: a 16-lane mask block is then two vectors)
 *   BFD_FN(name)         name with the ISA suffix
 *   BFD_VEC, BFD_MASK    vector and in-register lane mask; BFD_TOMASK(bits) bits (BFD_VL of them) -> mask
 *   BFD_ZERO()           zero vector
 *   BFD_T                the element type of src and diff (float, or uint16_t half bit patterns)
 *   BFD_LOADZ(k, p)      masked load of BFD_T elements as floats: lanes outside k are 0 and neither
 *                        read nor faulting
 *   BFD_FMA(x, y, acc, k) lanes in k: acc + x*y (one rounding); others: acc unchanged
 *   BFD_HSUM(v)          the sum of v's lanes in a fixed order
 *   BFD_CB, BFD_KWB, BFD_KTB  channels, kw and taps per item (BFD_CB 1 or 2)
 *   BFD_KN1(X), BFD_KN2(X), BFD_KN3(X)  X(1) ... X(kn max) for 1, 2 and 3 kh per item
 */
#include "backward_filter_plan.h"

#define KHB 3        /* kh per item */
#define PF_AHEAD 128 /* floats */
#define BFD_FULL ((1u << BFD_VL) - 1u)

#define INLINE static inline __attribute__((always_inline))

INLINE void dw_item(const rr_bwf_plan *P, int64_t oc0, int64_t kh0, int64_t kw0, const int cn, const int hn,
                    const int kn, const int unit)
{
    const rr_conv *c = &P->c;
    const int64_t R = P->rows, Bn = P->blocks, T = P->ntaps, FW = c->fw;
    const int64_t rem = P->lanes - 16 * (Bn - 1); /* real lanes of the last block, 1..16 */
    const unsigned last = rem >= 16 ? 0xFFFFu : (1u << rem) - 1u;
    int64_t coff[BFD_KWB];
#pragma GCC unroll 16
    for (int j = 0; j < kn; j++) coff[j] = P->col_off[kw0 + j] - P->col_off[kw0];
    int64_t r_min = R, r_max = 0;
#pragma GCC unroll 16
    for (int i = 0; i < hn; i++) {
        const int64_t lo = P->flat ? 0 : P->r_lo[kh0 + i], hi = P->flat ? 1 : P->r_hi[kh0 + i];
        if (lo < hi && lo < r_min) r_min = lo;
        if (lo < hi && hi > r_max) r_max = hi;
    }
    const int64_t src_cd = cn > 1 ? ((oc0 + 1) / c->ocpg - oc0 / c->ocpg) * P->src_c : 0;

    BFD_VEC acc[BFD_CB][BFD_KTB];
#pragma GCC unroll 16
    for (int ch = 0; ch < cn; ch++)
#pragma GCC unroll 16
        for (int t = 0; t < hn * kn; t++) acc[ch][t] = BFD_ZERO();

    for (int64_t n = P->n0; n < P->n1; n++) {
        const BFD_T *sb = (const BFD_T *)(const void *)P->src + n * P->src_n + (oc0 / c->ocpg) * P->src_c + P->col_off[kw0];
        const BFD_T *db = (const BFD_T *)(const void *)P->diff + n * P->diff_n + oc0 * P->diff_c;
        const uint16_t *mb = P->mask + (n - P->n0) * R * Bn * T + kh0 * FW + kw0;
        for (int64_t r = r_min; r < r_max; r++) {
            /* A kh whose row is outside the image has all-zero masks: its loads and FMAs do nothing
               (and its src pointer is never dereferenced); no branch keeps the accumulators in registers. */
            const BFD_T *dp = db + r * P->diff_r;
            const BFD_T *sp[KHB];
#pragma GCC unroll 16
            for (int i = 0; i < hn; i++) {
                const int64_t kh = kh0 + i;
                sp[i] = sb + (P->flat ? P->row_off0[kh] : (r * c->sh - c->ph + kh * c->dh) * P->src_row);
            }
            const uint16_t *mp = mb + r * Bn * T;
            for (int64_t b = 0; b < Bn; b++) {
                const unsigned real = b == Bn - 1 ? last : 0xFFFFu;
#pragma GCC unroll 2
                for (int h = 0; h < 16 / BFD_VL; h++) {
                    const unsigned dbits = (real >> (BFD_VL * h)) & BFD_FULL;
                    if (h > 0 && dbits == 0) break; /* the block's real lanes end in the first half */
                    const int64_t off = 16 * b + BFD_VL * h;
                    const BFD_MASK kd = BFD_TOMASK(dbits);
                    BFD_VEC dv[BFD_CB];
#pragma GCC unroll 16
                    for (int ch = 0; ch < cn; ch++) {
                        dv[ch] = BFD_LOADZ(kd, dp + ch * P->diff_c + off);
                        /* the hardware prefetchers do not keep up with 2 x (1 + hn) streams per item */
                        _mm_prefetch((const char *)(dp + ch * P->diff_c + off + PF_AHEAD), _MM_HINT_T0);
                        _mm_prefetch((const char *)(sp[hn - 1] + ch * src_cd + off + PF_AHEAD), _MM_HINT_T0);
                    }
#pragma GCC unroll 16
                    for (int i = 0; i < hn; i++) {
                        const uint16_t *mq = mp + b * T + i * FW;
                        const BFD_T *sq = sp[i] + off;
#pragma GCC unroll 16
                        for (int j = 0; j < kn; j++) {
                            const BFD_MASK k = BFD_TOMASK((unsigned)(mq[j] >> (BFD_VL * h)) & BFD_FULL);
                            const BFD_T *s = sq + (unit ? j : coff[j]);
#pragma GCC unroll 16
                            for (int ch = 0; ch < cn; ch++) {
                                const BFD_VEC sv = BFD_LOADZ(k, s + ch * src_cd);
                                acc[ch][i * kn + j] = BFD_FMA(sv, dv[ch], acc[ch][i * kn + j], k);
                            }
                        }
                    }
                }
            }
        }
    }

#pragma GCC unroll 16
    for (int ch = 0; ch < cn; ch++) {
        float *out = P->out + (oc0 + ch) * T + kh0 * FW + kw0;
#pragma GCC unroll 16
        for (int i = 0; i < hn; i++) {
#pragma GCC unroll 16
            for (int j = 0; j < kn; j++) {
                const float v = BFD_HSUM(acc[ch][i * kn + j]);
                float *e = out + i * FW + j;
                *e = P->first_batch ? v : *e + v;
            }
        }
    }
}

/* Tap blocks: kw in as few blocks of <= BFD_KWB as possible, of (nearly) equal size; then as many kh
   per block as BFD_KTB allows (at most 3), again balanced. */
typedef struct dw_blocks {
    int64_t nkb, kbs, nhb, hbs;
} dw_blocks;

static dw_blocks blocks_of(const rr_conv *c)
{
    dw_blocks x;
    x.nkb = (c->fw + BFD_KWB - 1) / BFD_KWB;
    x.kbs = (c->fw + x.nkb - 1) / x.nkb;
    int64_t hmax = BFD_KTB / x.kbs;
    if (hmax > KHB) hmax = KHB;
    if (hmax < 1) hmax = 1;
    x.nhb = (c->fh + hmax - 1) / hmax;
    x.hbs = (c->fh + x.nhb - 1) / x.nhb;
    return x;
}

/* Dispatch to a constant (cn, hn, kn, unit) instance; hn > 1 only for kn <= BFD_KTB / hn. */
static void dw_dispatch(const rr_bwf_plan *P, int64_t oc0, int64_t kh0, int64_t kw0, int cn, int hn, int kn,
                        int unit)
{
#define DW_CASE(KN) case (KN): dw_item(P, oc0, kh0, kw0, CN_, HN_, KN, U_); break;
#define DW_SWITCH(CN, HN, U, CASES)                                                                \
    do {                                                                                           \
        enum { CN_ = CN, HN_ = HN, U_ = U };                                                       \
        switch (kn) {                                                                              \
            CASES(DW_CASE)                                                                         \
        default: break;                                                                            \
        }                                                                                          \
    } while (0)
#define DW_ROWS(CN, U)                                                                             \
    do {                                                                                           \
        if (hn == 1) DW_SWITCH(CN, 1, U, BFD_KN1);                                                 \
        else if (hn == 2) DW_SWITCH(CN, 2, U, BFD_KN2);                                            \
        else DW_SWITCH(CN, 3, U, BFD_KN3);                                                         \
    } while (0)
#if BFD_CB == 2
    if (cn == 2) {
        if (unit) DW_ROWS(2, 1);
        else DW_ROWS(2, 0);
        return;
    }
#else
    (void)cn;
#endif
    if (unit) DW_ROWS(1, 1);
    else DW_ROWS(1, 0);
#undef DW_ROWS
#undef DW_SWITCH
#undef DW_CASE
}

static void dw_range(void *vctx, int64_t begin, int64_t end)
{
    const rr_bwf_plan *P = (const rr_bwf_plan *)vctx;
    const rr_conv *c = &P->c;
    const dw_blocks x = blocks_of(c);
    const int unit = c->sw == 1 && c->dw == 1;
    for (int64_t item = begin; item < end; item++) {
        int64_t it = item;
        const int64_t kb = it % x.nkb; it /= x.nkb;
        const int64_t hb = it % x.nhb; it /= x.nhb;
        const int64_t oc0 = it * BFD_CB;
        const int64_t kw0 = kb * x.kbs, kh0 = hb * x.hbs;
        const int kn = (int)(c->fw - kw0 < x.kbs ? c->fw - kw0 : x.kbs);
        const int hn = (int)(c->fh - kh0 < x.hbs ? c->fh - kh0 : x.hbs);
        const int cn = (int)(c->oc - oc0 < BFD_CB ? c->oc - oc0 : BFD_CB);
        dw_dispatch(P, oc0, kh0, kw0, cn, hn, kn, unit);
    }
}

void BFD_FN(rr_bwf_pass_dw)(const rr_bwf_plan *P)
{
    const rr_conv *c = &P->c;
    const dw_blocks x = blocks_of(c);
    rr_parallel_for((c->oc + BFD_CB - 1) / BFD_CB * x.nhb * x.nkb, dw_range, (void *)(uintptr_t)P);
}
