/*
 * backward_data_gen__avx2.c -- AVX2 loops of the fast backward-data kernel (8 lanes over grad_src
 * pixels of one phase; see backward_data_gen.h). Masked-out lanes are never loaded (maskload) and keep
 * their accumulator (blend), so a NaN or Inf on a skipped tap never reaches the result.
 */
#include "backward_data_gen.h"

#include <immintrin.h>

static inline __m256i bd_lanes_of(unsigned bits)
{
    const __m256i lane_bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), lane_bits), lane_bits);
}

static inline __m256 bd_fma_masked(__m256 a, __m256 x, __m256 w, __m256i m)
{
    return _mm256_blendv_ps(a, _mm256_fmadd_ps(x, w, a), _mm256_castsi256_ps(m));
}

static inline void bd_store_n(float *p, __m256 v, int32_t n)
{
    _mm256_maskstore_ps(p, bd_lanes_of((1u << n) - 1u), v);
}

#define BD_VL 8
#define BD_BITS uint8_t
#define BD_VEC __m256
#define BD_MASK __m256i
#define BD_TOMASK(bits) bd_lanes_of(bits)
#define BD_ZERO() _mm256_setzero_ps()
#define BD_SET1(x) _mm256_set1_ps(x)
#define BD_LOADZ(m, p) _mm256_maskload_ps((p), (m))
#define BD_FMA(a, x, w, m) bd_fma_masked((a), (x), (w), (m))
#define BD_STOREN(p, v, n) bd_store_n((p), (v), (n))
#define BD_STOREU(p, v) _mm256_storeu_ps((p), (v))
#define BD_FN(name) name##_avx2

#include "backward_data_gen_body.h"

void rr_bd_masks_avx2(void *vplan, int64_t begin, int64_t end)
{
    const bd_plan *pl = (const bd_plan *)vplan;
    const rr_conv *c = &pl->p->c;
    const int32_t *rin = (const int32_t *)pl->p->rin.data, *rout = (const int32_t *)pl->p->rout.data;
    const __m256i voh = _mm256_set1_epi32((int32_t)c->oh), vow = _mm256_set1_epi32((int32_t)c->ow);
    const __m256i minus1 = _mm256_set1_epi32(-1);
    for (int64_t item = begin; item < end; item++) {
        const int64_t nl = item / pl->nblocks, b = item % pl->nblocks;
        const int64_t n = pl->n0 + nl;
        const bd_block *blk = &pl->blocks[b];
        const bd_phase *ph = &pl->phases[blk->phase];
        const int32_t *rin_n = rin + n * c->ih * c->iw;
        const int32_t *rout_n = rout + n * c->oh * c->ow + blk->dbase;
        int32_t jh[8], jw[8], rv[8];
        const int64_t q0 = (int64_t)blk->jh0 * ph->plane_w + blk->jw0;
        for (int l = 0; l < 8; l++) {
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
        const __m256i vjh = _mm256_loadu_si256((const __m256i *)jh);
        const __m256i vjw = _mm256_loadu_si256((const __m256i *)jw);
        const __m256i vr = _mm256_loadu_si256((const __m256i *)rv);
        const __m256i valid = bd_lanes_of(blk->nvalid >= 8 ? 0xFFu : (1u << blk->nvalid) - 1u);
        uint8_t *out = (uint8_t *)pl->masks + nl * pl->masks_per_image + ph->mask_off + (b - ph->blk0) * ph->ntaps;
        const bd_tap *taps = pl->taps + ph->tap0;
        for (int32_t t = 0; t < ph->ntaps; t++) {
            const __m256i oh = _mm256_add_epi32(vjh, _mm256_set1_epi32(taps[t].offh));
            const __m256i ow = _mm256_add_epi32(vjw, _mm256_set1_epi32(taps[t].offw));
            __m256i k = _mm256_and_si256(valid, _mm256_cmpgt_epi32(oh, minus1));
            k = _mm256_and_si256(k, _mm256_cmpgt_epi32(voh, oh));
            k = _mm256_and_si256(k, _mm256_cmpgt_epi32(ow, minus1));
            k = _mm256_and_si256(k, _mm256_cmpgt_epi32(vow, ow));
            const __m256i ro = _mm256_maskload_epi32(rout_n + taps[t].doff, k);
            k = _mm256_and_si256(k, _mm256_cmpeq_epi32(ro, vr));
            out[t] = (uint8_t)_mm256_movemask_ps(_mm256_castsi256_ps(k));
        }
    }
}
