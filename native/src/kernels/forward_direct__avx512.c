/*
 * forward_direct__avx512.c -- the direct forward kernel's loops on AVX-512 (forward_direct_body.h over
 * the macros below; see forward_direct.h).
 *
 * 16 output pixels per block, two blocks per tile; masks are one uint16_t per block and tap.
 * Masked-out lanes are never loaded (_mm512_maskz_loadu_ps) and never accumulated
 * (_mm512_mask3_fmadd_ps keeps acc where k = 0). Depthwise tiles may be vertical (FD_VTILE).
 */
#include <immintrin.h>
#include <stdint.h>

#define FD_VL 16
#define FD_BITS uint16_t
#define FD_PAIR uint32_t
#define FD_FN(name) name##_avx512

#define FD_VEC __m512
#define FD_MASK __mmask16
#define FD_TOMASK(bits) ((__mmask16)(bits))
#define FD_ZERO() _mm512_setzero_ps()
#define FD_SET1(x) _mm512_set1_ps(x)
#define FD_LOADZ(k, p) _mm512_maskz_loadu_ps((k), (p))
#define FD_FMA(x, w, acc, k) _mm512_mask3_fmadd_ps((x), (w), (acc), (k))
#define FD_STORE(p, k, v) _mm512_mask_storeu_ps((p), (k), (v))

#define FD_IVEC __m512i
#define FD_IMASK __mmask16
#define FD_ILANES(bits) ((__mmask16)(bits))
#define FD_ILOAD(p) _mm512_loadu_si512(p)
#define FD_ILOADZ(k, p) _mm512_maskz_loadu_epi32((k), (p))
#define FD_ISET1(x) _mm512_set1_epi32(x)
#define FD_IADD(a, b) _mm512_add_epi32((a), (b))
#define FD_IMUL(a, b) _mm512_mullo_epi32((a), (b))
#define FD_IN_RANGE(k, v, hi) \
    _mm512_mask_cmplt_epi32_mask(_mm512_mask_cmpge_epi32_mask((k), (v), _mm512_setzero_si512()), (v), (hi))
#define FD_IEQ(k, a, b) _mm512_mask_cmpeq_epi32_mask((k), (a), (b))
#define FD_IBITS(k) ((unsigned)(k))

#define FD_OC_CASES(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12)
#define FD_DW_CASES(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12)
#define FD_ACC_MAX 12
#define FD_VTILE 1

#include "forward_direct_body.h"
