/*
 * test_kernel_table.c -- every row of the kernel table (src/kernels/kernel_list.inc) against the
 * double-precision oracle (tensor_util.h's t_oracle), without a test per kernel: for each row that
 * this process may run (its ISA <= the active one; ctest runs the suite once per ISA level through
 * RRCONV_MAX_ISA), seeded random problems are drawn until ROW_CONFIGS of them apply to the row, and
 * each is run on exactly that row (rr_kernel_run) at 1, 2, 3 and 7 threads, with random tensor layouts
 * and both modes and mask types (the row runs on the normalized problem, as in dispatch). A row that
 * computes on channels-last tensors (layout nhwc) gets src, diff and the activation output in dense NHWC
 * (what api.c recognises as an NHWC call); one that also takes NCHW calls (large depthwise filters,
 * transposed by rr_normalize) runs 10 more problems as NCHW calls with tensors of random layouts.
 * Masks are random, blocky or cells (superpixel-like).
 *
 * Data are small integers, so every sum is exact: the row must equal the oracle exactly and give
 * the same bits at every thread count; outputs' gaps must keep their sentinel. A row that no drawn
 * problem applied to fails the suite (an untested row is a failure, not a skip).
 *
 * Data types: a row of dtype f16 / bf16 gets problems of its type, the output of that type and float32 in
 * turn; an f32 row gets float32 problems and, every fifth config each, float16 and bfloat16 ones (the
 * widening path of rr_normalize). The oracle is the double result of the same (half) inputs rounded once
 * to the output type (tensor_util.h's t_round_to): with integer data the float32 sum is exact, so the
 * row must match it exactly.
 * --precision [configs [seed]]: half-precision problems only (f32 rows: float16 and bfloat16 in turn),
 * non-integer data in three scales (plain, tiny: outputs in the denormal range, large: float16 sums
 * past 65504) with NaN, +-Inf, denormals and 65504 sprinkled in: NaN exactly where the oracle is NaN,
 * Inf where it is Inf, else within half an ulp of the output type of the exact result (plus float32
 * accumulation's error bound): correctly rounded, so within 1 ulp of the oracle rounded to the type.
 *
 * Also checked: rrconv_kernel_count / rrconv_kernel_get (names unique and of the form
 * <direction>_<variant>__<isa> or <direction>_reference, reference last per direction, bad arguments),
 * and with --env MODE the environment variables (ctest sets them, they are read once per process):
 *   --env forced NAME   RRCONV_KERNEL=NAME: that row runs, other problems of its direction are
 *                       RRCONV_UNSUPPORTED, other directions run normally
 *   --env unknown       RRCONV_KERNEL=no_such_kernel: INVALID_ARGUMENT naming it
 *   --env max-isa       RRCONV_MAX_ISA=garbage: INVALID_ARGUMENT naming the valid values
 *   --env verbose       RRCONV_VERBOSE=1: the exact line format on stderr
 * Usage: test_kernel_table [--precision] [configs-per-row [seed]] | --env MODE [NAME]
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"
#include "kernels/kernels.h"
#include "tensor_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
 * grouped or dense, now and then wider than four vectors of channels (depthwise 33..90 groups, ICPG
 * 15..40) with odd tails. The mix reaches every row's applies() within a few hundred draws.
 */
