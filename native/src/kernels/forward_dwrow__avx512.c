/*
 * forward_dwrow__avx512.c -- depthwise forward with 3-wide filter rows (FW 3, dil_w 1, pad_w 1,
 * stride_w 1: the "same" 3x3 depthwise layer) on AVX-512: the row segment kernel.
 *
 * The direct depthwise kernel (forward_direct__avx512.c) loads every tap's 16 input pixels with an
 * unaligned masked load; for a 3x3 filter most of those loads straddle a cache line and the kernel
 * runs at about one FMA per 2.5 cycles. Here a tile is one output row piece of NB (1 or 2) blocks of
 * 16 columns from column ow0, times CB channels. For each filter row kh and channel, the NB + 2
 * sixteen-column SEGMENTS of input row ih that start at columns ow0 - 16, ow0, ow0 + 16, ... are read
 * once (masked to the image's columns; a segment wholly outside the row is not read at all), and the
 * windows of the taps kw = 0, 1, 2 (columns ow0 - 1, ow0, ow0 + 1 onwards) are cut out of them with
 * one lane rotation (valignd) each. The six masks of a filter row (3 taps x 2 blocks) stay in mask
 * registers while the CB channels run.
 *
 * Masks come from the shared mask pass (forward_direct.h, row-wise tiles). Masked-out lanes are never
 * accumulated (_mm512_mask3_fmadd_ps keeps acc where k = 0), so NaN/Inf in skipped pixels never reach
 * dst. Per output element the taps are summed in (kh, kw) order, one FMA each, as in the direct
 * kernel; each output element belongs to one item, so results do not depend on the thread count.
 */
#include "forward_direct.h"

#include <immintrin.h>

#define RR_INLINE static inline __attribute__((always_inline))

#if defined(__clang__)
#define RR_UNROLL _Pragma("unroll")
#else
#define RR_UNROLL _Pragma("GCC unroll 16")
#endif

