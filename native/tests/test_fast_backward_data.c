/*
 * test_fast_backward_data.c -- the fast backward-data kernel (kernels/backward_data/) against the
 * reference loop and a double-precision oracle (links the object files to ask the picker directly).
 *
 * Shapes (seeded random, each checked with 1, 2, 3 and 7 threads, bitwise equal across counts):
 *   kinds      dense (icpg 1..10: tile tails of 1, 2, 4 and 8 channels), grouped, depthwise,
 *              depthwise with multiplier, depthwise with stride 1, dil_h 1, FH 3..13 odd, heights
 *              1..30 (the AVX-512 row tiles: partial row groups, odd column-block counts); half
 *              of those with odd FW 3..31, pad_w (FW-1)/2, dil_w 1 and any dil_h / pad_h: on AVX-512
 *              (FW 3..13, 31) the gradient
 *              then runs as a forward correlation (flipped filter, swapped masks) in the forward
 *              row segment kernel
 *   widths     IW 1..70 (row blocks of 8/16 lanes plus every tail), heights 1..9 (some to 20)
 *   taps       1..7 (some 9..13), stride 1..3, dilation 1..3, padding 0..kernel+1; a third of the
 *              stride-1 shapes use "same" padding (IW == OW: the flattened-image blocks)
 *   masks      random {1,2,3}, blocky rectangles, all equal, all different (all-Inf filter and
 *              all-NaN diff: the output must be exactly 0), extreme values; int32 and uint8
 *   poison     rout pixels of a region rin never has carry NaN in every diff channel; one filter
 *              element +Inf (only the pixels whose tap with it is used may become Inf/NaN)
 *   layouts    dense (NULL strides), dense, padded, permuted (and broadcast inputs); gaps are NaN
 *   mode       cross-correlation and convolution
 * Integer-valued inputs must match the oracle and the reference loop exactly; real-valued ones within
 * 1e-4 of the sum of |terms| (the kernel fuses multiply-adds and orders taps differently).
 * Then the benchmark shapes (batch 1, fewer depthwise channels) with integer data: AUTO == REFERENCE
 * bitwise, and DENSE-S2D2's odd rows and columns (no tap reaches them) exactly 0; and strides far
 * above the image (up to 2^20: one phase per pixel) AUTO == REFERENCE.
 *
 * Usage: test_fast_backward_data [configs [seed]]   (default 1500 configs, seed 20261130)
 */
#include "kernels/kernels.h"
#include "tensor_util.h"

#include <math.h>

enum { MK_RANDOM = 0, MK_BLOCKY, MK_EQUAL, MK_DIFFERENT, MK_EXTREME, MK_COUNT };
static const char *MASK_NAMES[MK_COUNT] = {"random", "blocky", "all-equal", "all-different", "extreme"};
#define POISON_REGION 77

typedef struct config {
    rrconv_conv_desc d;
    int integers;
    int mask_kind;
    int poison;
    int inf_weight; /* one filter element is +Inf: it must reach exactly the pixels whose tap is used */
    int layout[5]; /* filter, diff, rin, rout, grad_src */
} config;

static int64_t g_picked, g_configs, g_terms, g_used;

static double work_of(const rrconv_conv_desc *d)
{
    return (double)d->n * d->groups * d->ocpg * d->icpg * d->oh * d->ow * d->fh * d->fw;
}

