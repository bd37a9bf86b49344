/*
 * forward_tiles_f16__avx2.c -- the forward tile kernels (forward_tiles__avx2.c, forward_tiles_body.h) on
 * float16 src with AVX2 + F16C: every load widens its 8 elements exactly (common/half__avx2.h: no
 * widened copy of the tensor), weights packed as floats (forward.c), float32 FMAs in the float32 kernel's
 * order, each output element rounded once to the output type (float16 or float32) when stored.
 */
#include "../common/tile_lanes__avx2.h"
#include "../common/half__avx2.h"

#define FD_OC_CASES(X) X(1) X(2) X(3) X(4) X(5)
#define FD_DW_CASES(X) X(1) X(2) X(3) X(4)
#define FD_ACC_MAX 5
#define FD_VTILE 0

#define FD_T uint16_t
/* the whole src tensor (or its phase planes) bounds the plain loads */
#define FD_SRC_LOAD(pl, k, p)                                                                          \
    rr_avx2_widen(RR_DT_F16, rr_avx2_load8_u16((p), (k), (const uint16_t *)(const void *)(pl)->src,     \
                                                (const uint16_t *)(const void *)(pl)->src +             \
                                                    (pl)->c.n * (pl)->c.ic * (pl)->src_chan))
#define FD_OUT_STORE(pl, dst, off, k, v) rr_avx2_store_out8((pl)->c.out_dtype, (dst), (off), (k), (v))
#define FD_NAME(name) name##_f16_avx2

#include "forward_tiles_body.h"
