/*
 * backward_filter_depthwise_small_nhwc__avx2.c -- the channels-last depthwise backward-filter row for
 * small filters on AVX2: backward_filter_depthwise_small_nhwc_body.h over 8-lane vectors, items of one
 * vector of channels (3x3: 9 accumulators of the 16 ymm registers), tap masks as int32 broadcast to a
 * lane mask; an FMA is kept only in the lanes of that mask (blend).
 */
#include <immintrin.h>
#include <stdint.h>

#define BWS_W 8
#define BWS_NB 1
#define BWS_NR3 3 /* 9 taps */
#define BWS_NR5 2 /* 10 taps */
#define BWS_NR7 1 /* 7 taps */
#define BWS_FN(name) name##__avx2
#define BWS_LIST_ROW "backward_filter_nhwc_depthwise__avx2"
#define BWS_TAP_ON (-1)

typedef __m256 bws_vf;
typedef __m256i bws_lm;
typedef __m256 bws_tk;
typedef int32_t bws_tap;

static inline bws_lm bws_lanes(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline bws_tk bws_tapmask(const bws_tap *p) { return _mm256_castsi256_ps(_mm256_set1_epi32(*p)); }
static inline bws_vf bws_load(const float *p) { return _mm256_loadu_ps(p); }
static inline bws_vf bws_loadl(bws_lm m, const float *p) { return _mm256_maskload_ps(p, m); }
static inline void bws_storeu(float *p, bws_vf v) { _mm256_storeu_ps(p, v); }
static inline bws_vf bws_fma_if(bws_tk k, bws_vf s, bws_vf d, bws_vf acc)
{
    return _mm256_blendv_ps(acc, _mm256_fmadd_ps(s, d, acc), k);
}

#include "backward_filter_depthwise_small_nhwc_body.h"
