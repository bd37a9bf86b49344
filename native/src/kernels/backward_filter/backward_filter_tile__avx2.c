/*
 * backward_filter_tile__avx2.c -- dense / grouped backward filter on AVX2 + FMA:
 * backward_filter_tile_body.h over the macros below (two 8-lane halves per mask block, up to 4 ocg x
 * 2 icg = 8 ymm accumulators per item). Both factors are loaded with the mask, so a masked-off lane
 * adds 0*0 = +0 and the FMA needs no blend.
 */
#include "../common/lanes__avx2.h"

#include <stdint.h>

#define BFT_VL 8
#define BFT_FN(name) name##_avx2
#define BFT_VEC __m256
#define BFT_MASK __m256i
#define BFT_TOMASK(bits) rr_avx2_lanes(bits)
#define BFT_ZERO() _mm256_setzero_ps()
#define BFT_LOADZ(k, p) _mm256_maskload_ps((p), (k))
#define BFT_FMA(d, s, acc, k) _mm256_fmadd_ps((d), (s), (acc))
#define BFT_HSUM(v) rr_avx2_hsum(v)

#define BFT_OCB 4
#define BFT_ICB 2
#define BFT_CASES(X) X(1, 1) X(1, 2) X(2, 1) X(2, 2) X(3, 1) X(3, 2) X(4, 1) X(4, 2)
#define BFT_PREFETCH 0

#include "backward_filter_tile_body.h"
