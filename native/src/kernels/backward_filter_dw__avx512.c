/*
 * backward_filter_dw__avx512.c -- depthwise backward filter (icpg == 1), AVX-512 (see
 * backward_filter_plan.h).
 *
 * Item: (pair of output channels, kh, block of up to KWB kw). The channels' src planes are
 * g = oc / ocpg. Per 16-lane pixel block: one diff load per channel, then per kw one k-mask (shared
 * by both channels), one shifted src load and one masked FMA per channel, into CB*KWB accumulators.
 */
#include "backward_filter_plan.h"

#include <immintrin.h>

#define CB 2
#define KWB 12

#define INLINE static inline __attribute__((always_inline))

INLINE void dw_item(const rr_bwf_plan *P, int64_t oc0, int64_t kh, int64_t kw0, const int cn, const int kn)
{
    const rr_conv *c = &P->c;
    const int64_t R = P->rows, Bn = P->blocks, T = P->ntaps;
    const int64_t r_lo = P->flat ? 0 : P->r_lo[kh], r_hi = P->flat ? 1 : P->r_hi[kh];
    const int64_t rem = P->lanes - 16 * (Bn - 1);
    const __mmask16 last = (__mmask16)(rem >= 16 ? 0xFFFF : (1u << rem) - 1);
    int64_t coff[KWB];
    for (int j = 0; j < kn; j++) coff[j] = P->col_off[kw0 + j];

    __m512 acc[CB][KWB];
    for (int ch = 0; ch < cn; ch++)
        for (int j = 0; j < kn; j++) acc[ch][j] = _mm512_setzero_ps();

    for (int64_t n = P->n0; n < P->n1; n++) {
        const float *sb[CB], *db[CB];
        for (int ch = 0; ch < cn; ch++) {
            sb[ch] = P->src + n * P->src_n + ((oc0 + ch) / c->ocpg) * P->src_c;
            db[ch] = P->diff + n * P->diff_n + (oc0 + ch) * P->diff_c;
        }
        const uint16_t *mb = P->mask + (n - P->n0) * R * T * Bn + (kh * c->fw + kw0) * Bn;
        for (int64_t r = r_lo; r < r_hi; r++) {
            const int64_t roff = P->flat ? P->row_off0[kh] : (r * c->sh - c->ph + kh * c->dh) * P->src_row;
            const uint16_t *mp = mb + r * T * Bn;
            for (int64_t b = 0; b < Bn; b++) {
                const __mmask16 kd = b == Bn - 1 ? last : (__mmask16)0xFFFF;
                __m512 dv[CB];
                for (int ch = 0; ch < cn; ch++) dv[ch] = _mm512_maskz_loadu_ps(kd, db[ch] + r * P->diff_r + 16 * b);
                for (int j = 0; j < kn; j++) {
                    const __mmask16 k = mp[j * Bn + b];
                    for (int ch = 0; ch < cn; ch++) {
                        const __m512 sv = _mm512_maskz_loadu_ps(k, sb[ch] + roff + coff[j] + 16 * b);
                        acc[ch][j] = _mm512_mask3_fmadd_ps(sv, dv[ch], acc[ch][j], k);
                    }
                }
            }
        }
    }

    for (int ch = 0; ch < cn; ch++) {
        float *out = P->out + (oc0 + ch) * T + kh * c->fw + kw0;
        for (int j = 0; j < kn; j++) {
            const float v = _mm512_reduce_add_ps(acc[ch][j]);
            out[j] = P->first_batch ? v : out[j] + v;
        }
    }
}

#define DW_CASE(CN, KN)                                                                            \
    case (CN - 1) * KWB + (KN - 1): dw_item(P, oc0, kh, kw0, CN, KN); break;
#define DW_CASES(CN)                                                                               \
    DW_CASE(CN, 1) DW_CASE(CN, 2) DW_CASE(CN, 3) DW_CASE(CN, 4) DW_CASE(CN, 5) DW_CASE(CN, 6)         \
    DW_CASE(CN, 7) DW_CASE(CN, 8) DW_CASE(CN, 9) DW_CASE(CN, 10) DW_CASE(CN, 11) DW_CASE(CN, 12)

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

void rr_bwf_pass_dw_avx512(const rr_bwf_plan *P)
{
    const rr_conv *c = &P->c;
    int64_t nkb, kbs;
    kw_blocks(c->fw, &nkb, &kbs);
    rr_parallel_for((c->oc + CB - 1) / CB * c->fh * nkb, dw_range, (void *)(uintptr_t)P);
}
