/*
 * tensor_util.h -- strided test tensors: random layouts (dense, padded, permuted, broadcast),
 * element access by index, output sentinels.
 */
#ifndef RRCONV_TENSOR_UTIL_H
#define RRCONV_TENSOR_UTIL_H

#include "test_util.h"

#include <math.h>

typedef struct tview {
    int ndim;
    int64_t shape[5];
    int64_t st[5];
    int pass_null;       /* pass NULL strides (dense) to the library */
    size_t esize;        /* 4 (float, int32), 2 (float16, bfloat16: see dt) or 1 (uint8) */
    int dt;              /* data tensors: an rrconv_dtype (set after tv_make; 0 = float32) */
    unsigned char *buf;
    size_t buf_elems;
    int64_t base;        /* element offset of index (0,...,0) in buf */
} tview;

enum { L_DENSE_NULL = 0, L_DENSE, L_PADDED, L_PERMUTED, L_BROADCAST, L_COUNT };

/* Channels-last, only when asked for (never drawn among the L_COUNT random layouts): a 4-D [N, C, H, W]
 * tensor with strides [H*W*C, 1, W*C, C], the dense NHWC form the library recognises. */
enum { L_NHWC = L_COUNT + 1 };

static inline const char *layout_name(int l)
{
    static const char *names[] = {"dense(NULL)", "dense", "padded", "permuted", "broadcast"};
    return l == L_NHWC ? "nhwc" : names[l];
}

/* Lays out a tensor of the given shape in a fresh buffer; outputs never get L_BROADCAST. */
static inline void tv_make(tview *t, uint64_t *rng, int ndim, const int64_t *shape, size_t esize, int layout)
{
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    t->esize = esize;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    int perm[5];
    for (int i = 0; i < ndim; i++) perm[i] = i;
    if (layout == L_PERMUTED || (layout == L_BROADCAST && t_int(rng, 0, 1))) {
        for (int i = ndim - 1; i > 0; i--) {
            int j = (int)t_int(rng, 0, i);
            int tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp;
        }
    }
    if (layout == L_NHWC && ndim == 4) { /* outermost first: N, H, W, C */
        perm[1] = 2; perm[2] = 3; perm[3] = 1;
    }
    const int pad = layout >= L_PADDED && layout < L_COUNT;
    int64_t s = pad ? t_int(rng, 1, 2) : 1;
    for (int k = ndim - 1; k >= 0; k--) {
        const int d = perm[k];
        t->st[d] = s;
        s = s * shape[d] + (pad ? t_int(rng, 0, 3) : 0);
    }
    if (layout == L_BROADCAST) {
        const int d = (int)t_int(rng, 0, ndim - 1);
        t->st[d] = 0;
        if (t_int(rng, 0, 2) == 0) t->st[(d + 1) % ndim] = 0;
    }
    t->pass_null = layout == L_DENSE_NULL;
    t->base = pad ? t_int(rng, 0, 3) : 0;
    int64_t max_off = 0;
    for (int i = 0; i < ndim; i++) max_off += (shape[i] - 1) * t->st[i];
    t->buf_elems = (size_t)(t->base + max_off + 1 + (pad ? t_int(rng, 0, 2) : 0));
    t->buf = (unsigned char *)t_alloc(t->buf_elems * esize);
}

/* A dense C-order view of memory the caller owns (never tv_free it). */
static inline void tv_wrap(tview *t, void *data, int ndim, const int64_t *shape, size_t esize)
{
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    t->esize = esize;
    t->pass_null = 1;
    t->buf = (unsigned char *)data;
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->st[i] = s;
        s *= shape[i];
    }
    t->buf_elems = (size_t)s;
}

static inline void tv_free(tview *t)
{
    free(t->buf);
    t->buf = NULL;
}

static inline void *tv_data(const tview *t)
{
    return t->buf + (size_t)t->base * t->esize;
}

static inline const int64_t *tv_strides(const tview *t)
{
    return t->pass_null ? NULL : t->st;
}

static inline int64_t tv_off(const tview *t, const int64_t *idx)
{
    int64_t o = t->base;
    for (int i = 0; i < t->ndim; i++) o += idx[i] * t->st[i];
    return o;
}

/* ---- half precision, written independently of the library's half.h: by value, not by bit tricks ---- */

