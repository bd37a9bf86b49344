/*
 * test_kernel_table.c -- every row of the kernel table (src/kernels/kernel_list.inc) against the
 * double-precision oracle (tensor_util.h's t_oracle), without a test per kernel: for each row that
 * this process may run (its ISA <= the active one; ctest runs the suite once per ISA level through
 * RRCONV_MAX_ISA), seeded random problems are drawn until ROW_CONFIGS of them apply to the row, and
 * each is run on exactly that row (rr_kernel_run) at 1, 2, 3 and 7 threads, with random tensor layouts
 * and both modes and mask types (the row runs on the normalized problem, as in dispatch). A row that
 * computes on channels-last tensors (layout nhwc) gets src, diff and the activation output in dense NHWC
 * (what api.c recognises as an NHWC call). Masks are random, blocky or cells (superpixel-like).
 *
 * Data are small integers, so every sum is exact: the row must equal the oracle exactly and give
 * the same bits at every thread count; outputs' gaps must keep their sentinel. A row that no drawn
 * problem applied to fails the suite (an untested row is a failure, not a skip).
 *
 * Also checked: rrconv_kernel_count / rrconv_kernel_get (names unique and of the form
 * <direction>_<variant>__<isa> or <direction>_reference, reference last per direction, bad arguments),
 * and with --env MODE the environment variables (ctest sets them, they are read once per process):
 *   --env forced NAME   RRCONV_KERNEL=NAME: that row runs, other problems of its direction are
 *                       RRCONV_UNSUPPORTED, other directions run normally
 *   --env unknown       RRCONV_KERNEL=no_such_kernel: INVALID_ARGUMENT naming it
 *   --env max-isa       RRCONV_MAX_ISA=garbage: INVALID_ARGUMENT naming the valid values
 *   --env verbose       RRCONV_VERBOSE=1: the exact line format on stderr
 * Usage: test_kernel_table [configs-per-row [seed]] | --env MODE [NAME]
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"
#include "kernels/kernels.h"
#include "tensor_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ROW_CONFIGS = 30;
static const int THREADS[4] = {1, 2, 3, 7};

static rr_conv conv_of(const rrconv_conv_desc *d)
{
    rr_conv c;
    memset(&c, 0, sizeof c);
    c.n = d->n; c.groups = d->groups; c.icpg = d->icpg; c.ocpg = d->ocpg;
    c.ic = d->groups * d->icpg; c.oc = d->groups * d->ocpg;
    c.ih = d->ih; c.iw = d->iw; c.oh = d->oh; c.ow = d->ow; c.fh = d->fh; c.fw = d->fw;
    c.sh = d->stride_h; c.sw = d->stride_w; c.ph = d->pad_h; c.pw = d->pad_w; c.dh = d->dil_h; c.dw = d->dil_w;
    c.mode = (rrconv_mode)d->mode;
    c.mask_type = (rrconv_mask_type)d->mask_type;
    c.algorithm = (rrconv_algorithm)d->algorithm;
    return c;
}

/*
 * A random small problem. Each axis is, at random, "same"-shaped (odd filter, pad (F-1)/2, stride 1,
 * dilation 1: what the row segment rows want), wide (F 31) or free; the channels are depthwise,
 * grouped or dense. The mix reaches every row's applies() within a few hundred draws.
 */
