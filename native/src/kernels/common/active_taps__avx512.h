/*
 * active_taps__avx512.h -- rr_active_taps_row_avx512: the active-tap words (active_taps.h) of a run of
 * output pixels, 16 taps of a filter row per compare. Included by __avx512.c files only.
 */
#ifndef RRCONV_ACTIVE_TAPS_AVX512_H
#define RRCONV_ACTIVE_TAPS_AVX512_H

#include "active_taps.h"

#include <immintrin.h>

/* bits[kh * len + j] = the active taps of filter row kh at output pixel (n, oh, ow0 + j), j < len. */
static inline void rr_active_taps_row_avx512(const rr_conv *c, const int32_t *rin, const int32_t *rout, int64_t n,
                                             int64_t oh, int64_t ow0, int64_t len, uint64_t *bits)
{
    RR_ASSERT(c->fw <= RR_TAPS_MAX_FW);
    const int32_t *rimg = rin + n * c->ih * c->iw;
    const int32_t *rrow = rout + (n * c->oh + oh) * c->ow;
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i step = _mm512_mullo_epi32(iota, _mm512_set1_epi32((int32_t)c->dw));
    for (int64_t j = 0; j < len; j++) {
        const int64_t ow = ow0 + j, iw0 = ow * c->sw - c->pw;
        const __m512i r = _mm512_set1_epi32(rrow[ow]);
        int64_t lo, hi;
        rr_taps_kw_range(c, ow, &lo, &hi);
        for (int64_t kh = 0; kh < c->fh; kh++) {
            const int64_t ih = oh * c->sh - c->ph + kh * c->dh;
            uint64_t w = 0;
            if (ih >= 0 && ih < c->ih) {
                const int32_t *row = rimg + ih * c->iw;
                for (int64_t b = lo; b < hi; b += 16) {
                    const int64_t nb = hi - b < 16 ? hi - b : 16;
                    const __mmask16 k = (__mmask16)((1u << nb) - 1u);
                    __m512i v;
                    if (c->dw == 1) {
                        v = _mm512_maskz_loadu_epi32(k, row + iw0 + b);
                    } else {
                        const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(iw0 + b * c->dw)), step);
                        v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), k, idx, row, 4);
                    }
                    w |= (uint64_t)_mm512_mask_cmpeq_epi32_mask(k, v, r) << b;
                }
            }
            bits[kh * len + j] = w;
        }
    }
}

#endif /* RRCONV_ACTIVE_TAPS_AVX512_H */
