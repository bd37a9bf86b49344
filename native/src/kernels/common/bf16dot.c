/*
 * bf16dot.c -- the bfloat16 dot-product rows (vdpbf16ps, AVX512_BF16; common/bf16dot.h): their applies()
 * predicates and entry functions. An entry packs the multiplied tensors into channel pairs, reading
 * their exponents on the way (the gate, common/bf16dot.h); when the gate fails (a denormal, or values so
 * small that a product or partial sum could be one) it hands the problem to the float32 row of its
 * direction, which widens it (RRCONV_VERBOSE adds "ran:<that row>" to the call's line).
 */
#define _POSIX_C_SOURCE 200809L

#include "bf16dot.h"
#include "tile_plan.h"
#include "workspace.h"

#include <string.h>

#if RRCONV_X86_KERNELS /* the rows, their applies() and the float32 rows they hand over to are x86 only */

#define BF16DOT_MAX_OCB 12 /* output channels per register tile (forward_channel_tiles_bf16dot__avx512.c) */

/* bfloat16 inputs, the output bfloat16 or float32, and the CPU has vdpbf16ps. */
static int bf16dot_call(const rr_conv *c)
{
    return c->dtype == RR_DT_BF16 && (c->out_dtype == RR_DT_BF16 || c->out_dtype == RR_DT_F32) &&
           rr_cpu_has_bf16_dot();
}

int rr_forward_channel_tiles_bf16dot_applies(const rr_conv *c)
{
    return bf16dot_call(c) && c->icpg >= 2 && rr_forward_channels_applies(c);
}


/* Filter gradient: stride_w 1 (pixel pairs are neighbouring columns), ICPG >= 2, and partial sums
 * (BO x BI vectors, 1.5 KiB, per tap and channel block pair) of at most 64 MiB. */
int rr_backward_filter_tile_bf16dot_applies(const rr_conv *c)
{
    if (!bf16dot_call(c) || c->sw != 1 || c->icpg < 2 || !rr_backward_filter_tile_applies(c) ||
        !rr_tile_geometry_fits(c))
        return 0;
    const double blocks = (double)c->groups * (double)((c->ocpg + RR_BF16DOT_BWF_BO - 1) / RR_BF16DOT_BWF_BO) *
                          (double)((c->icpg + RR_BF16DOT_BWF_BI - 1) / RR_BF16DOT_BWF_BI);
    return blocks * (double)(c->fh * c->fw) * (RR_BF16DOT_BWF_BO * RR_BF16DOT_BWF_BI * 64.0) <= 64.0 * 1024 * 1024;
}

/* The channels-last per-tap GEMM (forward_nhwc_tapgemm_bf16dot__avx512.c): where its float32 row applies. */
int rr_forward_nhwc_tapgemm_bf16dot_applies(const rr_conv *c)
{
    return bf16dot_call(c) && rr_forward_nhwc_tapgemm_applies(c);
}

/* Its backward data at stride 1, as the forward of the adjoint. */
int rr_backward_data_nhwc_tapgemm_bf16dot_applies(const rr_conv *c)
{
    if (!bf16dot_call(c) || c->sh != 1 || c->sw != 1) return 0;
    const rr_conv a = rr_adjoint_conv(c);
    return a.ph >= 0 && a.pw >= 0 && rr_forward_nhwc_tapgemm_applies(&a);
}

int rr_backward_data_adjoint_tiles_bf16dot_applies(const rr_conv *c)
{
    if (!bf16dot_call(c) || c->sh != 1 || c->sw != 1 || c->ocpg < 2 || !rr_backward_data_phases_applies(c)) return 0;
    const rr_conv a = rr_adjoint_conv(c);
    return a.ph >= 0 && a.pw >= 0 && rr_forward_channels_applies(&a);
}


/* The forward job's prepare: the weights were packed by the entry (behind the plan problem's filter). */
static rrconv_status prepare_forward(rr_tile_plan *pl, const rr_problem *p, rr_isa isa, int chunked, rr_workspace *ws)
{
    (void)isa, (void)chunked, (void)ws;
    pl->w = (const float *)p->filter.data;
    pl->nob = (p->c.ocpg + BF16DOT_MAX_OCB - 1) / BF16DOT_MAX_OCB;
    pl->ocb = (p->c.ocpg + pl->nob - 1) / pl->nob;
    return RRCONV_OK;
}

/* Where the weight of (group g, output channel o, input channel i, tap t) of the plan's forward
 * problem is in the caller's filter: g*gs + o*os + i*is + (flip ? taps-1-t : t). */
typedef struct weight_map {
    int64_t gs, os, is;
    int flip;
} weight_map;

/* Packs the filter into blocks of no output channels from (g, oc0), each [taps][pairs][no] words at
 * (g*OCPG + oc0) * pairs * taps (channel 2p low, 2p+1 high, zero past ICPG); c is the plan's forward
 * problem (unpaired). */
