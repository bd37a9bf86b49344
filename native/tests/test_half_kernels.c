/*
 * test_half_kernels.c -- the half-precision rows of the kernel table (dtype bf16 / f16), called directly
 * on hand-normalized problems (dense NCHW half src / diff, dense [G,1,1,FH,FW] half filter, dense int32
 * masks, cross-correlation; output dense, of the call's out_dtype), until rr_normalize produces such
 * problems and test_kernel_table runs these rows itself.
 *
 * Per row, ROW_CONFIGS random problems that apply to it (depthwise; dense or grouped for the channel tile
 * rows; each with out type = the row's type or float32, masks random / blocky / all-different, now and
 * then NaN in pixels no tap may read):
 *   1. integer data (exact in both half types; every float32 sum exact): the output equals the double
 *      oracle rounded ONCE to the output type, bit for bit;
 *   2. random half data over a wide exponent range (denormal, overflowing and NaN results in half):
 *      the output equals the float32 row's output on the widened data, rounded once to the output type,
 *      bit for bit (the half rows compute the float32 rows' sums), and is within 2 ulp of the output
 *      type plus 1e-5 of the terms' absolute sum of the double oracle;
 *   3. both at 1, 2, 3 and 7 threads: bitwise identical.
 * And the scalar conversions (half.h) against independent ones: bfloat16 rounding by comparing
 * distances in double, float16 against the compiler's _Float16 (when it has one), on every bfloat16 /
 * float16 value (widening) and on special and random floats (narrowing).
 *
 * Usage: test_half_kernels [configs-per-row [seed]]  (default 24, seed 11)
 *        test_half_kernels --bench [reps]           rough timings: each half row vs its float32 row on
 *                                                   DW-K3 / DW-K7 (1 thread, random masks, medians)
 */
#define _ISOC11_SOURCE
#define _POSIX_C_SOURCE 200809L

#include "test_util.h"
#include "kernels/kernels.h"
#include "half.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const int THREADS[4] = {1, 2, 3, 7};
static int ROW_CONFIGS = 24;

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int64_t rint_in(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd(s) % (uint64_t)(hi - lo + 1));
}

static uint16_t to_half(rr_dtype t, float f)
{
    return t == RR_DT_BF16 ? rr_f32_to_bf16(f) : rr_f32_to_f16(f);
}

static float from_half(rr_dtype t, uint16_t h)
{
    return t == RR_DT_BF16 ? rr_bf16_to_f32(h) : rr_f16_to_f32(h);
}

/* ---- the scalar conversions against independent ones ------------------------------------------- */

/* float -> bfloat16, nearest even, by distances in double (finite f only). */
static uint16_t bf16_by_distance(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    const uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u; /* |lo| <= |f| <= |hi| */
    float flo, fhi;
    memcpy(&flo, &lo, 4);
    if ((hi & 0x7fffffffu) >= 0x7f800000u) { /* above the largest bfloat16: Inf past half an ulp */
        const double ulp = ldexp(1.0, 127 - 7), dl = fabs((double)f - (double)flo);
        return (uint16_t)((dl < ulp / 2 || (dl == ulp / 2 && !((lo >> 16) & 1))) ? lo >> 16 : hi >> 16);
    }
    memcpy(&fhi, &hi, 4);
    const double dl = fabs((double)f - (double)flo), dh = fabs((double)fhi - (double)f);
    if (dl < dh || (dl == dh && !((lo >> 16) & 1u))) return (uint16_t)(lo >> 16);
    return (uint16_t)(hi >> 16);
}

