/*
 * backward_filter_tile_f16__avx2.c -- dense / grouped backward filter on AVX2 + F16C for float16 src and
 * diff: backward_filter_tile_body.h (as backward_filter_tile__avx2.c) with loads that widen exactly as
 * they read (common/half__avx2.h; masked-off lanes zeroed, so the unblended FMA adds 0*0 there), the
 * float32 kernel's FMAs and lane sums; rr_bwf_run rounds the float sums once to the output type.
 */
#include "../common/lanes__avx2.h"
#include "../common/half__avx2.h"
#include "backward_filter_plan.h"

#include <stdint.h>

/* The lanes of k of the 8 elements at p of a tensor of count elements from lo (the plan's src or diff
 * without its origin shift), as floats; 0 elsewhere. */
static inline __attribute__((always_inline)) __m256 bft_load(__m256i k, const uint16_t *p, const uint16_t *lo,
                                                             int64_t count)
{
    const __m256 x = rr_avx2_widen(RR_DT_F16, rr_avx2_load8_u16(p, k, lo, lo + count));
    return _mm256_and_ps(x, _mm256_castsi256_ps(k));
}

#define BFT_VL 8
#define BFT_FN(name) name##_avx2
#define BFT_VEC __m256
#define BFT_MASK __m256i
#define BFT_TOMASK(bits) rr_avx2_lanes(bits)
#define BFT_ZERO() _mm256_setzero_ps()
#define BFT_FMA(d, s, acc, k) _mm256_fmadd_ps((d), (s), (acc))
#define BFT_HSUM(v) rr_avx2_hsum(v)

#define BFT_T uint16_t
#define BFT_LOADZ_SRC(P, k, p) \
    bft_load((k), (p), (const uint16_t *)(const void *)(P)->src + (P)->origin, (P)->c.n * (P)->src_n)
#define BFT_LOADZ_DIFF(P, k, p) \
    bft_load((k), (p), (const uint16_t *)(const void *)(P)->diff + (P)->origin, (P)->c.n * (P)->diff_n)
#define BFT_FN_T(name) name##_f16_avx2

#define BFT_OCB 4
#define BFT_ICB 2
#define BFT_CASES(X) X(1, 1) X(1, 2) X(2, 1) X(2, 2) X(3, 1) X(3, 2) X(4, 1) X(4, 2)
#define BFT_PREFETCH 0

#include "backward_filter_tile_body.h"
