/*
 * tile_plan.h -- the tile plan: what the forward tile kernels (forward/forward_tiles__<isa>.c), the
 * forward row segment kernel (forward/forward_depthwise_rows__avx512.c) and the backward-filter row
 * segment kernel (backward_filter/backward_filter_depthwise_rows__avx512.c) share. tile_plan.c sets
 * the plan up and drives it (rr_tile_run), tile_masks__<isa>.c compute its masks, each kernel runs its
 * compute loop over it.
 *
 * The output is cut into BLOCKS of `lanes` consecutive output pixels (16 for AVX-512, 8 for AVX2)
 * and a TILE is two blocks of one image (the last tile of an image may hold one): two consecutive
 * blocks, or with `vertical` (depthwise, stride_h == dil_h == 1, AVX-512) the blocks of the same
 * columns in output rows 2r and 2r+1, whose taps (kh+1, kw) and (kh, kw) read the same pixels, so
 * one load serves both. Blocks are laid out
 *   flat      (stride 1 and OW == IW): a block is lanes consecutive pixels of the flattened OH*OW
 *             plane, so rows need no tail blocks; lanes that wrap into the next row are correct
 *             because their taps' bounds are checked per lane;
 *   row-wise  otherwise: a block is lanes consecutive pixels of one output row.
 * For stride_w > 1, src and rin are repacked into stride_w phase planes ([sw][IH][PW], column j of
 * phase r = input column j*sw + r), so that the input pixels of one tap over a block are contiguous.
 *
 * For every block and tap, the lane mask (pixel inside the image AND rin == rout) is computed once
 * and reused for every channel: masks[tile][tap][2 blocks]. A tap with an all-zero mask is skipped;
 * inside a tap, masked-out lanes are neither loaded nor accumulated (masked loads + masked FMAs on
 * AVX-512, masked loads + blends on AVX2), so a NaN there never reaches dst.
 *
 * The address of a tap's input pixels for a block: channel base + sbase(block) + toff[tap].
 * Each output element is summed by one item in a fixed order (kh, kw, then icg): results do not
 * depend on the thread count.
 */
#ifndef RRCONV_TILE_PLAN_H
#define RRCONV_TILE_PLAN_H

#include "../kernels.h"

#include <stdint.h>

/* Where the two blocks of a tile are (filled by the mask pass, read by the compute pass). */
typedef struct rr_tile {
    int64_t n;            /* image */
    int64_t d0, d1;       /* dst offsets of the blocks inside an (n, oc) plane */
    int64_t s0, s1;       /* src offsets (sbase) of the blocks inside an (n, ic) channel */
    int32_t oh0, ow0;     /* output row and column of block 0's first pixel */
    int32_t oh1, ow1;     /* the same for block 1 */
    uint32_t lv;          /* real lanes: block 0 in bits 0..15, block 1 in bits 16..31 */
    int32_t two;          /* the tile has a second block */
} rr_tile;

