/*
 * backward_filter_depthwise_small_nhwc_body.h -- the channels-last depthwise backward-filter row for
 * small filters (FW 3, 5 or 7), written once over the vector primitives of the file that includes it
 * (backward_filter_depthwise_small_nhwc__avx512.c, __avx2.c):
 *   BWS_W             lanes per vector
 *   BWS_NB            channel vectors per item at most (accumulators: taps of a group x vectors)
 *   BWS_NR3, BWS_NR5, BWS_NR7  filter rows per tap group for FW 3, 5, 7 (the group's accumulators fit
 *                     the vector registers)
 *   bws_vf            float vector; bws_lm lane mask; bws_tap the tap table's element, bws_tk its mask
 *   BWS_TAP_ON        the table's value of an active tap (0: inactive)
 *   bws_lanes(n)      mask of the first n lanes (1 <= n <= BWS_W)
 *   bws_tapmask(p)    the tap mask of table entry *p
 *   bws_load(p), bws_loadl(lm, p) (lanes off lm: zero, never read), bws_storeu(p, v)
 *   bws_fma_if(k, s, d, acc)  acc + s*d in the lanes of k, acc elsewhere (s*d never added there: a NaN
 *                     or Inf of an inactive tap never reaches the sum)
 *   BWS_FN(name)      name with the ISA suffix
 *
 * The problem is normalized for an NHWC row: src [N, IH, IW, C] and diff [N, OH, OW, C] dense
 * channels-last, grad_filter [C, FH, FW] dense, int32 masks, cross-correlation, depthwise. Tap (kh, kw)
 * of output pixel (n, oh, ow) is active when its input pixel (ih, iw) = (oh*sh - ph + kh*dh,
 * ow*sw - pw + kw*dw) is inside the image and rin[n, ih, iw] == rout[n, oh, ow].
 *
 * With 3x3 filters most taps are active under region masks (0.87 with superpixels, 0.34-0.41 with
 * random labels), and the per-tap pixel lists of backward_filter_nhwc_depthwise cost more than they
 * save there: one list entry feeds a single FMA. This row instead keeps a tap group's gradient
 * accumulators in registers (3x3: all nine taps, for two vectors of channels on AVX-512: 18 zmm) and
 * walks each output pixel once per group: diff loaded once, then per tap one masked FMA with the
 * input vector, the lane mask read from a table of tap masks (one entry per pixel and tap, built once
 * per batch of output rows and shared by every channel block). Branch-free: an inactive or
 * out-of-image tap is a masked-off FMA on a clamped (in-image) input address, so every load stays
 * inside src.
 *
 * At stride_w 1 and dil_w 1 (BWS_WINDOW, AVX-512) a block is one vector and the input vectors of a
 * filter row's taps slide along the output row in registers: one new input load per filter row and
 * pixel instead of one per tap.
 *
 * The cost does not fall with the active taps: when fewer than BWS_LIST_BELOW of the taps are active
 * (sampled over evenly spaced output rows before any table is built: rr_active_fraction) the call
 * runs backward_filter_nhwc_depthwise (the per-tap pixel lists) instead.
 *
 * Items: runs of channel blocks (about BWS_ITEM_CHANNELS contiguous channels, fewer where that
 * balances the threads: bws_blocks_per_item), in parallel; an item
 * walks the batch's output rows in (n, oh) order, on each row every block of the item over the row's
 * pixels (ow ascending) for each tap group, the accumulators loaded from and stored back to the
 * block's partial sums in the workspace. Each filter element is summed in that fixed order (a single
 * chain per element: batch, row, pixel) whatever the thread count, so the results are the same bits
 * for every thread count.
 */
#include "backward_filter_nhwc.h"
#include "../common/active_taps.h"
#include "../common/workspace.h"

#include <string.h>

#if defined(__clang__)
#define BWS_UNROLL _Pragma("unroll")
#else
#define BWS_UNROLL _Pragma("GCC unroll 32")
#endif

