/*
 * backward_filter_mask__avx512.c -- the tap predicate bits of backward_filter_plan.h, AVX-512:
 * one compare per 16-lane block and tap (rin loaded contiguously where the tap's input pixels are
 * contiguous, else gathered), the bounds as lane masks. Same bits as the portable loop.
 */
#include "backward_filter_plan.h"

#include <immintrin.h>
#include <string.h>

void rr_bwf_mask_rows_avx512(void *vctx, int64_t begin, int64_t end)
{
    const rr_bwf_mask_ctx *x = (const rr_bwf_mask_ctx *)vctx;
    const rr_bwf_plan *P = x->plan;
    const rr_conv *c = &P->c;
    const int64_t R = P->rows, Bn = P->blocks, T = P->ntaps;
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i v_ih = _mm512_set1_epi32((int32_t)c->ih), v_iw = _mm512_set1_epi32((int32_t)c->iw);
    const __m512i v_ow = _mm512_set1_epi32((int32_t)c->ow);
    for (int64_t item = begin; item < end; item++) {
        const int64_t n = P->n0 + item / R, r = item % R;
        uint16_t *m = x->mask + item * Bn * T;
        const int32_t *rin_n = x->rin + n * c->ih * c->iw;
        const int32_t *rout_r = x->rout + n * c->oh * c->ow + (P->flat ? 0 : r * c->ow);
        /* (oh, ow) of the lanes of block 0, advanced by 16 pixels per block */
        __m512i oh_v = _mm512_set1_epi32((int32_t)(P->flat ? 0 : r));
        __m512i ow_v = _mm512_sub_epi32(lane, _mm512_set1_epi32((int32_t)P->origin)); /* < 0: before pixel 0 */
        if (P->flat) {
            for (;;) {
                const __mmask16 wrap = _mm512_cmpge_epi32_mask(ow_v, v_ow);
                if (wrap == 0) break;
                ow_v = _mm512_mask_sub_epi32(ow_v, wrap, ow_v, v_ow);
                oh_v = _mm512_mask_add_epi32(oh_v, wrap, oh_v, _mm512_set1_epi32(1));
            }
        }
        for (int64_t b = 0; b < Bn; b++) {
            const int64_t p0 = 16 * b - P->origin; /* pixel of lane 0 */
            const int64_t left = P->lanes - p0;
            __mmask16 valid = (__mmask16)(left >= 16 ? 0xFFFF : (1u << left) - 1);
            if (p0 < 0) valid &= (__mmask16)(0xFFFFu << -p0);
            const __m512i rv = _mm512_maskz_loadu_epi32(valid, rout_r + p0);
            uint16_t *mb = m + b * T;
            for (int64_t kh = 0; kh < c->fh; kh++) {
                const __m512i ih_v = _mm512_add_epi32(_mm512_mullo_epi32(oh_v, _mm512_set1_epi32((int32_t)c->sh)),
                                                      _mm512_set1_epi32((int32_t)(kh * c->dh - c->ph)));
                /* 0 <= ih < IH as one unsigned compare */
                const __mmask16 okh = _mm512_mask_cmplt_epu32_mask(valid, ih_v, v_ih);
                for (int64_t kw = 0; kw < c->fw; kw++) {
                    __mmask16 k = 0;
                    if (okh != 0) {
                        const __m512i iw_v = _mm512_add_epi32(_mm512_mullo_epi32(ow_v, _mm512_set1_epi32((int32_t)c->sw)),
                                                              _mm512_set1_epi32((int32_t)(kw * c->dw - c->pw)));
                        const __mmask16 ok = _mm512_mask_cmplt_epu32_mask(okh, iw_v, v_iw);
                        __m512i iv;
                        if (c->sw == 1 && P->flat) {
                            iv = _mm512_maskz_loadu_epi32(ok, rin_n + p0 + P->row_off0[kh] + kw * c->dw - c->pw);
                        } else if (c->sw == 1) {
                            const int64_t ih = r * c->sh - c->ph + kh * c->dh; /* okh != 0: inside */
                            iv = _mm512_maskz_loadu_epi32(ok, rin_n + ih * c->iw + p0 + kw * c->dw - c->pw);
                        } else {
                            const __m512i idx = _mm512_add_epi32(_mm512_mullo_epi32(ih_v, v_iw), iw_v);
                            iv = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), ok, idx, rin_n, 4);
                        }
                        k = _mm512_mask_cmpeq_epi32_mask(ok, iv, rv);
                    }
                    mb[kh * c->fw + kw] = (uint16_t)k;
                }
            }
            if (P->flat) {
                ow_v = _mm512_add_epi32(ow_v, _mm512_set1_epi32(16));
                for (;;) {
                    const __mmask16 wrap = _mm512_cmpge_epi32_mask(ow_v, v_ow);
                    if (wrap == 0) break;
                    ow_v = _mm512_mask_sub_epi32(ow_v, wrap, ow_v, v_ow);
                    oh_v = _mm512_mask_add_epi32(oh_v, wrap, oh_v, _mm512_set1_epi32(1));
                }
            } else {
                ow_v = _mm512_add_epi32(ow_v, _mm512_set1_epi32(16));
            }
        }
    }
}
