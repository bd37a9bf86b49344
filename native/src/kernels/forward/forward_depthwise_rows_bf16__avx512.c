/*
 * forward_depthwise_rows_bf16__avx512.c -- the forward row segment kernel (forward_depthwise_rows__avx512.c,
 * its loops and row pairs in forward_depthwise_rows_body.h) on bfloat16 src (widened exactly while the
 * row segments are loaded: zero-extend and shift by 16), float weights (packed by forward.c), float32
 * FMAs, each output element rounded once to the output type (bfloat16 with integer arithmetic, any
 * AVX-512 CPU; or float32) when stored. forward_depthwise_rows_bf16cvt__avx512.c is the same kernel
 * with vcvtneps2bf16 stores.
 */
#include "../common/tile_plan.h"
#include "../common/row_segments__avx512.h"

#define DWROW_T uint16_t
#define DWROW_SEGMENTS_LOAD rr_segments_load_bf16
#define DWROW_STORE(pl, dst, off, v, k, full) rr_store_out16((pl)->c.out_dtype, (dst), (off), (v), (k), (full))
#define DWROW_ENTRY rr_fwd_dwrow_bf16_avx512
#include "forward_depthwise_rows_body.h"
