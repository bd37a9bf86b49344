/*
 * test_fast_backward_filter.c -- the fast backward-filter kernels (kernels/backward_filter/)
 * against a double-precision oracle and the reference loop, on seeded random shapes that the fast
 * path is picked for (checked through rr_kernel_pick at the active ISA).
 *
 * What the configurations cover (each drawn at random, many times):
 *   channels    dense (icpg, ocpg 1..9: tails of the 4x4 / 4x2 tiles), grouped, depthwise (pairs
 *               of channels and the odd one out), channel multiplier 2..3; half the depthwise
 *               ones with FW 3, pad_w 1, dil_w 1, stride_w 1, FH 1..3: the AVX-512 row segment
 *               kernel (backward_filter_depthwise_rows__avx512.c), rows, row stride and padding free
 *   geometry    widths 1..70 (around multiples of 8 and 16), heights 1..9 plus the kernel extent,
 *               kernels 1..7 (depthwise also up to 1x31 / 31x1: kw blocks of 12 and their tails),
 *               padding 0..beyond the kernel, stride and dilation 1..3, "same" padding with
 *               stride 1 (the flattened pixel domain), both modes
 *   masks       random (3 regions), blocky (rectangles), all equal, all different; int32 and
 *               uint8; poison: NaN/Inf in src and diff where no tap may read them
 *   tensors     dense (NULL strides) or strided layouts (padded, permuted, broadcast inputs)
 *   threads     1, 2, 3, 7: results must be bitwise identical
 * Integer-valued inputs must match the oracle exactly; real values within 1e-5 of the sum of
 * |terms| (float accumulation of up to a few thousand terms). The reference loop is held to the
 * same oracle. Then the benchmark shapes' geometry (smaller n and channel counts), integer data,
 * random and blocky masks. A last pass puts dense src and diff right against an inaccessible page
 * (before and after), so a read outside a tensor crashes the test.
 *
 * Usage: test_fast_backward_filter [configs [seed]]   (default 1500 configs, seed 7)
 */
#define _DEFAULT_SOURCE

#include "internal.h"
#include "kernels/kernels.h"
#include "tensor_util.h"

#include <math.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct config {
    rrconv_conv_desc d;
    int integers;
    int mask_kind;   /* 0 random, 1 blocky, 2 all equal, 3 all different */
    int poison;
    int layout[5];   /* src, diff, rin, rout, grad_filter */
} config;

static double work_of(const rrconv_conv_desc *d)
{
    return (double)d->n * d->groups * d->ocpg * d->icpg * d->oh * d->ow * d->fh * d->fw;
}

/* Widths near multiples of 8 and 16, and some anywhere in 1..70. */
static int64_t pick_width(uint64_t *rng)
{
    static const int64_t near[] = {1, 2, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 47, 48, 49, 56, 63, 64, 65, 70};
    if (t_int(rng, 0, 2) == 0) return t_int(rng, 1, 70);
    return near[t_int(rng, 0, (int64_t)(sizeof near / sizeof near[0]) - 1)];
}

