/*
 * backward_data_rows__portable.c -- the portable backward-data kernel (common/portable.h), on the normalized problem.
 *
 * Stride 1: grad_src is a forward correlation of diff with the filter transposed (ICPG <-> OCPG) and
 * mirrored, padding (F-1)*dil - pad, the masks' roles swapped (rin of the forward problem = rout):
 *   grad_src[ih][iw] = sum diff[ih + ph - kh*dh][iw + pw - kw*dw] * w[kh][kw], rout[oh][ow] == rin[ih][iw]
 * so the forward kernel runs it (forward/forward_rows__portable.c), on the mirrored filter in scratch.
 * Stride > 1: items (image n, row ih, group g); the row's columns in phases iw mod sw (in one phase
 * every column has the same taps: a tap reaches it when iw + pw - kw*dw is a multiple of sw). Per
 * phase a panel with one row per (ocg, kh, kw) tap that reaches some column of it (oh, ow whole and
 * inside, matching regions): the diff value where it does, +0.0 elsewhere; times the weights of the
 * group's input channels (rr_pt_gemm), scattered back to the phase's columns. Finite weights are required as in forward/forward_rows__portable.c (else the reference loop runs).
 * Per grad_src element the sum runs over ocg, then kh, then kw (ascending; inactive taps skipped).
 */
#define _POSIX_C_SOURCE 200809L

#include "../common/portable.h"

#include <stdlib.h>

#define BD_PT_WS_MAX ((int64_t)64 << 20)

typedef struct bd_pt {
    rr_conv c;
    const float *diff;
    const int32_t *rin, *rout;
    float *gsrc;
    const float *a;   /* [G][OCPG*FH*FW][ICPG][4] (each weight splat, rr_pt_gemm) */
    int64_t psw;      /* column phases: iw mod sw (at most IW) */
    int64_t xp, taps; /* xp: columns of the widest phase, rounded up to 4 */
    rr_pt_slots slots;
} bd_pt;

/* Workspace of a slot; the masks of the current row, all phases. */
typedef struct bd_ws {
    int32_t *m;      /* [psw][taps][xp]: lane active */
    int32_t *col;    /* [psw][taps][xp]: ow of the lane (when active) */
    int32_t *active; /* [psw][taps] */
    int64_t *oh_of;  /* [psw][taps]: the diff row of an active tap */
    int64_t *na;     /* [psw] */
    int32_t *kidx;   /* [OCPG*taps] */
    float *panel;    /* [OCPG*taps][xp] */
    float *tmp;      /* [ICPG][xp]: one phase of the output row */
} bd_ws;

static int64_t bd_ws_layout(const bd_pt *b, unsigned char *base, bd_ws *w)
{
    const int64_t xp = b->xp, t = b->taps, K = b->c.ocpg * t, P = b->psw;
    int64_t off = 0;
#define TAKE(field, type, count)                                                                   \
    do {                                                                                           \
        if (w != NULL) w->field = (type *)(void *)(base + off);                                    \
        off += rr_pt_round_up((int64_t)(count) * (int64_t)sizeof(type), 64);                      \
    } while (0)
    TAKE(m, int32_t, P * t * xp);
    TAKE(col, int32_t, P * t * xp);
    TAKE(active, int32_t, P * t);
    TAKE(oh_of, int64_t, P * t);
    TAKE(na, int64_t, P);
    TAKE(kidx, int32_t, K);
    TAKE(panel, float, K * xp);
    TAKE(tmp, float, b->c.icpg * xp);
#undef TAKE
    return off;
}

/* Masks of grad_src row ih of image n, column phase r (iw = r + j*sw): which (tap, j) pairs read a
 * diff element, and which column. Returns the number of active taps. */
