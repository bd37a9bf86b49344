/*
 * tile_masks__avx2.c -- the tile plan's mask pass on AVX2 (tile_masks_body.h).
 */
#include "tile_lanes__avx2.h"

#include "tile_masks_body.h"
