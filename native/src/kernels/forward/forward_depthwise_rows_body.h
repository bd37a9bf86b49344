/*
 * forward_depthwise_rows_body.h -- the body of the forward row segment kernel (AVX-512), included once per
 * element type by forward_depthwise_rows__avx512.c (float32; its header comment explains the kernel),
 * forward_depthwise_rows_bf16__avx512.c, forward_depthwise_rows_bf16cvt__avx512.c (bfloat16: integer
 * rounding / vcvtneps2bf16 stores) and forward_depthwise_rows_f16__avx512.c. The includer defines
 *   DWROW_T                  the element type of src (float, or uint16_t bit patterns)
 *   DWROW_SEGMENTS_LOAD(seg, p, sg, ow0, NB, FULL, FW)  the row segment loader for it
 *                            (row_segments__avx512.h), widening to float; FW: the filter width
 *   DWROW_STORE(pl, dst, off, v, k, full)  stores 16 float sums (lanes k, all when full) as output
 *                            elements off.. of dst (pl->dst), rounded once to the output type
 *   DWROW_ENTRY              the name of the compute pass (rr_range_fn over the tile plan)
 * Weights are packed as float for every element type (forward.c widens them while packing); products
 * and sums are float32 FMAs in the same order for every type, so a half kernel gives the float32
 * kernel's sums of the widened data, rounded once when stored.
 */
#include "../common/tile_plan.h"
#include "../common/row_segments__avx512.h"


/* acc (lanes k) += win * the float at w, the weight broadcast from memory inside the FMA (a separate
 * vbroadcastss costs an FP pipe slot; measured on Zen 4: +20 % FMA rate in this loop's mix). */
#define DWROW_FMA_BCAST(acc, win, w, k) \
    __asm__("vfmadd231ps %2%{1to16%}, %1, %0%{%3%}" : "+v"(acc) : "v"(win), "m"(*(w)), "Yk"(k))

/*
 * One input row (column 0 at row) for a PAIR of output rows of a two-block piece, CBN channels: output
 * row 0 reads it with filter row kh0 (masks m0 = its tile's masks of that filter row, weights w0),
 * row 1 with kh0 - 1 (m1, w1); USE0 / USE1: which of them read it. Per tap the two windows of each
 * channel are cut once and feed both rows; each row's masks are loaded once for the CBN channels.
 */
RR_INLINE void dwrow_pair_row(const rr_tile_plan *pl, __m512 (*acc)[4][2], const DWROW_T *row, const uint16_t *m0,
                              const uint16_t *m1, const float *w0, const float *w1, const rr_segments *sg,
                              int64_t ow0, const int FW, const int FULL, const int CBN, const int USE0, const int USE1)
{
    const int CB = RR_DWROW_CB(FW);
    const int PW = (FW - 1) / 2;
    const int64_t chan = pl->src_chan;
RR_UNROLL
    for (int kw = 0; kw < FW; kw++) {
        __m512 win[4][2];
RR_UNROLL
        for (int q = 0; q < CBN; q++) {
            __m512 seg[4];
            DWROW_SEGMENTS_LOAD(seg, row + q * chan, sg, ow0, 2, FULL, FW);
            win[q][0] = rr_window(seg, 0, kw - PW);
            win[q][1] = rr_window(seg, 1, kw - PW);
        }
        if (USE0) {
            const __mmask16 ka = rr_load_mask(m0 + 2 * kw), kb = rr_load_mask(m0 + 2 * kw + 1);
RR_UNROLL
            for (int q = 0; q < CBN; q++) {
                DWROW_FMA_BCAST(acc[0][q][0], win[q][0], w0 + kw * CB + q, ka);
                DWROW_FMA_BCAST(acc[0][q][1], win[q][1], w0 + kw * CB + q, kb);
            }
        }
        if (USE1) {
            const __mmask16 ka = rr_load_mask(m1 + 2 * kw), kb = rr_load_mask(m1 + 2 * kw + 1);
RR_UNROLL
            for (int q = 0; q < CBN; q++) {
                DWROW_FMA_BCAST(acc[1][q][0], win[q][0], w1 + kw * CB + q, ka);
                DWROW_FMA_BCAST(acc[1][q][1], win[q][1], w1 + kw * CB + q, kb);
            }
        }
    }
}

/*
 * Output rows oh0 and oh0 + 1 of a two-block piece (stride_h 1, dil_h 1), CBN <= 4 channels: input
 * rows oh0 + khoff[0] .. + FH, each read once for both rows (dwrow_pair_row), so a window cut serves
 * two rows' FMAs. m: row oh0's tile masks (row oh0 + 1's follow). Per output element the taps run in
 * (kh, kw) order, as in dwrow_tile: the sums are its sums, bit for bit.
 */
