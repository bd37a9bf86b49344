/*
 * backward_filter_dw__avx2.c -- depthwise backward filter (icpg == 1), AVX2 (see
 * backward_filter_plan.h).
 *
 * Item: (pair of output channels, kh, block of up to KWB kw). The channels' src planes are
 * g = oc / ocpg. Per 8-lane half of a pixel block: one diff load per channel, then per kw one lane
 * mask (shared by both channels), one masked shifted src load and one FMA per channel whose masked-off
 * lanes are blended back to the old accumulator (diff there may be NaN), into CB*KWB accumulators.
 */
#include "backward_filter_plan.h"

#include <immintrin.h>

#define CB 2
#define KWB 6

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

INLINE void dw_item(const rr_bwf_plan *P, int64_t oc0, int64_t kh, int64_t kw0, const int cn, const int kn)
{
    const rr_conv *c = &P->c;
    const int64_t R = P->rows, Bn = P->blocks, T = P->ntaps;
    const int64_t r_lo = P->flat ? 0 : P->r_lo[kh], r_hi = P->flat ? 1 : P->r_hi[kh];
    const int64_t lanes = P->lanes;
    int64_t coff[KWB];
#pragma GCC unroll 16
    for (int j = 0; j < kn; j++) coff[j] = P->col_off[kw0 + j];

    __m256 acc[CB][KWB];
#pragma GCC unroll 16
    for (int ch = 0; ch < cn; ch++)
#pragma GCC unroll 16
        for (int j = 0; j < kn; j++) acc[ch][j] = _mm256_setzero_ps();

    for (int64_t n = P->n0; n < P->n1; n++) {
        const float *sb[CB], *db[CB];
#pragma GCC unroll 16
        for (int ch = 0; ch < cn; ch++) {
            sb[ch] = P->src + n * P->src_n + ((oc0 + ch) / c->ocpg) * P->src_c;
            db[ch] = P->diff + n * P->diff_n + (oc0 + ch) * P->diff_c;
        }
        const uint16_t *mb = P->mask + (n - P->n0) * R * Bn * T + kh * c->fw + kw0;
        for (int64_t r = r_lo; r < r_hi; r++) {
            const int64_t roff = P->flat ? P->row_off0[kh] : (r * c->sh - c->ph + kh * c->dh) * P->src_row;
            const uint16_t *mp = mb + r * Bn * T;
            for (int64_t b = 0; b < Bn; b++) {
#pragma GCC unroll 16
                for (int h = 0; h < 2; h++) {
                    const int64_t off = 16 * b + 8 * h;
                    if (off >= lanes) break;
                    const int64_t rem = lanes - off;
                    const __m256i md = lane_mask(rem >= 8 ? 0xFFu : (1u << rem) - 1u);
                    __m256 dv[CB];
#pragma GCC unroll 16
                    for (int ch = 0; ch < cn; ch++) dv[ch] = _mm256_maskload_ps(db[ch] + r * P->diff_r + off, md);
#pragma GCC unroll 16
                    for (int j = 0; j < kn; j++) {
                        const unsigned k8 = (mp[b * T + j] >> (8 * h)) & 0xFFu;
                        if (k8 == 0) continue;
                        const __m256i m = lane_mask(k8);
                        const __m256 mf = _mm256_castsi256_ps(m);
#pragma GCC unroll 16
                        for (int ch = 0; ch < cn; ch++) {
                            const __m256 sv = _mm256_maskload_ps(sb[ch] + roff + coff[j] + off, m);
                            acc[ch][j] = _mm256_blendv_ps(acc[ch][j], _mm256_fmadd_ps(sv, dv[ch], acc[ch][j]), mf);
                        }
                    }
                }
            }
        }
    }

#pragma GCC unroll 16
    for (int ch = 0; ch < cn; ch++) {
        float *out = P->out + (oc0 + ch) * T + kh * c->fw + kw0;
#pragma GCC unroll 16
        for (int j = 0; j < kn; j++) {
            const float v = hsum(acc[ch][j]);
            out[j] = P->first_batch ? v : out[j] + v;
        }
    }
}

#define DW_CASE(CN, KN)                                                                            \
    case (CN - 1) * KWB + (KN - 1): dw_item(P, oc0, kh, kw0, CN, KN); break;
#define DW_CASES(CN)                                                                               \
    DW_CASE(CN, 1) DW_CASE(CN, 2) DW_CASE(CN, 3) DW_CASE(CN, 4) DW_CASE(CN, 5) DW_CASE(CN, 6)

/* kw blocks: as few as KWB allows, of (nearly) equal size */
static void kw_blocks(int64_t fw, int64_t *nkb, int64_t *kbs)
{
    *nkb = (fw + KWB - 1) / KWB;
    *kbs = (fw + *nkb - 1) / *nkb;
}

static void dw_range(void *vctx, int64_t begin, int64_t end)
{
    const rr_bwf_plan *P = (const rr_bwf_plan *)vctx;
    const rr_conv *c = &P->c;
    int64_t nkb, kbs;
    kw_blocks(c->fw, &nkb, &kbs);
    for (int64_t item = begin; item < end; item++) {
        int64_t x = item;
        const int64_t kb = x % nkb; x /= nkb;
        const int64_t kh = x % c->fh; x /= c->fh;
        const int64_t oc0 = x * CB;
        const int64_t kw0 = kb * kbs;
        const int kn = (int)(c->fw - kw0 < kbs ? c->fw - kw0 : kbs);
        const int cn = (int)(c->oc - oc0 < CB ? c->oc - oc0 : CB);
        switch ((cn - 1) * KWB + (kn - 1)) {
            DW_CASES(1)
            DW_CASES(2)
        default: break;
        }
    }
}

void rr_bwf_pass_dw_avx2(const rr_bwf_plan *P)
{
    const rr_conv *c = &P->c;
    int64_t nkb, kbs;
    kw_blocks(c->fw, &nkb, &kbs);
    rr_parallel_for((c->oc + CB - 1) / CB * c->fh * nkb, dw_range, (void *)(uintptr_t)P);
}
