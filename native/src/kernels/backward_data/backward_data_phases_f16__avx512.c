/*
 * backward_data_phases_f16__avx512.c -- the compute pass of the fast backward-data kernel
 * (backward_data_phases_body.h, as backward_data_phases__avx512.c, whose mask pass it shares) on float16
 * diff: masked loads that widen exactly (no widened copy of diff), weights packed as floats, the float32
 * pass's FMAs, each grad_src element rounded once to the output type when stored.
 */
#include "backward_data_phases.h"
#include "../common/half__avx512.h"

#include <immintrin.h>

#define BD_VL 16
#define BD_BITS uint16_t
#define BD_VEC __m512
#define BD_MASK __mmask16
#define BD_TOMASK(bits) ((__mmask16)(bits))
#define BD_ZERO() _mm512_setzero_ps()
#define BD_SET1(x) _mm512_set1_ps(x)
#define BD_FMA(a, x, w, m) _mm512_mask3_fmadd_ps((x), (w), (a), (m))
#define BD_FMA_FINITE(a, x, w, m) BD_FMA(a, x, w, m)
#define BD_SPLIT_FINITE 0 /* masked FMAs cost nothing extra */
#define BD_STOREU(p, v) _mm512_storeu_ps((p), (v))
#define BD_FN(name) name##_f16_avx512
#define BD_TILES(X) RR_BD_TILES_AVX512(X)
#define BD_DW_CB RR_BD_DW_CB_AVX512
#define BD_DW_NB RR_BD_DW_NB_AVX512

#define BD_HALF 1
#define BD_T uint16_t
#define BD_LOADT(pl, m, p) rr_maskz_load_f16((m), (p))
#define BD_STORE_HALF(t, base, off, v, n) \
    rr_store_out16((t), (base), (off), (v), (__mmask16)((1u << (n)) - 1u), (n) == 16)

#include "backward_data_phases_body.h"
