/*
 * forward_channel_tiles_bf16dot__avx512.c -- the bfloat16 forward channel tiles on vdpbf16ps
 * (AVX-512 + AVX512_BF16; common/bf16dot.h says when it is exact), and the channel-pair packing.
 *
 * The tile plan (common/tile_plan.h) runs over src packed as channel pairs: one 32-bit word per pixel
 * holds input channels 2p and 2p+1 of a group, so one masked 32-bit load per block and pair feeds one
 * vdpbf16ps per output channel with that output channel's two weights broadcast as one word: half the
 * loads and multiply-add instructions of the float32 tiles, and half their bytes. A lane outside the
 * tap's mask is neither loaded (zero) nor accumulated (the masked vdpbf16ps keeps acc there), so a NaN
 * or Inf weight meets no masked-out pixel. Per output element the order is fixed: taps (kh, kw), pairs
 * ascending, channel 2p+1 before 2p inside a pair; no dependence on the thread count. Each output is
 * rounded once when stored (bfloat16, nearest even) or stored as float32.
 */
#include "../common/bf16dot.h"
#include "../common/half__avx512.h"
#include "../common/tile_plan.h"

#include <immintrin.h>
#include <string.h>

#define RR_INLINE static inline __attribute__((always_inline))
#if defined(__clang__)
#define RR_UNROLL _Pragma("unroll")
#else
#define RR_UNROLL _Pragma("GCC unroll 16")
#endif

/* ---- channel-pair packing -------------------------------------------------------------------- */

/* min over the lanes of (|v| - 1) as unsigned 16-bit: a zero wraps to 0xffff and never wins */
RR_INLINE __m512i min_mag_less1(__m512i acc, __m512i v)
{
    const __m512i mag = _mm512_and_si512(v, _mm512_set1_epi16(0x7fff));
    return _mm512_min_epu16(acc, _mm512_sub_epi16(mag, _mm512_set1_epi16(1)));
}

/* The words of one item's rows in phase planes: row by row, 32 columns at a time interleaved as in the
 * plain packing, then dealt to their phases (stride_w 2: the even and the odd columns' words straight
 * from two permutations); returns the min_mag_less1 of the item. */
static __m512i pack_phases(const rr_bf16dot_pack *x, const uint16_t *a, const uint16_t *b, uint32_t *d, __m512i ilo,
                           __m512i ihi)
{
    const int64_t sw = x->sw, iw = x->iw, pw = x->pw, plane = x->ih * pw;
    /* the words of the even / odd columns: a[2m] | b[2m] << 16, a[2m+1] | b[2m+1] << 16 */
    const __m512i iev = _mm512_set_epi16(62, 30, 60, 28, 58, 26, 56, 24, 54, 22, 52, 20, 50, 18, 48, 16, 46, 14, 44, 12,
                                         42, 10, 40, 8, 38, 6, 36, 4, 34, 2, 32, 0);
    const __m512i iod = _mm512_add_epi16(iev, _mm512_set1_epi16(1));
    __m512i mn = _mm512_set1_epi16(-1);
    uint32_t w[32];
    for (int64_t ih = 0; ih < x->ih; ih++) {
        const uint16_t *ar = a + ih * iw, *br = b != NULL ? b + ih * iw : NULL;
        uint32_t *dr = d + ih * pw;
        int64_t r = 0, j = 0; /* phase and column of input column i */
        if (sw == 2) { /* 32 columns: the even ones' 16 words to phase 0, the odd ones' to phase 1 */
            for (int64_t i0 = 0; i0 < iw; i0 += 32) {
                const int64_t left = iw - i0;
                const __mmask32 k = left >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << left) - 1u);
                const __m512i va = _mm512_maskz_loadu_epi16(k, ar + i0);
                const __m512i vb = br != NULL ? _mm512_maskz_loadu_epi16(k, br + i0) : _mm512_setzero_si512();
                mn = min_mag_less1(min_mag_less1(mn, va), vb);
                const int64_t ne = left >= 32 ? 16 : (left + 1) / 2, no = left >= 32 ? 16 : left / 2;
                _mm512_mask_storeu_epi32(dr + i0 / 2, (__mmask16)((1u << ne) - 1u),
                                         _mm512_permutex2var_epi16(va, iev, vb));
                _mm512_mask_storeu_epi32(dr + plane + i0 / 2, (__mmask16)((1u << no) - 1u),
                                         _mm512_permutex2var_epi16(va, iod, vb));
            }
            r = iw % 2;
            j = iw / 2;
        } else {
            for (int64_t i0 = 0; i0 < iw; i0 += 32) {
                const int64_t left = iw - i0, nl = left < 32 ? left : 32;
                const __mmask32 k = left >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << left) - 1u);
                const __m512i va = _mm512_maskz_loadu_epi16(k, ar + i0);
                const __m512i vb = br != NULL ? _mm512_maskz_loadu_epi16(k, br + i0) : _mm512_setzero_si512();
                mn = min_mag_less1(min_mag_less1(mn, va), vb);
                _mm512_storeu_si512(w, _mm512_permutex2var_epi16(va, ilo, vb));
                _mm512_storeu_si512(w + 16, _mm512_permutex2var_epi16(va, ihi, vb));
                for (int64_t l = 0; l < nl; l++) {
                    dr[r * plane + j] = w[l];
                    if (++r == sw) r = 0, j++;
                }
            }
        }
        /* phases r.. of the last column j hold no input column: zero */
        for (; j < pw; r = 0, j++)
            for (; r < sw; r++) dr[r * plane + j] = 0;
    }
    return mn;
}