RR_INLINE void dwrow_pair(const rr_tile_plan *pl, const uint16_t *m, const DWROW_T *src_c, const float *w_c,
                          void *dst, int64_t dst_c, int64_t oh0, int64_t ow0, __mmask16 lv0, __mmask16 lv1,
                          const rr_segments *sg, const int FW, const int FULL, const int CBN)
{
    const int CB = RR_DWROW_CB(FW);
    const rr_conv *c = &pl->c;
    const int64_t fh = c->fh, iw = c->iw, ihn = c->ih, ohw = c->oh * c->ow;
    const uint16_t *m1 = m + 2 * pl->taps;
    __m512 acc[2][4][2];
RR_UNROLL
    for (int q = 0; q < CBN; q++)
        for (int r = 0; r < 2; r++) acc[r][q][0] = acc[r][q][1] = _mm512_setzero_ps();
    for (int64_t j = 0; j <= fh; j++) { /* input row oh0 + khoff[0] + j: filter row j of row 0, j - 1 of row 1 */
        const int64_t ih = oh0 + pl->khoff[0] + j;
        if (ih < 0 || ih >= ihn) continue;
        const DWROW_T *row = src_c + ih * iw;
        /* filter row j of row 0 (none when j == fh), j - 1 of row 1 (none when j == 0) */
        const uint16_t *mk0 = m + 2 * FW * j, *mk1 = j > 0 ? m1 + 2 * FW * (j - 1) : mk0;
        const float *wk0 = w_c + FW * j * CB, *wk1 = j > 0 ? w_c + FW * (j - 1) * CB : wk0;
        if (j == 0)
            dwrow_pair_row(pl, acc, row, mk0, mk0, wk0, wk0, sg, ow0, FW, FULL, CBN, 1, 0);
        else if (j == fh)
            dwrow_pair_row(pl, acc, row, mk1, mk1, wk1, wk1, sg, ow0, FW, FULL, CBN, 0, 1);
        else
            dwrow_pair_row(pl, acc, row, mk0, mk1, wk0, wk1, sg, ow0, FW, FULL, CBN, 1, 1);
    }
RR_UNROLL
    for (int q = 0; q < CBN; q++) {
        for (int r = 0; r < 2; r++) {
            const int64_t dq = dst_c + q * ohw + (oh0 + r) * c->ow + ow0;
            DWROW_STORE(pl, dst, dq, acc[r][q][0], lv0, FULL);
            DWROW_STORE(pl, dst, dq + 16, acc[r][q][1], lv1, FULL);
        }
    }
}

/*
 * nrows row pieces (consecutive tiles): NB blocks from (oh0 + r, ow0) x CBN channels
 * (RR_DWROW_CB(FW), or 1 for each channel of a last, partial block), filter width FW. m: the first
 * tile's masks, [taps][2], this piece's first block at m[2 * t + mb]; lv0 / lv1: the blocks' real
 * lanes; src_c, dst_c: the first channel; w_c: its weights in the block's [taps][RR_DWROW_CB(FW)]
 * pack. FULL (rr_segments_init): 0 any columns, 1 whole segments, >= 2 whole segments with the
 * neighbours fixed at compile time (narrow filters, where those edge cases are most of the work).
 * Two-block pieces at stride_h 1, dil_h 1 run their rows in pairs (dwrow_pair) first; an odd last row
 * takes the loop below.
 */
RR_INLINE void dwrow_tile(const rr_tile_plan *pl, const uint16_t *m, int mb, const DWROW_T *src_c, const float *w_c,
                          void *dst, int64_t dst_c, int64_t oh0, int64_t nrows, int64_t ow0, __mmask16 lv0, __mmask16 lv1,
                          const int FW, const int NB, const int FULL, const int CBN)
{
    const int KC = RR_DWROW_KC(FW); /* a constant in each instantiation, <= RR_DWROW_KC_MAX */
    const int CB = RR_DWROW_CB(FW);
    const int PW = (FW - 1) / 2;
    const rr_conv *c = &pl->c;
    const int64_t fh = c->fh, iw = c->iw, ihn = c->ih, chan = pl->src_chan, ohw = c->oh * c->ow;
    rr_segments sg;
    rr_segments_init(&sg, ow0, iw, NB, FULL);
    if (NB == 2 && FW <= 13 && c->sh == 1 && c->dh == 1) /* pairs of rows, up to 4 channels at a time */
        for (; nrows >= 2; nrows -= 2, oh0 += 2, m += 4 * pl->taps)
RR_UNROLL
            for (int q0 = 0; q0 < CBN; q0 += 4)
                dwrow_pair(pl, m, src_c + q0 * chan, w_c + q0, dst, dst_c + q0 * ohw, oh0, ow0, lv0, lv1, &sg, FW,
                           FULL, CBN - q0 < 4 ? CBN - q0 : 4);
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
            const DWROW_T *row = src_c + ih * iw;
            const uint16_t *mk = m + 2 * FW * kh;
            const float *w_k = w_c + FW * kh * CB;
RR_UNROLL
            for (int k0 = 0; k0 < FW; k0 += KC) {
                __mmask16 ka[RR_DWROW_KC_MAX], kb[RR_DWROW_KC_MAX];
RR_UNROLL
                for (int u = 0; u < KC; u++) {
                    ka[u] = k0 + u < FW ? rr_load_mask(mk + 2 * (k0 + u) + mb) : 0;
                    kb[u] = k0 + u < FW && NB == 2 ? rr_load_mask(mk + 2 * (k0 + u) + 1) : 0;
                }
RR_UNROLL
                for (int q = 0; q < CBN; q++) {
                    const DWROW_T *p = row + q * chan;
                    __m512 seg[4];
                    DWROW_SEGMENTS_LOAD(seg, p, &sg, ow0, NB, FULL, FW);
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
            const int64_t dq = dst_c + q * ohw + oh * c->ow + ow0;
            /* FULL: the blocks are whole (OW == IW here), plain stores */
            DWROW_STORE(pl, dst, dq, acc[q][0], lv0, FULL);
            if (NB == 2) DWROW_STORE(pl, dst, dq + 16, acc[q][1], lv1, FULL);
        }
    }
}

