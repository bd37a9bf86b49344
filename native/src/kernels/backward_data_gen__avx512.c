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
#define BD_FMA_FINITE(a, x, w, m) BD_FMA(a, x, w, m)
#define BD_SPLIT_FINITE 0 /* masked FMAs cost nothing extra */
#define BD_STOREN(p, v, n) _mm512_mask_storeu_ps((p), (__mmask16)((1u << (n)) - 1u), (v))
#define BD_STOREU(p, v) _mm512_storeu_ps((p), (v))
#define BD_FN(name) name##_avx512
#define BD_TILES(X) RR_BD_TILES_AVX512(X)
#define BD_DW_CB RR_BD_DW_CB_AVX512
#define BD_DW_NB RR_BD_DW_NB_AVX512

static inline uint16_t bd_tap_bits(const int32_t *jh, const int32_t *jw, const int32_t *rv, int32_t nvalid,
                                   int32_t offh, int32_t offw, const int32_t *rout_at, int32_t oh, int32_t ow)
{
    const __mmask16 valid = (__mmask16)(nvalid >= 16 ? 0xFFFFu : (1u << nvalid) - 1u);
    const __m512i h = _mm512_add_epi32(_mm512_loadu_si512(jh), _mm512_set1_epi32(offh));
    const __m512i w = _mm512_add_epi32(_mm512_loadu_si512(jw), _mm512_set1_epi32(offw));
    __mmask16 k = _mm512_mask_cmplt_epu32_mask(valid, h, _mm512_set1_epi32(oh));
    k = _mm512_mask_cmplt_epu32_mask(k, w, _mm512_set1_epi32(ow));
    const __m512i ro = _mm512_maskz_loadu_epi32(k, rout_at);
    return (uint16_t)_mm512_mask_cmpeq_epi32_mask(k, ro, _mm512_loadu_si512(rv));
}

#include "backward_data_gen_body.h"
