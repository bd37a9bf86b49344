/*
 * test_extreme_params.c -- valid calls whose parameters are near the int64 limits while the tensors stay
 * tiny: strides, paddings and dilations of 2^40..2^63-1 that still give a 1x1 (or 2x1) output. Every
 * index computation inside the library must stay in range (the sanitizer build of .ci/native-checks.sh
 * turns a signed overflow into a failure), and AUTO and REFERENCE must both match the tests' oracle
 * (tensor_util.h, 128-bit index arithmetic). Found by the fuzzer (native/fuzz): a stride of 2^63-2 overflowed
 * a ceiling division in the reference loops.
 */
#include "tensor_util.h"

#include <math.h>

typedef __int128 i128;

typedef struct prob {
    rrconv_conv_desc d;
    float src[64], flt[64], diff[64];
    int32_t rin[64], rout[64];
} prob;

/* All three directions by the definition (tensor_util.h's oracle), in double; out arrays dense. */
static void oracle(prob *p, double *dst, double *gsrc, double *gflt)
{
    const rrconv_conv_desc *d = &p->d;
    const int64_t ic = d->groups * d->icpg, oc = d->groups * d->ocpg;
    const int64_t s_src[4] = {d->n, ic, d->ih, d->iw}, s_dst[4] = {d->n, oc, d->oh, d->ow};
    const int64_t s_flt[5] = {d->groups, d->ocpg, d->icpg, d->fh, d->fw};
    const int64_t s_rin[3] = {d->n, d->ih, d->iw}, s_rout[3] = {d->n, d->oh, d->ow};
    tview src, flt, diff, rin, rout;
    tv_wrap(&src, p->src, 4, s_src, 4);
    tv_wrap(&flt, p->flt, 5, s_flt, 4);
    tv_wrap(&diff, p->diff, 4, s_dst, 4);
    tv_wrap(&rin, p->rin, 3, s_rin, 4);
    tv_wrap(&rout, p->rout, 3, s_rout, 4);
    double abs_sum[64];
    t_oracle(d, 0, &src, &flt, &rin, &rout, dst, abs_sum, (size_t)(d->n * oc * d->oh * d->ow));
    t_oracle(d, 1, &flt, &diff, &rin, &rout, gsrc, abs_sum, (size_t)(d->n * ic * d->ih * d->iw));
    t_oracle(d, 2, &src, &diff, &rin, &rout, gflt, abs_sum, (size_t)(d->groups * d->ocpg * d->icpg * d->fh * d->fw));
}

static void compare(const char *what, const char *algo, const float *got, const double *want, int64_t count)
{
    for (int64_t i = 0; i < count; i++) {
        EXPECT(fabs((double)got[i] - want[i]) <= 1e-5 * (1 + fabs(want[i])), "%s %s: element %" PRId64 " = %g, want %g",
               what, algo, i, (double)got[i], want[i]);
    }
}

/*
 * The directions whose AUTO (fast-kernel) path is checked: RRCONV_TEST_EXTREME_AUTO, a list of fwd, bd, bf
 * (default: all three). Before dispatch.c sent geometry >= 2^24 to the reference loops, the fast
 * backward-data kernel overflowed ceil_div and looped for ~2^62 iterations and the fast backward-filter
 * kernel overflowed its packed-src size and crashed.
 */
static int auto_checked(const char *dir)
{
    const char *e = getenv("RRCONV_TEST_EXTREME_AUTO");
    return e == NULL || strstr(e, dir) != NULL;
}

static void run(const char *name, rrconv_conv_desc d)
{
    prob p;
    memset(&p, 0, sizeof p);
    p.d = d;
    uint64_t rng = 99;
    for (int i = 0; i < 64; i++) {
        p.src[i] = (float)t_int(&rng, -3, 3);
        p.flt[i] = (float)t_int(&rng, -3, 3);
        p.diff[i] = (float)t_int(&rng, -3, 3);
        p.rin[i] = (int32_t)t_int(&rng, 0, 1);
        p.rout[i] = (int32_t)t_int(&rng, 0, 1);
    }
    const int64_t ic = d.groups * d.icpg, oc = d.groups * d.ocpg;
    const int64_t nsrc = d.n * ic * d.ih * d.iw, ndst = d.n * oc * d.oh * d.ow;
    const int64_t nflt = d.groups * d.ocpg * d.icpg * d.fh * d.fw;
    if (nsrc > 64 || ndst > 64 || nflt > 64 || d.n * d.ih * d.iw > 64 || d.n * d.oh * d.ow > 64) {
        EXPECT(0, "%s: test problem too large", name);
        return;
    }
    double want_dst[64], want_gsrc[64], want_gflt[64];
    oracle(&p, want_dst, want_gsrc, want_gflt);
    for (int algo = 0; algo < 2; algo++) {
        p.d.algorithm = algo;
        const char *an = algo ? "REFERENCE" : "AUTO";
        float out[64];
        if (algo == RRCONV_ALGO_REFERENCE || auto_checked("fwd")) {
            EXPECT_OK(rrconv_forward_f32(&p.d, p.src, NULL, p.flt, NULL, p.rin, NULL, p.rout, NULL, out, NULL));
            compare(name, an, out, want_dst, ndst);
        }
        if (algo == RRCONV_ALGO_REFERENCE || auto_checked("bd")) {
            EXPECT_OK(rrconv_backward_data_f32(&p.d, p.flt, NULL, p.diff, NULL, p.rin, NULL, p.rout, NULL, out, NULL));
            compare(name, an, out, want_gsrc, nsrc);
        }
        if (algo == RRCONV_ALGO_REFERENCE || auto_checked("bf")) {
            EXPECT_OK(rrconv_backward_filter_f32(&p.d, p.src, NULL, p.diff, NULL, p.rin, NULL, p.rout, NULL, out, NULL));
            compare(name, an, out, want_gflt, nflt);
        }
    }
}