/* Lanes l of the segment starting at column c0 with 0 <= c0 + l < iw. */
RR_INLINE __mmask16 columns_in_row(int64_t c0, int64_t iw)
{
    const int64_t lo = c0 < 0 ? -c0 : 0, hi = iw - c0 > 16 ? 16 : iw - c0;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* A segment: wholly inside the row (plain load), partly (masked load) or not at all (zero, no load:
 * a masked load with an empty mask still costs about as much as a line-crossing load). */
RR_INLINE __m512 load_segment(__mmask16 k, const float *p)
{
    if (k == 0xFFFF) return _mm512_loadu_ps(p);
    if (k == 0) return _mm512_setzero_ps();
    return _mm512_maskz_loadu_ps(k, p);
}

/* Lanes s..15 of lo followed by lanes 0..s-1 of hi. */
#ifndef RR_DWROW_MAX_CB
#define RR_DWROW_MAX_CB 4 /* forward.c: FWD_DWROW_CB */
#endif

#define ROTATE(hi, lo, s) _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), s))

/* The three taps of filter row kh for channel q, both blocks interleaved (independent chains). */
#define TAP_FMAS(seg, q)                                                                               \
    do {                                                                                               \
        const __m512 w0 = _mm512_set1_ps(w_k[q]), w1 = _mm512_set1_ps(w_k[CB + q]),                   \
                     w2 = _mm512_set1_ps(w_k[2 * CB + q]);                                             \
        acc[q][0] = _mm512_mask3_fmadd_ps(ROTATE(seg[1], seg[0], 15), w0, acc[q][0], a0);              \
        if (NB == 2) acc[q][1] = _mm512_mask3_fmadd_ps(ROTATE(seg[2], seg[1], 15), w0, acc[q][1], a1); \
        acc[q][0] = _mm512_mask3_fmadd_ps(seg[1], w1, acc[q][0], b0);                                  \
        if (NB == 2) acc[q][1] = _mm512_mask3_fmadd_ps(seg[2], w1, acc[q][1], b1);                     \
        acc[q][0] = _mm512_mask3_fmadd_ps(ROTATE(seg[2], seg[1], 1), w2, acc[q][0], c0);               \
        if (NB == 2) acc[q][1] = _mm512_mask3_fmadd_ps(ROTATE(seg[3], seg[2], 1), w2, acc[q][1], c1);  \
    } while (0)

/*
 * One tile: NB blocks from (oh, ow0) x CB channels. m: the tile's masks, [taps][2] with this piece's
 * first block at m[2 * t + mb]. lv0 / lv1: the blocks' real lanes. FULL != 0: the NB blocks' columns
 * are all inside the input row; FULL & 1: so is column ow0 - 1, FULL & 2: so is column ow0 + 16 * NB
 * (FULL = 4: neither). FULL == 0: any columns (masked segment loads).
 */
RR_INLINE void dwrow_tile(const rr_fwd_plan *pl, const uint16_t *m, int mb, const float *src_c, const float *w_c,
                          float *dst_c, int64_t oh, int64_t ow0, __mmask16 lv0, __mmask16 lv1, const int CB,
                          const int NB, const int FULL)
{
    const rr_conv *c = &pl->c;
    const int64_t fh = c->fh, iw = c->iw, ihn = c->ih, chan = pl->src_chan, ohw = c->oh * c->ow;
    __mmask16 ks[4] = {0, 0, 0, 0};
    if (FULL == 0) {
RR_UNROLL
        for (int i = 0; i < NB + 2; i++) ks[i] = columns_in_row(ow0 + 16 * (i - 1), iw);
    }
    __m512 acc[RR_DWROW_MAX_CB][2];
RR_UNROLL
    for (int q = 0; q < CB; q++) {
        acc[q][0] = _mm512_setzero_ps();
        acc[q][1] = _mm512_setzero_ps();
    }
    for (int64_t kh = 0; kh < fh; kh++) {
        const int64_t ih = oh * c->sh + pl->khoff[kh];
        if (ih < 0 || ih >= ihn) continue;
        const uint16_t *mk = m + 2 * 3 * kh;
        const __mmask16 a0 = mk[mb], b0 = mk[2 + mb], c0 = mk[4 + mb];
        const __mmask16 a1 = NB == 2 ? mk[1] : 0, b1 = NB == 2 ? mk[3] : 0, c1 = NB == 2 ? mk[5] : 0;
        const float *row = src_c + ih * iw + ow0;
        const float *w_k = w_c + 3 * kh * CB;
        if (FULL != 0) {
            /* the NB middle segments lie inside the row: plain loads; of the edge segments only
             * column ow0 - 1 (lane 15) and column ow0 + 16 * NB (lane 0) are used: one float each,
             * read from the row when it is inside it and from a zero otherwise */
RR_UNROLL
            for (int q = 0; q < CB; q++) {
                const float *p = row + q * chan;
                __m512 seg[4];
                seg[0] = (FULL & 1) ? _mm512_set1_ps(p[-1]) : _mm512_setzero_ps();
RR_UNROLL
                for (int i = 1; i <= NB; i++) seg[i] = _mm512_loadu_ps(p + 16 * (i - 1));
                seg[NB + 1] = (FULL & 2) ? _mm512_set1_ps(p[16 * NB]) : _mm512_setzero_ps();
                TAP_FMAS(seg, q);
            }
        } else {
RR_UNROLL
            for (int q = 0; q < CB; q++) {
                const float *p = row + q * chan;
                __m512 seg[4];
RR_UNROLL
                for (int i = 0; i < NB + 2; i++) seg[i] = load_segment(ks[i], p + 16 * (i - 1));
                TAP_FMAS(seg, q);
            }
        }
    }
RR_UNROLL
    for (int q = 0; q < CB; q++) {
        float *dq = dst_c + q * ohw + oh * c->ow + ow0;
        _mm512_mask_storeu_ps(dq, lv0, acc[q][0]);
        if (NB == 2) _mm512_mask_storeu_ps(dq + 16, lv1, acc[q][1]);
    }
}

/* One row piece with the FULL variant its columns allow. */
RR_INLINE void dwrow_piece(const rr_fwd_plan *pl, const uint16_t *m, int mb, const float *src_c, const float *w_c,
                           float *dst_c, int64_t oh, int64_t ow0, __mmask16 lv0, __mmask16 lv1, const int CB,
                           const int NB)
{
    const int64_t iw = pl->c.iw;
    if (ow0 + 16 * NB > iw) {
        dwrow_tile(pl, m, mb, src_c, w_c, dst_c, oh, ow0, lv0, lv1, CB, NB, 0);
        return;
    }
    switch ((ow0 > 0) | (ow0 + 16 * NB < iw) << 1) {
    case 0: dwrow_tile(pl, m, mb, src_c, w_c, dst_c, oh, ow0, lv0, lv1, CB, NB, 4); break;
    case 1: dwrow_tile(pl, m, mb, src_c, w_c, dst_c, oh, ow0, lv0, lv1, CB, NB, 1); break;
    case 2: dwrow_tile(pl, m, mb, src_c, w_c, dst_c, oh, ow0, lv0, lv1, CB, NB, 2); break;
    default: dwrow_tile(pl, m, mb, src_c, w_c, dst_c, oh, ow0, lv0, lv1, CB, NB, 3); break;
    }
}

/* A tile of the row-wise layout: both blocks in one row piece when they are neighbours in one row,
 * else each block on its own (an odd number of blocks per row pairs a row's last block with the
 * next row's first). */
RR_INLINE void dwrow_item_tile(const rr_fwd_plan *pl, const rr_fwd_tile *ti, const uint16_t *m, const float *src_c,
                               const float *w_c, float *dst_c, const int CB)
{
    const int64_t oh0 = ti->oh0, ow0 = ti->ow0;
    const __mmask16 lv0 = (__mmask16)ti->lv, lv1 = (__mmask16)(ti->lv >> 16);
    if (ti->two && ti->oh1 == oh0 && ti->ow1 == ow0 + 16) {
        dwrow_piece(pl, m, 0, src_c, w_c, dst_c, oh0, ow0, lv0, lv1, CB, 2);
        return;
    }
    dwrow_piece(pl, m, 0, src_c, w_c, dst_c, oh0, ow0, lv0, 0, CB, 1);
    if (ti->two) dwrow_piece(pl, m, 1, src_c, w_c, dst_c, ti->oh1, ti->ow1, lv1, 0, CB, 1);
}

#define DWROW_CASE(K)                                                                                  \
    case K:                                                                                            \
        dwrow_item_tile(pl, ti, m, src_c, w_c, dst_c, K);                                              \
        break;

void rr_fwd_dwrow_avx512(void *vpl, int64_t begin, int64_t end)
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
            const uint16_t *m = (const uint16_t *)pl->masks + tl * pl->taps * 2;
            const float *src_c = pl->src + (ti->n * c->ic + g0) * pl->src_chan;
            float *dst_c = pl->dst + (ti->n * c->oc + g0) * c->oh * c->ow;
            switch (nc) {
                DWROW_CASE(1) DWROW_CASE(2) DWROW_CASE(3) DWROW_CASE(4)
#if RR_DWROW_MAX_CB > 4
                DWROW_CASE(5) DWROW_CASE(6) DWROW_CASE(7) DWROW_CASE(8)
#endif
            default: break;
            }
        }
    }
}
