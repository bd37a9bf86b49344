/*
 * forward_dwrow__avx512.c -- depthwise forward on AVX-512 for odd filter widths FW = 3 .. 31 with
 * "same" column padding (pad_w = (FW-1)/2, dil_w 1, stride_w 1): the ROW SEGMENT kernel. Rows: any
 * FH, stride_h, dil_h, pad_h.
 *
 * The direct depthwise kernel (forward_direct__avx512.c) loads every tap's 16 input pixels with an
 * unaligned masked load; most of those straddle a cache line and it runs at about one FMA per 2.5
 * cycles. Here a tile is one output row piece of NB (1 or 2) blocks of 16 columns from column ow0,
 * times RR_DWROW_CB(FW) = 4 channels. The input row ih of a filter row kh is read as NB + 2
 * sixteen-column SEGMENTS starting at columns ow0 - 16, ow0, ow0 + 16, ... (plain loads where the
 * segment is whole inside the row, else masked to the row's columns, never with an empty mask, which
 * costs as much as a line-crossing load), and the window of tap kw, which starts at column
 * ow0 + 16 b + o with o = kw - (FW-1)/2 in [-15, 15], is cut out of two neighbouring segments with
 * one lane rotation (valignd) whose count is a compile-time constant: the kernel is instantiated per
 * FW (one function each).
 *
 * Taps run in chunks of RR_DWROW_KC: the chunk's 2 * KC masks (from the shared mask pass,
 * forward_direct.h, row-wise tiles) stay in mask registers while the CB channels run, so one mask
 * load serves CB channels. A last channel block of fewer than CB channels runs one channel at a time.
 *
 * Masked-out lanes are never accumulated (_mm512_mask3_fmadd_ps keeps acc where k = 0), so NaN/Inf
 * in skipped pixels never reach dst. Per output element the taps are summed in (kh, kw) order, one
 * FMA each; each output element belongs to one item, so results do not depend on the thread count.
 */
#include "forward_direct.h"

#include <immintrin.h>

#define RR_INLINE static inline __attribute__((always_inline))

#if defined(__clang__)
#define RR_UNROLL _Pragma("unroll")
#else
#define RR_UNROLL _Pragma("GCC unroll 32")
#endif

#define RR_DWROW_KC 3 /* taps per chunk: 2 * KC masks stay in mask registers */

/* Lanes l of the segment starting at column c0 with 0 <= c0 + l < iw. */
RR_INLINE __mmask16 columns_in_row(int64_t c0, int64_t iw)
{
    const int64_t lo = c0 < 0 ? -c0 : 0, hi = iw - c0 > 16 ? 16 : iw - c0;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* Lanes s..15 of lo followed by lanes 0..s-1 of hi, 0 < s < 16. valignd takes its count as an
 * immediate: s is a constant in every instantiation and the switch folds away. */
#define ALIGNR(hi, lo, S) \
    case S: return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), S));
RR_INLINE __m512 rotate(__m512 hi, __m512 lo, int s)
{
    switch (s) {
        ALIGNR(hi, lo, 1) ALIGNR(hi, lo, 2) ALIGNR(hi, lo, 3) ALIGNR(hi, lo, 4) ALIGNR(hi, lo, 5)
        ALIGNR(hi, lo, 6) ALIGNR(hi, lo, 7) ALIGNR(hi, lo, 8) ALIGNR(hi, lo, 9) ALIGNR(hi, lo, 10)
        ALIGNR(hi, lo, 11) ALIGNR(hi, lo, 12) ALIGNR(hi, lo, 13) ALIGNR(hi, lo, 14) ALIGNR(hi, lo, 15)
    default: return lo;
    }
}

/* The window at offset o (-16 < o < 16) of block b; seg[i] is segment i - 1. */
RR_INLINE __m512 window(const __m512 *seg, int b, int o)
{
    if (o < 0) return rotate(seg[b + 1], seg[b], o + 16);
    if (o == 0) return seg[b + 1];
    return rotate(seg[b + 2], seg[b + 1], o);
}

