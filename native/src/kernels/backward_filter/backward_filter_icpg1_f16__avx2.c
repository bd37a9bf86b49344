/*
 * backward_filter_icpg1_f16__avx2.c -- depthwise backward filter on AVX2 + F16C for float16 src and diff:
 * backward_filter_icpg1_body.h (as backward_filter_icpg1__avx2.c) with loads that widen exactly as they
 * read (common/half__avx2.h; masked-off lanes are blended away by BFD_FMA), the float32 kernel's FMAs and
 * lane sums; rr_bwf_run rounds the float sums once to the output type.
 */
#include "../common/lanes__avx2.h"
#include "../common/half__avx2.h"
#include "backward_filter_plan.h"

#include <stdint.h>

/* The 8 elements at p (of src or diff; at least the lanes of k) as floats: a plain load where the 8 lie
 * inside either tensor (the plan's pointers without their origin shift). */
static inline __attribute__((always_inline)) __m256 bfd_load(const rr_bwf_plan *P, __m256i k, const uint16_t *p)
{
    const uint16_t *s = (const uint16_t *)(const void *)P->src + P->origin;
    const uint16_t *d = (const uint16_t *)(const void *)P->diff + P->origin;
    const uint16_t *d_end = d + P->c.n * P->diff_n;
    const uintptr_t a = (uintptr_t)p;
    if (a >= (uintptr_t)d && a + 16 <= (uintptr_t)d_end)
        return rr_avx2_widen(RR_DT_F16, _mm_loadu_si128((const __m128i *)(const void *)p));
    return rr_avx2_widen(RR_DT_F16, rr_avx2_load8_u16(p, k, s, s + P->c.n * P->src_n));
}

#define BFD_T uint16_t
#define BFD_VL 8
#define BFD_FN(name) name##_f16_avx2
#define BFD_VEC __m256
#define BFD_MASK __m256i
#define BFD_TOMASK(bits) rr_avx2_lanes(bits)
#define BFD_ZERO() _mm256_setzero_ps()
/* P: the plan, in scope wherever the body loads */
#define BFD_LOADZ(k, p) bfd_load(P, (k), (p))
#define BFD_FMA(x, y, acc, k) _mm256_blendv_ps((acc), _mm256_fmadd_ps((x), (y), (acc)), _mm256_castsi256_ps(k))
#define BFD_HSUM(v) rr_avx2_hsum(v)

#define BFD_CB 1
#define BFD_KWB 9
#define BFD_KTB 9
#define BFD_KN1(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9)
#define BFD_KN2(X) X(1) X(2) X(3) X(4)
#define BFD_KN3(X) X(1) X(2) X(3)

#include "backward_filter_icpg1_body.h"
