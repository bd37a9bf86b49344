/*
 * threadpool.c -- the library's persistent worker pool and rr_parallel_for.
 *
 * Design (simple and deterministic):
 *  - One pool per process, created lazily. Each worker sleeps on its own condition variable
 *    between jobs; a job wakes only the workers it uses. Before sleeping, a worker spins for up to
 *    RR_SPIN_NS watching for its next job, and the caller spins as long for the workers to finish
 *    before it sleeps on done_cv: a wake-up through the kernel costs tens of microseconds (more in a
 *    virtual machine), as much as a whole small convolution, and a kernel call usually runs two or
 *    three parallel passes back to back. The price is at most RR_SPIN_NS of CPU per worker after
 *    the last call.
 *  - rr_parallel_for hands out [0, n) in min(4k, n) contiguous chunks whose sizes differ by at most
 *    one item (k = min(threads, n); chunks of floor(n / 4k) items left a short last chunk, e.g. 54
 *    items in 9 chunks of 6, 30:24 between two threads): the calling thread and k - 1 workers claim chunks from one atomic counter until none is
 *    left, and the caller returns when no thread is inside a chunk. Which thread runs an item never
 *    changes what the item computes (every kernel's items write disjoint outputs, each in a fixed
 *    order), so results are identical for every thread count and every schedule. Claiming, rather
 *    than a fixed split, keeps a worker that the OS has not scheduled yet (a JVM's compiler threads
 *    compete for the same cores) from holding the call up: the others take its share.
 *  - One job at a time: `use_lock` is taken with trylock. A caller that finds the pool busy (another
 *    thread's call, or a nested rr_parallel_for) runs its whole range itself.
 *  - The pool grows on demand up to the requested count (max 1024 threads per call).
 *  - At unload / exit a destructor stops and joins the workers; after fork() the child starts with
 *    an empty pool (the workers were not copied).
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RR_MAX_THREADS 1024
#define RR_SPIN_NS 200000 /* spin this long (ns) before sleeping on a condition variable */

/* ---- thread count ---------------------------------------------------------------------------- */

static atomic_int rr_requested_threads; /* 0 = default */
static int rr_default_threads = 1;
static pthread_once_t rr_default_once = PTHREAD_ONCE_INIT;

static int parse_thread_env(const char *s)
{
    if (s == NULL || *s == '\0') return 0;
    long v = 0;
    for (const char *q = s; *q; q++) {
        if (*q < '0' || *q > '9') return 0;
        v = v * 10 + (*q - '0');
        if (v > RR_MAX_THREADS) return RR_MAX_THREADS;
    }
    return (int)v;
}

static void init_default_threads(void)
{
    int n = parse_thread_env(getenv("RRCONV_NUM_THREADS"));
    if (n <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus < 1 ? 1 : cpus > RR_MAX_THREADS ? RR_MAX_THREADS : (int)cpus;
    }
    rr_default_threads = n;
}

rrconv_status rrconv_set_num_threads(int32_t n)
{
    if (n > RR_MAX_THREADS) {
        return rr_fail(RRCONV_INVALID_ARGUMENT,
                       "rrconv_set_num_threads: n is %d but must be <= %d (or <= 0 for the default)",
                       (int)n, RR_MAX_THREADS);
    }
    atomic_store(&rr_requested_threads, n < 0 ? 0 : (int)n);
    rr_clear_error();
    return RRCONV_OK;
}

int32_t rrconv_get_num_threads(void)
{
    int n = atomic_load(&rr_requested_threads);
    if (n > 0) return n;
    pthread_once(&rr_default_once, init_default_threads);
    return rr_default_threads;
}

/* ---- the pool -------------------------------------------------------------------------------- */

typedef struct rr_worker {
    pthread_t tid;
    pthread_cond_t cv;  /* signalled when work is assigned or at shutdown */
    int index;          /* the range this worker runs: 1 .. RR_MAX_THREADS-1 */
    _Atomic uint64_t assigned; /* generation of the last job assigned to this worker (written under mu) */
    uint64_t done;      /* generation of the last job this worker ran */
} rr_worker;

typedef struct rr_pool {
    pthread_mutex_t use_lock;  /* held by the one caller using the workers */
    pthread_mutex_t mu;        /* protects everything below */
    pthread_cond_t done_cv;    /* busy dropped to 0 */
    int nworkers;
    atomic_int shutdown;
    uint64_t gen;
    /* the current job (written under mu) */
    rr_range_fn fn;
    void *ctx;
    int64_t n_items;
    int64_t chunks;         /* the number of chunks of the job */
    _Atomic uint64_t claim; /* job tag << RR_CLAIM_BITS | first unclaimed chunk */
    atomic_int busy;        /* threads between announcing a claim and finishing its chunk */
    rr_worker workers[RR_MAX_THREADS]; /* workers[i] runs range i+1 */
} rr_pool;

