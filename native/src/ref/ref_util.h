/*
 * ref_util.h -- small helpers shared by the reference loops (the files in ref/ only).
 */
#ifndef RRCONV_REF_UTIL_H
#define RRCONV_REF_UTIL_H

#include "internal.h"
#include "half.h"

#include <stdint.h>

/* Forces a loop body inline into each of its callers, so that constant arguments (the float32 types)
 * specialize it. */
#if defined(__GNUC__)
#define RR_REF_INLINE __attribute__((always_inline))
#else
#define RR_REF_INLINE
#endif

/* The mask element at element offset off, as an integer (exact for int32 and uint8). */
static inline int64_t rr_mask_at(const void *base, rrconv_mask_type type, int64_t off)
{
    return type == RRCONV_MASK_INT32 ? (int64_t)((const int32_t *)base)[off]
                                     : (int64_t)((const uint8_t *)base)[off];
}

/*
 * The indices j in [0, count) with 0 <= off + j*step < limit form [*lo, *hi) (step >= 1).
 * Empty ranges come back as lo == hi.
 */
static inline void rr_valid_range(int64_t off, int64_t step, int64_t limit, int64_t count,
                                  int64_t *lo, int64_t *hi)
{
    /* ceil(-off / step) written so that it cannot overflow for any step (-off - 1 >= 0 here) */
    int64_t l = off >= 0 ? 0 : (-(off + 1)) / step + 1;
    int64_t h = limit - 1 - off < 0 ? 0 : (limit - 1 - off) / step + 1;
    if (h > count) h = count;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

#endif /* RRCONV_REF_UTIL_H */