static void test_conversions(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) { /* widening round trips */
        const float b = rr_bf16_to_f32((uint16_t)h), f = rr_f16_to_f32((uint16_t)h);
        if (!isnan(b) && rr_f32_to_bf16(b) != h) bad++;
        if (!isnan(f) && rr_f32_to_f16(f) != h) bad++;
        if (isnan(b) != ((h & 0x7fffu) > 0x7f80u)) bad++;
        if (isnan(f) != ((h & 0x7fffu) > 0x7c00u)) bad++;
#ifdef __FLT16_MAX__
        _Float16 x;
        const uint16_t hh = (uint16_t)h;
        memcpy(&x, &hh, 2);
        if (!isnan(f) && (float)x != f) bad++;
#endif
    }
    EXPECT(bad == 0, "half -> float -> half round trips: %d mismatches", bad);
    uint64_t rng = 0x9e3779b97f4a7c15u;
    int badb = 0, badf = 0;
    const uint32_t special[] = {0, 0x80000000u, 0x00000001u, 0x007fffffu, 0x00800000u, 0x7f7fffffu, 0x7f800000u,
                                0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffffffffu, 0x477fe000u, 0x477ff000u,
                                0x477fefffu, 0x33000000u, 0x33000001u, 0x387fe000u, 0x387ff000u, 0x3f808000u,
                                0x3f818000u, 0x7f7f8000u, 0x7f7f7fffu};
    for (int64_t i = 0; i < 4000000; i++) {
        const uint32_t u = i < (int64_t)(sizeof special / 4) ? special[i] : (uint32_t)rnd(&rng);
        float f;
        memcpy(&f, &u, 4);
        const uint16_t b = rr_f32_to_bf16(f);
        if (isnan(f)) {
            if (!isnan(rr_bf16_to_f32(b)) || (b >> 15) != (u >> 31)) badb++;
            if (!isnan(rr_f16_to_f32(rr_f32_to_f16(f)))) badf++;
            continue;
        }
        if (isinf(f) ? b != (uint16_t)(u >> 16) : b != bf16_by_distance(f)) {
            if (badb++ < 5) printf("  bf16(%a) = %04x, by distance %04x\n", (double)f, b, bf16_by_distance(f));
        }
#ifdef __FLT16_MAX__
        const _Float16 x = (_Float16)f;
        uint16_t want;
        memcpy(&want, &x, 2);
        if (rr_f32_to_f16(f) != want) {
            if (badf++ < 5) printf("  f16(%a) = %04x, _Float16 %04x\n", (double)f, rr_f32_to_f16(f), want);
        }
#endif
    }
    EXPECT(badb == 0 && badf == 0, "narrowing: %d bfloat16 and %d float16 mismatches", badb, badf);
}

/* ---- problems --------------------------------------------------------------------------------- */

/* A problem (depthwise, or dense / grouped for SHAPE_CHANNELS) in normalized form, with half and
 * widened float inputs. */
typedef struct hprob {
    rr_conv c;
    rr_direction dir;
    int64_t nsrc, nflt, ndiff, nin, nout, nres; /* element counts; nres: the output's */
    uint16_t *src, *flt, *diff;                  /* half bit patterns */
    float *srcf, *fltf, *diff_f;                 /* the same, widened */
    int32_t *rin, *rout;
} hprob;

static void shape_of(const rr_conv *c, rr_tensor t, int64_t *shape, int *nd)
{
    *nd = rr_tensor_shape(c, t, shape);
}

static rr_view dense_view(const rr_conv *c, rr_tensor t, const void *data)
{
    rr_view v;
    int64_t shape[5];
    int nd;
    memset(&v, 0, sizeof v);
    shape_of(c, t, shape, &nd);
    rr_dense_strides(shape, nd, v.strides);
    v.data = data;
    return v;
}

