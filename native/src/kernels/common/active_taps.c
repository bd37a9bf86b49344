/*
 * active_taps.c -- rr_active_fraction (active_taps.h): the share of a call's in-image taps that its
 * masks leave active, sampled; the rows that can run either dense masked loops or tap lists choose by it.
 */
#include "active_taps.h"

double rr_active_fraction(const rr_conv *c, const int32_t *rin, const int32_t *rout, int64_t pixels)
{
    const int64_t rows = c->n * c->oh;
    int64_t step = pixels > 0 ? rows * c->ow / pixels : 1;
    if (step < 1) step = 1;
    int64_t inside = 0, active = 0;
    for (int64_t r = 0; r < rows; r += step) {
        const int64_t n = r / c->oh, oh = r % c->oh;
        const int32_t *mo = rout + r * c->ow;
        for (int64_t kh = 0; kh < c->fh; kh++) {
            const int64_t ih = oh * c->sh - c->ph + kh * c->dh;
            if (ih < 0 || ih >= c->ih) continue;
            const int32_t *mi = rin + (n * c->ih + ih) * c->iw;
            for (int64_t kw = 0; kw < c->fw; kw++) {
                for (int64_t ow = 0; ow < c->ow; ow++) {
                    const int64_t iw = ow * c->sw - c->pw + kw * c->dw;
                    if (iw < 0 || iw >= c->iw) continue;
                    inside++;
                    active += mi[iw] == mo[ow];
                }
            }
        }
    }
    return inside == 0 ? 1.0 : (double)active / (double)inside;
}