static rrconv_conv_desc draw(uint64_t *rng)
{
    for (;;) {
        int64_t g, icpg, ocpg;
        switch (t_int(rng, 0, 3)) {
        case 0: g = t_int(rng, 1, 19); icpg = 1; ocpg = 1; break;
        case 1: g = t_int(rng, 1, 5); icpg = 1; ocpg = 1; break;
        case 2: g = t_int(rng, 1, 3); icpg = t_int(rng, 1, 3); ocpg = t_int(rng, 1, 3); break;
        default: g = 1; icpg = t_int(rng, 1, 6); ocpg = t_int(rng, 1, 14); break;
        }
        int64_t f[2], s[2], p[2], dl[2], in[2];
        for (int a = 0; a < 2; a++) {
            const int64_t kind = t_int(rng, 0, 5);
            if (kind <= 2) { /* "same" */
                static const int64_t odd[] = {3, 3, 3, 5, 7, 9, 11, 13};
                f[a] = odd[t_int(rng, 0, 7)];
                s[a] = 1; dl[a] = 1; p[a] = (f[a] - 1) / 2;
            } else if (kind == 3 && a == 1) { /* the widest row segment width */
                f[a] = 31; s[a] = 1; dl[a] = 1; p[a] = 15;
            } else {
                f[a] = t_int(rng, 1, 5); s[a] = t_int(rng, 1, 3); dl[a] = t_int(rng, 1, 2);
                p[a] = t_int(rng, 0, f[a]);
            }
            int64_t lo = dl[a] * (f[a] - 1) + 1 - 2 * p[a];
            if (lo < 1) lo = 1;
            in[a] = lo + t_int(rng, 0, a == 1 ? 40 : 12);
        }
        rrconv_conv_desc d = t_desc(t_int(rng, 1, 2), g, icpg, ocpg, in[0], in[1], f[0], f[1], s[0], s[1], p[0], p[1],
                                    dl[0], dl[1], (int)t_int(rng, 0, 1), (int)t_int(rng, 0, 1));
        const double work = (double)d.n * g * ocpg * icpg * d.oh * d.ow * f[0] * f[1];
        if (d.oh >= 1 && d.ow >= 1 && work <= 400000.0) return d;
    }
}

/* ---- one row on one problem ------------------------------------------------------------------- */

typedef struct inputs {
    tview src, flt, diff, rin, rout;
} inputs;

/* Mask kinds: random labels, blocky (runs of equal labels), cells (a grid of 4x4-pixel regions, each
 * its own label modulo 256: what superpixel masks look like) */
enum { MASK_RANDOM = 0, MASK_BLOCKY, MASK_CELLS, MASK_KINDS };

/* layout: L_NHWC for a row that computes on channels-last tensors (src and diff drawn NHWC), else -1
 * (every tensor's layout drawn at random) */
static void make_inputs(inputs *in, const rrconv_conv_desc *d, uint64_t *rng, int layout)
{
    const int64_t IC = d->groups * d->icpg, OC = d->groups * d->ocpg;
    const int64_t s_src[4] = {d->n, IC, d->ih, d->iw}, s_dst[4] = {d->n, OC, d->oh, d->ow};
    const int64_t s_flt[5] = {d->groups, d->ocpg, d->icpg, d->fh, d->fw};
    const int64_t s_rin[3] = {d->n, d->ih, d->iw}, s_rout[3] = {d->n, d->oh, d->ow};
    const size_t mes = d->mask_type == RRCONV_MASK_INT32 ? 4 : 1;
    tv_make(&in->src, rng, 4, s_src, 4, layout >= 0 ? layout : (int)t_int(rng, 0, L_COUNT - 1));
    tv_make(&in->flt, rng, 5, s_flt, 4, (int)t_int(rng, 0, L_COUNT - 1));
    tv_make(&in->diff, rng, 4, s_dst, 4, layout >= 0 ? layout : (int)t_int(rng, 0, L_COUNT - 1));
    tv_make(&in->rin, rng, 3, s_rin, mes, (int)t_int(rng, 0, L_COUNT - 1));
    tv_make(&in->rout, rng, 3, s_rout, mes, (int)t_int(rng, 0, L_COUNT - 1));
    tv_fill_f(&in->src, rng, 1);
    tv_fill_f(&in->flt, rng, 1);
    tv_fill_f(&in->diff, rng, 1);
    const int kind = (int)t_int(rng, 0, MASK_KINDS - 1);
    tview *ms[2] = {&in->rin, &in->rout};
    for (int m = 0; m < 2; m++) {
        int64_t idx[5] = {0};
        do {
            int64_t v;
            if (kind == MASK_CELLS) v = (idx[1] / 4 * 13 + idx[2] / 4) % 256;
            else v = kind == MASK_BLOCKY ? (idx[1] / 4 + idx[2] / 5) % 3 : t_int(rng, 0, 2);
            tv_setm(ms[m], idx, v == 2 ? 255 : v);
        } while (tv_next(ms[m], idx));
    }
}