static rr_problem problem_of(const hprob *h, int half, void *out)
{
    rr_problem p;
    memset(&p, 0, sizeof p);
    p.c = h->c;
    if (!half) p.c.dtype = p.c.out_dtype = RR_DT_F32;
    p.dir = h->dir;
    p.op = "test_half_kernels";
    if (h->dir != RR_BACKWARD_DATA) p.src = dense_view(&p.c, RR_T_SRC, half ? (void *)h->src : (void *)h->srcf);
    if (h->dir != RR_BACKWARD_FILTER) p.filter = dense_view(&p.c, RR_T_FILTER, half ? (void *)h->flt : (void *)h->fltf);
    if (h->dir != RR_FORWARD) p.diff = dense_view(&p.c, RR_T_DIFF, half ? (void *)h->diff : (void *)h->diff_f);
    p.rin = dense_view(&p.c, RR_T_RIN, h->rin);
    p.rout = dense_view(&p.c, RR_T_ROUT, h->rout);
    const rr_view o = dense_view(&p.c, rr_out_tensor(h->dir), NULL);
    p.out.data = (float *)out;
    memcpy(p.out.strides, o.strides, sizeof o.strides);
    return p;
}

/* A random geometry: depthwise with "same" column padding and FW from the row segment widths
 * (SHAPE_ROWS), depthwise with any FW, pad_w, dil_w and stride_w 1 (SHAPE_GENERAL), also any stride_w
 * (SHAPE_TILES), or that dense or grouped (SHAPE_CHANNELS). */
enum { SHAPE_ROWS = 0, SHAPE_GENERAL = 1, SHAPE_TILES = 2, SHAPE_CHANNELS = 3 };

static rr_conv draw_conv(uint64_t *rng, rr_direction dir, rr_dtype t, rr_dtype out_t, int general)
{
    static const int WIDTHS[] = {3, 3, 3, 5, 7, 7, 9, 11, 13, 31};
    rr_conv c;
    memset(&c, 0, sizeof c);
    for (;;) {
        c.n = rint_in(rng, 1, 3);
        c.groups = rint_in(rng, 1, 11);
        c.icpg = c.ocpg = 1;
        if (general == SHAPE_CHANNELS) { /* dense or grouped */
            c.groups = rint_in(rng, 1, 3);
            c.icpg = rint_in(rng, 1, 5);
            c.ocpg = rint_in(rng, 1, 14);
        }
        c.ic = c.groups * c.icpg;
        c.oc = c.groups * c.ocpg;
        c.fw = dir == RR_BACKWARD_FILTER ? 3 : WIDTHS[rint_in(rng, 0, 9)];
        c.fh = dir == RR_BACKWARD_FILTER ? rint_in(rng, 1, 3) : rint_in(rng, 1, 7);
        c.ih = rint_in(rng, 1, 24);
        c.iw = rint_in(rng, 1, 70);
        c.sh = dir == RR_BACKWARD_DATA ? 1 : rint_in(rng, 1, 2);
        c.dh = rint_in(rng, 1, 2);
        c.ph = rint_in(rng, 0, c.fh);
        c.sw = c.dw = 1;
        c.pw = (c.fw - 1) / 2;
        if (general) {
            c.fw = rint_in(rng, 1, 7);
            c.dw = rint_in(rng, 1, 2);
            c.pw = rint_in(rng, 0, c.fw);
        }
        if (general >= SHAPE_TILES) c.sw = rint_in(rng, 1, 3); /* > 1: the tile plan's phase planes */
        const int64_t span = c.ih + 2 * c.ph - c.dh * (c.fh - 1), wspan = c.iw + 2 * c.pw - c.dw * (c.fw - 1);
        if (span < 1 || wspan < 1) continue;
        c.oh = (span - 1) / c.sh + 1;
        c.ow = (wspan - 1) / c.sw + 1;
        c.mode = RRCONV_CROSS_CORRELATION;
        c.mask_type = RRCONV_MASK_INT32;
        c.algorithm = RRCONV_ALGO_AUTO;
        c.dtype = t;
        c.out_dtype = out_t;
        c.layout = RR_LAYOUT_NCHW;
        return c;
    }
}