static void pack_weights(const rr_conv *c, const uint16_t *f, const weight_map *wm, uint32_t *wpk, int64_t pairs,
                         int64_t ocb)
{
    const int64_t taps = c->fh * c->fw;
    for (int64_t g = 0; g < c->groups; g++) {
        for (int64_t oc0 = 0; oc0 < c->ocpg; oc0 += ocb) {
            const int64_t no = c->ocpg - oc0 < ocb ? c->ocpg - oc0 : ocb;
            uint32_t *blk = wpk + (g * c->ocpg + oc0) * pairs * taps;
            for (int64_t o = 0; o < no; o++) {
                const uint16_t *fo = f + g * wm->gs + (oc0 + o) * wm->os;
                for (int64_t p = 0; p < pairs; p++) {
                    for (int64_t t = 0; t < taps; t++) {
                        const int64_t ft = wm->flip ? taps - 1 - t : t;
                        const uint32_t lo = fo[2 * p * wm->is + ft];
                        const uint32_t hi = 2 * p + 1 < c->icpg ? fo[(2 * p + 1) * wm->is + ft] : 0u;
                        blk[(t * pairs + p) * no + o] = lo | hi << 16;
                    }
                }
            }
        }
    }
}

/* Smallest exponent field over the pack's items. */
static int min_of(const uint8_t *e, int64_t n)
{
    int m = 255;
    for (int64_t i = 0; i < n; i++) m = e[i] < m ? e[i] : m;
    return m;
}

/*
 * Runs the forward problem f (normalized bfloat16, ICPG >= 1: paired here) on vdpbf16ps, its weights
 * read from f's filter through wm; when the gate fails, hands the caller's problem p (f itself, or the
 * problem f is the adjoint of) to the f32 row `fallback`.
 */
static rrconv_status run_forward(const rr_problem *f, const weight_map *wm, const rr_problem *p, const char *fallback)
{
    const rr_conv *c = &f->c;
    const int64_t pairs = (c->icpg + 1) / 2, taps = c->fh * c->fw, ihw = c->ih * c->iw;
    const int ew = rr_bf16dot_min_exponent((const uint16_t *)f->filter.data, c->groups * c->ocpg * c->icpg * taps);
    if (!rr_bf16dot_exact(255, ew)) return rr_kernel_hand_over(fallback, p, "(denormal or tiny data)");
    rr_workspace ws;
    rr_ws_begin(&ws, f->op);
    rr_bf16dot_pack pk;
    pk.src = (const uint16_t *)f->src.data;
    pk.cpg = c->icpg;
    pk.pairs = pairs;
    pk.inner = ihw;
    /* at stride_w > 1 the words go straight into the plan's phase planes */
    pk.sw = c->sw;
    pk.ih = c->ih;
    pk.iw = c->iw;
    pk.pw = (c->iw + c->sw - 1) / c->sw;
    pk.dst = (uint32_t *)rr_ws_alloc(&ws, c->n * c->groups * pairs * c->ih * pk.sw * pk.pw, 4, "src channel pairs");
    pk.emin = (uint8_t *)rr_ws_alloc(&ws, c->n * c->groups * pairs, 1, "src exponents");
    const int64_t nob = (c->ocpg + BF16DOT_MAX_OCB - 1) / BF16DOT_MAX_OCB, ocb = (c->ocpg + nob - 1) / nob;
    uint32_t *wpk = (uint32_t *)rr_ws_alloc(&ws, c->groups * c->ocpg * pairs * taps, 4, "weight pairs");
    if (pk.dst == NULL || pk.emin == NULL || wpk == NULL) {
        rr_ws_end(&ws);
        return ws.status;
    }
    rr_parallel_for(c->n * c->groups * pairs, rr_bf16dot_pack_avx512, &pk);
    if (!rr_bf16dot_exact(min_of(pk.emin, c->n * c->groups * pairs), ew)) {
        rr_ws_end(&ws);
        return rr_kernel_hand_over(fallback, p, "(denormal or tiny data)");
    }
    pack_weights(c, (const uint16_t *)f->filter.data, wm, wpk, pairs, ocb);
    /* the plan's problem: input channels are the pairs, src the packed words, the filter the packed one */
    rr_problem q = *f;
    q.c.icpg = pairs;
    q.c.ic = c->groups * pairs;
    q.src.data = pk.dst;
    q.filter.data = wpk;
    /* the plan moves src elements of c.dtype's size (stride_w > 1 phase planes): the pairs are 32-bit words */
    q.c.dtype = RR_DT_F32;
    const rr_tile_job job = {c->sw > 1 ? RR_TILE_CHANNELS_PHASED : RR_TILE_CHANNELS, rr_fwd_oc_bf16dot_avx512,
                             prepare_forward};
    const rrconv_status st = rr_tile_run(&q, RR_ISA_AVX512, &job);
    rr_ws_end(&ws);
    return st;
}