static config make_config(uint64_t *rng, int index)
{
    config c;
    memset(&c, 0, sizeof c);
    for (;;) {
        int64_t g, icpg, ocpg;
        const int kind = index % 4;
        switch (kind) {
        case 0: g = 1; icpg = t_int(rng, 1, 9); ocpg = t_int(rng, 1, 9); break;
        case 1: g = t_int(rng, 2, 3); icpg = t_int(rng, 1, 6); ocpg = t_int(rng, 1, 6); break;
        case 2: g = t_int(rng, 1, 7); icpg = 1; ocpg = 1; break;
        default: g = t_int(rng, 1, 4); icpg = 1; ocpg = t_int(rng, 2, 3); break;
        }
        int64_t fh = t_int(rng, 1, 7), fw = t_int(rng, 1, 7);
        if (kind >= 2 && t_int(rng, 0, 3) == 0) {
            if (t_int(rng, 0, 1)) fw = t_int(rng, 8, 31);
            else fh = t_int(rng, 8, 31);
        }
        int64_t sh = t_int(rng, 0, 2) ? 1 : t_int(rng, 2, 3), sw = t_int(rng, 0, 2) ? 1 : t_int(rng, 2, 3);
        const int64_t dh = t_int(rng, 0, 2) ? 1 : t_int(rng, 2, 3);
        int64_t dw = t_int(rng, 0, 2) ? 1 : t_int(rng, 2, 3);
        /* half the depthwise configurations: the row segment kernel's case (FW 3, pad_w 1, dil_w 1,
         * stride_w 1, FH <= 3; rows free) */
        const int row_segments = kind == 2 && t_int(rng, 0, 1);
        if (row_segments) {
            fw = 3;
            fh = t_int(rng, 1, 3);
            sw = 1;
            dw = 1;
        }
        const int64_t eh = dh * (fh - 1) + 1, ew = dw * (fw - 1) + 1;
        int64_t ph = t_int(rng, 0, fh + 2), pw = row_segments ? 1 : t_int(rng, 0, fw + 2);
        const int same = !row_segments && t_int(rng, 0, 2) == 0;
        if (same) { /* stride 1 and OW == IW when ew is odd: the flattened domain */
            ph = (eh - 1) / 2;
            pw = (ew - 1) / 2;
        }
        int64_t ih = t_int(rng, 1, 9) + (eh - 2 * ph > 0 ? eh - 2 * ph : 0);
        int64_t iw = pick_width(rng);
        if (iw < ew - 2 * pw) iw = ew - 2 * pw;
        const int64_t n = t_int(rng, 1, 3);
        c.d = t_desc(n, g, icpg, ocpg, ih, iw, fh, fw, same ? 1 : sh, same ? 1 : sw, ph, pw, dh, dw,
                     (int)t_int(rng, 0, 1), (int)t_int(rng, 0, 1));
        if (c.d.oh < 1 || c.d.ow < 1 || work_of(&c.d) > 2.5e5) continue;
        break;
    }
    c.integers = (int)t_int(rng, 0, 1);
    c.mask_kind = (int)t_int(rng, 0, 5);
    if (c.mask_kind > 3) c.mask_kind = 0;
    c.poison = (int)t_int(rng, 0, 1);
    for (int i = 0; i < 5; i++) {
        c.layout[i] = t_int(rng, 0, 1) ? L_DENSE_NULL : (int)t_int(rng, 0, i == 4 ? L_BROADCAST - 1 : L_COUNT - 1);
    }
    return c;
}

/* Region values; poison regions: rin 61 and rout 62 never match anything. */
static void fill_masks(const config *c, uint64_t *rng, tview *rin, tview *rout)
{
    const rrconv_conv_desc *d = &c->d;
    tview *m[2] = {rin, rout};
    double rect[3][4];
    for (int r = 0; r < 3; r++) {
        rect[r][0] = t_unit(rng) * 0.5 + 0.5;
        rect[r][1] = rect[r][0] + 0.6 * (t_unit(rng) * 0.5 + 0.5);
        rect[r][2] = t_unit(rng) * 0.5 + 0.5;
        rect[r][3] = rect[r][2] + 0.6 * (t_unit(rng) * 0.5 + 0.5);
    }
    for (int k = 0; k < 2; k++) {
        const int64_t H = k ? d->oh : d->ih, W = k ? d->ow : d->iw;
        int64_t idx[3] = {0, 0, 0};
        do {
            int64_t v;
            switch (c->mask_kind) {
            case 0: v = t_int(rng, 1, 3); break;
            case 1: {
                const double fy = (idx[1] + 0.5) / (double)H, fx = (idx[2] + 0.5) / (double)W;
                v = 0;
                for (int r = 0; r < 3; r++)
                    if (fy >= rect[r][0] - 0.5 && fy < rect[r][1] - 0.5 && fx >= rect[r][2] - 0.5 && fx < rect[r][3] - 0.5)
                        v = r + 1;
                break;
            }
            case 2: v = 5; break;
            default: v = (idx[1] * W + idx[2]) % 60; break; /* same index, same region */
            }
            if (c->poison && t_int(rng, 0, 4) == 0) v = k ? 62 : 61;
            tv_setm(m[k], idx, v);
        } while (tv_next(m[k], idx));
    }
}

