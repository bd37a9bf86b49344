/*
 * backward_filter_nhwc_body.h -- the channels-last (NHWC) backward-filter rows, written once over the
 * vector primitives of the file that includes it (backward_filter_nhwc__avx512.c, __avx2.c):
 *   BWN_W             lanes per vector
 *   bwn_vf, bwn_vm    float vector, lane mask
 *   bwn_lanes(n)      mask of the first n lanes (0 <= n <= BWN_W)
 *   bwn_loadm(m, p)   masked load (lanes off: zero, never read)
 *   bwn_load(p), bwn_store(p, v) (aligned), bwn_storeu(p, v), bwn_zero(), bwn_bcast(p), bwn_fma(a, b, acc),
 *   bwn_add(a, b)
 *   BWN_FN(name)      name with the ISA suffix
 *   BWN_CH_OB1, BWN_CH_OB2  output channels per channel tile with one / two vectors of input channels
 *   BWN_CH_OBMAX      the larger of the two
 *   BWN_CH_HALF       (optional) half of BWN_CH_OB1: a whole one-vector tile whose tap list is shorter
 *                     than BWN_CH_HALF_BELOW_NUM / _DEN of the batch's pixels runs as two tiles of this
 *                     many output channels (same sums, same order)
 *
 * The problem is normalized for an NHWC row: src [N, IH, IW, IC] and diff [N, OH, OW, OC] dense
 * channels-last, grad_filter [G, OCPG, ICPG, FH, FW] dense, int32 masks, cross-correlation. A tap
 * (kh, kw) of output pixel (n, oh, ow) is active when its input pixel (ih, iw) = (oh*sh - ph + kh*dh,
 * ow*sw - pw + kw*dw) is inside the image and rin[n, ih, iw] == rout[n, oh, ow]. Only active taps are
 * ever loaded or multiplied (a NaN or Inf at a skipped src element never reaches the gradient), so the
 * cost falls with the fraction of active taps. Which taps are active is found once per image batch
 * (about 1024 output pixels, so that a channel block's src and diff rows stay in the core's cache while
 * every tap runs over them) and shared by every channel: per tap, the list of its active (output
 * pixel, input pixel) pairs in (n, oh, ow) order (built branch-free, one pass per tap; on AVX-512 at
 * stride_w 1 sixteen columns per compare, the matches compressed).
 *
 *   depthwise (ICPG = OCPG = 1): an item is (a block of up to 4 vectors of channels, a tap); over the
 *     tap's list it adds src[input pixel, block] * diff[output pixel, block] into registers (two
 *     accumulators per vector, even and odd list entries, added at the end). Items of one channel
 *     block are consecutive (its slices stay cached from tap to tap).
 *   channels (ICPG > 1): an item is (group, tap, a block of output channels, a block of input
 *     channels), a small GEMM over the tap's list with the OB x NV-vector accumulator tile in
 *     registers: grad[oc][ic] += diff[pixel, oc] (broadcast) * src[input pixel, ic .. ic + NV*W).
 *
 * A first version that walked the pixels and added each active tap into an accumulator row in memory
 * was 3-7x slower than the NCHW rows on this project's AMD machine (store-to-load forwarding of the
 * 512-bit accumulators); two dense variants for DW-K3 (every tap under its mask: along rows with the
 * src window in registers, and all nine taps' accumulators in registers, each pixel once) were no
 * faster than the lists, the second 2-4x slower (1 thread, busy machine).
 *
 * Determinism: each filter element belongs to one item and is summed in a fixed order (image batch,
 * then the list: n, oh, ow; the depthwise rows' even/odd split is fixed too); image batches carry the
 * partial sums in the workspace. Results are the same bits for every thread count.
 */
#include "backward_filter_nhwc.h"
#include "../common/workspace.h"

#include <string.h>

#if defined(__clang__)
#define BWN_UNROLL _Pragma("unroll")
#else
#define BWN_UNROLL _Pragma("GCC unroll 16")
#endif

/* ---- the active-tap lists (both rows) ---------------------------------------------------------- */

#ifndef BWN_LIST_SLACK
#define BWN_LIST_SLACK 0 /* int32 a list's builder may write past its last entry */
#endif

/* Appends to list l (cnt entries so far) the columns ow in [lo, hi) of one output row whose tap
 * matches, rrow[ow*sw + off] == orow[ow] (rrow: the rin row), as (ob + ow, ib + ow*sw); returns the new
 * count. Branch-free: every column writes its entry, the count advances on a match (the list has room
 * for every pixel). */
