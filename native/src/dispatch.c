/*
 * dispatch.c -- runs a validated problem on one row of the kernel table (kernels/kernels.h).
 *
 * The rows of the problem's direction are walked in table order (fastest first); the first that
 * applies to the problem and whose ISA the process may use runs, the reference row last of all.
 * A call with algorithm RRCONV_ALGO_REFERENCE runs the reference row. Two environment variables, each
 * read once per process (at the first call):
 *   RRCONV_KERNEL=<row name>  AUTO calls of that row's direction run that row, or fail with
 *                             RRCONV_UNSUPPORTED when it does not apply or its ISA is not available;
 *                             a name that is no row fails every call with RRCONV_INVALID_ARGUMENT
 *   RRCONV_VERBOSE=1          one line per successful call on stderr (format below)
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"
#include "kernels/kernels.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the environment, read once ---------------------------------------------------------------- */

static struct {
    const rr_kernel_row *forced; /* RRCONV_KERNEL's row, or NULL */
    char unknown[64];            /* RRCONV_KERNEL's value when it names no row, else empty */
    int verbose;                 /* RRCONV_VERBOSE set to something other than "" or "0" */
} rr_env;
static pthread_once_t rr_env_once = PTHREAD_ONCE_INIT;

static void read_env(void)
{
    const char *k = getenv("RRCONV_KERNEL");
    if (k != NULL && *k != '\0') {
        rr_env.forced = rr_kernel_find(k);
        if (rr_env.forced == NULL) snprintf(rr_env.unknown, sizeof rr_env.unknown, "%s", k);
    }
    const char *v = getenv("RRCONV_VERBOSE");
    rr_env.verbose = v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

/* ---- choosing a row ---------------------------------------------------------------------------- */

/*
 * Whether normalizing for a fast row is worth it: packing a non-dense input (or widening a half input for an
 * f32 row) visits each of its index
 * positions, and a broadcast (stride-0) or sparsely read input can have far more of them than the
 * computation reads (one float broadcast to 2^20 x 2^20 under a stride of 2^20 asked for 4 TiB of
 * scratch for a 1x1 output). When the positions to pack outnumber the reference loops' multiply-adds
 * 16 times over, the reference row, which reads every form in place, takes the problem (a multiply-add
 * there costs a few times what packing an element does, so a merely strided input, e.g. under a
 * stride-2 1x1 filter, is still packed for the fast row).
 */
static int packing_pays(const rr_problem *p, const rr_kernel_row *row)
{
    const rr_conv *c = &p->c;
    int64_t work = 1;
    const int64_t f[] = {c->n, c->groups, c->ocpg, c->oh, c->ow, c->icpg, c->fh, c->fw};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (__builtin_mul_overflow(work, f[i], &work)) return 1;
    }
    const struct { rr_tensor t; const rr_view *v; } in[] = {
        {RR_T_SRC, &p->src}, {RR_T_FILTER, &p->filter}, {RR_T_DIFF, &p->diff},
        {RR_T_RIN, &p->rin}, {RR_T_ROUT, &p->rout},
    };
    int64_t packed = 0;
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        int64_t shape[5];
        const int nd = rr_tensor_shape(c, in[i].t, shape);
        if (in[i].v->data == NULL) continue;
        /* a data input of another type than the row's (a half call on an f32 row) is widened: packed too */
        const int is_data = in[i].t != RR_T_RIN && in[i].t != RR_T_ROUT;
        if ((!is_data || row->dtype == c->dtype) && rr_is_dense_in(c, in[i].t, in[i].v->strides, row->layout)) {
            continue;
        }
        int64_t count = 1;
        for (int d = 0; d < nd; d++) {
            if (__builtin_mul_overflow(count, shape[d], &count)) return 0;
        }
        if (__builtin_add_overflow(packed, count, &packed)) return 0;
    }
    return packed / 16 <= work;
}