/* The value of float16 bits h (sign, 5-bit exponent biased by 15, 10-bit fraction). */
static inline double t_f16_value(uint16_t h)
{
    const int e = (h >> 10) & 31, m = h & 1023;
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    if (e == 31) return m ? NAN : sign * INFINITY;
    if (e == 0) return sign * ldexp((double)m, -24);
    return sign * ldexp((double)(1024 + m), e - 25);
}

static inline double t_bf16_value(uint16_t h)
{
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return (double)f;
}

/* Largest finite value, precision (significant bits) and smallest normal exponent of a data type. */
static inline double t_type_max(int dt)
{
    return dt == RRCONV_FLOAT16 ? 65504.0 : dt == RRCONV_BFLOAT16 ? ldexp(255.0, 120) : (double)3.40282346638528859812e+38F;
}

static inline int t_type_bits(int dt)
{
    return dt == RRCONV_FLOAT16 ? 11 : dt == RRCONV_BFLOAT16 ? 8 : 24;
}

static inline int t_type_emin(int dt)
{
    return dt == RRCONV_FLOAT16 ? -14 : -126;
}

/* The spacing of the values of type dt around v (finite): 2^(exponent(v) - bits + 1), denormals' below. */
static inline double t_ulp(double v, int dt)
{
    int e;
    frexp(fabs(v), &e); /* |v| = m * 2^e, m in [0.5, 1) */
    e -= 1;
    if (v == 0.0 || e < t_type_emin(dt)) e = t_type_emin(dt);
    return ldexp(1.0, e - t_type_bits(dt) + 1);
}

/* v rounded once to type dt (to nearest, ties to even; beyond the largest finite half-way point: Inf). */
static inline double t_round_to(double v, int dt)
{
    if (isnan(v) || isinf(v) || v == 0.0) return v;
    const double u = t_ulp(v, dt);
    const double r = nearbyint(fabs(v) / u) * u; /* the default rounding mode: ties to even */
    return copysign(r > t_type_max(dt) ? INFINITY : r, v);
}

/* The bits of v (which must be a value of type dt, e.g. from t_round_to) as float16 or bfloat16. */
static inline uint16_t t_half_bits(double v, int dt)
{
    if (dt == RRCONV_BFLOAT16) {
        const float f = (float)v; /* exact: v is a bfloat16 value (NaN: the float NaN, quiet) */
        uint32_t u;
        memcpy(&u, &f, 4);
        return (uint16_t)(u >> 16);
    }
    const uint16_t sign = signbit(v) ? 0x8000 : 0;
    if (isnan(v)) return 0x7e00;
    if (isinf(v)) return (uint16_t)(sign | 0x7c00);
    const double a = fabs(v);
    if (a < ldexp(1.0, -14)) return (uint16_t)(sign | (uint16_t)ldexp(a, 24));
    int e;
    frexp(a, &e);
    e -= 1; /* a = 1.m * 2^e */
    return (uint16_t)(sign | (uint16_t)((e + 15) << 10) | (uint16_t)(ldexp(a, 10 - e) - 1024.0));
}

static inline float tv_getf(const tview *t, const int64_t *idx)
{
    if (t->esize == 2) {
        uint16_t h;
        memcpy(&h, t->buf + (size_t)tv_off(t, idx) * 2, 2);
        return (float)(t->dt == RRCONV_FLOAT16 ? t_f16_value(h) : t_bf16_value(h));
    }
    float v;
    memcpy(&v, t->buf + (size_t)tv_off(t, idx) * 4, 4);
    return v;
}

/* Stores v; into a half tensor rounded to its type first (values of the type are stored exactly). */
static inline void tv_setf(tview *t, const int64_t *idx, float v)
{
    if (t->esize == 2) {
        const uint16_t h = t_half_bits(t_round_to((double)v, t->dt), t->dt);
        memcpy(t->buf + (size_t)tv_off(t, idx) * 2, &h, 2);
        return;
    }
    memcpy(t->buf + (size_t)tv_off(t, idx) * 4, &v, 4);
}

static inline int64_t tv_getm(const tview *t, const int64_t *idx)
{
    const unsigned char *p = t->buf + (size_t)tv_off(t, idx) * t->esize;
    if (t->esize == 1) return *p;
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline void tv_setm(tview *t, const int64_t *idx, int64_t v)
{
    unsigned char *p = t->buf + (size_t)tv_off(t, idx) * t->esize;
    if (t->esize == 1) {
        *p = (unsigned char)v;
    } else {
        int32_t x = (int32_t)v;
        memcpy(p, &x, 4);
    }
}

/* Odometer over all index tuples; returns 0 after the last. */
static inline int tv_next(const tview *t, int64_t *idx)
{
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (++idx[i] < t->shape[i]) return 1;
        idx[i] = 0;
    }
    return 0;
}

