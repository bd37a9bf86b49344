/*
 * backward_filter_depthwise_rows_body.h -- the body of the filter-gradient row segment kernel (AVX-512),
 * included once per element type by backward_filter_depthwise_rows__avx512.c (float32; its header
 * comment explains the kernel), backward_filter_depthwise_rows_bf16__avx512.c and
 * backward_filter_depthwise_rows_f16__avx512.c. The includer defines
 *   BWF_T                       the element type of src and diff (float, or uint16_t bit patterns)
 *   BWF_SEGMENTS_LOAD           the row segment loader for it (row_segments__avx512.h)
 *   BWF_LOADU, BWF_MASKZ_LOADU  16 elements of diff as floats (all, or lanes k)
 *   BWF_PUT(pl, i, v)           stores the float sum v as element i of the gradient, rounded once
 *   BWF_ENTRY                   the name of the compute pass (rr_range_fn over the tile plan)
 * Partial sums (registers, gacc) are float for every type; the products and sums are the float32
 * kernel's on the widened data.
 */
#include "../common/tile_plan.h"
#include "../common/row_segments__avx512.h"


/*
 * nrows row pieces (consecutive tiles) of NB blocks from (oh0 + r, ow0) for CBN channels
 * (RR_BWF_DWROW_CB, or 1 for each channel of a last partial block) and FH filter rows;
 * acc[q][kh * 3 + kw]. m, mb, lv0, lv1 as in the forward kernel; src_c, diff_c: the first channel's
 * planes.
 */
RR_INLINE void bwf_piece(const rr_tile_plan *pl, const uint16_t *m, int mb, const BWF_T *src_c, const BWF_T *diff_c,
                         int64_t oh0, int64_t nrows, int64_t ow0, __mmask16 lv0, __mmask16 lv1, __m512 (*acc)[9],
                         const int FH, const int NB, const int FULL, const int CBN)
{
    const rr_conv *c = &pl->c;
    const int64_t iw = c->iw, ihn = c->ih, chan = pl->src_chan, ohw = c->oh * c->ow;
    rr_segments sg;
    rr_segments_init(&sg, ow0, iw, NB, FULL);
    for (int64_t oh = oh0; oh < oh0 + nrows; oh++, m += 2 * pl->taps) {
        __m512 d[RR_BWF_DWROW_CB][2];
RR_UNROLL
        for (int q = 0; q < CBN; q++) {
            const BWF_T *dq = diff_c + q * ohw + oh * c->ow + ow0;
            /* FULL: the blocks are whole (OW == IW here), plain loads */
            d[q][0] = FULL ? BWF_LOADU(dq) : BWF_MASKZ_LOADU(lv0, dq);
            d[q][1] = NB != 2 ? d[q][0] : FULL ? BWF_LOADU(dq + 16) : BWF_MASKZ_LOADU(lv1, dq + 16);
        }
RR_UNROLL
        for (int kh = 0; kh < FH; kh++) {
            const int64_t ih = oh * c->sh + pl->khoff[kh];
            if (ih < 0 || ih >= ihn) continue;
            const uint16_t *mk = m + 2 * 3 * kh;
            const __mmask16 a0 = mk[mb], b0 = mk[2 + mb], c0 = mk[4 + mb];
            const __mmask16 a1 = NB == 2 ? mk[1] : 0, b1 = NB == 2 ? mk[3] : 0, c1 = NB == 2 ? mk[5] : 0;
            const BWF_T *row = src_c + ih * iw;
RR_UNROLL
            for (int q = 0; q < CBN; q++) {
                __m512 seg[4];
                BWF_SEGMENTS_LOAD(seg, row + q * chan, &sg, ow0, NB, FULL);
                __m512 *a = acc[q] + 3 * kh;
                a[0] = _mm512_mask3_fmadd_ps(rr_window(seg, 0, -1), d[q][0], a[0], a0);
                a[1] = _mm512_mask3_fmadd_ps(seg[1], d[q][0], a[1], b0);
                a[2] = _mm512_mask3_fmadd_ps(rr_window(seg, 0, 1), d[q][0], a[2], c0);
                if (NB == 2) {
                    a[0] = _mm512_mask3_fmadd_ps(rr_window(seg, 1, -1), d[q][1], a[0], a1);
                    a[1] = _mm512_mask3_fmadd_ps(seg[2], d[q][1], a[1], b1);
                    a[2] = _mm512_mask3_fmadd_ps(rr_window(seg, 1, 1), d[q][1], a[2], c1);
                }
            }
        }
    }
}

