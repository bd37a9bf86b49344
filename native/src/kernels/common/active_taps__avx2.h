/*
 * active_taps__avx2.h -- rr_active_taps_row_avx2: the active-tap words (active_taps.h) of a run of
 * output pixels, 8 taps of a filter row per compare. Included by __avx2.c files only.
 */
#ifndef RRCONV_ACTIVE_TAPS_AVX2_H
#define RRCONV_ACTIVE_TAPS_AVX2_H

#include "active_taps.h"

#include <immintrin.h>

/* bits[kh * len + j] = the active taps of filter row kh at output pixel (n, oh, ow0 + j), j < len. */
static inline void rr_active_taps_row_avx2(const rr_conv *c, const int32_t *rin, const int32_t *rout, int64_t n,
                                           int64_t oh, int64_t ow0, int64_t len, uint64_t *bits)
{
    RR_ASSERT(c->fw <= RR_TAPS_MAX_FW);
    const int32_t *rimg = rin + n * c->ih * c->iw;
    const int32_t *rrow = rout + (n * c->oh + oh) * c->ow;
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i step = _mm256_mullo_epi32(iota, _mm256_set1_epi32((int32_t)c->dw));
    for (int64_t j = 0; j < len; j++) {
        const int64_t ow = ow0 + j, iw0 = ow * c->sw - c->pw;
        const __m256i r = _mm256_set1_epi32(rrow[ow]);
        int64_t lo, hi;
        rr_taps_kw_range(c, ow, &lo, &hi);
        for (int64_t kh = 0; kh < c->fh; kh++) {
            const int64_t ih = oh * c->sh - c->ph + kh * c->dh;
            uint64_t w = 0;
            if (ih >= 0 && ih < c->ih) {
                const int32_t *row = rimg + ih * c->iw;
                for (int64_t b = lo; b < hi; b += 8) {
                    const int64_t nb = hi - b < 8 ? hi - b : 8;
                    const __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)nb), iota);
                    __m256i v;
                    if (c->dw == 1) {
                        v = _mm256_maskload_epi32(row + iw0 + b, k);
                    } else {
                        const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int32_t)(iw0 + b * c->dw)), step);
                        v = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), row, idx, k, 4);
                    }
                    const __m256i eq = _mm256_and_si256(_mm256_cmpeq_epi32(v, r), k);
                    w |= (uint64_t)(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(eq)) << b;
                }
            }
            bits[kh * len + j] = w;
        }
    }
}

#endif /* RRCONV_ACTIVE_TAPS_AVX2_H */