typedef struct oracle {
    double *want, *abs_sum;
} oracle;

typedef struct oracle_ctx {
    const rrconv_conv_desc *d;
    const tview *src, *diff;
    oracle *o;
} oracle_ctx;

static void oracle_tap(void *vctx, const t_tap *t)
{
    const oracle_ctx *x = (const oracle_ctx *)vctx;
    int64_t si[4], wi[5], di[4];
    t_tap_indices(t, x->d, si, wi, di);
    t_add_term(x->o->want, x->o->abs_sum, t_flt_off(x->d, t), (double)tv_getf(x->src, si) * tv_getf(x->diff, di));
}

static oracle run_oracle(const rrconv_conv_desc *d, const tview *src, const tview *diff, const tview *rin,
                         const tview *rout)
{
    const size_t nw = (size_t)(d->groups * d->ocpg * d->icpg * d->fh * d->fw);
    oracle o = {calloc(nw, sizeof(double)), calloc(nw, sizeof(double))};
    oracle_ctx x = {d, src, diff, &o};
    t_for_each_tap(d, rin, rout, oracle_tap, &x, NULL, NULL);
    return o;
}

/* Poison: NaN / +-Inf in src at rin == 61 pixels and in diff at rout == 62 pixels. */
static void poison_inputs(const rrconv_conv_desc *d, uint64_t *rng, tview *src, tview *diff, const tview *rin,
                          const tview *rout)
{
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    int64_t i4[4] = {0, 0, 0, 0};
    do {
        const int64_t m[3] = {i4[0], i4[2], i4[3]};
        if (tv_getm(rin, m) == 61) tv_setf(src, i4, bad[t_int(rng, 0, 2)]);
    } while (tv_next(src, i4));
    memset(i4, 0, sizeof i4);
    do {
        const int64_t m[3] = {i4[0], i4[2], i4[3]};
        if (tv_getm(rout, m) == 62) tv_setf(diff, i4, bad[t_int(rng, 0, 2)]);
    } while (tv_next(diff, i4));
    (void)d;
}

static int check(const tview *out, const oracle *o, int integers, int cfg, const char *what)
{
    int64_t idx[5] = {0};
    size_t i = 0;
    int bad = 0;
    do {
        const double got = tv_getf(out, idx);
        const int ok = integers ? got == o->want[i] : fabs(got - o->want[i]) <= 1e-5 * o->abs_sum[i] + 1e-30;
        if (!ok && bad++ == 0) {
            EXPECT(ok, "config %d %s: element %zu got %.9g want %.9g (sum |terms| %.3g)", cfg, what, i, got,
                   o->want[i], o->abs_sum[i]);
        }
        i++;
    } while (tv_next(out, idx));
    EXPECT(tv_gaps_untouched(out), "config %d %s: elements outside the output view written", cfg, what);
    return bad;
}

static void describe(const config *c, int cfg)
{
    const rrconv_conv_desc *d = &c->d;
    fprintf(stderr,
            "  config %d: n=%" PRId64 " g=%" PRId64 " icpg=%" PRId64 " ocpg=%" PRId64 " in=%" PRId64 "x%" PRId64
            " out=%" PRId64 "x%" PRId64 " f=%" PRId64 "x%" PRId64 " s=%" PRId64 ",%" PRId64 " p=%" PRId64
            ",%" PRId64 " d=%" PRId64 ",%" PRId64 " mode=%d mask=%d ints=%d kind=%d poison=%d layouts=%d,%d,%d,%d,%d\n",
            cfg, d->n, d->groups, d->icpg, d->ocpg, d->ih, d->iw, d->oh, d->ow, d->fh, d->fw, d->stride_h,
            d->stride_w, d->pad_h, d->pad_w, d->dil_h, d->dil_w, (int)d->mode, (int)d->mask_type, c->integers,
            c->mask_kind, c->poison, c->layout[0], c->layout[1], c->layout[2], c->layout[3], c->layout[4]);
}

