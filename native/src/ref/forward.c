/*
 * ref/forward.c -- reference forward loop: any strides, both modes, both mask types.
 *
 * dst[n, oc, oh, ow] = sum of src[n, g*ICPG+icg, ih, iw] * filter[g, ocg, icg, kh', kw'] over the
 * taps with (ih, iw) inside the image and rin[n, ih, iw] == rout[n, oh, ow]; other taps are skipped
 * (never multiplied), so a NaN at a masked-out or out-of-image position cannot reach dst.
 *
 * Accumulation: one float accumulator per output element, starting at 0.0f, adding the taps in
 * the order icg, kh, kw (all ascending; kh/kw are the spatial tap indices, before any flip).
 * Half-precision inputs are widened exactly (half.h); the sum is rounded once into the output's type.
 * Work items are (n, oc) output planes; an item's result does not depend on the thread count.
 */
#include "ref_util.h"

/* The loop over work items [begin, end) for data of type dt and an output of type odt: inlined into
 * forward_range twice, once with float32 constants (no per-element type dispatch) and once with the call's. */
static inline RR_REF_INLINE void forward_items(const rr_problem *p, int64_t begin, int64_t end, rr_dtype dt,
                                               rr_dtype odt)
{
    const rr_conv *c = &p->c;
    const void *src = p->src.data, *flt = p->filter.data;
    const void *rin = p->rin.data, *rout = p->rout.data;
    const int64_t *ss = p->src.strides, *fs = p->filter.strides, *ds = p->out.strides;
    const int64_t *ris = p->rin.strides, *ros = p->rout.strides;
    const rrconv_mask_type mt = c->mask_type;
    const int flip = c->mode == RRCONV_CONVOLUTION;

    for (int64_t item = begin; item < end; item++) {
        const int64_t n = item / c->oc, oc = item % c->oc;
        const int64_t g = oc / c->ocpg, ocg = oc % c->ocpg;
        const int64_t s_ng = n * ss[0] + g * c->icpg * ss[1];
        const int64_t w_go = g * fs[0] + ocg * fs[1];
        const int64_t d_no = n * ds[0] + oc * ds[1];
        const int64_t rin_n = n * ris[0], rout_n = n * ros[0];

        for (int64_t oh = 0; oh < c->oh; oh++) {
            const int64_t ih0 = oh * c->sh - c->ph;
            int64_t kh_lo, kh_hi;
            rr_valid_range(ih0, c->dh, c->ih, c->fh, &kh_lo, &kh_hi);
            for (int64_t ow = 0; ow < c->ow; ow++) {
                const int64_t iw0 = ow * c->sw - c->pw;
                int64_t kw_lo, kw_hi;
                rr_valid_range(iw0, c->dw, c->iw, c->fw, &kw_lo, &kw_hi);
                const int64_t region = rr_mask_at(rout, mt, rout_n + oh * ros[1] + ow * ros[2]);
                float acc = 0.0f;
                for (int64_t icg = 0; icg < c->icpg; icg++) {
                    const int64_t s_c = s_ng + icg * ss[1];
                    const int64_t w_c = w_go + icg * fs[2];
                    for (int64_t kh = kh_lo; kh < kh_hi; kh++) {
                        const int64_t ih = ih0 + kh * c->dh;
                        const int64_t khf = flip ? c->fh - 1 - kh : kh;
                        for (int64_t kw = kw_lo; kw < kw_hi; kw++) {
                            const int64_t iw = iw0 + kw * c->dw;
                            if (rr_mask_at(rin, mt, rin_n + ih * ris[1] + iw * ris[2]) != region) continue;
                            const int64_t kwf = flip ? c->fw - 1 - kw : kw;
                            acc += rr_load(src, dt, s_c + ih * ss[2] + iw * ss[3]) *
                                   rr_load(flt, dt, w_c + khf * fs[3] + kwf * fs[4]);
                        }
                    }
                }
                rr_store(p->out.data, odt, d_no + oh * ds[2] + ow * ds[3], acc);
            }
        }
    }
}

static void forward_range(void *vctx, int64_t begin, int64_t end)
{
    const rr_problem *p = (const rr_problem *)vctx;
    if (p->c.dtype == RR_DT_F32 && p->c.out_dtype == RR_DT_F32) forward_items(p, begin, end, RR_DT_F32, RR_DT_F32);
    else forward_items(p, begin, end, p->c.dtype, p->c.out_dtype);
}

rrconv_status rr_ref_forward(const rr_problem *p)
{
    rr_parallel_for(p->c.n * p->c.oc, forward_range, (void *)(uintptr_t)p);
    return RRCONV_OK;
}
