/*
 * test_fast_forward.c -- the fast forward kernels (algorithm AUTO) against the reference loop
 * (algorithm REFERENCE) and a double-precision oracle, on seeded random shapes chosen to hit every
 * tail and edge of the direct kernel (kernels/common/tile_plan.h):
 *
 *   what varies                 why
 *   IW, OW 1..70                row-wise blocks: 0, 1, 2 tails of 8 / 16 lanes, odd block counts
 *   "same" padding, stride 1    flattened blocks (OW == IW), lanes wrapping into the next row
 *   IH 1..9, pad 0..K+1         taps wholly outside the image, empty kernel rows
 *   stride 1..3, dilation 1..3  phase planes (stride_w > 1), phase planes shorter than others
 *   ICPG, OCPG, G               oc tiles of 1..12 channels and several per group; depthwise tiles
 *                               of 1..12 channels; channel multipliers
 *   "same" depthwise rows       half the configurations of one depthwise class take the row segment
 *                               kernel's case (FW 3..13 and 31; odd widths between fall back to the
 *                               direct kernel; stride_w 1, dil_w 1, pad_w (FW-1)/2):
 *                               one or two blocks per row piece, segments partly or wholly outside
 *                               the row, channel blocks of 1..4
 *   K up to 7, some 13 / 31     many taps, taps that never touch the image
 *   masks                       random {1,2,3}, blocky rectangles, all equal, all different, uint8
 *   layouts                     dense, padded, permuted, broadcast inputs; strided outputs
 *   mode                        cross-correlation and convolution
 *
 * Poison: src is NaN at every pixel whose rin value (99) never occurs in rout, so a kernel that
 * multiplies a masked-out pixel by zero turns an output into NaN; with all-different masks the
 * filter is Inf as well, and the output must be exactly zero. Some configurations put one Inf
 * weight in the filter: outputs whose taps with that weight are all skipped must stay finite.
 * Checks per configuration: AUTO with 1, 2, 3 and 7 threads is bitwise identical; AUTO is within
 * 1e-5 * sum|terms| of the oracle (exactly equal for integer data, where every sum is exact) and
 * AUTO == REFERENCE for integer data; elements outside a strided output view stay untouched.
 *
 * Usage: test_fast_forward [configs [seed]]   (default 600 configs + 150 larger ones, seed 7)
 */
#include "tensor_util.h"

enum { M_RANDOM = 0, M_BLOCKY, M_EQUAL, M_DIFFERENT, M_COUNT };
static const char *MASK_NAMES[M_COUNT] = {"random", "blocky", "all-equal", "all-different"};
#define POISON_REGION 99

typedef struct config {
    rrconv_conv_desc d;
    int integers, masks, poison, inf_weight;
    int layout[4]; /* src, filter, rin/rout, dst */
} config;

static double work_of(const rrconv_conv_desc *d)
{
    return (double)d->n * d->groups * d->ocpg * d->icpg * d->oh * d->ow * d->fh * d->fw;
}