static inline int64_t bwn_list_row(int32_t *l, int64_t cnt, const int32_t *rrow, int64_t off, const int32_t *orow,
                                   int64_t lo, int64_t hi, int64_t sw, int32_t ob, int32_t ib)
{
#ifdef BWN_LIST16
    /* stride 1: 16 columns per compare, the matches compressed (the ISA file's bwn_list16) */
    if (sw == 1) {
        int64_t ow = lo;
        for (; ow + 16 <= hi; ow += 16)
            cnt = bwn_list16(l, cnt, rrow + ow + off, orow + ow, ob + (int32_t)ow, ib + (int32_t)ow);
        lo = ow;
    }
#endif
    for (int64_t ow = lo; ow < hi; ow++) {
        l[2 * cnt] = ob + (int32_t)ow;
        l[2 * cnt + 1] = ib + (int32_t)(ow * sw);
        cnt += rrow[ow * sw + off] == orow[ow];
    }
    return cnt;
}

typedef struct bwn_ctx {
    const rr_conv *c;
    const float *src, *diff;
    const int32_t *rin, *rout;
    int32_t *lists;      /* [T][P][2]: batch-relative output pixel, input pixel, in (n, oh, ow) order */
    int64_t *counts;     /* [T] */
    int64_t P;           /* output pixels per batch (room per list) */
    int64_t lstride;     /* int32 per list: 2*P and the row builder's slack */
    int64_t n0, n1;      /* the image batch */
    int first, last;     /* first / last image batch */
    float *acc;          /* partial sums between batches (NULL with one batch) */
    float *out;
    /* depthwise: channels per block, blocks; channels: output / input channel blocks, padded ICPG */
    int64_t cb, ncb;
    int64_t ob, nob, icb, nib, icpad;
} bwn_ctx;

/* Item t: the list of tap t over the batch. */
static void BWN_FN(bwn_lists)(void *vctx, int64_t begin, int64_t end)
{
    const bwn_ctx *x = (const bwn_ctx *)vctx;
    const rr_conv *c = x->c;
    for (int64_t t = begin; t < end; t++) {
        const int64_t kh = t / c->fw, kw = t % c->fw;
        int32_t *l = x->lists + t * x->lstride;
        int64_t cnt = 0;
        /* ow with 0 <= ow*sw + off < IW */
        const int64_t off = kw * c->dw - c->pw;
        const int64_t lo = off >= 0 ? 0 : (-off + c->sw - 1) / c->sw;
        int64_t hi = c->iw - 1 - off < 0 ? 0 : (c->iw - 1 - off) / c->sw + 1;
        if (hi > c->ow) hi = c->ow;
        for (int64_t n = x->n0; n < x->n1; n++) {
            for (int64_t oh = 0; oh < c->oh; oh++) {
                const int64_t ih = oh * c->sh - c->ph + kh * c->dh;
                if (ih < 0 || ih >= c->ih || lo >= hi) continue;
                const int32_t *rrow = x->rin + (n * c->ih + ih) * c->iw;
                const int32_t *orow = x->rout + (n * c->oh + oh) * c->ow;
                const int32_t ob = (int32_t)(((n - x->n0) * c->oh + oh) * c->ow);
                const int32_t ib = (int32_t)(((n - x->n0) * c->ih + ih) * c->iw + off);
                cnt = bwn_list_row(l, cnt, rrow, off, orow, lo, hi, c->sw, ob, ib);
            }
        }
        x->counts[t] = cnt;
    }
}

/* ---- depthwise --------------------------------------------------------------------------------- */

#define BWN_DW_NV 4 /* vectors of channels per item at most */

/* One item: tap t, channels [c0, c0 + nc) in NV vectors (the last one nc's tail):
 * acc += src[input pixel, channels] * diff[output pixel, channels] over the tap's list. */