/*
 * One tile: NB blocks from (oh, ow0) x CBN channels (RR_DWROW_CB(FW), or 1 for each channel of a last,
 * partial block), filter width FW. m: the tile's masks, [taps][2], this piece's first block at
 * m[2 * t + mb]; lv0 / lv1: the blocks' real lanes; src_c, dst_c: the first channel; w_c: its weights
 * in the block's [taps][RR_DWROW_CB(FW)] pack. FULL != 0: every segment read is whole inside the row
 * (plain loads, no load masks); FULL >= 2 also fixes whether the left / right neighbour segments
 * exist (narrow filters, where those edge cases are most of the work).
 */
RR_INLINE void dwrow_tile(const rr_fwd_plan *pl, const uint16_t *m, int mb, const float *src_c, const float *w_c,
                          float *dst_c, int64_t oh, int64_t ow0, __mmask16 lv0, __mmask16 lv1, const int FW,
                          const int NB, const int FULL, const int CBN)
{
    enum { KC = RR_DWROW_KC };
    const int CB = RR_DWROW_CB(FW);
    const int PW = (FW - 1) / 2;
    const rr_conv *c = &pl->c;
    const int64_t fh = c->fh, iw = c->iw, ihn = c->ih, chan = pl->src_chan, ohw = c->oh * c->ow;
    /* segment i - 1 starts at column ow0 + 16 (i - 1); it is read under the mask of its columns inside
     * the row. A segment wholly outside the row feeds only lanes whose tap masks are 0 (the mask pass
     * checks the columns), so any readable data will do: it reads segment 0's columns instead. */
    __mmask16 lk[4];
    int64_t soff[4];
RR_UNROLL
    for (int i = 0; i < NB + 2; i++) {
        lk[i] = columns_in_row(ow0 + 16 * (i - 1), iw);
        soff[i] = ow0 + 16 * (i - 1);
        if (lk[i] == 0) {
            lk[i] = columns_in_row(ow0, iw);
            soff[i] = ow0;
        }
    }
    /* FULL >= 2 fixes the neighbours at compile time: bit 0 of FULL - 2 = left, bit 1 = right */
    const int has_left = FULL >= 2 ? ((FULL - 2) & 1) : ow0 >= 16;
    const int has_right = FULL >= 2 ? ((FULL - 2) >> 1) & 1 : iw - ow0 - 16 * NB >= 16;
    __m512 acc[8][2];
RR_UNROLL
    for (int q = 0; q < CBN; q++) {
        acc[q][0] = _mm512_setzero_ps();
        acc[q][1] = _mm512_setzero_ps();
    }
    for (int64_t kh = 0; kh < fh; kh++) {
        const int64_t ih = oh * c->sh + pl->khoff[kh];
        if (ih < 0 || ih >= ihn) continue;
        const float *row = src_c + ih * iw;
        const uint16_t *mk = m + 2 * FW * kh;
        const float *w_k = w_c + FW * kh * CB;
RR_UNROLL
        for (int k0 = 0; k0 < FW; k0 += KC) {
            __mmask16 ka[KC], kb[KC];
RR_UNROLL
            for (int u = 0; u < KC; u++) {
                ka[u] = k0 + u < FW ? (__mmask16)mk[2 * (k0 + u) + mb] : 0;
                kb[u] = k0 + u < FW && NB == 2 ? (__mmask16)mk[2 * (k0 + u) + 1] : 0;
            }
RR_UNROLL
            for (int q = 0; q < CBN; q++) {
                const float *p = row + q * chan;
                __m512 seg[4];
RR_UNROLL
                for (int i = 0; i < NB + 2; i++) {
                    if (!FULL) seg[i] = _mm512_maskz_loadu_ps(lk[i], p + soff[i]);
                    else if (i >= 1 && i <= NB) seg[i] = _mm512_loadu_ps(p + ow0 + 16 * (i - 1));
                }
                if (FULL) {
                    /* an absent neighbour segment only feeds masked-out lanes: reuse a loaded one */
                    seg[0] = has_left ? _mm512_loadu_ps(p + ow0 - 16) : seg[1];
                    seg[NB + 1] = has_right ? _mm512_loadu_ps(p + ow0 + 16 * NB) : seg[NB];
                }
RR_UNROLL
                for (int u = 0; u < KC; u++) {
                    const int kw = k0 + u;
                    if (kw >= FW) break;
                    const int o = kw - PW;
                    const __m512 wv = _mm512_set1_ps(w_k[kw * CB + q]);
                    acc[q][0] = _mm512_mask3_fmadd_ps(window(seg, 0, o), wv, acc[q][0], ka[u]);
                    if (NB == 2) acc[q][1] = _mm512_mask3_fmadd_ps(window(seg, 1, o), wv, acc[q][1], kb[u]);
                }
            }
        }
    }
RR_UNROLL
    for (int q = 0; q < CBN; q++) {
        float *dq = dst_c + q * ohw + oh * c->ow + ow0;
        _mm512_mask_storeu_ps(dq, lv0, acc[q][0]);
        if (NB == 2) _mm512_mask_storeu_ps(dq + 16, lv1, acc[q][1]);
    }
}

