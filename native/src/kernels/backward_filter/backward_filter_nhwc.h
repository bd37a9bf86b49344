/*
 * backward_filter_nhwc.h -- what the channels-last backward-filter rows (backward_filter_nhwc_body.h,
 * compiled per ISA) share with backward_filter.c, which holds their applies() predicates.
 */
#ifndef RRCONV_BACKWARD_FILTER_NHWC_H
#define RRCONV_BACKWARD_FILTER_NHWC_H

#include "../kernels.h"

#include <stdint.h>

/* Images per batch of the NHWC rows' active-tap scratch (bits or pixel lists), >= 1 and <= N. */
int64_t rr_bwf_nhwc_batch(const rr_conv *c);

/* Output rows per chunk of backward_filter_nhwc_tapgemm: about the same number of pixels as a batch
 * (rr_bwf_nhwc_set_batch_pixels sets it for the tests), >= 1 and <= N * OH. */
int64_t rr_bwf_nhwc_chunk_rows(const rr_conv *c);

#endif /* RRCONV_BACKWARD_FILTER_NHWC_H */
