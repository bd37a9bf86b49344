/*
 * backward_filter_nhwc__avx512.c -- the channels-last backward-filter rows on AVX-512:
 * backward_filter_nhwc_body.h over 16-lane vectors (depthwise items of up to 64 channels, channel
 * tiles of 6 output channels x 32 input channels or 8 x 16).
 */
#include <immintrin.h>
#include <stdint.h>

#define BWN_W 16
#define BWN_FN(name) name##__avx512
#define BWN_CH_OB1 8
#define BWN_CH_OB2 6

typedef __m512 bwn_vf;
typedef __mmask16 bwn_vm;

static inline bwn_vm bwn_lanes(int n) { return (bwn_vm)((1u << n) - 1u); }
static inline bwn_vf bwn_loadm(bwn_vm m, const float *p) { return _mm512_maskz_loadu_ps(m, p); }
static inline bwn_vf bwn_load(const float *p) { return _mm512_load_ps(p); }
static inline void bwn_store(float *p, bwn_vf v) { _mm512_store_ps(p, v); }
static inline void bwn_storeu(float *p, bwn_vf v) { _mm512_storeu_ps(p, v); }
static inline bwn_vf bwn_zero(void) { return _mm512_setzero_ps(); }
static inline bwn_vf bwn_bcast(const float *p) { return _mm512_set1_ps(*p); }
static inline bwn_vf bwn_fma(bwn_vf a, bwn_vf b, bwn_vf acc) { return _mm512_fmadd_ps(a, b, acc); }
static inline bwn_vf bwn_add(bwn_vf a, bwn_vf b) { return _mm512_add_ps(a, b); }

#include "backward_filter_nhwc_body.h"
