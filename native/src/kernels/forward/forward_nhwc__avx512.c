/*
 * forward_nhwc__avx512.c -- the forward NHWC rows on AVX-512: forward_nhwc_body.h with 16-float
 * vectors; tails are masked loads (_mm512_maskz_loadu_ps: masked-out lanes are not read) and masked
 * stores.
 */
#include "forward.h"
#include "../common/active_taps__avx512.h"

#include <immintrin.h>

#define NV_VL 16
#define NV_VEC __m512
#define NV_TAIL __mmask16
#define NV_TAILMASK(k) ((__mmask16)((1u << (k)) - 1u))
#define NV_ZERO() _mm512_setzero_ps()
#define NV_LOAD(p) _mm512_loadu_ps(p)
#define NV_STORE(p, v) _mm512_storeu_ps((p), (v))
#define NV_LOADT(p, t) _mm512_maskz_loadu_ps((t), (p))
#define NV_STORET(p, t, v) _mm512_mask_storeu_ps((p), (t), (v))
#define NV_BCAST(p) _mm512_set1_ps(*(p))
#define NV_FMA(a, b, acc) _mm512_fmadd_ps((a), (b), (acc))
#define NV_PB 4 /* pixels of ch_union */
#define NV_MASK __mmask16
#define NV_MASKOF(on) ((__mmask16)(0u - (unsigned)(on)))
#define NV_FMAM(a, b, acc, k) _mm512_mask3_fmadd_ps((a), (b), (acc), (k))
#define NV_TAPS rr_active_taps_row_avx512
#define NV_FN(name) name##_avx512
#define NV_ENTRY(name) name##__avx512

#include "forward_nhwc_body.h"
