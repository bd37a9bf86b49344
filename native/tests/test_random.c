/*
 * test_random.c -- seeded random configurations against an independent brute-force oracle.
 *
 * The oracle below is written straight from the definition, in double precision: it walks every
 * (n, g, ocg, icg, oh, ow, kh, kw) tap once and scatters the product into forward, backward-data
 * and backward-filter accumulators (the library gathers per output element instead). It also sums
 * |products| so that real-valued inputs are checked with a relative tolerance of 1e-4 of that sum;
 * integer-valued inputs (every other configuration) must match exactly.
 *
 * Each configuration runs every direction with 1, 2, 3 and 7 threads; the written buffers must be
 * bitwise identical across thread counts, elements outside the output view must stay untouched.
 *
 * Usage: test_random [configs [seed]]   (default 300 configs, seed 20240601)
 */
#include "tensor_util.h"

typedef struct config {
    rrconv_conv_desc d;
    int integers;
    int layout[8]; /* src, filter, diff, rin, rout, dst, gsrc, gflt */
    int palette;
} config;

static const int64_t PAL_I32[][4] = {
    {0, 1, 0, 1}, {0, 1, 2, 2}, {INT32_MIN, INT32_MAX, INT32_MIN, INT32_MAX},
    {16777216, 16777217, 16777216, 16777217}, {INT32_MIN, -1, 0, INT32_MAX}};
static const int64_t PAL_U8[][4] = {{0, 255, 0, 255}, {0, 1, 2, 2}, {254, 255, 254, 255}, {0, 128, 255, 0}};
#define N_PAL_I32 ((int)(sizeof PAL_I32 / sizeof PAL_I32[0]))
#define N_PAL_U8 ((int)(sizeof PAL_U8 / sizeof PAL_U8[0]))

static double work_of(const rrconv_conv_desc *d)
{
    return (double)d->n * d->groups * d->ocpg * d->icpg * d->oh * d->ow * d->fh * d->fw;
}

static config make_config(uint64_t *rng, int index)
{
    config c;
    for (;;) {
        int64_t g, icpg, ocpg;
        switch (index % 4) {
        case 0: g = 1; icpg = t_int(rng, 1, 5); ocpg = t_int(rng, 1, 5); break;         /* dense */
        case 1: g = t_int(rng, 2, 3); icpg = t_int(rng, 1, 3); ocpg = t_int(rng, 1, 3); break; /* grouped */
        case 2: g = t_int(rng, 1, 6); icpg = 1; ocpg = 1; break;                        /* depthwise */
        default: g = t_int(rng, 1, 4); icpg = 1; ocpg = t_int(rng, 2, 3); break;        /* multiplier */
        }
        const int64_t fh = t_int(rng, 1, 7), fw = t_int(rng, 1, 7);
        const int64_t sh = t_int(rng, 1, 3), sw = t_int(rng, 1, 3);
        const int64_t dh = t_int(rng, 1, 3), dw = t_int(rng, 1, 3);
        const int64_t ph = t_int(rng, 0, fh + 1), pw = t_int(rng, 0, fw + 1);
        const int64_t eh = dh * (fh - 1) + 1, ew = dw * (fw - 1) + 1;
        int64_t ih = eh - 2 * ph, iw = ew - 2 * pw;
        if (ih < 1) ih = 1;
        if (iw < 1) iw = 1;
        ih += t_int(rng, 0, 14);
        iw += t_int(rng, 0, 14);
        const int64_t n = t_int(rng, 1, 3);
        const int mode = (int)t_int(rng, 0, 1), mt = (int)t_int(rng, 0, 1);
        c.d = t_desc(n, g, icpg, ocpg, ih, iw, fh, fw, sh, sw, ph, pw, dh, dw, mode, mt);
        if (work_of(&c.d) > 4e5) continue;
        break;
    }
    c.d.algorithm = t_int(rng, 0, 3) == 0 ? RRCONV_ALGO_REFERENCE : RRCONV_ALGO_AUTO;
    c.integers = index % 2;
    for (int i = 0; i < 8; i++) {
        const int is_output = i >= 5;
        c.layout[i] = (int)t_int(rng, 0, is_output ? L_BROADCAST - 1 : L_COUNT - 1);
        if (t_int(rng, 0, 2) == 0) c.layout[i] = L_DENSE_NULL; /* plenty of plain dense calls */
    }
    c.palette = (int)t_int(rng, 0, (c.d.mask_type == RRCONV_MASK_INT32 ? N_PAL_I32 : N_PAL_U8) - 1);
    return c;
}

/* The oracle: scatters every valid tap into double accumulators (dense) and |term| sums. */
typedef struct oracle {
    double *fwd, *fwd_abs;   /* [N, OC, OH, OW] */
    double *bd, *bd_abs;     /* [N, IC, IH, IW] */
    double *bf, *bf_abs;     /* [G, OCPG, ICPG, FH, FW] */
} oracle;