static void free_inputs(inputs *in)
{
    tv_free(&in->src); tv_free(&in->flt); tv_free(&in->diff); tv_free(&in->rin); tv_free(&in->rout);
}

static void set_view(rr_view *v, const tview *t)
{
    v->data = tv_data(t);
    memcpy(v->strides, t->st, sizeof v->strides);
}

/* Runs row on d at every thread count; 1 if it matched the oracle everywhere. */
static int check_row_on(const rr_kernel_row *row, const rrconv_conv_desc *d, uint64_t *rng, int cfg)
{
    inputs in;
    const int nhwc = row->layout == RR_LAYOUT_NHWC;
    make_inputs(&in, d, rng, nhwc ? L_NHWC : -1);
    const int dir = (int)row->dir;
    const int64_t IC = d->groups * d->icpg, OC = d->groups * d->ocpg;
    const int64_t s_src[4] = {d->n, IC, d->ih, d->iw}, s_dst[4] = {d->n, OC, d->oh, d->ow};
    const int64_t s_flt[5] = {d->groups, d->ocpg, d->icpg, d->fh, d->fw};
    const int64_t *oshape = dir == 0 ? s_dst : dir == 1 ? s_src : s_flt;
    const int ond = dir == 2 ? 5 : 4;

    size_t count = 1;
    for (int i = 0; i < ond; i++) count *= (size_t)oshape[i];
    double *want = (double *)malloc(count * sizeof(double)), *abs_sum = (double *)malloc(count * sizeof(double));
    const tview *a = dir == 0 ? &in.src : dir == 1 ? &in.flt : &in.src;
    const tview *b = dir == 0 ? &in.flt : &in.diff;
    t_oracle(d, dir, a, b, &in.rin, &in.rout, want, abs_sum, count);

    tview out;
    tv_make(&out, rng, ond, oshape, 4, nhwc && dir != 2 ? L_NHWC : (int)t_int(rng, 0, L_BROADCAST - 1));
    float *first = (float *)malloc(count * sizeof(float));
    int ok = 1;
    for (int ti = 0; ti < 4 && ok; ti++) {
        rrconv_set_num_threads(THREADS[ti]);
        tv_fill_sentinel(&out);
        rr_problem p;
        memset(&p, 0, sizeof p);
        p.c = conv_of(d);
        p.c.layout = row->layout; /* what api.c finds for these tensors (NHWC rows: NHWC activations) */
        p.dir = row->dir;
        p.op = "test_kernel_table";
        if (dir != 1) set_view(&p.src, &in.src);
        if (dir != 2) set_view(&p.filter, &in.flt);
        if (dir != 0) set_view(&p.diff, &in.diff);
        set_view(&p.rin, &in.rin);
        set_view(&p.rout, &in.rout);
        p.out.data = (float *)tv_data(&out);
        memcpy(p.out.strides, out.st, sizeof out.st);
        const rrconv_status st = rr_kernel_run(row, &p);
        EXPECT(st == RRCONV_OK, "%s config %d: status %s (%s)", row->name, cfg, rrconv_status_name(st),
               rrconv_last_error());
        if (st != RRCONV_OK) {
            ok = 0;
            break;
        }
        EXPECT(ok &= tv_gaps_untouched(&out), "%s config %d threads %d: wrote outside the output view", row->name,
               cfg, THREADS[ti]);
        int64_t idx[5] = {0};
        size_t i = 0;
        do {
            const float got = tv_getf(&out, idx);
            if (ti == 0) first[i] = got;
            if (ok && (double)got != want[i]) {
                EXPECT(0, "%s config %d threads %d element %zu: got %.9g, oracle %.9g (n %" PRId64 " g %" PRId64
                       " icpg %" PRId64 " ocpg %" PRId64 " %" PRId64 "x%" PRId64 " -> %" PRId64 "x%" PRId64
                       " f %" PRId64 "x%" PRId64 " s %" PRId64 ",%" PRId64 " p %" PRId64 ",%" PRId64 " d %" PRId64
                       ",%" PRId64 " mode %d mask %d)", row->name, cfg, THREADS[ti], i, (double)got, want[i], d->n,
                       d->groups, d->icpg, d->ocpg, d->ih, d->iw, d->oh, d->ow, d->fh, d->fw, d->stride_h,
                       d->stride_w, d->pad_h, d->pad_w, d->dil_h, d->dil_w, d->mode, d->mask_type);
                ok = 0;
            }
            if (ok && ti > 0 && memcmp(&got, &first[i], 4) != 0) {
                EXPECT(0, "%s config %d: element %zu differs between 1 and %d threads", row->name, cfg, i,
                       THREADS[ti]);
                ok = 0;
            }
            i++;
        } while (tv_next(&out, idx));
    }
    rrconv_set_num_threads(0);
    free(first);
    free(want);
    free(abs_sum);
    tv_free(&out);
    free_inputs(&in);
    return ok;
}

