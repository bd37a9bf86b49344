/*
 * backward_filter_plan.h -- what the fast backward-filter kernels share (kernels/backward_filter*.c).
 *
 * grad_filter[g, ocg, icg, kh, kw] is a masked dot product over all output pixels of one image batch:
 * sum over n, oh, ow of diff[n, oc, oh, ow] * src[n, ic, ih, iw] over the taps inside the image whose
 * regions agree. The kernels vectorize over output pixels in blocks of 16 lanes.
 *
 * The pixel domain of an image is R rows of Bn blocks of 16 lanes:
 *   - by rows (R = OH, a block holds ow = 16b .. 16b+15 of row oh = r), or
 *   - flattened (stride 1 and IW == OW: R = 1, lane p = oh*OW + ow): no row tails, and the src
 *     element of a tap is at a fixed offset from the pixel, (kh*dh - ph)*IW + kw*dw - pw.
 * For stride_w > 1 src is packed into sw column phase planes per row (iw = col*sw + phase), so that a
 * tap again reads a contiguous run of columns.
 *
 * Tap predicate bits (bounds and rin == rout, one bit per lane) are computed once per image,
 * mask[n][r][b][tap] (uint16, tap = kh*FW + kw), and shared by every channel. Every load of a lane
 * whose bit is clear is masked off (never faults, never reads), and such a lane never changes an
 * accumulator, so a NaN or Inf there cannot reach the output.
 *
 * Determinism: work items are sets of filter elements; each element is summed by one item, in the
 * order image batch, n, r, b per vector lane, the lanes then reduced in a fixed order; an image batch
 * result is added to the previous batches' in batch order. Nothing depends on the thread count.
 */
#ifndef RRCONV_BACKWARD_FILTER_PLAN_H
#define RRCONV_BACKWARD_FILTER_PLAN_H

#include "../kernels.h"

#include <stdint.h>

typedef struct rr_bwf_plan {
    rr_conv c;
    int flat;                 /* pixel domain flattened (see above) */
    int64_t rows, blocks;     /* R, Bn */
    int64_t lanes;            /* valid lanes per row: OW, or OH*OW when flat */
    int64_t origin;           /* flat only (else 0): lane l of block b is pixel 16b + l - origin, chosen
                                 so that diff blocks start on 64-byte boundaries; src and diff below
                                 point origin elements before the tensors */
    int64_t ntaps;            /* FH*FW */

    /* image batch [n0, n1) being processed; masks cover only this batch */
    int64_t n0, n1;
    int first_batch;          /* 1: write the output, 0: add to it */
    const uint16_t *mask;     /* [n1-n0][R][Bn][ntaps] */

    /* src (possibly phase-packed; half bit patterns for a half problem, never packed): element of (n, ic, r, kh, kw, lane j of block b) at
       src + n*src_n + ic*src_c + row_off(r, kh) + col_off[kw] + 16*b + j,
       row_off(r, kh) = (r*sh - ph + kh*dh) * src_row   (by rows), or row_off0[kh] (flat) */
    const float *src;
    int64_t src_n, src_c, src_row;
    const int64_t *row_off0;  /* [FH], flat only */
    const int64_t *col_off;   /* [FW] */
    const int64_t *r_lo, *r_hi; /* [FH]: rows r whose tap row ih is inside the image (by rows) */

    /* diff element of (n, oc, r, lane j of block b) at diff + n*diff_n + oc*diff_c + r*diff_r + 16*b + j */
    const float *diff;
    int64_t diff_n, diff_c, diff_r;

    float *out;               /* dense [G, OCPG, ICPG, FH, FW] */
} rr_bwf_plan;

/* A kernel's image-batch pass: runs all its work items over the batch of plan (in parallel). */
typedef void (*rr_bwf_pass_fn)(const rr_bwf_plan *plan);

/* What a mask builder gets: items (n - n0)*R + r, each writing mask[n - n0][r][*][*]. */
typedef struct rr_bwf_mask_ctx {
    const rr_bwf_plan *plan;
    uint16_t *mask;
    const int32_t *rin, *rout;
} rr_bwf_mask_ctx;

/*
 * Builds the plan of normalized problem q (packs src if needed, computes masks batch by batch with
 * mask_rows, or the portable loop if NULL; the picker has checked that every coordinate fits an
 * int32 lane) and calls
 * pass once per image batch. allow_origin: the pass handles a non-zero origin (its diff loads are
 * masked by the tap bits). Returns RRCONV_OUT_OF_MEMORY (nothing written) if the scratch cannot
 * be allocated.
 */
rrconv_status rr_bwf_run(const rr_problem *q, rr_bwf_pass_fn pass, rr_range_fn mask_rows, int allow_origin);

/* The AVX-512 and AVX2 mask builders (rr_range_fn over rr_bwf_mask_ctx). */
void rr_bwf_mask_rows_avx512(void *ctx, int64_t begin, int64_t end);
void rr_bwf_mask_rows_avx2(void *ctx, int64_t begin, int64_t end);

/* The byte size of the mask of one image (0 if it does not fit in int64). */
int64_t rr_bwf_mask_bytes_per_image(const rr_conv *c);

/* ISA passes (backward_filter_tile__<isa>.c) and their kernels. */
void rr_bwf_pass_tile_avx512(const rr_bwf_plan *plan);
void rr_bwf_pass_dw_avx512(const rr_bwf_plan *plan);
void rr_bwf_pass_tile_avx2(const rr_bwf_plan *plan);
void rr_bwf_pass_dw_avx2(const rr_bwf_plan *plan);
/* The depthwise pass on half src and diff (c.dtype bf16 / f16: their bit patterns behind the plan's float
 * pointers, offsets in elements); out stays float (rr_bwf_run rounds it once to the output type). */
void rr_bwf_pass_dw_bf16_avx512(const rr_bwf_plan *plan);
void rr_bwf_pass_dw_f16_avx512(const rr_bwf_plan *plan);
/* The same for the dense / grouped pass (backward_filter_tile_{bf16,f16}__avx512.c). No AVX2 ones: without
 * 16-bit masked loads, widening in the loads measured about 2x slower there than the float32 passes on
 * widened data (rough, 1 thread: GRP 2.3-2.7x, DW-K3 2.2x, DW-K7 1.9x). */
void rr_bwf_pass_tile_bf16_avx512(const rr_bwf_plan *plan);
void rr_bwf_pass_tile_f16_avx512(const rr_bwf_plan *plan);

#endif /* RRCONV_BACKWARD_FILTER_PLAN_H */
