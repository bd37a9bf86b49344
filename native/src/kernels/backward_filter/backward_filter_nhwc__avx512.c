/*
 * backward_filter_nhwc__avx512.c -- the channels-last backward-filter rows on AVX-512:
 * backward_filter_nhwc_body.h over 16-lane vectors (depthwise items of up to 64 channels, channel
 * tiles of 6 output channels x 32 input channels or 16 x 16).
 */
#include <immintrin.h>
#include <stdint.h>

#define BWN_W 16
#define BWN_FN(name) name##__avx512
#define BWN_CH_OB1 16
#define BWN_CH_OBMAX 16
/* Measured (GRP, 8 x 4 groups x 16 -> 16, 56 x 56, 3x3, 1 thread, busy machine, CPU ms, 4 alternating
   rounds): tiles of 16 output channels 5.9-6.4 against 8.1-9.1 for 8 with superpixel masks (0.85 of the
   taps active), but 6.6-7.1 against 5.3-6.2 with random masks (0.35): the list walk waits on its
   scattered loads, and 8-channel iterations keep more of them in flight. */
#define BWN_CH_HALF 8
#define BWN_CH_HALF_BELOW_NUM 3
#define BWN_CH_HALF_BELOW_DEN 5
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

/* The list builder's 16 columns (backward_filter_nhwc_body.h): columns j < 16 with rrow[j] == orow[j]
 * appended to l as (ob + j, ib + j) pairs at entry cnt; writes 32 int32 from entry cnt on (whatever is
 * past the new count is scratch: BWN_LIST_SLACK); returns the new count. */
#define BWN_LIST16 1
#define BWN_LIST_SLACK 32
static inline int64_t bwn_list16(int32_t *l, int64_t cnt, const int32_t *rrow, const int32_t *orow, int32_t ob,
                                 int32_t ib)
{
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __mmask16 k = _mm512_cmpeq_epi32_mask(_mm512_loadu_si512(rrow), _mm512_loadu_si512(orow));
    const __m512i o = _mm512_maskz_compress_epi32(k, _mm512_add_epi32(_mm512_set1_epi32(ob), iota));
    const __m512i i = _mm512_maskz_compress_epi32(k, _mm512_add_epi32(_mm512_set1_epi32(ib), iota));
    /* interleave: (o0, i0, o1, i1, ...) */
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    _mm512_storeu_si512(l + 2 * cnt, _mm512_permutex2var_epi32(o, lo, i));
    _mm512_storeu_si512(l + 2 * cnt + 16, _mm512_permutex2var_epi32(o, hi, i));
    return cnt + __builtin_popcount((unsigned)k);
}

#include "backward_filter_nhwc_body.h"
