/*
 * active_taps.h -- per output pixel, which taps of the filter are active: inside the image and with
 * rin there equal to rout at the pixel. The kernels whose cost falls with the active taps (forward
 * NHWC rows) list them once per pixel, shared by all channels, and spend arithmetic on those only.
 *
 * A list is one 64-bit word per (filter row kh, pixel): bit kw set when tap (kh, kw) is active, so
 * FW <= RR_TAPS_MAX_FW; a kernel walks the set bits in ascending kw (lowest first), which fixes each
 * output element's summation order (kh, then kw). rr_active_taps_row__<isa> (active_taps__<isa>.h)
 * builds the words of a run of pixels of one output row: along kw the rin values of one filter row
 * are contiguous (dil_w 1), so one masked vector load, one compare with the broadcast rout and the
 * compare's mask bits give up to a vector's width of taps at once; dilated rows compare a gather.
 * Every load stays inside rin (only the in-image columns are loaded).
 *
 * Masks are the normalized problem's: int32, dense [N, H, W].
 */
#ifndef RRCONV_ACTIVE_TAPS_H
#define RRCONV_ACTIVE_TAPS_H

#include "../../internal.h"

#include <stdint.h>

#define RR_TAPS_MAX_FW 64 /* bits of a word */
#define RR_TAPS_MAX_FH 64 /* filter rows whose words a kernel keeps on its stack (per run of pixels) */

/* The fraction of the in-image taps (source pixel inside the image) that are active, over evenly
 * spaced whole output rows of about `pixels` output pixels in all (scalar compares; 1 for a call
 * without in-image taps). c is a normalized problem's (int32 masks [N, H, W]); the pairs of input and
 * output pixels it counts are those of every direction, so backward data samples the forward's. The
 * rows that run dense masked loops or tap lists choose by it (active_taps.c). */
double rr_active_fraction(const rr_conv *c, const int32_t *rin, const int32_t *rout, int64_t pixels);

/* The kw range [lo, hi) whose input column ow*sw - pw + kw*dw lies in [0, IW) (lo >= hi: none). */
static inline void rr_taps_kw_range(const rr_conv *c, int64_t ow, int64_t *lo, int64_t *hi)
{
    const int64_t iw0 = ow * c->sw - c->pw;
    int64_t a = 0, b = c->fw;
    if (iw0 < 0) a = (-iw0 + c->dw - 1) / c->dw;
    if (iw0 + (b - 1) * c->dw > c->iw - 1) b = iw0 > c->iw - 1 ? 0 : (c->iw - 1 - iw0) / c->dw + 1;
    *lo = a;
    *hi = b;
}

/* Walks the set bits of a word, lowest first: for (uint64_t m = w; m; m &= m - 1) { kw = RR_TAPS_CTZ(m) } */
#define RR_TAPS_CTZ(m) __builtin_ctzll(m)

#endif /* RRCONV_ACTIVE_TAPS_H */
