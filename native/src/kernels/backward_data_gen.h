/*
 * backward_data_gen.h -- the plan shared by the portable driver (backward_data.c) and the ISA loops
 * (backward_data_gen__avx512.c, backward_data_gen__avx2.c) of the fast backward-data kernel.
 *
 * grad_src is split into sh x sw phases (ih mod sh, iw mod sw). Inside one phase the taps that reach
 * it are fixed and the diff pixel a tap reads moves by one column per grad_src column of the phase,
 * so a block of VL grad_src pixels reads VL contiguous diff elements per tap:
 *     diff offset of lane l = block.dbase + l + tap.doff   (in one [OH, OW] plane)
 * Blocks are VL consecutive pixels of a phase row, or, when sh == sw == 1 and IW == OW, VL
 * consecutive pixels of the whole flattened image (row wraps are masked by the bounds bits).
 * Per image, block and tap a VL-bit lane mask (bounds and rin == rout) is computed once and reused
 * for every channel. Each grad_src element is summed by one work item, taps in the phase's tap order
 * (kh, kw ascending), then ocg ascending: results do not depend on the thread count.
 */
#ifndef RRCONV_BACKWARD_DATA_GEN_H
#define RRCONV_BACKWARD_DATA_GEN_H

#include "kernels.h"

#include <stdint.h>

typedef struct bd_tap {
    int64_t doff;      /* offh * OW + offw */
    int32_t offh, offw; /* oh = jh + offh, ow = jw + offw (jh, jw: phase-plane coordinates) */
    int32_t widx;      /* kh * FW + kw */
} bd_tap;

typedef struct bd_block {
    int64_t dbase;     /* diff (and rout) offset of lane 0 before the tap offset */
    int64_t obase;     /* grad_src (and rin) offset of lane 0 in one [IH, IW] plane */
    int32_t jh0, jw0;  /* phase-plane coordinates of lane 0 */
    int32_t nvalid;    /* lanes that are real pixels (1..VL) */
    int32_t phase;
} bd_block;

typedef struct bd_phase {
    int32_t rh, rw;
    int32_t plane_w;   /* phase-plane width (columns iw = rw + sw*jw) */
    int32_t flat;      /* blocks run over the flattened plane */
    int32_t tap0, ntaps;
    int64_t blk0, nblk;
    int64_t mask_off;  /* offset of this phase's masks in one image: [nblk][ntaps] */
} bd_phase;

typedef struct bd_chunk {
    int64_t blk0;      /* first block; all blocks of a chunk belong to one phase */
    int32_t nb;        /* blocks in the chunk, 1..tile width */
    int32_t phase;
} bd_chunk;

typedef struct bd_plan {
    const rr_problem *p;
    int32_t vl;                  /* lanes: 16 (AVX-512) or 8 (AVX2) */
    int32_t icb;                 /* input channels per register tile */
    int32_t nbt;                 /* blocks per register tile */
    int64_t nicb;                /* ceil(icpg / icb) */
    int32_t nphases;
    bd_phase *phases;
    bd_tap *taps;
    int64_t nblocks;
    bd_block *blocks;
    int64_t nchunks;
    bd_chunk *chunks;
    int32_t max_taps;
    int64_t masks_per_image;     /* sum over phases of nblk * ntaps */
    void *masks;                 /* [batch images][masks_per_image], uint16 (VL 16) or uint8 (VL 8) */
    const void *zero_masks;      /* max_taps zero masks (padding blocks of a short chunk) */
    int64_t n0, nimg;            /* the image batch being processed */
    const float *wpack;          /* [G][nicb][FH*FW][OCPG][icb], zero-padded icg >= ICPG */
} bd_plan;

/* Work items of the mask pass: (image of the batch, block). */
void rr_bd_masks_avx512(void *plan, int64_t begin, int64_t end);
void rr_bd_masks_avx2(void *plan, int64_t begin, int64_t end);

/* Work items of the compute pass: (image of the batch, g, chunk, icb) with icb fastest. */
void rr_bd_compute_avx512(void *plan, int64_t begin, int64_t end);
void rr_bd_compute_avx2(void *plan, int64_t begin, int64_t end);

/* The register tiles each ISA file implements (icb x nbt). */
#define RR_BD_TILES(X) X(1, 8) X(2, 8) X(4, 6) X(8, 3)

#endif /* RRCONV_BACKWARD_DATA_GEN_H */
