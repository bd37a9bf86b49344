/*
 * forward_depthwise_rows_bf16__avx512.c -- the forward row segment kernel (forward_depthwise_rows__avx512.c,
 * its loops and row pairs in forward_depthwise_rows_body.h) on bfloat16 src (widened exactly while the
 * row segments are loaded: the bit patterns moved into the high halves of zeroed floats), float
 * weights (packed by forward.c), float32 FMAs, each output element rounded once to the output type
 * (bfloat16 with integer arithmetic, any AVX-512 CPU; or float32) when stored.
 * forward_depthwise_rows_bf16cvt__avx512.c is the same kernel with vcvtneps2bf16 stores.
 */
#include "../common/tile_plan.h"
#include "../common/row_segments__avx512.h"

#define DWROW_T uint16_t
/* narrow filters widen with vpermw (row_segments__avx512.h says why not wide ones) */
#define DWROW_SEGMENTS_LOAD(seg, p, s, ow0, NB, FULL, FW)                                             \
    ((FW) <= 7 ? rr_segments_load_bf16_perm(seg, p, s, ow0, NB, FULL) : rr_segments_load_bf16(seg, p, s, ow0, NB, FULL))
#define DWROW_STORE(pl, dst, off, v, k, full) rr_store_out16((pl)->c.out_dtype, (dst), (off), (v), (k), (full))
#define DWROW_ENTRY rr_fwd_dwrow_bf16_avx512
#include "forward_depthwise_rows_body.h"
