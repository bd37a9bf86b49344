/*
 * workspace.h -- the one scratch allocator of the library (dispatch's normalization and every kernel).
 *
 * Contract:
 *   - A call opens one rr_workspace on the stack (rr_ws_begin), takes up to RR_WS_BLOCKS blocks from
 *     it (rr_ws_alloc: uninitialized, rr_ws_calloc: zeroed; both 64-byte aligned, at least one byte)
 *     and closes it on every path (rr_ws_end). A block lives until rr_ws_end; workers of the pool may
 *     use it while the opening thread waits for them.
 *   - A failed allocation returns NULL after rr_fail (the message names the call, what the block is
 *     for and its size) and leaves the status in ws->status (RRCONV_OUT_OF_MEMORY, or
 *     RRCONV_INTERNAL_ERROR when a call takes more than RR_WS_BLOCKS blocks).
 *   - rr_ws_end returns the blocks to a process-wide cache, so that the next call reuses pages that are
 *     already mapped instead of faulting in fresh ones. The cache is bounded: at most RR_WS_CACHE_BLOCKS
 *     blocks and RR_WS_CACHE_BYTES bytes together; a block that would exceed that is freed at once.
 *     The cache is guarded by a mutex (any thread may call), kept consistent across fork() (held
 *     around it by pthread_atfork handlers) and freed by a destructor when the library is unloaded
 *     or the process exits.
 */
#ifndef RRCONV_WORKSPACE_H
#define RRCONV_WORKSPACE_H

#include "../../internal.h"

#include <stddef.h>
#include <stdint.h>

#define RR_WS_BLOCKS 12                        /* blocks one call may hold at a time */
#define RR_WS_CACHE_BLOCKS 16                  /* blocks the cache keeps between calls */
#define RR_WS_CACHE_BYTES ((size_t)256 << 20)  /* bytes the cache keeps between calls */

struct rr_workspace {
    void *blocks[RR_WS_BLOCKS];
    size_t sizes[RR_WS_BLOCKS];
    int count;
    rrconv_status status; /* of the last failed allocation; RRCONV_OK before one */
    const char *op;       /* the public function, for messages */
};

void rr_ws_begin(rr_workspace *ws, const char *op);

/* count elements of esize bytes (count < 1 is taken as 1); NULL after rr_fail when impossible. */
void *rr_ws_alloc(rr_workspace *ws, int64_t count, int64_t esize, const char *what);

/* rr_ws_alloc, then zeroed. */
void *rr_ws_calloc(rr_workspace *ws, int64_t count, int64_t esize, const char *what);

/* Returns every block of ws to the cache (or frees it); ws may be begun again. */
void rr_ws_end(rr_workspace *ws);

/* Tests: frees the cache now; returns the bytes it held. */
size_t rr_ws_trim(void);

#endif /* RRCONV_WORKSPACE_H */