/* Tap table bytes per batch of output rows (at least one row). */
#define BWS_TABLE_BYTES ((int64_t)128 << 10)
/* Below this fraction of active taps (of the in-image taps, sampled: rr_active_fraction) the
 * call runs backward_filter_nhwc_depthwise's per-tap lists instead, whose cost falls with the active
 * taps. Measured (1 thread, DW-K3 4 x 384 x 32 x 32, busy machine, best of 200): this row 0.59 ms for
 * random and superpixel masks alike, the lists 0.44-0.45 ms random (0.33 of the taps active), 1.1-1.3
 * ms superpixel (0.82); DW-K7 likewise (lists 2.6-2.9 against 3.3-4.6 ms random, 4.6-4.8 against
 * 2.9-3.9 superpixel). */
#define BWS_LIST_BELOW 0.5

/* Output pixels the choice samples (whole output rows, evenly spaced): a fraction within about 0.01 of
 * the whole call's, at a small part of the cost of the tap table that an earlier version built for its
 * first batch of rows before choosing (8 % of a random-mask DW-K3 call that then ran the lists). */
#define BWS_SAMPLE_PIXELS 1024

/* Channels per item (blocks of one item share each pixel's contiguous channels). */
#define BWS_ITEM_CHANNELS 128

/* Blocks per item: about gb0 (BWS_ITEM_CHANNELS), but where the threads outnumber the items or the
 * items do not divide evenly among them, fewer, so that the item count is a multiple of the thread
 * count where the blocks allow (DW-K3 on AVX-512: 24 blocks of 16 channels, 3 items of 8 at one
 * thread, 4 of 6 at two, 6 of 4 at seven). An item's channels are summed alone, in the same order
 * whatever the split, so the split changes no bit of the result. */
static inline int64_t bws_blocks_per_item(int64_t ncb, int64_t gb0, int64_t threads)
{
    const int64_t items0 = (ncb + gb0 - 1) / gb0;
    if (threads <= 1 || items0 % threads == 0) return gb0;
    const int64_t want = (items0 + threads - 1) / threads * threads;
    return want >= ncb ? 1 : (ncb + want - 1) / want;
}

typedef struct bws_ctx {
    const rr_conv *c;
    const float *src, *diff;
    const int32_t *rin, *rout;
    bws_tap *taps;       /* [rows of the batch][OW][T] */
    const int64_t *coff; /* [OW][FW]: clamped input column * C */
    int64_t r0, r1;      /* the batch: global output rows r = n*OH + oh */
    int64_t cb, ncb;     /* channels per block, blocks */
    int64_t gb;          /* blocks per item */
    int win;             /* stride_w 1, dil_w 1 and the ISA has bws_group_win: one vector per block */
    float *acc;          /* [ncb][T][cb] the blocks' partial sums */
} bws_ctx;

/* Rows [begin, end) of the batch: their tap table. */
static void BWS_FN(bws_table)(void *vctx, int64_t begin, int64_t end)
{
    const bws_ctx *x = (const bws_ctx *)vctx;
    const rr_conv *c = x->c;
    const int64_t T = c->fh * c->fw;
    for (int64_t rr = begin; rr < end; rr++) {
        const int64_t r = x->r0 + rr, n = r / c->oh, oh = r % c->oh;
        bws_tap *tab = x->taps + rr * c->ow * T;
        const int32_t *orow = x->rout + r * c->ow;
        for (int64_t kh = 0; kh < c->fh; kh++) {
            const int64_t ih = oh * c->sh - c->ph + kh * c->dh;
            if (ih < 0 || ih >= c->ih) {
                for (int64_t ow = 0; ow < c->ow; ow++)
                    for (int64_t kw = 0; kw < c->fw; kw++) tab[ow * T + kh * c->fw + kw] = 0;
                continue;
            }
            const int32_t *irow = x->rin + (n * c->ih + ih) * c->iw;
            for (int64_t ow = 0; ow < c->ow; ow++) {
                const int32_t o = orow[ow];
                const int64_t iw0 = ow * c->sw - c->pw;
                for (int64_t kw = 0; kw < c->fw; kw++) {
                    const int64_t iw = iw0 + kw * c->dw;
                    const int on = iw >= 0 && iw < c->iw && irow[iw] == o;
                    tab[ow * T + kh * c->fw + kw] = on ? (bws_tap)BWS_TAP_ON : (bws_tap)0;
                }
            }
        }
    }
}

