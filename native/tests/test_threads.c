/*
 * test_threads.c -- many caller threads at once, thread-count changes while calls run, per-thread
 * error messages, fork() after the pool exists, and the environment knobs.
 *
 * Usage: test_threads [--expect-isa NAME] [--expect-threads N]
 *   (ctest runs it once plainly and once with RRCONV_MAX_ISA=scalar RRCONV_NUM_THREADS=3)
 */
#define _POSIX_C_SOURCE 200809L

#include "conv_gen.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct problem {
    rrconv_conv_desc d;
    size_t nx, ny, nw;
    float *x, *w, *dy;
    int32_t *rin, *rout;
    float *want[3]; /* single-threaded results */
} problem;

static problem P;
static atomic_int g_stop;

static void run_dir(int dir, float *out)
{
    rrconv_status st;
    if (dir == 0) st = rrconv_forward_f32(&P.d, P.x, NULL, P.w, NULL, P.rin, NULL, P.rout, NULL, out, NULL);
    else if (dir == 1) st = rrconv_backward_data_f32(&P.d, P.w, NULL, P.dy, NULL, P.rin, NULL, P.rout, NULL, out, NULL);
    else st = rrconv_backward_filter_f32(&P.d, P.x, NULL, P.dy, NULL, P.rin, NULL, P.rout, NULL, out, NULL);
    EXPECT(st == RRCONV_OK, "dir %d: %s", dir, rrconv_last_error());
}

static size_t count_of(int dir)
{
    return dir == 0 ? P.ny : dir == 1 ? P.nx : P.nw;
}

static atomic_int g_mismatches;

static void *caller(void *arg)
{
    const int id = (int)(intptr_t)arg;
    float *out = t_alloc(P.nx * 4 + P.ny * 4 + P.nw * 4);
    for (int it = 0; it < 12; it++) {
        const int dir = (id + it) % 3;
        run_dir(dir, out);
        if (memcmp(out, P.want[dir], count_of(dir) * 4) != 0) atomic_fetch_add(&g_mismatches, 1);
        if (id % 4 == 3) {
            /* interleave an invalid call: this thread's message, not another's */
            rrconv_conv_desc bad = P.d;
            bad.stride_h = 0;
            rrconv_status st = rrconv_forward_f32(&bad, P.x, NULL, P.w, NULL, P.rin, NULL, P.rout, NULL, out, NULL);
            if (st != RRCONV_INVALID_ARGUMENT || strstr(rrconv_last_error(), "desc->stride_h") == NULL)
                atomic_fetch_add(&g_mismatches, 1000);
        } else if (rrconv_last_error()[0] != '\0') {
            atomic_fetch_add(&g_mismatches, 1000000);
        }
    }
    free(out);
    return NULL;
}