/* kind 0: small integers; 1: random values over a wide exponent range (some denormal in half). */
static float draw_value(uint64_t *rng, rr_dtype t, int kind)
{
    if (kind == 0) return (float)rint_in(rng, -4, 4);
    const int emin = t == RR_DT_F16 ? -26 : -140, emax = t == RR_DT_F16 ? 6 : 40;
    const int e = (int)rint_in(rng, 0, 3) == 0 ? (int)rint_in(rng, emin, emax) : (int)rint_in(rng, -4, 2);
    const float m = (float)((double)(rnd(rng) >> 11) * 0x1p-53) * (rint_in(rng, 0, 1) ? 1.0f : -1.0f);
    return ldexpf(m, e);
}

static void fill(uint16_t *h, float *f, int64_t count, uint64_t *rng, rr_dtype t, int kind)
{
    for (int64_t i = 0; i < count; i++) {
        h[i] = to_half(t, draw_value(rng, t, kind));
        f[i] = from_half(t, h[i]);
    }
}

/* 64-byte aligned (the filter-gradient kernels align their blocks to the data: the half and float32
 * rows then sum in the same order) */
static void *amalloc(int64_t bytes)
{
    return aligned_alloc(64, (size_t)((bytes + 63) / 64 * 64));
}

static void make_problem(hprob *h, uint64_t *rng, rr_direction dir, rr_dtype t, rr_dtype out_t, int kind,
                         int masks, int poison, int general)
{
    memset(h, 0, sizeof *h);
    h->dir = dir;
    h->c = draw_conv(rng, dir, t, out_t, general);
    const rr_conv *c = &h->c;
    h->nsrc = c->n * c->ic * c->ih * c->iw;
    h->nflt = c->oc * c->icpg * c->fh * c->fw;
    h->ndiff = c->n * c->oc * c->oh * c->ow;
    h->nin = c->n * c->ih * c->iw;
    h->nout = c->n * c->oh * c->ow;
    h->nres = dir == RR_FORWARD ? h->ndiff : dir == RR_BACKWARD_DATA ? h->nsrc : h->nflt;
    h->src = amalloc(h->nsrc * 2);
    h->srcf = amalloc(h->nsrc * 4);
    h->flt = amalloc(h->nflt * 2);
    h->fltf = amalloc(h->nflt * 4);
    h->diff = amalloc(h->ndiff * 2);
    h->diff_f = amalloc(h->ndiff * 4);
    h->rin = amalloc(h->nin * 4);
    h->rout = amalloc(h->nout * 4);
    fill(h->src, h->srcf, h->nsrc, rng, t, kind);
    fill(h->flt, h->fltf, h->nflt, rng, t, kind);
    fill(h->diff, h->diff_f, h->ndiff, rng, t, kind);
    /* masks: 0 random labels 1..3, 1 blocky (4x4 cells of one label), 2 all different (nothing reads) */
    for (int64_t n = 0; n < c->n; n++) {
        for (int64_t i = 0; i < c->ih * c->iw; i++) {
            const int64_t y = i / c->iw, x = i % c->iw;
            h->rin[n * c->ih * c->iw + i] = masks == 0   ? (int32_t)rint_in(rng, 1, 3)
                                          : masks == 1 ? (int32_t)(1 + ((y / 4 + x / 4) % 2))
                                                       : 1000;
        }
        for (int64_t i = 0; i < c->oh * c->ow; i++) {
            const int64_t y = i / c->ow, x = i % c->ow;
            h->rout[n * c->oh * c->ow + i] = masks == 0   ? (int32_t)rint_in(rng, 1, 3)
                                           : masks == 1 ? (int32_t)(1 + ((y / 4 + x / 4) % 2))
                                                        : 2000;
        }
    }
    if (poison) {
        /* input pixels labelled 99 (never in rout) are NaN: a tap that reads them must be skipped */
        const uint16_t nan = t == RR_DT_BF16 ? 0x7fc0 : 0x7e00;
        for (int64_t i = 0; i < h->nin; i += 5) {
            h->rin[i] = 99;
            const int64_t n = i / (c->ih * c->iw), pix = i % (c->ih * c->iw);
            for (int64_t ch = 0; ch < c->ic; ch++) {
                const int64_t s = (n * c->ic + ch) * c->ih * c->iw + pix;
                h->src[s] = nan;
                h->srcf[s] = NAN;
            }
        }
        /* and diff at output pixels labelled 98 (never in rin): backward directions */
        for (int64_t i = 3; i < h->nout; i += 7) {
            h->rout[i] = 98;
            const int64_t n = i / (c->oh * c->ow), pix = i % (c->oh * c->ow);
            for (int64_t ch = 0; ch < c->oc; ch++) {
                const int64_t s = (n * c->oc + ch) * c->oh * c->ow + pix;
                h->diff[s] = nan;
                h->diff_f[s] = NAN;
            }
        }
    }
}

