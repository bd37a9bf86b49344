/*
 * forward_depthwise_rows_bf16__avx512.c -- the forward row segment kernel on bfloat16 src, outputs
 * rounded with integer arithmetic (any AVX-512 CPU): forward_depthwise_rows_bf16_body.h.
 */
#define DWBF_CVT 0
#define DWROW_ENTRY rr_fwd_dwrow_bf16_avx512
#include "forward_depthwise_rows_bf16_body.h"