void rr_bf16dot_pack_avx512(void *vctx, int64_t begin, int64_t end)
{
    const rr_bf16dot_pack *x = (const rr_bf16dot_pack *)vctx;
    /* words 0..31 of the two outputs: a[j], b[j] interleaved for j = 0..15, then j = 16..31 */
    const __m512i ilo = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7, 38, 6,
                                         37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
    const __m512i ihi = _mm512_add_epi16(ilo, _mm512_set1_epi16(16));
    for (int64_t item = begin; item < end; item++) {
        if (x->sw > 1) {
            const int64_t outer = item / x->pairs, p = item % x->pairs;
            const uint16_t *a = x->src + (outer * x->cpg + 2 * p) * x->inner;
            const uint16_t *b = 2 * p + 1 < x->cpg ? a + x->inner : NULL;
            const __m512i mn = pack_phases(x, a, b, x->dst + item * x->sw * x->ih * x->pw, ilo, ihi);
            uint16_t lanes[32];
            _mm512_storeu_si512(lanes, mn);
            unsigned m = 0xffffu;
            for (int l = 0; l < 32; l++) m = lanes[l] < m ? lanes[l] : m;
            x->emin[item] = (uint8_t)(m == 0xffffu ? 255u : (m + 1u) >> 7);
            continue;
        }
        const int64_t outer = item / x->pairs, p = item % x->pairs;
        const uint16_t *a = x->src + (outer * x->cpg + 2 * p) * x->inner;
        const uint16_t *b = 2 * p + 1 < x->cpg ? a + x->inner : NULL;
        uint32_t *d = x->dst + item * x->inner;
        __m512i mn = _mm512_set1_epi16(-1);
        for (int64_t i = 0; i < x->inner; i += 32) {
            const int64_t left = x->inner - i;
            const __mmask32 k = left >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << left) - 1u);
            const __m512i va = _mm512_maskz_loadu_epi16(k, a + i);
            const __m512i vb = b != NULL ? _mm512_maskz_loadu_epi16(k, b + i) : _mm512_setzero_si512();
            mn = min_mag_less1(min_mag_less1(mn, va), vb);
            const __m512i lo = _mm512_permutex2var_epi16(va, ilo, vb), hi = _mm512_permutex2var_epi16(va, ihi, vb);
            if (left >= 32) {
                _mm512_storeu_si512(d + i, lo);
                _mm512_storeu_si512(d + i + 16, hi);
            } else {
                const __mmask16 k0 = (__mmask16)(left >= 16 ? 0xffffu : (1u << left) - 1u);
                const __mmask16 k1 = (__mmask16)(left > 16 ? (1u << (left - 16)) - 1u : 0u);
                _mm512_mask_storeu_epi32(d + i, k0, lo);
                _mm512_mask_storeu_epi32(d + i + 16, k1, hi);
            }
        }
        uint16_t lanes[32];
        _mm512_storeu_si512(lanes, mn);
        unsigned m = 0xffffu;
        for (int l = 0; l < 32; l++) m = lanes[l] < m ? lanes[l] : m;
        /* the smallest nonzero magnitude is m + 1 (none: 255, what no element's exponent lowers) */
        x->emin[item] = (uint8_t)(m == 0xffffu ? 255u : (m + 1u) >> 7);
    }
}

/* ---- forward: a tile x OCB output channels of one group -------------------------------------- */

/* acc + the pairs' products in the lanes of k, acc elsewhere: vdpbf16ps under a write mask, the weight
 * word *w broadcast by the instruction's memory operand ({1to16}: no separate vpbroadcastd and no
 * register for it). Written as the instruction itself: GCC 12's _mm512_mask_dpbf16_ps moves the 16-bit
 * mask with kmovb at -O0 (lanes 8..15 then never accumulate; the Debug build's test_kernel_table caught
 * it). */
RR_INLINE __m512 dot(__m512 acc, __mmask16 k, __m512i x, const uint32_t *w)
{
    __asm__("vdpbf16ps %2%{1to16%}, %1, %0%{%3%}" : "+v"(acc) : "v"(x), "m"(*w), "Yk"(k));
    return acc;
}

