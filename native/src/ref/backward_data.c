/*
 * ref/backward_data.c -- reference backward-data loop: any strides, both modes, both mask types.
 *
 * grad_src[n, ic, ih, iw] = sum of diff[n, g*OCPG+ocg, oh, ow] * filter[g, ocg, icg, kh', kw'] over
 * the forward taps that read src[n, ic, ih, iw]: ih = oh*sh - ph + kh*dh (likewise iw) for some
 * output (oh, ow) inside the output, with rin[n, ih, iw] == rout[n, oh, ow]. Other taps are skipped.
 *
 * Accumulation: one float accumulator per element, from 0.0f, adding taps in the order ocg, kh, kw
 * (all ascending; kh/kw are the spatial tap indices, before any flip). Half-precision inputs are widened
 * exactly (half.h); the sum is rounded once into the output's type.
 * Work items are (n, ic) planes of grad_src; an item's result does not depend on the thread count.
 */
#include "ref_util.h"

/* The loop over work items [begin, end) for data of type dt and an output of type odt: inlined into
 * backward_data_range twice, once with float32 constants (no per-element type dispatch) and once with the call's. */
static inline RR_REF_INLINE void backward_data_items(const rr_problem *p, int64_t begin, int64_t end, rr_dtype dt,
                                                     rr_dtype odt)
{
    const rr_conv *c = &p->c;
    const void *flt = p->filter.data, *diff = p->diff.data;
    const void *rin = p->rin.data, *rout = p->rout.data;
    const int64_t *fs = p->filter.strides, *dfs = p->diff.strides, *gs = p->out.strides;
    const int64_t *ris = p->rin.strides, *ros = p->rout.strides;
    const rrconv_mask_type mt = c->mask_type;
    const int flip = c->mode == RRCONV_CONVOLUTION;

    for (int64_t item = begin; item < end; item++) {
        const int64_t n = item / c->ic, ic = item % c->ic;
        const int64_t g = ic / c->icpg, icg = ic % c->icpg;
        const int64_t d_ng = n * dfs[0] + g * c->ocpg * dfs[1];
        const int64_t w_gi = g * fs[0] + icg * fs[2];
        const int64_t gs_ni = n * gs[0] + ic * gs[1];
        const int64_t rin_n = n * ris[0], rout_n = n * ros[0];

        for (int64_t ih = 0; ih < c->ih; ih++) {
            /* the taps with 0 <= ih + ph - kh*dh <= (OH-1)*sh, i.e. (OH-1)*sh - ih - ph + kh*dh in
             * [0, (OH-1)*sh]: computed, not searched (a huge filter over a one-pixel output would
             * otherwise cost IH * FH steps per row) */
            int64_t kh_lo, kh_hi, kw_lo, kw_hi;
            rr_valid_range((c->oh - 1) * c->sh - ih - c->ph, c->dh, (c->oh - 1) * c->sh + 1, c->fh, &kh_lo, &kh_hi);
            for (int64_t iw = 0; iw < c->iw; iw++) {
                rr_valid_range((c->ow - 1) * c->sw - iw - c->pw, c->dw, (c->ow - 1) * c->sw + 1, c->fw, &kw_lo,
                               &kw_hi);
                const int64_t region = rr_mask_at(rin, mt, rin_n + ih * ris[1] + iw * ris[2]);
                float acc = 0.0f;
                for (int64_t ocg = 0; ocg < c->ocpg; ocg++) {
                    const int64_t d_c = d_ng + ocg * dfs[1];
                    const int64_t w_c = w_gi + ocg * fs[1];
                    for (int64_t kh = kh_lo; kh < kh_hi; kh++) {
                        const int64_t th = ih + c->ph - kh * c->dh; /* = oh*sh, in [0, (OH-1)*sh] */
                        if (th % c->sh != 0) continue;
                        const int64_t oh = th / c->sh;
                        const int64_t khf = flip ? c->fh - 1 - kh : kh;
                        for (int64_t kw = kw_lo; kw < kw_hi; kw++) {
                            const int64_t tw = iw + c->pw - kw * c->dw;
                            if (tw % c->sw != 0) continue;
                            const int64_t ow = tw / c->sw;
                            if (rr_mask_at(rout, mt, rout_n + oh * ros[1] + ow * ros[2]) != region) continue;
                            const int64_t kwf = flip ? c->fw - 1 - kw : kw;
                            acc += rr_load(diff, dt, d_c + oh * dfs[2] + ow * dfs[3]) *
                                   rr_load(flt, dt, w_c + khf * fs[3] + kwf * fs[4]);
                        }
                    }
                }
                rr_store(p->out.data, odt, gs_ni + ih * gs[2] + iw * gs[3], acc);
            }
        }
    }
}

static void backward_data_range(void *vctx, int64_t begin, int64_t end)
{
    const rr_problem *p = (const rr_problem *)vctx;
    if (p->c.dtype == RR_DT_F32 && p->c.out_dtype == RR_DT_F32) backward_data_items(p, begin, end, RR_DT_F32, RR_DT_F32);
    else backward_data_items(p, begin, end, p->c.dtype, p->c.out_dtype);
}

rrconv_status rr_ref_backward_data(const rr_problem *p)
{
    rr_parallel_for(p->c.n * p->c.ic, backward_data_range, (void *)(uintptr_t)p);
    return RRCONV_OK;
}