static config make_config(uint64_t *rng, int index)
{
    config c;
    memset(&c, 0, sizeof c);
    for (;;) {
        int64_t g, icpg, ocpg;
        const int row_mode = index % 5 == 4; /* depthwise, stride 1, dil_h 1, odd FH 3..13: the row tiles */
        switch (row_mode ? 2 : index % 5) {
        case 0: g = 1; icpg = t_int(rng, 1, 10); ocpg = t_int(rng, 1, 6); break;
        case 1: g = t_int(rng, 2, 3); icpg = t_int(rng, 1, 9); ocpg = t_int(rng, 1, 4); break;
        case 2: g = t_int(rng, 1, 6); icpg = 1; ocpg = 1; break;
        default: g = t_int(rng, 1, 4); icpg = 1; ocpg = t_int(rng, 2, 3); break;
        }
        const int big = t_int(rng, 0, 5) == 0;
        const int64_t fh = row_mode ? 3 + 2 * t_int(rng, 0, 5) : big ? t_int(rng, 1, 13) : t_int(rng, 1, 7);
        int64_t fw = big ? t_int(rng, 1, 13) : t_int(rng, 1, 7);
        const int64_t sh = row_mode || t_int(rng, 0, 2) ? 1 : t_int(rng, 2, 3);
        const int64_t sw = row_mode || t_int(rng, 0, 2) ? 1 : t_int(rng, 2, 3);
        int64_t dh = row_mode || t_int(rng, 0, 1) ? 1 : t_int(rng, 2, 3);
        int64_t dw = t_int(rng, 0, 1) ? 1 : t_int(rng, 2, 3);
        int64_t ph = t_int(rng, 0, fh + 1), pw = t_int(rng, 0, fw + 1);
        /* half the row-mode configurations: the forward-adjoint case (odd FW 3..31, "same" pad_w,
         * dil_w 1, any dil_h and pad_h, so the adjoint's pad_h (FH-1)*dil_h - pad_h is sometimes
         * negative) */
        const int adjoint = row_mode && t_int(rng, 0, 1);
        if (adjoint) {
            fw = t_int(rng, 0, 3) ? 3 : 5 + 2 * t_int(rng, 0, 13); /* odd 3..31 */
            dw = 1;
            pw = (fw - 1) / 2;
            dh = t_int(rng, 1, 3);
            ph = t_int(rng, 0, dh * (fh - 1) + 2);
        }
        const int same = !adjoint && sw == 1 && sh == 1 && (fw % 2) == 1 && t_int(rng, 0, 2) == 0;
        if (same) {
            ph = dh * (fh - 1) / 2 * ((fh % 2) == 1);
            pw = dw * (fw - 1) / 2;
        }
        int64_t ih = row_mode || t_int(rng, 0, 4) == 0 ? t_int(rng, 1, 30) : t_int(rng, 1, 9);
        int64_t iw = t_int(rng, 1, 70);
        if (ih + 2 * ph < dh * (fh - 1) + 1) ih = dh * (fh - 1) + 1 - 2 * ph;
        if (iw + 2 * pw < dw * (fw - 1) + 1) iw = dw * (fw - 1) + 1 - 2 * pw;
        c.d = t_desc(t_int(rng, 1, 2), g, icpg, ocpg, ih, iw, fh, fw, sh, sw, ph, pw, dh, dw,
                     (int)t_int(rng, 0, 1), t_int(rng, 0, 3) == 0 ? RRCONV_MASK_UINT8 : RRCONV_MASK_INT32);
        if (work_of(&c.d) <= 2.5e5) break;
    }
    c.integers = index % 2;
    c.mask_kind = (int)t_int(rng, 0, MK_COUNT - 1);
    if (t_int(rng, 0, 1)) c.mask_kind = t_int(rng, 0, 1) ? MK_RANDOM : MK_BLOCKY;
    c.poison = c.mask_kind != MK_DIFFERENT && t_int(rng, 0, 1);
    for (int i = 0; i < 5; i++) {
        c.layout[i] = (int)t_int(rng, 0, i == 4 ? L_BROADCAST - 1 : L_COUNT - 1);
        if (t_int(rng, 0, 1) == 0) c.layout[i] = L_DENSE_NULL; /* mostly the plain dense call */
    }
    c.inf_weight = c.mask_kind != MK_DIFFERENT && t_int(rng, 0, 3) == 0;
    if (c.inf_weight && c.layout[0] == L_BROADCAST) c.layout[0] = L_PADDED;
    if (c.poison && c.layout[1] == L_BROADCAST) c.layout[1] = L_PADDED; /* poison needs distinct elements */
    return c;
}