static config make_config(uint64_t *rng, int index, double min_work)
{
    config c;
    for (;;) {
        int64_t g, icpg, ocpg;
        switch (index % 5) {
        case 0: g = 1; icpg = t_int(rng, 1, 9); ocpg = t_int(rng, 1, 30); break;          /* dense */
        case 1: g = t_int(rng, 2, 4); icpg = t_int(rng, 1, 5); ocpg = t_int(rng, 1, 14); break; /* grouped */
        case 2: case 3: g = t_int(rng, 1, 20); icpg = 1; ocpg = 1; break;                  /* depthwise */
        default: g = t_int(rng, 1, 5); icpg = 1; ocpg = t_int(rng, 2, 13); break;          /* multiplier */
        }
        int64_t fh = t_int(rng, 1, 7), fw = t_int(rng, 1, 7);
        if (t_int(rng, 0, 15) == 0) fh = fw = t_int(rng, 0, 1) ? 13 : 31;
        const int same = t_int(rng, 0, 2) == 0;
        int64_t sh = same ? 1 : t_int(rng, 1, 3), sw = same ? 1 : t_int(rng, 1, 3);
        int64_t dh = t_int(rng, 1, 3), dw = t_int(rng, 1, 3);
        int64_t ph = t_int(rng, 0, fh + 1), pw = t_int(rng, 0, fw + 1);
        if (same) {
            if (fh % 2 == 0) fh++;
            if (fw % 2 == 0) fw++;
            ph = dh * (fh - 1) / 2;
            pw = dw * (fw - 1) / 2;
        }
        if (index % 5 == 3 && t_int(rng, 0, 1)) {
            /* the row segment kernel's case (forward_depthwise_rows__avx512.c): FW 3..13 or 31 (odd widths
             * between take the direct kernel), stride_w 1, dil_w 1, pad_w (FW-1)/2; rows, row
             * stride, dilation and padding free */
            fw = t_int(rng, 0, 3) ? 3 : 5 + 2 * t_int(rng, 0, 13); /* odd 3..31 */
            dw = 1;
            pw = (fw - 1) / 2;
            sw = 1;
        }
        const int64_t eh = dh * (fh - 1) + 1, ew = dw * (fw - 1) + 1;
        const int64_t ih = t_int(rng, 1, 9), iw = t_int(rng, 1, 70);
        if (ih + 2 * ph < eh || iw + 2 * pw < ew) continue;
        c.d = t_desc(t_int(rng, 1, 2), g, icpg, ocpg, ih, iw, fh, fw, sh, sw, ph, pw, dh, dw, (int)t_int(rng, 0, 1),
                     t_int(rng, 0, 3) == 0 ? RRCONV_MASK_UINT8 : RRCONV_MASK_INT32);
        if (work_of(&c.d) > 3e5 || work_of(&c.d) < min_work) continue;
        break;
    }
    c.integers = index % 2;
    c.masks = (int)t_int(rng, 0, 9);
    c.masks = c.masks < 5 ? M_RANDOM : c.masks < 8 ? M_BLOCKY : c.masks == 8 ? M_EQUAL : M_DIFFERENT;
    c.poison = c.masks != M_EQUAL && t_int(rng, 0, 1);
    c.inf_weight = c.masks != M_DIFFERENT && t_int(rng, 0, 3) == 0;
    for (int i = 0; i < 4; i++) {
        c.layout[i] = t_int(rng, 0, 1) ? L_DENSE_NULL : (int)t_int(rng, 0, i == 3 ? L_BROADCAST - 1 : L_COUNT - 1);
    }
    return c;
}

static void describe(const config *c, int cfg)
{
    const rrconv_conv_desc *d = &c->d;
    fprintf(stderr,
            "  config %d: n=%" PRId64 " g=%" PRId64 " icpg=%" PRId64 " ocpg=%" PRId64 " in=%" PRId64 "x%" PRId64
            " out=%" PRId64 "x%" PRId64 " f=%" PRId64 "x%" PRId64 " s=%" PRId64 ",%" PRId64 " p=%" PRId64 ",%" PRId64
            " d=%" PRId64 ",%" PRId64 " mode=%d mask=%d masks=%s poison=%d inf=%d ints=%d layouts=%s,%s,%s,%s\n",
            cfg, d->n, d->groups, d->icpg, d->ocpg, d->ih, d->iw, d->oh, d->ow, d->fh, d->fw, d->stride_h,
            d->stride_w, d->pad_h, d->pad_w, d->dil_h, d->dil_w, (int)d->mode, (int)d->mask_type,
            MASK_NAMES[c->masks], c->poison, c->inf_weight, c->integers, layout_name(c->layout[0]), layout_name(c->layout[1]),
            layout_name(c->layout[2]), layout_name(c->layout[3]));
}

/* Region of pixel (y, x) of an H x W mask for the rectangles rect (shared by rin and rout). */
static int blocky_value(const double rect[3][4], int64_t y, int64_t x, int64_t H, int64_t W)
{
    const double fy = (y + 0.5) / (double)H, fx = (x + 0.5) / (double)W;
    int v = 1;
    for (int r = 0; r < 3; r++) {
        if (fy >= rect[r][0] && fy < rect[r][1] && fx >= rect[r][2] && fx < rect[r][3]) v = r + 2;
    }
    return v;
}

