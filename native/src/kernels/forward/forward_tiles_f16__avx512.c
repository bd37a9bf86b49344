/*
 * forward_tiles_f16__avx512.c -- the forward tile kernels (forward_tiles__avx512.c, forward_tiles_body.h) on
 * float16 src: every masked load widens its 16 elements exactly (no widened copy of the tensor),
 * weights packed as floats (forward.c), float32 FMAs in the float32 kernel's order, each output element
 * rounded once to the output type (float16 or float32) when stored.
 */
#include "../common/tile_lanes__avx512.h"
#include "../common/half__avx512.h"

#define FD_OC_CASES(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12)
#define FD_DW_CASES(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12)
#define FD_ACC_MAX 12
#define FD_VTILE 1

#define FD_T uint16_t
#define FD_SRC_LOAD(pl, k, p) rr_maskz_load_f16((k), (p))
#define FD_OUT_STORE(pl, dst, off, k, v) rr_store_out16((pl)->c.out_dtype, (dst), (off), (v), (k), 0)
#define FD_NAME(name) name##_f16_avx512

#include "forward_tiles_body.h"