/* A blocky label map: 1 outside, rectangles (in input coordinates) labelled 2, 3, ... */
typedef struct rects {
    int count;
    int64_t y0[4], y1[4], x0[4], x1[4];
} rects;

static int64_t rect_label(const rects *r, int64_t y, int64_t x)
{
    int64_t v = 1;
    for (int i = 0; i < r->count; i++)
        if (y >= r->y0[i] && y < r->y1[i] && x >= r->x0[i] && x < r->x1[i]) v = 2 + i;
    return v;
}

static void fill_masks(const config *c, uint64_t *rng, tview *rin, tview *rout)
{
    const rrconv_conv_desc *d = &c->d;
    const int u8 = d->mask_type == RRCONV_MASK_UINT8;
    const int64_t ext_i32[4] = {INT32_MIN, INT32_MAX, -1, 0}, ext_u8[4] = {0, 255, 254, 1};
    rects r;
    r.count = (int)t_int(rng, 1, 4);
    for (int i = 0; i < r.count; i++) {
        r.y0[i] = t_int(rng, 0, d->ih);
        r.y1[i] = r.y0[i] + t_int(rng, 1, d->ih);
        r.x0[i] = t_int(rng, 0, d->iw);
        r.x1[i] = r.x0[i] + t_int(rng, 1, d->iw);
    }
    tview *m[2] = {rin, rout};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < m[k]->buf_elems * m[k]->esize; i++) m[k]->buf[i] = (unsigned char)t_next(rng);
        int64_t idx[5] = {0};
        do {
            int64_t v;
            switch (c->mask_kind) {
            case MK_RANDOM: v = t_int(rng, 1, 3); break;
            case MK_BLOCKY: {
                const int64_t y = k == 0 ? idx[1] : idx[1] * d->stride_h;
                const int64_t x = k == 0 ? idx[2] : idx[2] * d->stride_w;
                v = rect_label(&r, y, x);
                break;
            }
            case MK_EQUAL: v = 5; break;
            case MK_DIFFERENT: v = k == 0 ? 1 : 2; break;
            default: v = u8 ? ext_u8[t_int(rng, 0, 3)] : ext_i32[t_int(rng, 0, 3)]; break;
            }
            if (k == 1 && c->poison && t_int(rng, 0, 7) == 0) v = POISON_REGION;
            tv_setm(m[k], idx, v);
        } while (tv_next(m[k], idx));
    }
}

/* Double-precision backward data from the definition, plus the sum of |terms| per element. */
typedef struct oracle_ctx {
    const rrconv_conv_desc *d;
    const tview *flt, *diff;
    double *want, *abs_sum;
} oracle_ctx;

static void oracle_tap(void *vctx, const t_tap *t)
{
    const oracle_ctx *x = (const oracle_ctx *)vctx;
    int64_t si[4], wi[5], di[4];
    t_tap_indices(t, x->d, si, wi, di);
    t_add_term(x->want, x->abs_sum, t_src_off(x->d, t), (double)tv_getf(x->flt, wi) * (double)tv_getf(x->diff, di));
}

static void run_oracle(const rrconv_conv_desc *d, const tview *flt, const tview *diff, const tview *rin,
                       const tview *rout, double *want, double *abs_sum)
{
    oracle_ctx x = {d, flt, diff, want, abs_sum};
    t_for_each_tap(d, rin, rout, oracle_tap, &x, &g_terms, &g_used);
}