/* A descriptor with oh/ow by the formula in 128-bit arithmetic. */
static rrconv_conv_desc desc(int64_t ih, int64_t iw, int64_t fh, int64_t fw, int64_t sh, int64_t sw, int64_t ph,
                             int64_t pw, int64_t dh, int64_t dw, int mode)
{
    rrconv_conv_desc d;
    memset(&d, 0, sizeof d);
    d.n = 1; d.groups = 2; d.icpg = 1; d.ocpg = 2;
    d.ih = ih; d.iw = iw; d.fh = fh; d.fw = fw;
    d.stride_h = sh; d.stride_w = sw; d.pad_h = ph; d.pad_w = pw; d.dil_h = dh; d.dil_w = dw;
    d.oh = (int64_t)(((i128)ih + 2 * (i128)ph - (i128)dh * (fh - 1) - 1) / sh + 1);
    d.ow = (int64_t)(((i128)iw + 2 * (i128)pw - (i128)dw * (fw - 1) - 1) / sw + 1);
    d.mode = mode;
    d.mask_type = RRCONV_MASK_INT32;
    return d;
}

/* One float broadcast (all strides 0) to src (1, 2, 2^20, 2^20), read at one position per output: AUTO
 * must not pack the 8 TiB the dense src would take (it asked for them: RRCONV_OUT_OF_MEMORY). */
static void broadcast_input(void)
{
    const int64_t side = (int64_t)1 << 20;
    rrconv_conv_desc d = desc(side, side, 1, 1, side, side, 0, 0, 1, 1, RRCONV_CROSS_CORRELATION);
    const float src = 2, flt[4] = {3, 4, 5, 6};
    const int32_t rin = 7, rout = 7;
    const int64_t zero[4] = {0, 0, 0, 0};
    for (int algo = 0; algo < 2; algo++) {
        d.algorithm = algo;
        float dst[4] = {0, 0, 0, 0};
        EXPECT_OK(rrconv_forward_f32(&d, &src, zero, flt, NULL, &rin, zero, &rout, NULL, dst, NULL));
        for (int i = 0; i < 4; i++) {
            EXPECT(dst[i] == 2 * flt[i], "broadcast src, algorithm %d: dst[%d] = %g, want %g", algo, i,
                   (double)dst[i], (double)(2 * flt[i]));
        }
    }
}

/* IH = FH = SH = 65535 over one output pixel (found by the fuzzer: the backward-data plan scanned 65535
 * phases x 65535 taps, minutes per call): grad_src[ih] = filter[ih] * diff where rin[ih] == rout. */
static void tall_stride_filter(void)
{
    enum { H = 65535 };
    rrconv_conv_desc d = desc(H, 1, H, 1, H, 1, 0, 0, 1, 1, RRCONV_CROSS_CORRELATION);
    d.groups = 1;
    d.ocpg = 1;
    static float flt[H], gsrc[H];
    static int32_t rin[H];
    uint64_t rng = 5;
    for (int i = 0; i < H; i++) {
        flt[i] = (float)t_int(&rng, -3, 3);
        rin[i] = (int32_t)t_int(&rng, 0, 1);
    }
    const float diff = 2;
    const int32_t rout = 1;
    EXPECT_OK(rrconv_backward_data_f32(&d, flt, NULL, &diff, NULL, rin, NULL, &rout, NULL, gsrc, NULL));
    int bad = 0;
    for (int i = 0; i < H; i++) bad += gsrc[i] != (rin[i] == rout ? flt[i] * diff : 0.0f);
    EXPECT(bad == 0, "tall stride filter: %d of %d grad_src elements wrong", bad, (int)H);
}

int main(void)
{
    broadcast_input();
    tall_stride_filter();
    const int64_t M = INT64_MAX;
    for (int mode = 0; mode < 2; mode++) {
        /* huge strides: one output row/column; with padding the first tap is in the padding */
        run("stride 2^63-2, pad 2", desc(3, 4, 3, 2, M - 1, M, 2, 1, 1, 1, mode));
        run("stride 2^62", desc(4, 3, 2, 2, (int64_t)1 << 62, (int64_t)1 << 62, 1, 0, 1, 2, mode));
        /* huge dilation with a matching padding: tap 0 at row -(2^61-1), tap 1 at row 1 (inside) */
        run("dilation 2^61, pad 2^61-1", desc(3, 3, 2, 2, (int64_t)1 << 62, 1, ((int64_t)1 << 61) - 1, 0,
                                              (int64_t)1 << 61, 1, mode));
        /* dilation 2^62 and padding (2^62)/2: the padded span is 2^62+3, the dilated extent 2^62+1: oh = 1 */
        run("dilation 2^62, stride huge", desc(3, 2, 2, 1, M / 2, 1, (int64_t)1 << 61, 0, (int64_t)1 << 62, 1, mode));
        /* padding (2^63-1)/4 = 2^61-1 and stride 2^61: output row 1 reads input row 1 */
        run("pad 2^61-1, stride 2^61", desc(2, 2, 1, 1, (int64_t)1 << 61, 1, M / 4, 0, 1, 1, mode));
        /* a 1-tap filter with an absurd dilation is the same as dilation 1 */
        run("fh 1, dilation 2^63-1", desc(3, 3, 1, 1, 1, 2, 0, 1, M, M, mode));
    }
    return t_finish("test_extreme_params");
}