/* One tap group of channel block cbi on output row r: filter rows [kh0, kh0 + NR) of an FW-wide
 * filter, NV vectors of channels (TAIL: the last vector partial). The accumulators a[tap][vector] come
 * from the block's partial sums and go back to them. */
static inline __attribute__((always_inline)) void bws_group(const bws_ctx *x, int64_t cbi, int64_t r, int64_t kh0,
                                                             const int FW, const int NR, const int NV, const int TAIL)
{
    const rr_conv *c = x->c;
    const int64_t C = c->groups, T = c->fh * FW, CB = x->cb;
    const int64_t c0 = cbi * CB, nc = C - c0 < CB ? C - c0 : CB;
    const bws_lm lm = bws_lanes(TAIL ? (int)(nc - (int64_t)(NV - 1) * BWS_W) : BWS_W);
    float *acc = x->acc + (cbi * T + kh0 * FW) * CB;
    bws_vf a[7 * 3][BWS_NB];
BWS_UNROLL
    for (int j = 0; j < NR * FW; j++)
BWS_UNROLL
        for (int v = 0; v < NV; v++) a[j][v] = bws_load(acc + j * CB + v * BWS_W);
    const int64_t n = r / c->oh, oh = r % c->oh;
    const float *srow[3];
BWS_UNROLL
    for (int j = 0; j < NR; j++) {
        int64_t ih = oh * c->sh - c->ph + (kh0 + j) * c->dh;
        ih = ih < 0 ? 0 : ih >= c->ih ? c->ih - 1 : ih; /* an out-of-image row: its taps are off */
        srow[j] = x->src + ((n * c->ih + ih) * c->iw) * C + c0;
    }
    const float *drow = x->diff + r * c->ow * C + c0;
    const bws_tap *tab = x->taps + (r - x->r0) * c->ow * T + kh0 * FW;
    const int64_t *co = x->coff;
    for (int64_t ow = 0; ow < c->ow; ow++, drow += C, tab += T, co += FW) {
        bws_vf d[BWS_NB];
BWS_UNROLL
        for (int v = 0; v < NV; v++)
            d[v] = TAIL && v == NV - 1 ? bws_loadl(lm, drow + v * BWS_W) : bws_load(drow + v * BWS_W);
BWS_UNROLL
        for (int j = 0; j < NR; j++)
BWS_UNROLL
            for (int kw = 0; kw < FW; kw++) {
                const bws_tk k = bws_tapmask(tab + j * FW + kw);
                const float *s = srow[j] + co[kw];
BWS_UNROLL
                for (int v = 0; v < NV; v++) {
                    const bws_vf sv =
                        TAIL && v == NV - 1 ? bws_loadl(lm, s + v * BWS_W) : bws_load(s + v * BWS_W);
                    a[j * FW + kw][v] = bws_fma_if(k, sv, d[v], a[j * FW + kw][v]);
                }
            }
    }
BWS_UNROLL
    for (int j = 0; j < NR * FW; j++)
BWS_UNROLL
        for (int v = 0; v < NV; v++) bws_storeu(acc + j * CB + v * BWS_W, a[j][v]);
}

#ifdef BWS_WINDOW
/* bws_group at stride_w 1, dil_w 1 on one vector of channels: the input vectors of each filter row's FW
 * taps form a window sliding along the row in registers, so each output pixel loads one new input
 * vector per filter row (not one per tap). */