static void free_problem(hprob *h)
{
    free(h->src);
    free(h->srcf);
    free(h->flt);
    free(h->fltf);
    free(h->diff);
    free(h->diff_f);
    free(h->rin);
    free(h->rout);
}

/* The double oracle (cross-correlation, any groups) on the widened data: want and sum of |terms|. */
static void oracle(const hprob *h, double *want, double *abs_sum)
{
    const rr_conv *c = &h->c;
    memset(want, 0, (size_t)h->nres * sizeof(double));
    memset(abs_sum, 0, (size_t)h->nres * sizeof(double));
    for (int64_t n = 0; n < c->n; n++)
        for (int64_t g = 0; g < c->groups; g++)
            for (int64_t og = 0; og < c->ocpg; og++)
            for (int64_t ig = 0; ig < c->icpg; ig++)
            for (int64_t oh = 0; oh < c->oh; oh++)
                for (int64_t ow = 0; ow < c->ow; ow++)
                    for (int64_t kh = 0; kh < c->fh; kh++)
                        for (int64_t kw = 0; kw < c->fw; kw++) {
                            const int64_t ih = oh * c->sh + kh * c->dh - c->ph, iw = ow * c->sw + kw * c->dw - c->pw;
                            if (ih < 0 || ih >= c->ih || iw < 0 || iw >= c->iw) continue;
                            if (h->rin[(n * c->ih + ih) * c->iw + iw] != h->rout[(n * c->oh + oh) * c->ow + ow]) continue;
                            const int64_t ic = g * c->icpg + ig, oc = g * c->ocpg + og;
                            const int64_t si = ((n * c->ic + ic) * c->ih + ih) * c->iw + iw;
                            const int64_t di = ((n * c->oc + oc) * c->oh + oh) * c->ow + ow;
                            const int64_t fi = ((oc * c->icpg + ig) * c->fh + kh) * c->fw + kw;
                            double term;
                            int64_t o;
                            if (h->dir == RR_FORWARD) {
                                term = (double)h->srcf[si] * h->fltf[fi];
                                o = di;
                            } else if (h->dir == RR_BACKWARD_DATA) {
                                term = (double)h->diff_f[di] * h->fltf[fi];
                                o = si;
                            } else {
                                term = (double)h->srcf[si] * h->diff_f[di];
                                o = fi;
                            }
                            want[o] += term;
                            abs_sum[o] += fabs(term);
                        }
}

/* Element i of an output of type t as a float. */
static float out_get(rr_dtype t, const void *out, int64_t i)
{
    return t == RR_DT_F32 ? ((const float *)out)[i] : from_half(t, ((const uint16_t *)out)[i]);
}

static uint32_t out_bits(rr_dtype t, const void *out, int64_t i)
{
    if (t == RR_DT_F32) {
        uint32_t u;
        memcpy(&u, (const float *)out + i, 4);
        return u;
    }
    return ((const uint16_t *)out)[i];
}