static rrconv_conv_desc draw(uint64_t *rng)
{
    for (;;) {
        int64_t g, icpg, ocpg;
        switch (t_int(rng, 0, 6)) {
        case 0: g = t_int(rng, 1, 19); icpg = 1; ocpg = 1; break;
        case 1: g = t_int(rng, 1, 5); icpg = 1; ocpg = 1; break;
        case 2: g = t_int(rng, 1, 3); icpg = t_int(rng, 1, 3); ocpg = t_int(rng, 1, 3); break;
        /* channel counts past one or two vector widths, odd tails (the channels-last rows vectorize
           over channels) */
        case 3: g = t_int(rng, 20, 150); icpg = 1; ocpg = 1; break;
        /* up to 5 groups; a third of the draws OCPG 16 or 20..70: the NHWC tap-GEMM row's blocks of
           1..4 groups (OCPG <= 16) and of 1..4 vectors of one group's channels */
        case 4:
            g = t_int(rng, 1, 5); icpg = t_int(rng, 7, 40);
            ocpg = t_int(rng, 0, 2) ? t_int(rng, 1, 19) : t_int(rng, 0, 1) ? 16 : t_int(rng, 20, 70);
            break;
        case 5: g = t_int(rng, 1, 2); icpg = t_int(rng, 1, 4); ocpg = t_int(rng, 15, 70); break;
        default: g = 1; icpg = t_int(rng, 1, 6); ocpg = t_int(rng, 1, 14); break;
        }
        int64_t f[2], s[2], p[2], dl[2], in[2];
        for (int a = 0; a < 2; a++) {
            const int64_t kind = t_int(rng, 0, 5);
            if (kind <= 2) { /* "same" */
                static const int64_t odd[] = {3, 3, 3, 5, 7, 9, 11, 13};
                f[a] = odd[t_int(rng, 0, 7)];
                s[a] = 1; dl[a] = 1; p[a] = (f[a] - 1) / 2;
            } else if (kind == 3) { /* the widest row segment width; tall: with it, >= 400 taps */
                f[a] = a == 1 ? 31 : 21; s[a] = 1; dl[a] = 1; p[a] = f[a] / 2;
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

/* The data of one check: types, and for --precision the kind of values. */
typedef struct data_kind {
    int dt, odt;      /* rrconv_dtype of the inputs and of the output */
    int precision;    /* 0: small integers (every sum exact); 1: non-integer values, scaled by `scale`,
                         with NaN, Inf, denormals and large values sprinkled in */
    int scale;        /* precision: 0 in [-1, 1); 1 tiny (half outputs in the denormal range); 2 large
                         (float16: sums beyond 65504) */
    int no_denormals; /* precision: no denormal inputs sprinkled in (the bfloat16 dot-product rows' gate
                         passes on scale 0) */
} data_kind;

static const char *type_name(int dt)
{
    return dt == RRCONV_FLOAT16 ? "f16" : dt == RRCONV_BFLOAT16 ? "bf16" : "f32";
}

static int data_esize(int dt)
{
    return dt == RRCONV_FLOAT32 ? 4 : 2;
}

/* Fills a data tensor (which = 0 for src, 1 for the other input) for --precision. */
static void fill_precision(tview *t, uint64_t *rng, const data_kind *k, int which)
{
    tv_fill_f(t, rng, 1); /* gaps NaN */
    double scale = 1.0;
    if (k->scale == 1) scale = k->dt == RRCONV_BFLOAT16 ? ldexp(1.0, -63) : ldexp(1.0, which == 0 ? -12 : -6);
    if (k->scale == 2) scale = 128.0;
    const double denorm = k->dt == RRCONV_BFLOAT16 ? ldexp(1.0, -133) : ldexp(1.0, -24);
    int64_t idx[5] = {0};
    do {
        double v = t_unit(rng) * scale;
        switch (t_int(rng, 0, 99)) {
        case 0: v = NAN; break;
        case 1: v = INFINITY; break;
        case 2: v = -INFINITY; break;
        case 3: case 4: if (!k->no_denormals) v = denorm * (double)t_int(rng, -5, 5); break;
        case 5: if (k->dt == RRCONV_FLOAT16) v = 65504.0; break;
        default: break;
        }
        tv_setf(t, idx, (float)v);
    } while (tv_next(t, idx));
}

/* Mask kinds: random labels, blocky (runs of equal labels), cells (a grid of 4x4-pixel regions, each
 * its own label modulo 256: what superpixel masks look like) */
enum { MASK_RANDOM = 0, MASK_BLOCKY, MASK_CELLS, MASK_KINDS };

/* layout: L_NHWC for a row that computes on channels-last tensors (src and diff drawn NHWC), else -1
 * (every tensor's layout drawn at random) */
static void make_inputs(inputs *in, const rrconv_conv_desc *d, uint64_t *rng, int layout, const data_kind *k)
{
    const int64_t IC = d->groups * d->icpg, OC = d->groups * d->ocpg;
    const int64_t s_src[4] = {d->n, IC, d->ih, d->iw}, s_dst[4] = {d->n, OC, d->oh, d->ow};
    const int64_t s_flt[5] = {d->groups, d->ocpg, d->icpg, d->fh, d->fw};
    const int64_t s_rin[3] = {d->n, d->ih, d->iw}, s_rout[3] = {d->n, d->oh, d->ow};
    const size_t mes = d->mask_type == RRCONV_MASK_INT32 ? 4 : 1;
    const size_t des = (size_t)data_esize(k->dt);
    tv_make(&in->src, rng, 4, s_src, des, layout >= 0 ? layout : (int)t_int(rng, 0, L_COUNT - 1));
    tv_make(&in->flt, rng, 5, s_flt, des, (int)t_int(rng, 0, L_COUNT - 1));
    tv_make(&in->diff, rng, 4, s_dst, des, layout >= 0 ? layout : (int)t_int(rng, 0, L_COUNT - 1));
    tv_make(&in->rin, rng, 3, s_rin, mes, (int)t_int(rng, 0, L_COUNT - 1));
    tv_make(&in->rout, rng, 3, s_rout, mes, (int)t_int(rng, 0, L_COUNT - 1));
    in->src.dt = in->flt.dt = in->diff.dt = k->dt;
    if (k->precision) {
        fill_precision(&in->src, rng, k, 0);
        fill_precision(&in->flt, rng, k, 1);
        fill_precision(&in->diff, rng, k, 1);
    } else {
        tv_fill_f(&in->src, rng, 1);
        tv_fill_f(&in->flt, rng, 1);
        tv_fill_f(&in->diff, rng, 1);
    }
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

/*
 * Whether got is right for the exact (double) result want (sum of |terms| abs_sum, `terms` terms at
 * most) in output type odt. Integer data: got equals want rounded once to odt. --precision: NaN exactly
 * where want is NaN, an infinite want exactly, else within half an ulp of odt of want (rounded once from
 * a float32 sum), plus what float32 accumulation may add (terms * 2^-24 * abs_sum, and denormal steps).
 */
static int output_ok(double got, double want, double abs_sum, int64_t terms, const data_kind *k)
{
    if (k->odt == RRCONV_FLOAT32 && !k->precision) return got == want;
    const double expect = k->odt == RRCONV_FLOAT32 ? want : t_round_to(want, k->odt);
    if (!k->precision) return got == expect;
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    if (isnan(got)) return 0;
    /* correctly rounded from a float32 sum s: |got - s| <= ulp/2 and |s - want| <= the accumulation
       bound; so |got - want| <= ulp/2 + that (ulp at the larger magnitude) */
    const double acc = (double)terms * (ldexp(abs_sum, -24) + ldexp(1.0, -149));
    if (isinf(got)) { /* overflow: the sum reached the half-way point past the largest finite value */
        const double m = t_type_max(k->odt);
        return !signbit(got) == !signbit(want) && fabs(want) + acc >= m + 0.5 * t_ulp(m, k->odt);
    }
    const double big = fabs(got) > fabs(want) ? fabs(got) : fabs(want);
    return fabs(got - want) <= 0.5 * t_ulp(big, k->odt) + acc;
}

/* 1 if a view element of t is a denormal. */
static int has_denormal(const tview *t)
{
    int64_t idx[5] = {0};
    do {
        if (fpclassify(tv_getf(t, idx)) == FP_SUBNORMAL) return 1;
    } while (tv_next(t, idx));
    return 0;
}

/* Problems that a bfloat16 dot-product row computed itself / handed to its float32 row (the gate). */
static int bf16dot_own, bf16dot_handed;

/* After a bfloat16 dot-product row ran on multiplied inputs a and b: a denormal among them must have
 * made it hand the problem on (vdpbf16ps reads denormals as zero); integer data, and data in [-1, 1)
 * without denormals (their products are far from the denormal range), must not. */
static void check_bf16dot_route(const rr_kernel_row *row, const char *note, const tview *a, const tview *b,
                                const data_kind *k, int cfg)
{
    const int own = strncmp(note, "ran:", 4) != 0; /* rr_kernel_hand_over notes "ran:<row> <why>" */
    const int denormal = has_denormal(a) || has_denormal(b);
    if (own) bf16dot_own++;
    else bf16dot_handed++;
    if (denormal) {
        EXPECT(!own, "%s config %d: a denormal input, but the row computed it itself", row->name, cfg);
    } else if (!k->precision || k->scale == 0) {
        EXPECT(own, "%s config %d: no denormal and ordinary values, but handed on: %s", row->name, cfg, note);
    }
}

/* Runs row on d at every thread count; 1 if it matched the oracle everywhere. nchw_call: a channels-last
 * row on an NCHW call (tensors of random layouts, c.layout NCHW: the row's applies() admits some). */
static int check_row_on(const rr_kernel_row *row, const rrconv_conv_desc *d, uint64_t *rng, int cfg, int nchw_call,
                        const data_kind *k)
{
    inputs in;
    const int nhwc = row->layout == RR_LAYOUT_NHWC && !nchw_call;
    make_inputs(&in, d, rng, nhwc ? L_NHWC : -1, k);
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

    const int64_t terms = dir == 0   ? d->icpg * d->fh * d->fw
                          : dir == 1 ? d->ocpg * d->fh * d->fw
                                     : d->n * d->oh * d->ow;

    tview out;
    tv_make(&out, rng, ond, oshape, (size_t)data_esize(k->odt),
            nhwc && dir != 2 ? L_NHWC : (int)t_int(rng, 0, L_BROADCAST - 1));
    out.dt = k->odt;
    float *first = (float *)malloc(count * sizeof(float));
    int ok = 1;
    for (int ti = 0; ti < 4 && ok; ti++) {
        rrconv_set_num_threads(THREADS[ti]);
        tv_fill_sentinel(&out);
        rr_problem p;
        memset(&p, 0, sizeof p);
        p.c = conv_of(d);
        p.c.layout = nchw_call ? RR_LAYOUT_NCHW : row->layout; /* what api.c finds for these tensors */
        p.c.dtype = (rr_dtype)k->dt; /* rrconv_dtype and rr_dtype share their values */
        p.c.out_dtype = (rr_dtype)k->odt;
        p.dir = row->dir;
        p.op = "test_kernel_table";
        if (dir != 1) set_view(&p.src, &in.src);
        if (dir != 2) set_view(&p.filter, &in.flt);
        if (dir != 0) set_view(&p.diff, &in.diff);
        set_view(&p.rin, &in.rin);
        set_view(&p.rout, &in.rout);
        p.out.data = (float *)tv_data(&out);
        memcpy(p.out.strides, out.st, sizeof out.st);
        char note[RR_NOTE_SIZE] = "";
        p.note = note;
        const rrconv_status st = rr_kernel_run(row, &p);
        EXPECT(st == RRCONV_OK, "%s config %d: status %s (%s)", row->name, cfg, rrconv_status_name(st),
               rrconv_last_error());
        if (st != RRCONV_OK) {
            ok = 0;
            break;
        }
        EXPECT(ok &= tv_gaps_untouched(&out), "%s config %d threads %d: wrote outside the output view", row->name,
               cfg, THREADS[ti]);
        if (strstr(row->name, "bf16dot") != NULL && ti == 0) check_bf16dot_route(row, note, a, b, k, cfg);
        int64_t idx[5] = {0};
        size_t i = 0;
        do {
            const float got = tv_getf(&out, idx);
            if (ti == 0) first[i] = got;
            if (ok && !output_ok((double)got, want[i], abs_sum[i], terms, k)) {
                EXPECT(0, "%s config %d (%s -> %s%s) threads %d element %zu: got %.9g, oracle %.9g (n %" PRId64
                       " g %" PRId64
                       " icpg %" PRId64 " ocpg %" PRId64 " %" PRId64 "x%" PRId64 " -> %" PRId64 "x%" PRId64
                       " f %" PRId64 "x%" PRId64 " s %" PRId64 ",%" PRId64 " p %" PRId64 ",%" PRId64 " d %" PRId64
                       ",%" PRId64 " mode %d mask %d)", row->name, cfg, type_name(k->dt), type_name(k->odt),
                       k->precision ? ", non-integer" : "", THREADS[ti], i, (double)got, want[i], d->n,
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

/* The data types of config cfg of a row: a half row its own type, the output that type or float32 in
 * turn; an f32 row mostly float32, and every fifth config float16 / bfloat16 (its inputs widened). */
static data_kind kind_of(const rr_kernel_row *row, int cfg, int precision)
{
    data_kind k = {RRCONV_FLOAT32, RRCONV_FLOAT32, precision, 0, 0};
    if (row->dtype != RR_DT_F32) {
        k.dt = (int)row->dtype;
        k.odt = cfg % 2 ? RRCONV_FLOAT32 : k.dt;
    } else if (precision) {
        k.dt = cfg % 2 ? RRCONV_BFLOAT16 : RRCONV_FLOAT16;
        k.odt = cfg / 2 % 2 ? RRCONV_FLOAT32 : k.dt;
    } else if (cfg % 5 == 1 || cfg % 5 == 3) {
        k.dt = cfg % 5 == 1 ? RRCONV_FLOAT16 : RRCONV_BFLOAT16;
        k.odt = cfg / 5 % 2 ? RRCONV_FLOAT32 : k.dt;
    }
    if (precision) k.scale = (int)(cfg / 4 % 3);
    if (k.scale == 2 && k.dt == RRCONV_BFLOAT16) k.scale = 0; /* bfloat16's range is float32's */
    /* bfloat16 rows: every other pair of configs without denormals, so that the dot-product rows run
       non-integer data, NaN and Inf themselves (with denormals they hand the problem on) */
    if (precision && row->dtype == RR_DT_BF16) k.no_denormals = cfg / 2 % 2;
    return k;
}

/* Every row, or (only_nhwc_dir >= 0) the channels-last rows of that direction. */
static void test_rows(uint64_t seed, int only_nhwc_dir, int precision)
{
    int count;
    const rr_kernel_row *rows = rr_kernel_rows(&count);
    int ran = 0, skipped = 0;
    for (int r = 0; r < count; r++) {
        const rr_kernel_row *row = &rows[r];
        if (only_nhwc_dir >= 0 && ((int)row->dir != only_nhwc_dir || row->layout != RR_LAYOUT_NHWC)) continue;
        if (!rr_kernel_available(row)) {
            printf("  %-46s not available at isa %s\n", row->name, rrconv_active_isa());
            skipped++;
            continue;
        }
        if (strstr(row->name, "bf16dot") != NULL && !rr_cpu_has_bf16_dot()) {
            /* an AVX-512 CPU without vdpbf16ps (Skylake-X, Ice Lake): the row applies to nothing there */
            printf("  %-46s needs AVX512_BF16, which this CPU lacks\n", row->name);
            skipped++;
            continue;
        }
        uint64_t rng = seed + 7919u * (uint64_t)r;
        int applied = 0, draws = 0, nchw_calls = 0;
        for (; draws < 20000 && applied < ROW_CONFIGS; draws++) {
            const rrconv_conv_desc d = draw(&rng);
            const data_kind k = kind_of(row, applied, precision);
            rr_conv c = conv_of(&d);
            c.layout = row->layout;
            c.dtype = (rr_dtype)k.dt;
            c.out_dtype = (rr_dtype)k.odt;
            if (!rr_kernel_applies(row, &c)) continue;
            /* the bfloat16 dot-product rows: every third config with the tile plan's masks in chunks of a
               tile or two (partial sums carried from chunk to chunk) */
            const int chunked = strstr(row->name, "bf16dot") != NULL && applied % 3 == 2;
            if (chunked) rr_tile_set_mask_budget(256);
            check_row_on(row, &d, &rng, applied, 0, &k);
            if (chunked) rr_tile_set_mask_budget(0);
            applied++;
        }
        printf("  %-46s %d configs x %d thread counts (%d draws)\n", row->name, applied, 4, draws);
        if (strstr(row->name, "bf16dot") != NULL) {
            printf("  %-46s %d computed by the row, %d handed on (gate)\n", "", bf16dot_own, bf16dot_handed);
            /* the precision data reach both paths; integer data only the row's own */
            EXPECT(bf16dot_own > 0 && (precision ? bf16dot_handed > 0 : bf16dot_handed == 0),
                   "%s: %d computed, %d handed on", row->name, bf16dot_own, bf16dot_handed);
            bf16dot_own = bf16dot_handed = 0;
        }
        if (row->layout == RR_LAYOUT_NHWC && !precision) {
            /* NCHW calls a channels-last row takes (transposed): depthwise, filters of 625..1024 taps */
            const data_kind f32 = {RRCONV_FLOAT32, RRCONV_FLOAT32, 0, 0, 0};
            int nchw = 0;
            for (int k = 0; k < 6; k++) {
                const int64_t f = t_int(&rng, 25, 32), g = t_int(&rng, 16, 40), in = t_int(&rng, 3, 12);
                const int64_t s = t_int(&rng, 1, 2), pad = t_int(&rng, 0, f);
                const rrconv_conv_desc d = t_desc(t_int(&rng, 1, 2), g, 1, 1, in + f, in, f, f, s, 1, pad, pad, 1, 1,
                                                  (int)t_int(&rng, 0, 1), (int)t_int(&rng, 0, 1));
                rr_conv c = conv_of(&d);
                c.layout = RR_LAYOUT_NCHW;
                if (d.oh < 1 || d.ow < 1 || !rr_kernel_applies(row, &c)) continue;
                check_row_on(row, &d, &rng, ROW_CONFIGS + k, 1, &f32);
                nchw++;
            }
            if (nchw > 0) printf("  %-46s + %d NCHW calls x %d thread counts\n", row->name, nchw, 4);
            if (strstr(row->name, "nhwc_depthwise") != NULL)
                EXPECT(nchw > 0, "%s: no NCHW call applied to it (large depthwise filters should)", row->name);
        }
        /* an nhwc row that also takes NCHW calls (large filters): up to 10 drawn configs as NCHW calls */
        for (int more = 0; row->layout == RR_LAYOUT_NHWC && !precision && more < 20000 && nchw_calls < 10; more++) {
            const data_kind f32 = {RRCONV_FLOAT32, RRCONV_FLOAT32, 0, 0, 0};
            const rrconv_conv_desc d = draw(&rng);
            rr_conv c = conv_of(&d);
            c.layout = RR_LAYOUT_NCHW;
            if (!rr_kernel_applies(row, &c)) continue;
            check_row_on(row, &d, &rng, applied + nchw_calls, 1, &f32);
            nchw_calls++;
        }
        if (nchw_calls) printf("  %-46s + %d drawn NCHW calls x %d thread counts\n", row->name, nchw_calls, 4);
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
                   (strcmp(k.layout, "nchw") == 0 || strcmp(k.layout, "nhwc") == 0), "row %d: dtype/layout", (int)i);
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

/* A dense problem through the public API: direction dir (0, 1, 2), data of type dt (typed entry points;
 * the 4-byte buffers are large enough for any type). */
/* A call through the public API on small-integer data: NCHW tensors (strides NULL) and masks all 0, or with
 * nhwc_sparse dense channels-last src/diff/output and masks with id x % 3 (about a third of the taps active). */
#define TV(t) tv_data(&(t)), tv_strides(&(t))
static rrconv_status public_call_as(int dir, const rrconv_conv_desc *d, int32_t dt, int nhwc_sparse)
{
    uint64_t rng = 5;
    inputs in;
    const int64_t IC = d->groups * d->icpg, OC = d->groups * d->ocpg;
    const int64_t s_src[4] = {d->n, IC, d->ih, d->iw}, s_dst[4] = {d->n, OC, d->oh, d->ow};
    const int64_t s_flt[5] = {d->groups, d->ocpg, d->icpg, d->fh, d->fw};
    const int64_t s_rin[3] = {d->n, d->ih, d->iw}, s_rout[3] = {d->n, d->oh, d->ow};
    const int act = nhwc_sparse ? L_NHWC : L_DENSE_NULL;
    tv_make(&in.src, &rng, 4, s_src, 4, act);
    tv_make(&in.flt, &rng, 5, s_flt, 4, L_DENSE_NULL);
    tv_make(&in.diff, &rng, 4, s_dst, 4, act);
    tv_make(&in.rin, &rng, 3, s_rin, 4, L_DENSE_NULL);
    tv_make(&in.rout, &rng, 3, s_rout, 4, L_DENSE_NULL);
    tv_fill_f(&in.src, &rng, 1);
    tv_fill_f(&in.flt, &rng, 1);
    tv_fill_f(&in.diff, &rng, 1);
    memset(in.rin.buf, 0, in.rin.buf_elems * 4);
    memset(in.rout.buf, 0, in.rout.buf_elems * 4);
    if (nhwc_sparse) {
        int64_t idx[3] = {0, 0, 0};
        do tv_setm(&in.rin, idx, idx[2] % 3); while (tv_next(&in.rin, idx));
        do tv_setm(&in.rout, idx, idx[2] % 3); while (tv_next(&in.rout, idx));
    }
    tview out;
    tv_make(&out, &rng, dir == 2 ? 5 : 4, dir == 0 ? s_dst : dir == 1 ? s_src : s_flt, 4,
            dir == 2 ? L_DENSE_NULL : act);
    rrconv_status st;
    if (dt != RRCONV_FLOAT32) {
        if (dir == 0) {
            st = rrconv_forward(d, dt, dt, TV(in.src), TV(in.flt), TV(in.rin), TV(in.rout), TV(out));
        } else if (dir == 1) {
            st = rrconv_backward_data(d, dt, dt, TV(in.flt), TV(in.diff), TV(in.rin), TV(in.rout), TV(out));
        } else {
            st = rrconv_backward_filter(d, dt, dt, TV(in.src), TV(in.diff), TV(in.rin), TV(in.rout), TV(out));
        }
    } else if (dir == 0) {
        st = rrconv_forward_f32(d, TV(in.src), TV(in.flt), TV(in.rin), TV(in.rout), TV(out));
    } else if (dir == 1) {
        st = rrconv_backward_data_f32(d, TV(in.flt), TV(in.diff), TV(in.rin), TV(in.rout), TV(out));
    } else {
        st = rrconv_backward_filter_f32(d, TV(in.src), TV(in.diff), TV(in.rin), TV(in.rout), TV(out));
    }
    tv_free(&out);
    free_inputs(&in);
    return st;
}
#undef TV

static rrconv_status public_call_typed(int dir, const rrconv_conv_desc *d, int32_t dt)
{
    return public_call_as(dir, d, dt, 0);
}

static rrconv_status public_call(int dir, const rrconv_conv_desc *d)
{
    return public_call_typed(dir, d, RRCONV_FLOAT32);
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
        const int fd = mkstemp(path), saved = dup(fileno(stderr));
        EXPECT(fd >= 0 && saved >= 0 && freopen(path, "w", stderr) != NULL, "redirect stderr");
        rrconv_set_num_threads(2);
        rrconv_conv_desc conv = dw;
        conv.mode = RRCONV_CONVOLUTION;
        EXPECT_OK(public_call(0, &conv));
        EXPECT_OK(public_call(2, &dense));
        EXPECT_OK(public_call_typed(1, &dense, RRCONV_BFLOAT16));
        EXPECT_OK(public_call_as(0, &dw, RRCONV_FLOAT32, 1)); /* NHWC, a third of the taps active */
        fflush(stderr);
        FILE *f = fopen(path, "r");
        char line[4][512] = {{0}};
        for (int i = 0; i < 4 && f != NULL; i++) {
            if (fgets(line[i], sizeof line[i], f) == NULL) line[i][0] = '\0';
        }
        if (f != NULL) fclose(f);
        remove(path);
        if (saved >= 0) dup2(saved, fileno(stderr)); /* the failures below go to the real stderr */
        const rr_conv c0 = conv_of(&conv), c2 = conv_of(&dense);
        const rr_kernel_row *r0 = rr_kernel_pick(RR_FORWARD, &c0), *r2 = rr_kernel_pick(RR_BACKWARD_FILTER, &c2);
        rr_conv c1 = c2;
        c1.dtype = c1.out_dtype = RR_DT_BF16;
        const rr_kernel_row *r1 = rr_kernel_pick(RR_BACKWARD_DATA, &c1);
        char want[4][256];
        snprintf(want[0], sizeof want[0], "rrconv_verbose,exec,forward,%s,%s,f32,nchw,mask:int32,mode:convolution,"
                 "threads:2,mb1_g4_icpg1_ocpg1_ih9_iw9_oh9_ow9_fh3_fw3_sh1_sw1_ph1_pw1_dh1_dw1,", r0->name,
                 rr_isa_name(r0->isa));
        snprintf(want[1], sizeof want[1], "rrconv_verbose,exec,backward_filter,%s,%s,f32,nchw,mask:int32,"
                 "mode:cross_correlation,threads:2,mb1_g1_icpg3_ocpg2_ih9_iw9_oh9_ow9_fh3_fw3_sh1_sw1_ph1_pw1_dh1_dw1,",
                 r2->name, rr_isa_name(r2->isa));
        /* a half call: the call's dtype, whichever row (an f32 one widening, or a bf16 one) ran it */
        snprintf(want[2], sizeof want[2], "rrconv_verbose,exec,backward_data,%s,%s,bf16,nchw,mask:int32,"
                 "mode:cross_correlation,threads:2,mb1_g1_icpg3_ocpg2_ih9_iw9_oh9_ow9_fh3_fw3_sh1_sw1_ph1_pw1_dh1_dw1,",
                 r1->name, rr_isa_name(r1->isa));
        /* a row that hands the call to another row's loops says so after <ms> (rr_note) */
        rr_conv c3 = conv_of(&dw);
        c3.layout = RR_LAYOUT_NHWC;
        const rr_kernel_row *r3 = rr_kernel_pick(RR_FORWARD, &c3);
        char *note = strchr(line[3], '\n') != NULL ? strstr(line[3], ",ran:") : NULL;
        if (strstr(r3->name, "depthwise_small_nhwc") != NULL) {
            EXPECT(strstr(line[3], r3->name) != NULL && note != NULL && strstr(note, "nhwc_depthwise") != NULL &&
                       strstr(note, " active:0.") != NULL,
                   "verbose line of a handed-over call (%s): %s", r3->name, line[3]);
        } else {
            EXPECT(strstr(line[3], r3->name) != NULL && note == NULL, "verbose line 3 (%s): %s", r3->name, line[3]);
        }
        if (note != NULL) *note = '\0';
        snprintf(want[3], sizeof want[3], "rrconv_verbose,exec,forward,%s,%s,f32,%s,mask:int32,"
                 "mode:cross_correlation,threads:2,mb1_g4_icpg1_ocpg1_ih9_iw9_oh9_ow9_fh3_fw3_sh1_sw1_ph1_pw1_dh1_dw1,",
                 r3->name, rr_isa_name(r3->isa), rr_layout_name(r3->layout));
        for (int i = 0; i < 4; i++) {
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

/* backward_data_nhwc_tapgemm__avx512 runs a stride-1 backward data as a forward with padding
 * dil*(F-1) - pad: it must not apply where that is negative (pad > dil*(F-1)), at stride 2, below its
 * channel counts or past 64 taps. (The drawn problems test it only where it applies.) */
static void test_bd_tapgemm_limits(void)
{
    const rr_kernel_row *row = rr_kernel_find("backward_data_nhwc_tapgemm__avx512");
    if (row == NULL) return; /* built without the x86 kernels */
    static const struct {
        int64_t icpg, ocpg, f, s, p, d;
        int applies;
    } cases[] = {
        {16, 8, 3, 1, 1, 1, 1},  {16, 8, 3, 1, 2, 1, 1},  {16, 8, 3, 1, 3, 1, 0},  {16, 8, 3, 1, 4, 2, 1},
        {16, 8, 3, 1, 5, 2, 0},  {16, 8, 1, 1, 1, 1, 0},  {16, 8, 3, 2, 1, 1, 0},  {15, 8, 3, 1, 1, 1, 0},
        {16, 7, 3, 1, 1, 1, 0},  {40, 64, 7, 1, 3, 1, 1}, {16, 8, 9, 1, 4, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const rrconv_conv_desc d = t_desc(1, 2, cases[i].icpg, cases[i].ocpg, 12, 12, cases[i].f, cases[i].f,
                                          cases[i].s, cases[i].s, cases[i].p, cases[i].p, cases[i].d, cases[i].d, 0, 0);
        rr_conv c = conv_of(&d);
        c.layout = RR_LAYOUT_NHWC;
        EXPECT(row->applies(&c) == cases[i].applies, "backward_data_nhwc_tapgemm__avx512 applies() case %d: %d, want %d",
               (int)i, row->applies(&c), cases[i].applies);
        c.layout = RR_LAYOUT_NCHW;
        EXPECT(!row->applies(&c), "backward_data_nhwc_tapgemm__avx512 applies() to an NCHW call (case %d)", (int)i);
    }
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--env") == 0) return env_mode(argv[2], argc > 3 ? argv[3] : NULL);
    const int precision = argc > 1 && strcmp(argv[1], "--precision") == 0;
    if (precision) {
        argv++;
        argc--;
        ROW_CONFIGS = 12;
    }
    if (argc > 1) ROW_CONFIGS = atoi(argv[1]);
    const uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 20261207u;
    printf("active ISA: %s, %d configs per row%s\n", rrconv_active_isa(), ROW_CONFIGS,
           precision ? ", half precision, non-integer data" : "");
    if (!precision) {
        test_table_api();
        test_bd_tapgemm_limits();
    }
    test_rows(seed, -1, precision);
    if (!precision) {
        /* the channels-last backward-filter rows again with image batches of one image: their partial
           sums carried from batch to batch */
        printf("backward_filter nhwc rows, one image per batch:\n");
        rr_bwf_nhwc_set_batch_pixels(1);
        test_rows(seed + 1, (int)RR_BACKWARD_FILTER, 0);
        rr_bwf_nhwc_set_batch_pixels(0);
    }
    return t_finish(precision ? "test_kernel_table --precision" : "test_kernel_table");
}