static inline size_t tv_count(const tview *t)
{
    size_t c = 1;
    for (int i = 0; i < t->ndim; i++) c *= (size_t)t->shape[i];
    return c;
}

/* Fills the whole buffer with NaN (the gaps stay NaN), then the view with values. */
static inline void tv_fill_f(tview *t, uint64_t *rng, int integers)
{
    const float nan = NAN;
    const uint16_t hnan = 0x7fc0; /* a NaN in both half types */
    for (size_t i = 0; i < t->buf_elems; i++) {
        if (t->esize == 2) memcpy(t->buf + i * 2, &hnan, 2);
        else memcpy(t->buf + i * 4, &nan, 4);
    }
    int64_t idx[5] = {0};
    do {
        tv_setf(t, idx, integers ? (float)t_int(rng, -3, 3) : (float)t_unit(rng));
    } while (tv_next(t, idx));
}

#define SENTINEL_BYTE 0xA5

static inline void tv_fill_sentinel(tview *t)
{
    memset(t->buf, SENTINEL_BYTE, t->buf_elems * t->esize);
}

/* 1 if every buffer element outside the view still holds the sentinel. */
static inline int tv_gaps_untouched(const tview *t)
{
    unsigned char *in_view = (unsigned char *)calloc(t->buf_elems, 1);
    int64_t idx[5] = {0};
    do {
        in_view[tv_off(t, idx)] = 1;
    } while (tv_next(t, idx));
    int ok = 1;
    for (size_t i = 0; i < t->buf_elems && ok; i++) {
        if (in_view[i]) continue;
        for (size_t b = 0; b < t->esize; b++) {
            if (t->buf[i * t->esize + b] != SENTINEL_BYTE) ok = 0;
        }
    }
    free(in_view);
    return ok;
}

/* ---- the operator's definition, tap by tap (the oracles of the tests) ------------------------- */

/* One product of the definition: output pixel (n, oh, ow) of output channel g*OCPG + ocg reads input
 * pixel (n, ih, iw) of input channel g*ICPG + icg through filter element (g, ocg, icg, khf, kwf)
 * (kh, kw flipped in convolution mode). */
typedef struct t_tap {
    int64_t n, g, ocg, icg, oh, ow, ih, iw, khf, kwf;
} t_tap;

/* An oracle's accumulation of one term into element o: the exact (double) value into want, and |term|
 * into abs_sum, which scales the comparison's tolerance. A non-finite term (NaN or Inf data on an
 * active tap) leaves abs_sum alone: the element's want is then non-finite and compared as such. */
static inline void t_add_term(double *want, double *abs_sum, size_t o, double term)
{
    want[o] += term;
    if (isfinite(term)) abs_sum[o] += fabs(term);
}

/*
 * Calls visit(ctx, tap) for every tap of d that lies inside the image and joins equal regions
 * (rin[n, ih, iw] == rout[n, oh, ow]), in the order n, g, ocg, icg, oh, ow, kh, kw. If inside / used
 * are not NULL, they count the taps inside the image / those also in the same region. The input
 * coordinates are computed in 128-bit arithmetic: valid strides, paddings and dilations reach 2^63-1
 * (test_extreme_params).
 *
 * This is the one written-out definition of the operator in the C tests; every oracle is built on it.
 */
static inline void t_for_each_tap(const rrconv_conv_desc *d, const tview *rin, const tview *rout,
                                  void (*visit)(void *ctx, const t_tap *tap), void *ctx, int64_t *inside,
                                  int64_t *used)
{
    t_tap t;
    for (t.n = 0; t.n < d->n; t.n++)
    for (t.g = 0; t.g < d->groups; t.g++)
    for (t.ocg = 0; t.ocg < d->ocpg; t.ocg++)
    for (t.icg = 0; t.icg < d->icpg; t.icg++)
    for (t.oh = 0; t.oh < d->oh; t.oh++)
    for (t.ow = 0; t.ow < d->ow; t.ow++)
    for (int64_t kh = 0; kh < d->fh; kh++)
    for (int64_t kw = 0; kw < d->fw; kw++) {
        const __int128 y = (__int128)t.oh * d->stride_h - d->pad_h + (__int128)kh * d->dil_h;
        const __int128 x = (__int128)t.ow * d->stride_w - d->pad_w + (__int128)kw * d->dil_w;
        if (y < 0 || y >= d->ih || x < 0 || x >= d->iw) continue;
        t.ih = (int64_t)y;
        t.iw = (int64_t)x;
        if (inside != NULL) (*inside)++;
        const int64_t ri[3] = {t.n, t.ih, t.iw}, ro[3] = {t.n, t.oh, t.ow};
        if (tv_getm(rin, ri) != tv_getm(rout, ro)) continue;
        if (used != NULL) (*used)++;
        t.khf = d->mode == RRCONV_CONVOLUTION ? d->fh - 1 - kh : kh;
        t.kwf = d->mode == RRCONV_CONVOLUTION ? d->fw - 1 - kw : kw;
        visit(ctx, &t);
    }
}

