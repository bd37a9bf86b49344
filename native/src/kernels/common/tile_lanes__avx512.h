/*
 * tile_lanes__avx512.h -- the vector macros of the tile plan's loops on AVX-512 (the list is in
 * forward/forward_tiles_body.h): 16 output pixels per block, masks one uint16_t per block and tap.
 * Masked-out lanes are never loaded (_mm512_maskz_loadu_ps) and never accumulated
 * (_mm512_mask3_fmadd_ps keeps acc where k = 0). Included by the __avx512.c files of the tile plan only.
 */
#ifndef RRCONV_TILE_LANES_AVX512_H
#define RRCONV_TILE_LANES_AVX512_H
#include <immintrin.h>
#include <stdint.h>

#define FD_VL 16
#define FD_BITS uint16_t
#define FD_PAIR uint32_t
#define FD_FN(name) name##_avx512

#define FD_VEC __m512
#define FD_MASK __mmask16
#define FD_TOMASK(bits) ((__mmask16)(bits))
#define FD_ZERO() _mm512_setzero_ps()
#define FD_SET1(x) _mm512_set1_ps(x)
#define FD_LOADZ(k, p) _mm512_maskz_loadu_ps((k), (p))
#define FD_FMA(x, w, acc, k) _mm512_mask3_fmadd_ps((x), (w), (acc), (k))
#define FD_STORE(p, k, v) _mm512_mask_storeu_ps((p), (k), (v))

#define FD_IVEC __m512i
#define FD_IMASK __mmask16
#define FD_ILANES(bits) ((__mmask16)(bits))
#define FD_ILOAD(p) _mm512_loadu_si512(p)
#define FD_ILOADZ(k, p) _mm512_maskz_loadu_epi32((k), (p))
#define FD_ISET1(x) _mm512_set1_epi32(x)
#define FD_IADD(a, b) _mm512_add_epi32((a), (b))
#define FD_IMUL(a, b) _mm512_mullo_epi32((a), (b))
#define FD_IN_RANGE(k, v, hi) \
    _mm512_mask_cmplt_epi32_mask(_mm512_mask_cmpge_epi32_mask((k), (v), _mm512_setzero_si512()), (v), (hi))
#define FD_IEQ(k, a, b) _mm512_mask_cmpeq_epi32_mask((k), (a), (b))
#define FD_IBITS(k) ((unsigned)(k))

#endif /* RRCONV_TILE_LANES_AVX512_H */