static rr_pool rr_P;
static pthread_once_t rr_pool_once = PTHREAD_ONCE_INIT;
static int rr_pool_ok;

#define RR_CLAIM_BITS 40 /* items per job below 2^40 (else the caller runs them alone) */
#define RR_CLAIM_MASK ((UINT64_C(1) << RR_CLAIM_BITS) - 1)
#define RR_TAG_MASK ((UINT64_C(1) << (64 - RR_CLAIM_BITS)) - 1) /* the job tag: generation mod 2^24 */

/* Claims the next of the `chunks` chunks of the job tagged tag: chunk i is [i*n/chunks, (i+1)*n/chunks)
 * (sizes differ by at most one item); 0 when that job has none left or is over. */
static int claim_chunk(rr_pool *P, uint64_t tag, int64_t n, int64_t chunks, int64_t *b, int64_t *e)
{
    uint64_t cur = atomic_load(&P->claim);
    for (;;) {
        if (cur >> RR_CLAIM_BITS != tag) return 0;
        const int64_t i = (int64_t)(cur & RR_CLAIM_MASK);
        if (i >= chunks) return 0;
        if (atomic_compare_exchange_weak(&P->claim, &cur, tag << RR_CLAIM_BITS | (uint64_t)(i + 1))) {
            *b = i * n / chunks;
            *e = (i + 1) * n / chunks;
            return 1;
        }
    }
}

/* Runs chunks of the job until none is left; busy counts this thread meanwhile. */
static void run_chunks(rr_pool *P, rr_range_fn fn, void *ctx, uint64_t tag, int64_t n, int64_t chunks)
{
    int64_t b, e;
    atomic_fetch_add(&P->busy, 1); /* before claiming: the caller waits for busy == 0 */
    while (claim_chunk(P, tag, n, chunks, &b, &e)) fn(ctx, b, e);
    if (atomic_fetch_sub(&P->busy, 1) == 1) {
        pthread_mutex_lock(&P->mu);
        pthread_cond_signal(&P->done_cv);
        pthread_mutex_unlock(&P->mu);
    }
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e9 * (double)ts.tv_sec + (double)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Spins (without any lock) until done() is true or RR_SPIN_NS have passed. */
#define SPIN_UNTIL(done)                                                                               \
    do {                                                                                               \
        const double spin_end_ = now_ns() + RR_SPIN_NS;                                                \
        for (unsigned spin_i_ = 1; !(done); spin_i_++) {                                               \
            cpu_relax();                                                                               \
            if (spin_i_ % 64 == 0 && now_ns() > spin_end_) break;                                      \
        }                                                                                              \
    } while (0)

static void *worker_main(void *arg)
{
    rr_worker *w = (rr_worker *)arg;
    rr_pool *P = &rr_P;
    pthread_mutex_lock(&P->mu);
    for (;;) {
        if (atomic_load(&w->assigned) == w->done && !atomic_load(&P->shutdown)) {
            pthread_mutex_unlock(&P->mu);
            SPIN_UNTIL(atomic_load(&w->assigned) != w->done || atomic_load(&P->shutdown));
            pthread_mutex_lock(&P->mu);
        }
        while (atomic_load(&w->assigned) == w->done && !atomic_load(&P->shutdown))
            pthread_cond_wait(&w->cv, &P->mu);
        if (atomic_load(&w->assigned) == w->done) break; /* shutdown, nothing left to run */
        w->done = atomic_load(&w->assigned);
        const rr_range_fn fn = P->fn;
        void *const ctx = P->ctx;
        const int64_t n = P->n_items, chunks = P->chunks;
        const uint64_t tag = w->done & RR_TAG_MASK;
        pthread_mutex_unlock(&P->mu);
        run_chunks(P, fn, ctx, tag, n, chunks);
        pthread_mutex_lock(&P->mu);
    }
    pthread_mutex_unlock(&P->mu);
    return NULL;
}

static void pool_reset_after_fork(void)
{
    /* Only the forking thread exists in the child: forget the workers, reinitialize the locks. */
    pthread_mutex_init(&rr_P.use_lock, NULL);
    pthread_mutex_init(&rr_P.mu, NULL);
    pthread_cond_init(&rr_P.done_cv, NULL);
    rr_P.nworkers = 0;
    atomic_store(&rr_P.shutdown, 0);
    atomic_store(&rr_P.busy, 0);
}

static void pool_shutdown(void);

static void pool_init(void)
{
    if (pthread_mutex_init(&rr_P.use_lock, NULL) != 0) return;
    if (pthread_mutex_init(&rr_P.mu, NULL) != 0) return;
    if (pthread_cond_init(&rr_P.done_cv, NULL) != 0) return;
    if (pthread_atfork(NULL, NULL, pool_reset_after_fork) != 0) return;
    /* at exit (or when the library is unloaded) the workers stop before later exit handlers run,
     * e.g. LeakSanitizer's, which cannot suspend a worker that is still spinning */
    if (atexit(pool_shutdown) != 0) return;
    rr_pool_ok = 1;
}

/* Stops and joins the workers; idempotent (atexit, then the destructor). */
__attribute__((destructor)) static void pool_shutdown(void)
{
    if (!rr_pool_ok) return;
    rr_pool *P = &rr_P;
    pthread_mutex_lock(&P->mu);
    const int nw = P->nworkers;
    atomic_store(&P->shutdown, 1);
    for (int i = 0; i < nw; i++) pthread_cond_signal(&P->workers[i].cv);
    pthread_mutex_unlock(&P->mu);
    for (int i = 0; i < nw; i++) {
        pthread_join(P->workers[i].tid, NULL);
        pthread_cond_destroy(&P->workers[i].cv);
    }
    pthread_mutex_lock(&P->mu);
    P->nworkers = 0;
    pthread_mutex_unlock(&P->mu);
}

/* With mu held: grows the pool to at least `want` workers; returns how many exist. */
static int pool_grow(rr_pool *P, int want)
{
    while (P->nworkers < want) {
        rr_worker *w = &P->workers[P->nworkers];
        w->index = P->nworkers + 1;
        atomic_store(&w->assigned, 0);
        w->done = 0;
        if (pthread_cond_init(&w->cv, NULL) != 0) break;
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
            pthread_cond_destroy(&w->cv);
            break;
        }
        P->nworkers++;
    }
    return P->nworkers;
}

