/*
 * depthwise_small_nhwc__avx512.c -- the small-filter channels-last depthwise loops on AVX-512
 * (depthwise_small_nhwc_body.h): 16 channels a vector; a tap's lane mask is a 16-bit mask register
 * loaded from the item's table; masked loads (_mm512_maskz_loadu_ps) read only active lanes.
 */
#include "depthwise_small_nhwc.h"

#include <immintrin.h>

#define DS_VL 16
#define DS_VEC __m512
#define DS_K __mmask16
#define DS_KT uint16_t
#define DS_KON ((uint16_t)0xFFFFu)
#define DS_KOF(e) ((__mmask16)(e))
#define DS_KAND(a, b) ((__mmask16)((a) & (b)))
#define DS_TAILMASK(k) ((__mmask16)(((k) >= 16 ? 0x10000u : (1u << (k))) - 1u))
#define DS_ZERO() _mm512_setzero_ps()
#define DS_LOAD(p) _mm512_loadu_ps(p)
#define DS_LOADK(p, k) _mm512_maskz_loadu_ps((k), (p))
#define DS_FMAK(a, b, acc, k) _mm512_mask3_fmadd_ps((a), (b), (acc), (k))
#define DS_STORE(p, v) _mm512_storeu_ps((p), (v))
#define DS_STORET(p, k, v) _mm512_mask_storeu_ps((p), (k), (v))
#ifndef DS_NB
#define DS_NB 2
#endif
#ifndef DS_PB
#define DS_PB 6
#endif
#define DS_PIXEL_OUTER 1 /* every channel block of DS_PB pixels before the next pixels */
#define DS_PF DS_PB /* prefetch distance, pixels */
#define DS_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#define DS_FN(name) name##_avx512

#include "depthwise_small_nhwc_body.h"
