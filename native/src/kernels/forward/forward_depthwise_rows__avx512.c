/*
 * forward_depthwise_rows__avx512.c -- depthwise forward on AVX-512 for filter widths FW = 3, 5, .., 13 and 31 with
 * "same" column padding (pad_w = (FW-1)/2, dil_w 1, stride_w 1): the ROW SEGMENT kernel. Rows: any
 * FH, stride_h, dil_h, pad_h.
 *
 * The direct depthwise kernel (forward_tiles__avx512.c) loads every tap's 16 input pixels with an
 * unaligned masked load; most of those straddle a cache line and it runs at about one FMA per 2.5
 * cycles. Here a tile is one output row piece of NB (1 or 2) blocks of 16 columns from column ow0,
 * times RR_DWROW_CB(FW) channels (8 for FW 3, else 4). The input row ih of a filter row kh is read
 * as NB + 2 sixteen-column SEGMENTS starting at columns ow0 - 16, ow0, ow0 + 16, ...
 * (row_segments__avx512.h), and the window of tap kw, which starts at column ow0 + 16 b + o with
 * o = kw - (FW-1)/2 in [-15, 15], is cut out of two neighbouring segments with one lane rotation
 * (valignd) whose count is a compile-time constant: the kernel is instantiated per FW (one function
 * each). Consecutive tiles that are the same columns of consecutive rows run as one piece.
 *
 * Taps run in chunks of RR_DWROW_KC(FW) (1 to 3): the chunk's 2 * KC masks (from the shared mask pass,
 * tile_plan.h, row-wise tiles) stay in mask registers while the CB channels run, so one mask
 * load serves CB channels. A last channel block of fewer than CB channels runs one channel at a time.
 *
 * Masked-out lanes are never accumulated (_mm512_mask3_fmadd_ps keeps acc where k = 0), so NaN/Inf
 * in skipped pixels never reach dst. Per output element the taps are summed in (kh, kw) order, one
 * FMA each; each output element belongs to one item, so results do not depend on the thread count.
 */
#include "../common/tile_plan.h"
#include "../common/row_segments__avx512.h"

/* Taps per chunk (2 * KC masks stay in mask registers), measured per width on DW shapes (N 4, C 384,
 * 32 x 32 and N 2, C 256, 64 x 64): 2 runs 10-15 % faster than 3 for FW 9, 11 and 13, 1 and 3 beat 2
 * for FW 7, and 3 is best for 31 (FW 3 and 5: no difference). */
#define RR_DWROW_KC(FW) ((FW) == 7 ? 1 : (FW) >= 9 && (FW) <= 13 ? 2 : 3)
#define RR_DWROW_KC_MAX 3

/*
 * nrows row pieces (consecutive tiles): NB blocks from (oh0 + r, ow0) x CBN channels
 * (RR_DWROW_CB(FW), or 1 for each channel of a last, partial block), filter width FW. m: the first
 * tile's masks, [taps][2], this piece's first block at m[2 * t + mb]; lv0 / lv1: the blocks' real
 * lanes; src_c, dst_c: the first channel; w_c: its weights in the block's [taps][RR_DWROW_CB(FW)]
 * pack. FULL (rr_segments_init): 0 any columns, 1 whole segments, >= 2 whole segments with the
 * neighbours fixed at compile time (narrow filters, where those edge cases are most of the work).
 */
RR_INLINE void dwrow_tile(const rr_tile_plan *pl, const uint16_t *m, int mb, const float *src_c, const float *w_c,
                          float *dst_c, int64_t oh0, int64_t nrows, int64_t ow0, __mmask16 lv0, __mmask16 lv1,
                          const int FW, const int NB, const int FULL, const int CBN)
{
    const int KC = RR_DWROW_KC(FW); /* a constant in each instantiation, <= RR_DWROW_KC_MAX */
    const int CB = RR_DWROW_CB(FW);
    const int PW = (FW - 1) / 2;
    const rr_conv *c = &pl->c;
    const int64_t fh = c->fh, iw = c->iw, ihn = c->ih, chan = pl->src_chan, ohw = c->oh * c->ow;
    rr_segments sg;
    rr_segments_init(&sg, ow0, iw, NB, FULL);
    for (int64_t oh = oh0; oh < oh0 + nrows; oh++, m += 2 * pl->taps) {
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
                __mmask16 ka[RR_DWROW_KC_MAX], kb[RR_DWROW_KC_MAX];
RR_UNROLL
                for (int u = 0; u < KC; u++) {
                    ka[u] = k0 + u < FW ? (__mmask16)mk[2 * (k0 + u) + mb] : 0;
                    kb[u] = k0 + u < FW && NB == 2 ? (__mmask16)mk[2 * (k0 + u) + 1] : 0;
                }
RR_UNROLL
                for (int q = 0; q < CBN; q++) {
                    const float *p = row + q * chan;
                    __m512 seg[4];
                    rr_segments_load(seg, p, &sg, ow0, NB, FULL);
RR_UNROLL
                    for (int u = 0; u < KC; u++) {
                        const int kw = k0 + u;
                        if (kw >= FW) break;
                        const int o = kw - PW;
                        const __m512 wv = _mm512_set1_ps(w_k[kw * CB + q]);
                        acc[q][0] = _mm512_mask3_fmadd_ps(rr_window(seg, 0, o), wv, acc[q][0], ka[u]);
                        if (NB == 2) acc[q][1] = _mm512_mask3_fmadd_ps(rr_window(seg, 1, o), wv, acc[q][1], kb[u]);
                    }
                }
            }
        }