static inline __attribute__((always_inline)) void bws_group_win(const bws_ctx *x, int64_t cbi, int64_t r, int64_t kh0,
                                                                 const int FW, const int NR, const int TAIL,
                                                                 int64_t pfs, int64_t pfd)
{
    const rr_conv *c = x->c;
    const int64_t C = c->groups, T = c->fh * FW, CB = x->cb;
    const int64_t c0 = cbi * CB, nc = C - c0 < CB ? C - c0 : CB;
    const bws_lm lm = bws_lanes(TAIL ? (int)nc : BWS_W);
    float *acc = x->acc + (cbi * T + kh0 * FW) * CB;
    bws_vf a[BWS_WIN_TAPS], w[BWS_WIN_TAPS];
BWS_UNROLL
    for (int j = 0; j < NR * FW; j++) a[j] = bws_load(acc + j * CB);
    const int64_t n = r / c->oh, oh = r % c->oh;
    const float *srow[BWS_WIN_TAPS];
BWS_UNROLL
    for (int j = 0; j < NR; j++) {
        int64_t ih = oh * c->sh - c->ph + (kh0 + j) * c->dh;
        ih = ih < 0 ? 0 : ih >= c->ih ? c->ih - 1 : ih; /* an out-of-image row: its taps are off */
        srow[j] = x->src + ((n * c->ih + ih) * c->iw) * C + c0;
    }
    /* the window of pixel 0 but its last column */
BWS_UNROLL
    for (int j = 0; j < NR; j++)
BWS_UNROLL
        for (int kw = 0; kw + 1 < FW; kw++)
            w[j * FW + kw] = TAIL ? bws_loadl(lm, srow[j] + x->coff[kw]) : bws_load(srow[j] + x->coff[kw]);
    const float *drow = x->diff + r * c->ow * C + c0;
    const bws_tap *tab = x->taps + (r - x->r0) * c->ow * T + kh0 * FW;
    const int64_t *co = x->coff + FW - 1; /* pixel ow's last column */
    for (int64_t ow = 0; ow < c->ow; ow++, drow += C, tab += T, co += FW) {
        const bws_vf d = TAIL ? bws_loadl(lm, drow) : bws_load(drow);
        /* the next output row's new input and diff at this pixel (a hint, never a read) */
        _mm_prefetch((const char *)(srow[NR - 1] + *co + pfs), _MM_HINT_T0);
        _mm_prefetch((const char *)(drow + pfd), _MM_HINT_T0);
BWS_UNROLL
        for (int j = 0; j < NR; j++) {
            w[j * FW + FW - 1] = TAIL ? bws_loadl(lm, srow[j] + *co) : bws_load(srow[j] + *co);
BWS_UNROLL
            for (int kw = 0; kw < FW; kw++)
                a[j * FW + kw] = bws_fma_if(bws_tapmask(tab + j * FW + kw), w[j * FW + kw], d, a[j * FW + kw]);
BWS_UNROLL
            for (int kw = 0; kw + 1 < FW; kw++) w[j * FW + kw] = w[j * FW + kw + 1];
        }
    }
BWS_UNROLL
    for (int j = 0; j < NR * FW; j++) bws_storeu(acc + j * CB, a[j]);
}

#define BWS_GROUPS_WIN(FW, NRMAX, TAIL)                                                              \
    do {                                                                                             \
        int64_t kh0 = 0;                                                                             \
        for (; kh0 + (NRMAX) <= c->fh; kh0 += (NRMAX)) bws_group_win(x, cbi, r, kh0, FW, NRMAX, TAIL, pfs, pfd); \
        switch (c->fh - kh0) {                                                                       \
        case 1: bws_group_win(x, cbi, r, kh0, FW, 1, TAIL, pfs, pfd); break;                                   \
        case 2: if ((NRMAX) > 2) bws_group_win(x, cbi, r, kh0, FW, 2, TAIL, pfs, pfd); break;                  \
        default: break;                                                                              \
        }                                                                                            \
    } while (0)