static inline __attribute__((always_inline)) void bwn_dw_item(const bwn_ctx *x, int64_t t, int64_t cbi, const int NV)
{
    const rr_conv *c = x->c;
    const int64_t C = c->groups, T = c->fh * c->fw, CB = x->cb;
    const int64_t c0 = cbi * CB, nc = C - c0 < CB ? C - c0 : CB;
    bwn_vm m[BWN_DW_NV];
BWN_UNROLL
    for (int v = 0; v < NV; v++) {
        const int64_t left = nc - (int64_t)v * BWN_W;
        m[v] = bwn_lanes(left >= BWN_W ? BWN_W : (int)left);
    }
    float *acc = x->acc != NULL ? x->acc + (cbi * T + t) * CB : NULL; /* one batch: unused */
    bwn_vf a[BWN_DW_NV], b[BWN_DW_NV];
BWN_UNROLL
    for (int v = 0; v < NV; v++) {
        a[v] = x->first ? bwn_zero() : bwn_load(acc + v * BWN_W);
        b[v] = bwn_zero();
    }
    const float *sb = x->src + x->n0 * c->ih * c->iw * C + c0;
    const float *db = x->diff + x->n0 * c->oh * c->ow * C + c0;
    const int32_t *l = x->lists + t * x->lstride;
    const int64_t cnt = x->counts[t];
    /* two accumulators per vector (even and odd list entries, added at the end, a fixed order): the
       FMA latency is hidden with one or two vectors too */
    int64_t i = 0;
    for (; i + 1 < cnt; i += 2) {
        const float *s0 = sb + (int64_t)l[2 * i + 1] * C, *d0 = db + (int64_t)l[2 * i] * C;
        const float *s1 = sb + (int64_t)l[2 * i + 3] * C, *d1 = db + (int64_t)l[2 * i + 2] * C;
BWN_UNROLL
        for (int v = 0; v < NV; v++) {
            a[v] = bwn_fma(bwn_loadm(m[v], s0 + v * BWN_W), bwn_loadm(m[v], d0 + v * BWN_W), a[v]);
            b[v] = bwn_fma(bwn_loadm(m[v], s1 + v * BWN_W), bwn_loadm(m[v], d1 + v * BWN_W), b[v]);
        }
    }
    if (i < cnt) {
        const float *s0 = sb + (int64_t)l[2 * i + 1] * C, *d0 = db + (int64_t)l[2 * i] * C;
BWN_UNROLL
        for (int v = 0; v < NV; v++)
            a[v] = bwn_fma(bwn_loadm(m[v], s0 + v * BWN_W), bwn_loadm(m[v], d0 + v * BWN_W), a[v]);
    }
BWN_UNROLL
    for (int v = 0; v < NV; v++) a[v] = bwn_add(a[v], b[v]);
    if (x->last) {
        float tmp[BWN_DW_NV * BWN_W];
BWN_UNROLL
        for (int v = 0; v < NV; v++) bwn_storeu(tmp + v * BWN_W, a[v]);
        for (int64_t j = 0; j < nc; j++) x->out[(c0 + j) * T + t] = tmp[j];
        return;
    }
BWN_UNROLL
    for (int v = 0; v < NV; v++) bwn_store(acc + v * BWN_W, a[v]);
}

/* Items cbi * T + t: consecutive items share a channel block (its src and diff slices stay cached). */
static void BWN_FN(bwn_dw_items)(void *vctx, int64_t begin, int64_t end)
{
    const bwn_ctx *x = (const bwn_ctx *)vctx;
    const int64_t C = x->c->groups, T = x->c->fh * x->c->fw;
    for (int64_t item = begin; item < end; item++) {
        const int64_t t = item % T, cbi = item / T;
        const int64_t nc = C - cbi * x->cb < x->cb ? C - cbi * x->cb : x->cb;
        switch ((nc + BWN_W - 1) / BWN_W) {
        case 1: bwn_dw_item(x, t, cbi, 1); break;
        case 2: bwn_dw_item(x, t, cbi, 2); break;
        case 3: bwn_dw_item(x, t, cbi, 3); break;
        default: bwn_dw_item(x, t, cbi, 4); break;
        }
    }
}