static rr_conv conv_of(const rrconv_conv_desc *d)
{
    rr_conv c;
    memset(&c, 0, sizeof c);
    c.n = d->n; c.groups = d->groups; c.icpg = d->icpg; c.ocpg = d->ocpg;
    c.ic = d->groups * d->icpg; c.oc = d->groups * d->ocpg;
    c.ih = d->ih; c.iw = d->iw; c.oh = d->oh; c.ow = d->ow; c.fh = d->fh; c.fw = d->fw;
    c.sh = d->stride_h; c.sw = d->stride_w; c.ph = d->pad_h; c.pw = d->pad_w; c.dh = d->dil_h; c.dw = d->dil_w;
    c.mode = RRCONV_CROSS_CORRELATION;
    c.mask_type = RRCONV_MASK_INT32;
    c.algorithm = RRCONV_ALGO_AUTO;
    return c;
}

static const int THREADS[4] = {1, 2, 3, 7};
static int g_fast_configs;

static rrconv_status call(const rrconv_conv_desc *d, const tview *src, const tview *diff, const tview *rin,
                          const tview *rout, tview *out)
{
    return rrconv_backward_filter_f32(d, tv_data(src), tv_strides(src), tv_data(diff), tv_strides(diff),
                                      tv_data(rin), tv_strides(rin), tv_data(rout), tv_strides(rout), tv_data(out),
                                      tv_strides(out));
}

static void run_config(config c, uint64_t *rng, int cfg, int expect_fast)
{
    rrconv_conv_desc *d = &c.d;
    const rr_conv conv = conv_of(d);
    const int fast = !rr_kernel_is_reference(rr_kernel_pick(RR_BACKWARD_FILTER, &conv));
    EXPECT(fast == expect_fast, "config %d: fast kernel picked = %d, expected %d", cfg, fast, expect_fast);
    g_fast_configs += fast;

    const int64_t IC = d->groups * d->icpg, OC = d->groups * d->ocpg;
    const int64_t s_src[4] = {d->n, IC, d->ih, d->iw}, s_dst[4] = {d->n, OC, d->oh, d->ow};
    const int64_t s_flt[5] = {d->groups, d->ocpg, d->icpg, d->fh, d->fw};
    const int64_t s_rin[3] = {d->n, d->ih, d->iw}, s_rout[3] = {d->n, d->oh, d->ow};
    const size_t mes = d->mask_type == RRCONV_MASK_INT32 ? 4 : 1;
    tview src, diff, rin, rout, gf;
    tv_make(&src, rng, 4, s_src, 4, c.layout[0]);
    tv_make(&diff, rng, 4, s_dst, 4, c.layout[1]);
    tv_make(&rin, rng, 3, s_rin, mes, c.layout[2]);
    tv_make(&rout, rng, 3, s_rout, mes, c.layout[3]);
    tv_make(&gf, rng, 5, s_flt, 4, c.layout[4]);
    /* a broadcast tensor has aliased elements: poison would overwrite real values there */
    if (c.layout[0] == L_BROADCAST || c.layout[1] == L_BROADCAST || c.layout[2] == L_BROADCAST ||
        c.layout[3] == L_BROADCAST)
        c.poison = 0;
    tv_fill_f(&src, rng, c.integers);
    tv_fill_f(&diff, rng, c.integers);
    memset(rin.buf, 0, rin.buf_elems * mes);
    memset(rout.buf, 0, rout.buf_elems * mes);
    fill_masks(&c, rng, &rin, &rout);
    if (c.poison) poison_inputs(d, rng, &src, &diff, &rin, &rout);

    oracle o = run_oracle(d, &src, &diff, &rin, &rout);
    int failed = 0;
    unsigned char *first = NULL;
    for (int t = 0; t < 4; t++) {
        EXPECT_OK(rrconv_set_num_threads(THREADS[t]));
        tv_fill_sentinel(&gf);
        const rrconv_status st = call(d, &src, &diff, &rin, &rout, &gf);
        EXPECT(st == RRCONV_OK, "config %d: %s: %s", cfg, rrconv_status_name(st), rrconv_last_error());
        if (st != RRCONV_OK) {
            failed = 1;
            break;
        }
        if (t == 0) {
            failed |= check(&gf, &o, c.integers, cfg, "auto") != 0;
            first = (unsigned char *)t_alloc(gf.buf_elems * 4);
            memcpy(first, gf.buf, gf.buf_elems * 4);
        } else {
            const int same = memcmp(first, gf.buf, gf.buf_elems * 4) == 0;
            EXPECT(same, "config %d: %d threads differ bitwise from 1 thread", cfg, THREADS[t]);
            failed |= !same;
        }
    }
    free(first);
    d->algorithm = RRCONV_ALGO_REFERENCE;
    EXPECT_OK(rrconv_set_num_threads(2));
    tv_fill_sentinel(&gf);
    EXPECT_OK(call(d, &src, &diff, &rin, &rout, &gf));
    failed |= check(&gf, &o, c.integers, cfg, "reference") != 0;
    if (failed) describe(&c, cfg);
    free(o.want);
    free(o.abs_sum);
    tv_free(&src); tv_free(&diff); tv_free(&rin); tv_free(&rout); tv_free(&gf);
}

