/*
 * forward_direct__avx2.c -- the direct forward kernel's loops on AVX2 + FMA (see forward_direct.h).
 *
 * 8 output pixels per block, two blocks per tile; masks are one byte per block and tap. Masked-out
 * lanes are never loaded (_mm256_maskload_ps, which never faults on them) and the FMA result is
 * blended in only on the tap's lanes, so a NaN in src or an Inf weight on a skipped tap cannot
 * reach dst.
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

/* The two blocks' masks of one tap (stored as two uint8_t) in one load. */
RR_INLINE uint32_t mask_pair(const uint8_t *m, int64_t t)
{
    uint16_t v;
    memcpy(&v, m + 2 * t, sizeof v);
    return v;
}

/* Lane i of the result is all-ones iff bit i of bits is set. */
RR_INLINE __m256i lanes_of(uint32_t bits)
{
    const __m256i sel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int32_t)bits), sel), sel);
}

RR_INLINE uint32_t bits_of(__m256i v)
{
    return (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(v));
}

/* lo <= v < hi, per lane, as a vector mask */
RR_INLINE __m256i in_range(__m256i v, __m256i lo_minus_1, __m256i hi)
{
    return _mm256_and_si256(_mm256_cmpgt_epi32(v, lo_minus_1), _mm256_cmpgt_epi32(hi, v));
}

/* ---- masks ----------------------------------------------------------------------------------- */

void rr_fwd_masks_avx2(void *vpl, int64_t begin, int64_t end)
{
    const rr_fwd_plan *pl = (const rr_fwd_plan *)vpl;
    const rr_conv *c = &pl->c;
    const int64_t taps = pl->taps;
    const __m256i minus1 = _mm256_set1_epi32(-1), ihmax = _mm256_set1_epi32((int32_t)c->ih);
    const __m256i shv = _mm256_set1_epi32((int32_t)c->sh);
    for (int64_t tl = begin; tl < end; tl++) {
        const int64_t gt = pl->tile0 + tl, n = gt / pl->tpi, tile = gt % pl->tpi;
        uint8_t *m = (uint8_t *)pl->masks + tl * taps * 2;
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
            int32_t ohl[8], owl[8];
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
            const __m256i lv = lanes_of((1u << nvalid) - 1u);
            const __m256i ohs = _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)ohl), shv);
            const __m256i owv = _mm256_loadu_si256((const __m256i *)owl);
            const __m256i routv = _mm256_maskload_epi32(pl->rout + n * c->oh * c->ow + dbase, lv);
            const int32_t *rin_b = pl->rin + n * pl->src_chan + sbase;
            for (int64_t kh = 0; kh < c->fh; kh++) {
                const __m256i ihv = _mm256_add_epi32(ohs, _mm256_set1_epi32(pl->khoff[kh]));
                const __m256i kr = _mm256_and_si256(lv, in_range(ihv, minus1, ihmax));
                uint8_t *mk = m + 2 * kh * c->fw + j;
                if (bits_of(kr) == 0) {
                    for (int64_t kw = 0; kw < c->fw; kw++) mk[2 * kw] = 0;
                    continue;
                }
                for (int64_t kw = 0; kw < c->fw; kw++) {
                    const __m256i jv = _mm256_add_epi32(owv, _mm256_set1_epi32(pl->q[kw]));
                    const __m256i kc = _mm256_and_si256(kr, in_range(jv, minus1, _mm256_set1_epi32(pl->lr[kw])));
                    uint32_t k = 0;
                    if (bits_of(kc) != 0) {
                        const __m256i rinv = _mm256_maskload_epi32(rin_b + pl->toff[kh * c->fw + kw], kc);
                        k = bits_of(_mm256_and_si256(kc, _mm256_cmpeq_epi32(rinv, routv)));
                    }
                    mk[2 * kw] = (uint8_t)k;
                }
            }
        }
    }
}

/* acc + x*w on the lanes of vm, acc elsewhere */
RR_INLINE __m256 fma_on(__m256 x, __m256 w, __m256 acc, __m256 vm)
{
    return _mm256_blendv_ps(acc, _mm256_fmadd_ps(x, w, acc), vm);
}

/* ---- dense / grouped: a tile x OCB output channels of one group ------------------------------- */