typedef struct rr_tile_plan {
    rr_conv c;
    int lanes;            /* pixels per block: 16 or 8 */
    int flat;             /* blocks run over the flattened OH*OW plane */
    int vertical;         /* tiles pair the blocks of output rows 2r and 2r+1 (row-wise only) */
    int64_t pw;           /* width of a phase plane (IW when stride_w == 1) */
    int64_t plane;        /* IH * pw */
    int64_t src_chan;     /* elements of one channel of src: stride_w * plane */
    int64_t bpr;          /* blocks per output row (row-wise) */
    int64_t bpi;          /* blocks per image */
    int64_t tpi;          /* tiles per image: ceil(bpi / 2), vertical: ceil(OH / 2) * bpr */
    int64_t taps;         /* FH * FW */
    const float *src;     /* [N][IC][sw][IH][pw] (or the normalized src when stride_w == 1); of type
                           * c.dtype: the half rows cast it to uint16_t (bit patterns) */
    const int32_t *rin;   /* [N][sw][IH][pw] */
    const int32_t *rout;  /* [N][OH][OW] */
    const float *w;       /* packed per channel block: oc [taps][ICPG][no], depthwise [taps][nc] */
    float *dst;           /* [N][OC][OH][OW], of type c.out_dtype (half rows: see src) */
    const int64_t *toff;  /* [taps]: (kh*dh - ph)*pw + r*plane + q */
    const int32_t *khoff; /* [FH]: kh*dh - ph */
    const int32_t *q;     /* [FW]: floor((kw*dw - pw) / sw) */
    const int32_t *lr;    /* [FW]: columns of the tap's phase plane */
    void *masks;          /* [chunk tiles][taps][2] of uint16_t (AVX-512) or uint8_t (AVX2) */
    rr_tile *tiles;   /* [chunk tiles] */
    int64_t span;         /* tiles per compute item */
    int64_t nspans;       /* ceil(ntiles / span) */
    int64_t tile0;        /* first global tile (n*tpi + tile) of the current chunk */
    int64_t ntiles;       /* tiles in the current chunk */
    int64_t ocb, nob;     /* oc kernel: output channels per block, blocks per group */
    int64_t cb, ncb;      /* depthwise kernel: channels per block, blocks */
    const float *diff;    /* filter-gradient kernel: [N][OC][OH][OW] */
    float *gacc;          /* filter-gradient kernel: [G][9 taps][16 lanes] partial sums between mask
                           * chunks (NULL when there is one chunk) */
    float *gw;            /* filter-gradient kernel: the output, [G][FH * 3] */
    int first_chunk;      /* filter-gradient kernel: the current chunk is the first / the last: start */
    int last_chunk;       /* from zero / sum the lanes into gw */
    const void *job_data; /* what a job's prepare adds for its compute pass (the bfloat16 dot-product
                           * filter gradient: common/bf16dot.h), else NULL */
} rr_tile_plan;

/* Block number blk (0 .. bpi-1) of an image: where its pixels are, how many lanes are real. */
static inline void rr_tile_block(const rr_tile_plan *pl, int64_t blk, int64_t *dbase, int64_t *sbase, int *nvalid)
{
    const int64_t L = pl->lanes;
    if (pl->flat) {
        const int64_t p0 = blk * L, total = pl->c.oh * pl->c.ow;
        *dbase = p0;
        *sbase = p0;
        *nvalid = (int)(total - p0 < L ? total - p0 : L);
    } else {
        const int64_t oh = blk / pl->bpr, ow0 = (blk % pl->bpr) * L;
        *dbase = oh * pl->c.ow + ow0;
        *sbase = oh * pl->c.sh * pl->pw + ow0;
        *nvalid = (int)(pl->c.ow - ow0 < L ? pl->c.ow - ow0 : L);
    }
}

/* The blocks of tile number tile (0 .. tpi-1) of an image; returns 1 if there is a second one. */
static inline int rr_tile_blocks(const rr_tile_plan *pl, int64_t tile, int64_t *b0, int64_t *b1)
{
    if (pl->vertical) {
        const int64_t rp = tile / pl->bpr, col = tile % pl->bpr;
        *b0 = 2 * rp * pl->bpr + col;
        *b1 = *b0 + pl->bpr;
        return 2 * rp + 1 < pl->c.oh;
    }
    *b0 = 2 * tile;
    *b1 = 2 * tile + 1;
    return *b1 < pl->bpi;
}

/* Output coordinates of the lanes of block blk (lanes past nvalid get copies of the last one). */
static inline void rr_tile_block_lanes(const rr_tile_plan *pl, int64_t blk, int32_t *oh_l, int32_t *ow_l)
{
    const int64_t L = pl->lanes;
    int64_t oh, ow;
    if (pl->flat) {
        oh = blk * L / pl->c.ow;
        ow = blk * L % pl->c.ow;
    } else {
        oh = blk / pl->bpr;
        ow = (blk % pl->bpr) * L;
    }
    for (int64_t l = 0; l < L; l++) {
        oh_l[l] = (int32_t)oh;
        ow_l[l] = (int32_t)ow;
        if (ow + 1 < pl->c.ow) {
            ow++;
        } else if (pl->flat && oh + 1 < pl->c.oh) {
            ow = 0;
            oh++;
        }
    }
}

