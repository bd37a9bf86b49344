/*
 * rrconv_bench.c -- times the public C API on the benchmark shapes of issue 3 (no JDK needed).
 *
 * Usage: rrconv_bench [--shapes DW-K3,DW-K7,...] [--ops forward,backward-data,backward-filter]
 *                     [--threads 1,2] [--mask random|blocky|superpixel (or a list)] [--mask-dtype int32|uint8]
 *                     [--layout nchw|nhwc] [--algo auto,reference] [--reps N] [--max-seconds S] [--seed N]
 *                     [--out-offset FLOATS] [--kernel NAME]
 *
 * Per row: untimed warm-up calls for 0.05 s (at least one: a row's first calls after a pause are slower,
 * while the pool's workers and the machine's idle cores wake up), then up to N timed calls (fewer when
 * the timed calls of that row pass --max-seconds, at least one), and the median time. GFLOP counts
 * 2*N*OC*OH*OW*ICPG*FH*FW for every direction (all taps, masked or not). cpu-ms is the median process
 * CPU time of a call (all threads together): on a loaded machine, cpu-ms of a 1-thread row shows the
 * kernel's own cost better than the wall clock; min-ms is the fastest call. Masks: `random` draws every
 * pixel from {1,2,3}; `blocky` paints a few rectangles (values 1..4 over a background of 0) per image,
 * the same rectangles in rin and rout (scaled to each one's size); `superpixel` (as `rrconv bench`):
 * Voronoi regions of one seed per 8x8-pixel cell, placed uniformly at random inside its cell, a pixel's
 * id the index of its nearest seed's cell (uint8 masks: modulo 256), rout = rin at each output pixel's
 * centre tap. The `active` column is the fraction of the in-image taps whose input pixel is in the
 * output pixel's region (what a kernel that skips inactive taps computes). --layout nhwc passes src,
 * dst, diff and grad_src with channels-last strides (the filter and the masks are unchanged). algo `reference` sets
 * desc.algorithm = RRCONV_ALGO_REFERENCE (the plain C loop).
 *
 * --kernel NAME runs every auto row of NAME's direction on that row of the kernel table (it sets
 * RRCONV_KERNEL=NAME before the first call; rows of other directions are skipped; a shape the row does
 * not apply to fails with its message). `rrconv_bench --kernels` lists the table; RRCONV_VERBOSE=1 names
 * the kernel of every call on stderr.
 *
 * Every tensor starts on a 64-byte boundary; large ones come from mmap, so the input and the output
 * planes of a call normally share their offsets modulo 4 KiB. --out-offset FLOATS moves the outputs
 * (dst, grad_src) that many floats further, to see how much of a kernel's time that coincidence costs
 * (DW-K3 forward on this project's AMD machine: 0.26 ms at 0, 0.22-0.23 ms at 256; Java's
 * Tensor.allocate staggers large tensors for this reason, so `rrconv bench` corresponds to an offset).
 */
#define _POSIX_C_SOURCE 200809L

#include "rrconv.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct shape {
    const char *name;
    int64_t n, groups, icpg, ocpg, hw, k, stride, dil, pad;
} shape;

static const shape SHAPES[] = {
    {"DW-K3", 4, 384, 1, 1, 32, 3, 1, 1, 1},
    {"DW-K7", 4, 384, 1, 1, 32, 7, 1, 1, 3},
    {"DW-K13", 4, 384, 1, 1, 32, 13, 1, 1, 6},
    {"DW-K31", 4, 384, 1, 1, 32, 31, 1, 1, 15},
    {"GRP", 8, 4, 16, 16, 56, 3, 1, 1, 1},
    {"DENSE", 8, 1, 64, 64, 56, 3, 1, 1, 1},
    {"DENSE-S2D2", 8, 1, 64, 64, 56, 3, 2, 2, 2},
};
#define N_SHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

static const char *OPS[] = {"forward", "backward-data", "backward-filter"};

#define WARMUP_SECONDS 0.05 /* untimed calls per row (at least one) */

/* ---- small helpers --------------------------------------------------------------------------- */

static void die(const char *msg, const char *arg)
{
    fprintf(stderr, "rrconv_bench: %s%s\n", msg, arg ? arg : "");
    exit(2);
}

/* 64-byte aligned, like the Java library's Tensor.allocate (a vector load then never straddles two
 * cache lines more than the data layout forces) */
static void *xmalloc(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    if (p == NULL) die("out of memory", NULL);
    return p;
}

