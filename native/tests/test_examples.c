/*
 * test_examples.c -- the four worked examples of the specification, exact equality, through the
 * public API with int32 and uint8 masks, both algorithms, 1 and 3 threads; through the _f32 entry
 * points and through the typed ones with float32, float16 and bfloat16 data (every value of the examples,
 * inputs and results, is exact in both half types), the output of the inputs' type or float32.
 */
#include "test_util.h"

#include <math.h>

/* The data type of the calls below: g_dt < 0 calls the _f32 entry points, else the typed ones with
 * inputs of type g_dt and an output of type g_odt. */
static int32_t g_dt = -1, g_odt = RRCONV_FLOAT32;

/* Small integers (and other values of the type) as float16 / bfloat16 bits, and back. */
static uint16_t to_half(float v, int32_t t)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    if (t == RRCONV_BFLOAT16) return (uint16_t)(u >> 16);
    if (v == 0.0f) return (uint16_t)((u >> 16) & 0x8000);
    const int e = (int)((u >> 23) & 0xff) - 127;
    return (uint16_t)(((u >> 16) & 0x8000) | (uint32_t)((e + 15) << 10) | ((u >> 13) & 0x3ff));
}

static float from_half(uint16_t h, int32_t t)
{
    if (t == RRCONV_BFLOAT16) {
        const uint32_t u = (uint32_t)h << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    const int e = (h >> 10) & 31, m = h & 1023;
    const double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return (float)((h & 0x8000) ? -v : v);
}

/* count floats as elements of type t in buf (which holds 4*count bytes). */
static const void *as_type(const float *x, size_t count, int32_t t, unsigned char *buf)
{
    if (t == RRCONV_FLOAT32) return x;
    for (size_t i = 0; i < count; i++) {
        const uint16_t h = to_half(x[i], t);
        memcpy(buf + 2 * i, &h, 2);
    }
    return buf;
}

static void back_to_float(float *out, const unsigned char *buf, size_t count)
{
    if (g_odt == RRCONV_FLOAT32) {
        memcpy(out, buf, count * 4);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        uint16_t h;
        memcpy(&h, buf + 2 * i, 2);
        out[i] = from_half(h, g_odt);
    }
}

static unsigned char g_a[256], g_b[256], g_o[256];

static rrconv_status fwd(const rrconv_conv_desc *d, const float *src, size_t ns, const float *flt, size_t nf,
                         const void *rin, const void *rout, float *dst, size_t nd)
{
    if (g_dt < 0) return rrconv_forward_f32(d, src, NULL, flt, NULL, rin, NULL, rout, NULL, dst, NULL);
    const rrconv_status st = rrconv_forward(d, g_dt, g_odt, as_type(src, ns, g_dt, g_a), NULL,
                                            as_type(flt, nf, g_dt, g_b), NULL, rin, NULL, rout, NULL, g_o, NULL);
    back_to_float(dst, g_o, nd);
    return st;
}

static rrconv_status bwd_data(const rrconv_conv_desc *d, const float *flt, size_t nf, const float *diff, size_t ndf,
                              const void *rin, const void *rout, float *grad, size_t ng)
{
    if (g_dt < 0) return rrconv_backward_data_f32(d, flt, NULL, diff, NULL, rin, NULL, rout, NULL, grad, NULL);
    const rrconv_status st = rrconv_backward_data(d, g_dt, g_odt, as_type(flt, nf, g_dt, g_a), NULL,
                                                  as_type(diff, ndf, g_dt, g_b), NULL, rin, NULL, rout, NULL, g_o,
                                                  NULL);
    back_to_float(grad, g_o, ng);
    return st;
}

static rrconv_status bwd_filter(const rrconv_conv_desc *d, const float *src, size_t ns, const float *diff,
                                size_t ndf, const void *rin, const void *rout, float *grad, size_t ng)
{
    if (g_dt < 0) return rrconv_backward_filter_f32(d, src, NULL, diff, NULL, rin, NULL, rout, NULL, grad, NULL);
    const rrconv_status st = rrconv_backward_filter(d, g_dt, g_odt, as_type(src, ns, g_dt, g_a), NULL,
                                                    as_type(diff, ndf, g_dt, g_b), NULL, rin, NULL, rout, NULL, g_o,
                                                    NULL);
    back_to_float(grad, g_o, ng);
    return st;
}

static const void *mask_as(const int32_t *m, size_t count, int mask_type, uint8_t *u8)
{
    if (mask_type == RRCONV_MASK_INT32) return m;
    for (size_t i = 0; i < count; i++) u8[i] = (uint8_t)m[i];
    return u8;
}

static void expect_equal(const char *what, const float *got, const float *want, size_t count, int mt,
                         int algo)
{
    for (size_t i = 0; i < count; i++) {
        EXPECT(got[i] == want[i], "%s (mask_type %d, algorithm %d, dtype %d -> %d): element %zu is %g, expected %g",
               what, mt, algo, (int)g_dt, (int)g_odt, i, (double)got[i], (double)want[i]);
    }
}

static void run_all(int mt, int algo)
{
    uint8_t u8a[64], u8b[64];

    /* (a) forward, (b) backward data: 1x1x4x4, 2x2 ones filter, stride 1, pad 0 */
    {
        rrconv_conv_desc d = t_desc(1, 1, 1, 1, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, RRCONV_CROSS_CORRELATION, mt);
        d.algorithm = algo;
        EXPECT(d.oh == 3 && d.ow == 3, "oh/ow");
        float src[16], ones[4] = {1, 1, 1, 1}, dst[9], diff[9], grad[16];
        for (int i = 0; i < 16; i++) src[i] = (float)i;
        for (int i = 0; i < 9; i++) diff[i] = (float)(i + 1);
        const int32_t rin[16] = {1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1};
        const int32_t rout[9] = {0, 1, 1, 1, 0, 0, 1, 0, 1};
        const void *ri = mask_as(rin, 16, mt, u8a), *ro = mask_as(rout, 9, mt, u8b);

        const float want_a[9] = {4, 14, 18, 5, 9, 0, 13, 9, 50};
        EXPECT_OK(fwd(&d, src, 16, ones, 4, ri, ro, dst, 9));
        expect_equal("example (a) forward", dst, want_a, 9, mt, algo);
        EXPECT(strcmp(rrconv_last_error(), "") == 0, "message after success: %s", rrconv_last_error());

        const float want_b[16] = {0, 2, 5, 3, 1, 6, 5, 3, 0, 13, 9, 9, 0, 7, 9, 9};
        EXPECT_OK(bwd_data(&d, ones, 4, diff, 9, ri, ro, grad, 16));
        expect_equal("example (b) backward data", grad, want_b, 16, mt, algo);
    }

    /* (c) backward data, groups = 2 */
    {
        rrconv_conv_desc d = t_desc(1, 2, 1, 1, 2, 2, 2, 2, 1, 1, 0, 0, 1, 1, RRCONV_CROSS_CORRELATION, mt);
        d.algorithm = algo;
        float filter[8], diff[2] = {1, 2}, grad[8];
        for (int i = 0; i < 8; i++) filter[i] = (float)(i + 1);
        const int32_t rin[4] = {1, 1, 1, 1}, rout[1] = {1};
        const void *ri = mask_as(rin, 4, mt, u8a), *ro = mask_as(rout, 1, mt, u8b);
        const float want[8] = {1, 2, 3, 4, 10, 12, 14, 16};
        EXPECT_OK(bwd_data(&d, filter, 8, diff, 2, ri, ro, grad, 8));
        expect_equal("example (c) backward data grouped", grad, want, 8, mt, algo);
    }

    /* (d) groups = 2, all three directions */
    {
        rrconv_conv_desc d = t_desc(1, 2, 1, 1, 2, 2, 2, 2, 1, 1, 0, 0, 1, 1, RRCONV_CROSS_CORRELATION, mt);
        d.algorithm = algo;
        float src[8], filter[8], diff[2] = {1, 1}, dst[2], gsrc[8], gflt[8];
        for (int i = 0; i < 8; i++) src[i] = filter[i] = (float)i;
        const int32_t rin[4] = {1, 1, 1, 1}, rout[1] = {1};
        const void *ri = mask_as(rin, 4, mt, u8a), *ro = mask_as(rout, 1, mt, u8b);
        const float want_fwd[2] = {14, 126};
        EXPECT_OK(fwd(&d, src, 8, filter, 8, ri, ro, dst, 2));
        expect_equal("example (d) forward", dst, want_fwd, 2, mt, algo);
        EXPECT_OK(bwd_data(&d, filter, 8, diff, 2, ri, ro, gsrc, 8));
        expect_equal("example (d) backward data", gsrc, src, 8, mt, algo);
        EXPECT_OK(bwd_filter(&d, src, 8, diff, 2, ri, ro, gflt, 8));
        expect_equal("example (d) backward filter", gflt, src, 8, mt, algo);
    }
}

int main(void)
{
    const int threads[2] = {1, 3};
    for (int t = 0; t < 2; t++) {
        EXPECT_OK(rrconv_set_num_threads(threads[t]));
        /* -1: the _f32 entry points; then float32, float16, bfloat16 through the typed ones, each with
           an output of its own type and of float32 */
        for (int32_t dt = -1; dt <= RRCONV_BFLOAT16; dt++) {
            for (int o = 0; o < (dt > 0 ? 2 : 1); o++) {
                g_dt = dt;
                g_odt = o == 0 && dt > 0 ? dt : RRCONV_FLOAT32;
                for (int mt = 0; mt < 2; mt++) {
                    run_all(mt, RRCONV_ALGO_AUTO);
                    run_all(mt, RRCONV_ALGO_REFERENCE);
                }
            }
        }
    }
    /* small queries */
    EXPECT(strcmp(rrconv_version(), "0.1.0") == 0, "version %s", rrconv_version());
    EXPECT(strcmp(rrconv_status_name(RRCONV_OK), "RRCONV_OK") == 0, "status name");
    EXPECT(strcmp(rrconv_status_name(RRCONV_INVALID_ARGUMENT), "RRCONV_INVALID_ARGUMENT") == 0, "status name");
    EXPECT(strcmp(rrconv_status_name(RRCONV_UNSUPPORTED), "RRCONV_UNSUPPORTED") == 0, "status name");
    EXPECT(strcmp(rrconv_status_name(RRCONV_OUT_OF_MEMORY), "RRCONV_OUT_OF_MEMORY") == 0, "status name");
    EXPECT(strcmp(rrconv_status_name(RRCONV_INTERNAL_ERROR), "RRCONV_INTERNAL_ERROR") == 0, "status name");
    EXPECT(rrconv_status_name((rrconv_status)99) != NULL, "status name of unknown code");
    const char *isa = rrconv_active_isa();
    EXPECT(strcmp(isa, "avx512") == 0 || strcmp(isa, "avx2") == 0 || strcmp(isa, "portable") == 0 ||
               strcmp(isa, "scalar") == 0,
           "isa %s", isa);
    printf("active isa: %s, default threads: ", isa);
    EXPECT_OK(rrconv_set_num_threads(0));
    printf("%d\n", (int)rrconv_get_num_threads());
    return t_finish("test_examples");
}