/* ---- the driver (tile_plan.c) ------------------------------------------------------------------ */

/* Which compute loop runs over the plan; it decides the plan's tiling. */
typedef enum rr_tile_kind {
    RR_TILE_CHANNELS,         /* forward, ICPG > 1 or OCPG > 1: rr_fwd_oc_<isa> */
    RR_TILE_CHANNELS_PHASED,  /* the same, src given already in phase planes [N][IC][sw][IH][pw] of
                               * 32-bit words (the bfloat16 dot rows' channel pairs, common/bf16dot.h) */
    RR_TILE_DEPTHWISE,        /* forward, ICPG = OCPG = 1: rr_fwd_dw_<isa> (vertical tiles on AVX-512) */
    RR_TILE_DEPTHWISE_ROWS,   /* forward row segments, AVX-512 (row-wise tiles): rr_fwd_dwrow_avx512 */
    RR_TILE_FILTER_GRAD_ROWS, /* backward-filter row segments, AVX-512 (row-wise): rr_bwf_dwrow_avx512 */
    RR_TILE_FILTER_GRAD_FLAT  /* backward-filter tiles, AVX-512, flat where the forward's would be (stride
                               * 1, OW == IW), else row-wise: the bfloat16 dot rows (common/bf16dot.h) */
} rr_tile_kind;

typedef struct rr_tile_job {
    rr_tile_kind kind;
    rr_range_fn compute; /* the compute pass, ctx = the plan; items: see the entry points below */
    /* Fills the job's part of the plan (forward: packed weights w, cb/ncb or ocb/nob; filter gradient:
     * ncb, gw, and gacc when chunked) with scratch from ws; returns ws->status on failure. */
    rrconv_status (*prepare)(rr_tile_plan *pl, const rr_problem *p, rr_isa isa, int chunked, rr_workspace *ws);
} rr_tile_job;

/* 1 if c is within the plan's size limits (coordinates in int32 lanes, bounded scratch). */
int rr_tile_geometry_fits(const rr_conv *c);

/* Runs job over the normalized problem p at isa (AVX2 or AVX-512). */
rrconv_status rr_tile_run(const rr_problem *p, rr_isa isa, const rr_tile_job *job);

/*
 * The ISA entry points, rr_range_fn with ctx = the plan.
 * masks (common/tile_masks__<isa>.c): tiles [b, e) of the current chunk (fills masks and tiles).
 * oc, dw (forward/forward_tiles__<isa>.c):
 * oc: items span * (G * nob) + g * nob + ob (all channel blocks of a span while its src is in cache);
 * dw: items cb * nspans + span (each channel's src is read once).
 * Weights are packed per channel block: oc block (g, ob) with `no` channels starts at
 * (g*OCPG + ob*ocb) * ICPG * taps and holds [taps][ICPG][no]; depthwise block from channel g0 with
 * nc channels starts at g0 * taps and holds [taps][nc].
 */
void rr_tile_masks_avx512(void *plan, int64_t begin, int64_t end);
void rr_fwd_oc_avx512(void *plan, int64_t begin, int64_t end);
void rr_fwd_dw_avx512(void *plan, int64_t begin, int64_t end);
void rr_tile_masks_avx2(void *plan, int64_t begin, int64_t end);
void rr_fwd_oc_avx2(void *plan, int64_t begin, int64_t end);
void rr_fwd_dw_avx2(void *plan, int64_t begin, int64_t end);
/* the same on bfloat16 / float16 src (widened in the loads, outputs rounded once to c.out_dtype):
 * forward/forward_tiles_{bf16,f16}__{avx512,avx2}.c */
