/*
 * forward_tiles__avx512.c -- the forward tile kernels' loops (channel tiles and depthwise tiles) on
 * AVX-512: forward_tiles_body.h over common/tile_lanes__avx512.h. Depthwise tiles may be vertical
 * (FD_VTILE).
 */
#include "../common/tile_lanes__avx512.h"

#define FD_OC_CASES(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12)
#define FD_DW_CASES(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12)
#define FD_ACC_MAX 12
#define FD_VTILE 1

#include "forward_tiles_body.h"