/* Sets *row to the row to run p on; or returns an error status after rr_fail. */
static rrconv_status choose(const rr_problem *p, const rr_kernel_row **row)
{
    *row = NULL;
    if (p->c.algorithm != RRCONV_ALGO_AUTO) {
        *row = rr_kernel_reference(p->dir);
        return RRCONV_OK;
    }
    const rr_kernel_row *f = rr_env.forced;
    if (f != NULL && f->dir == p->dir) {
        if (!rr_kernel_available(f)) {
            return rr_fail(RRCONV_UNSUPPORTED, "%s: RRCONV_KERNEL forces %s, which needs ISA %s, but this "
                           "process may use %s (the CPU, capped by RRCONV_MAX_ISA)", p->op, f->name, rr_isa_name(f->isa),
                    rr_isa_name(rr_active_isa()));
        }
        if (!rr_kernel_applies(f, &p->c)) {
            return rr_fail(RRCONV_UNSUPPORTED, "%s: RRCONV_KERNEL forces %s, which does not apply to this "
                           "problem (it applies to: %s)", p->op, f->name, f->applies_text);
        }
        *row = f;
        return RRCONV_OK;
    }
    *row = rr_kernel_pick(p->dir, &p->c);
    if (*row != NULL && *row != rr_kernel_reference(p->dir) && !packing_pays(p, *row)) {
        *row = rr_kernel_reference(p->dir);
    }
    if (*row != NULL) return RRCONV_OK;
    return rr_fail(RRCONV_INTERNAL_ERROR, "%s: no kernel for direction %s", p->op, rr_direction_name(p->dir));
}

/* ---- RRCONV_VERBOSE ---------------------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/*
 * rrconv_verbose,exec,<direction>,<kernel>,<isa>,<dtype>,<layout>,mask:<int32|uint8>,
 * mode:<cross_correlation|convolution>,threads:<T>,<problem>,<ms>[,<note>]
 * with <problem> mb<N>_g<G>_icpg.._ocpg.._ih.._iw.._oh.._ow.._fh.._fw.._sh.._sw.._ph.._pw.._dh.._dw..
 * with <dtype> the call's data type (not the row's: an f32 row widens a half call's inputs) and <ms> the
 * call's wall time with 4 significant digits (fixed notation: 0.2310, 12.50, 1234; from
 * 10000 ms on, whole milliseconds) and <note>, where the row made a choice inside, what it chose
 * (rr_note; e.g. "ran:forward_nhwc_depthwise__avx512 active:0.37<0.50").
 */
static void print_verbose(const rr_problem *p, const rr_kernel_row *row, double ms)
{
    const rr_conv *c = &p->c;
    int decimals = 3;
    for (double v = ms; v >= 10.0 && decimals > 0; v /= 10.0) decimals--;
    for (double v = ms; v > 0.0 && v < 1.0 && decimals < 12; v *= 10.0) decimals++;
    fprintf(stderr,
            "rrconv_verbose,exec,%s,%s,%s,%s,%s,mask:%s,mode:%s,threads:%d,"
            "mb%" PRId64 "_g%" PRId64 "_icpg%" PRId64 "_ocpg%" PRId64 "_ih%" PRId64 "_iw%" PRId64 "_oh%" PRId64
            "_ow%" PRId64 "_fh%" PRId64 "_fw%" PRId64 "_sh%" PRId64 "_sw%" PRId64 "_ph%" PRId64 "_pw%" PRId64
            "_dh%" PRId64 "_dw%" PRId64 ",%.*f%s%s\n",
            rr_direction_name(p->dir), row->name, rr_isa_name(row->isa), rr_dtype_name(c->dtype),
            rr_layout_name(row->layout),
            c->mask_type == RRCONV_MASK_UINT8 ? "uint8" : "int32",
            c->mode == RRCONV_CONVOLUTION ? "convolution" : "cross_correlation", (int)rrconv_get_num_threads(),
            c->n, c->groups, c->icpg, c->ocpg, c->ih, c->iw, c->oh, c->ow, c->fh, c->fw, c->sh, c->sw, c->ph, c->pw,
            c->dh, c->dw, decimals, ms, p->note[0] != '\0' ? "," : "", p->note);
}

/* ---- dispatch ---------------------------------------------------------------------------------- */

rrconv_status rr_dispatch(const rr_problem *p)
{
    pthread_once(&rr_env_once, read_env);
    const char *isa_error = rr_isa_env_error();
    if (isa_error != NULL) return rr_fail(RRCONV_INVALID_ARGUMENT, "%s: %s", p->op, isa_error);
    if (rr_env.unknown[0] != '\0') {
        return rr_fail(RRCONV_INVALID_ARGUMENT, "%s: RRCONV_KERNEL is '%s' but names no kernel (the names: "
                       "rrconv_kernel_get, or `rrconv info --kernels`)", p->op, rr_env.unknown);
    }
    const double t0 = rr_env.verbose ? now_ms() : 0.0;
    const rr_kernel_row *row;
    rrconv_status st = choose(p, &row);
    if (st != RRCONV_OK) return st;
    char note[RR_NOTE_SIZE] = "";
    rr_problem noted = *p;
    noted.note = rr_env.verbose ? note : NULL;
    st = rr_kernel_run(row, &noted);
    if (st == RRCONV_OK && rr_env.verbose) print_verbose(&noted, row, now_ms() - t0);
    return st;
}