/* The float32 row of a half row: its name without "_bf16" / "_f16". */
static const rr_kernel_row *f32_row_of(const rr_kernel_row *row)
{
    char name[128];
    const char *tag = row->dtype == RR_DT_BF16 ? "_bf16__" : "_f16__";
    const char *at = strstr(row->name, tag);
    if (at == NULL) return NULL;
    snprintf(name, sizeof name, "%.*s__%s", (int)(at - row->name), row->name, at + strlen(tag));
    return rr_kernel_find(name);
}

static double ulp_of(rr_dtype t, double v)
{
    const int bits = t == RR_DT_F32 ? 24 : t == RR_DT_F16 ? 11 : 8;
    const int emin = t == RR_DT_F16 ? -14 : -126;
    int e;
    frexp(v, &e);
    if (e - 1 < emin) e = emin + 1;
    return ldexp(1.0, e - bits);
}

/* One configuration of one row; 1 if every check passed. */
static int check(const rr_kernel_row *row, uint64_t *rng, int cfg)
{
    const rr_dtype t = row->dtype, out_t = rint_in(rng, 0, 1) ? t : RR_DT_F32;
    const int kind = cfg % 2, masks = (int)rint_in(rng, 0, 5) % 3, poison = (int)rint_in(rng, 0, 2) == 0;
    hprob h;
    for (;;) {
        const int shape = strstr(row->name, "_channel_tiles_") || strstr(row->name, "_filter_tile_") ||
                                  strstr(row->name, "_phases_")
                              ? SHAPE_CHANNELS
                        : strstr(row->name, "_depthwise_tiles_") ? SHAPE_TILES
                        : strstr(row->name, "_icpg1_") ? SHAPE_GENERAL
                                                       : SHAPE_ROWS;
        make_problem(&h, rng, row->dir, t, out_t, kind, masks, poison, shape);
        if (rr_kernel_applies(row, &h.c)) break;
        free_problem(&h);
    }
    const rr_conv *c = &h.c;
    const size_t oes = out_t == RR_DT_F32 ? 4 : 2;
    double *want = malloc((size_t)h.nres * sizeof(double)), *abs_sum = malloc((size_t)h.nres * sizeof(double));
    oracle(&h, want, abs_sum);
    void *first = malloc((size_t)h.nres * oes), *out = malloc((size_t)h.nres * oes);
    float *f32out = malloc((size_t)h.nres * 4);
    /* the float32 row on the widened data */
    const rr_kernel_row *frow = f32_row_of(row);
    EXPECT(frow != NULL, "%s: no float32 row", row->name);
    int ok = frow != NULL;
    if (ok) {
        rrconv_set_num_threads(1);
        const rr_problem pf = problem_of(&h, 0, f32out);
        EXPECT_OK(frow->run(&pf));
    }
    char where[320];
    snprintf(where, sizeof where,
             "%s config %d (%s data, out %s, masks %d, poison %d; n %" PRId64 " g %" PRId64 " %" PRId64 "x%" PRId64
             " -> %" PRId64 "x%" PRId64 " f %" PRId64 "x%" PRId64 " s %" PRId64 " p %" PRId64 ",%" PRId64
             " d %" PRId64 ")",
             row->name, cfg, kind == 0 ? "integer" : "random", rr_dtype_name(out_t), masks, poison, c->n, c->groups,
             c->ih, c->iw, c->oh, c->ow, c->fh, c->fw, c->sh, c->ph, c->pw, c->dh);
    for (int ti = 0; ti < 4 && ok; ti++) {
        rrconv_set_num_threads(THREADS[ti]);
        memset(out, 0xa5, (size_t)h.nres * oes);
        const rr_problem p = problem_of(&h, 1, out);
        const rrconv_status st = row->run(&p);
        EXPECT(st == RRCONV_OK, "%s: status %s (%s)", where, rrconv_status_name(st), rrconv_last_error());
        if (st != RRCONV_OK) {
            ok = 0;
            break;
        }
        if (ti == 0) memcpy(first, out, (size_t)h.nres * oes);
        else if (memcmp(first, out, (size_t)h.nres * oes) != 0) {
            EXPECT(0, "%s: output differs between 1 and %d threads", where, THREADS[ti]);
            ok = 0;
        }
        for (int64_t i = 0; i < h.nres && ok && ti == 0; i++) {
            const double w = want[i];
            const float got = out_get(out_t, out, i);
            /* the float32 row's result rounded once to the output type: the same bits */
            float r32 = f32out[i];
            uint32_t rb;
            if (out_t == RR_DT_F32) memcpy(&rb, &r32, 4);
            else rb = to_half(out_t, r32);
            if (out_bits(out_t, out, i) != rb) {
                EXPECT(0, "%s element %" PRId64 ": %a (bits %x), float32 row %a rounded: bits %x", where, i,
                       (double)got, out_bits(out_t, out, i), (double)r32, rb);
                ok = 0;
            } else if (kind == 0) {
                /* exact sums: the oracle rounded once */
                const float w32 = (float)w; /* exact: an integer below 2^24 */
                const float wr = out_t == RR_DT_F32 ? w32 : from_half(out_t, to_half(out_t, w32));
                if (!(got == wr)) {
                    EXPECT(0, "%s element %" PRId64 ": got %.9g, oracle %.9g rounded %.9g", where, i, (double)got, w,
                           (double)wr);
                    ok = 0;
                }
            } else {
                const double tol = 2 * ulp_of(out_t, fabs(w)) + 1e-5 * abs_sum[i];
                const int inf_ok = isinf(got) && fabs(w) >= (out_t == RR_DT_F16 ? 65504.0 : 3.38e38);
                if (!(fabs((double)got - w) <= tol) && !inf_ok) {
                    EXPECT(0, "%s element %" PRId64 ": got %.9g, oracle %.9g (tolerance %.3g)", where, i, (double)got,
                           w, tol);
                    ok = 0;
                }
            }
        }
    }
    rrconv_set_num_threads(0);
    free(want);
    free(abs_sum);
    free(first);
    free(out);
    free(f32out);
    free_problem(&h);
    return ok;
}

