/*
 * forward.h -- what other directions use of the forward rows: the backward-data depthwise adjoint
 * runs forward's row segment kernel on a transformed problem.
 */
#ifndef RRCONV_FORWARD_H
#define RRCONV_FORWARD_H

#include "../kernels.h"

/* Depthwise, FW one of RR_DWROW_WIDTHS, pad_w (FW-1)/2, dil_w 1, stride_w 1 (no size limits checked). */
int rr_forward_depthwise_rows_fits(const rr_conv *c);

/* The forward row segment kernel (AVX-512) on a normalized problem that rr_forward_depthwise_rows_fits. */
rrconv_status rr_forward_depthwise_rows_run(const rr_problem *p);

/* forward_nhwc_tapgemm__avx512 keeps a list of active pixels per tap: FH * FW at most this. */
#define RR_TAPGEMM_MAX_TAPS 64

#endif /* RRCONV_FORWARD_H */