/* ---- the suite -------------------------------------------------------------------------------- */

static void test_every_row(uint64_t seed)
{
    int count;
    const rr_kernel_row *rows = rr_kernel_rows(&count);
    int ran = 0, skipped = 0;
    for (int r = 0; r < count; r++) {
        const rr_kernel_row *row = &rows[r];
        if (!rr_kernel_available(row)) {
            printf("  %-46s not available at isa %s\n", row->name, rrconv_active_isa());
            skipped++;
            continue;
        }
        if (row->dtype != RR_DT_F32) {
            /* half rows: draw() makes float32 problems and rr_normalize has no half form yet;
             * test_half_kernels runs these rows' entries on hand-normalized half problems */
            printf("  %-46s half row: see test_half_kernels\n", row->name);
            continue;
        }
        uint64_t rng = seed + 7919u * (uint64_t)r;
        int applied = 0, draws = 0;
        for (; draws < 20000 && applied < ROW_CONFIGS; draws++) {
            const rrconv_conv_desc d = draw(&rng);
            rr_conv c = conv_of(&d);
            c.layout = row->layout;
            if (!rr_kernel_applies(row, &c)) continue;
            check_row_on(row, &d, &rng, applied);
            applied++;
        }
        printf("  %-46s %d configs x %d thread counts (%d draws)\n", row->name, applied, 4, draws);
        EXPECT(applied > 0, "%s: no random problem applied to it: the suite never exercised this row", row->name);
        ran++;
    }
    printf("isa %s: %d rows checked, %d not available\n", rrconv_active_isa(), ran, skipped);
}

