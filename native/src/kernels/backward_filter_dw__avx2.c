/*
 * backward_filter_dw__avx2.c -- depthwise backward filter (icpg == 1), AVX2 (see
 * backward_filter_plan.h).
 *
 * Item: (output channel, block of up to 3 kh, block of up to 9 kw; at most 9 taps). The channel's
 * src plane is g = oc / ocpg. Per 8-lane half of a pixel block: one diff load, then per tap a lane
 * mask from the predicate bits, one masked shifted src load and one FMA whose masked-off lanes are
 * blended back to the old accumulator (diff there may be NaN or Inf). Small kernels (3x3) thus read
 * their data once per channel.
 * With stride_w = dil_w = 1 the kw taps are consecutive columns (`unit`): one base pointer with
 * constant offsets, which keeps the loop out of general-register spills.
 */
#include "backward_filter_plan.h"

#include <immintrin.h>

#define CB 1
#define KWB 9 /* kw per item */
#define KTB 9 /* taps per item */
#define KHB 3  /* kh per item */
#define PF_AHEAD 128 /* floats */

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

INLINE void dw_item(const rr_bwf_plan *P, int64_t oc0, int64_t kh0, int64_t kw0, const int cn, const int hn,
                    const int kn, const int unit)
{
    const rr_conv *c = &P->c;
    const int64_t R = P->rows, Bn = P->blocks, T = P->ntaps, FW = c->fw;
    const int64_t lanes = P->lanes;
    int64_t coff[KWB];
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

    __m256 acc[CB][KTB];
#pragma GCC unroll 16
    for (int ch = 0; ch < cn; ch++)
#pragma GCC unroll 16
        for (int t = 0; t < hn * kn; t++) acc[ch][t] = _mm256_setzero_ps();

    for (int64_t n = P->n0; n < P->n1; n++) {
        const float *sb = P->src + n * P->src_n + (oc0 / c->ocpg) * P->src_c + P->col_off[kw0];
        const float *db = P->diff + n * P->diff_n + oc0 * P->diff_c;
        const uint16_t *mb = P->mask + (n - P->n0) * R * Bn * T + kh0 * FW + kw0;
        for (int64_t r = r_min; r < r_max; r++) {
            /* A kh whose row is outside the image has all-zero masks: its loads and FMAs do nothing
               (and its src pointer is never dereferenced); no branch keeps the accumulators in registers. */
            const float *dp = db + r * P->diff_r;
            const float *sp[KHB];
#pragma GCC unroll 16
            for (int i = 0; i < hn; i++) {
                const int64_t kh = kh0 + i;
                sp[i] = sb + (P->flat ? P->row_off0[kh] : (r * c->sh - c->ph + kh * c->dh) * P->src_row);
            }
            const uint16_t *mp = mb + r * Bn * T;
            for (int64_t b = 0; b < Bn; b++) {
#pragma GCC unroll 2
                for (int h = 0; h < 2; h++) {
                    const int64_t off = 16 * b + 8 * h;
                    if (off >= lanes) break;
                    const int64_t left = lanes - off;
                    const __m256i md = lane_mask(left >= 8 ? 0xFFu : (1u << left) - 1u);
                    __m256 dv[CB];
#pragma GCC unroll 16
                    for (int ch = 0; ch < cn; ch++) {
                        dv[ch] = _mm256_maskload_ps(dp + ch * P->diff_c + off, md);
                        _mm_prefetch((const char *)(dp + ch * P->diff_c + off + PF_AHEAD), _MM_HINT_T0);
                        _mm_prefetch((const char *)(sp[hn - 1] + ch * src_cd + off + PF_AHEAD), _MM_HINT_T0);
                    }
#pragma GCC unroll 16
                    for (int i = 0; i < hn; i++) {
                        const uint16_t *mq = mp + b * T + i * FW;
                        const float *sq = sp[i] + off;
#pragma GCC unroll 16
                        for (int j = 0; j < kn; j++) {
                            const __m256i m = lane_mask((mq[j] >> (8 * h)) & 0xFFu);
                            const float *s = sq + (unit ? j : coff[j]);
#pragma GCC unroll 16
                            for (int ch = 0; ch < cn; ch++) {
                                const __m256 sv = _mm256_maskload_ps(s + ch * src_cd, m);
                                acc[ch][i * kn + j] = _mm256_blendv_ps(acc[ch][i * kn + j],
                                                                       _mm256_fmadd_ps(sv, dv[ch], acc[ch][i * kn + j]),
                                                                       _mm256_castsi256_ps(m));
                            }
                        }
                    }
                }
            }
        }
    }

    for (int ch = 0; ch < cn; ch++) {
        float *out = P->out + (oc0 + ch) * T + kh0 * FW + kw0;
#pragma GCC unroll 16
        for (int i = 0; i < hn; i++) {
#pragma GCC unroll 16
            for (int j = 0; j < kn; j++) {
                const float v = hsum(acc[ch][i * kn + j]);
                float *e = out + i * FW + j;
                *e = P->first_batch ? v : *e + v;
            }
        }
    }
}

