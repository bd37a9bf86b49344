/*
 * forward_rows__portable.c -- the portable forward kernel (common/portable.h): any groups, stride, dilation and
 * padding, on the normalized problem.
 *
 * Items: (image n, output row oh, block of groups). Per item the tap masks of the row are built once
 * and shared by the block's groups, and each input row a tap reads is copied once into a zero-padded
 * row split into stride phases, so that every tap reads a contiguous run of the padded row.
 *   OCPG == 1 (depthwise and the like): per vector of outputs, sum over icg and the active taps of
 *            select(input, mask) * weight.
 *   OCPG > 1: a panel of selected inputs (one row per input channel and active tap) times the
 *            weights of the group's output channels (rr_pt_gemm): every panel value serves OCPG outputs.
 * The masked-out lanes hold +0.0 before they meet a weight, so this needs finite weights: a filter
 * with a NaN or Inf runs the reference loop (rare, and the only data-dependent choice).
 * Per output element the sum runs over icg, then kh, then kw (ascending; inactive taps skipped).
 */
#define _POSIX_C_SOURCE 200809L

#include "../common/portable.h"

#include <stdlib.h>

/* Bytes of workspace per thread above which the reference loop runs instead (absurd geometries). */
#define FWD_PT_WS_MAX ((int64_t)64 << 20)
/* Multiply-adds per item that a block of groups aims at (depthwise: many channels share the masks). */
#define FWD_PT_GROUP_BLOCK_MACS 64
/* Groups whose input rows are padded before the first of them is computed: a row read straight
 * after the copy that wrote it stalls on store forwarding (unaligned loads across the copy's stores). */
#define FWD_PT_PAD_AHEAD 8
/* Vectors of outputs per step of the OCPG == 1 loop (accumulators in registers). */
#define FWD_PT_SINGLE_VECS 8

typedef struct fwd_pt {
    rr_conv c;
    rr_pt_geom g;
    const float *src;
    const int32_t *rin, *rout;
    float *dst;
    const float *w;   /* [G][OCPG][ICPG*FH*FW] */
    float *wt;        /* OCPG > 1: [G][ICPG*FH*FW][OCPG][4] (each weight splat, rr_pt_gemm) */
    int64_t gb, ngb;  /* groups per item, blocks per row */
    int64_t sb;       /* groups padded ahead (<= gb) */
    int64_t row_floats, taps;
    rr_pt_slots slots;
} fwd_pt;

/* Workspace layout of one slot. */
typedef struct fwd_ws {
    int32_t *m;      /* [taps][xp] */
    rr_pt_taps at;   /* [taps] each */
    int32_t *kidx;   /* [ICPG*taps] */
    float *rows;     /* [sb][ICPG][FH][row_floats] */
    float *panel;    /* OCPG > 1: [ICPG*taps][xp] */
} fwd_ws;

static int64_t ws_layout(const fwd_pt *f, unsigned char *base, fwd_ws *w)
{
    const rr_conv *c = &f->c;
    const int64_t xp = f->g.xp, t = f->taps;
    int64_t off = 0;
#define TAKE(field, type, count)                                                                   \
    do {                                                                                           \
        if (w != NULL) w->field = (type *)(void *)(base + off);                                    \
        off += rr_pt_round_up((int64_t)(count) * (int64_t)sizeof(type), 64);                      \
    } while (0)
    TAKE(m, int32_t, t * xp);
    TAKE(at.tap, int32_t, t);
    TAKE(at.x, int64_t, t);
    TAKE(at.m, int64_t, t);
    TAKE(kidx, int32_t, c->icpg * t);
    TAKE(rows, float, f->sb * c->icpg * c->fh * f->row_floats);
    TAKE(panel, float, c->ocpg > 1 ? c->icpg * t * xp : 1);
#undef TAKE
    return off;
}

/* Pads the input rows of output row oh for the ICPG channels starting at channel ic0 of image n. */
static void pad_rows(const fwd_pt *f, float *rows, int64_t n, int64_t ic0, int64_t oh)
{
    const rr_conv *c = &f->c;
    for (int64_t icg = 0; icg < c->icpg; icg++) {
        const float *plane = f->src + (n * c->ic + ic0 + icg) * c->ih * c->iw;
        for (int64_t kh = 0; kh < c->fh; kh++) {
            const int64_t ih = oh * c->sh + kh * c->dh - c->ph;
            if (ih < 0 || ih >= c->ih) continue; /* taps of this kh are inactive */
            rr_pt_pad_row(&f->g, plane + ih * c->iw, rows + (icg * c->fh + kh) * f->row_floats);
        }
    }
}