RR_UNROLL
        for (int q = 0; q < CBN; q++) {
            float *dq = dst_c + q * ohw + oh * c->ow + ow0;
            if (FULL) { /* the blocks are whole (OW == IW here): plain stores */
                _mm512_storeu_ps(dq, acc[q][0]);
                if (NB == 2) _mm512_storeu_ps(dq + 16, acc[q][1]);
            } else {
                _mm512_mask_storeu_ps(dq, lv0, acc[q][0]);
                if (NB == 2) _mm512_mask_storeu_ps(dq + 16, lv1, acc[q][1]);
            }
        }
    }
}

/* A row piece (or a run of them) with the loader its columns allow; the channels of a partial last
 * block one at a time. */
RR_INLINE void dwrow_piece(const rr_tile_plan *pl, const uint16_t *m, int mb, const float *src_c, const float *w_c,
                           float *dst_c, int64_t nc, int64_t oh, int64_t nrows, int64_t ow0, __mmask16 lv0,
                           __mmask16 lv1, const int FW, const int NB)
{
    /* one-block pieces (odd blocks per row) take the general loader: fewer instantiations */
    const int kind = NB == 2 ? rr_segments_full_kind(ow0, pl->c.iw, NB) : 0;
    if (nc == RR_DWROW_CB(FW)) {
        if (kind == 0) {
            dwrow_tile(pl, m, mb, src_c, w_c, dst_c, oh, nrows, ow0, lv0, lv1, FW, NB, 0, RR_DWROW_CB(FW));
        } else if (FW > 7) { /* wide filters: the neighbours' edge cases are a small part of the work */
            dwrow_tile(pl, m, mb, src_c, w_c, dst_c, oh, nrows, ow0, lv0, lv1, FW, NB, 1, RR_DWROW_CB(FW));
        } else {
#define DWROW_KIND(K) dwrow_tile(pl, m, mb, src_c, w_c, dst_c, oh, nrows, ow0, lv0, lv1, FW, NB, K, RR_DWROW_CB(FW))
            switch (kind) {
            case 2: DWROW_KIND(2); break;
            case 3: DWROW_KIND(3); break;
            case 4: DWROW_KIND(4); break;
            default: DWROW_KIND(5); break;
            }
#undef DWROW_KIND
        }
        return;
    }
    const int64_t chan = pl->src_chan, ohw = pl->c.oh * pl->c.ow;
    for (int64_t q = 0; q < nc; q++)
        dwrow_tile(pl, m, mb, src_c + q * chan, w_c + q, dst_c + q * ohw, oh, nrows, ow0, lv0, lv1, FW, NB, 0, 1);
}

/*
 * Items cb * nspans + span, like the direct depthwise kernel; one instantiation per FW. Consecutive
 * tiles that are two-block pieces of consecutive rows of one image at the same columns (every tile
 * of a 17..32 column image) run as one call, which sets up the segments once.
 */
RR_INLINE void dwrow_items(const rr_tile_plan *pl, int64_t begin, int64_t end, const int FW)
{
    const rr_conv *c = &pl->c;
    for (int64_t item = begin; item < end; item++) {
        const int64_t cbi = item / pl->nspans, sp = item % pl->nspans;
        const int64_t cb = RR_DWROW_CB(FW), g0 = cbi * cb, nc = c->groups - g0 < cb ? c->groups - g0 : cb;
        const float *w_c = pl->w + g0 * pl->taps;
        const int64_t t_end = (sp + 1) * pl->span < pl->ntiles ? (sp + 1) * pl->span : pl->ntiles;
        for (int64_t tl = sp * pl->span; tl < t_end;) {
            const rr_tile *ti = &pl->tiles[tl];
            const uint16_t *m = (const uint16_t *)pl->masks + tl * pl->taps * 2;
            const float *src_c = pl->src + (ti->n * c->ic + g0) * pl->src_chan;
            float *dst_c = pl->dst + (ti->n * c->oc + g0) * c->oh * c->ow;
            const __mmask16 lv0 = (__mmask16)ti->lv, lv1 = (__mmask16)(ti->lv >> 16);
            if (rr_tile_two_block_piece(ti)) {
                const int64_t rows = rr_tile_row_run(pl, tl, t_end);
                dwrow_piece(pl, m, 0, src_c, w_c, dst_c, nc, ti->oh0, rows, ti->ow0, lv0, lv1, FW, 2);
                tl += rows;
                continue;
            }
            dwrow_piece(pl, m, 0, src_c, w_c, dst_c, nc, ti->oh0, 1, ti->ow0, lv0, 0, FW, 1);
            if (ti->two) dwrow_piece(pl, m, 1, src_c, w_c, dst_c, nc, ti->oh1, 1, ti->ow1, lv1, 0, FW, 1);
            tl++;
        }
    }
}

/* One function per width: each gets its own registers and stack frame. */
#define FW_FN(F)                                                                                       \
    static __attribute__((noinline)) void dwrow_fw##F(const rr_tile_plan *pl, int64_t begin, int64_t end) \
    {                                                                                                  \
        dwrow_items(pl, begin, end, F);                                                                \
    }
RR_DWROW_WIDTHS(FW_FN)

#define FW_CASE(F)                                                                                     \
    case F:                                                                                            \
        dwrow_fw##F(pl, begin, end);                                                                   \
        break;

void rr_fwd_dwrow_avx512(void *vpl, int64_t begin, int64_t end)
{
    const rr_tile_plan *pl = (const rr_tile_plan *)vpl;
    switch (pl->c.fw) {
        RR_DWROW_WIDTHS(FW_CASE)
    default: break; /* its applies() (forward.c) admits the widths above only */
    }
}
