/*
 * depthwise_small_nhwc.c -- applies() and entries of the small-filter channels-last depthwise rows
 * (forward_depthwise_small_nhwc__<isa>, backward_data_depthwise_small_nhwc__<isa>; the loops are in
 * depthwise_small_nhwc_body.h, the scheme in depthwise_small_nhwc.h): the entries describe the
 * direction as one correlation, hand masks with few active taps to the tap-list rows (DWS_MIN_ACTIVE),
 * else pack the filter (flipped for backward data) and run the items.
 */
#include "depthwise_small_nhwc.h"
#include "active_taps.h"
#include "workspace.h"

/* Filters up to this many taps (7x7; the per-item tap table holds RR_DWS_MAX_TAPS). */
#define DWS_APPLIES_MAX_TAPS 49

static int dws_fits(const rr_conv *c)
{
    return c->layout == RR_LAYOUT_NHWC && c->icpg == 1 && c->ocpg == 1 && c->fh * c->fw <= DWS_APPLIES_MAX_TAPS;
}

int rr_forward_depthwise_small_nhwc_applies(const rr_conv *c)
{
    return dws_fits(c);
}

int rr_backward_data_depthwise_small_nhwc_applies(const rr_conv *c)
{
    return dws_fits(c) && c->sh == 1 && c->sw == 1;
}

#if RRCONV_X86_KERNELS

/*
 * These loops spend an FMA on every tap, active or not; the tap-list rows (forward_nhwc_depthwise__*,
 * backward_data_nhwc_depthwise__*) only on the active ones, but at a higher cost each. Below this
 * fraction of active in-image taps the entries hand the problem to the tap-list row. Measured (DW-K3,
 * 1 thread, busy 2-core machine, rough, ms): random masks (0.37 active) tap-list 0.54-1.3 against
 * 0.53-1.4 here (either faster, round to round); superpixel masks (0.87) forward 1.9-2.1 against
 * 0.77-1.0 here, blocky 1.7-2.2 against 0.65-1.2; DW-K7 superpixel (0.68) about level.
 */
#define DWS_MIN_ACTIVE 0.5

/* Output pixels the choice samples (rr_active_fraction; scalar compares, a small fraction of the FMAs
 * that follow: 4096 pixels, all of DW-K3's, were 2 % of a random-mask DW-K3 call in perf, the tap-list
 * row included; 1024 give the fraction within about 0.01). Backward data samples the forward's pairs
 * of pixels: the same pairs. */
#define DWS_SAMPLE_PIXELS 1024

/* Runs fn over the items of p (forward, or backward data when backward), or (few active taps) the
 * tap-list row's entry `sparse` (named sparse_name in RRCONV_VERBOSE's note). */
static rrconv_status dws_run(const rr_problem *p, int backward, rr_range_fn fn, rr_kernel_fn sparse,
                             const char *sparse_name)
{
    const rr_conv *c = &p->c;
    RR_ASSERT(c->layout == RR_LAYOUT_NHWC && c->mode == RRCONV_CROSS_CORRELATION &&
              c->mask_type == RRCONV_MASK_INT32 && c->fh * c->fw <= RR_DWS_MAX_TAPS);
    const int64_t taps = c->fh * c->fw;
    rr_dws_job x;
    x.c = c->groups;
    x.cp = (x.c + 15) / 16 * 16;
    x.fh = c->fh;
    x.fw = c->fw;
    x.dy = c->dh;
    x.dx = c->dw;
    if (!backward) {
        x.src = (const float *)p->src.data;
        x.msrc = (const int32_t *)p->rin.data;
        x.mout = (const int32_t *)p->rout.data;
        x.sh = c->ih;
        x.sw = c->iw;
        x.oh = c->oh;
        x.ow = c->ow;
        x.sy = c->sh;
        x.sx = c->sw;
        x.py = c->ph;
        x.px = c->pw;
    } else {
        RR_ASSERT(c->sh == 1 && c->sw == 1);
        x.src = (const float *)p->diff.data;
        x.msrc = (const int32_t *)p->rout.data;
        x.mout = (const int32_t *)p->rin.data;
        x.sh = c->oh;
        x.sw = c->ow;
        x.oh = c->ih;
        x.ow = c->iw;
        x.sy = 1;
        x.sx = 1;
        x.py = (c->fh - 1) * c->dh - c->ph;
        x.px = (c->fw - 1) * c->dw - c->pw;
    }
    x.out = (float *)p->out.data;
    x.segs = (x.ow + RR_DWS_SEG - 1) / RR_DWS_SEG;
    if (sparse != NULL) {
        const double active = rr_active_fraction(c, (const int32_t *)p->rin.data, (const int32_t *)p->rout.data,
                                                 DWS_SAMPLE_PIXELS);
        if (active < DWS_MIN_ACTIVE) {
            rr_note(p, "ran:%s active:%.2f<%.2f", sparse_name, active, DWS_MIN_ACTIVE);
            return sparse(p);
        }
    }
    rr_workspace ws;
    rr_ws_begin(&ws, p->op);
    float *w = (float *)rr_ws_calloc(&ws, taps * x.cp, sizeof(float), "packed weights");
    if (w == NULL) {
        const rrconv_status st = ws.status;
        rr_ws_end(&ws);
        return st;
    }
    /* filter [C][taps] -> [tap][cp]; backward data: tap t of the flipped filter is taps - 1 - t */
    const float *f = (const float *)p->filter.data;
    for (int64_t ch = 0; ch < x.c; ch++)
        for (int64_t t = 0; t < taps; t++) w[t * x.cp + ch] = f[ch * taps + (backward ? taps - 1 - t : t)];
    x.w = w;
    rr_parallel_for(c->n * x.oh * x.segs, fn, &x);
    rr_ws_end(&ws);
    return RRCONV_OK;
}

rrconv_status rr_forward_depthwise_small_nhwc__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_forward_depthwise_small_nhwc_applies(&p->c));
    return dws_run(p, 0, rr_dws_items_avx512,
                   rr_forward_nhwc_depthwise_applies(&p->c) ? rr_forward_nhwc_depthwise__avx512 : NULL,
                   "forward_nhwc_depthwise__avx512");
}

rrconv_status rr_forward_depthwise_small_nhwc__avx2(const rr_problem *p)
{
    RR_ASSERT(rr_forward_depthwise_small_nhwc_applies(&p->c));
    return dws_run(p, 0, rr_dws_items_avx2,
                   rr_forward_nhwc_depthwise_applies(&p->c) ? rr_forward_nhwc_depthwise__avx2 : NULL,
                   "forward_nhwc_depthwise__avx2");
}

rrconv_status rr_backward_data_depthwise_small_nhwc__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_depthwise_small_nhwc_applies(&p->c));
    return dws_run(p, 1, rr_dws_items_avx512,
                   rr_backward_data_nhwc_depthwise_applies(&p->c) ? rr_backward_data_nhwc_depthwise__avx512 : NULL,
                   "backward_data_nhwc_depthwise__avx512");
}

rrconv_status rr_backward_data_depthwise_small_nhwc__avx2(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_depthwise_small_nhwc_applies(&p->c));
    return dws_run(p, 1, rr_dws_items_avx2,
                   rr_backward_data_nhwc_depthwise_applies(&p->c) ? rr_backward_data_nhwc_depthwise__avx2 : NULL,
                   "backward_data_nhwc_depthwise__avx2");
}

#endif /* RRCONV_X86_KERNELS */