static void test_table_api(void)
{
    const int32_t n = rrconv_kernel_count();
    EXPECT(n >= 3, "rrconv_kernel_count() = %d", (int)n);
    const char *dirs[3] = {"forward", "backward_data", "backward_filter"};
    int last_was_reference[3] = {0, 0, 0}, references[3] = {0, 0, 0};
    for (int32_t i = 0; i < n; i++) {
        rrconv_kernel_info k;
        memset(&k, 0xff, sizeof k);
        EXPECT_OK(rrconv_kernel_get(i, &k));
        EXPECT(k.name && k.direction && k.isa && k.dtype && k.layout && k.applies, "row %d: NULL field", (int)i);
        EXPECT(k.reserved == 0 && (k.available == 0 || k.available == 1), "row %d: reserved/available", (int)i);
        EXPECT((strcmp(k.dtype, "f32") == 0 || strcmp(k.dtype, "f16") == 0 || strcmp(k.dtype, "bf16") == 0) &&
                   strcmp(k.layout, "nchw") == 0,
               "row %d: dtype/layout", (int)i);
        int d = -1;
        for (int j = 0; j < 3; j++) {
            if (strcmp(k.direction, dirs[j]) == 0) d = j;
        }
        EXPECT(d >= 0, "row %s: direction %s", k.name, k.direction);
        if (d < 0) continue;
        char want[128];
        const int is_ref = strcmp(k.isa, "scalar") == 0;
        if (is_ref) {
            snprintf(want, sizeof want, "%s_reference", k.direction);
            EXPECT(strcmp(k.name, want) == 0, "row %s: a reference row must be called %s", k.name, want);
            EXPECT(k.available == 1, "%s must always be available", k.name);
            references[d]++;
        } else {
            const size_t ld = strlen(k.direction), ln = strlen(k.name);
            snprintf(want, sizeof want, "__%s", k.isa);
            EXPECT(strncmp(k.name, k.direction, ld) == 0 && k.name[ld] == '_' && ln > strlen(want) &&
                       strcmp(k.name + ln - strlen(want), want) == 0,
                   "row %s: not <direction>_<variant>__<isa>", k.name);
            EXPECT(!last_was_reference[d], "row %s comes after %s_reference", k.name, k.direction);
        }
        last_was_reference[d] = is_ref;
        for (int32_t j = 0; j < i; j++) {
            rrconv_kernel_info o;
            EXPECT_OK(rrconv_kernel_get(j, &o));
            EXPECT(strcmp(o.name, k.name) != 0, "row name %s twice", k.name);
        }
    }
    for (int j = 0; j < 3; j++) EXPECT(references[j] == 1 && last_was_reference[j], "%s: reference row not last", dirs[j]);
    rrconv_kernel_info k;
    EXPECT(rrconv_kernel_get(n, &k) == RRCONV_INVALID_ARGUMENT && strstr(rrconv_last_error(), "index") != NULL,
           "index n accepted: %s", rrconv_last_error());
    EXPECT(rrconv_kernel_get(-1, &k) == RRCONV_INVALID_ARGUMENT, "index -1 accepted");
    EXPECT(rrconv_kernel_get(0, NULL) == RRCONV_INVALID_ARGUMENT && strstr(rrconv_last_error(), "info") != NULL,
           "NULL info accepted: %s", rrconv_last_error());
}

/* ---- the environment variables (one process per mode) ---------------------------------------- */

/* A dense problem through the public API: direction dir (0, 1, 2). */
static rrconv_status public_call(int dir, const rrconv_conv_desc *d)
{
    uint64_t rng = 5;
    inputs in;
    const int64_t IC = d->groups * d->icpg, OC = d->groups * d->ocpg;
    const int64_t s_src[4] = {d->n, IC, d->ih, d->iw}, s_dst[4] = {d->n, OC, d->oh, d->ow};
    const int64_t s_flt[5] = {d->groups, d->ocpg, d->icpg, d->fh, d->fw};
    const int64_t s_rin[3] = {d->n, d->ih, d->iw}, s_rout[3] = {d->n, d->oh, d->ow};
    tv_make(&in.src, &rng, 4, s_src, 4, L_DENSE_NULL);
    tv_make(&in.flt, &rng, 5, s_flt, 4, L_DENSE_NULL);
    tv_make(&in.diff, &rng, 4, s_dst, 4, L_DENSE_NULL);
    tv_make(&in.rin, &rng, 3, s_rin, 4, L_DENSE_NULL);
    tv_make(&in.rout, &rng, 3, s_rout, 4, L_DENSE_NULL);
    tv_fill_f(&in.src, &rng, 1);
    tv_fill_f(&in.flt, &rng, 1);
    tv_fill_f(&in.diff, &rng, 1);
    memset(in.rin.buf, 0, in.rin.buf_elems * 4);
    memset(in.rout.buf, 0, in.rout.buf_elems * 4);
    tview out;
    tv_make(&out, &rng, dir == 2 ? 5 : 4, dir == 0 ? s_dst : dir == 1 ? s_src : s_flt, 4, L_DENSE_NULL);
    rrconv_status st;
    if (dir == 0) {
        st = rrconv_forward_f32(d, tv_data(&in.src), NULL, tv_data(&in.flt), NULL, tv_data(&in.rin), NULL,
                                tv_data(&in.rout), NULL, tv_data(&out), NULL);
    } else if (dir == 1) {
        st = rrconv_backward_data_f32(d, tv_data(&in.flt), NULL, tv_data(&in.diff), NULL, tv_data(&in.rin), NULL,
                                      tv_data(&in.rout), NULL, tv_data(&out), NULL);
    } else {
        st = rrconv_backward_filter_f32(d, tv_data(&in.src), NULL, tv_data(&in.diff), NULL, tv_data(&in.rin), NULL,
                                        tv_data(&in.rout), NULL, tv_data(&out), NULL);
    }
    tv_free(&out);
    free_inputs(&in);
    return st;
}