/* A tile of the row-wise layout: both blocks in one row piece when they are neighbours in one row,
 * else each block on its own (an odd number of blocks per row pairs a row's last block with the
 * next row's first). */
RR_INLINE void dwrow_piece(const rr_fwd_plan *pl, const uint16_t *m, int mb, const float *src_c, const float *w_c,
                           float *dst_c, int64_t nc, int64_t oh, int64_t ow0, __mmask16 lv0, __mmask16 lv1,
                           const int FW, const int NB)
{
    /* ow0 is a multiple of 16: segment -1 is whole or absent; the blocks' and the right neighbour's
     * segments are whole unless the row ends inside them */
    const int64_t right = pl->c.iw - ow0 - 16 * NB;
    const int full = right == 0 || right >= 16;
    if (nc == RR_DWROW_CB(FW)) {
        if (!full) {
            dwrow_tile(pl, m, mb, src_c, w_c, dst_c, oh, ow0, lv0, lv1, FW, NB, 0, RR_DWROW_CB(FW));
        } else if (FW > 7) {
            dwrow_tile(pl, m, mb, src_c, w_c, dst_c, oh, ow0, lv0, lv1, FW, NB, 1, RR_DWROW_CB(FW));
        } else {
            switch ((ow0 >= 16) | (right >= 16) << 1) {
            case 0: dwrow_tile(pl, m, mb, src_c, w_c, dst_c, oh, ow0, lv0, lv1, FW, NB, 2, RR_DWROW_CB(FW)); break;
            case 1: dwrow_tile(pl, m, mb, src_c, w_c, dst_c, oh, ow0, lv0, lv1, FW, NB, 3, RR_DWROW_CB(FW)); break;
            case 2: dwrow_tile(pl, m, mb, src_c, w_c, dst_c, oh, ow0, lv0, lv1, FW, NB, 4, RR_DWROW_CB(FW)); break;
            default: dwrow_tile(pl, m, mb, src_c, w_c, dst_c, oh, ow0, lv0, lv1, FW, NB, 5, RR_DWROW_CB(FW)); break;
            }
        }
        return;
    }
    const int64_t chan = pl->src_chan, ohw = pl->c.oh * pl->c.ow;
    for (int64_t q = 0; q < nc; q++)
        dwrow_tile(pl, m, mb, src_c + q * chan, w_c + q, dst_c + q * ohw, oh, ow0, lv0, lv1, FW, NB, 0, 1);
}

