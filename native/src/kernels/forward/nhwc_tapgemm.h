/*
 * nhwc_tapgemm.h -- the body of forward_nhwc_tapgemm__avx512 (forward_nhwc_tapgemm__avx512.c), callable
 * on an explicit problem: backward_data_nhwc_tapgemm__avx512 runs it on the forward conv that a stride-1
 * backward data is (diff as src, the filter transposed per group and flipped, the masks swapped).
 */
#ifndef RRCONV_NHWC_TAPGEMM_H
#define RRCONV_NHWC_TAPGEMM_H

#include "../kernels.h"

#include <stdint.h>

/* Floats per (group, tap, input channel) row of the packed filter: OCPG rounded up to 16. */
static inline int64_t rr_tapgemm_cp(const rr_conv *c)
{
    return (c->ocpg + 15) / 16 * 16;
}

/*
 * The forward of c (cross-correlation; its sizes, strides, paddings and dilations as the fields say, no
 * other check; FH * FW <= RR_TAPGEMM_MAX_TAPS, FW <= RR_TAPS_MAX_FW, FH <= RR_TAPS_MAX_FH): src dense
 * [N][IH][IW][IC], dst dense [N][OH][OW][OC] (every element written), int32 masks rin [N][IH][IW] and
 * rout [N][OH][OW], a product counted where rin at its src pixel == rout at its dst pixel; w the packed
 * filter [G][FH * FW][ICPG][rr_tapgemm_cp(c)], zeros past OCPG. Each dst element is summed in the order
 * (kh, kw, icg) from 0.0f by one work item (a run of an output row): the same bits for every thread
 * count. Threads by rr_parallel_for. AVX-512 only.
 */
void rr_nhwc_tapgemm_run_avx512(const rr_conv *c, const float *src, const float *w, const int32_t *rin,
                                const int32_t *rout, float *dst);

#endif /* RRCONV_NHWC_TAPGEMM_H */
