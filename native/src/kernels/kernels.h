/*
 * kernels.h -- the kernel table: every way the library can compute a direction, one row each.
 *
 * The rows are listed once, in kernel_list.inc (an X-macro list, one RR_KERNEL(...) line per row,
 * grouped by direction, fastest first, the reference loop last). That list generates the declarations
 * below, the table (kernel_table.c) that dispatch.c walks and rrconv_kernel_get() reports, and the
 * fast-kernel tests' parameter table. Dispatch runs the first row of the problem's direction that
 * applies and whose ISA the process may use (rr_active_isa()); RRCONV_KERNEL forces one row.
 *
 * Two kinds of rows:
 *   reference (isa RR_ISA_SCALAR, ref/): any strides, both modes, both mask types; they apply always.
 *   fast (every other ISA): they run on a *normalized* problem (rr_normalize in internal.h: all tensors
 *       dense C order, cross-correlation, int32 masks). A fast row must give results that do not depend
 *       on the thread count (fixed summation order per output element), must skip masked-out taps
 *       entirely (never multiply a skipped element by zero: a NaN or Inf there must not reach the
 *       output), and must never read outside the tensors. Its applies() says for which sizes.
 *
 * Files: <direction>/<direction>.c holds a direction's entry functions, applies() predicates and plans;
 * <direction>/<direction>_<variant>__<isa>.c the ISA-specific loops (compiled with that ISA's flags
 * only, called only after run-time detection); common/ what several directions share.
 */
#ifndef RRCONV_KERNELS_H
#define RRCONV_KERNELS_H

#include "../internal.h"

/* One row of the table. */
typedef struct rr_kernel_row {
    const char *name;          /* <direction>_<variant>__<isa>, or <direction>_reference */
    rr_direction dir;
    rr_isa isa;                /* the ISA its code needs; RR_ISA_SCALAR for the reference rows */
    rr_dtype dtype;            /* the element type it computes on (a normalized problem's) */
    rr_layout layout;          /* the layout it computes on (a normalized problem's) */
    int (*applies)(const rr_conv *c); /* sizes it is written for (fast rows: the normalized conv) */
    rr_kernel_fn run;          /* fast rows: on the normalized problem; reference rows: on any */
    const char *applies_text;  /* applies(), in words */
} rr_kernel_row;

/* Declarations of every row's predicate and entry function, generated from the list. */
#define RR_KERNEL(name, dir, isa, dtype, layout, applies, entry, text) \
    int applies(const rr_conv *c);                                     \
    rrconv_status entry(const rr_problem *p);
#include "kernel_list.inc"
#undef RR_KERNEL

/* The table (kernel_table.c): rows of every direction in list order; *count set to their number. */
const rr_kernel_row *rr_kernel_rows(int *count);

/* The table's row called name, or NULL. */
const rr_kernel_row *rr_kernel_find(const char *name);

/* The reference row of a direction (the last of its rows). */
const rr_kernel_row *rr_kernel_reference(rr_direction dir);

/* 1 if the row is a reference row (runs on any problem, not normalized). */
int rr_kernel_is_reference(const rr_kernel_row *row);

/* 1 if the row may run c: a reference row always; a fast row when its dtype is f32 (any call: half
 * inputs are widened for it) or c's dtype (a half row runs calls of its type only), c's geometry is below
 * the fast rows' common limit (2^24 for every size, stride, padding and dilation) and its applies() holds
 * (so a half row's applies() need not test the dtype). */
int rr_kernel_applies(const rr_kernel_row *row, const rr_conv *c);

/* 1 if this process may run the row's code (its ISA <= rr_active_isa()). */
int rr_kernel_available(const rr_kernel_row *row);

/* The first row of direction dir that is available and applies to c (the reference row at the latest):
 * what an AUTO call runs when RRCONV_KERNEL does not force a row. */
const rr_kernel_row *rr_kernel_pick(rr_direction dir, const rr_conv *c);

/* Runs row on p, which must be of the row's direction and which the row applies to: a fast row on the
 * normalized form of p (scratch from the workspace), a reference row on p directly. The tests call it
 * for every row; dispatch.c for the row it chose. */
rrconv_status rr_kernel_run(const rr_kernel_row *row, const rr_problem *p);

/* For a fast row's entry whose fast path does not fit the data (only the data tell: e.g. the bfloat16
 * dot-product rows on denormals): runs the f32 row called name on p (normalized for it) and leaves
 * "ran:<name> <why>" in p's note (rr_note), which RRCONV_VERBOSE prints after the dispatched row's line.
 * p must be a problem that row applies to. */
rrconv_status rr_kernel_hand_over(const char *name, const rr_problem *p, const char *why);

/* ---- what the directions share, below the table ------------------------------------------------ */

/* Tests only: bytes of tap masks per chunk of the tile plan (0 restores the default, 4 MiB), so that
 * small problems run the chunk loop of huge images (common/tile_plan.c). */
void rr_tile_set_mask_budget(int64_t bytes);

/* Tests only: output pixels per image batch of the channels-last backward-filter rows (0 restores the
 * default, 1024), so that small problems carry partial sums between batches
 * (backward_filter/backward_filter.c). */
void rr_bwf_nhwc_set_batch_pixels(int64_t pixels);

#endif /* RRCONV_KERNELS_H */
