/*
 * ref/backward_filter.c -- reference backward-filter loop: any strides, both modes, both masks.
 *
 * grad_filter[g, ocg, icg, kh', kw'] = sum of src[n, g*ICPG+icg, ih, iw] * diff[n, g*OCPG+ocg, oh, ow]
 * over n, oh, ow with ih = oh*sh - ph + kh*dh, iw = ow*sw - pw + kw*dw inside the image and
 * rin[n, ih, iw] == rout[n, oh, ow]; other taps are skipped. The element written is the stored
 * (un-flipped) one: kh' = kh for cross-correlation, FH-1-kh for convolution (likewise kw').
 *
 * Accumulation: one float accumulator per filter element, from 0.0f, adding taps in the order
 * n, oh, ow (all ascending). Half-precision inputs are widened exactly (half.h); the sum is rounded once
 * into the output's type. Work items are filter elements (g, ocg, icg, kh', kw') in stored
 * order; an item's result does not depend on the thread count.
 */
#include "ref_util.h"

/* The loop over work items [begin, end) for data of type dt and an output of type odt: inlined into
 * backward_filter_range twice, once with float32 constants (no per-element type dispatch) and once with the call's. */
static inline RR_REF_INLINE void backward_filter_items(const rr_problem *p, int64_t begin, int64_t end, rr_dtype dt,
                                                       rr_dtype odt)
{
    const rr_conv *c = &p->c;
    const void *src = p->src.data, *diff = p->diff.data;
    const void *rin = p->rin.data, *rout = p->rout.data;
    const int64_t *ss = p->src.strides, *dfs = p->diff.strides, *gs = p->out.strides;
    const int64_t *ris = p->rin.strides, *ros = p->rout.strides;
    const rrconv_mask_type mt = c->mask_type;
    const int flip = c->mode == RRCONV_CONVOLUTION;

    for (int64_t item = begin; item < end; item++) {
        int64_t r = item;
        const int64_t kwf = r % c->fw; r /= c->fw;
        const int64_t khf = r % c->fh; r /= c->fh;
        const int64_t icg = r % c->icpg; r /= c->icpg;
        const int64_t ocg = r % c->ocpg; r /= c->ocpg;
        const int64_t g = r;
        const int64_t kh = flip ? c->fh - 1 - khf : khf;
        const int64_t kw = flip ? c->fw - 1 - kwf : kwf;
        const int64_t ic = g * c->icpg + icg, oc = g * c->ocpg + ocg;

        /* output rows/cols whose tap (kh, kw) lands inside the image */
        int64_t oh_lo, oh_hi, ow_lo, ow_hi;
        rr_valid_range(kh * c->dh - c->ph, c->sh, c->ih, c->oh, &oh_lo, &oh_hi);
        rr_valid_range(kw * c->dw - c->pw, c->sw, c->iw, c->ow, &ow_lo, &ow_hi);

        float acc = 0.0f;
        for (int64_t n = 0; n < c->n; n++) {
            const int64_t s_c = n * ss[0] + ic * ss[1];
            const int64_t d_c = n * dfs[0] + oc * dfs[1];
            const int64_t rin_n = n * ris[0], rout_n = n * ros[0];
            for (int64_t oh = oh_lo; oh < oh_hi; oh++) {
                const int64_t ih = oh * c->sh - c->ph + kh * c->dh;
                for (int64_t ow = ow_lo; ow < ow_hi; ow++) {
                    const int64_t iw = ow * c->sw - c->pw + kw * c->dw;
                    if (rr_mask_at(rin, mt, rin_n + ih * ris[1] + iw * ris[2]) !=
                        rr_mask_at(rout, mt, rout_n + oh * ros[1] + ow * ros[2]))
                        continue;
                    acc += rr_load(src, dt, s_c + ih * ss[2] + iw * ss[3]) *
                           rr_load(diff, dt, d_c + oh * dfs[2] + ow * dfs[3]);
                }
            }
        }
        rr_store(p->out.data, odt, g * gs[0] + ocg * gs[1] + icg * gs[2] + khf * gs[3] + kwf * gs[4], acc);
    }
}

static void backward_filter_range(void *vctx, int64_t begin, int64_t end)
{
    const rr_problem *p = (const rr_problem *)vctx;
    if (p->c.dtype == RR_DT_F32 && p->c.out_dtype == RR_DT_F32) backward_filter_items(p, begin, end, RR_DT_F32, RR_DT_F32);
    else backward_filter_items(p, begin, end, p->c.dtype, p->c.out_dtype);
}

rrconv_status rr_ref_backward_filter(const rr_problem *p)
{
    const rr_conv *c = &p->c;
    rr_parallel_for(c->groups * c->ocpg * c->icpg * c->fh * c->fw, backward_filter_range,
                    (void *)(uintptr_t)p);
    return RRCONV_OK;
}