/* A tile of the row-wise layout: both blocks in one row piece when they are neighbours in one row,
 * else each block on its own (an odd number of blocks per row pairs a row's last block with the
 * next row's first). */
RR_INLINE void dwrow_item_tile(const rr_fwd_plan *pl, const rr_fwd_tile *ti, const uint16_t *m, const float *src_c,
                               const float *w_c, float *dst_c, int64_t nc, const int FW)
{
    const __mmask16 lv0 = (__mmask16)ti->lv, lv1 = (__mmask16)(ti->lv >> 16);
    if (ti->two && ti->oh1 == ti->oh0 && ti->ow1 == ti->ow0 + 16) {
        dwrow_piece(pl, m, 0, src_c, w_c, dst_c, nc, ti->oh0, ti->ow0, lv0, lv1, FW, 2);
        return;
    }
    dwrow_piece(pl, m, 0, src_c, w_c, dst_c, nc, ti->oh0, ti->ow0, lv0, 0, FW, 1);
    if (ti->two) dwrow_piece(pl, m, 1, src_c, w_c, dst_c, nc, ti->oh1, ti->ow1, lv1, 0, FW, 1);
}

/* Items cb * nspans + span, like the direct depthwise kernel; one instantiation per FW. */
RR_INLINE void dwrow_items(const rr_fwd_plan *pl, int64_t begin, int64_t end, const int FW)
{
    const rr_conv *c = &pl->c;
    for (int64_t item = begin; item < end; item++) {
        const int64_t cbi = item / pl->nspans, sp = item % pl->nspans;
        const int64_t cb = RR_DWROW_CB(FW), g0 = cbi * cb, nc = c->groups - g0 < cb ? c->groups - g0 : cb;
        const float *w_c = pl->w + g0 * pl->taps;
        const int64_t t_end = (sp + 1) * pl->span < pl->ntiles ? (sp + 1) * pl->span : pl->ntiles;
        for (int64_t tl = sp * pl->span; tl < t_end; tl++) {
            const rr_fwd_tile *ti = &pl->tiles[tl];
            const uint16_t *m = (const uint16_t *)pl->masks + tl * pl->taps * 2;
            const float *src_c = pl->src + (ti->n * c->ic + g0) * pl->src_chan;
            float *dst_c = pl->dst + (ti->n * c->oc + g0) * c->oh * c->ow;
            dwrow_item_tile(pl, ti, m, src_c, w_c, dst_c, nc, FW);
        }
    }
}

/* One function per width: each gets its own registers and stack frame. */
#define FW_FN(F)                                                                                       \
    static __attribute__((noinline)) void dwrow_fw##F(const rr_fwd_plan *pl, int64_t begin, int64_t end) \
    {                                                                                                  \
        dwrow_items(pl, begin, end, F);                                                                \
    }
FW_FN(3) FW_FN(5) FW_FN(7) FW_FN(9) FW_FN(11) FW_FN(13) FW_FN(15) FW_FN(17)
FW_FN(19) FW_FN(21) FW_FN(23) FW_FN(25) FW_FN(27) FW_FN(29) FW_FN(31)

#define FW_CASE(F)                                                                                     \
    case F:                                                                                            \
        dwrow_fw##F(pl, begin, end);                                                                   \
        break;

void rr_fwd_dwrow_avx512(void *vpl, int64_t begin, int64_t end)
{
    const rr_fwd_plan *pl = (const rr_fwd_plan *)vpl;
    switch (pl->c.fw) {
        FW_CASE(3) FW_CASE(5) FW_CASE(7) FW_CASE(9) FW_CASE(11) FW_CASE(13) FW_CASE(15) FW_CASE(17)
        FW_CASE(19) FW_CASE(21) FW_CASE(23) FW_CASE(25) FW_CASE(27) FW_CASE(29) FW_CASE(31)
    default: break; /* forward.c picks this kernel only for the widths above */
    }
}