static void describe(const config *c, int cfg)
{
    const rrconv_conv_desc *d = &c->d;
    fprintf(stderr,
            "  config %d: n=%" PRId64 " g=%" PRId64 " icpg=%" PRId64 " ocpg=%" PRId64 " in=%" PRId64 "x%" PRId64
            " out=%" PRId64 "x%" PRId64 " f=%" PRId64 "x%" PRId64 " s=%" PRId64 ",%" PRId64 " p=%" PRId64
            ",%" PRId64 " d=%" PRId64 ",%" PRId64 " mode=%d mask_type=%d masks=%s poison=%d inf=%d ints=%d layouts=",
            cfg, d->n, d->groups, d->icpg, d->ocpg, d->ih, d->iw, d->oh, d->ow, d->fh, d->fw, d->stride_h,
            d->stride_w, d->pad_h, d->pad_w, d->dil_h, d->dil_w, (int)d->mode, (int)d->mask_type,
            MASK_NAMES[c->mask_kind], c->poison, c->inf_weight, c->integers);
    for (int i = 0; i < 5; i++) fprintf(stderr, "%s%s", i ? "," : "", layout_name(c->layout[i]));
    fprintf(stderr, "\n");
}

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

/* The fast kernel must be picked whenever the active ISA has one (portable and up). */
static void expect_picked(const rrconv_conv_desc *d, const char *what)
{
    const rr_conv c = conv_of(d);
    const rr_isa isa = rr_active_isa();
    const int fast = !rr_kernel_is_reference(rr_kernel_pick(RR_BACKWARD_DATA, &c));
    if (isa >= RR_ISA_PORTABLE) EXPECT(fast, "%s: no fast backward-data kernel picked", what);
    else EXPECT(!fast, "%s: a fast kernel picked at scalar level", what);
    g_picked += fast;
}

static rrconv_status call(const rrconv_conv_desc *d, const tview *flt, const tview *diff, const tview *rin,
                          const tview *rout, tview *out)
{
    return rrconv_backward_data_f32(d, tv_data(flt), tv_strides(flt), tv_data(diff), tv_strides(diff),
                                    tv_data(rin), tv_strides(rin), tv_data(rout), tv_strides(rout), tv_data(out),
                                    tv_strides(out));
}

static const int THREADS[4] = {1, 2, 3, 7};

/* NaN where the oracle has NaN, the same infinity, else within tol. */
static int close_to(double got, double want, double tol)
{
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs(got - want) <= tol;
}

