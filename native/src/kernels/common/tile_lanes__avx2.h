/*
 * tile_lanes__avx2.h -- the vector macros of the tile plan's loops on AVX2 + FMA (the list is in
 * forward/forward_tiles_body.h): 8 output pixels per block, masks one byte per block and tap. Masked-out
 * lanes are never loaded (_mm256_maskload_ps, which never faults on them) and the FMA result is
 * blended in only on the tap's lanes, so a NaN in src or an Inf weight on a skipped tap cannot reach
 * dst. Included by the __avx2.c files of the tile plan only.
 */
#ifndef RRCONV_TILE_LANES_AVX2_H
#define RRCONV_TILE_LANES_AVX2_H

#include "lanes__avx2.h"

#include <stdint.h>

/* The lanes of k with 0 <= v < hi. */
static inline __m256i rr_in_range(__m256i k, __m256i v, __m256i hi)
{
    const __m256i in = _mm256_and_si256(_mm256_cmpgt_epi32(v, _mm256_set1_epi32(-1)), _mm256_cmpgt_epi32(hi, v));
    return _mm256_and_si256(k, in);
}

#define FD_VL 8
#define FD_BITS uint8_t
#define FD_PAIR uint16_t
#define FD_FN(name) name##_avx2

#define FD_VEC __m256
#define FD_MASK __m256i
#define FD_TOMASK(bits) rr_avx2_lanes(bits)
#define FD_ZERO() _mm256_setzero_ps()
#define FD_SET1(x) _mm256_set1_ps(x)
#define FD_LOADZ(k, p) _mm256_maskload_ps((p), (k))
#define FD_FMA(x, w, acc, k) _mm256_blendv_ps((acc), _mm256_fmadd_ps((x), (w), (acc)), _mm256_castsi256_ps(k))
#define FD_STORE(p, k, v) _mm256_maskstore_ps((p), (k), (v))

#define FD_IVEC __m256i
#define FD_IMASK __m256i
#define FD_ILANES(bits) rr_avx2_lanes(bits)
#define FD_ILOAD(p) _mm256_loadu_si256((const __m256i *)(p))
#define FD_ILOADZ(k, p) _mm256_maskload_epi32((p), (k))
#define FD_ISET1(x) _mm256_set1_epi32(x)
#define FD_IADD(a, b) _mm256_add_epi32((a), (b))
#define FD_IMUL(a, b) _mm256_mullo_epi32((a), (b))
#define FD_IN_RANGE(k, v, hi) rr_in_range((k), (v), (hi))
#define FD_IEQ(k, a, b) _mm256_and_si256((k), _mm256_cmpeq_epi32((a), (b)))
#define FD_IBITS(k) ((unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(k)))

#endif /* RRCONV_TILE_LANES_AVX2_H */