static void fill_masks(const config *c, uint64_t *rng, tview *rin, tview *rout)
{
    double rect[3][4];
    for (int r = 0; r < 3; r++) {
        const double h = 0.2 + 0.5 * (t_unit(rng) + 1) / 2, w = 0.2 + 0.5 * (t_unit(rng) + 1) / 2;
        rect[r][0] = (t_unit(rng) + 1) / 2 * (1 - h);
        rect[r][1] = rect[r][0] + h;
        rect[r][2] = (t_unit(rng) + 1) / 2 * (1 - w);
        rect[r][3] = rect[r][2] + w;
    }
    tview *ms[2] = {rin, rout};
    for (int m = 0; m < 2; m++) {
        int64_t idx[5] = {0};
        do {
            int64_t v;
            switch (c->masks) {
            case M_RANDOM: v = t_int(rng, 1, 3); break;
            case M_BLOCKY: v = blocky_value((const double (*)[4])rect, idx[1], idx[2], ms[m]->shape[1], ms[m]->shape[2]); break;
            case M_EQUAL: v = 5; break;
            default: v = m == 0 ? 1 : 2; break;
            }
            if (m == 0 && c->poison && t_int(rng, 0, 3) == 0) v = POISON_REGION;
            tv_setm(ms[m], idx, v);
        } while (tv_next(ms[m], idx));
    }
}

/* dst oracle in double: value and sum of |terms| per output element (dense [N, OC, OH, OW]; the
 * caller zeroes want and abs_sum). */
typedef struct oracle_ctx {
    const rrconv_conv_desc *d;
    const tview *src, *flt;
    double *want, *abs_sum;
} oracle_ctx;

static void oracle_tap(void *vctx, const t_tap *t)
{
    const oracle_ctx *x = (const oracle_ctx *)vctx;
    int64_t si[4], wi[5], di[4];
    t_tap_indices(t, x->d, si, wi, di);
    t_add_term(x->want, x->abs_sum, t_dst_off(x->d, t), (double)tv_getf(x->src, si) * (double)tv_getf(x->flt, wi));
}

static void oracle(const rrconv_conv_desc *d, const tview *src, const tview *flt, const tview *rin,
                   const tview *rout, double *want, double *abs_sum)
{
    oracle_ctx x = {d, src, flt, want, abs_sum};
    t_for_each_tap(d, rin, rout, oracle_tap, &x, NULL, NULL);
}

static const int THREADS[4] = {1, 2, 3, 7};

static rrconv_status call(const rrconv_conv_desc *d, const tview *src, const tview *flt, const tview *rin,
                          const tview *rout, tview *dst)
{
    return rrconv_forward_f32(d, tv_data(src), tv_strides(src), tv_data(flt), tv_strides(flt), tv_data(rin),
                              tv_strides(rin), tv_data(rout), tv_strides(rout), tv_data(dst), tv_strides(dst));
}

static long g_checked;