static int64_t bd_phase_masks(const bd_pt *b, const bd_ws *w, int64_t n, int64_t ih, int64_t r)
{
    const rr_conv *c = &b->c;
    const int32_t *rin = b->rin + (n * c->ih + ih) * c->iw;
    const int64_t T = b->taps, xp = b->xp, nr = (c->iw - r + c->sw - 1) / c->sw;
    int32_t *active = w->active + r * T;
    int64_t *oh_of = w->oh_of + r * T;
    int64_t na = 0;
    for (int64_t kh = 0; kh < c->fh; kh++) {
        const int64_t th = ih + c->ph - kh * c->dh;
        if (th < 0 || th % c->sh != 0 || th / c->sh >= c->oh) continue;
        const int64_t oh = th / c->sh;
        const int32_t *rout = b->rout + (n * c->oh + oh) * c->ow;
        for (int64_t kw = 0; kw < c->fw; kw++) {
            /* every column of the phase has the same tw mod sw */
            const int64_t tw0 = r + c->pw - kw * c->dw;
            if (((tw0 % c->sw) + c->sw) % c->sw != 0) continue;
            const int64_t t = kh * c->fw + kw;
            int32_t *mr = w->m + (r * T + t) * xp, *cr = w->col + (r * T + t) * xp;
            int32_t any = 0;
            for (int64_t j = 0; j < nr; j++) {
                const int64_t tw = tw0 + j * c->sw;
                int32_t on = 0, ow = 0;
                if (tw >= 0 && tw / c->sw < c->ow) {
                    ow = (int32_t)(tw / c->sw);
                    on = -(int32_t)(rout[ow] == rin[r + j * c->sw]);
                }
                mr[j] = on;
                cr[j] = ow;
                any |= on;
            }
            if (any) {
                active[na] = (int32_t)t;
                oh_of[na] = oh;
                na++;
            }
        }
    }
    return na;
}

static void bd_slot(void *vctx, int64_t begin, int64_t end)
{
    const bd_pt *b = (const bd_pt *)vctx;
    const rr_conv *c = &b->c;
    const int64_t T = b->taps, xp = b->xp;
    for (int64_t slot = begin; slot < end; slot++) {
        bd_ws w;
        bd_ws_layout(b, b->slots.ws + slot * b->slots.ws_bytes, &w);
        int64_t i0, i1;
        rr_pt_slot_range(&b->slots, slot, &i0, &i1);
        int64_t prev_row = -1;
        for (int64_t item = i0; item < i1; item++) {
            const int64_t g = item % c->groups, row = item / c->groups, n = row / c->ih, ih = row % c->ih;
            if (row != prev_row) { /* consecutive items share the row's masks */
                for (int64_t r = 0; r < b->psw; r++) w.na[r] = bd_phase_masks(b, &w, n, ih, r);
                prev_row = row;
            }
            float *out = b->gsrc + ((n * c->ic + g * c->icpg) * c->ih + ih) * c->iw;
            for (int64_t r = 0; r < b->psw; r++) {
                const int64_t na = w.na[r], nr = (c->iw - r + c->sw - 1) / c->sw;
                if (na == 0) {
                    for (int64_t i = 0; i < c->icpg; i++) {
                        for (int64_t j = 0; j < nr; j++) out[i * c->ih * c->iw + r + j * c->sw] = 0.0f;
                    }
                    continue;
                }
                int64_t nk = 0;
                for (int64_t ocg = 0; ocg < c->ocpg; ocg++) {
                    const float *plane = b->diff + (n * c->oc + g * c->ocpg + ocg) * c->oh * c->ow;
                    for (int64_t i = 0; i < na; i++) {
                        const int64_t t = w.active[r * T + i];
                        const float *drow = plane + w.oh_of[r * T + i] * c->ow;
                        const int32_t *mr = w.m + (r * T + t) * xp, *cr = w.col + (r * T + t) * xp;
                        float *pr = w.panel + nk * xp;
                        for (int64_t j = 0; j < nr; j++) pr[j] = mr[j] ? drow[cr[j]] : 0.0f;
                        for (int64_t j = nr; j < xp; j++) pr[j] = 0.0f;
                        w.kidx[nk++] = (int32_t)(ocg * T + t);
                    }
                }
                rr_pt_gemm(c->icpg, nr, nk, w.kidx, b->a + g * c->ocpg * T * c->icpg * RR_PT_VL, c->icpg, w.panel,
                           xp, w.tmp, xp);
                for (int64_t i = 0; i < c->icpg; i++) {
                    for (int64_t j = 0; j < nr; j++) out[i * c->ih * c->iw + r + j * c->sw] = w.tmp[i * xp + j];
                }
            }
        }
    }
}