static void run_config(uint64_t *rng, int cfg)
{
    config c = make_config(rng, cfg);
    rrconv_conv_desc *d = &c.d;
    const int64_t IC = d->groups * d->icpg, OC = d->groups * d->ocpg;
    const int64_t s_src[4] = {d->n, IC, d->ih, d->iw}, s_dst[4] = {d->n, OC, d->oh, d->ow};
    const int64_t s_flt[5] = {d->groups, d->ocpg, d->icpg, d->fh, d->fw};
    const int64_t s_rin[3] = {d->n, d->ih, d->iw}, s_rout[3] = {d->n, d->oh, d->ow};
    const size_t mes = d->mask_type == RRCONV_MASK_INT32 ? 4 : 1;

    tview flt, diff, rin, rout, out, ref;
    tv_make(&flt, rng, 5, s_flt, 4, c.layout[0]);
    tv_make(&diff, rng, 4, s_dst, 4, c.layout[1]);
    tv_make(&rin, rng, 3, s_rin, mes, c.layout[2]);
    tv_make(&rout, rng, 3, s_rout, mes, c.layout[3]);
    tv_make(&out, rng, 4, s_src, 4, c.layout[4]);
    tv_make(&ref, rng, 4, s_src, 4, L_DENSE_NULL);
    tv_fill_f(&flt, rng, c.integers);
    tv_fill_f(&diff, rng, c.integers);
    fill_masks(&c, rng, &rin, &rout);
    if (c.mask_kind == MK_DIFFERENT) {
        /* nothing is in the same region: every tap is skipped, whatever the values */
        int64_t idx[5] = {0};
        do tv_setf(&flt, idx, t_int(rng, 0, 1) ? INFINITY : -INFINITY); while (tv_next(&flt, idx));
        memset(idx, 0, sizeof idx);
        do tv_setf(&diff, idx, NAN); while (tv_next(&diff, idx));
    } else if (c.poison) {
        int64_t idx[5] = {0};
        do {
            const int64_t ro[3] = {idx[0], idx[2], idx[3]};
            if (tv_getm(&rout, ro) == POISON_REGION) tv_setf(&diff, idx, NAN);
        } while (tv_next(&diff, idx));
    }
    if (c.inf_weight) {
        const int64_t wi[5] = {t_int(rng, 0, d->groups - 1), t_int(rng, 0, d->ocpg - 1), t_int(rng, 0, d->icpg - 1),
                               t_int(rng, 0, d->fh - 1), t_int(rng, 0, d->fw - 1)};
        tv_setf(&flt, wi, INFINITY);
    }
    expect_picked(d, "random config");
    g_configs++;

    const size_t nb = tv_count(&out);
    double *want = calloc(nb, sizeof(double)), *abs_sum = calloc(nb, sizeof(double));
    run_oracle(d, &flt, &diff, &rin, &rout, want, abs_sum);

    int failed = 0;
    d->algorithm = RRCONV_ALGO_REFERENCE;
    EXPECT_OK(rrconv_set_num_threads(1));
    EXPECT_OK(call(d, &flt, &diff, &rin, &rout, &ref));
    d->algorithm = RRCONV_ALGO_AUTO;

    unsigned char *first = NULL;
    for (int t = 0; t < 4 && !failed; t++) {
        EXPECT_OK(rrconv_set_num_threads(THREADS[t]));
        tv_fill_sentinel(&out);
        const rrconv_status st = call(d, &flt, &diff, &rin, &rout, &out);
        EXPECT(st == RRCONV_OK, "config %d: %s: %s", cfg, rrconv_status_name(st), rrconv_last_error());
        if (st != RRCONV_OK) {
            failed = 1;
            break;
        }
        if (t == 0) {
            int64_t idx[5] = {0};
            size_t i = 0;
            do {
                const double got = tv_getf(&out, idx), r = tv_getf(&ref, idx);
                const double tol = c.integers ? 0.0 : 1e-4 * abs_sum[i];
                const int ok = close_to(got, want[i], tol) && close_to(r, want[i], tol);
                if (!ok && !failed) {
                    EXPECT(ok, "config %d element %zu (n=%" PRId64 " ic=%" PRId64 " ih=%" PRId64 " iw=%" PRId64
                           "): fast %.9g reference %.9g oracle %.9g (sum |terms| %.3g)",
                           cfg, i, idx[0], idx[1], idx[2], idx[3], got, r, want[i], abs_sum[i]);
                    failed = 1;
                }
                i++;
            } while (tv_next(&out, idx));
            EXPECT(tv_gaps_untouched(&out), "config %d: elements outside the output view were written", cfg);
            first = (unsigned char *)t_alloc(out.buf_elems * 4);
            memcpy(first, out.buf, out.buf_elems * 4);
        } else {
            const int same = memcmp(first, out.buf, out.buf_elems * 4) == 0;
            EXPECT(same, "config %d: %d threads differ bitwise from 1 thread", cfg, THREADS[t]);
            failed |= !same;
        }
    }
    if (failed) describe(&c, cfg);
    free(first);
    free(want);
    free(abs_sum);
    tv_free(&flt); tv_free(&diff); tv_free(&rin); tv_free(&rout); tv_free(&out); tv_free(&ref);
}

/* A hand-computed example: 3x3 image, 2x2 filter, the centre pixel in another region. */
static void test_example(void)
{
    rrconv_conv_desc d = t_desc(1, 1, 1, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, RRCONV_CROSS_CORRELATION, RRCONV_MASK_INT32);
    const float w[4] = {1, 10, 100, 1000}, dy[4] = {1, 2, 3, 4};
    const int32_t rin[9] = {0, 0, 0, 0, 5, 0, 0, 0, 0}, rout[4] = {0, 0, 0, 0};
    const float want[9] = {1, 12, 20, 103, 0, 2040, 300, 3400, 4000};
    float got[9];
    expect_picked(&d, "example");
    EXPECT_OK(rrconv_backward_data_f32(&d, w, NULL, dy, NULL, rin, NULL, rout, NULL, got, NULL));
    for (int i = 0; i < 9; i++) EXPECT(got[i] == want[i], "example element %d: got %g want %g", i, got[i], want[i]);
}

