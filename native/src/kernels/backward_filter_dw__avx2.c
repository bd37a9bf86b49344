/*
 * backward_filter_dw__avx2.c -- depthwise backward filter on AVX2 + FMA: backward_filter_dw_body.h over
 * the macros below (two 8-lane vectors per 16-lane mask block, one channel per item, up to 9 taps;
 * masked-off lanes are blended back to the old accumulator).
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

#define BFD_VL 8
#define BFD_FN(name) name##_avx2
#define BFD_VEC __m256
#define BFD_MASK __m256i
#define BFD_TOMASK(bits) rr_lane_mask(bits)
#define BFD_ZERO() _mm256_setzero_ps()
#define BFD_LOADZ(k, p) _mm256_maskload_ps((p), (k))
#define BFD_FMA(x, y, acc, k) _mm256_blendv_ps((acc), _mm256_fmadd_ps((x), (y), (acc)), _mm256_castsi256_ps(k))
#define BFD_HSUM(v) rr_hsum(v)

#define BFD_CB 1
#define BFD_KWB 9
#define BFD_KTB 9
#define BFD_KN1(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9)
#define BFD_KN2(X) X(1) X(2) X(3) X(4)
#define BFD_KN3(X) X(1) X(2) X(3)

#include "backward_filter_dw_body.h"
