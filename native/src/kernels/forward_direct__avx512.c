/*
 * forward_direct__avx512.c -- the direct forward kernel's loops on AVX-512 (see forward_direct.h).
 *
 * 16 output pixels per block, two blocks per tile. Masked-out lanes are never loaded
 * (_mm512_maskz_loadu_ps) and never accumulated (_mm512_mask3_fmadd_ps keeps acc where k = 0).
 */
#include "forward_direct.h"

#include <immintrin.h>
#include <string.h>

#define RR_INLINE static inline __attribute__((always_inline))

/* Full unrolling of the small constant-count register-tile loops keeps the accumulators in registers. */
#if defined(__clang__)
#define RR_UNROLL _Pragma("unroll")
#else
#define RR_UNROLL _Pragma("GCC unroll 16")
#endif

/* Keeps the compiler from hoisting per-channel addresses out of the tap loop (it would run out of
 * general registers and park them in vector registers, costing a transfer per load). */
#define RR_OPAQUE(p) __asm__("" : "+r"(p))

/* The two blocks' masks of one tap (stored as two uint16_t) in one load. */
RR_INLINE uint32_t mask_pair(const uint16_t *m, int64_t t)
{
    uint32_t v;
    memcpy(&v, m + 2 * t, sizeof v);
    return v;
}

/* ---- masks ----------------------------------------------------------------------------------- */

void rr_fwd_masks_avx512(void *vpl, int64_t begin, int64_t end)
{
    const rr_fwd_plan *pl = (const rr_fwd_plan *)vpl;
    const rr_conv *c = &pl->c;
    const int64_t taps = pl->taps;
    const __m512i zero = _mm512_setzero_si512(), ihmax = _mm512_set1_epi32((int32_t)c->ih);
    const __m512i shv = _mm512_set1_epi32((int32_t)c->sh);
    for (int64_t tl = begin; tl < end; tl++) {
        const int64_t gt = pl->tile0 + tl, n = gt / pl->tpi, tile = gt % pl->tpi;
        uint16_t *m = (uint16_t *)pl->masks + tl * taps * 2;
        rr_fwd_tile *ti = &pl->tiles[tl];
        ti->n = n;
        ti->d1 = ti->s1 = 0;
        ti->oh1 = ti->ow1 = 0;
        ti->lv = 0;
        int64_t blks[2];
        ti->two = rr_fwd_tile_blocks(pl, tile, &blks[0], &blks[1]);
        for (int j = 0; j < 2; j++) {
            const int64_t blk = blks[j];
            if (j == 1 && !ti->two) {
                for (int64_t t = 0; t < taps; t++) m[2 * t + j] = 0;
                continue;
            }
            int64_t dbase, sbase;
            int nvalid;
            int32_t ohl[16], owl[16];
            rr_fwd_block(pl, blk, &dbase, &sbase, &nvalid);
            rr_fwd_block_lanes(pl, blk, ohl, owl);
            if (j == 0) {
                ti->d0 = dbase;
                ti->s0 = sbase;
                ti->oh0 = (int32_t)(dbase / c->ow);
                ti->ow0 = (int32_t)(dbase % c->ow);
            } else {
                ti->d1 = dbase;
                ti->s1 = sbase;
                ti->oh1 = (int32_t)(dbase / c->ow);
                ti->ow1 = (int32_t)(dbase % c->ow);
            }
            ti->lv |= ((1u << nvalid) - 1u) << (16 * j);
            const __mmask16 lv = (__mmask16)((1u << nvalid) - 1u);
            const __m512i ohs = _mm512_mullo_epi32(_mm512_loadu_si512(ohl), shv);
            const __m512i owv = _mm512_loadu_si512(owl);
            const __m512i routv = _mm512_maskz_loadu_epi32(lv, pl->rout + n * c->oh * c->ow + dbase);
            const int32_t *rin_b = pl->rin + n * pl->src_chan + sbase;
            for (int64_t kh = 0; kh < c->fh; kh++) {
                const __m512i ihv = _mm512_add_epi32(ohs, _mm512_set1_epi32(pl->khoff[kh]));
                const __mmask16 kr = _mm512_mask_cmplt_epi32_mask(_mm512_mask_cmpge_epi32_mask(lv, ihv, zero), ihv, ihmax);
                uint16_t *mk = m + 2 * kh * c->fw + j;
                if (kr == 0) {
                    for (int64_t kw = 0; kw < c->fw; kw++) mk[2 * kw] = 0;
                    continue;
                }
                for (int64_t kw = 0; kw < c->fw; kw++) {
                    const __m512i jv = _mm512_add_epi32(owv, _mm512_set1_epi32(pl->q[kw]));
                    const __mmask16 kc = _mm512_mask_cmplt_epi32_mask(_mm512_mask_cmpge_epi32_mask(kr, jv, zero), jv,
                                                                      _mm512_set1_epi32(pl->lr[kw]));
                    __mmask16 k = 0;
                    if (kc != 0) {
                        const __m512i rinv = _mm512_maskz_loadu_epi32(kc, rin_b + pl->toff[kh * c->fw + kw]);
                        k = _mm512_mask_cmpeq_epi32_mask(kc, rinv, routv);
                    }
                    mk[2 * kw] = (uint16_t)k;
                }
            }
        }
    }
}