/* ---- reads outside the tensors: dense inputs against PROT_NONE pages ------------------------ */

typedef struct guarded {
    void *map;
    size_t map_bytes;
    float *data;
} guarded;

/* count floats placed right after (at_end == 0) or right before (at_end != 0) an inaccessible page. */
static guarded guard_alloc(size_t count, int at_end)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t bytes = count * sizeof(float);
    const size_t body = (bytes + page - 1) / page * page;
    guarded g;
    g.map_bytes = body + 2 * page;
    g.map = mmap(NULL, g.map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g.map == MAP_FAILED) {
        fprintf(stderr, "mmap failed\n");
        exit(2);
    }
    unsigned char *base = (unsigned char *)g.map;
    mprotect(base, page, PROT_NONE);
    mprotect(base + page + body, page, PROT_NONE);
    g.data = (float *)(at_end ? base + page + body - bytes : base + page);
    return g;
}

static void guard_free(guarded *g)
{
    munmap(g->map, g->map_bytes);
}

static void run_guarded(uint64_t *rng, int cfg)
{
    config c = make_config(rng, cfg);
    const rrconv_conv_desc *d = &c.d;
    const int64_t IC = d->groups * d->icpg, OC = d->groups * d->ocpg;
    const size_t ns = (size_t)(d->n * IC * d->ih * d->iw), nd = (size_t)(d->n * OC * d->oh * d->ow);
    const size_t nri = (size_t)(d->n * d->ih * d->iw), nro = (size_t)(d->n * d->oh * d->ow);
    const size_t nw = (size_t)(d->groups * d->ocpg * d->icpg * d->fh * d->fw);
    for (int at_end = 0; at_end < 2; at_end++) {
        guarded s = guard_alloc(ns, at_end), y = guard_alloc(nd, at_end);
        guarded ri = guard_alloc(nri, at_end), ro = guard_alloc(nro, at_end);
        int32_t *rin = (int32_t *)ri.data, *rout = (int32_t *)ro.data;
        for (size_t i = 0; i < ns; i++) s.data[i] = (float)t_int(rng, -3, 3);
        for (size_t i = 0; i < nd; i++) y.data[i] = (float)t_int(rng, -3, 3);
        for (size_t i = 0; i < nri; i++) rin[i] = (int32_t)t_int(rng, 0, 1);
        for (size_t i = 0; i < nro; i++) rout[i] = (int32_t)t_int(rng, 0, 1);
        rrconv_conv_desc dd = *d;
        dd.mask_type = RRCONV_MASK_INT32;
        float *got = (float *)t_alloc(nw * 4), *want = (float *)t_alloc(nw * 4);
        EXPECT_OK(rrconv_backward_filter_f32(&dd, s.data, NULL, y.data, NULL, rin, NULL, rout, NULL, got, NULL));
        dd.algorithm = RRCONV_ALGO_REFERENCE;
        EXPECT_OK(rrconv_backward_filter_f32(&dd, s.data, NULL, y.data, NULL, rin, NULL, rout, NULL, want, NULL));
        EXPECT(memcmp(got, want, nw * 4) == 0, "guarded config %d: differs from the reference", cfg);
        free(got);
        free(want);
        guard_free(&s); guard_free(&y); guard_free(&ri); guard_free(&ro);
    }
}

