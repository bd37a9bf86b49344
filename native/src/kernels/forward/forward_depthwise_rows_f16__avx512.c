/*
 * forward_depthwise_rows_f16__avx512.c -- the forward row segment kernel (forward_depthwise_rows__avx512.c)
 * on float16 src (widened exactly while the row segments are loaded), float weights (packed by forward.c),
 * float32 FMAs, each output element rounded once to the output type (float16 or float32) when stored.
 */
#include "../common/tile_plan.h"
#include "../common/row_segments__avx512.h"

#define DWROW_T uint16_t
#define DWROW_SEGMENTS_LOAD(seg, p, s, ow0, NB, FULL, FW) rr_segments_load_f16(seg, p, s, ow0, NB, FULL)
#define DWROW_STORE(pl, dst, off, v, k, full) rr_store_out16((pl)->c.out_dtype, (dst), (off), (v), (k), (full))
#define DWROW_ENTRY rr_fwd_dwrow_f16_avx512
#include "forward_depthwise_rows_body.h"