RR_INLINE void oc_tile(const rr_tile_plan *pl, const uint16_t *m, const uint32_t *src_g, const uint32_t *w_g,
                       void *dst, int64_t dst_o, int64_t s0, int64_t s1, int64_t d0, int64_t d1, __mmask16 lv0,
                       __mmask16 lv1, const int OCB, const int NB)
{
    const rr_conv *c = &pl->c;
    const int64_t taps = pl->taps, ohw = c->oh * c->ow, pairs = c->icpg;
    const int64_t *toff = pl->toff;
    __m512 acc[12][2];
RR_UNROLL
    for (int o = 0; o < OCB; o++) {
        acc[o][0] = _mm512_setzero_ps();
        acc[o][1] = _mm512_setzero_ps();
    }
    for (int64_t t = 0; t < taps; t++) {
        uint32_t kk;
        memcpy(&kk, m + 2 * t, sizeof kk);
        if (kk == 0) continue;
        const __mmask16 k0 = (__mmask16)kk, k1 = (__mmask16)(kk >> 16);
        const uint32_t *sp = src_g + toff[t];
        const uint32_t *wt = w_g + t * pairs * OCB;
        for (int64_t pp = 0; pp < pairs; pp++, sp += pl->src_chan, wt += OCB) {
            const __m512i x0 = _mm512_maskz_loadu_epi32(k0, sp + s0);
            if (NB == 2) {
                const __m512i x1 = _mm512_maskz_loadu_epi32(k1, sp + s1);
RR_UNROLL
                for (int o = 0; o < OCB; o++) {
                    acc[o][0] = dot(acc[o][0], k0, x0, wt + o);
                    acc[o][1] = dot(acc[o][1], k1, x1, wt + o);
                }
            } else {
RR_UNROLL
                for (int o = 0; o < OCB; o++) acc[o][0] = dot(acc[o][0], k0, x0, wt + o);
            }
        }
    }
    const rr_dtype ot = c->out_dtype;
RR_UNROLL
    for (int o = 0; o < OCB; o++) {
        rr_store_out16(ot, dst, dst_o + o * ohw + d0, acc[o][0], lv0, lv0 == 0xffff);
        if (NB == 2) rr_store_out16(ot, dst, dst_o + o * ohw + d1, acc[o][1], lv1, lv1 == 0xffff);
    }
}

#define OC_CASE(K)                                                                                     \
    case K:                                                                                            \
        if (two) oc_tile(pl, m, src_g, w_g, pl->dst, dst_o, s0, s1, d0, d1, lv0, lv1, K, 2);           \
        else oc_tile(pl, m, src_g, w_g, pl->dst, dst_o, s0, s1, d0, d1, lv0, lv1, K, 1);               \
        break;

/* Items as rr_fwd_oc_avx512: span * (G * nob) + g * nob + ob. */
void rr_fwd_oc_bf16dot_avx512(void *vpl, int64_t begin, int64_t end)
{
    const rr_tile_plan *pl = (const rr_tile_plan *)vpl;
    const rr_conv *c = &pl->c;
    const uint32_t *src = (const uint32_t *)(const void *)pl->src, *w = (const uint32_t *)(const void *)pl->w;
    for (int64_t item = begin; item < end; item++) {
        const int64_t blocks = c->groups * pl->nob, sp = item / blocks, blkid = item % blocks;
        const int64_t g = blkid / pl->nob, oc0 = (blkid % pl->nob) * pl->ocb;
        const int64_t no = c->ocpg - oc0 < pl->ocb ? c->ocpg - oc0 : pl->ocb;
        const uint32_t *w_g = w + (g * c->ocpg + oc0) * c->icpg * pl->taps;
        const int64_t t_end = (sp + 1) * pl->span < pl->ntiles ? (sp + 1) * pl->span : pl->ntiles;
        for (int64_t tl = sp * pl->span; tl < t_end; tl++) {
            const rr_tile *ti = &pl->tiles[tl];
            const int two = ti->two;
            const int64_t s0 = ti->s0, s1 = ti->s1, d0 = ti->d0, d1 = ti->d1;
            const __mmask16 lv0 = (__mmask16)ti->lv, lv1 = (__mmask16)(ti->lv >> 16);
            const uint16_t *m = (const uint16_t *)pl->masks + tl * pl->taps * 2;
            const uint32_t *src_g = src + (ti->n * c->ic + g * c->icpg) * pl->src_chan;
            const int64_t dst_o = (ti->n * c->oc + g * c->ocpg + oc0) * c->oh * c->ow;
            switch (no) {
                OC_CASE(1) OC_CASE(2) OC_CASE(3) OC_CASE(4) OC_CASE(5) OC_CASE(6)
                OC_CASE(7) OC_CASE(8) OC_CASE(9) OC_CASE(10) OC_CASE(11) OC_CASE(12)
            default: break;
            }
        }
    }
}