/* ---- dense / grouped: a tile x OCB output channels of one group ------------------------------- */

RR_INLINE void oc_tile(const rr_fwd_plan *pl, const uint16_t *m, const float *src_g, const float *w_g,
                       float *dst_o, int64_t s0, int64_t s1, int64_t d0, int64_t d1, __mmask16 lv0,
                       __mmask16 lv1, const int OCB, const int NB)
{
    const rr_conv *c = &pl->c;
    const int64_t taps = pl->taps, ohw = c->oh * c->ow;
    const int64_t *toff = pl->toff;
    __m512 acc[12][2];
RR_UNROLL
    for (int o = 0; o < OCB; o++) {
        acc[o][0] = _mm512_setzero_ps();
        acc[o][1] = _mm512_setzero_ps();
    }
    for (int64_t t = 0; t < taps; t++) {
        const uint32_t kk = mask_pair(m, t);
        if (kk == 0) continue;
        const __mmask16 k0 = (__mmask16)kk, k1 = (__mmask16)(kk >> 16);
        const float *sp = src_g + toff[t];
        const float *wt = w_g + t * c->icpg * OCB;
        for (int64_t icg = 0; icg < c->icpg; icg++, sp += pl->src_chan, wt += OCB) {
            const __m512 x0 = _mm512_maskz_loadu_ps(k0, sp + s0);
            if (NB == 2) {
                const __m512 x1 = _mm512_maskz_loadu_ps(k1, sp + s1);
RR_UNROLL
                for (int o = 0; o < OCB; o++) {
                    const __m512 wv = _mm512_set1_ps(wt[o]);
                    acc[o][0] = _mm512_mask3_fmadd_ps(x0, wv, acc[o][0], k0);
                    acc[o][1] = _mm512_mask3_fmadd_ps(x1, wv, acc[o][1], k1);
                }
            } else {
RR_UNROLL
                for (int o = 0; o < OCB; o++)
                    acc[o][0] = _mm512_mask3_fmadd_ps(x0, _mm512_set1_ps(wt[o]), acc[o][0], k0);
            }
        }
    }
RR_UNROLL
    for (int o = 0; o < OCB; o++) {
        _mm512_mask_storeu_ps(dst_o + o * ohw + d0, lv0, acc[o][0]);
        if (NB == 2) _mm512_mask_storeu_ps(dst_o + o * ohw + d1, lv1, acc[o][1]);
    }
}

#define OC_CASE(K)                                                                                     \
    case K:                                                                                            \
        if (two) oc_tile(pl, m, src_g, w_g, dst_o, s0, s1, d0, d1, lv0, lv1, K, 2);                    \
        else oc_tile(pl, m, src_g, w_g, dst_o, s0, s1, d0, d1, lv0, lv1, K, 1);                        \
        break;