/* Per image batch the lists, then the items; scratch from one workspace. */
static rrconv_status BWN_FN(bwn_run)(const rr_problem *q, bwn_ctx *x, int64_t acc_floats, rr_range_fn items,
                                     int64_t n_items)
{
    const rr_conv *c = x->c;
    const int64_t T = c->fh * c->fw, batch = rr_bwf_nhwc_batch(c);
    x->P = batch * c->oh * c->ow;
    x->lstride = 2 * x->P + BWN_LIST_SLACK;
    rr_workspace ws;
    rr_ws_begin(&ws, q->op);
    x->counts = (int64_t *)rr_ws_alloc(&ws, T, sizeof(int64_t), "tap list lengths");
    x->lists = x->counts ? (int32_t *)rr_ws_alloc(&ws, T * x->lstride, sizeof(int32_t), "active pixel lists") : NULL;
    x->acc = x->lists != NULL && batch < c->n
                 ? (float *)rr_ws_alloc(&ws, acc_floats, sizeof(float), "filter gradient partial sums")
                 : NULL;
    if (x->lists == NULL || (batch < c->n && x->acc == NULL)) {
        rr_ws_end(&ws);
        return ws.status;
    }
    for (int64_t n0 = 0; n0 < c->n; n0 += batch) {
        x->n0 = n0;
        x->n1 = n0 + batch < c->n ? n0 + batch : c->n;
        x->first = n0 == 0;
        x->last = x->n1 == c->n;
        rr_parallel_for(T, BWN_FN(bwn_lists), x);
        rr_parallel_for(n_items, items, x);
    }
    rr_ws_end(&ws);
    return RRCONV_OK;
}

static void bwn_init(bwn_ctx *x, const rr_problem *q)
{
    memset(x, 0, sizeof *x);
    x->c = &q->c;
    x->src = (const float *)q->src.data;
    x->diff = (const float *)q->diff.data;
    x->rin = (const int32_t *)q->rin.data;
    x->rout = (const int32_t *)q->rout.data;
    x->out = q->out.data;
}

rrconv_status BWN_FN(rr_backward_filter_nhwc_depthwise)(const rr_problem *q)
{
    RR_ASSERT(rr_backward_filter_nhwc_depthwise_applies(&q->c));
    const rr_conv *c = &q->c;
    const int64_t C = c->groups, T = c->fh * c->fw;
    bwn_ctx x;
    bwn_init(&x, q);
    /* channel blocks of 4, 2 or 1 vectors: at least 8 items where the channels allow. Not a function
       of the thread count: the 1-, 2- and 4-vector loops may order an FMA's or add's operands
       differently, and where both are NaN the sign that comes out differs (seen with AVX2 on
       test_kernel_table --precision when the 2-thread call used blocks of 32 channels instead of 64) */
    x.cb = BWN_DW_NV * BWN_W;
    while (x.cb > BWN_W && T * ((C + x.cb - 1) / x.cb) < 8) x.cb /= 2;
    x.ncb = (C + x.cb - 1) / x.cb;
    return BWN_FN(bwn_run)(q, &x, x.ncb * T * x.cb, BWN_FN(bwn_dw_items), x.ncb * T);
}

/* ---- grouped and dense ------------------------------------------------------------------------- */

/* One tile: OB output channels (rows past noc repeat the last one and are never stored) x NV vectors
 * of input channels, over the list of tap t of group g. */
static inline __attribute__((always_inline)) void bwn_ch_tile(const bwn_ctx *x, int64_t g, int64_t t,
                                                                int64_t obi, int64_t ibi, const int OB, const int NV,
                                                                const int FULL, int64_t osub)
{
    const rr_conv *c = x->c;
    const int64_t IC = c->ic, OC = c->oc, T = c->fh * c->fw;
    const int64_t oc0 = obi * x->ob + osub, noc = c->ocpg - oc0 < OB ? c->ocpg - oc0 : OB;
    const int64_t ic0 = ibi * x->icb, nic = c->icpg - ic0 < x->icb ? c->icpg - ic0 : x->icb;
    bwn_vm m[2];
BWN_UNROLL
    for (int v = 0; v < NV; v++) {
        const int64_t left = nic - (int64_t)v * BWN_W;
        m[v] = bwn_lanes(left >= BWN_W ? BWN_W : left <= 0 ? 0 : (int)left); /* 0: no lane read */
    }
    const float *sb = x->src + x->n0 * c->ih * c->iw * IC + g * c->icpg + ic0;
    const float *db = x->diff + x->n0 * c->oh * c->ow * OC + g * c->ocpg + oc0;
    int64_t orow[BWN_CH_OBMAX];
BWN_UNROLL
    for (int o = 0; o < OB; o++) orow[o] = FULL || o < noc ? o : noc - 1; /* FULL: constant offsets */
    float *acc = x->acc != NULL ? x->acc + ((g * T + t) * c->ocpg + oc0) * x->icpad + ic0 : NULL; /* one batch: unused */
    bwn_vf a[BWN_CH_OBMAX][2];
BWN_UNROLL
    for (int o = 0; o < OB; o++)
BWN_UNROLL
        for (int v = 0; v < NV; v++)
            a[o][v] = x->first || o >= noc ? bwn_zero() : bwn_load(acc + o * x->icpad + v * BWN_W);
    const int32_t *l = x->lists + t * x->lstride;
    const int64_t cnt = x->counts[t];
    for (int64_t i = 0; i < cnt; i++) {
        const float *s = sb + (int64_t)l[2 * i + 1] * IC;
        const float *d = db + (int64_t)l[2 * i] * OC;
        bwn_vf sv[2];
BWN_UNROLL
        for (int v = 0; v < NV; v++) sv[v] = bwn_loadm(m[v], s + v * BWN_W);
BWN_UNROLL
        for (int o = 0; o < OB; o++) {
            const bwn_vf dv = bwn_bcast(d + orow[o]);
BWN_UNROLL
            for (int v = 0; v < NV; v++) a[o][v] = bwn_fma(dv, sv[v], a[o][v]);
        }
    }
    if (x->last) {
        float tmp[2 * BWN_W];
BWN_UNROLL
        for (int o = 0; o < OB; o++) {
            if (o >= noc) continue; /* full unrolling keeps a[][] in registers */
BWN_UNROLL
            for (int v = 0; v < NV; v++) bwn_storeu(tmp + v * BWN_W, a[o][v]);
            float *dst = x->out + ((g * c->ocpg + oc0 + o) * c->icpg + ic0) * T + t;
            for (int64_t j = 0; j < nic; j++) dst[j * T] = tmp[j];
        }
        return;
    }
BWN_UNROLL
    for (int o = 0; o < OB; o++) {
        if (o >= noc) continue;
BWN_UNROLL
        for (int v = 0; v < NV; v++) bwn_store(acc + o * x->icpad + v * BWN_W, a[o][v]);
    }
}

