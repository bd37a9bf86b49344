/*
 * backward_data_phases_bf16__avx2.c -- the compute pass of the fast backward-data kernel
 * (backward_data_phases_body.h, as backward_data_phases__avx2.c, whose mask pass it shares) on bfloat16
 * diff with AVX2 + F16C: loads that widen exactly (common/half__avx2.h; lanes outside the mask zeroed, as
 * BD_FMA_FINITE needs), weights packed as floats, the float32 pass's FMAs, each grad_src element rounded
 * once to the output type when stored.
 */
#include "backward_data_phases.h"

#include "../common/lanes__avx2.h"
#include "../common/half__avx2.h"

static inline __m256 bd_fma_masked(__m256 a, __m256 x, __m256 w, __m256i m)
{
    return _mm256_blendv_ps(a, _mm256_fmadd_ps(x, w, a), _mm256_castsi256_ps(m));
}

/* The lanes of m of the 8 diff elements at p as floats, 0 elsewhere. */
static inline __attribute__((always_inline)) __m256 bd_load(const bd_plan *pl, __m256i m, const uint16_t *p)
{
    const rr_conv *c = &pl->p->c;
    const uint16_t *lo = (const uint16_t *)pl->p->diff.data;
    const __m256 x = rr_avx2_widen(RR_DT_BF16, rr_avx2_load8_u16(p, m, lo, lo + c->n * c->oc * c->oh * c->ow));
    return _mm256_and_ps(x, _mm256_castsi256_ps(m));
}

#define BD_VL 8
#define BD_BITS uint8_t
#define BD_VEC __m256
#define BD_MASK __m256i
#define BD_TOMASK(bits) rr_avx2_lanes(bits)
#define BD_ZERO() _mm256_setzero_ps()
#define BD_SET1(x) _mm256_set1_ps(x)
#define BD_FMA(a, x, w, m) bd_fma_masked((a), (x), (w), (m))
#define BD_FMA_FINITE(a, x, w, m) _mm256_fmadd_ps((x), (w), (a))
#define BD_SPLIT_FINITE 1 /* a blend per FMA halves the throughput */
#define BD_STOREU(p, v) _mm256_storeu_ps((p), (v))
#define BD_FN(name) name##_bf16_avx2
#define BD_TILES(X) RR_BD_TILES_AVX2(X)
#define BD_DW_CB RR_BD_DW_CB_AVX2
#define BD_DW_NB RR_BD_DW_NB_AVX2

#define BD_HALF 1
#define BD_T uint16_t
#define BD_LOADT(pl, m, p) bd_load((pl), (m), (p))
#define BD_STORE_HALF(t, base, off, v, n) rr_avx2_store_out8((t), (base), (off), rr_avx2_lanes((1u << (n)) - 1u), (v))

#include "backward_data_phases_body.h"