int rr_portable_backward_data_applies(const rr_conv *c)
{
    const int64_t lim = (int64_t)1 << 24;
    if (c->ih >= lim || c->iw >= lim || c->oh >= lim || c->ow >= lim || c->fh >= lim || c->fw >= lim ||
        c->sh >= lim || c->sw >= lim || c->dh >= lim || c->dw >= lim || c->ph >= lim || c->pw >= lim)
        return 0;
    if (c->sh == 1 && c->sw == 1) {
        rr_conv t = *c;
        t.ih = c->oh; t.iw = c->ow; t.oh = c->ih; t.ow = c->iw;
        t.icpg = c->ocpg; t.ocpg = c->icpg; t.ic = c->oc; t.oc = c->ic;
        t.ph = (c->fh - 1) * c->dh - c->ph;
        t.pw = (c->fw - 1) * c->dw - c->pw;
        return rr_portable_forward_applies(&t);
    }
    const double psw = (double)(c->sw < c->iw ? c->sw : c->iw);
    const double xp = (double)rr_pt_round_up((c->iw + c->sw - 1) / c->sw, RR_PT_VL), taps = (double)c->fh * (double)c->fw;
    const double bytes = 4.0 * (psw * (2.0 * taps * xp + 3.0 * taps + 2.0) + (double)c->ocpg * taps * (1.0 + xp) +
                                (double)c->icpg * xp) + 8 * 64.0;
    /* the mask pass costs IW * FH * FW per row, like the taps' multiply-adds of one channel pair */
    return bytes <= (double)BD_PT_WS_MAX && c->fh * c->fw <= 4096;
}

/* Stride 1: the forward kernel on the transposed, mirrored problem. */
static rrconv_status bd_as_forward(const rr_problem *p, const char *op)
{
    const rr_conv *c = &p->c;
    const int64_t taps = c->fh * c->fw;
    rr_workspace ws;
    rr_ws_begin(&ws, op);
    float *wf = (float *)rr_ws_alloc(&ws, c->groups * c->ocpg * c->icpg * taps, (int64_t)sizeof(float),
                                     "mirrored filter");
    if (wf == NULL) {
        const rrconv_status st = ws.status;
        rr_ws_end(&ws);
        return st;
    }
    const float *w = (const float *)p->filter.data;
    for (int64_t g = 0; g < c->groups; g++) {
        for (int64_t o = 0; o < c->ocpg; o++) {
            for (int64_t i = 0; i < c->icpg; i++) {
                const float *s = w + ((g * c->ocpg + o) * c->icpg + i) * taps;
                float *d = wf + ((g * c->icpg + i) * c->ocpg + o) * taps;
                for (int64_t t = 0; t < taps; t++) d[t] = s[taps - 1 - t];
            }
        }
    }
    rr_problem q = rr_adjoint_problem(p);
    q.filter.data = wf;
    const rrconv_status st = rr_portable_forward(&q);
    rr_ws_end(&ws);
    return st;
}

rrconv_status rr_portable_backward_data(const rr_problem *p)
{
    const rr_conv *c = &p->c;
    const int64_t taps = c->fh * c->fw, K = c->ocpg * taps;
    const char *op = p->op != NULL ? p->op : "rrconv_backward_data_f32";
    const float *w = (const float *)p->filter.data;
    if (!rr_pt_all_finite(w, c->groups * c->icpg * K)) return rr_ref_backward_data(p);
    if (c->sh == 1 && c->sw == 1) return bd_as_forward(p, op);
    bd_pt b;
    memset(&b, 0, sizeof b);
    b.c = *c;
    b.diff = (const float *)p->diff.data;
    b.rin = (const int32_t *)p->rin.data;
    b.rout = (const int32_t *)p->rout.data;
    b.gsrc = p->out.data;
    b.taps = taps;
    b.psw = c->sw < c->iw ? c->sw : c->iw;
    b.xp = rr_pt_round_up((c->iw + c->sw - 1) / c->sw, RR_PT_VL);
    rrconv_status st = rr_pt_slots_alloc(&b.slots, op, c->n * c->ih * c->groups, bd_ws_layout(&b, NULL, NULL));
    if (st != RRCONV_OK) return st;
    float *a = rr_pt_slots_floats(&b.slots, c->groups * K * c->icpg * RR_PT_VL, "packed weights");
    if (a == NULL) {
        st = b.slots.owner.status;
        rr_pt_slots_free(&b.slots);
        return st;
    }
    for (int64_t g = 0; g < c->groups; g++) {
        for (int64_t o = 0; o < c->ocpg; o++) {
            for (int64_t i = 0; i < c->icpg; i++) {
                const float *s = w + ((g * c->ocpg + o) * c->icpg + i) * taps;
                for (int64_t t = 0; t < taps; t++) rr_pt_store(a + ((g * K + o * taps + t) * c->icpg + i) * RR_PT_VL, rr_pt_splat(s[t]));
            }
        }
    }
    b.a = a;
    rr_parallel_for(b.slots.n_slots, bd_slot, &b);
    rr_pt_slots_free(&b.slots);
    return RRCONV_OK;
}