/* The benchmark shapes (batch 1), integer data: AUTO == REFERENCE bitwise. */
static void test_bench_shapes(uint64_t *rng)
{
    struct { const char *name; int64_t g, icpg, ocpg, hw, k, s, p, dil; } S[] = {
        {"DW-K3", 48, 1, 1, 32, 3, 1, 1, 1},     {"DW-K7", 48, 1, 1, 32, 7, 1, 3, 1},
        {"DW-K13", 32, 1, 1, 32, 13, 1, 6, 1},   {"DW-K31", 16, 1, 1, 32, 31, 1, 15, 1},
        {"GRP", 4, 16, 16, 56, 3, 1, 1, 1},      {"DENSE", 1, 64, 64, 56, 3, 1, 1, 1},
        {"DENSE-S2D2", 1, 64, 64, 56, 3, 2, 2, 2},
    };
    for (size_t s = 0; s < sizeof S / sizeof S[0]; s++) {
        for (int blocky = 0; blocky < 2; blocky++) {
            rrconv_conv_desc d = t_desc(1, S[s].g, S[s].icpg, S[s].ocpg, S[s].hw, S[s].hw, S[s].k, S[s].k, S[s].s,
                                        S[s].s, S[s].p, S[s].p, S[s].dil, S[s].dil, RRCONV_CROSS_CORRELATION,
                                        RRCONV_MASK_INT32);
            expect_picked(&d, S[s].name);
            const size_t nw = (size_t)(d.groups * d.ocpg * d.icpg * d.fh * d.fw);
            const size_t ny = (size_t)(d.groups * d.ocpg * d.oh * d.ow), nx = (size_t)(d.groups * d.icpg * d.ih * d.iw);
            float *w = t_alloc(nw * 4), *dy = t_alloc(ny * 4), *a = t_alloc(nx * 4), *b = t_alloc(nx * 4);
            int32_t *rin = t_alloc((size_t)(d.ih * d.iw) * 4), *rout = t_alloc((size_t)(d.oh * d.ow) * 4);
            for (size_t i = 0; i < nw; i++) w[i] = (float)t_int(rng, -3, 3);
            for (size_t i = 0; i < ny; i++) dy[i] = (float)t_int(rng, -3, 3);
            for (int64_t y = 0; y < d.ih; y++)
                for (int64_t x = 0; x < d.iw; x++)
                    rin[y * d.iw + x] = blocky ? 1 + (y >= 9 && y < 30 && x >= 5 && x < 20) : (int32_t)t_int(rng, 1, 3);
            for (int64_t y = 0; y < d.oh; y++)
                for (int64_t x = 0; x < d.ow; x++) {
                    const int64_t iy = y * d.stride_h, ix = x * d.stride_w;
                    rout[y * d.ow + x] =
                        blocky ? 1 + (iy >= 9 && iy < 30 && ix >= 5 && ix < 20) : (int32_t)t_int(rng, 1, 3);
                }
            d.algorithm = RRCONV_ALGO_REFERENCE;
            EXPECT_OK(rrconv_set_num_threads(2));
            EXPECT_OK(rrconv_backward_data_f32(&d, w, NULL, dy, NULL, rin, NULL, rout, NULL, a, NULL));
            d.algorithm = RRCONV_ALGO_AUTO;
            EXPECT_OK(rrconv_backward_data_f32(&d, w, NULL, dy, NULL, rin, NULL, rout, NULL, b, NULL));
            size_t bad = 0;
            for (size_t i = 0; i < nx; i++) bad += a[i] != b[i];
            EXPECT(bad == 0, "%s (%s masks): %zu elements differ from the reference", S[s].name,
                   blocky ? "blocky" : "random", bad);
            if (d.stride_h == 2) {
                size_t nonzero = 0, odd = 0;
                for (int64_t c = 0; c < d.groups * d.icpg; c++)
                    for (int64_t y = 0; y < d.ih; y++)
                        for (int64_t x = 0; x < d.iw; x++)
                            if ((y % 2) || (x % 2)) {
                                odd++;
                                uint32_t bits;
                                memcpy(&bits, &b[(c * d.ih + y) * d.iw + x], 4);
                                nonzero += bits != 0;
                            }
                EXPECT(odd > 0 && nonzero == 0, "%s: %zu of %zu odd-row/column elements are not +0", S[s].name,
                       nonzero, odd);
            }
            free(w); free(dy); free(a); free(b); free(rin); free(rout);
        }
    }
}

