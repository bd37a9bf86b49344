/*
 * forward_depthwise_rows_bf16cvt__avx512.c -- the forward row segment kernel on bfloat16 src, bfloat16
 * outputs rounded with vcvtneps2bf16 (AVX512_BF16: forward.c calls it only where
 * rr_cpu_has_bf16_dot() says so; compiled with -mavx512bf16, native/CMakeLists.txt):
 * forward_depthwise_rows_bf16_body.h.
 */
#define DWBF_CVT 1
#define DWROW_ENTRY rr_fwd_dwrow_bf16cvt_avx512
#include "forward_depthwise_rows_bf16_body.h"