void rr_parallel_for(int64_t n_items, rr_range_fn fn, void *ctx)
{
    if (n_items <= 0) return;
    int64_t k = rrconv_get_num_threads();
    if (k > n_items) k = n_items;
    if (k <= 1 || (uint64_t)n_items > RR_CLAIM_MASK) {
        fn(ctx, 0, n_items);
        return;
    }
    pthread_once(&rr_pool_once, pool_init);
    rr_pool *P = &rr_P;
    if (!rr_pool_ok || pthread_mutex_trylock(&P->use_lock) != 0) {
        fn(ctx, 0, n_items);  /* pool busy (or unavailable): same items, same results */
        return;
    }
    pthread_mutex_lock(&P->mu);
    if (atomic_load(&P->shutdown)) {
        pthread_mutex_unlock(&P->mu);
        pthread_mutex_unlock(&P->use_lock);
        fn(ctx, 0, n_items);
        return;
    }
    const int have = pool_grow(P, (int)k - 1);
    if (k > (int64_t)have + 1) k = have + 1;
    if (k <= 1) {
        pthread_mutex_unlock(&P->mu);
        pthread_mutex_unlock(&P->use_lock);
        fn(ctx, 0, n_items);
        return;
    }
    P->fn = fn;
    P->ctx = ctx;
    P->n_items = n_items;
    P->chunks = n_items < 4 * k ? n_items : 4 * k; /* the number of chunks */
    P->gen++;
    const uint64_t tag = P->gen & RR_TAG_MASK;
    atomic_store(&P->claim, tag << RR_CLAIM_BITS);
    for (int i = 0; i < (int)k - 1; i++) {
        atomic_store(&P->workers[i].assigned, P->gen);
        pthread_cond_signal(&P->workers[i].cv);
    }
    const int64_t chunks = P->chunks;
    pthread_mutex_unlock(&P->mu);

    run_chunks(P, fn, ctx, tag, n_items, chunks);

    /* every item is claimed; wait until no thread is still inside a chunk */
    SPIN_UNTIL(atomic_load(&P->busy) == 0);
    pthread_mutex_lock(&P->mu);
    while (atomic_load(&P->busy) > 0) pthread_cond_wait(&P->done_cv, &P->mu);
    P->fn = NULL;
    P->ctx = NULL;
    pthread_mutex_unlock(&P->mu);
    pthread_mutex_unlock(&P->use_lock);
}
