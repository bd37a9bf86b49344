/*
 * forward_depthwise_rows__avx512.c -- depthwise forward on AVX-512 for filter widths FW = 3, 5, .., 13 and 31 with
 * "same" column padding (pad_w = (FW-1)/2, dil_w 1, stride_w 1): the ROW SEGMENT kernel. Rows: any
 * FH, stride_h, dil_h, pad_h.
 *
 * The direct depthwise kernel (forward_tiles__avx512.c) loads every tap's 16 input pixels with an
 * unaligned masked load; most of those straddle a cache line and it runs at about one FMA per 2.5
 * cycles. Here a tile is one output row piece of NB (1 or 2) blocks of 16 columns from column ow0,
 * times RR_DWROW_CB(FW) channels (8 for FW 3, else 4). The input row ih of a filter row kh is read
 * as NB + 2 sixteen-column SEGMENTS starting at columns ow0 - 16, ow0, ow0 + 16, ...
 * (row_segments__avx512.h), and the window of tap kw, which starts at column ow0 + 16 b + o with
 * o = kw - (FW-1)/2 in [-15, 15], is cut out of two neighbouring segments with one lane rotation
 * (valignd) whose count is a compile-time constant: the kernel is instantiated per FW (one function
 * each). Consecutive tiles that are the same columns of consecutive rows run as one piece.
 *
 * Row PAIRS (FW 3..13, stride_h 1, dil_h 1, runs of two-block pieces: images 17..32 columns wide): two
 * output rows at once, input row outer, so each window cut (valignd) feeds both rows' FMAs and each
 * input row is read once for the pair; every mask is loaded straight into a mask register (kmovw) for
 * up to 4 channels (FW 3's blocks of 8: two halves), and the weight is a broadcast operand of the FMA.
 * Measured on Zen 4, where the rotations and separate broadcasts share the FP pipes with the FMAs:
 * DW-K3, DW-K7 and DW-K13 forward and backward data about 0.7x the time of the row loop below. Per
 * output element the order of the sums is unchanged.
 *
 * Taps run in chunks of RR_DWROW_KC(FW) (1 to 3): the chunk's 2 * KC masks (from the shared mask pass,
 * tile_plan.h, row-wise tiles) stay in mask registers while the CB channels run, so one mask
 * load serves CB channels. A last channel block of fewer than CB channels runs one channel at a time.
 *
 * Masked-out lanes are never accumulated (_mm512_mask3_fmadd_ps keeps acc where k = 0), so NaN/Inf
 * in skipped pixels never reach dst. Per output element the taps are summed in (kh, kw) order, one
 * FMA each; each output element belongs to one item, so results do not depend on the thread count.
 */
#include "../common/tile_plan.h"
#include "../common/row_segments__avx512.h"

#define DWROW_T float
#define DWROW_SEGMENTS_LOAD(seg, p, s, ow0, NB, FULL, FW) rr_segments_load(seg, p, s, ow0, NB, FULL)
#define DWROW_STORE(pl, dst, off, v, k, full)                                                     \
    ((full) ? _mm512_storeu_ps((float *)(dst) + (off), (v)) : _mm512_mask_storeu_ps((float *)(dst) + (off), (k), (v)))
#define DWROW_ENTRY rr_fwd_dwrow_avx512
#include "forward_depthwise_rows_body.h"
