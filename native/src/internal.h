/*
 * internal.h -- what the layers under the public API share (never installed).
 *
 *   api.c        validates the public arguments (the C twin of the Java checks), sets the message
 *   dispatch.c   normalizes the problem and picks a kernel: reference loops (any strides, both
 *                modes, both mask types) or a fast kernel (dense tensors, cross-correlation,
 *                int32 masks: dispatch packs/flips/widens into scratch when needed)
 *   cpu.c        ISA detection once, RRCONV_MAX_ISA cap
 *   threadpool.c persistent worker pool, static split over output items (deterministic)
 *   ref/         reference loops, one file per direction: the last-resort fallback and C-side oracle
 *   kernels/     fast kernels, one file per direction x variant x ISA
 */
#ifndef RRCONV_INTERNAL_H
#define RRCONV_INTERNAL_H

#include "rrconv.h"

#include <stdint.h>

/* ---- messages (api.c) ------------------------------------------------------------------------ */

/* Formats the calling thread's last-error message; returns status for `return rr_fail(...)`. */
rrconv_status rr_fail(rrconv_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void rr_clear_error(void);

/* ---- a validated problem --------------------------------------------------------------------- */

/* A strided view; strides in elements, always filled in (never NULL) after validation. */
typedef struct rr_view {
    const void *data;
    int64_t strides[5];
} rr_view;

/* ---- threads (threadpool.c) ------------------------------------------------------------------ */

/* Processes items [begin, end). Called once per thread with a contiguous static range. */
typedef void (*rr_range_fn)(void *ctx, int64_t begin, int64_t end);

/*
 * Runs fn over [0, n_items) split statically into at most rrconv_get_num_threads() contiguous
 * ranges (the calling thread takes the first). Returns when all are done. Each item must be
 * computed the same way whichever thread gets it, so results do not depend on the thread count.
 */
void rr_parallel_for(int64_t n_items, rr_range_fn fn, void *ctx);

/* ---- ISA (cpu.c) ----------------------------------------------------------------------------- */

typedef enum rr_isa { RR_ISA_SCALAR = 0, RR_ISA_AVX2 = 1, RR_ISA_AVX512 = 2 } rr_isa;

rr_isa rr_active_isa(void);

#endif /* RRCONV_INTERNAL_H */
