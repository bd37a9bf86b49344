/*
 * backward_filter_tile__avx2.c -- dense / grouped backward filter on AVX2 + FMA:
 * backward_filter_tile_body.h over the macros below (two 8-lane halves per mask block, up to 4 ocg x
 * 2 icg = 8 ymm accumulators per item). Both factors are loaded with the mask, so a masked-off lane
 * adds 0*0 = +0 and the FMA needs no blend.
 */
#include <immintrin.h>
#include <stdint.h>

/* Lane j all-ones iff bit j of bits (0..255). */
static inline __m256i rr_lane_mask(unsigned bits)
{
    const __m256i lane_bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), lane_bits), lane_bits);
}

/* Sum of the 8 lanes in a fixed order. */
static inline float rr_hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define BFT_VL 8
#define BFT_FN(name) name##_avx2
#define BFT_VEC __m256
#define BFT_MASK __m256i
#define BFT_TOMASK(bits) rr_lane_mask(bits)
#define BFT_ZERO() _mm256_setzero_ps()
#define BFT_LOADZ(k, p) _mm256_maskload_ps((p), (k))
#define BFT_FMA(d, s, acc, k) _mm256_fmadd_ps((d), (s), (acc))
#define BFT_HSUM(v) rr_hsum(v)

#define BFT_OCB 4
#define BFT_ICB 2
#define BFT_CASES(X) X(1, 1) X(1, 2) X(2, 1) X(2, 2) X(3, 1) X(3, 2) X(4, 1) X(4, 2)
#define BFT_PREFETCH 0

#include "backward_filter_tile_body.h"
