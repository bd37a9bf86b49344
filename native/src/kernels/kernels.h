/*
 * kernels.h -- the fast kernels behind dispatch.c.
 *
 * Every fast kernel runs on a *normalized* problem (see rr_normalize in internal.h): all tensors dense
 * C order, cross-correlation (filter already flipped for convolution mode), int32 masks. It must give
 * results that do not depend on the thread count (static split over outputs, fixed summation order per
 * output element), must skip masked-out taps entirely (never multiply a skipped element by zero: a NaN
 * or Inf there must not reach the output), and must never read outside the tensors.
 *
 * One picker per direction: given the normalized sizes and the active ISA (already capped by
 * RRCONV_MAX_ISA), returns the kernel to run, or NULL to fall back to the reference loops.
 * Files: <direction>.c holds the picker and the portable code; <direction>_<variant>__<isa>.c hold
 * the ISA-specific loops (compiled with that ISA's flags only, called only after run-time detection).
 */
#ifndef RRCONV_KERNELS_H
#define RRCONV_KERNELS_H

#include "../internal.h"

rr_kernel_fn rr_pick_forward(const rr_conv *c, rr_isa isa);
rr_kernel_fn rr_pick_backward_data(const rr_conv *c, rr_isa isa);
rr_kernel_fn rr_pick_backward_filter(const rr_conv *c, rr_isa isa);

/* The direct forward kernel (forward.c) on a normalized problem at ISA isa (AVX2 or AVX-512), for
 * directions that reduce to a forward correlation (backward_data.c: the stride-1 depthwise adjoint).
 * Reads only c, src, filter, rin, rout and out. */
rrconv_status rr_forward_direct(const rr_problem *p, rr_isa isa);

/* Tests only: bytes of tap masks per chunk of the forward plan (0 restores the default, 4 MiB), so
 * that small problems run the chunk loop of huge images. */
void rr_forward_set_mask_budget(int64_t bytes);

/* The forward kernels' size limits (coordinates in int32 lanes, bounded scratch). */
int rr_forward_geometry_fits(const rr_conv *c);

/* Depthwise with FW 3..13 (odd) or 31, "same" pad_w, dil_w 1, stride_w 1: on AVX-512 the forward
 * row segment kernel (forward_dwrow__avx512.c) runs it. */
int rr_forward_dwrow_fits(const rr_conv *c);

/* Depthwise filter gradient with FW 3, pad_w 1, dil_w 1, stride_w 1, FH <= 3 on AVX-512: the forward
 * plan's masks feed the row segment filter-gradient kernel (backward_filter_dwrow__avx512.c). */
int rr_forward_dwrow_filter_grad_fits(const rr_conv *c);
rrconv_status rr_forward_dwrow_filter_grad(const rr_problem *p);

#endif /* RRCONV_KERNELS_H */