void rr_fwd_oc_avx512(void *vpl, int64_t begin, int64_t end)
{
    const rr_fwd_plan *pl = (const rr_fwd_plan *)vpl;
    const rr_conv *c = &pl->c;
    for (int64_t item = begin; item < end; item++) {
        const int64_t blocks = c->groups * pl->nob, sp = item / blocks, blkid = item % blocks;
        const int64_t g = blkid / pl->nob, oc0 = (blkid % pl->nob) * pl->ocb;
        const int64_t no = c->ocpg - oc0 < pl->ocb ? c->ocpg - oc0 : pl->ocb;
        const float *w_g = pl->w + (g * c->ocpg + oc0) * c->icpg * pl->taps;
        const int64_t t_end = (sp + 1) * pl->span < pl->ntiles ? (sp + 1) * pl->span : pl->ntiles;
        for (int64_t tl = sp * pl->span; tl < t_end; tl++) {
            const rr_fwd_tile *ti = &pl->tiles[tl];
            const int two = ti->two;
            const int64_t s0 = ti->s0, s1 = ti->s1, d0 = ti->d0, d1 = ti->d1;
            const __mmask16 lv0 = (__mmask16)ti->lv, lv1 = (__mmask16)(ti->lv >> 16);
            const uint16_t *m = (const uint16_t *)pl->masks + tl * pl->taps * 2;
            const float *src_g = pl->src + (ti->n * c->ic + g * c->icpg) * pl->src_chan;
            float *dst_o = pl->dst + (ti->n * c->oc + g * c->ocpg + oc0) * c->oh * c->ow;
            switch (no) {
                OC_CASE(1) OC_CASE(2) OC_CASE(3) OC_CASE(4) OC_CASE(5) OC_CASE(6)
                OC_CASE(7) OC_CASE(8) OC_CASE(9) OC_CASE(10) OC_CASE(11) OC_CASE(12)
            default: break;
            }
        }
    }
}

/* ---- depthwise: a tile x CB channels, one mask load per tap for all of them ------------------- */

RR_INLINE void dw_tile(const rr_fwd_plan *pl, const uint16_t *m, const float *src_c, const float *w_c,
                       float *dst_c, int64_t s0, int64_t s1, int64_t d0, int64_t d1, __mmask16 lv0,
                       __mmask16 lv1, const int CB, const int NB)
{
    const int64_t taps = pl->taps, chan = pl->src_chan, ohw = pl->c.oh * pl->c.ow, ds = s1 - s0;
    const int64_t *toff = pl->toff;
    __m512 acc[12][2];
RR_UNROLL
    for (int ci = 0; ci < CB; ci++) {
        acc[ci][0] = _mm512_setzero_ps();
        acc[ci][1] = _mm512_setzero_ps();
    }
    for (int64_t t = 0; t < taps; t++) {
        const uint32_t kk = mask_pair(m, t);
        if (kk == 0) continue;
        const __mmask16 k0 = (__mmask16)kk, k1 = (__mmask16)(kk >> 16);
        const float *sp = src_c + toff[t] + s0;
RR_UNROLL
        for (int ci = 0; ci < CB; ci++) {
            const __m512 wv = _mm512_set1_ps(w_c[t * CB + ci]);
            const __m512 x0 = _mm512_maskz_loadu_ps(k0, sp);
            acc[ci][0] = _mm512_mask3_fmadd_ps(x0, wv, acc[ci][0], k0);
            if (NB == 2) {
                const __m512 x1 = _mm512_maskz_loadu_ps(k1, sp + ds);
                acc[ci][1] = _mm512_mask3_fmadd_ps(x1, wv, acc[ci][1], k1);
            }
            sp += chan;
            RR_OPAQUE(sp);
        }
    }
RR_UNROLL
    for (int ci = 0; ci < CB; ci++) {
        _mm512_mask_storeu_ps(dst_c + ci * ohw + d0, lv0, acc[ci][0]);
        if (NB == 2) _mm512_mask_storeu_ps(dst_c + ci * ohw + d1, lv1, acc[ci][1]);
    }
}

/*
 * Depthwise on a vertical tile (rows oh and oh+1, same columns; stride_h == dil_h == 1): input row
 * oh - ph + r is tap row r of block 0 and tap row r-1 of block 1, so each window is loaded once
 * (under the union of the two tap masks) and feeds both blocks' FMAs (each under its own mask).
 * The per-output order of taps is unchanged (kh, then kw ascending).
 */