int main(int argc, char **argv)
{
    const int configs = argc > 1 ? atoi(argv[1]) : 1500;
    uint64_t rng = argc > 2 ? strtoull(argv[2], NULL, 10) : 7;
    const rr_isa isa = rr_active_isa();
    const int expect_fast = isa != RR_ISA_SCALAR;
    for (int i = 0; i < configs; i++) run_config(make_config(&rng, i), &rng, i, expect_fast);
    /* a tenth again with tap masks in chunks of a few tiles (huge images' path): the row segment
     * kernel carries its partial sums from chunk to chunk */
    rr_tile_set_mask_budget(256);
    for (int i = 0; i < configs / 10; i++) run_config(make_config(&rng, i), &rng, 20000 + i, expect_fast);
    rr_tile_set_mask_budget(0);
    /* the benchmark shapes' geometry (fewer images and channels): depthwise 32x32 K x K "same",
       grouped / dense 3x3 on a flattened 14x14 domain, dense stride 2 dilation 2 */
    static const int64_t named[][10] = {
        /* n, g, icpg, ocpg, hw, k, stride, dil, pad, kind */
        {1, 3, 1, 1, 32, 3, 1, 1, 1, 0},  {1, 3, 1, 1, 32, 7, 1, 1, 3, 0},   {1, 3, 1, 1, 32, 13, 1, 1, 6, 0},
        {1, 3, 1, 1, 32, 31, 1, 1, 15, 0}, {2, 2, 16, 16, 14, 3, 1, 1, 1, 1}, {1, 1, 9, 7, 14, 3, 1, 1, 1, 1},
        {1, 1, 8, 8, 20, 3, 2, 2, 2, 1},
        /* DW-K31 with 16 channels: an NCHW call that the channels-last depthwise row takes (transposed) */
        {1, 16, 1, 1, 32, 31, 1, 1, 15, 0},
    };
    for (int i = 0; i < (int)(sizeof named / sizeof named[0]); i++) {
        const int64_t *v = named[i];
        for (int k = 0; k < 4; k++) {
            const int mk = k % 2, nhwc = k / 2;
            config c;
            memset(&c, 0, sizeof c);
            c.d = t_desc(v[0], v[1], v[2], v[3], v[4], v[4], v[5], v[5], v[6], v[6], v[8], v[8], v[7], v[7],
                         RRCONV_CROSS_CORRELATION, RRCONV_MASK_INT32);
            c.integers = 1;
            c.mask_kind = mk; /* random, blocky */
            c.poison = 1;
            /* and as a channels-last call (src and diff dense NHWC: the nhwc rows) */
            if (nhwc) c.layout[0] = c.layout[1] = L_NHWC;
            run_config(c, &rng, 10000 + 4 * i + k, expect_fast);
        }
    }
    /* parameters near the int64 limits (tiny outputs) are left to the reference loop */
    {
        rrconv_conv_desc d = t_desc(1, 2, 1, 2, 3, 3, 2, 2, (int64_t)1 << 62, 1, ((int64_t)1 << 61) - 1, 0,
                                    (int64_t)1 << 61, 1, RRCONV_CROSS_CORRELATION, RRCONV_MASK_INT32);
        d.oh = 1;
        const rr_conv conv = conv_of(&d);
        EXPECT(rr_kernel_is_reference(rr_kernel_pick(RR_BACKWARD_FILTER, &conv)), "huge dilation: fast kernel picked");
    }
    EXPECT_OK(rrconv_set_num_threads(2));
    for (int i = 0; i < configs / 4; i++) run_guarded(&rng, i);
    EXPECT_OK(rrconv_set_num_threads(0));
    printf("isa %s: %d random + %d benchmark-like configs (NCHW and NHWC; %d on the fast kernel) x 4 thread "
           "counts + reference, %d guarded\n", rrconv_active_isa(), configs,
           (int)(4 * (sizeof named / sizeof named[0])), g_fast_configs, configs / 4);
    return t_finish("test_fast_backward_filter");
}