/* Strides far above the image (one phase per pixel, most taps reach nothing): AUTO == REFERENCE. */
static void test_large_strides(void)
{
    const int64_t strides[] = {9, 1000, (int64_t)1 << 20};
    for (size_t s = 0; s < sizeof strides / sizeof strides[0]; s++) {
        for (int64_t k = 1; k <= 3; k++) {
            rrconv_conv_desc d = t_desc(1, 2, 1, 2, 5, 7, k, k, strides[s], strides[s], k - 1, k, 1, 2,
                                        RRCONV_CROSS_CORRELATION, RRCONV_MASK_INT32);
            expect_picked(&d, "large stride");
            float w[2 * 2 * 9], dy[2 * 2 * 4 * 4], a[2 * 35], b[2 * 35];
            int32_t rin[35], rout[16];
            for (int i = 0; i < (int)(sizeof w / sizeof w[0]); i++) w[i] = (float)(i % 5 - 2);
            for (int i = 0; i < (int)(sizeof dy / sizeof dy[0]); i++) dy[i] = (float)(i % 7 - 3);
            for (int i = 0; i < 35; i++) rin[i] = i % 2;
            for (int i = 0; i < 16; i++) rout[i] = i % 3 == 0;
            EXPECT(d.oh <= 4 && d.ow <= 4, "large stride: output %" PRId64 "x%" PRId64, d.oh, d.ow);
            d.algorithm = RRCONV_ALGO_REFERENCE;
            EXPECT_OK(rrconv_backward_data_f32(&d, w, NULL, dy, NULL, rin, NULL, rout, NULL, a, NULL));
            d.algorithm = RRCONV_ALGO_AUTO;
            EXPECT_OK(rrconv_backward_data_f32(&d, w, NULL, dy, NULL, rin, NULL, rout, NULL, b, NULL));
            EXPECT(memcmp(a, b, sizeof a) == 0, "stride %" PRId64 " k %" PRId64 ": AUTO differs from REFERENCE",
                   strides[s], k);
        }
    }
}

int main(int argc, char **argv)
{
    const int configs = argc > 1 ? atoi(argv[1]) : 1500;
    uint64_t rng = argc > 2 ? strtoull(argv[2], NULL, 10) : 20261130u;
    printf("active ISA: %s\n", rrconv_active_isa());
    test_example();
    for (int i = 0; i < configs; i++) run_config(&rng, i);
    /* a tenth again with the forward plan's tap masks in chunks of a few tiles (huge images' path;
     * the forward adjoint runs through it) */
    rr_tile_set_mask_budget(256);
    for (int i = 0; i < configs / 10; i++) run_config(&rng, i);
    rr_tile_set_mask_budget(0);
    test_bench_shapes(&rng);
    test_large_strides();
    EXPECT_OK(rrconv_set_num_threads(0));
    printf("%" PRId64 " random configurations x 4 thread counts (%" PRId64 " taps inside the images, %" PRId64
           " in the same region); fast kernel picked %" PRId64 " times\n",
           g_configs, g_terms, g_used, g_picked);
    return t_finish("test_fast_backward_data");
}