static void test_rows(uint64_t seed)
{
    int count, ran = 0;
    const rr_kernel_row *rows = rr_kernel_rows(&count);
    for (int r = 0; r < count; r++) {
        const rr_kernel_row *row = &rows[r];
        if (row->dtype == RR_DT_F32 || rr_kernel_is_reference(row)) continue;
        if (strstr(row->name, "bf16dot") != NULL) {
            /* dense / grouped rows: this file draws depthwise problems only; test_kernel_table checks them */
            printf("  %-52s not depthwise: test_kernel_table checks it\n", row->name);
            continue;
        }
        if (!rr_kernel_available(row)) {
            printf("  %-52s not available at isa %s\n", row->name, rrconv_active_isa());
            continue;
        }
        uint64_t rng = seed + 7919u * (uint64_t)r;
        int passed = 0;
        for (int cfg = 0; cfg < ROW_CONFIGS; cfg++) passed += check(row, &rng, cfg);
        printf("  %-52s %d/%d configs x 4 thread counts\n", row->name, passed, ROW_CONFIGS);
        ran++;
    }
    printf("isa %s: %d half rows checked\n", rrconv_active_isa(), ran);
}

/* ---- rough timings ---------------------------------------------------------------------------- */

/* process CPU time (the machine may be shared: preemption does not count) */
static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* N 4, C 384, 32 x 32, FW = FH = k, "same" padding (the bench's DW-K3 / DW-K7), random masks. */
static void bench(int reps)
{
    rrconv_set_num_threads(1);
    int count;
    const rr_kernel_row *rows = rr_kernel_rows(&count);
    printf("# 1 thread, random masks, %d alternating reps, medians of process CPU ms; ratio = half / float32\n", reps);
    for (int k = 3; k <= 7; k += 4) {
        for (int r = 0; r < count; r++) {
            const rr_kernel_row *row = &rows[r];
            if (row->dtype == RR_DT_F32 || rr_kernel_is_reference(row) || !rr_kernel_available(row)) continue;
            const rr_kernel_row *frow = f32_row_of(row);
            for (int oi = 0; oi < 2; oi++) {
                const rr_dtype out_t = oi == 0 ? row->dtype : RR_DT_F32;
                hprob h;
                uint64_t rng = 5;
                memset(&h, 0, sizeof h);
                h.dir = row->dir;
                rr_conv *c = &h.c;
                *c = draw_conv(&rng, row->dir, row->dtype, out_t, 0);
                c->n = 4;
                c->groups = c->ic = c->oc = 384;
                c->ih = c->iw = c->oh = c->ow = 32;
                c->fh = c->fw = k;
                c->ph = c->pw = (k - 1) / 2;
                c->sh = c->dh = 1;
                if (!rr_kernel_applies(row, c)) continue;
                /* make_problem draws its own geometry: fill by hand */
                h.nsrc = h.ndiff = (int64_t)4 * 384 * 32 * 32;
                h.nflt = (int64_t)384 * k * k;
                h.nin = h.nout = 4 * 32 * 32;
                h.nres = row->dir == RR_BACKWARD_FILTER ? h.nflt : h.nsrc;
                h.src = amalloc(h.nsrc * 2);
                h.srcf = amalloc(h.nsrc * 4);
                h.flt = amalloc(h.nflt * 2);
                h.fltf = amalloc(h.nflt * 4);
                h.diff = amalloc(h.ndiff * 2);
                h.diff_f = amalloc(h.ndiff * 4);
                h.rin = amalloc(h.nin * 4);
                h.rout = amalloc(h.nout * 4);
                fill(h.src, h.srcf, h.nsrc, &rng, row->dtype, 0);
                fill(h.flt, h.fltf, h.nflt, &rng, row->dtype, 0);
                fill(h.diff, h.diff_f, h.ndiff, &rng, row->dtype, 0);
                for (int64_t i = 0; i < h.nin; i++) h.rin[i] = (int32_t)rint_in(&rng, 1, 3);
                for (int64_t i = 0; i < h.nout; i++) h.rout[i] = (int32_t)rint_in(&rng, 1, 3);
                void *out = malloc((size_t)h.nres * 4);
                float *out32 = malloc((size_t)h.nres * 4);
                const rr_problem ph = problem_of(&h, 1, out), pf = problem_of(&h, 0, out32);
                double *th = malloc(sizeof(double) * (size_t)reps), *tf = malloc(sizeof(double) * (size_t)reps);
                for (int i = 0; i < 3; i++) {
                    row->run(&ph);
                    frow->run(&pf);
                }
                for (int i = 0; i < reps; i++) {
                    double t0 = now_ms();
                    row->run(&ph);
                    th[i] = now_ms() - t0;
                    t0 = now_ms();
                    frow->run(&pf);
                    tf[i] = now_ms() - t0;
                }
                qsort(th, (size_t)reps, sizeof(double), cmp_d);
                qsort(tf, (size_t)reps, sizeof(double), cmp_d);
                printf("DW-K%d %-52s out %-4s %8.3f ms   f32 row %8.3f ms   ratio %.2f\n", k, row->name,
                       rr_dtype_name(out_t), th[reps / 2], tf[reps / 2], th[reps / 2] / tf[reps / 2]);
                fflush(stdout);
                free(th);
                free(tf);
                free(out);
                free(out32);
                free_problem(&h);
            }
        }
    }
    rrconv_set_num_threads(0);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
        bench(argc > 2 ? atoi(argv[2]) : 41);
        return 0;
    }
    if (argc > 1) ROW_CONFIGS = atoi(argv[1]);
    const uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 11;
    printf("active ISA: %s, %d configs per half row\n", rrconv_active_isa(), ROW_CONFIGS);
    test_conversions();
    test_rows(seed);
    return t_finish("test_half_kernels");
}
