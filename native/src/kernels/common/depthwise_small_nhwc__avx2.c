/*
 * depthwise_small_nhwc__avx2.c -- the small-filter channels-last depthwise loops on AVX2
 * (depthwise_small_nhwc_body.h): 8 channels a vector; a tap's lane mask is an all-ones or all-zeros
 * int32 broadcast from the item's table; _mm256_maskload_ps reads only active lanes, and the FMA's
 * result is blended into the accumulator on the active lanes only.
 */
#include "depthwise_small_nhwc.h"

#include <immintrin.h>

#define DS_VL 8
#define DS_VEC __m256
#define DS_K __m256i
#define DS_KT int32_t
#define DS_KON ((int32_t)-1)
#define DS_KOF(e) _mm256_set1_epi32(e)
#define DS_KAND(a, b) _mm256_and_si256((a), (b))
#define DS_TAILMASK(k) _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define DS_ZERO() _mm256_setzero_ps()
#define DS_LOAD(p) _mm256_loadu_ps(p)
#define DS_LOADK(p, k) _mm256_maskload_ps((p), (k))
#define DS_FMAK(a, b, acc, k) _mm256_blendv_ps((acc), _mm256_fmadd_ps((a), (b), (acc)), _mm256_castsi256_ps(k))
#define DS_STORE(p, v) _mm256_storeu_ps((p), (v))
#define DS_STORET(p, k, v) _mm256_maskstore_ps((p), (k), (v))
#ifndef DS_NB
#define DS_NB 2
#endif
#ifndef DS_PB
#define DS_PB 4
#endif
#define DS_PIXEL_OUTER 1 /* every channel block of DS_PB pixels before the next pixels */
#define DS_PF DS_PB /* prefetch distance, pixels */
#define DS_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#define DS_FN(name) name##_avx2

#include "depthwise_small_nhwc_body.h"
