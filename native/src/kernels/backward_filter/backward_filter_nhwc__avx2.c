/*
 * backward_filter_nhwc__avx2.c -- the channels-last backward-filter rows on AVX2:
 * backward_filter_nhwc_body.h over 8-lane vectors (depthwise items of up to 32 channels, channel
 * tiles of 6 output channels x 16 input channels or 8 x 8).
 */
#include <immintrin.h>
#include <stdint.h>

#define BWN_W 8
#define BWN_FN(name) name##__avx2
#define BWN_CH_OB1 8
#define BWN_CH_OBMAX 8
#define BWN_CH_OB2 6

typedef __m256 bwn_vf;
typedef __m256i bwn_vm;

static inline bwn_vm bwn_lanes(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline bwn_vf bwn_loadm(bwn_vm m, const float *p) { return _mm256_maskload_ps(p, m); }
static inline bwn_vf bwn_load(const float *p) { return _mm256_load_ps(p); }
static inline void bwn_store(float *p, bwn_vf v) { _mm256_store_ps(p, v); }
static inline void bwn_storeu(float *p, bwn_vf v) { _mm256_storeu_ps(p, v); }
static inline bwn_vf bwn_zero(void) { return _mm256_setzero_ps(); }
static inline bwn_vf bwn_bcast(const float *p) { return _mm256_broadcast_ss(p); }
static inline bwn_vf bwn_fma(bwn_vf a, bwn_vf b, bwn_vf acc) { return _mm256_fmadd_ps(a, b, acc); }
static inline bwn_vf bwn_add(bwn_vf a, bwn_vf b) { return _mm256_add_ps(a, b); }

#include "backward_filter_nhwc_body.h"
