/*
 * forward_depthwise_rows_bf16cvt__avx512.c -- forward_depthwise_rows_bf16__avx512.c with the bfloat16
 * stores rounded by vcvtneps2bf16 (rr_store_out16_bf16cvt, the same bits): AVX512_BF16 CPUs only
 * (forward.c calls it where rr_cpu_has_bf16_dot() says so; compiled with -mavx512bf16,
 * native/CMakeLists.txt).
 */
#include "../common/tile_plan.h"
#include "../common/row_segments__avx512.h"

#define DWROW_T uint16_t
/* narrow filters widen with vpermw (row_segments__avx512.h says why not wide ones) */
#define DWROW_SEGMENTS_LOAD(seg, p, s, ow0, NB, FULL, FW)                                             \
    ((FW) <= 7 ? rr_segments_load_bf16_perm(seg, p, s, ow0, NB, FULL) : rr_segments_load_bf16(seg, p, s, ow0, NB, FULL))
#define DWROW_STORE(pl, dst, off, v, k, full) \
    rr_store_out16_bf16cvt((pl)->c.out_dtype, (dst), (off), (v), (k), (full))
#define DWROW_ENTRY rr_fwd_dwrow_bf16cvt_avx512
#include "forward_depthwise_rows_body.h"