/* A row piece (or a run of them) with the loader its columns allow; the channels of a partial last
 * block one at a time. */
RR_INLINE void dwrow_piece(const rr_tile_plan *pl, const uint16_t *m, int mb, const DWROW_T *src_c, const float *w_c,
                           void *dst, int64_t dst_c, int64_t nc, int64_t oh, int64_t nrows, int64_t ow0, __mmask16 lv0,
                           __mmask16 lv1, const int FW, const int NB)
{
    /* one-block pieces (odd blocks per row) take the general loader: fewer instantiations */
    const int kind = NB == 2 ? rr_segments_full_kind(ow0, pl->c.iw, NB) : 0;
    if (nc == RR_DWROW_CB(FW)) {
        if (kind == 0) {
            dwrow_tile(pl, m, mb, src_c, w_c, dst, dst_c, oh, nrows, ow0, lv0, lv1, FW, NB, 0, RR_DWROW_CB(FW));
        } else if (FW > 7) { /* wide filters: the neighbours' edge cases are a small part of the work */
            dwrow_tile(pl, m, mb, src_c, w_c, dst, dst_c, oh, nrows, ow0, lv0, lv1, FW, NB, 1, RR_DWROW_CB(FW));
        } else {
#define DWROW_KIND(K) dwrow_tile(pl, m, mb, src_c, w_c, dst, dst_c, oh, nrows, ow0, lv0, lv1, FW, NB, K, RR_DWROW_CB(FW))
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
        dwrow_tile(pl, m, mb, src_c + q * chan, w_c + q, dst, dst_c + q * ohw, oh, nrows, ow0, lv0, lv1, FW, NB, 0, 1);
}

/*
 * Items cb * nspans + span, like the direct depthwise kernel; one instantiation per FW. Consecutive
 * tiles that are two-block pieces of consecutive rows of one image at the same columns (every tile
 * of a 17..32 column image) run as one call, which sets up the segments once.
 */
RR_INLINE void dwrow_items(const rr_tile_plan *pl, int64_t begin, int64_t end, const int FW)
{
    const rr_conv *c = &pl->c;
    void *const dst = pl->dst;
    for (int64_t item = begin; item < end; item++) {
        const int64_t cbi = item / pl->nspans, sp = item % pl->nspans;
        const int64_t cb = RR_DWROW_CB(FW), g0 = cbi * cb, nc = c->groups - g0 < cb ? c->groups - g0 : cb;
        const float *w_c = pl->w + g0 * pl->taps;
        const int64_t t_end = (sp + 1) * pl->span < pl->ntiles ? (sp + 1) * pl->span : pl->ntiles;
        for (int64_t tl = sp * pl->span; tl < t_end;) {
            const rr_tile *ti = &pl->tiles[tl];
            const uint16_t *m = (const uint16_t *)pl->masks + tl * pl->taps * 2;
            const DWROW_T *src_c = (const DWROW_T *)(const void *)pl->src + (ti->n * c->ic + g0) * pl->src_chan;
            const int64_t dst_c = (ti->n * c->oc + g0) * c->oh * c->ow;
            const __mmask16 lv0 = (__mmask16)ti->lv, lv1 = (__mmask16)(ti->lv >> 16);
            if (rr_tile_two_block_piece(ti)) {
                const int64_t rows = rr_tile_row_run(pl, tl, t_end);
                dwrow_piece(pl, m, 0, src_c, w_c, dst, dst_c, nc, ti->oh0, rows, ti->ow0, lv0, lv1, FW, 2);
                tl += rows;
                continue;
            }
            dwrow_piece(pl, m, 0, src_c, w_c, dst, dst_c, nc, ti->oh0, 1, ti->ow0, lv0, 0, FW, 1);
            if (ti->two) dwrow_piece(pl, m, 1, src_c, w_c, dst, dst_c, nc, ti->oh1, 1, ti->ow1, lv1, 0, FW, 1);
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

void DWROW_ENTRY(void *vpl, int64_t begin, int64_t end)
{
    const rr_tile_plan *pl = (const rr_tile_plan *)vpl;
    switch (pl->c.fw) {
        RR_DWROW_WIDTHS(FW_CASE)
    default: break; /* its applies() (forward.c) admits the widths above only */
    }
}