static uint64_t next_rand(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s) /* [0, 1) */
{
    return (double)(next_rand(s) >> 11) / 9007199254740992.0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Splits a comma list into at most max items (pointers into a copy of s). */
static int split_list(const char *s, char **items, int max)
{
    char *copy = (char *)xmalloc(strlen(s) + 1);
    strcpy(copy, s);
    int n = 0;
    for (char *tok = strtok(copy, ","); tok != NULL && n < max; tok = strtok(NULL, ",")) items[n++] = tok;
    return n;
}

/* ---- problem data ---------------------------------------------------------------------------- */

typedef struct problem {
    rrconv_conv_desc d;
    float *src, *flt, *diff, *dst, *gsrc, *gflt;
    float *dst_block, *gsrc_block; /* what dst and gsrc were allocated as (--out-offset) */
    void *rin, *rout;
    size_t n_src, n_flt, n_dst;
} problem;

static rrconv_conv_desc desc_of(const shape *s, int mask_type)
{
    rrconv_conv_desc d;
    memset(&d, 0, sizeof d);
    d.n = s->n;
    d.groups = s->groups;
    d.icpg = s->icpg;
    d.ocpg = s->ocpg;
    d.ih = d.iw = s->hw;
    d.fh = d.fw = s->k;
    d.stride_h = d.stride_w = s->stride;
    d.dil_h = d.dil_w = s->dil;
    d.pad_h = d.pad_w = s->pad;
    d.oh = (d.ih + 2 * d.pad_h - d.dil_h * (d.fh - 1) - 1) / d.stride_h + 1;
    d.ow = (d.iw + 2 * d.pad_w - d.dil_w * (d.fw - 1) - 1) / d.stride_w + 1;
    d.mode = RRCONV_CROSS_CORRELATION;
    d.mask_type = mask_type;
    d.algorithm = RRCONV_ALGO_AUTO;
    return d;
}

static void set_mask(void *m, int mask_type, size_t i, int v)
{
    if (mask_type == RRCONV_MASK_INT32) ((int32_t *)m)[i] = v;
    else ((uint8_t *)m)[i] = (uint8_t)v;
}

/* Fills rin [N, IH, IW] and rout [N, OH, OW]. */
static void fill_masks(problem *p, int blocky, uint64_t *rng)
{
    const rrconv_conv_desc *d = &p->d;
    for (int64_t n = 0; n < d->n; n++) {
        if (!blocky) {
            for (int64_t i = 0; i < d->ih * d->iw; i++)
                set_mask(p->rin, d->mask_type, (size_t)(n * d->ih * d->iw + i), 1 + (int)(next_rand(rng) % 3));
            for (int64_t i = 0; i < d->oh * d->ow; i++)
                set_mask(p->rout, d->mask_type, (size_t)(n * d->oh * d->ow + i), 1 + (int)(next_rand(rng) % 3));
            continue;
        }
        double rect[4][4]; /* y0, y1, x0, x1 in [0, 1) */
        for (int r = 0; r < 4; r++) {
            const double h = 0.2 + 0.4 * unit(rng), w = 0.2 + 0.4 * unit(rng);
            rect[r][0] = unit(rng) * (1 - h);
            rect[r][1] = rect[r][0] + h;
            rect[r][2] = unit(rng) * (1 - w);
            rect[r][3] = rect[r][2] + w;
        }
        for (int which = 0; which < 2; which++) {
            const int64_t H = which ? d->oh : d->ih, W = which ? d->ow : d->iw;
            void *m = which ? p->rout : p->rin;
            for (int64_t y = 0; y < H; y++) {
                for (int64_t x = 0; x < W; x++) {
                    const double fy = (y + 0.5) / (double)H, fx = (x + 0.5) / (double)W;
                    int v = 0;
                    for (int r = 0; r < 4; r++) {
                        if (fy >= rect[r][0] && fy < rect[r][1] && fx >= rect[r][2] && fx < rect[r][3]) v = r + 1;
                    }
                    set_mask(m, d->mask_type, (size_t)((n * H + y) * W + x), v);
                }
            }
        }
    }
}

#define SUPERPIXEL_CELL 8

/* One image's superpixel ids (H x W, row-major): see the header. */
static void superpixel_plane(int32_t *plane, int64_t H, int64_t W, uint64_t *rng)
{
    const int64_t c = SUPERPIXEL_CELL, down = (H + c - 1) / c, across = (W + c - 1) / c;
    int64_t *sy = (int64_t *)xmalloc((size_t)(down * across) * 2 * sizeof(int64_t)), *sx = sy + down * across;
    for (int64_t cy = 0; cy < down; cy++) {
        for (int64_t cx = 0; cx < across; cx++) {
            const int64_t hh = H - cy * c < c ? H - cy * c : c, ww = W - cx * c < c ? W - cx * c : c;
            sy[cy * across + cx] = cy * c + (int64_t)(next_rand(rng) % (uint64_t)hh);
            sx[cy * across + cx] = cx * c + (int64_t)(next_rand(rng) % (uint64_t)ww);
        }
    }
    for (int64_t y = 0; y < H; y++) {
        for (int64_t x = 0; x < W; x++) {
            const int64_t cy = y / c, cx = x / c;
            int64_t best = -1, bd = INT64_MAX;
            for (int64_t ny = cy < 2 ? 0 : cy - 2; ny <= cy + 2 && ny < down; ny++) {
                for (int64_t nx = cx < 2 ? 0 : cx - 2; nx <= cx + 2 && nx < across; nx++) {
                    const int64_t k = ny * across + nx, dy = sy[k] - y, dx = sx[k] - x, dd = dy * dy + dx * dx;
                    if (dd < bd) {
                        bd = dd;
                        best = k;
                    }
                }
            }
            plane[y * W + x] = (int32_t)best;
        }
    }
    free(sy);
}

static int get_mask(const void *m, int mask_type, size_t i)
{
    return mask_type == RRCONV_MASK_INT32 ? ((const int32_t *)m)[i] : ((const uint8_t *)m)[i];
}

/* Superpixel rin and rout of every image (rout: rin at the output pixel's centre tap). */
static void fill_superpixel(problem *p, uint64_t *rng)
{
    const rrconv_conv_desc *d = &p->d;
    int32_t *plane = (int32_t *)xmalloc((size_t)(d->ih * d->iw) * sizeof(int32_t));
    const int64_t ch = d->dil_h * (d->fh - 1) / 2 - d->pad_h, cw = d->dil_w * (d->fw - 1) / 2 - d->pad_w;
    for (int64_t n = 0; n < d->n; n++) {
        superpixel_plane(plane, d->ih, d->iw, rng);
        for (int64_t i = 0; i < d->ih * d->iw; i++) set_mask(p->rin, d->mask_type, (size_t)(n * d->ih * d->iw + i), plane[i]);
        for (int64_t oh = 0; oh < d->oh; oh++) {
            int64_t y = oh * d->stride_h + ch;
            y = y < 0 ? 0 : y > d->ih - 1 ? d->ih - 1 : y;
            for (int64_t ow = 0; ow < d->ow; ow++) {
                int64_t x = ow * d->stride_w + cw;
                x = x < 0 ? 0 : x > d->iw - 1 ? d->iw - 1 : x;
                set_mask(p->rout, d->mask_type, (size_t)((n * d->oh + oh) * d->ow + ow), plane[y * d->iw + x]);
            }
        }
    }
    free(plane);
}

/* The fraction of the in-image taps whose input pixel is in the output pixel's region. */
static double active_fraction(const problem *p)
{
    const rrconv_conv_desc *d = &p->d;
    int64_t active = 0, in_image = 0;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t oh = 0; oh < d->oh; oh++)
            for (int64_t ow = 0; ow < d->ow; ow++) {
                const int r = get_mask(p->rout, d->mask_type, (size_t)((n * d->oh + oh) * d->ow + ow));
                for (int64_t kh = 0; kh < d->fh; kh++) {
                    const int64_t y = oh * d->stride_h - d->pad_h + kh * d->dil_h;
                    if (y < 0 || y >= d->ih) continue;
                    for (int64_t kw = 0; kw < d->fw; kw++) {
                        const int64_t x = ow * d->stride_w - d->pad_w + kw * d->dil_w;
                        if (x < 0 || x >= d->iw) continue;
                        in_image++;
                        active += get_mask(p->rin, d->mask_type, (size_t)((n * d->ih + y) * d->iw + x)) == r;
                    }
                }
            }
    return in_image ? (double)active / (double)in_image : 0.0;
}