static void BWN_FN(bwn_ch_items)(void *vctx, int64_t begin, int64_t end)
{
    const bwn_ctx *x = (const bwn_ctx *)vctx;
    const int64_t T = x->c->fh * x->c->fw;
    for (int64_t item = begin; item < end; item++) {
        int64_t r = item;
        const int64_t ibi = r % x->nib;
        r /= x->nib;
        const int64_t obi = r % x->nob;
        r /= x->nob;
        const int64_t t = r % T, g = r / T;
        const int full = (obi + 1) * x->ob <= x->c->ocpg; /* a whole tile of output channels */
        if (x->icb > BWN_W) {
            if (full) bwn_ch_tile(x, g, t, obi, ibi, BWN_CH_OB2, 2, 1, 0);
            else bwn_ch_tile(x, g, t, obi, ibi, BWN_CH_OB2, 2, 0, 0);
        } else if (full) {
#ifdef BWN_CH_HALF
            /* a short list (sparse masks): two passes of half the output channels, whose lighter
               iterations keep more of the list's scattered loads in flight */
            if (x->counts[t] * BWN_CH_HALF_BELOW_DEN < BWN_CH_HALF_BELOW_NUM * x->P) {
                bwn_ch_tile(x, g, t, obi, ibi, BWN_CH_HALF, 1, 1, 0);
                bwn_ch_tile(x, g, t, obi, ibi, BWN_CH_HALF, 1, 1, BWN_CH_HALF);
                continue;
            }
#endif
            bwn_ch_tile(x, g, t, obi, ibi, BWN_CH_OB1, 1, 1, 0);
        } else {
            bwn_ch_tile(x, g, t, obi, ibi, BWN_CH_OB1, 1, 0, 0);
        }
    }
}

rrconv_status BWN_FN(rr_backward_filter_nhwc_channels)(const rr_problem *q)
{
    RR_ASSERT(rr_backward_filter_nhwc_channels_applies(&q->c));
    const rr_conv *c = &q->c;
    const int64_t T = c->fh * c->fw;
    bwn_ctx x;
    bwn_init(&x, q);
    /* tiles: up to 2 vectors of input channels; OB2 (or OB1 with one vector) output channels */
    x.icb = c->icpg > BWN_W ? 2 * BWN_W : BWN_W;
    x.ob = x.icb > BWN_W ? BWN_CH_OB2 : BWN_CH_OB1;
    x.nib = (c->icpg + x.icb - 1) / x.icb;
    x.nob = (c->ocpg + x.ob - 1) / x.ob;
    x.icpad = x.nib * x.icb;
    return BWN_FN(bwn_run)(q, &x, c->groups * T * c->ocpg * x.icpad, BWN_FN(bwn_ch_items),
                           c->groups * T * x.nob * x.nib);
}