static inline __attribute__((always_inline)) void bws_block_row_win(const bws_ctx *x, int64_t cbi, int64_t r,
                                                                     const int TAIL, int64_t pfs, int64_t pfd)
{
    const rr_conv *c = x->c;
    switch (c->fw) {
    case 3: BWS_GROUPS_WIN(3, BWS_NR3, TAIL); break;
    case 5: BWS_GROUPS_WIN(5, BWS_NR5, TAIL); break;
    default: BWS_GROUPS_WIN(7, BWS_NR7, TAIL); break;
    }
}
#endif

/* The tap groups of block cbi on row r for a compile-time filter width: groups of NRMAX filter rows,
 * the last one what is left. */
#define BWS_GROUPS(FW, NRMAX, NV, TAIL)                                                              \
    do {                                                                                             \
        int64_t kh0 = 0;                                                                             \
        for (; kh0 + (NRMAX) <= c->fh; kh0 += (NRMAX)) bws_group(x, cbi, r, kh0, FW, NRMAX, NV, TAIL); \
        switch (c->fh - kh0) {                                                                       \
        case 1: bws_group(x, cbi, r, kh0, FW, 1, NV, TAIL); break;                                   \
        case 2: if ((NRMAX) > 2) bws_group(x, cbi, r, kh0, FW, 2, NV, TAIL); break;                  \
        default: break;                                                                              \
        }                                                                                            \
    } while (0)

static inline __attribute__((always_inline)) void bws_block_row(const bws_ctx *x, int64_t cbi, int64_t r,
                                                                 const int NV, const int TAIL)
{
    const rr_conv *c = x->c;
    switch (c->fw) {
    case 3: BWS_GROUPS(3, BWS_NR3, NV, TAIL); break;
    case 5: BWS_GROUPS(5, BWS_NR5, NV, TAIL); break;
    default: BWS_GROUPS(7, BWS_NR7, NV, TAIL); break;
    }
}

/* Item i: channel blocks [i*gb, (i+1)*gb) over the batch's rows, row by row (each row's pixels are read
 * once for all the item's blocks, contiguous channels). */
static void BWS_FN(bws_items)(void *vctx, int64_t begin, int64_t end)
{
    const bws_ctx *x = (const bws_ctx *)vctx;
    const int64_t C = x->c->groups;
    for (int64_t i = begin; i < end; i++) {
        const int64_t b0 = i * x->gb, b1 = b0 + x->gb < x->ncb ? b0 + x->gb : x->ncb;
        for (int64_t r = x->r0; r < x->r1; r++)
            for (int64_t cbi = b0; cbi < b1; cbi++) {
                const int64_t nc = C - cbi * x->cb < x->cb ? C - cbi * x->cb : x->cb;
                const int tail = nc % BWS_W != 0;
#ifdef BWS_WINDOW
                if (x->win) {
                    /* prefetch offsets (floats): this block's data for the next output row (its new
                       input row, stride_h rows down, and its diff row), eight blocks of work ahead;
                       none on the batch's last row */
                    const int next = r + 1 < x->r1;
                    const int64_t pfs = next ? x->c->sh * x->c->iw * C : 0, pfd = next ? x->c->ow * C : 0;
                    if (tail) bws_block_row_win(x, cbi, r, 1, pfs, pfd);
                    else bws_block_row_win(x, cbi, r, 0, pfs, pfd);
                    continue;
                }
#endif
#if BWS_NB > 1
                if ((nc + BWS_W - 1) / BWS_W == 2) {
                    if (tail) bws_block_row(x, cbi, r, 2, 1);
                    else bws_block_row(x, cbi, r, 2, 0);
                    continue;
                }
#endif
                if (tail) bws_block_row(x, cbi, r, 1, 1);
                else bws_block_row(x, cbi, r, 1, 0);
            }
    }
}

