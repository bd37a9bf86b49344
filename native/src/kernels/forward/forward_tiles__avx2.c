/*
 * forward_tiles__avx2.c -- the forward tile kernels' loops (channel tiles and depthwise tiles) on
 * AVX2 + FMA: forward_tiles_body.h over common/tile_lanes__avx2.h.
 */
#include "../common/tile_lanes__avx2.h"

#define FD_OC_CASES(X) X(1) X(2) X(3) X(4) X(5)
#define FD_DW_CASES(X) X(1) X(2) X(3) X(4)
#define FD_ACC_MAX 5
#define FD_VTILE 0

#include "forward_tiles_body.h"
