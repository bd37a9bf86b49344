/*
 * tile_masks__avx512.c -- the tile plan's mask pass on AVX-512 (tile_masks_body.h).
 */
#include "tile_lanes__avx512.h"

#include "tile_masks_body.h"