static int64_t g_taps_inside, g_taps_used;

typedef struct oracle_ctx {
    const rrconv_conv_desc *d;
    const tview *src, *flt, *diff;
    oracle *o;
} oracle_ctx;

static void oracle_tap(void *vctx, const t_tap *t)
{
    const oracle_ctx *x = (const oracle_ctx *)vctx;
    int64_t si[4], wi[5], di[4];
    t_tap_indices(t, x->d, si, wi, di);
    const double s = tv_getf(x->src, si), w = tv_getf(x->flt, wi), y = tv_getf(x->diff, di);
    t_add_term(x->o->fwd, x->o->fwd_abs, t_dst_off(x->d, t), s * w);
    t_add_term(x->o->bd, x->o->bd_abs, t_src_off(x->d, t), y * w);
    t_add_term(x->o->bf, x->o->bf_abs, t_flt_off(x->d, t), s * y);
}

static void run_oracle(const rrconv_conv_desc *d, const tview *src, const tview *flt, const tview *diff,
                       const tview *rin, const tview *rout, oracle *o)
{
    const int64_t IC = d->groups * d->icpg, OC = d->groups * d->ocpg;
    const size_t nf = (size_t)(d->n * OC * d->oh * d->ow), nb = (size_t)(d->n * IC * d->ih * d->iw);
    const size_t nw = (size_t)(d->groups * d->ocpg * d->icpg * d->fh * d->fw);
    o->fwd = calloc(nf, sizeof(double)); o->fwd_abs = calloc(nf, sizeof(double));
    o->bd = calloc(nb, sizeof(double)); o->bd_abs = calloc(nb, sizeof(double));
    o->bf = calloc(nw, sizeof(double)); o->bf_abs = calloc(nw, sizeof(double));
    oracle_ctx x = {d, src, flt, diff, o};
    t_for_each_tap(d, rin, rout, oracle_tap, &x, &g_taps_inside, &g_taps_used);
}

static void free_oracle(oracle *o)
{
    free(o->fwd); free(o->fwd_abs); free(o->bd); free(o->bd_abs); free(o->bf); free(o->bf_abs);
}

/* Checks the output view against the oracle (dense index order = odometer order). */
static int check_output(const tview *out, const double *want, const double *abs_sum, int integers,
                        const char *what, int cfg)
{
    int64_t idx[5] = {0};
    size_t i = 0;
    int bad = 0;
    do {
        const double got = tv_getf(out, idx);
        const int ok = integers ? got == want[i] : fabs(got - want[i]) <= 1e-4 * abs_sum[i];
        if (!ok) {
            if (bad == 0) {
                EXPECT(ok, "config %d %s element %zu: got %.9g want %.9g (sum |terms| %.3g)", cfg, what, i,
                       got, want[i], abs_sum[i]);
            }
            bad++;
        }
        i++;
    } while (tv_next(out, idx));
    EXPECT(tv_gaps_untouched(out), "config %d %s: elements outside the output view were written", cfg, what);
    return bad;
}

static void describe(const config *c, int cfg)
{
    const rrconv_conv_desc *d = &c->d;
    fprintf(stderr,
            "  config %d: n=%" PRId64 " g=%" PRId64 " icpg=%" PRId64 " ocpg=%" PRId64 " in=%" PRId64 "x%" PRId64
            " f=%" PRId64 "x%" PRId64 " s=%" PRId64 ",%" PRId64 " p=%" PRId64 ",%" PRId64 " d=%" PRId64 ",%" PRId64
            " mode=%d mask=%d algo=%d ints=%d palette=%d layouts=",
            cfg, d->n, d->groups, d->icpg, d->ocpg, d->ih, d->iw, d->fh, d->fw, d->stride_h, d->stride_w,
            d->pad_h, d->pad_w, d->dil_h, d->dil_w, (int)d->mode, (int)d->mask_type, (int)d->algorithm,
            c->integers, c->palette);
    for (int i = 0; i < 8; i++) fprintf(stderr, "%s%s", i ? "," : "", layout_name(c->layout[i]));
    fprintf(stderr, "\n");
}

static const int THREADS[4] = {1, 2, 3, 7};