/* Dense offsets of a tap's elements: dst / diff [N, OC, OH, OW], src / grad_src [N, IC, IH, IW],
 * filter [G, OCPG, ICPG, FH, FW]. */
static inline size_t t_dst_off(const rrconv_conv_desc *d, const t_tap *t)
{
    return (size_t)(((t->n * d->groups * d->ocpg + t->g * d->ocpg + t->ocg) * d->oh + t->oh) * d->ow + t->ow);
}

static inline size_t t_src_off(const rrconv_conv_desc *d, const t_tap *t)
{
    return (size_t)(((t->n * d->groups * d->icpg + t->g * d->icpg + t->icg) * d->ih + t->ih) * d->iw + t->iw);
}

static inline size_t t_flt_off(const rrconv_conv_desc *d, const t_tap *t)
{
    return (size_t)((((t->g * d->ocpg + t->ocg) * d->icpg + t->icg) * d->fh + t->khf) * d->fw + t->kwf);
}

/* The tap's tensor indices, for tv_getf. */
static inline void t_tap_indices(const t_tap *t, const rrconv_conv_desc *d, int64_t src[4], int64_t flt[5],
                                 int64_t dst[4])
{
    src[0] = t->n; src[1] = t->g * d->icpg + t->icg; src[2] = t->ih; src[3] = t->iw;
    flt[0] = t->g; flt[1] = t->ocg; flt[2] = t->icg; flt[3] = t->khf; flt[4] = t->kwf;
    dst[0] = t->n; dst[1] = t->g * d->ocpg + t->ocg; dst[2] = t->oh; dst[3] = t->ow;
}

/* ---- the oracle: the operator by its definition, in double, for any direction ------------------ */

typedef struct t_oracle_ctx {
    const rrconv_conv_desc *d;
    int dir;                  /* 0 forward (dst), 1 backward_data (grad_src), 2 backward_filter */
    const tview *a, *b;       /* forward: src, filter; backward_data: filter, diff; backward_filter: src, diff */
    double *want, *abs_sum;   /* dense output */
} t_oracle_ctx;

static inline void t_oracle_tap(void *vctx, const t_tap *t)
{
    const t_oracle_ctx *x = (const t_oracle_ctx *)vctx;
    int64_t si[4], fi[5], di[4];
    t_tap_indices(t, x->d, si, fi, di);
    switch (x->dir) {
    case 0:
        t_add_term(x->want, x->abs_sum, t_dst_off(x->d, t), (double)tv_getf(x->a, si) * tv_getf(x->b, fi));
        break;
    case 1:
        t_add_term(x->want, x->abs_sum, t_src_off(x->d, t), (double)tv_getf(x->a, fi) * tv_getf(x->b, di));
        break;
    default:
        t_add_term(x->want, x->abs_sum, t_flt_off(x->d, t), (double)tv_getf(x->a, si) * tv_getf(x->b, di));
        break;
    }
}

/* want / abs_sum (dense, zeroed here, `count` elements): the output of direction dir and the sum of
 * |terms| per element. a, b: the direction's two float inputs (see t_oracle_ctx). */
static inline void t_oracle(const rrconv_conv_desc *d, int dir, const tview *a, const tview *b, const tview *rin,
                            const tview *rout, double *want, double *abs_sum, size_t count)
{
    memset(want, 0, count * sizeof(double));
    memset(abs_sum, 0, count * sizeof(double));
    t_oracle_ctx x = {d, dir, a, b, want, abs_sum};
    t_for_each_tap(d, rin, rout, t_oracle_tap, &x, NULL, NULL);
}

#endif /* RRCONV_TENSOR_UTIL_H */
