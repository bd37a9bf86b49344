/*
 * test_examples.c -- the four worked examples of the specification, exact equality, through the
 * public API with int32 and uint8 masks, both algorithms, 1 and 3 threads.
 */
#include "test_util.h"

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
        EXPECT(got[i] == want[i], "%s (mask_type %d, algorithm %d): element %zu is %g, expected %g",
               what, mt, algo, i, (double)got[i], (double)want[i]);
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
        EXPECT_OK(rrconv_forward_f32(&d, src, NULL, ones, NULL, ri, NULL, ro, NULL, dst, NULL));
        expect_equal("example (a) forward", dst, want_a, 9, mt, algo);
        EXPECT(strcmp(rrconv_last_error(), "") == 0, "message after success: %s", rrconv_last_error());

        const float want_b[16] = {0, 2, 5, 3, 1, 6, 5, 3, 0, 13, 9, 9, 0, 7, 9, 9};
        EXPECT_OK(rrconv_backward_data_f32(&d, ones, NULL, diff, NULL, ri, NULL, ro, NULL, grad, NULL));
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
        EXPECT_OK(rrconv_backward_data_f32(&d, filter, NULL, diff, NULL, ri, NULL, ro, NULL, grad, NULL));
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
        EXPECT_OK(rrconv_forward_f32(&d, src, NULL, filter, NULL, ri, NULL, ro, NULL, dst, NULL));
        expect_equal("example (d) forward", dst, want_fwd, 2, mt, algo);
        EXPECT_OK(rrconv_backward_data_f32(&d, filter, NULL, diff, NULL, ri, NULL, ro, NULL, gsrc, NULL));
        expect_equal("example (d) backward data", gsrc, src, 8, mt, algo);
        EXPECT_OK(rrconv_backward_filter_f32(&d, src, NULL, diff, NULL, ri, NULL, ro, NULL, gflt, NULL));
        expect_equal("example (d) backward filter", gflt, src, 8, mt, algo);
    }
}

int main(void)
{
    const int threads[2] = {1, 3};
    for (int t = 0; t < 2; t++) {
        EXPECT_OK(rrconv_set_num_threads(threads[t]));
        for (int mt = 0; mt < 2; mt++) {
            run_all(mt, RRCONV_ALGO_AUTO);
            run_all(mt, RRCONV_ALGO_REFERENCE);
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
