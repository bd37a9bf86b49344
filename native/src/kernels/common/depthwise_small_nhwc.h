/*
 * depthwise_small_nhwc.h -- the channels-last depthwise rows for small filters (forward and backward
 * data, AVX-512 and AVX2), in the classical channels-last depthwise form: per output row the active
 * taps of every pixel are found once (one lane mask per pixel and tap, shared by all channels), then
 * for a few pixels at a time and each block of two channel vectors (accumulators in registers) every
 * tap is a masked FMA, active or not; all channel blocks of those pixels before the next pixels. (The
 * other order, a whole row per channel block, was slower in the one rough comparison made: with 384
 * channels one pixel's block is 1536 bytes from the next one's, so a block's lines along the rows fall
 * into a quarter of the L1 sets.) Masks with few active taps go to the tap-list rows instead
 * (depthwise_small_nhwc.c).
 *
 * Both directions are one correlation (rr_dws_job): out[n, y, x, c] = sum over taps (kh, kw) in
 * ascending order of src[n, y*sy - py + kh*dy, x*sx - px + kw*dx, c] * w[kh*FW + kw][c], over the taps
 * inside the source image whose source label msrc equals the output pixel's label mout.
 *   forward:        src = src, out = dst, msrc = rin, mout = rout, w = the filter.
 *   backward data:  (stride 1) src = diff, out = grad_src, msrc = rout, mout = rin, w = the filter
 *                   flipped in both axes, padding (FH-1)*dh - ph and (FW-1)*dw - pw (the adjoint:
 *                   grad_src[ih] gathers diff[ih + ph - kh*dh] over the taps whose labels match).
 * Work items are (n, output row, run of up to RR_DWS_SEG pixels); every output element is written once
 * by the item that owns it, its taps summed in the fixed tap order: results do not depend on the
 * thread count. An inactive tap never reaches out (masked FMA; its source lanes outside the image are
 * never read), so a NaN there does not either.
 */
#ifndef RRCONV_DEPTHWISE_SMALL_NHWC_H
#define RRCONV_DEPTHWISE_SMALL_NHWC_H

#include "../kernels.h"

#include <stdint.h>

#define RR_DWS_MAX_TAPS 64 /* FH*FW bound of the per-item tap masks (stack) */
#define RR_DWS_SEG 64      /* output pixels per item */

typedef struct rr_dws_job {
    const float *src;             /* [N][SH][SW][C] */
    float *out;                   /* [N][OH][OW][C] */
    const float *w;               /* [FH*FW][cp], zeros past C */
    const int32_t *msrc, *mout;   /* [N][SH][SW], [N][OH][OW] */
    int64_t c, cp;                /* channels; padded to 16 */
    int64_t sh, sw, oh, ow;       /* source and output image sizes */
    int64_t fh, fw, sy, sx, py, px, dy, dx; /* filter, stride, padding (may be negative), dilation */
    int64_t segs;                 /* items per output row */
} rr_dws_job;

/* The loops over items begin .. end - 1 of a job (rr_range_fn). */
void rr_dws_items_avx512(void *ctx, int64_t begin, int64_t end);
void rr_dws_items_avx2(void *ctx, int64_t begin, int64_t end);

#endif /* RRCONV_DEPTHWISE_SMALL_NHWC_H */