/* OCPG == 1: one output row of a group (rows: its padded input rows), up to 32 outputs per step. */
static void row_single(const fwd_pt *f, const fwd_ws *w, const float *rows, int64_t na, const float *wg, float *out)
{
    enum { V = FWD_PT_SINGLE_VECS };
    const rr_conv *c = &f->c;
    const int64_t xp = f->g.xp, ow = c->ow, T = f->taps;
    for (int64_t x0 = 0; x0 < xp; x0 += V * RR_PT_VL) {
        const int64_t nv = (xp - x0) / RR_PT_VL < V ? (xp - x0) / RR_PT_VL : V;
        rr_v4f acc[V];
        for (int v = 0; v < V; v++) acc[v] = rr_pt_splat(0.0f);
        for (int64_t icg = 0; icg < c->icpg; icg++) {
            const float *rc = rows + icg * c->fh * f->row_floats;
            const float *wc = wg + icg * T;
            for (int64_t i = 0; i < na; i++) {
                const float *xr = rc + w->at.x[i] + x0;
                const int32_t *mr = w->m + w->at.m[i] + x0;
                const rr_v4f wv = rr_pt_splat(wc[w->at.tap[i]]);
                if (nv == V) {
                    for (int v = 0; v < V; v++) {
                        acc[v] += rr_pt_select(rr_pt_load(xr + 4 * v), rr_pt_loadi(mr + 4 * v)) * wv;
                    }
                } else {
                    for (int64_t v = 0; v < nv; v++) {
                        acc[v] += rr_pt_select(rr_pt_load(xr + 4 * v), rr_pt_loadi(mr + 4 * v)) * wv;
                    }
                }
            }
        }
        for (int64_t v = 0; v < nv; v++) {
            const int64_t x = x0 + 4 * v;
            if (x + RR_PT_VL <= ow) rr_pt_store(out + x, acc[v]);
            else memcpy(out + x, &acc[v], (size_t)(ow - x) * sizeof(float));
        }
    }
}

/* OCPG > 1: the panel of selected inputs, then the product with the group's weights. */
static void row_panel(const fwd_pt *f, const fwd_ws *w, const float *rows, int64_t na, int64_t g, float *out)
{
    const rr_conv *c = &f->c;
    const int64_t xp = f->g.xp, T = f->taps;
    int64_t nk = 0;
    for (int64_t icg = 0; icg < c->icpg; icg++) {
        const float *rc = rows + icg * c->fh * f->row_floats;
        for (int64_t i = 0; i < na; i++) {
            const float *xr = rc + w->at.x[i];
            const int32_t *mr = w->m + w->at.m[i];
            float *b = w->panel + nk * xp;
            for (int64_t x = 0; x < xp; x += RR_PT_VL) {
                rr_pt_store(b + x, rr_pt_select(rr_pt_load(xr + x), rr_pt_loadi(mr + x)));
            }
            w->kidx[nk++] = (int32_t)(icg * T + w->at.tap[i]);
        }
    }
    rr_pt_gemm(c->ocpg, c->ow, nk, w->kidx, f->wt + g * c->icpg * T * c->ocpg * RR_PT_VL, c->ocpg, w->panel, xp, out,
               c->oh * c->ow);
}

static void fwd_slot(void *vctx, int64_t begin, int64_t end)
{
    const fwd_pt *f = (const fwd_pt *)vctx;
    const rr_conv *c = &f->c;
    for (int64_t slot = begin; slot < end; slot++) {
        fwd_ws w;
        ws_layout(f, f->slots.ws + slot * f->slots.ws_bytes, &w);
        int64_t i0, i1;
        rr_pt_slot_range(&f->slots, slot, &i0, &i1);
        for (int64_t item = i0; item < i1; item++) {
            const int64_t gblk = item % f->ngb, row = item / f->ngb, n = row / c->oh, oh = row % c->oh;
            const int64_t g0 = gblk * f->gb, g1 = g0 + f->gb < c->groups ? g0 + f->gb : c->groups;
            const int64_t na = rr_pt_row_masks(&f->g, oh, f->rin + n * c->ih * c->iw,
                                               f->rout + (n * c->oh + oh) * c->ow, w.m, &w.at);
            const int64_t group_rows = c->icpg * c->fh * f->row_floats;
            for (int64_t gs = g0; gs < g1; gs += f->sb) {
                const int64_t ge = gs + f->sb < g1 ? gs + f->sb : g1;
                if (na != 0) {
                    for (int64_t g = gs; g < ge; g++) pad_rows(f, w.rows + (g - gs) * group_rows, n, g * c->icpg, oh);
                }
                for (int64_t g = gs; g < ge; g++) {
                    float *out = f->dst + ((n * c->oc + g * c->ocpg) * c->oh + oh) * c->ow;
                    const float *rows = w.rows + (g - gs) * group_rows;
                    if (na == 0) {
                        for (int64_t o = 0; o < c->ocpg; o++) memset(out + o * c->oh * c->ow, 0, (size_t)c->ow * sizeof(float));
                    } else if (c->ocpg == 1) {
                        row_single(f, &w, rows, na, f->w + g * c->icpg * f->taps, out);
                    } else {
                        row_panel(f, &w, rows, na, g, out);
                    }
                }
            }
        }
    }
}

