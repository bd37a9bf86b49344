/*
 * backward_data_nhwc.h -- the plan shared by the driver (backward_data.c) and the ISA loops
 * (backward_data_nhwc__avx512.c, backward_data_nhwc__avx2.c) of the channels-last backward-data rows,
 * whose cost falls with the active taps.
 *
 * The problem is normalized NHWC: diff [N, OH, OW, OC] and grad_src [N, IH, IW, IC] dense, so a pixel's
 * channels are contiguous. Per grad_src pixel (n, ih, iw) the loops list the taps that reach it:
 * (kh, kw) with oh = (ih + ph - kh*dh) / sh and ow = (iw + pw - kw*dw) / sw integral and inside the
 * output and rout[n, oh, ow] == rin[n, ih, iw]. The list is shared by all channels and holds two int32
 * offsets per tap: the diff pixel's (oh*OW + ow)*OC in its image and the tap's (kh*FW + kw)*wtap in the
 * packed weights. Then the channels are summed over that list only, a vector of channels at a time;
 * skipped taps are never loaded nor multiplied.
 *
 * The rows' valid (kh, oh) pairs come from ih alone, the columns' (kw, ow) pairs from iw alone: the
 * plan keeps, per iw, its columns in ascending ow (descending kw), padded to a whole number of vectors,
 * so the list of a pixel is built one kh at a time from one vector compare of rout's row against the
 * pixel's rin label (a contiguous load when sw == dw == 1, a gather otherwise).
 *
 * Grouped / dense: two neighbouring pixels whose lists are the same but for one diff pixel's shift
 * (inside regions, the common case with superpixel or blocky masks) are summed in one pass over the
 * list, each packed-weight vector loaded once for both (a broadcast and a load per two FMAs before).
 *
 * Work items are grad_src rows (n, ih); every grad_src element is written once by one item, its taps
 * summed in the list's order (kh ascending, then ow ascending), then (grouped) ocg ascending: results
 * do not depend on the thread count.
 *
 * Packed weights (scratch):
 *   depthwise  wpack[tap][cp]            = filter[c, 0, 0, kh, kw], cp = C rounded up to 16 (0 past C)
 *   channels   wpack[g][tap][ocg][cp]    = filter[g, ocg, icg, kh, kw], cp = ICPG rounded up to 16
 * tap = kh*FW + kw.
 */
#ifndef RRCONV_BACKWARD_DATA_NHWC_H
#define RRCONV_BACKWARD_DATA_NHWC_H

#include "../kernels.h"

#include <stdint.h>

/* The most taps a pixel's list may hold (FH*FW of the rows that use it: 32x32 filters), and slack for a
 * full vector store past the last entry. The lists live on the stack of the thread running a range
 * (about 30 KB), which may be a caller's thread with a small stack. */
#define RR_BDN_MAX_TAPS 1024
#define RR_BDN_SLACK 16

typedef struct bdn_plan {
    const rr_problem *p;
    const float *wpack;      /* see above */
    int64_t cp;              /* floats per (tap[, ocg]) row of wpack: C or ICPG rounded up to 16 */
    int64_t wtap;            /* floats per tap of wpack (one group's for channels): cp or OCPG*cp */
    int64_t wgroup;          /* floats per group of wpack (channels) */
    int32_t fwq;             /* FW rounded up to 16: the column lists' row length */
    int32_t contig;          /* sw == dw == 1: each column list is consecutive ow */
    const int32_t *col_n;    /* [IW] how many columns reach iw */
    const int32_t *col_ow;   /* [IW][fwq] their ow, ascending (0 past col_n) */
    const int32_t *col_d;    /* [IW][fwq] ow * OC */
    const int32_t *col_w;    /* [IW][fwq] kw * wtap */
} bdn_plan;

/* Range functions over grad_src rows (n*IH + ih) for rr_parallel_for, ctx a bdn_plan. */
void rr_bdn_depthwise_avx512(void *ctx, int64_t begin, int64_t end);
void rr_bdn_channels_avx512(void *ctx, int64_t begin, int64_t end);
void rr_bdn_depthwise_avx2(void *ctx, int64_t begin, int64_t end);
void rr_bdn_channels_avx2(void *ctx, int64_t begin, int64_t end);

#endif /* RRCONV_BACKWARD_DATA_NHWC_H */