enum { MASK_RANDOM = 0, MASK_BLOCKY = 1, MASK_SUPERPIXEL = 2 };
static const char *MASK_NAMES[] = {"random", "blocky", "superpixel"};

static void make_problem(problem *p, const shape *s, int mask_type, int masks, uint64_t seed, int64_t out_offset)
{
    memset(p, 0, sizeof *p);
    p->d = desc_of(s, mask_type);
    const rrconv_conv_desc *d = &p->d;
    const int64_t ic = d->groups * d->icpg, oc = d->groups * d->ocpg;
    p->n_src = (size_t)(d->n * ic * d->ih * d->iw);
    p->n_dst = (size_t)(d->n * oc * d->oh * d->ow);
    p->n_flt = (size_t)(d->groups * d->ocpg * d->icpg * d->fh * d->fw);
    const size_t mes = mask_type == RRCONV_MASK_INT32 ? 4 : 1;
    p->src = (float *)xmalloc(p->n_src * 4);
    p->gsrc_block = (float *)xmalloc((p->n_src + (size_t)out_offset) * 4);
    p->gsrc = p->gsrc_block + out_offset;
    p->diff = (float *)xmalloc(p->n_dst * 4);
    p->dst_block = (float *)xmalloc((p->n_dst + (size_t)out_offset) * 4);
    p->dst = p->dst_block + out_offset;
    p->flt = (float *)xmalloc(p->n_flt * 4);
    p->gflt = (float *)xmalloc(p->n_flt * 4);
    p->rin = xmalloc((size_t)(d->n * d->ih * d->iw) * mes);
    p->rout = xmalloc((size_t)(d->n * d->oh * d->ow) * mes);
    uint64_t rng = seed;
    for (size_t i = 0; i < p->n_src; i++) p->src[i] = (float)(2 * unit(&rng) - 1);
    for (size_t i = 0; i < p->n_dst; i++) p->diff[i] = (float)(2 * unit(&rng) - 1);
    for (size_t i = 0; i < p->n_flt; i++) p->flt[i] = (float)(2 * unit(&rng) - 1);
    if (masks == MASK_SUPERPIXEL) fill_superpixel(p, &rng);
    else fill_masks(p, masks == MASK_BLOCKY, &rng);
}