rrconv_status BWS_FN(rr_backward_filter_depthwise_small_nhwc)(const rr_problem *q)
{
    RR_ASSERT(rr_backward_filter_depthwise_small_nhwc_applies(&q->c));
    const rr_conv *c = &q->c;
    const int64_t C = c->groups, T = c->fh * c->fw, rows = c->n * c->oh;
    bws_ctx x;
    memset(&x, 0, sizeof x);
    x.c = c;
    x.src = (const float *)q->src.data;
    x.diff = (const float *)q->diff.data;
    x.rin = (const int32_t *)q->rin.data;
    x.rout = (const int32_t *)q->rout.data;
    /* blocks of BWS_NB vectors while that leaves at least 4 of them, else one vector; items of about
       BWS_ITEM_CHANNELS contiguous channels */
#ifdef BWS_WINDOW
    x.win = c->sw == 1 && c->dw == 1;
#endif
    x.cb = (int64_t)BWS_NB * BWS_W;
    if (x.win || (C + x.cb - 1) / x.cb < 4) x.cb = BWS_W;
    x.ncb = (C + x.cb - 1) / x.cb;
    x.gb = bws_blocks_per_item(x.ncb, BWS_ITEM_CHANNELS / x.cb > 1 ? BWS_ITEM_CHANNELS / x.cb : 1,
                               rrconv_get_num_threads());
    const int64_t items = (x.ncb + x.gb - 1) / x.gb;
    int64_t batch = BWS_TABLE_BYTES / (c->ow * T * (int64_t)sizeof(bws_tap));
    if (batch < 1) batch = 1;
    if (batch > rows) batch = rows;

    /* sparse masks: the per-tap pixel lists cost less */
    const double active = rr_active_fraction(c, x.rin, x.rout, BWS_SAMPLE_PIXELS);
    if (active < BWS_LIST_BELOW) {
        rr_note(q, "ran:%s active:%.2f<%.2f", BWS_LIST_ROW, active, BWS_LIST_BELOW);
        return BWS_FN(rr_backward_filter_nhwc_depthwise)(q);
    }

    rr_workspace ws;
    rr_ws_begin(&ws, q->op);
    int64_t *coff = (int64_t *)rr_ws_alloc(&ws, c->ow * c->fw, sizeof(int64_t), "clamped input columns");
    x.taps = coff ? (bws_tap *)rr_ws_alloc(&ws, batch * c->ow * T, sizeof(bws_tap), "tap masks") : NULL;
    x.acc = x.taps ? (float *)rr_ws_calloc(&ws, x.ncb * T * x.cb, sizeof(float), "filter gradient partial sums")
                     : NULL;
    if (x.acc == NULL) {
        rr_ws_end(&ws);
        return ws.status;
    }
    for (int64_t ow = 0; ow < c->ow; ow++)
        for (int64_t kw = 0; kw < c->fw; kw++) {
            int64_t iw = ow * c->sw - c->pw + kw * c->dw;
            iw = iw < 0 ? 0 : iw >= c->iw ? c->iw - 1 : iw;
            coff[ow * c->fw + kw] = iw * C;
        }
    x.coff = coff;
    for (int64_t r0 = 0; r0 < rows; r0 += batch) {
        x.r0 = r0;
        x.r1 = r0 + batch < rows ? r0 + batch : rows;
        rr_parallel_for(x.r1 - x.r0, BWS_FN(bws_table), &x);
        rr_parallel_for(items, BWS_FN(bws_items), &x);
    }
    /* [block][tap][lane] -> [channel][tap] */
    float *out = q->out.data;
    for (int64_t ch = 0; ch < C; ch++)
        for (int64_t t = 0; t < T; t++) out[ch * T + t] = x.acc[((ch / x.cb) * T + t) * x.cb + ch % x.cb];
    rr_ws_end(&ws);
    return RRCONV_OK;
}
