/*
 * workspace.c -- scratch blocks reused across calls (contract in workspace.h).
 *
 * The cache is the one piece of global mutable state here: its reason is that fresh scratch on every
 * call cost more in page faults than small kernels take to run. It is a short list of free blocks under
 * a mutex; a request takes the smallest cached block that is large enough (and not more than four
 * times larger, so that a small call does not pin a huge block), else allocates.
 */
#define _POSIX_C_SOURCE 200809L

#include "workspace.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RR_WS_ALIGN 64

typedef struct ws_cache {
    void *blocks[RR_WS_CACHE_BLOCKS];
    size_t sizes[RR_WS_CACHE_BLOCKS];
    int count;
    size_t bytes;
} ws_cache;

static pthread_mutex_t ws_mu = PTHREAD_MUTEX_INITIALIZER;
static ws_cache ws_free_list;
static pthread_once_t ws_atfork_once = PTHREAD_ONCE_INIT;

static void ws_lock(void) { pthread_mutex_lock(&ws_mu); }
static void ws_unlock(void) { pthread_mutex_unlock(&ws_mu); }

static void ws_register_atfork(void)
{
    /* a fork while another thread holds the mutex would leave the child's copy locked forever */
    pthread_atfork(ws_lock, ws_unlock, ws_unlock);
}

/* Takes a cached block of at least `bytes` (the smallest such), or NULL. */
static void *cache_take(size_t bytes, size_t *got)
{
    void *mem = NULL;
    ws_lock();
    int best = -1;
    for (int i = 0; i < ws_free_list.count; i++) {
        const size_t s = ws_free_list.sizes[i];
        if (s >= bytes && s / 4 <= bytes && (best < 0 || s < ws_free_list.sizes[best])) best = i;
    }
    if (best >= 0) {
        mem = ws_free_list.blocks[best];
        *got = ws_free_list.sizes[best];
        ws_free_list.bytes -= *got;
        ws_free_list.count--;
        ws_free_list.blocks[best] = ws_free_list.blocks[ws_free_list.count];
        ws_free_list.sizes[best] = ws_free_list.sizes[ws_free_list.count];
    }
    ws_unlock();
    return mem;
}

/* Gives a block to the cache, or frees it when the cache is full. */
static void cache_give(void *mem, size_t bytes)
{
    ws_lock();
    if (ws_free_list.count < RR_WS_CACHE_BLOCKS && bytes <= RR_WS_CACHE_BYTES - ws_free_list.bytes) {
        ws_free_list.blocks[ws_free_list.count] = mem;
        ws_free_list.sizes[ws_free_list.count] = bytes;
        ws_free_list.count++;
        ws_free_list.bytes += bytes;
        mem = NULL;
    }
    ws_unlock();
    free(mem);
}

size_t rr_ws_trim(void)
{
    ws_lock();
    const size_t bytes = ws_free_list.bytes;
    for (int i = 0; i < ws_free_list.count; i++) free(ws_free_list.blocks[i]);
    ws_free_list.count = 0;
    ws_free_list.bytes = 0;
    ws_unlock();
    return bytes;
}

#if defined(__GNUC__)
/* library unload or process exit: nothing cached outlives the library */
__attribute__((destructor)) static void ws_unload(void)
{
    rr_ws_trim();
}
#endif

void rr_ws_begin(rr_workspace *ws, const char *op)
{
    pthread_once(&ws_atfork_once, ws_register_atfork);
    ws->count = 0;
    ws->status = RRCONV_OK;
    ws->op = op != NULL ? op : "rrconv";
}

void *rr_ws_alloc(rr_workspace *ws, int64_t count, int64_t esize, const char *what)
{
    int64_t bytes;
    if (count < 1) count = 1;
    if (ws->count >= RR_WS_BLOCKS) {
        ws->status = rr_fail(RRCONV_INTERNAL_ERROR, "%s: more than %d scratch blocks (at %s)", ws->op,
                             RR_WS_BLOCKS, what);
        return NULL;
    }
    if (__builtin_mul_overflow(count, esize, &bytes) ||
        __builtin_add_overflow(bytes, (int64_t)RR_WS_ALIGN - 1, &bytes) || (uint64_t)bytes > SIZE_MAX) {
        ws->status = rr_fail(RRCONV_OUT_OF_MEMORY, "%s: scratch for %s (%" PRId64 " elements of %" PRId64
                             " bytes) is too large", ws->op, what, count, esize);
        return NULL;
    }
    bytes -= bytes % RR_WS_ALIGN;
    size_t got = (size_t)bytes;
    void *mem = cache_take((size_t)bytes, &got);
    if (mem == NULL) mem = aligned_alloc(RR_WS_ALIGN, (size_t)bytes);
    if (mem == NULL) {
        ws->status = rr_fail(RRCONV_OUT_OF_MEMORY, "%s: could not allocate %" PRId64 " bytes of scratch for %s",
                             ws->op, bytes, what);
        return NULL;
    }
    ws->blocks[ws->count] = mem;
    ws->sizes[ws->count] = got;
    ws->count++;
    return mem;
}

void *rr_ws_calloc(rr_workspace *ws, int64_t count, int64_t esize, const char *what)
{
    void *mem = rr_ws_alloc(ws, count, esize, what);
    if (mem != NULL) memset(mem, 0, (size_t)((count < 1 ? 1 : count) * esize));
    return mem;
}

void rr_ws_end(rr_workspace *ws)
{
    for (int i = ws->count - 1; i >= 0; i--) cache_give(ws->blocks[i], ws->sizes[i]);
    ws->count = 0;
}
