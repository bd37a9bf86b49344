/*
 * backward_filter_depthwise_rows__avx512.c -- depthwise filter gradient on AVX-512 for 3-wide filters with
 * "same" column padding (FW 3, pad_w 1, dil_w 1, stride_w 1) and FH <= 3: the row segment kernel of
 * the forward direction (row_segments__avx512.h) turned around,
 *   grad_w[c][kh][kw] += window(src row ih, kw) * diff[c][oh][block]   under the tap's mask,
 * accumulated in registers: an item is a block of RR_BWF_DWROW_CB channels over every tile of the
 * current mask chunk (tile_plan.h, row-wise tiles), so each channel's FH x 3 taps keep one
 * 16-lane accumulator each. An item starts from zero in the first mask chunk (else from the plan's
 * gacc, [G][9][16] partial sums) and in the last one sums each accumulator's 16 lanes into the
 * gradient (else stores it to gacc): nothing is left to do serially after the parallel pass.
 *
 * Per channel and tap the terms are summed in a fixed order (tiles in order, one lane per output
 * column modulo 16, then the lanes), and a channel belongs to one item: results do not depend on the
 * thread count. Masked-out lanes are never accumulated, so NaN/Inf in skipped pixels never reach the
 * gradient.
 */
#include "../common/tile_plan.h"
#include "../common/row_segments__avx512.h"

#define BWF_T float
#define BWF_SEGMENTS_LOAD rr_segments_load
#define BWF_LOADU _mm512_loadu_ps
#define BWF_MASKZ_LOADU _mm512_maskz_loadu_ps
#define BWF_PUT(pl, i, v) ((pl)->gw[i] = (v))
#define BWF_ENTRY rr_bwf_dwrow_avx512
#include "backward_filter_depthwise_rows_body.h"