RR_INLINE void dw_vtile(const rr_fwd_plan *pl, const uint16_t *m, const float *src_c, const float *w_c,
                        float *dst_c, int64_t s0, int64_t s1, int64_t d0, int64_t d1, __mmask16 lv0,
                        __mmask16 lv1, const int CB)
{
    const rr_conv *c = &pl->c;
    const int64_t fh = c->fh, fw = c->fw, chan = pl->src_chan, ohw = c->oh * c->ow;
    const int64_t *toff = pl->toff;
    __m512 acc[12][2];
RR_UNROLL
    for (int ci = 0; ci < CB; ci++) {
        acc[ci][0] = _mm512_setzero_ps();
        acc[ci][1] = _mm512_setzero_ps();
    }
    for (int64_t r = 0; r <= fh; r++) {
        for (int64_t kw = 0; kw < fw; kw++) {
            const __mmask16 k0 = r < fh ? (__mmask16)m[2 * (r * fw + kw)] : 0;
            const __mmask16 k1 = r > 0 ? (__mmask16)m[2 * ((r - 1) * fw + kw) + 1] : 0;
            const __mmask16 ku = k0 | k1;
            if (ku == 0) continue;
            const float *sp = src_c + (r < fh ? s0 + toff[r * fw + kw] : s1 + toff[(r - 1) * fw + kw]);
            RR_OPAQUE(sp);
            /* a row outside 0..fh-1 has mask 0: any valid weight address will do */
            const float *w0 = w_c + ((r < fh ? r : r - 1) * fw + kw) * CB;
            const float *w1 = w_c + ((r > 0 ? r - 1 : r) * fw + kw) * CB;
RR_UNROLL
            for (int ci = 0; ci < CB; ci++) {
                const __m512 x = _mm512_maskz_loadu_ps(ku, sp);
                acc[ci][0] = _mm512_mask3_fmadd_ps(x, _mm512_set1_ps(w0[ci]), acc[ci][0], k0);
                acc[ci][1] = _mm512_mask3_fmadd_ps(x, _mm512_set1_ps(w1[ci]), acc[ci][1], k1);
                sp += chan;
                RR_OPAQUE(sp);
            }
        }
    }
RR_UNROLL
    for (int ci = 0; ci < CB; ci++) {
        _mm512_mask_storeu_ps(dst_c + ci * ohw + d0, lv0, acc[ci][0]);
        _mm512_mask_storeu_ps(dst_c + ci * ohw + d1, lv1, acc[ci][1]);
    }
}

#define DW_CASE(K)                                                                                     \
    case K:                                                                                            \
        if (two && pl->vertical) dw_vtile(pl, m, src_c, w_c, dst_c, s0, s1, d0, d1, lv0, lv1, K);      \
        else if (two) dw_tile(pl, m, src_c, w_c, dst_c, s0, s1, d0, d1, lv0, lv1, K, 2);               \
        else dw_tile(pl, m, src_c, w_c, dst_c, s0, s1, d0, d1, lv0, lv1, K, 1);                        \
        break;

void rr_fwd_dw_avx512(void *vpl, int64_t begin, int64_t end)
{
    const rr_fwd_plan *pl = (const rr_fwd_plan *)vpl;
    const rr_conv *c = &pl->c;
    for (int64_t item = begin; item < end; item++) {
        const int64_t cbi = item / pl->nspans, sp = item % pl->nspans;
        const int64_t g0 = cbi * pl->cb, nc = c->groups - g0 < pl->cb ? c->groups - g0 : pl->cb;
        const float *w_c = pl->w + g0 * pl->taps;
        const int64_t t_end = (sp + 1) * pl->span < pl->ntiles ? (sp + 1) * pl->span : pl->ntiles;
        for (int64_t tl = sp * pl->span; tl < t_end; tl++) {
            const rr_fwd_tile *ti = &pl->tiles[tl];
            const int two = ti->two;
            const int64_t s0 = ti->s0, s1 = ti->s1, d0 = ti->d0, d1 = ti->d1;
            const __mmask16 lv0 = (__mmask16)ti->lv, lv1 = (__mmask16)(ti->lv >> 16);
            const uint16_t *m = (const uint16_t *)pl->masks + tl * pl->taps * 2;
            const float *src_c = pl->src + (ti->n * c->ic + g0) * pl->src_chan;
            float *dst_c = pl->dst + (ti->n * c->oc + g0) * c->oh * c->ow;
            switch (nc) {
                DW_CASE(1) DW_CASE(2) DW_CASE(3) DW_CASE(4) DW_CASE(5) DW_CASE(6) DW_CASE(7) DW_CASE(8)
                DW_CASE(9) DW_CASE(10) DW_CASE(11) DW_CASE(12)
            default: break;
            }
        }
    }
}
