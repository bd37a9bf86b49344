/*
 * backward_filter_icpg1__avx512.c -- depthwise backward filter on AVX-512: backward_filter_icpg1_body.h over
 * the macros below (one 16-lane vector per mask block, two channels per item, up to 12 taps).
 */
#include <immintrin.h>
#include <stdint.h>

#define BFD_T float
#define BFD_VL 16
#define BFD_FN(name) name##_avx512
#define BFD_VEC __m512
#define BFD_MASK __mmask16
#define BFD_TOMASK(bits) ((__mmask16)(bits))
#define BFD_ZERO() _mm512_setzero_ps()
#define BFD_LOADZ(k, p) _mm512_maskz_loadu_ps((k), (p))
#define BFD_FMA(x, y, acc, k) _mm512_mask3_fmadd_ps((x), (y), (acc), (k))
#define BFD_HSUM(v) _mm512_reduce_add_ps(v)

#define BFD_CB 2
#define BFD_KWB 12
#define BFD_KTB 12
#define BFD_KN1(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12)
#define BFD_KN2(X) X(1) X(2) X(3) X(4) X(5) X(6)
#define BFD_KN3(X) X(1) X(2) X(3) X(4)

#include "backward_filter_icpg1_body.h"