/* Tap blocks: kw in as few blocks of <= KWB as possible, of (nearly) equal size; then as many kh
   per block as KTB allows (at most 3), again balanced. */
typedef struct dw_blocks {
    int64_t nkb, kbs, nhb, hbs;
} dw_blocks;

static dw_blocks blocks_of(const rr_conv *c)
{
    dw_blocks x;
    x.nkb = (c->fw + KWB - 1) / KWB;
    x.kbs = (c->fw + x.nkb - 1) / x.nkb;
    int64_t hmax = KTB / x.kbs;
    if (hmax > 3) hmax = 3;
    if (hmax < 1) hmax = 1;
    x.nhb = (c->fh + hmax - 1) / hmax;
    x.hbs = (c->fh + x.nhb - 1) / x.nhb;
    return x;
}

#define DW_K(CN, HN, KN, U) dw_item(P, oc0, kh0, kw0, CN, HN, KN, U)
#define DW_KS(CN, HN, U, KN)                                                                        \
    case (KN): DW_K(CN, HN, KN, U); break;

/* Dispatch to a constant (cn, hn, kn, unit) instance. hn > 1 only for kn <= 12 / hn. */
static void dw_dispatch(const rr_bwf_plan *P, int64_t oc0, int64_t kh0, int64_t kw0, int cn, int hn, int kn,
                        int unit)
{
#define DW_ROW12(CN, U)                                                                            \
    switch (kn) {                                                                                  \
        DW_KS(CN, 1, U, 1) DW_KS(CN, 1, U, 2) DW_KS(CN, 1, U, 3) DW_KS(CN, 1, U, 4)                 \
        DW_KS(CN, 1, U, 5) DW_KS(CN, 1, U, 6) DW_KS(CN, 1, U, 7) DW_KS(CN, 1, U, 8)                 \
        DW_KS(CN, 1, U, 9)                                                                         \
    default: break;                                                                                \
    }
#define DW_ROW6(CN, U)                                                                             \
    switch (kn) {                                                                                  \
        DW_KS(CN, 2, U, 1) DW_KS(CN, 2, U, 2) DW_KS(CN, 2, U, 3) DW_KS(CN, 2, U, 4)                 \
    default: break;                                                                                \
    }
#define DW_ROW4(CN, U)                                                                             \
    switch (kn) {                                                                                  \
        DW_KS(CN, 3, U, 1) DW_KS(CN, 3, U, 2) DW_KS(CN, 3, U, 3)                                    \
    default: break;                                                                                \
    }
    (void)cn;
    if (unit) {
        if (hn == 1) DW_ROW12(1, 1) else if (hn == 2) DW_ROW6(1, 1) else DW_ROW4(1, 1)
    } else {
        if (hn == 1) DW_ROW12(1, 0) else if (hn == 2) DW_ROW6(1, 0) else DW_ROW4(1, 0)
    }
#undef DW_ROW12
#undef DW_ROW6
#undef DW_ROW4
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
        const int64_t oc0 = it * CB;
        const int64_t kw0 = kb * x.kbs, kh0 = hb * x.hbs;
        const int kn = (int)(c->fw - kw0 < x.kbs ? c->fw - kw0 : x.kbs);
        const int hn = (int)(c->fh - kh0 < x.hbs ? c->fh - kh0 : x.hbs);
        const int cn = (int)(c->oc - oc0 < CB ? c->oc - oc0 : CB);
        dw_dispatch(P, oc0, kh0, kw0, cn, hn, kn, unit);
    }
}

void rr_bwf_pass_dw_avx2(const rr_bwf_plan *P)
{
    const rr_conv *c = &P->c;
    const dw_blocks x = blocks_of(c);
    rr_parallel_for((c->oc + CB - 1) / CB * x.nhb * x.nkb, dw_range, (void *)(uintptr_t)P);
}
