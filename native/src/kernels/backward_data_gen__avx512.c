/*
 * backward_data_gen__avx512.c -- AVX-512 loops of the fast backward-data kernel (16 lanes over grad_src
 * pixels of one phase; see backward_data_gen.h). Compiled with AVX-512 flags, called only when the CPU
 * has them.
 */
#include "backward_data_gen.h"

#include <immintrin.h>

#define BD_VL 16
#define BD_BITS uint16_t
#define BD_VEC __m512
#define BD_MASK __mmask16
#define BD_TOMASK(bits) ((__mmask16)(bits))
#define BD_ZERO() _mm512_setzero_ps()
#define BD_SET1(x) _mm512_set1_ps(x)
#define BD_LOADZ(m, p) _mm512_maskz_loadu_ps((m), (p))
#define BD_FMA(a, x, w, m) _mm512_mask3_fmadd_ps((x), (w), (a), (m))
#define BD_STOREN(p, v, n) _mm512_mask_storeu_ps((p), (__mmask16)((1u << (n)) - 1u), (v))
#define BD_STOREU(p, v) _mm512_storeu_ps((p), (v))
#define BD_FN(name) name##_avx512

#include "backward_data_gen_body.h"

void rr_bd_masks_avx512(void *vplan, int64_t begin, int64_t end)
{
    const bd_plan *pl = (const bd_plan *)vplan;
    const rr_conv *c = &pl->p->c;
    const int32_t *rin = (const int32_t *)pl->p->rin.data, *rout = (const int32_t *)pl->p->rout.data;
    const __m512i voh = _mm512_set1_epi32((int32_t)c->oh), vow = _mm512_set1_epi32((int32_t)c->ow);
    for (int64_t item = begin; item < end; item++) {
        const int64_t nl = item / pl->nblocks, b = item % pl->nblocks;
        const int64_t n = pl->n0 + nl;
        const bd_block *blk = &pl->blocks[b];
        const bd_phase *ph = &pl->phases[blk->phase];
        const int32_t *rin_n = rin + n * c->ih * c->iw;
        const int32_t *rout_n = rout + n * c->oh * c->ow + blk->dbase;
        int32_t jh[16], jw[16], rv[16];
        const int64_t q0 = (int64_t)blk->jh0 * ph->plane_w + blk->jw0;
        for (int l = 0; l < 16; l++) {
            if (l < blk->nvalid) {
                if (ph->flat) {
                    jh[l] = (int32_t)((q0 + l) / ph->plane_w);
                    jw[l] = (int32_t)((q0 + l) % ph->plane_w);
                } else {
                    jh[l] = blk->jh0;
                    jw[l] = blk->jw0 + l;
                }
                rv[l] = rin_n[(ph->rh + c->sh * jh[l]) * c->iw + ph->rw + c->sw * jw[l]];
            } else {
                jh[l] = jw[l] = rv[l] = 0;
            }
        }
        const __m512i vjh = _mm512_loadu_si512(jh), vjw = _mm512_loadu_si512(jw), vr = _mm512_loadu_si512(rv);
        const __mmask16 valid = (__mmask16)(blk->nvalid >= 16 ? 0xFFFFu : (1u << blk->nvalid) - 1u);
        uint16_t *out = (uint16_t *)pl->masks + nl * pl->masks_per_image + ph->mask_off +
                        (b - ph->blk0) * ph->ntaps;
        const bd_tap *taps = pl->taps + ph->tap0;
        for (int32_t t = 0; t < ph->ntaps; t++) {
            const __m512i oh = _mm512_add_epi32(vjh, _mm512_set1_epi32(taps[t].offh));
            const __m512i ow = _mm512_add_epi32(vjw, _mm512_set1_epi32(taps[t].offw));
            __mmask16 k = _mm512_mask_cmplt_epu32_mask(valid, oh, voh);
            k = _mm512_mask_cmplt_epu32_mask(k, ow, vow);
            const __m512i ro = _mm512_maskz_loadu_epi32(k, rout_n + taps[t].doff);
            out[t] = (uint16_t)_mm512_mask_cmpeq_epi32_mask(k, ro, vr);
        }
    }
}
