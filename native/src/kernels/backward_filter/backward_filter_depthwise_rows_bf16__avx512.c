/*
 * backward_filter_depthwise_rows_bf16__avx512.c -- the filter-gradient row segment kernel
 * (backward_filter_depthwise_rows__avx512.c) on bfloat16 src and diff (widened exactly when loaded),
 * float32 FMAs and partial sums, each gradient element rounded once to the output type (bfloat16 or
 * float32) when stored.
 */
#include "../../half.h"
#include "../common/tile_plan.h"
#include "../common/row_segments__avx512.h"

#define BWF_T uint16_t
/* widened with vpermw (row_segments__avx512.h): FW is 3 here, where it saves an instruction per load */
#define BWF_SEGMENTS_LOAD rr_segments_load_bf16_perm
#define BWF_LOADU rr_load_bf16_perm
#define BWF_MASKZ_LOADU rr_maskz_load_bf16_perm
#define BWF_PUT(pl, i, v) rr_store((pl)->gw, (pl)->c.out_dtype, (i), (v))
#define BWF_ENTRY rr_bwf_dwrow_bf16_avx512
#include "backward_filter_depthwise_rows_body.h"