static void free_problem(problem *p)
{
    free(p->src); free(p->gsrc_block); free(p->diff); free(p->dst_block); free(p->flt); free(p->gflt);
    free(p->rin); free(p->rout);
}

/* Strides of the activations: NULL (dense NCHW) or channels-last [H*W*C, 1, W*C, C]. */
typedef struct act_strides {
    const int64_t *src, *dst;
    int64_t src_nhwc[4], dst_nhwc[4];
} act_strides;

static void set_layout(act_strides *a, const rrconv_conv_desc *d, int nhwc)
{
    const int64_t ic = d->groups * d->icpg, oc = d->groups * d->ocpg;
    const int64_t s[4] = {d->ih * d->iw * ic, 1, d->iw * ic, ic}, t[4] = {d->oh * d->ow * oc, 1, d->ow * oc, oc};
    memcpy(a->src_nhwc, s, sizeof s);
    memcpy(a->dst_nhwc, t, sizeof t);
    a->src = nhwc ? a->src_nhwc : NULL;
    a->dst = nhwc ? a->dst_nhwc : NULL;
}

static rrconv_status run_op(const problem *p, const rrconv_conv_desc *d, int op, const act_strides *a)
{
    switch (op) {
    case 0: return rrconv_forward_f32(d, p->src, a->src, p->flt, NULL, p->rin, NULL, p->rout, NULL, p->dst, a->dst);
    case 1: return rrconv_backward_data_f32(d, p->flt, NULL, p->diff, a->dst, p->rin, NULL, p->rout, NULL, p->gsrc, a->src);
    default: return rrconv_backward_filter_f32(d, p->src, a->src, p->diff, a->dst, p->rin, NULL, p->rout, NULL, p->gflt, NULL);
    }
}

