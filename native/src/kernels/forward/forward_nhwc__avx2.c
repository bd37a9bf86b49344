/*
 * forward_nhwc__avx2.c -- the forward NHWC rows on AVX2: forward_nhwc_body.h with 8-float vectors;
 * tails are _mm256_maskload_ps / _mm256_maskstore_ps (masked-out lanes are neither read nor written).
 */
#include "forward.h"
#include "../common/active_taps__avx2.h"

#include <immintrin.h>

#define NV_VL 8
#define NV_VEC __m256
#define NV_TAIL __m256i
#define NV_TAILMASK(k) _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define NV_ZERO() _mm256_setzero_ps()
#define NV_LOAD(p) _mm256_loadu_ps(p)
#define NV_STORE(p, v) _mm256_storeu_ps((p), (v))
#define NV_LOADT(p, t) _mm256_maskload_ps((p), (t))
#define NV_STORET(p, t, v) _mm256_maskstore_ps((p), (t), (v))
#define NV_BCAST(p) _mm256_broadcast_ss(p)
#define NV_FMA(a, b, acc) _mm256_fmadd_ps((a), (b), (acc))
#define NV_PB 2 /* pixels of ch_union */
#define NV_MASK __m256
#define NV_MASKOF(on) _mm256_castsi256_ps(_mm256_set1_epi32(-(on)))
#define NV_FMAM(a, b, acc, k) _mm256_blendv_ps((acc), _mm256_fmadd_ps((a), (b), (acc)), (k))
#define NV_TAPS rr_active_taps_row_avx2
#define NV_FN(name) name##_avx2
#define NV_ENTRY(name) name##__avx2

#include "forward_nhwc_body.h"