RR_INLINE void bwf_piece_any(const rr_tile_plan *pl, const uint16_t *m, int mb, const BWF_T *src_c,
                             const BWF_T *diff_c, int64_t oh, int64_t nrows, int64_t ow0, __mmask16 lv0,
                             __mmask16 lv1, __m512 (*acc)[9], const int FH, const int NB, const int CBN)
{
    /* compile-time neighbours for the common case only: two-block pieces of whole channel blocks */
    if (NB == 1 || CBN == 1) {
        bwf_piece(pl, m, mb, src_c, diff_c, oh, nrows, ow0, lv0, lv1, acc, FH, NB, 0, CBN);
        return;
    }
    switch (rr_segments_full_kind(ow0, pl->c.iw, NB)) {
    case 2: bwf_piece(pl, m, mb, src_c, diff_c, oh, nrows, ow0, lv0, lv1, acc, FH, NB, 2, CBN); break;
    case 3: bwf_piece(pl, m, mb, src_c, diff_c, oh, nrows, ow0, lv0, lv1, acc, FH, NB, 3, CBN); break;
    case 4: bwf_piece(pl, m, mb, src_c, diff_c, oh, nrows, ow0, lv0, lv1, acc, FH, NB, 4, CBN); break;
    case 5: bwf_piece(pl, m, mb, src_c, diff_c, oh, nrows, ow0, lv0, lv1, acc, FH, NB, 5, CBN); break;
    default: bwf_piece(pl, m, mb, src_c, diff_c, oh, nrows, ow0, lv0, lv1, acc, FH, NB, 0, CBN); break;
    }
}

/* All tiles of the chunk for CBN channels from g0 (their partial sums at gacc). */
RR_INLINE void bwf_block(const rr_tile_plan *pl, int64_t g0, float *gacc, const int FH, const int CBN)
{
    const rr_conv *c = &pl->c;
    const int taps = 3 * FH;
    __m512 acc[RR_BWF_DWROW_CB][9];
RR_UNROLL
    for (int q = 0; q < CBN; q++)
RR_UNROLL
        for (int t = 0; t < taps; t++)
            acc[q][t] = pl->first_chunk ? _mm512_setzero_ps() : _mm512_load_ps(gacc + (q * 9 + t) * 16);
    for (int64_t tl = 0; tl < pl->ntiles;) {
        const rr_tile *ti = &pl->tiles[tl];
        const uint16_t *m = (const uint16_t *)pl->masks + tl * pl->taps * 2;
        const BWF_T *src_c = (const BWF_T *)(const void *)pl->src + (ti->n * c->ic + g0) * pl->src_chan;
        const BWF_T *diff_c = (const BWF_T *)(const void *)pl->diff + (ti->n * c->oc + g0) * c->oh * c->ow;
        const __mmask16 lv0 = (__mmask16)ti->lv, lv1 = (__mmask16)(ti->lv >> 16);
        if (rr_tile_two_block_piece(ti)) {
            /* consecutive rows of one image at the same columns run as one piece */
            const int64_t rows = rr_tile_row_run(pl, tl, pl->ntiles);
            bwf_piece_any(pl, m, 0, src_c, diff_c, ti->oh0, rows, ti->ow0, lv0, lv1, acc, FH, 2, CBN);
            tl += rows;
            continue;
        }
        bwf_piece_any(pl, m, 0, src_c, diff_c, ti->oh0, 1, ti->ow0, lv0, 0, acc, FH, 1, CBN);
        if (ti->two) bwf_piece_any(pl, m, 1, src_c, diff_c, ti->oh1, 1, ti->ow1, lv1, 0, acc, FH, 1, CBN);
        tl++;
    }
    if (pl->last_chunk) {
        /* the lanes in a fixed order (the reduction's shuffles), per channel and tap */
RR_UNROLL
        for (int q = 0; q < CBN; q++)
RR_UNROLL
            for (int t = 0; t < taps; t++) BWF_PUT(pl, (g0 + q) * taps + t, _mm512_reduce_add_ps(acc[q][t]));
        return;
    }
RR_UNROLL
    for (int q = 0; q < CBN; q++)
RR_UNROLL
        for (int t = 0; t < taps; t++) _mm512_store_ps(gacc + (q * 9 + t) * 16, acc[q][t]);
}

RR_INLINE void bwf_items(const rr_tile_plan *pl, int64_t begin, int64_t end, const int FH)
{
    const int64_t groups = pl->c.groups;
    for (int64_t item = begin; item < end; item++) {
        const int64_t g0 = item * RR_BWF_DWROW_CB;
        const int64_t nc = groups - g0 < RR_BWF_DWROW_CB ? groups - g0 : RR_BWF_DWROW_CB;
        float *gacc = pl->gacc != NULL ? pl->gacc + g0 * 9 * 16 : NULL; /* used unless one chunk */
        if (nc == RR_BWF_DWROW_CB) {
            bwf_block(pl, g0, gacc, FH, RR_BWF_DWROW_CB);
        } else {
            for (int64_t q = 0; q < nc; q++) bwf_block(pl, g0 + q, gacc != NULL ? gacc + q * 9 * 16 : NULL, FH, 1);
        }
    }
}

/* One function per filter height: each gets its own registers. */
#define BWF_FH(F)                                                                                      \
    static __attribute__((noinline)) void bwf_fh##F(const rr_tile_plan *pl, int64_t b, int64_t e)       \
    {                                                                                                  \
        bwf_items(pl, b, e, F);                                                                        \
    }
BWF_FH(1) BWF_FH(2) BWF_FH(3)

void BWF_ENTRY(void *vpl, int64_t begin, int64_t end)
{
    const rr_tile_plan *pl = (const rr_tile_plan *)vpl;
    switch (pl->c.fh) {
    case 1: bwf_fh1(pl, begin, end); break;
    case 2: bwf_fh2(pl, begin, end); break;
    case 3: bwf_fh3(pl, begin, end); break;
    default: break; /* its applies() (backward_filter.c) admits FH <= 3 only */
    }
}
