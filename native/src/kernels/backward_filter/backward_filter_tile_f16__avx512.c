/*
 * backward_filter_tile_f16__avx512.c -- dense / grouped backward filter on AVX-512 for float16 src and
 * diff: backward_filter_tile_body.h (as backward_filter_tile__avx512.c) with loads that widen exactly as
 * they read (no widened copy of the tensors), the float32 kernel's FMAs and lane sums; rr_bwf_run rounds
 * the float sums once to the output type.
 */
#include "../common/half__avx512.h"

#include <immintrin.h>
#include <stdint.h>

#define BFT_VL 16
#define BFT_FN(name) name##_avx512
#define BFT_VEC __m512
#define BFT_MASK __mmask16
#define BFT_TOMASK(bits) ((__mmask16)(bits))
#define BFT_ZERO() _mm512_setzero_ps()
#define BFT_FMA(d, s, acc, k) _mm512_mask3_fmadd_ps((d), (s), (acc), (k))
#define BFT_HSUM(v) _mm512_reduce_add_ps(v)

#define BFT_T uint16_t
#define BFT_LOADZ_SRC(P, k, p) rr_maskz_load_f16((k), (p))
#define BFT_LOADZ_DIFF(P, k, p) rr_maskz_load_f16((k), (p))
#define BFT_FN_T(name) name##_f16_avx512

#define BFT_OCB 6
#define BFT_ICB 4
#define BFT_CASES(X)                                                                               \
    X(1, 1) X(1, 2) X(1, 3) X(1, 4) X(2, 1) X(2, 2) X(2, 3) X(2, 4) X(3, 1) X(3, 2) X(3, 3) X(3, 4)    \
    X(4, 1) X(4, 2) X(4, 3) X(4, 4) X(5, 1) X(5, 2) X(5, 3) X(5, 4) X(6, 1) X(6, 2) X(6, 3) X(6, 4)
#define BFT_PREFETCH 1

#include "backward_filter_tile_body.h"