rrconv_status rr_forward_channel_tiles_bf16dot__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_forward_channel_tiles_bf16dot_applies(&p->c));
    const rr_conv *c = &p->c;
    const int64_t taps = c->fh * c->fw;
    const weight_map wm = {c->ocpg * c->icpg * taps, c->icpg * taps, taps, 0};
    return run_forward(p, &wm, p, "forward_channel_tiles__avx512");
}

rrconv_status rr_backward_data_adjoint_tiles_bf16dot__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_adjoint_tiles_bf16dot_applies(&p->c));
    const rr_conv *c = &p->c;
    const int64_t taps = c->fh * c->fw;
    const rr_problem f = rr_adjoint_problem(p);
    /* forward weight (g, o = input channel, i = output channel, t) = w[g][i][o][taps-1-t] */
    const weight_map wm = {c->ocpg * c->icpg * taps, taps, c->icpg * taps, 1};
    return run_forward(&f, &wm, p, "backward_data_phases__avx512");
}

int rr_bf16dot_scan_exponent(const uint16_t *v, int64_t n, rr_workspace *ws, int *emin, int *finite)
{
    rr_bf16dot_scan x;
    const int64_t items = (n + RR_BF16DOT_SCAN - 1) / RR_BF16DOT_SCAN;
    x.v = v;
    x.n = n;
    x.emin = (uint8_t *)rr_ws_alloc(ws, 2 * items, 1, "exponents");
    if (x.emin == NULL) return 0;
    x.finite = x.emin + items;
    rr_parallel_for(items, rr_bf16dot_scan_avx512, &x);
    *emin = min_of(x.emin, items);
    *finite = min_of(x.finite, items);
    return 1;
}

/* The filter-gradient job's prepare: its data ride in the plan problem's filter view. */
static rrconv_status prepare_filter_grad(rr_tile_plan *pl, const rr_problem *p, rr_isa isa, int chunked,
                                         rr_workspace *ws)
{
    (void)isa, (void)chunked, (void)ws;
    const rr_bf16dot_bwf *j = (const rr_bf16dot_bwf *)p->filter.data;
    pl->job_data = j;
    pl->ncb = j->groups * j->nob * j->nib;
    return RRCONV_OK;
}

rrconv_status rr_backward_filter_tile_bf16dot__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_backward_filter_tile_bf16dot_applies(&p->c));
    const rr_conv *c = &p->c;
    rr_workspace ws;
    rr_ws_begin(&ws, p->op);
    int es, ed, sfin, dfin;
    if (!rr_bf16dot_scan_exponent((const uint16_t *)p->src.data, c->n * c->ic * c->ih * c->iw, &ws, &es, &sfin) ||
        !rr_bf16dot_scan_exponent((const uint16_t *)p->diff.data, c->n * c->oc * c->oh * c->ow, &ws, &ed, &dfin)) {
        rr_ws_end(&ws);
        return ws.status;
    }
    if (!rr_bf16dot_exact(es, ed)) {
        rr_ws_end(&ws);
        return rr_kernel_hand_over("backward_filter_tile__avx512", p, "(denormal or tiny data)");
    }
    rr_bf16dot_bwf j;
    j.src = (const uint16_t *)p->src.data;
    j.diff = (const uint16_t *)p->diff.data;
    j.gw = p->out.data;
    j.out_dtype = c->out_dtype;
    j.groups = c->groups;
    j.icpg = c->icpg;
    j.ocpg = c->ocpg;
    j.nob = (c->ocpg + RR_BF16DOT_BWF_BO - 1) / RR_BF16DOT_BWF_BO;
    j.nib = (c->icpg + RR_BF16DOT_BWF_BI - 1) / RR_BF16DOT_BWF_BI;
    j.diff_finite = dfin;
    j.diff_end = j.diff + c->n * c->oc * c->oh * c->ow;
    j.gacc = (float *)rr_ws_alloc(&ws, c->groups * j.nob * j.nib * c->fh * c->fw * RR_BF16DOT_BWF_BO * RR_BF16DOT_BWF_BI * 16,
                                  4, "partial sums");
    if (j.gacc == NULL) {
        rr_ws_end(&ws);
        return ws.status;
    }
    /* the plan's problem: the geometry with one channel per group (its masks know no channels) */
    rr_problem q = *p;
    q.c.icpg = q.c.ocpg = 1;
    q.c.ic = q.c.oc = c->groups;
    q.filter.data = &j;
    const rr_tile_job job = {RR_TILE_FILTER_GRAD_FLAT, rr_bwf_bf16dot_avx512, prepare_filter_grad};
    const rrconv_status st = rr_tile_run(&q, RR_ISA_AVX512, &job);
    rr_ws_end(&ws);
    return st;
}

#endif /* RRCONV_X86_KERNELS */
