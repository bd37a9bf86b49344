/*
 * backward_data_example.c -- the seed notebook's backward-data example through the installed C API.
 *
 * A 2x2 filter of ones slides over a 4x4 image (stride 1, no padding) giving a 3x3 output. Every
 * input pixel has a region id (rin) and every output pixel one (rout); a filter tap only connects
 * an input pixel and an output pixel of the same region. Given the gradient of the output (diff =
 * 1..9), rrconv_backward_data_f32 computes the gradient of the input:
 *
 *   grad[n, ic, ih, iw] = sum of filter[.., kh, kw] * diff[n, oc, oh, ow]
 *                         over taps with ih = oh + kh, iw = ow + kw and rin[n, ih, iw] == rout[n, oh, ow]
 *
 * Expected result: grad = [0,2,5,3, 1,6,5,3, 0,13,9,9, 0,7,9,9].
 *
 * Build against an installed rrconv (see CMakeLists.txt here, or with pkg-config):
 *   cc backward_data_example.c $(pkg-config --cflags --libs rrconv) -o backward_data_example
 * Run: ./backward_data_example            prints the library, the inputs and the result
 *      ./backward_data_example --bad-desc  shows how a rejected call is reported (exit status 1)
 */
#include <rrconv.h>

#include <stdio.h>
#include <string.h>

/* Prints a (rows x cols) plane of a float tensor, one row per line. */
static void print_plane_f32(const char *name, const float *v, int rows, int cols)
{
    printf("%s:\n", name);
    for (int r = 0; r < rows; r++) {
        printf("  ");
        for (int c = 0; c < cols; c++) printf(" %4g", (double)v[r * cols + c]);
        printf("\n");
    }
}

static void print_plane_i32(const char *name, const int32_t *v, int rows, int cols)
{
    printf("%s:\n", name);
    for (int r = 0; r < rows; r++) {
        printf("  ");
        for (int c = 0; c < cols; c++) printf(" %4d", (int)v[r * cols + c]);
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    int bad_desc = argc > 1 && strcmp(argv[1], "--bad-desc") == 0;

    printf("rrconv %s, kernels: %s, threads: %d\n", rrconv_version(), rrconv_active_isa(),
           (int)rrconv_get_num_threads());

    /* Shapes: diff (N=1, OC=1, 3, 3), filter (G=1, OCPG=1, ICPG=1, 2, 2), grad (1, IC=1, 4, 4). */
    rrconv_conv_desc desc;
    memset(&desc, 0, sizeof desc);        /* pad 0, reserved 0 */
    desc.n = 1;
    desc.groups = 1;
    desc.icpg = 1;
    desc.ocpg = 1;
    desc.ih = 4;
    desc.iw = 4;
    desc.fh = 2;
    desc.fw = 2;
    desc.oh = 3;                          /* (4 + 2*0 - 1*(2-1) - 1) / 1 + 1 */
    desc.ow = 3;
    desc.stride_h = desc.stride_w = 1;
    desc.dil_h = desc.dil_w = 1;
    desc.mode = RRCONV_CROSS_CORRELATION;
    desc.mask_type = RRCONV_MASK_INT32;
    desc.algorithm = RRCONV_ALGO_AUTO;
    if (bad_desc) desc.oh = 2;            /* inconsistent with ih, fh: the library rejects it */

    const float filter[4] = {1, 1, 1, 1};                      /* [1, 1, 1, 2, 2] */
    const float diff[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};         /* [1, 1, 3, 3] */
    const int32_t rin[16] = {1, 1, 1, 1,                       /* [1, 4, 4] */
                             0, 1, 1, 1,
                             0, 0, 1, 1,
                             0, 1, 1, 1};
    const int32_t rout[9] = {0, 1, 1,                          /* [1, 3, 3] */
                             1, 0, 0,
                             1, 0, 1};
    float grad[16];                                            /* [1, 1, 4, 4], written */

    print_plane_f32("filter (1,1,1,2,2)", filter, 2, 2);
    print_plane_f32("diff (1,1,3,3)", diff, 3, 3);
    print_plane_i32("rin (1,4,4)", rin, 4, 4);
    print_plane_i32("rout (1,3,3)", rout, 3, 3);

    /* NULL strides: dense C order. The call only reads the inputs and overwrites grad. */
    rrconv_status st = rrconv_backward_data_f32(&desc,
                                                filter, NULL,
                                                diff, NULL,
                                                rin, NULL,
                                                rout, NULL,
                                                grad, NULL);
    if (st != RRCONV_OK) {
        fprintf(stderr, "rrconv_backward_data_f32 failed: %s: %s\n", rrconv_status_name(st),
                rrconv_last_error());
        return 1;
    }

    print_plane_f32("grad (1,1,4,4)", grad, 4, 4);
    printf("grad =");
    for (int i = 0; i < 16; i++) printf(" %g", (double)grad[i]);
    printf("\n");
    return 0;
}