void rr_fwd_oc_bf16_avx512(void *plan, int64_t begin, int64_t end);
void rr_fwd_dw_bf16_avx512(void *plan, int64_t begin, int64_t end);
void rr_fwd_oc_f16_avx512(void *plan, int64_t begin, int64_t end);
void rr_fwd_dw_f16_avx512(void *plan, int64_t begin, int64_t end);
void rr_fwd_oc_bf16_avx2(void *plan, int64_t begin, int64_t end);
void rr_fwd_dw_bf16_avx2(void *plan, int64_t begin, int64_t end);
void rr_fwd_oc_f16_avx2(void *plan, int64_t begin, int64_t end);
void rr_fwd_dw_f16_avx2(void *plan, int64_t begin, int64_t end);
/* depthwise, FW 3..13 (odd) or 31, pad_w (FW-1)/2, stride_w 1, dil_w 1, row-wise tiles, weights packed per
 * RR_DWROW_CB(FW) channels, [taps][RR_DWROW_CB(FW)] with zeros past the last channel:
 * forward/forward_depthwise_rows__avx512.c */
/* The filter widths the row segment kernel is instantiated for (X(FW) each): its applies() too. */
#define RR_DWROW_WIDTHS(X) X(3) X(5) X(7) X(9) X(11) X(13) X(31)

/* The tile is two neighbouring blocks of one row (else its blocks run one at a time). */
static inline int rr_tile_two_block_piece(const rr_tile *ti)
{
    return ti->two && ti->oh1 == ti->oh0 && ti->ow1 == ti->ow0 + 16;
}

/* How many tiles from tl (a two-block piece; at most end - tl) are the same columns of consecutive rows
 * of one image with the same lanes: the row segment kernels run them as one piece. */
static inline int64_t rr_tile_row_run(const rr_tile_plan *pl, int64_t tl, int64_t end)
{
    const rr_tile *ti = &pl->tiles[tl];
    int64_t rows = 1;
    while (tl + rows < end) {
        const rr_tile *tn = &pl->tiles[tl + rows];
        if (!rr_tile_two_block_piece(tn) || tn->n != ti->n || tn->ow0 != ti->ow0 || tn->oh0 != ti->oh0 + rows ||
            tn->lv != ti->lv)
            break;
        rows++;
    }
    return rows;
}

#define RR_DWROW_CB(fw) ((fw) == 3 ? 8 : 4) /* measured: 8 for FW 3; 6 no faster for FW 13 and 31 */
/* Taps per chunk (2 * KC masks stay in mask registers), measured per width on DW shapes (N 4, C 384,
 * 32 x 32 and N 2, C 256, 64 x 64): 2 runs 10-15 % faster than 3 for FW 9, 11 and 13, 1 and 3 beat 2
 * for FW 7, and 3 is best for 31 (FW 3 and 5: no difference). */
#define RR_DWROW_KC(FW) ((FW) == 7 ? 1 : (FW) >= 9 && (FW) <= 13 ? 2 : 3)
#define RR_DWROW_KC_MAX 3
/* depthwise filter gradient, FW 3, pad_w 1, dil_w 1, stride_w 1, FH <= 3, row-wise tiles, channels
 * per item (diff and gacc set, no weights): backward_filter/backward_filter_depthwise_rows__avx512.c */
#define RR_BWF_DWROW_CB 3 /* measured on DW-K3: 3 channels per item ~7 % faster than 2 (fastest calls 0.23-0.24 vs 0.25 ms) */
void rr_bwf_dwrow_avx512(void *plan, int64_t begin, int64_t end);
void rr_fwd_dwrow_avx512(void *plan, int64_t begin, int64_t end);
/* The same on half-precision data (c.dtype bfloat16 / float16: src, and diff for the filter gradient,
 * are uint16_t bit patterns behind the plan's float pointers; the output is of c.out_dtype, half or
 * float32, behind dst / gw; packed weights and partial sums stay float): the _body.h files. */
void rr_bwf_dwrow_bf16_avx512(void *plan, int64_t begin, int64_t end);
void rr_bwf_dwrow_f16_avx512(void *plan, int64_t begin, int64_t end);
void rr_fwd_dwrow_bf16_avx512(void *plan, int64_t begin, int64_t end);
/* rr_fwd_dwrow_bf16_avx512 with the bfloat16 stores rounded by vcvtneps2bf16: AVX512_BF16 CPUs only */
void rr_fwd_dwrow_bf16cvt_avx512(void *plan, int64_t begin, int64_t end);
void rr_fwd_dwrow_f16_avx512(void *plan, int64_t begin, int64_t end);

#endif /* RRCONV_TILE_PLAN_H */