static void run_config(uint64_t *rng, int cfg, double min_work)
{
    const config c = make_config(rng, cfg, min_work);
    const rrconv_conv_desc *d = &c.d;
    const int64_t IC = d->groups * d->icpg, OC = d->groups * d->ocpg;
    const int64_t s_src[4] = {d->n, IC, d->ih, d->iw}, s_dst[4] = {d->n, OC, d->oh, d->ow};
    const int64_t s_flt[5] = {d->groups, d->ocpg, d->icpg, d->fh, d->fw};
    const int64_t s_rin[3] = {d->n, d->ih, d->iw}, s_rout[3] = {d->n, d->oh, d->ow};
    const size_t mes = d->mask_type == RRCONV_MASK_INT32 ? 4 : 1;

    tview src, flt, rin, rout, dst, ref;
    tv_make(&src, rng, 4, s_src, 4, c.layout[0]);
    tv_make(&flt, rng, 5, s_flt, 4, c.layout[1]);
    tv_make(&rin, rng, 3, s_rin, mes, c.layout[2]);
    tv_make(&rout, rng, 3, s_rout, mes, c.layout[2] == L_BROADCAST ? L_PADDED : c.layout[2]);
    tv_make(&dst, rng, 4, s_dst, 4, c.layout[3]);
    tv_make(&ref, rng, 4, s_dst, 4, L_DENSE_NULL);
    tv_fill_f(&src, rng, c.integers);
    tv_fill_f(&flt, rng, c.integers);
    for (size_t i = 0; i < rin.buf_elems * mes; i++) rin.buf[i] = (unsigned char)t_next(rng);
    for (size_t i = 0; i < rout.buf_elems * mes; i++) rout.buf[i] = (unsigned char)t_next(rng);
    fill_masks(&c, rng, &rin, &rout);

    /* poison: NaN src wherever rin holds the region no output has (a broadcast src may alias
     * such a pixel with a used one: then the poison is skipped) */
    if (c.poison && c.layout[0] != L_BROADCAST && c.layout[2] != L_BROADCAST) {
        int64_t idx[5] = {0};
        do {
            const int64_t ri[3] = {idx[0], idx[2], idx[3]};
            if (tv_getm(&rin, ri) == POISON_REGION) tv_setf(&src, idx, NAN);
        } while (tv_next(&src, idx));
    }
    if (c.inf_weight && c.layout[1] != L_BROADCAST) {
        const int64_t wi[5] = {t_int(rng, 0, d->groups - 1), t_int(rng, 0, d->ocpg - 1), t_int(rng, 0, d->icpg - 1),
                               t_int(rng, 0, d->fh - 1), t_int(rng, 0, d->fw - 1)};
        tv_setf(&flt, wi, t_int(rng, 0, 1) ? INFINITY : -INFINITY);
    }
    if (c.masks == M_DIFFERENT && c.layout[1] != L_BROADCAST) {
        int64_t idx[5] = {0};
        do {
            tv_setf(&flt, idx, t_int(rng, 0, 1) ? INFINITY : -INFINITY);
        } while (tv_next(&flt, idx));
    }

    const size_t nout = tv_count(&dst);
    double *want = (double *)calloc(nout ? nout : 1, sizeof(double));
    double *abs_sum = (double *)calloc(nout ? nout : 1, sizeof(double));
    EXPECT(want != NULL && abs_sum != NULL, "out of memory");
    if (want == NULL || abs_sum == NULL) exit(2);
    oracle(d, &src, &flt, &rin, &rout, want, abs_sum);

    int failed = 0;
    unsigned char *first = (unsigned char *)t_alloc(dst.buf_elems * 4);
    for (int t = 0; t < 4; t++) {
        EXPECT_OK(rrconv_set_num_threads(THREADS[t]));
        tv_fill_sentinel(&dst);
        const rrconv_status st = call(d, &src, &flt, &rin, &rout, &dst);
        EXPECT(st == RRCONV_OK, "config %d: %s: %s", cfg, rrconv_status_name(st), rrconv_last_error());
        if (st != RRCONV_OK) {
            failed = 1;
            break;
        }
        if (t == 0) {
            memcpy(first, dst.buf, dst.buf_elems * 4);
            continue;
        }
        const int same = memcmp(first, dst.buf, dst.buf_elems * 4) == 0;
        EXPECT(same, "config %d: %d threads differ bitwise from 1 thread", cfg, THREADS[t]);
        failed |= !same;
    }
    EXPECT_OK(rrconv_set_num_threads(2));
    rrconv_conv_desc dr = *d;
    dr.algorithm = RRCONV_ALGO_REFERENCE;
    EXPECT_OK(call(&dr, &src, &flt, &rin, &rout, &ref));

    if (!failed) {
        int64_t idx[5] = {0};
        size_t i = 0;
        int bad = 0;
        do {
            const double got = tv_getf(&dst, idx), r = tv_getf(&ref, idx);
            int ok;
            if (!isfinite(want[i])) ok = isnan(want[i]) ? isnan(got) && isnan(r) : got == want[i] && r == want[i];
            else if (c.integers) ok = got == want[i] && got == r;
            else ok = fabs(got - want[i]) <= 1e-5 * abs_sum[i];
            if (c.masks == M_DIFFERENT) ok = ok && got == 0.0;
            if (!ok && bad++ == 0) {
                EXPECT(ok, "config %d element %zu: auto %.9g reference %.9g oracle %.9g (sum |terms| %.3g)", cfg, i,
                       got, r, want[i], abs_sum[i]);
            }
            i++;
            g_checked++;
        } while (tv_next(&dst, idx));
        EXPECT(tv_gaps_untouched(&dst), "config %d: elements outside the output view were written", cfg);
        failed = bad != 0 || !tv_gaps_untouched(&dst);
    }
    if (failed) describe(&c, cfg);
    free(first);
    free(want);
    free(abs_sum);
    tv_free(&src); tv_free(&flt); tv_free(&rin); tv_free(&rout); tv_free(&dst); tv_free(&ref);
}

