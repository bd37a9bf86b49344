/*
 * backward_data_phases.h -- the plan shared by the portable driver (backward_data.c) and the ISA loops
 * (backward_data_phases__avx512.c, backward_data_phases__avx2.c) of the fast backward-data kernel.
 *
 * grad_src is split into sh x sw phases (ih mod sh, iw mod sw). Inside one phase the taps that reach
 * it are fixed and the diff pixel a tap reads moves by one column per grad_src column of the phase,
 * so a block of VL grad_src pixels reads VL contiguous diff elements per tap:
 *     diff offset of lane l = block.dbase + l + tap.doff   (in one [OH, OW] plane)
 * Blocks are VL consecutive pixels of a phase row, or, when sh == sw == 1 and IW == OW, VL
 * consecutive pixels of the whole flattened image (row wraps are masked by the bounds bits).
 * Blocks are grouped into chunks of nbt blocks of one phase (one register tile). Per image and chunk
 * the mask pass lists the taps with any lane set, each with nbt VL-bit lane masks (bounds and
 * rin == rout), once for all channels; the compute pass runs that list for every channel. Each
 * grad_src element is summed by one work item, taps in the phase's tap order (kh, kw ascending),
 * then ocg ascending: results do not depend on the thread count.
 *
 * Depthwise (ICPG == OCPG == 1) with flattened blocks has its own tile: dw_cb channels x nbt blocks,
 * the blocks of a chunk being consecutive pixels.
 *
 * Depthwise with stride 1, dilation_h 1 and FH in {3, 5, ..., 13} on AVX-512 ("row" mode) shares each
 * diff load across the output rows it reaches: a chunk is RR_BD_DWR_R(FH) rows x 2 column blocks (block
 * 2*i + j = row i, column block j; a missing column block is a dummy with nvalid 0), its masks are
 * kept for every tap (no list), tap index kw*FH + kh.
 */
#ifndef RRCONV_BACKWARD_DATA_GEN_H
#define RRCONV_BACKWARD_DATA_GEN_H

#include "../kernels.h"

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
    int32_t nvalid;    /* lanes that are real pixels (1..VL; 0 for a dummy block in row mode) */
    int32_t phase;
} bd_block;

typedef struct bd_phase {
    int32_t rh, rw;
    int32_t plane_w;   /* phase-plane width (columns iw = rw + sw*jw) */
    int32_t flat;      /* blocks run over the flattened plane */
    int32_t tap0, ntaps;
    int64_t blk0, nblk;
    int64_t chunk0;    /* first chunk */
    int64_t mask_off;  /* offset of this phase's masks in one image: [chunks][ntaps][nbt] */
    int64_t list_off;  /* offset of this phase's tap lists in one image: [chunks][ntaps] */
} bd_phase;

typedef struct bd_chunk {
    int64_t blk0;      /* first block; all blocks of a chunk belong to one phase */
    int32_t nb;        /* blocks in the chunk, 1..tile width */
    int32_t phase;
    int64_t local;     /* index of the chunk inside its phase */
} bd_chunk;

typedef struct bd_plan {
    const rr_problem *p;
    int32_t vl;                  /* lanes: 16 (AVX-512) or 8 (AVX2) */
    int32_t icb;                 /* input channels per register tile */
    int32_t nbt;                 /* blocks per register tile */
    int64_t nicb;                /* ceil(icpg / icb) (generic tile) */
    int32_t dw;                  /* depthwise tile: dw_cb channels x nbt consecutive blocks */
    int32_t dw_cb;
    int64_t ncb;                 /* ceil(groups / dw_cb) (depthwise tile) */
    int32_t dwr;                 /* depthwise row mode (AVX-512) */
    int32_t dense_masks;         /* the mask pass keeps every tap (counts = ntaps, lists unused) */
    const uint16_t *colmask;     /* row mode: [column block][kw] lanes whose diff column is inside */
    int32_t nphases;
    bd_phase *phases;
    bd_tap *taps;
    int64_t nblocks;
    bd_block *blocks;
    int64_t nchunks;
    bd_chunk *chunks;
    int64_t masks_per_image;     /* sum over phases of chunks * ntaps * nbt */
    int64_t lists_per_image;     /* sum over phases of chunks * ntaps */
    void *masks;                 /* [batch images][masks_per_image], uint16 (VL 16) or uint8 (VL 8) */
    int32_t *lists;              /* [batch images][lists_per_image]: tap index in the phase */
    int32_t *counts;             /* [batch images][nchunks]: listed taps */
    int64_t n0, nimg;            /* the image batch being processed */
    int32_t finite_w;            /* every packed weight is finite (see BD_FMA_FINITE) */
    int32_t stride_idx[4][16];   /* 2 <= sw <= 4: run s of 16 row floats takes lane stride_idx[s][q]... */
    uint16_t stride_mask[4];     /* ... at the positions q set here (q + 16*s a multiple of sw) */
    const float *wpack;          /* generic: [G][nicb][FH*FW][OCPG][icb], zero-padded icg >= ICPG;
                                    depthwise: [ncb][FH*FW][dw_cb], zero-padded g >= G */
} bd_plan;

/* Work items of the mask pass: (image of the batch, chunk). */
void rr_bd_masks_avx512(void *plan, int64_t begin, int64_t end);
void rr_bd_masks_avx2(void *plan, int64_t begin, int64_t end);

/* Row mode compute pass: (image of the batch, channel, chunk) with the chunk fastest. */
void rr_bd_dwr_avx512(void *plan, int64_t begin, int64_t end);

/* Work items of the compute pass: generic (image of the batch, g, chunk, icb) with icb fastest;
   depthwise (image of the batch, channel block, chunk) with the chunk fastest (streams through planes). */
void rr_bd_compute_avx512(void *plan, int64_t begin, int64_t end);
void rr_bd_compute_avx2(void *plan, int64_t begin, int64_t end);
/* The same on half diff (backward_data_phases_{bf16,f16}__avx512.c; the mask pass above serves them).
 * No AVX2 ones: without 16-bit masked loads, widening in the loads measured slower there than the
 * float32 pass on widened diff (rough, 1 thread: GRP 1.15x, DW-K3 1.1-1.5x, DW-K7 1.55x). */
void rr_bd_compute_bf16_avx512(void *plan, int64_t begin, int64_t end);
void rr_bd_compute_f16_avx512(void *plan, int64_t begin, int64_t end);

/*
 * The register tiles (icb x nbt) and the depthwise tile (channels x blocks) of each ISA: they fit the
 * register file (32 zmm; 16 ymm, where the lane masks of the blocks take registers too).
 */
#define RR_BD_TILES_AVX512(X) X(1, 8) X(2, 8) X(4, 6) X(8, 3)
#define RR_BD_DW_CB_AVX512 4
#define RR_BD_DW_NB_AVX512 6
#define RR_BD_TILES_AVX2(X) X(1, 5) X(2, 3) X(4, 2)
#define RR_BD_DW_CB_AVX2 2
#define RR_BD_DW_NB_AVX2 4
/* Row-mode rows per chunk: 2R accumulators + FH weights + 2 loads fit 32 zmm registers. */
#define RR_BD_DWR_R(fh) ((fh) <= 5 ? 12 : (29 - (fh)) / 2)
/* The most blocks a chunk may have. */
#define RR_BD_MAX_NB 24

#endif /* RRCONV_BACKWARD_DATA_GEN_H */
