/*
 * test_adjoint.c -- the three directions are mutually consistent:
 *     <forward(x, w), dy> = <x, backward_data(w, dy)> = <w, backward_filter(x, dy)>
 * in double, on random small problems (dense tensors, random reals, both modes and mask types).
 * The tolerance is 1e-4 of the same expression with every value replaced by its magnitude (a bound
 * on the sum of |terms|), computed through the library as well.
 */
#include "conv_gen.h"

#include <math.h>

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

static void fill_masks(uint64_t *rng, void *m, size_t n, int mt, int levels)
{
    for (size_t i = 0; i < n; i++) {
        const int v = (int)t_int(rng, 0, levels - 1);
        if (mt == RRCONV_MASK_INT32) ((int32_t *)m)[i] = v * 1000003;
        else ((uint8_t *)m)[i] = (uint8_t)(v * 60);
    }
}

int main(void)
{
    uint64_t rng = 777;
    const int cases = 120;
    for (int k = 0; k < cases; k++) {
        rrconv_conv_desc d = gen_desc(&rng, k, 2e5);
        d.algorithm = k % 3 == 0 ? RRCONV_ALGO_REFERENCE : RRCONV_ALGO_AUTO;
        const size_t nx = (size_t)(d.n * d.groups * d.icpg * d.ih * d.iw);
        const size_t ny = (size_t)(d.n * d.groups * d.ocpg * d.oh * d.ow);
        const size_t nw = (size_t)(d.groups * d.ocpg * d.icpg * d.fh * d.fw);
        const size_t nri = (size_t)(d.n * d.ih * d.iw), nro = (size_t)(d.n * d.oh * d.ow);
        float *x = t_alloc(nx * 4), *w = t_alloc(nw * 4), *dy = t_alloc(ny * 4);
        float *y = t_alloc(ny * 4), *gx = t_alloc(nx * 4), *gw = t_alloc(nw * 4);
        float *ax = t_alloc(nx * 4), *aw = t_alloc(nw * 4), *ady = t_alloc(ny * 4), *ay = t_alloc(ny * 4);
        void *rin = t_alloc(nri * 4), *rout = t_alloc(nro * 4);
        for (size_t i = 0; i < nx; i++) ax[i] = fabsf(x[i] = (float)t_unit(&rng));
        for (size_t i = 0; i < nw; i++) aw[i] = fabsf(w[i] = (float)t_unit(&rng));
        for (size_t i = 0; i < ny; i++) ady[i] = fabsf(dy[i] = (float)t_unit(&rng));
        const int levels = (int)t_int(&rng, 1, 3);
        fill_masks(&rng, rin, nri, d.mask_type, levels);
        fill_masks(&rng, rout, nro, d.mask_type, levels);

        EXPECT_OK(rrconv_forward_f32(&d, x, NULL, w, NULL, rin, NULL, rout, NULL, y, NULL));
        EXPECT_OK(rrconv_backward_data_f32(&d, w, NULL, dy, NULL, rin, NULL, rout, NULL, gx, NULL));
        EXPECT_OK(rrconv_backward_filter_f32(&d, x, NULL, dy, NULL, rin, NULL, rout, NULL, gw, NULL));
        EXPECT_OK(rrconv_forward_f32(&d, ax, NULL, aw, NULL, rin, NULL, rout, NULL, ay, NULL));
        const double a = dot(y, dy, ny), b = dot(x, gx, nx), c = dot(w, gw, nw);
        const double bound = dot(ay, ady, ny);
        const double tol = 1e-4 * bound + 1e-30;
        EXPECT(fabs(a - b) <= tol && fabs(a - c) <= tol,
               "case %d: <fwd(x),dy> = %.9g, <x,bwd_data(dy)> = %.9g, <w,bwd_filter(x,dy)> = %.9g (bound %.3g)",
               k, a, b, c, bound);
        free(x); free(w); free(dy); free(y); free(gx); free(gw);
        free(ax); free(aw); free(ady); free(ay); free(rin); free(rout);
    }
    printf("%d adjoint cases\n", cases);
    return t_finish("test_adjoint");
}