/* ---- main ------------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    const char *shapes_arg = NULL, *ops_arg = "forward,backward-data,backward-filter", *threads_arg = "1,2";
    const char *mask_arg = "random", *algo_arg = "auto,reference", *dtype_arg = "int32", *layout_arg = "nchw";
    int reps = 7;
    double max_seconds = 5.0;
    uint64_t seed = 20240601u;
    int64_t out_offset = 0;
    const char *kernel_arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--kernels") == 0) {
            for (int32_t k = 0; k < rrconv_kernel_count(); k++) {
                rrconv_kernel_info ki;
                if (rrconv_kernel_get(k, &ki) != RRCONV_OK) die("rrconv_kernel_get failed", NULL);
                printf("%-46s %-15s %-8s %s %s %s  %s\n", ki.name, ki.direction, ki.isa, ki.dtype, ki.layout,
                       ki.available ? "available  " : "unavailable", ki.applies);
            }
            return 0;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: rrconv_bench [--shapes LIST] [--ops LIST] [--threads LIST]\n"
                   "                    [--mask random|blocky|superpixel] [--mask-dtype int32|uint8]\n"
                   "                    [--layout nchw|nhwc] [--algo auto,reference] [--reps N]\n"
                   "                    [--max-seconds S] [--seed N] [--out-offset FLOATS] [--kernel NAME]\n"
                   "       rrconv_bench --kernels\nshapes:");
            for (int s = 0; s < N_SHAPES; s++) printf(" %s", SHAPES[s].name);
            printf("\n");
            return 0;
        }
        if (i + 1 >= argc) die("missing value after ", a);
        const char *v = argv[++i];
        if (strcmp(a, "--shapes") == 0) shapes_arg = v;
        else if (strcmp(a, "--ops") == 0) ops_arg = v;
        else if (strcmp(a, "--threads") == 0) threads_arg = v;
        else if (strcmp(a, "--mask") == 0) mask_arg = v;
        else if (strcmp(a, "--mask-dtype") == 0) dtype_arg = v;
        else if (strcmp(a, "--layout") == 0) layout_arg = v;
        else if (strcmp(a, "--algo") == 0) algo_arg = v;
        else if (strcmp(a, "--reps") == 0) reps = atoi(v);
        else if (strcmp(a, "--max-seconds") == 0) max_seconds = atof(v);
        else if (strcmp(a, "--seed") == 0) seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--out-offset") == 0) out_offset = atoll(v);
        else if (strcmp(a, "--kernel") == 0) kernel_arg = v;
        else die("unknown option ", a);
    }
    if (reps < 1) die("--reps must be >= 1", NULL);
    if (out_offset < 0 || out_offset > (1 << 20)) die("--out-offset must be in 0..1048576 floats", NULL);

    char *items[64];
    int shape_idx[N_SHAPES], n_shapes = 0;
    if (shapes_arg == NULL) {
        for (int s = 0; s < N_SHAPES; s++) shape_idx[n_shapes++] = s;
    } else {
        const int k = split_list(shapes_arg, items, 64);
        for (int j = 0; j < k; j++) {
            int found = -1;
            for (int s = 0; s < N_SHAPES; s++) if (strcmp(items[j], SHAPES[s].name) == 0) found = s;
            if (found < 0) die("unknown shape ", items[j]);
            if (n_shapes < N_SHAPES) shape_idx[n_shapes++] = found;
        }
    }
    if (kernel_arg != NULL) {
        /* before the first convolution call: the library reads RRCONV_KERNEL once */
        int found = 0;
        for (int32_t k = 0; k < rrconv_kernel_count(); k++) {
            rrconv_kernel_info ki;
            if (rrconv_kernel_get(k, &ki) == RRCONV_OK && strcmp(ki.name, kernel_arg) == 0) {
                found = 1;
                ops_arg = strcmp(ki.direction, "forward") == 0         ? "forward"
                          : strcmp(ki.direction, "backward_data") == 0 ? "backward-data"
                                                                        : "backward-filter";
            }
        }
        if (!found) die("unknown kernel (see --kernels): ", kernel_arg);
        if (setenv("RRCONV_KERNEL", kernel_arg, 1) != 0) die("setenv failed", NULL);
        algo_arg = "auto";
    }
    int ops[3], n_ops = split_list(ops_arg, items, 3);
    for (int j = 0; j < n_ops; j++) {
        ops[j] = -1;
        for (int o = 0; o < 3; o++) if (strcmp(items[j], OPS[o]) == 0) ops[j] = o;
        if (ops[j] < 0) die("unknown op ", items[j]);
    }
    int threads[16], n_threads = split_list(threads_arg, items, 16);
    for (int j = 0; j < n_threads; j++) {
        threads[j] = atoi(items[j]);
        if (threads[j] < 1) die("bad thread count ", items[j]);
    }
    int masks[3], n_masks = split_list(mask_arg, items, 3);
    for (int j = 0; j < n_masks; j++) {
        masks[j] = -1;
        for (int k = 0; k < 3; k++) if (strcmp(items[j], MASK_NAMES[k]) == 0) masks[j] = k;
        if (masks[j] < 0) die("unknown mask ", items[j]);
    }
    int nhwc = 0;
    if (strcmp(layout_arg, "nhwc") == 0) nhwc = 1;
    else if (strcmp(layout_arg, "nchw") != 0) die("--layout must be nchw or nhwc, got ", layout_arg);
    int algos[2], n_algos = split_list(algo_arg, items, 2);
    for (int j = 0; j < n_algos; j++) {
        if (strcmp(items[j], "auto") == 0) algos[j] = RRCONV_ALGO_AUTO;
        else if (strcmp(items[j], "reference") == 0) algos[j] = RRCONV_ALGO_REFERENCE;
        else die("unknown algo ", items[j]);
    }
    int mask_type;
    if (strcmp(dtype_arg, "int32") == 0) mask_type = RRCONV_MASK_INT32;
    else if (strcmp(dtype_arg, "uint8") == 0) mask_type = RRCONV_MASK_UINT8;
    else die("unknown mask dtype ", dtype_arg);

    printf("# rrconv %s, isa %s, layout %s, mask dtype %s, up to %d reps (median), %.1f s per row max",
           rrconv_version(), rrconv_active_isa(), layout_arg, dtype_arg, reps, max_seconds);
    if (out_offset != 0) printf(", outputs %" PRId64 " floats past 64-byte alignment", out_offset);
    if (kernel_arg != NULL) printf(", kernel %s", kernel_arg);
    printf("\n");
    printf("%-11s %-16s %-10s %6s %-10s %7s %11s %9s %11s %9s\n", "shape", "op", "mask", "active", "algo", "threads",
           "median-ms", "GFLOP/s", "cpu-ms", "min-ms");
    double *times = (double *)xmalloc((size_t)reps * sizeof(double));
    double *cpu = (double *)xmalloc((size_t)reps * sizeof(double));
    int status = 0;
    for (int si = 0; si < n_shapes; si++) {
        const shape *s = &SHAPES[shape_idx[si]];
        for (int mi = 0; mi < n_masks; mi++) {
            problem p;
            make_problem(&p, s, mask_type, masks[mi], seed, out_offset);
            const rrconv_conv_desc *d = &p.d;
            const double active = active_fraction(&p);
            act_strides as;
            set_layout(&as, d, nhwc);
            const double gflop = 2.0 * (double)d->n * (double)(d->groups * d->ocpg) * (double)(d->oh * d->ow) *
                                 (double)d->icpg * (double)(d->fh * d->fw) * 1e-9;
            for (int oi = 0; oi < n_ops; oi++) {
                for (int ai = 0; ai < n_algos; ai++) {
                    for (int ti = 0; ti < n_threads; ti++) {
                        rrconv_conv_desc dd = *d;
                        dd.algorithm = algos[ai];
                        rrconv_set_num_threads(threads[ti]);
                        const double w0 = now_s();
                        rrconv_status st = run_op(&p, &dd, ops[oi], &as); /* warm-up */
                        if (st != RRCONV_OK) {
                            fprintf(stderr, "rrconv_bench: %s %s: %s: %s\n", s->name, OPS[ops[oi]],
                                    rrconv_status_name(st), rrconv_last_error());
                            status = 1;
                            continue;
                        }
                        while (now_s() - w0 < WARMUP_SECONDS) run_op(&p, &dd, ops[oi], &as);
                        int done = 0;
                        double spent = 0;
                        while (done < reps && (done == 0 || spent < max_seconds)) {
                            const double c0 = cpu_s(), t0 = now_s();
                            run_op(&p, &dd, ops[oi], &as);
                            times[done] = now_s() - t0;
                            cpu[done] = cpu_s() - c0;
                            spent += times[done++];
                        }
                        const double med = median(times, done), med_cpu = median(cpu, done);
                        printf("%-11s %-16s %-10s %6.3f %-10s %7d %11.3f %9.1f %11.3f %9.3f\n", s->name, OPS[ops[oi]],
                               MASK_NAMES[masks[mi]], active,
                               algos[ai] == RRCONV_ALGO_AUTO ? "auto" : "reference", threads[ti], med * 1e3,
                               gflop / med, med_cpu * 1e3, times[0] * 1e3);
                        fflush(stdout);
                    }
                }
            }
            free_problem(&p);
        }
    }
    free(times);
    free(cpu);
    return status;
}