static void *toggler(void *arg)
{
    (void)arg;
    int k = 0;
    while (!atomic_load(&g_stop)) {
        rrconv_set_num_threads(1 + (k++ % 6));
        const struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void setup(void)
{
    uint64_t rng = 99;
    P.d = t_desc(2, 2, 3, 4, 19, 17, 3, 3, 1, 2, 1, 1, 1, 1, RRCONV_CROSS_CORRELATION, RRCONV_MASK_INT32);
    P.nx = (size_t)(P.d.n * 6 * P.d.ih * P.d.iw);
    P.ny = (size_t)(P.d.n * 8 * P.d.oh * P.d.ow);
    P.nw = (size_t)(2 * 4 * 3 * 3 * 3);
    P.x = t_alloc(P.nx * 4); P.dy = t_alloc(P.ny * 4); P.w = t_alloc(P.nw * 4);
    P.rin = t_alloc((size_t)(P.d.n * P.d.ih * P.d.iw) * 4);
    P.rout = t_alloc((size_t)(P.d.n * P.d.oh * P.d.ow) * 4);
    for (size_t i = 0; i < P.nx; i++) P.x[i] = (float)t_unit(&rng);
    for (size_t i = 0; i < P.ny; i++) P.dy[i] = (float)t_unit(&rng);
    for (size_t i = 0; i < P.nw; i++) P.w[i] = (float)t_unit(&rng);
    for (int64_t i = 0; i < P.d.n * P.d.ih * P.d.iw; i++) P.rin[i] = (int32_t)t_int(&rng, 0, 1);
    for (int64_t i = 0; i < P.d.n * P.d.oh * P.d.ow; i++) P.rout[i] = (int32_t)t_int(&rng, 0, 1);
    EXPECT_OK(rrconv_set_num_threads(1));
    for (int dir = 0; dir < 3; dir++) {
        P.want[dir] = t_alloc(count_of(dir) * 4);
        run_dir(dir, P.want[dir]);
    }
}

/* fork after the pool exists: the child gets a working (fresh) pool */
static void test_fork(float *out)
{
    EXPECT_OK(rrconv_set_num_threads(3));
    run_dir(0, out);
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    if (pid == 0) {
        float *o = malloc(P.ny * 4);
        int ok = o != NULL;
        for (int rep = 0; ok && rep < 3; rep++) {
            ok = rrconv_forward_f32(&P.d, P.x, NULL, P.w, NULL, P.rin, NULL, P.rout, NULL, o, NULL) == RRCONV_OK &&
                 memcmp(o, P.want[0], P.ny * 4) == 0;
        }
        free(o);
        free(out);
        for (int dir = 0; dir < 3; dir++) free(P.want[dir]);
        free(P.x); free(P.w); free(P.dy); free(P.rin); free(P.rout);
        exit(ok ? 0 : 3); /* runs the library's destructor in the child too */
    }
    EXPECT(pid > 0, "fork failed");
    if (pid > 0) {
        int status = 0;
        EXPECT(waitpid(pid, &status, 0) == pid, "waitpid");
        EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child after fork failed (status %d)", status);
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--expect-isa") == 0) {
            EXPECT(strcmp(rrconv_active_isa(), argv[i + 1]) == 0, "isa %s, expected %s", rrconv_active_isa(), argv[i + 1]);
        } else if (strcmp(argv[i], "--expect-threads") == 0) {
            EXPECT(rrconv_get_num_threads() == atoi(argv[i + 1]), "default threads %d, expected %s",
                   (int)rrconv_get_num_threads(), argv[i + 1]);
        }
    }
    setup();

    /* growing and shrinking the pool between calls */
    const int counts[] = {2, 5, 3, 16, 1, 4};
    float *out = t_alloc(P.nx * 4 + P.ny * 4 + P.nw * 4);
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        EXPECT_OK(rrconv_set_num_threads(counts[c]));
        for (int dir = 0; dir < 3; dir++) {
            run_dir(dir, out);
            EXPECT(memcmp(out, P.want[dir], count_of(dir) * 4) == 0, "%d threads, dir %d differs", counts[c], dir);
        }
    }

    /* many callers at once while another thread keeps changing the thread count */
    enum { CALLERS = 8 };
    pthread_t th[CALLERS], tog;
    EXPECT_OK(rrconv_set_num_threads(4));
    EXPECT(pthread_create(&tog, NULL, toggler, NULL) == 0, "pthread_create");
    for (int i = 0; i < CALLERS; i++) EXPECT(pthread_create(&th[i], NULL, caller, (void *)(intptr_t)i) == 0, "create");
    for (int i = 0; i < CALLERS; i++) pthread_join(th[i], NULL);
    atomic_store(&g_stop, 1);
    pthread_join(tog, NULL);
    EXPECT(atomic_load(&g_mismatches) == 0, "concurrent calls: mismatch code %d", atomic_load(&g_mismatches));

    /* fork after the pool exists (ThreadSanitizer cannot start threads after a multi-threaded
       fork: skipped there; and under qemu-user, whose 7.2 aborts in such a child, RRCONV_TEST_NO_FORK=1) */
#if defined(__SANITIZE_THREAD__)
    (void)test_fork;
#else
    if (getenv("RRCONV_TEST_NO_FORK") != NULL) {
        printf("fork test skipped (RRCONV_TEST_NO_FORK is set)\n");
    } else {
        test_fork(out);
    }
#endif

    free(out);
    for (int dir = 0; dir < 3; dir++) free(P.want[dir]);
    free(P.x); free(P.w); free(P.dy); free(P.rin); free(P.rout);
    EXPECT_OK(rrconv_set_num_threads(0));
    return t_finish("test_threads");
}
