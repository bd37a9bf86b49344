/*
 * backward_filter_depthwise_small_nhwc__avx512.c -- the channels-last depthwise backward-filter row
 * for small filters on AVX-512: backward_filter_depthwise_small_nhwc_body.h over 16-lane vectors, items
 * of two vectors of channels (3x3: 18 accumulators), tap masks as 16-bit lane masks (one kmov per tap
 * and pixel, shared by the item's vectors).
 */
#include <immintrin.h>
#include <stdint.h>

#define BWS_W 16
#define BWS_NB 2
#define BWS_NR3 3 /* 9 taps x 2 vectors */
#define BWS_NR5 2 /* 10 taps x 2 */
#define BWS_NR7 1 /* 7 taps x 2 */
#define BWS_WINDOW 1   /* bws_group_win: the window of input vectors in registers */
#define BWS_WIN_TAPS 10 /* its accumulators, window vectors (3x3 9, 5x5 10, 7x7 7, each) */
#define BWS_FN(name) name##__avx512
#define BWS_LIST_ROW "backward_filter_nhwc_depthwise__avx512"
#define BWS_TAP_ON 0xFFFFu

typedef __m512 bws_vf;
typedef __mmask16 bws_lm;
typedef __mmask16 bws_tk;
typedef uint16_t bws_tap;

static inline bws_lm bws_lanes(int n) { return (bws_lm)((1u << n) - 1u); }
static inline bws_tk bws_tapmask(const bws_tap *p) { return _load_mask16((__mmask16 *)p); }
static inline bws_vf bws_load(const float *p) { return _mm512_loadu_ps(p); }
static inline bws_vf bws_loadl(bws_lm m, const float *p) { return _mm512_maskz_loadu_ps(m, p); }
static inline void bws_storeu(float *p, bws_vf v) { _mm512_storeu_ps(p, v); }
static inline bws_vf bws_fma_if(bws_tk k, bws_vf s, bws_vf d, bws_vf acc) { return _mm512_mask3_fmadd_ps(s, d, acc, k); }

#include "backward_filter_depthwise_small_nhwc_body.h"
