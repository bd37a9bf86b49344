/*
 * backward_filter_mask__avx2.c -- the tap predicate bits of backward_filter_plan.h, AVX2: the
 * AVX-512 builder's scheme on 8-lane halves of each block (masked loads / gathers of rin, one
 * compare per half block and tap). Same bits as the portable loop.
 */
#include "backward_filter_plan.h"

#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))

/* lanes with 0 <= x < n */
INLINE __m256i in_range(__m256i x, __m256i n)
{
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), x), _mm256_cmpgt_epi32(n, x));
}

/* lanes with x >= n become x - n, with the row advanced */
INLINE void wrap_rows(__m256i *oh, __m256i *ow, __m256i n)
{
    for (;;) {
        const __m256i w = _mm256_cmpgt_epi32(*ow, _mm256_sub_epi32(n, _mm256_set1_epi32(1)));
        if (_mm256_testz_si256(w, w)) break;
        *ow = _mm256_sub_epi32(*ow, _mm256_and_si256(w, n));
        *oh = _mm256_sub_epi32(*oh, w); /* w lanes are -1 */
    }
}

void rr_bwf_mask_rows_avx2(void *vctx, int64_t begin, int64_t end)
{
    const rr_bwf_mask_ctx *x = (const rr_bwf_mask_ctx *)vctx;
    const rr_bwf_plan *P = x->plan;
    const rr_conv *c = &P->c;
    const int64_t R = P->rows, Bn = P->blocks, T = P->ntaps;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i v_ih = _mm256_set1_epi32((int32_t)c->ih), v_iw = _mm256_set1_epi32((int32_t)c->iw);
    const __m256i v_ow = _mm256_set1_epi32((int32_t)c->ow);
    for (int64_t item = begin; item < end; item++) {
        const int64_t n = P->n0 + item / R, r = item % R;
        uint16_t *m = x->mask + item * Bn * T;
        const int32_t *rin_n = x->rin + n * c->ih * c->iw;
        const int32_t *rout_r = x->rout + n * c->oh * c->ow + (P->flat ? 0 : r * c->ow);
        __m256i oh_v = _mm256_set1_epi32((int32_t)(P->flat ? 0 : r));
        __m256i ow_v = _mm256_sub_epi32(lane, _mm256_set1_epi32((int32_t)P->origin)); /* < 0: before pixel 0 */
        if (P->flat) wrap_rows(&oh_v, &ow_v, v_ow);
        for (int64_t b = 0; b < Bn; b++) {
            uint16_t *mb = m + b * T;
            for (int64_t t = 0; t < T; t++) mb[t] = 0;
            for (int h = 0; h < 2; h++) {
                const int64_t p0 = 16 * b + 8 * h - P->origin; /* pixel of lane 0 */
                const int64_t left = P->lanes - p0;
                if (left > 0 && p0 > -8) {
                    /* lanes l with 0 <= p0 + l < lanes */
                    const __m256i pl = _mm256_add_epi32(lane, _mm256_set1_epi32((int32_t)p0));
                    const __m256i valid = in_range(pl, _mm256_set1_epi32((int32_t)P->lanes));
                    const __m256i rv = _mm256_maskload_epi32(rout_r + p0, valid);
                    for (int64_t kh = 0; kh < c->fh; kh++) {
                        const __m256i ih_v = _mm256_add_epi32(_mm256_mullo_epi32(oh_v, _mm256_set1_epi32((int32_t)c->sh)),
                                                              _mm256_set1_epi32((int32_t)(kh * c->dh - c->ph)));
                        const __m256i okh = _mm256_and_si256(valid, in_range(ih_v, v_ih));
                        if (_mm256_testz_si256(okh, okh)) continue;
                        for (int64_t kw = 0; kw < c->fw; kw++) {
                            const __m256i iw_v = _mm256_add_epi32(_mm256_mullo_epi32(ow_v, _mm256_set1_epi32((int32_t)c->sw)),
                                                                  _mm256_set1_epi32((int32_t)(kw * c->dw - c->pw)));
                            const __m256i ok = _mm256_and_si256(okh, in_range(iw_v, v_iw));
                            __m256i iv;
                            if (c->sw == 1 && P->flat) {
                                iv = _mm256_maskload_epi32(rin_n + p0 + P->row_off0[kh] + kw * c->dw - c->pw, ok);
                            } else if (c->sw == 1) {
                                const int64_t ih = r * c->sh - c->ph + kh * c->dh;
                                iv = _mm256_maskload_epi32(rin_n + ih * c->iw + p0 + kw * c->dw - c->pw, ok);
                            } else {
                                const __m256i idx = _mm256_add_epi32(_mm256_mullo_epi32(ih_v, v_iw), iw_v);
                                iv = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)rin_n, idx, ok, 4);
                            }
                            const __m256i eq = _mm256_and_si256(ok, _mm256_cmpeq_epi32(iv, rv));
                            const unsigned bits = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(eq));
                            mb[kh * c->fw + kw] |= (uint16_t)(bits << (8 * h));
                        }
                    }
                }
                ow_v = _mm256_add_epi32(ow_v, _mm256_set1_epi32(8));
                if (P->flat) wrap_rows(&oh_v, &ow_v, v_ow);
            }
        }
    }
}