static double ws_estimate(const rr_conv *c)
{
    const double xp = (double)rr_pt_round_up(c->ow, RR_PT_VL), taps = (double)c->fh * (double)c->fw;
    const double row = (double)c->sw * (xp + (double)(c->fw - 1) * (double)c->dw / (double)c->sw + 1.0);
    return 4.0 * (taps * xp + 5.0 * taps + (double)c->icpg * taps +
                  (double)FWD_PT_PAD_AHEAD * (double)c->icpg * (double)c->fh * row +
                  (c->ocpg > 1 ? (double)c->icpg * taps * xp : 0.0)) + 7 * 64.0;
}

int rr_portable_forward_applies(const rr_conv *c)
{
    /* coordinates (products of sizes, strides, dilations, paddings) far from int64 limits */
    const int64_t lim = (int64_t)1 << 24;
    if (c->ih >= lim || c->iw >= lim || c->oh >= lim || c->ow >= lim || c->fh >= lim || c->fw >= lim ||
        c->sh >= lim || c->sw >= lim || c->dh >= lim || c->dw >= lim || c->ph >= lim || c->pw >= lim)
        return 0;
    /* a stride much wider than the image: padded rows would grow with the stride */
    if (c->sw > c->iw && c->sw > 64) return 0;
    return ws_estimate(c) <= (double)FWD_PT_WS_MAX;
}

/* The forward pass on a normalized problem whose padding may be negative (backward data at stride 1
 * maps onto it). */
rrconv_status rr_portable_forward(const rr_problem *p)
{
    const rr_conv *c = &p->c;
    const int64_t taps = c->fh * c->fw, K = c->icpg * taps;
    const float *w = (const float *)p->filter.data;
    if (!rr_pt_all_finite(w, c->groups * c->ocpg * K)) return rr_ref_forward(p);
    fwd_pt f;
    memset(&f, 0, sizeof f);
    f.c = *c;
    rr_pt_geom_init(&f.g, c->ih, c->iw, c->ow, c->fh, c->fw, c->sh, c->sw, c->dh, c->dw, c->ph, c->pw);
    f.src = (const float *)p->src.data;
    f.rin = (const int32_t *)p->rin.data;
    f.rout = (const int32_t *)p->rout.data;
    f.dst = p->out.data;
    f.w = w;
    f.taps = taps;
    f.row_floats = f.g.row_floats;
    const int64_t macs = c->icpg * c->ocpg;
    f.gb = macs >= FWD_PT_GROUP_BLOCK_MACS ? 1 : FWD_PT_GROUP_BLOCK_MACS / macs;
    if (f.gb > c->groups) f.gb = c->groups;
    f.ngb = (c->groups + f.gb - 1) / f.gb;
    f.sb = f.gb < FWD_PT_PAD_AHEAD ? f.gb : FWD_PT_PAD_AHEAD;
    const char *op = p->op != NULL ? p->op : "rrconv_forward_f32";
    rrconv_status st = rr_pt_slots_alloc(&f.slots, op, c->n * c->oh * f.ngb, ws_layout(&f, NULL, NULL));
    if (st != RRCONV_OK) return st;
    if (c->ocpg > 1) {
        f.wt = rr_pt_slots_floats(&f.slots, c->groups * c->ocpg * K * RR_PT_VL, "packed weights");
        if (f.wt == NULL) {
            st = f.slots.owner.status;
            rr_pt_slots_free(&f.slots);
            return st;
        }
        for (int64_t g = 0; g < c->groups; g++) {
            for (int64_t o = 0; o < c->ocpg; o++) {
                for (int64_t k = 0; k < K; k++) {
                    rr_pt_store(f.wt + ((g * K + k) * c->ocpg + o) * RR_PT_VL, rr_pt_splat(w[(g * c->ocpg + o) * K + k]));
                }
            }
        }
    }
    rr_parallel_for(f.slots.n_slots, fwd_slot, &f);
    rr_pt_slots_free(&f.slots);
    return RRCONV_OK;
}