static int env_mode(const char *mode, const char *name)
{
    const rrconv_conv_desc dw = t_desc(1, 4, 1, 1, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, RRCONV_CROSS_CORRELATION,
                                       RRCONV_MASK_INT32);
    const rrconv_conv_desc dense = t_desc(1, 1, 3, 2, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, RRCONV_CROSS_CORRELATION,
                                          RRCONV_MASK_INT32);
    if (strcmp(mode, "forced") == 0 && name != NULL) {
        const rr_kernel_row *row = rr_kernel_find(name);
        EXPECT(row != NULL, "%s is no row", name);
        if (row == NULL) return t_finish("test_kernel_table --env forced");
        const int dir = (int)row->dir;
        const rr_conv cdw = conv_of(&dw), cdense = conv_of(&dense);
        const rrconv_conv_desc *fits = rr_kernel_applies(row, &cdw) ? &dw : rr_kernel_applies(row, &cdense) ? &dense : NULL;
        const rrconv_conv_desc *other = !rr_kernel_applies(row, &cdw) ? &dw : !rr_kernel_applies(row, &cdense) ? &dense : NULL;
        if (!rr_kernel_available(row)) {
            EXPECT(public_call(dir, &dense) == RRCONV_UNSUPPORTED && strstr(rrconv_last_error(), name) != NULL &&
                       strstr(rrconv_last_error(), "needs ISA") != NULL,
                   "forced %s without its ISA: %s", name, rrconv_last_error());
        } else {
            if (fits != NULL) EXPECT_OK(public_call(dir, fits));
            if (other != NULL) {
                EXPECT(public_call(dir, other) == RRCONV_UNSUPPORTED && strstr(rrconv_last_error(), name) != NULL &&
                           strstr(rrconv_last_error(), "does not apply") != NULL,
                       "forced %s on a problem it does not apply to: %s", name, rrconv_last_error());
            }
        }
        /* the other directions dispatch as usual; a REFERENCE call runs the reference */
        EXPECT_OK(public_call((dir + 1) % 3, &dense));
        EXPECT_OK(public_call((dir + 2) % 3, &dw));
        rrconv_conv_desc ref = other != NULL ? *other : dense;
        ref.algorithm = RRCONV_ALGO_REFERENCE;
        EXPECT_OK(public_call(dir, &ref));
        return t_finish("test_kernel_table --env forced");
    }
    if (strcmp(mode, "unknown") == 0) {
        for (int dir = 0; dir < 3; dir++) {
            EXPECT(public_call(dir, &dense) == RRCONV_INVALID_ARGUMENT &&
                       strstr(rrconv_last_error(), "RRCONV_KERNEL is 'no_such_kernel'") != NULL,
                   "unknown RRCONV_KERNEL: %s", rrconv_last_error());
        }
        return t_finish("test_kernel_table --env unknown");
    }
    if (strcmp(mode, "max-isa") == 0) {
        EXPECT(public_call(0, &dense) == RRCONV_INVALID_ARGUMENT &&
                   strstr(rrconv_last_error(), "RRCONV_MAX_ISA is 'garbage'") != NULL &&
                   strstr(rrconv_last_error(), "avx512, avx2, portable, scalar") != NULL,
               "RRCONV_MAX_ISA=garbage: %s", rrconv_last_error());
        EXPECT(rrconv_active_isa() != NULL, "active isa");
        return t_finish("test_kernel_table --env max-isa");
    }
    if (strcmp(mode, "verbose") == 0) {
        char path[] = "/tmp/rrconv_verbose_XXXXXX";
        const int fd = mkstemp(path);
        EXPECT(fd >= 0 && freopen(path, "w", stderr) != NULL, "redirect stderr");
        rrconv_set_num_threads(2);
        rrconv_conv_desc conv = dw;
        conv.mode = RRCONV_CONVOLUTION;
        EXPECT_OK(public_call(0, &conv));
        EXPECT_OK(public_call(2, &dense));
        fflush(stderr);
        FILE *f = fopen(path, "r");
        char line[2][512] = {{0}};
        for (int i = 0; i < 2 && f != NULL; i++) {
            if (fgets(line[i], sizeof line[i], f) == NULL) line[i][0] = '\0';
        }
        if (f != NULL) fclose(f);
        remove(path);
        const rr_conv c0 = conv_of(&conv), c2 = conv_of(&dense);
        const rr_kernel_row *r0 = rr_kernel_pick(RR_FORWARD, &c0), *r2 = rr_kernel_pick(RR_BACKWARD_FILTER, &c2);
        char want[2][256];
        snprintf(want[0], sizeof want[0], "rrconv_verbose,exec,forward,%s,%s,f32,nchw,mask:int32,mode:convolution,"
                 "threads:2,mb1_g4_icpg1_ocpg1_ih9_iw9_oh9_ow9_fh3_fw3_sh1_sw1_ph1_pw1_dh1_dw1,", r0->name,
                 rr_isa_name(r0->isa));
        snprintf(want[1], sizeof want[1], "rrconv_verbose,exec,backward_filter,%s,%s,f32,nchw,mask:int32,"
                 "mode:cross_correlation,threads:2,mb1_g1_icpg3_ocpg2_ih9_iw9_oh9_ow9_fh3_fw3_sh1_sw1_ph1_pw1_dh1_dw1,",
                 r2->name, rr_isa_name(r2->isa));
        for (int i = 0; i < 2; i++) {
            const size_t lw = strlen(want[i]);
            EXPECT(strncmp(line[i], want[i], lw) == 0, "verbose line %d:\n got  %s want %s<ms>", i, line[i], want[i]);
            /* <ms>: digits, one '.', 4 significant digits */
            const char *ms = line[i] + lw;
            int digits = 0, sig = 0, dots = 0;
            for (const char *q = ms; *q && *q != '\n'; q++) {
                if (*q == '.') dots++;
                else if (*q >= '0' && *q <= '9') {
                    digits++;
                    if (sig > 0 || *q != '0') sig++;
                } else {
                    digits = -100;
                }
            }
            EXPECT(digits > 0 && dots <= 1 && (sig == 4 || (dots == 0 && sig >= 4)), "verbose <ms> '%s'", ms);
        }
        return t_finish("test_kernel_table --env verbose");
    }
    fprintf(stdout, "unknown --env mode %s\n", mode);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--env") == 0) return env_mode(argv[2], argc > 3 ? argv[3] : NULL);
    if (argc > 1) ROW_CONFIGS = atoi(argv[1]);
    const uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 20261207u;
    printf("active ISA: %s, %d configs per row\n", rrconv_active_isa(), ROW_CONFIGS);
    test_table_api();
    test_every_row(seed);
    return t_finish("test_kernel_table");
}
