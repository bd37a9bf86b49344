/*
 * backward_data_nhwc_tapgemm__avx512.c -- backward_data_nhwc_tapgemm__avx512: grouped / dense backward
 * data on channels-last tensors at stride 1, as the forward per-tap GEMM (forward/nhwc_tapgemm.h) of
 * the forward conv that it is.
 *
 * At stride 1, grad_src[ih][iw][g, icg] = sum over (kh, kw, ocg) with oh = ih + ph - kh*dh, ow = iw + pw -
 * kw*dw inside diff and rout[oh][ow] == rin[ih][iw] of diff[oh][ow][g, ocg] * filter[g, ocg, icg, kh, kw].
 * With kh' = FH-1-kh, kw' = FW-1-kw: oh = ih - ph' + kh'*dh where ph' = dh*(FH-1) - ph (>= 0 where the
 * row applies), and likewise along w. That is a forward cross-correlation of diff (as src, IH' = OH,
 * IW' = OW, IC' = OC) into grad_src (as dst: OH' = OH + 2ph' - dh*(FH-1) = IH at stride 1) with the
 * filter transposed per group and flipped, filter'[g, icg, ocg, kh', kw'] = filter[g, ocg, icg, FH-1-kh',
 * FW-1-kw'] (ICPG' = OCPG, OCPG' = ICPG), rout as rin' and rin as rout'. Both use the same pairs of
 * pixels, so the same products count.
 *
 * Each grad_src element is summed in the order (kh', kw', ocg) -- kh and kw descending -- from 0.0f by
 * the one work item that owns it: the same bits for every thread count (not those of
 * backward_data_nhwc_channels, whose order is kh ascending, ow ascending).
 *
 * It runs before backward_data_nhwc_channels on every mask, no hand-over: two alternating rounds (rough,
 * busy 2-core machine, 1 thread, cpu ms, this row / backward_data_nhwc_channels) GRP random 3.9-4.2 /
 * 5.4-5.7, superpixel 6.0 / 9.7-9.8, blocky 6.1-7.7 / 9.7-10.1; DENSE random 7.8-8.2 / 12.7-12.9,
 * superpixel 16.2 / 23.3-23.7, blocky 17.5-17.6 / 20.9-21.2 (so no hand-over above 0.9 active taps, unlike
 * the forward row).
 */
#include "../forward/forward.h"
#include "../forward/nhwc_tapgemm.h"
#include "../common/workspace.h"

rrconv_status rr_backward_data_nhwc_tapgemm__avx512(const rr_problem *p)
{
    const rr_conv *c = &p->c;
    RR_ASSERT(rr_backward_data_nhwc_tapgemm_applies(c));
    RR_ASSERT(c->mode == RRCONV_CROSS_CORRELATION && c->mask_type == RRCONV_MASK_INT32);
    RR_ASSERT(c->layout == RR_LAYOUT_NHWC && c->sh == 1 && c->sw == 1);
    const int32_t *rin = (const int32_t *)p->rin.data, *rout = (const int32_t *)p->rout.data;
    /* the forward conv f that this backward data is */
    const rr_conv f = rr_adjoint_conv(c);
    RR_ASSERT(f.ph >= 0 && f.pw >= 0);
    RR_ASSERT(f.ih + 2 * f.ph - f.dh * (f.fh - 1) == f.oh && f.iw + 2 * f.pw - f.dw * (f.fw - 1) == f.ow);

    const int64_t taps = c->fh * c->fw, cp = rr_tapgemm_cp(&f);
    rr_workspace ws;
    rr_ws_begin(&ws, p->op);
    float *w = (float *)rr_ws_alloc(&ws, f.groups * taps * f.icpg * cp, 4, "packed weights");
    if (w == NULL) {
        const rrconv_status st = ws.status;
        rr_ws_end(&ws);
        return st;
    }
    /* filter [g][ocg][icg][t] -> w [g][t' = taps-1-t][ocg][cp] (icg along a row, zeros past ICPG) */
    const float *flt = (const float *)p->filter.data;
    for (int64_t g = 0; g < c->groups; g++)
        for (int64_t t = 0; t < taps; t++)
            for (int64_t o = 0; o < c->ocpg; o++) {
                float *row = w + ((g * taps + t) * c->ocpg + o) * cp;
                const float *src = flt + (g * c->ocpg + o) * c->icpg * taps + (taps - 1 - t);
                for (int64_t i = 0; i < cp; i++) row[i] = i < c->icpg ? src[i * taps] : 0.0f;
            }
    rr_nhwc_tapgemm_run_avx512(&f, (const float *)p->diff.data, w, rout, rin, p->out.data);
    rr_ws_end(&ws);
    return RRCONV_OK;
}
