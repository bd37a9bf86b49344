/*
 * test_extreme_params.c -- valid calls whose parameters are near the int64 limits while the tensors stay
 * tiny: strides, paddings and dilations of 2^40..2^63-1 that still give a 1x1 (or 2x1) output. Every
 * index computation inside the library must stay in range (the sanitizer build of .ci/native-checks.sh
 * turns a signed overflow into a failure), and AUTO and REFERENCE must both match a direct computation
 * done here in 128-bit index arithmetic. Found by the fuzzer (native/fuzz): a stride of 2^63-2 overflowed
 * a ceiling division in the reference loops.
 */
#include "test_util.h"

#include <math.h>

typedef __int128 i128;

typedef struct prob {
    rrconv_conv_desc d;
    float src[64], flt[64], diff[64];
    int32_t rin[64], rout[64];
} prob;

/* The taps: output (n, oh, ow) reads input (ih, iw) = (oh*sh - ph + kh*dh, ...), kh' flipped in CONVOLUTION. */
static int tap(const rrconv_conv_desc *d, int64_t oh, int64_t ow, int64_t kh, int64_t kw, int64_t *ih, int64_t *iw)
{
    const i128 y = (i128)oh * d->stride_h - d->pad_h + (i128)kh * d->dil_h;
    const i128 x = (i128)ow * d->stride_w - d->pad_w + (i128)kw * d->dil_w;
    if (y < 0 || y >= d->ih || x < 0 || x >= d->iw) return 0;
    *ih = (int64_t)y;
    *iw = (int64_t)x;
    return 1;
}

static int64_t fidx(const rrconv_conv_desc *d, int64_t g, int64_t o, int64_t i, int64_t kh, int64_t kw)
{
    if (d->mode == RRCONV_CONVOLUTION) {
        kh = d->fh - 1 - kh;
        kw = d->fw - 1 - kw;
    }
    return (((g * d->ocpg + o) * d->icpg + i) * d->fh + kh) * d->fw + kw;
}

/* All three directions by the definition, in double; out arrays dense. */
static void oracle(const prob *p, double *dst, double *gsrc, double *gflt)
{
    const rrconv_conv_desc *d = &p->d;
    const int64_t ic = d->groups * d->icpg, oc = d->groups * d->ocpg;
    memset(dst, 0, sizeof(double) * (size_t)(d->n * oc * d->oh * d->ow));
    memset(gsrc, 0, sizeof(double) * (size_t)(d->n * ic * d->ih * d->iw));
    memset(gflt, 0, sizeof(double) * (size_t)(d->groups * d->ocpg * d->icpg * d->fh * d->fw));
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t g = 0; g < d->groups; g++)
            for (int64_t o = 0; o < d->ocpg; o++)
                for (int64_t oh = 0; oh < d->oh; oh++)
                    for (int64_t ow = 0; ow < d->ow; ow++)
                        for (int64_t i = 0; i < d->icpg; i++)
                            for (int64_t kh = 0; kh < d->fh; kh++)
                                for (int64_t kw = 0; kw < d->fw; kw++) {
                                    int64_t ih, iw;
                                    if (!tap(d, oh, ow, kh, kw, &ih, &iw)) continue;
                                    if (p->rin[(n * d->ih + ih) * d->iw + iw] != p->rout[(n * d->oh + oh) * d->ow + ow]) continue;
                                    const int64_t si = ((n * ic + g * d->icpg + i) * d->ih + ih) * d->iw + iw;
                                    const int64_t di = ((n * oc + g * d->ocpg + o) * d->oh + oh) * d->ow + ow;
                                    const int64_t fi = fidx(d, g, o, i, kh, kw);
                                    dst[di] += (double)p->src[si] * p->flt[fi];
                                    gsrc[si] += (double)p->diff[di] * p->flt[fi];
                                    gflt[fi] += (double)p->src[si] * p->diff[di];
                                }
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

int main(void)
{
    broadcast_input();
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
