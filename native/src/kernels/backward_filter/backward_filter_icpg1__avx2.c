/*
 * backward_filter_icpg1__avx2.c -- depthwise backward filter on AVX2 + FMA: backward_filter_icpg1_body.h over
 * the macros below (two 8-lane vectors per 16-lane mask block, one channel per item, up to 9 taps;
 * masked-off lanes are blended back to the old accumulator).
 */
#include "../common/lanes__avx2.h"

#include <stdint.h>

#define BFD_T float
#define BFD_VL 8
#define BFD_FN(name) name##_avx2
#define BFD_VEC __m256
#define BFD_MASK __m256i
#define BFD_TOMASK(bits) rr_avx2_lanes(bits)
#define BFD_ZERO() _mm256_setzero_ps()
#define BFD_LOADZ(k, p) _mm256_maskload_ps((p), (k))
#define BFD_FMA(x, y, acc, k) _mm256_blendv_ps((acc), _mm256_fmadd_ps((x), (y), (acc)), _mm256_castsi256_ps(k))
#define BFD_HSUM(v) rr_avx2_hsum(v)

#define BFD_CB 1
#define BFD_KWB 9
#define BFD_KTB 9
#define BFD_KN1(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9)
#define BFD_KN2(X) X(1) X(2) X(3) X(4)
#define BFD_KN3(X) X(1) X(2) X(3)

#include "backward_filter_icpg1_body.h"
