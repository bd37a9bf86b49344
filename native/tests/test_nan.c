/*
 * test_nan.c -- masked-out taps are skipped, never multiplied by zero: NaN and Inf placed where no
 * tap may read them (src/diff at pixels whose region never matches) must not reach any output, and
 * the outputs must be bitwise identical to those computed with zeros in those places.
 *
 * rin takes values {1, 2} plus the poison region 7 (no rout pixel has it); rout takes {1, 2} plus
 * the poison region 9 (no rin pixel has it). Every channel of src at a rin==7 pixel and of diff at a
 * rout==9 pixel holds NaN, +Inf or -Inf. Forward runs once more on channels-last copies of src and dst
 * (the NHWC rows).
 */
#include "conv_gen.h"

#include <math.h>

static void set_mask(void *m, int mt, size_t i, int v)
{
    if (mt == RRCONV_MASK_INT32) ((int32_t *)m)[i] = v;
    else ((uint8_t *)m)[i] = (uint8_t)v;
}

static int all_finite(const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) return 0;
    }
    return 1;
}

int main(void)
{
    uint64_t rng = 4242;
    const float poison[3] = {NAN, INFINITY, -INFINITY};
    const int cases = 80;
    for (int k = 0; k < cases; k++) {
        rrconv_conv_desc d = gen_desc(&rng, k, 1e5);
        d.algorithm = k % 2 ? RRCONV_ALGO_REFERENCE : RRCONV_ALGO_AUTO;
        const int64_t IC = d.groups * d.icpg, OC = d.groups * d.ocpg;
        const size_t nx = (size_t)(d.n * IC * d.ih * d.iw), ny = (size_t)(d.n * OC * d.oh * d.ow);
        const size_t nw = (size_t)(d.groups * d.ocpg * d.icpg * d.fh * d.fw);
        const size_t nri = (size_t)(d.n * d.ih * d.iw), nro = (size_t)(d.n * d.oh * d.ow);
        float *x = t_alloc(nx * 4), *x0 = t_alloc(nx * 4), *w = t_alloc(nw * 4);
        float *dy = t_alloc(ny * 4), *dy0 = t_alloc(ny * 4);
        float *out[2][3];
        for (int v = 0; v < 2; v++) {
            out[v][0] = t_alloc(ny * 4); out[v][1] = t_alloc(nx * 4); out[v][2] = t_alloc(nw * 4);
        }
        void *rin = t_alloc(nri * 4), *rout = t_alloc(nro * 4);
        for (size_t i = 0; i < nri; i++) set_mask(rin, d.mask_type, i, t_int(&rng, 0, 3) == 0 ? 7 : (int)t_int(&rng, 1, 2));
        for (size_t i = 0; i < nro; i++) set_mask(rout, d.mask_type, i, t_int(&rng, 0, 3) == 0 ? 9 : (int)t_int(&rng, 1, 2));
        for (size_t i = 0; i < nw; i++) w[i] = (float)t_unit(&rng);
        /* src [N, IC, IH, IW]: pixel (n, ih, iw) of channel c is i = ((n*IC + c)*IH + ih)*IW + iw */
        for (size_t i = 0; i < nx; i++) {
            const size_t pix = i % (size_t)(d.ih * d.iw), n = i / (size_t)(IC * d.ih * d.iw);
            const size_t m = n * (size_t)(d.ih * d.iw) + pix;
            const int region = d.mask_type == RRCONV_MASK_INT32 ? ((int32_t *)rin)[m] : ((uint8_t *)rin)[m];
            x0[i] = region == 7 ? 0.0f : (float)t_unit(&rng);
            x[i] = region == 7 ? poison[t_int(&rng, 0, 2)] : x0[i];
        }
        for (size_t i = 0; i < ny; i++) {
            const size_t pix = i % (size_t)(d.oh * d.ow), n = i / (size_t)(OC * d.oh * d.ow);
            const size_t m = n * (size_t)(d.oh * d.ow) + pix;
            const int region = d.mask_type == RRCONV_MASK_INT32 ? ((int32_t *)rout)[m] : ((uint8_t *)rout)[m];
            dy0[i] = region == 9 ? 0.0f : (float)t_unit(&rng);
            dy[i] = region == 9 ? poison[t_int(&rng, 0, 2)] : dy0[i];
        }
        /* channels-last copies of x and x0, and outputs: [N, C, H, W] strides [H*W*C, 1, W*C, C] */
        const int64_t sx[4] = {d.ih * d.iw * IC, 1, d.iw * IC, IC}, sy[4] = {d.oh * d.ow * OC, 1, d.ow * OC, OC};
        float *xh = t_alloc(nx * 4), *x0h = t_alloc(nx * 4), *outh[2] = {t_alloc(ny * 4), t_alloc(ny * 4)};
        for (size_t i = 0; i < nx; i++) {
            const size_t iw = i % (size_t)d.iw, ih = i / (size_t)d.iw % (size_t)d.ih;
            const size_t c = i / (size_t)(d.iw * d.ih) % (size_t)IC, n = i / (size_t)(d.iw * d.ih * IC);
            const size_t j = n * (size_t)sx[0] + c + ih * (size_t)sx[2] + iw * (size_t)sx[3];
            xh[j] = x[i];
            x0h[j] = x0[i];
        }
        EXPECT_OK(rrconv_set_num_threads(k % 3 + 1));
        for (int v = 0; v < 2; v++) {
            const float *xs = v ? x0 : x, *dys = v ? dy0 : dy;
            EXPECT_OK(rrconv_forward_f32(&d, xs, NULL, w, NULL, rin, NULL, rout, NULL, out[v][0], NULL));
            EXPECT_OK(rrconv_backward_data_f32(&d, w, NULL, dys, NULL, rin, NULL, rout, NULL, out[v][1], NULL));
            EXPECT_OK(rrconv_backward_filter_f32(&d, xs, NULL, dys, NULL, rin, NULL, rout, NULL, out[v][2], NULL));
            EXPECT_OK(rrconv_forward_f32(&d, v ? x0h : xh, sx, w, NULL, rin, NULL, rout, NULL, outh[v], sy));
        }
        EXPECT(all_finite(outh[0], ny), "case %d forward nhwc: a NaN/Inf got through", k);
        EXPECT(memcmp(outh[0], outh[1], ny * 4) == 0, "case %d forward nhwc: differs from the run with zeros", k);
        free(xh); free(x0h); free(outh[0]); free(outh[1]);
        const size_t counts[3] = {ny, nx, nw};
        const char *names[3] = {"forward", "backward_data", "backward_filter"};
        for (int dir = 0; dir < 3; dir++) {
            EXPECT(all_finite(out[0][dir], counts[dir]), "case %d %s: a NaN/Inf got through", k, names[dir]);
            EXPECT(memcmp(out[0][dir], out[1][dir], counts[dir] * 4) == 0,
                   "case %d %s: differs from the run with zeros in masked-out places", k, names[dir]);
        }
        free(x); free(x0); free(w); free(dy); free(dy0); free(rin); free(rout);
        for (int v = 0; v < 2; v++)
            for (int dir = 0; dir < 3; dir++) free(out[v][dir]);
    }
    EXPECT_OK(rrconv_set_num_threads(0));
    printf("%d NaN/Inf cases\n", cases);
    return t_finish("test_nan");
}