/* The issue-3 benchmark shapes with a reduced batch: AUTO vs REFERENCE on integer data. */
static void run_bench_shapes(uint64_t *rng)
{
    static const int64_t S[][8] = {/* g icpg ocpg hw k stride dil pad */
                                   {384, 1, 1, 32, 3, 1, 1, 1},  {384, 1, 1, 32, 7, 1, 1, 3},
                                   {96, 1, 1, 32, 13, 1, 1, 6},  {40, 1, 1, 32, 31, 1, 1, 15},
                                   {4, 16, 16, 56, 3, 1, 1, 1},  {1, 64, 64, 56, 3, 1, 1, 1},
                                   {1, 64, 64, 56, 3, 2, 2, 2}};
    for (size_t s = 0; s < sizeof S / sizeof S[0]; s++) {
        const int64_t *v = S[s];
        rrconv_conv_desc d = t_desc(1, v[0], v[1], v[2], v[3], v[3], v[4], v[4], v[5], v[5], v[7], v[7], v[6], v[6],
                                    RRCONV_CROSS_CORRELATION, RRCONV_MASK_INT32);
        const size_t nsrc = (size_t)(d.groups * d.icpg * d.ih * d.iw), ndst = (size_t)(d.groups * d.ocpg * d.oh * d.ow);
        const size_t nflt = (size_t)(d.groups * d.ocpg * d.icpg * d.fh * d.fw);
        float *x = (float *)t_alloc(nsrc * 4), *w = (float *)t_alloc(nflt * 4);
        float *y1 = (float *)t_alloc(ndst * 4), *y2 = (float *)t_alloc(ndst * 4);
        int32_t *rin = (int32_t *)t_alloc((size_t)(d.ih * d.iw) * 4), *rout = (int32_t *)t_alloc((size_t)(d.oh * d.ow) * 4);
        for (size_t i = 0; i < nsrc; i++) x[i] = (float)t_int(rng, -3, 3);
        for (size_t i = 0; i < nflt; i++) w[i] = (float)t_int(rng, -3, 3);
        for (int64_t i = 0; i < d.ih * d.iw; i++) rin[i] = (int32_t)t_int(rng, 1, 3);
        for (int64_t i = 0; i < d.oh * d.ow; i++) rout[i] = (int32_t)t_int(rng, 1, 3);
        EXPECT_OK(rrconv_forward_f32(&d, x, NULL, w, NULL, rin, NULL, rout, NULL, y1, NULL));
        d.algorithm = RRCONV_ALGO_REFERENCE;
        EXPECT_OK(rrconv_forward_f32(&d, x, NULL, w, NULL, rin, NULL, rout, NULL, y2, NULL));
        EXPECT(memcmp(y1, y2, ndst * 4) == 0, "benchmark shape %zu: auto != reference", s);
        free(x); free(w); free(y1); free(y2); free(rin); free(rout);
    }
}

int main(int argc, char **argv)
{
    const int configs = argc > 1 ? atoi(argv[1]) : 600;
    uint64_t rng = argc > 2 ? strtoull(argv[2], NULL, 10) : 7u;
    for (int i = 0; i < configs; i++) run_config(&rng, i, 0);
    /* large enough for the kernel to use the worker threads (small problems stay on the caller) */
    for (int i = 0; i < configs / 4; i++) run_config(&rng, configs + i, 1e5);
    run_bench_shapes(&rng);
    EXPECT_OK(rrconv_set_num_threads(0));
    printf("isa %s: %d random configurations x 4 thread counts, %ld output elements checked, 7 benchmark shapes\n",
           rrconv_active_isa(), configs + configs / 4, g_checked);
    return t_finish("test_fast_forward");
}