static void run_config(uint64_t *rng, int cfg)
{
    const config c = make_config(rng, cfg);
    const rrconv_conv_desc *d = &c.d;
    const int64_t IC = d->groups * d->icpg, OC = d->groups * d->ocpg;
    const int64_t s_src[4] = {d->n, IC, d->ih, d->iw}, s_dst[4] = {d->n, OC, d->oh, d->ow};
    const int64_t s_flt[5] = {d->groups, d->ocpg, d->icpg, d->fh, d->fw};
    const int64_t s_rin[3] = {d->n, d->ih, d->iw}, s_rout[3] = {d->n, d->oh, d->ow};
    const size_t mes = d->mask_type == RRCONV_MASK_INT32 ? 4 : 1;
    const int64_t *pal = d->mask_type == RRCONV_MASK_INT32 ? PAL_I32[c.palette] : PAL_U8[c.palette];

    tview src, flt, diff, rin, rout, dst, gsrc, gflt;
    tv_make(&src, rng, 4, s_src, 4, c.layout[0]);
    tv_make(&flt, rng, 5, s_flt, 4, c.layout[1]);
    tv_make(&diff, rng, 4, s_dst, 4, c.layout[2]);
    tv_make(&rin, rng, 3, s_rin, mes, c.layout[3]);
    tv_make(&rout, rng, 3, s_rout, mes, c.layout[4]);
    tv_make(&dst, rng, 4, s_dst, 4, c.layout[5]);
    tv_make(&gsrc, rng, 4, s_src, 4, c.layout[6]);
    tv_make(&gflt, rng, 5, s_flt, 4, c.layout[7]);
    tv_fill_f(&src, rng, c.integers);
    tv_fill_f(&flt, rng, c.integers);
    tv_fill_f(&diff, rng, c.integers);
    tview *masks[2] = {&rin, &rout};
    for (int m = 0; m < 2; m++) {
        for (size_t i = 0; i < masks[m]->buf_elems * mes; i++) masks[m]->buf[i] = (unsigned char)t_next(rng);
        int64_t idx[5] = {0};
        do {
            tv_setm(masks[m], idx, pal[t_int(rng, 0, 3)]);
        } while (tv_next(masks[m], idx));
    }

    oracle o;
    run_oracle(d, &src, &flt, &diff, &rin, &rout, &o);

    tview *outs[3] = {&dst, &gsrc, &gflt};
    const char *names[3] = {"forward", "backward_data", "backward_filter"};
    const double *want[3] = {o.fwd, o.bd, o.bf}, *abs_sum[3] = {o.fwd_abs, o.bd_abs, o.bf_abs};
    int failed = 0;
    for (int dir = 0; dir < 3; dir++) {
        tview *out = outs[dir];
        unsigned char *first = NULL;
        for (int t = 0; t < 4; t++) {
            EXPECT_OK(rrconv_set_num_threads(THREADS[t]));
            tv_fill_sentinel(out);
            rrconv_status st;
            if (dir == 0) {
                st = rrconv_forward_f32(d, tv_data(&src), tv_strides(&src), tv_data(&flt), tv_strides(&flt),
                                        tv_data(&rin), tv_strides(&rin), tv_data(&rout), tv_strides(&rout),
                                        tv_data(out), tv_strides(out));
            } else if (dir == 1) {
                st = rrconv_backward_data_f32(d, tv_data(&flt), tv_strides(&flt), tv_data(&diff),
                                              tv_strides(&diff), tv_data(&rin), tv_strides(&rin), tv_data(&rout),
                                              tv_strides(&rout), tv_data(out), tv_strides(out));
            } else {
                st = rrconv_backward_filter_f32(d, tv_data(&src), tv_strides(&src), tv_data(&diff),
                                                tv_strides(&diff), tv_data(&rin), tv_strides(&rin),
                                                tv_data(&rout), tv_strides(&rout), tv_data(out), tv_strides(out));
            }
            EXPECT(st == RRCONV_OK, "config %d %s: %s: %s", cfg, names[dir], rrconv_status_name(st),
                   rrconv_last_error());
            if (st != RRCONV_OK) {
                failed = 1;
                break;
            }
            if (t == 0) {
                failed |= check_output(out, want[dir], abs_sum[dir], c.integers, names[dir], cfg) != 0;
                first = (unsigned char *)t_alloc(out->buf_elems * 4);
                memcpy(first, out->buf, out->buf_elems * 4);
            } else {
                const int same = memcmp(first, out->buf, out->buf_elems * 4) == 0;
                EXPECT(same, "config %d %s: %d threads differ bitwise from 1 thread", cfg, names[dir], THREADS[t]);
                failed |= !same;
            }
        }
        free(first);
    }
    if (failed) describe(&c, cfg);
    free_oracle(&o);
    tv_free(&src); tv_free(&flt); tv_free(&diff); tv_free(&rin); tv_free(&rout);
    tv_free(&dst); tv_free(&gsrc); tv_free(&gflt);
}

int main(int argc, char **argv)
{
    const int configs = argc > 1 ? atoi(argv[1]) : 300;
    uint64_t rng = argc > 2 ? strtoull(argv[2], NULL, 10) : 20240601u;
    for (int i = 0; i < configs; i++) run_config(&rng, i);
    EXPECT_OK(rrconv_set_num_threads(0));
    printf("%d random configurations x 3 directions x 4 thread counts; %" PRId64 " taps inside the images, %" PRId64 " "
           "in the same region\n", configs, g_taps_inside, g_taps_used);
    return t_finish("test_random");
}