RR_INLINE void oc_tile(const rr_fwd_plan *pl, const uint8_t *m, const float *src_g, const float *w_g,
                       float *dst_o, int64_t s0, int64_t s1, int64_t d0, int64_t d1, __m256i lv0,
                       __m256i lv1, const int OCB, const int NB)
{
    const rr_conv *c = &pl->c;
    const int64_t taps = pl->taps, ohw = c->oh * c->ow;
    const int64_t *toff = pl->toff;
    __m256 acc[5][2];
RR_UNROLL
    for (int o = 0; o < OCB; o++) {
        acc[o][0] = _mm256_setzero_ps();
        acc[o][1] = _mm256_setzero_ps();
    }
    for (int64_t t = 0; t < taps; t++) {
        const uint32_t kk = mask_pair(m, t);
        if (kk == 0) continue;
        const __m256i k0 = lanes_of(kk & 0xffu), k1 = lanes_of(kk >> 8);
        const __m256 vm0 = _mm256_castsi256_ps(k0), vm1 = _mm256_castsi256_ps(k1);
        const float *sp = src_g + toff[t];
        const float *wt = w_g + t * c->icpg * OCB;
        for (int64_t icg = 0; icg < c->icpg; icg++, sp += pl->src_chan, wt += OCB) {
            const __m256 x0 = _mm256_maskload_ps(sp + s0, k0);
            if (NB == 2) {
                const __m256 x1 = _mm256_maskload_ps(sp + s1, k1);
RR_UNROLL
                for (int o = 0; o < OCB; o++) {
                    const __m256 wv = _mm256_broadcast_ss(wt + o);
                    acc[o][0] = fma_on(x0, wv, acc[o][0], vm0);
                    acc[o][1] = fma_on(x1, wv, acc[o][1], vm1);
                }
            } else {
RR_UNROLL
                for (int o = 0; o < OCB; o++) acc[o][0] = fma_on(x0, _mm256_broadcast_ss(wt + o), acc[o][0], vm0);
            }
        }
    }
RR_UNROLL
    for (int o = 0; o < OCB; o++) {
        _mm256_maskstore_ps(dst_o + o * ohw + d0, lv0, acc[o][0]);
        if (NB == 2) _mm256_maskstore_ps(dst_o + o * ohw + d1, lv1, acc[o][1]);
    }
}

#define OC_CASE(K)                                                                                     \
    case K:                                                                                            \
        if (two) oc_tile(pl, m, src_g, w_g, dst_o, s0, s1, d0, d1, lv0, lv1, K, 2);                    \
        else oc_tile(pl, m, src_g, w_g, dst_o, s0, s1, d0, d1, lv0, lv1, K, 1);                        \
        break;

void rr_fwd_oc_avx2(void *vpl, int64_t begin, int64_t end)
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
            const __m256i lv0 = lanes_of(ti->lv & 0xffu), lv1 = lanes_of(ti->lv >> 16);
            const uint8_t *m = (const uint8_t *)pl->masks + tl * pl->taps * 2;
            const float *src_g = pl->src + (ti->n * c->ic + g * c->icpg) * pl->src_chan;
            float *dst_o = pl->dst + (ti->n * c->oc + g * c->ocpg + oc0) * c->oh * c->ow;
            switch (no) {
                OC_CASE(1) OC_CASE(2) OC_CASE(3) OC_CASE(4) OC_CASE(5)
            default: break;
            }
        }
    }
}

/* ---- depthwise: a tile x CB channels, one mask per tap for all of them ------------------------ */

RR_INLINE void dw_tile(const rr_fwd_plan *pl, const uint8_t *m, const float *src_c, const float *w_c,
                       float *dst_c, int64_t s0, int64_t s1, int64_t d0, int64_t d1, __m256i lv0,
                       __m256i lv1, const int CB, const int NB)
{
    const int64_t taps = pl->taps, chan = pl->src_chan, ohw = pl->c.oh * pl->c.ow;
    const int64_t *toff = pl->toff;
    __m256 acc[4][2];
RR_UNROLL
    for (int ci = 0; ci < CB; ci++) {
        acc[ci][0] = _mm256_setzero_ps();
        acc[ci][1] = _mm256_setzero_ps();
    }
    for (int64_t t = 0; t < taps; t++) {
        const uint32_t kk = mask_pair(m, t);
        if (kk == 0) continue;
        const __m256i k0 = lanes_of(kk & 0xffu), k1 = lanes_of(kk >> 8);
        const __m256 vm0 = _mm256_castsi256_ps(k0), vm1 = _mm256_castsi256_ps(k1);
        const float *sp = src_c + toff[t];
RR_UNROLL
        for (int ci = 0; ci < CB; ci++) {
            const __m256 wv = _mm256_broadcast_ss(w_c + t * CB + ci);
            acc[ci][0] = fma_on(_mm256_maskload_ps(sp + ci * chan + s0, k0), wv, acc[ci][0], vm0);
            if (NB == 2) acc[ci][1] = fma_on(_mm256_maskload_ps(sp + ci * chan + s1, k1), wv, acc[ci][1], vm1);
        }
    }
RR_UNROLL
    for (int ci = 0; ci < CB; ci++) {
        _mm256_maskstore_ps(dst_c + ci * ohw + d0, lv0, acc[ci][0]);
        if (NB == 2) _mm256_maskstore_ps(dst_c + ci * ohw + d1, lv1, acc[ci][1]);
    }
}

#define DW_CASE(K)                                                                                     \
    case K:                                                                                            \
        if (two) dw_tile(pl, m, src_c, w_c, dst_c, s0, s1, d0, d1, lv0, lv1, K, 2);                    \
        else dw_tile(pl, m, src_c, w_c, dst_c, s0, s1, d0, d1, lv0, lv1, K, 1);                        \
        break;

void rr_fwd_dw_avx2(void *vpl, int64_t begin, int64_t end)
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
            const __m256i lv0 = lanes_of(ti->lv & 0xffu), lv1 = lanes_of(ti->lv >> 16);
            const uint8_t *m = (const uint8_t *)pl->masks + tl * pl->taps * 2;
            const float *src_c = pl->src + (ti->n * c->ic + g0) * pl->src_chan;
            float *dst_c = pl->dst + (ti->n * c->oc + g0) * c->oh * c->ow;
            switch (nc) {
                DW_CASE(1) DW_CASE(2) DW_CASE(3) DW_CASE(4)
            default: break;
            }
        }
    }
}
