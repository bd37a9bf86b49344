/*
 * api.c -- the public entry points: argument validation, error messages, small queries.
 *
 * Every check is one line of the flat lists below, in a fixed order: the descriptor (struct
 * order), the derived sizes, the data types (dtype, out_dtype), then every tensor (pointer,
 * alignment, strides, sizes, and for the output: distinct elements), then output-vs-input overlap. The first failing check returns
 * RRCONV_INVALID_ARGUMENT with a message "<function>: <argument> is <actual> but <expected>";
 * nothing is written. A successful call clears the message.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"
#include "kernels/kernels.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define RR_STR2(x) #x
#define RR_STR(x) RR_STR2(x)

const char *rrconv_version(void)
{
    return RR_STR(RRCONV_VERSION_MAJOR) "." RR_STR(RRCONV_VERSION_MINOR) "." RR_STR(RRCONV_VERSION_PATCH);
}

const char *rrconv_active_isa(void)
{
    return rr_isa_name(rr_active_isa());
}

/* ---- the kernel table ------------------------------------------------------------------------ */

int32_t rrconv_kernel_count(void)
{
    int count;
    rr_kernel_rows(&count);
    return (int32_t)count;
}

rrconv_status rrconv_kernel_get(int32_t index, rrconv_kernel_info *info)
{
    int count;
    const rr_kernel_row *rows = rr_kernel_rows(&count);
    if (info == NULL) return rr_fail(RRCONV_INVALID_ARGUMENT, "rrconv_kernel_get: info is NULL but must point to "
                                     "an rrconv_kernel_info");
    if (index < 0 || index >= count) {
        return rr_fail(RRCONV_INVALID_ARGUMENT, "rrconv_kernel_get: index is %d but must be in [0, %d)", (int)index,
                       count);
    }
    const rr_kernel_row *r = &rows[index];
    info->name = r->name;
    info->direction = rr_direction_name(r->dir);
    info->isa = rr_isa_name(r->isa);
    info->dtype = rr_dtype_name(r->dtype);
    info->layout = rr_layout_name(r->layout);
    info->applies = r->applies_text;
    info->available = rr_kernel_available(r);
    info->reserved = 0;
    return RRCONV_OK;
}

/* ---- validation ------------------------------------------------------------------------------ */

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) return rr_fail(RRCONV_INVALID_ARGUMENT, __VA_ARGS__);                         \
    } while (0)

static int mul_ovf(int64_t a, int64_t b, int64_t *r) { return __builtin_mul_overflow(a, b, r); }
static int add_ovf(int64_t a, int64_t b, int64_t *r) { return __builtin_add_overflow(a, b, r); }

/* Checks the descriptor (struct order, then derived sizes) and fills c. */
static rrconv_status check_desc(const char *op, const rrconv_conv_desc *d, rr_conv *c)
{
    CHECK(d != NULL, "%s: desc is NULL", op);
    CHECK(d->n >= 1, "%s: desc->n is %" PRId64 " but must be >= 1", op, d->n);
    CHECK(d->groups >= 1, "%s: desc->groups is %" PRId64 " but must be >= 1", op, d->groups);
    CHECK(d->icpg >= 1, "%s: desc->icpg is %" PRId64 " but must be >= 1", op, d->icpg);
    CHECK(d->ocpg >= 1, "%s: desc->ocpg is %" PRId64 " but must be >= 1", op, d->ocpg);
    CHECK(d->ih >= 1, "%s: desc->ih is %" PRId64 " but must be >= 1", op, d->ih);
    CHECK(d->iw >= 1, "%s: desc->iw is %" PRId64 " but must be >= 1", op, d->iw);
    CHECK(d->oh >= 1, "%s: desc->oh is %" PRId64 " but must be >= 1", op, d->oh);
    CHECK(d->ow >= 1, "%s: desc->ow is %" PRId64 " but must be >= 1", op, d->ow);
    CHECK(d->fh >= 1, "%s: desc->fh is %" PRId64 " but must be >= 1", op, d->fh);
    CHECK(d->fw >= 1, "%s: desc->fw is %" PRId64 " but must be >= 1", op, d->fw);
    CHECK(d->stride_h >= 1, "%s: desc->stride_h is %" PRId64 " but must be >= 1", op, d->stride_h);
    CHECK(d->stride_w >= 1, "%s: desc->stride_w is %" PRId64 " but must be >= 1", op, d->stride_w);
    CHECK(d->pad_h >= 0, "%s: desc->pad_h is %" PRId64 " but must be >= 0", op, d->pad_h);
    CHECK(d->pad_w >= 0, "%s: desc->pad_w is %" PRId64 " but must be >= 0", op, d->pad_w);
    CHECK(d->dil_h >= 1, "%s: desc->dil_h is %" PRId64 " but must be >= 1", op, d->dil_h);
    CHECK(d->dil_w >= 1, "%s: desc->dil_w is %" PRId64 " but must be >= 1", op, d->dil_w);
    CHECK(d->mode == RRCONV_CROSS_CORRELATION || d->mode == RRCONV_CONVOLUTION,
          "%s: desc->mode is %" PRId32 " but must be RRCONV_CROSS_CORRELATION (0) or RRCONV_CONVOLUTION (1)",
          op, d->mode);
    CHECK(d->mask_type == RRCONV_MASK_INT32 || d->mask_type == RRCONV_MASK_UINT8,
          "%s: desc->mask_type is %" PRId32 " but must be RRCONV_MASK_INT32 (0) or RRCONV_MASK_UINT8 (1)",
          op, d->mask_type);
    CHECK(d->algorithm == RRCONV_ALGO_AUTO || d->algorithm == RRCONV_ALGO_REFERENCE,
          "%s: desc->algorithm is %" PRId32 " but must be RRCONV_ALGO_AUTO (0) or RRCONV_ALGO_REFERENCE (1)",
          op, d->algorithm);
    CHECK(d->reserved == 0, "%s: desc->reserved is %" PRId32 " but must be 0", op, d->reserved);

    int64_t ic, oc, two_ph, two_pw, span_h, span_w, ext_h, ext_w;
    CHECK(!mul_ovf(d->groups, d->icpg, &ic),
          "%s: desc->groups * desc->icpg = %" PRId64 " * %" PRId64 " overflows int64", op, d->groups, d->icpg);
    CHECK(!mul_ovf(d->groups, d->ocpg, &oc),
          "%s: desc->groups * desc->ocpg = %" PRId64 " * %" PRId64 " overflows int64", op, d->groups, d->ocpg);
    CHECK(!mul_ovf(d->pad_h, 2, &two_ph) && !add_ovf(d->ih, two_ph, &span_h),
          "%s: desc->ih + 2*desc->pad_h = %" PRId64 " + 2*%" PRId64 " overflows int64", op, d->ih, d->pad_h);
    CHECK(!mul_ovf(d->pad_w, 2, &two_pw) && !add_ovf(d->iw, two_pw, &span_w),
          "%s: desc->iw + 2*desc->pad_w = %" PRId64 " + 2*%" PRId64 " overflows int64", op, d->iw, d->pad_w);
    CHECK(!mul_ovf(d->dil_h, d->fh - 1, &ext_h) && !add_ovf(ext_h, 1, &ext_h),
          "%s: desc->dil_h*(desc->fh-1)+1 = %" PRId64 "*(%" PRId64 "-1)+1 overflows int64", op, d->dil_h, d->fh);
    CHECK(!mul_ovf(d->dil_w, d->fw - 1, &ext_w) && !add_ovf(ext_w, 1, &ext_w),
          "%s: desc->dil_w*(desc->fw-1)+1 = %" PRId64 "*(%" PRId64 "-1)+1 overflows int64", op, d->dil_w, d->fw);
    CHECK(ext_h <= span_h,
          "%s: the dilated filter height dil_h*(fh-1)+1 = %" PRId64 " exceeds ih + 2*pad_h = %" PRId64
          " (the output would be empty)", op, ext_h, span_h);
    CHECK(ext_w <= span_w,
          "%s: the dilated filter width dil_w*(fw-1)+1 = %" PRId64 " exceeds iw + 2*pad_w = %" PRId64
          " (the output would be empty)", op, ext_w, span_w);
    int64_t oh = (span_h - ext_h) / d->stride_h + 1;
    int64_t ow = (span_w - ext_w) / d->stride_w + 1;
    CHECK(d->oh == oh,
          "%s: desc->oh is %" PRId64 " but (ih + 2*pad_h - dil_h*(fh-1) - 1)/stride_h + 1 = %" PRId64,
          op, d->oh, oh);
    CHECK(d->ow == ow,
          "%s: desc->ow is %" PRId64 " but (iw + 2*pad_w - dil_w*(fw-1) - 1)/stride_w + 1 = %" PRId64,
          op, d->ow, ow);

    c->n = d->n; c->groups = d->groups; c->icpg = d->icpg; c->ocpg = d->ocpg;
    c->ic = ic; c->oc = oc;
    c->ih = d->ih; c->iw = d->iw; c->oh = d->oh; c->ow = d->ow; c->fh = d->fh; c->fw = d->fw;
    c->sh = d->stride_h; c->sw = d->stride_w; c->ph = d->pad_h; c->pw = d->pad_w;
    c->dh = d->dil_h; c->dw = d->dil_w;
    c->mode = (rrconv_mode)d->mode;
    c->mask_type = (rrconv_mask_type)d->mask_type;
    c->algorithm = (rrconv_algorithm)d->algorithm;
    c->dtype = RR_DT_F32;
    c->out_dtype = RR_DT_F32;
    c->layout = RR_LAYOUT_NCHW;
    return RRCONV_OK;
}

/* One tensor argument as the caller passed it, plus what validation derives. */
typedef struct tensor_arg {
    const char *name;          /* "src" */
    const char *strides_name;  /* "src_strides" */
    const void *data;
    const int64_t *strides;    /* as passed, NULL = dense */
    rr_tensor kind;
    int is_output;
    int64_t esize;             /* bytes per element */
    /* derived */
    int ndim;
    int64_t shape[5];
    int64_t st[5];             /* strides, filled in */
    uintptr_t lo, hi;          /* lowest and highest byte address touched */
} tensor_arg;

/* Pointer, alignment, strides, sizes of one tensor; fills t->ndim, shape, st, lo, hi. */
static rrconv_status check_tensor(const char *op, const rr_conv *c, tensor_arg *t)
{
    t->ndim = rr_tensor_shape(c, t->kind, t->shape);
    const int nd = t->ndim;

    CHECK(t->data != NULL, "%s: %s is NULL", op, t->name);
    CHECK((uintptr_t)t->data % (uintptr_t)t->esize == 0,
          "%s: %s is %p but must be aligned to %" PRId64 " bytes", op, t->name, t->data, t->esize);

    int64_t count = 1;
    for (int i = 0; i < nd; i++) {
        CHECK(!mul_ovf(count, t->shape[i], &count),
              "%s: %s has more elements than int64 can count", op, t->name);
    }
    CHECK((uint64_t)count <= SIZE_MAX, "%s: %s has more elements than size_t can count", op, t->name);

    if (t->strides == NULL) {
        rr_dense_strides(t->shape, nd, t->st);
    } else {
        for (int i = 0; i < nd; i++) {
            CHECK(t->strides[i] >= 0, "%s: %s[%d] is %" PRId64 " but must be >= 0",
                  op, t->strides_name, i, t->strides[i]);
            t->st[i] = t->strides[i];
        }
    }
    for (int i = nd; i < 5; i++) t->st[i] = 0;

    /* highest element offset and byte address; an overflowing sum blames its largest term's stride
       (not the dimension where the sum happened to overflow) */
    int64_t max_off = 0, max_term = -1;
    int big = 0;
    for (int i = 0; i < nd; i++) {
        int64_t term;
        CHECK(!mul_ovf(t->shape[i] - 1, t->st[i], &term),
              "%s: %s: the highest element offset overflows int64 (%s[%d] = %" PRId64 " times extent-1 = %"
              PRId64 ")", op, t->name, t->strides_name, i, t->st[i], t->shape[i] - 1);
        if (term > max_term) {
            max_term = term;
            big = i;
        }
        CHECK(!add_ovf(max_off, term, &max_off),
              "%s: %s: the highest element offset overflows int64 (%s[%d] = %" PRId64 " times extent-1 = %"
              PRId64 ")", op, t->name, t->strides_name, big, t->st[big], t->shape[big] - 1);
    }
    int64_t max_byte;
    CHECK(!mul_ovf(max_off, t->esize, &max_byte) && !add_ovf(max_byte, t->esize - 1, &max_byte),
          "%s: %s: the highest byte offset %" PRId64 "*%" PRId64 " overflows int64",
          op, t->name, max_off, t->esize);
    CHECK((uint64_t)max_byte <= SIZE_MAX && (uintptr_t)max_byte <= UINTPTR_MAX - (uintptr_t)t->data,
          "%s: %s: the highest byte offset %" PRId64 " runs past the end of the address space",
          op, t->name, max_byte);
    t->lo = (uintptr_t)t->data;
    t->hi = (uintptr_t)t->data + (uintptr_t)max_byte;

    if (t->is_output) {
        /* distinct index tuples must be distinct elements */
        int order[5], m = 0;
        for (int i = 0; i < nd; i++) {
            if (t->shape[i] == 1) continue;
            CHECK(t->st[i] != 0,
                  "%s: %s[%d] is 0 but dimension %d has extent %" PRId64 " (output elements must be distinct)",
                  op, t->strides_name, i, i, t->shape[i]);
            /* insertion sort by stride, ties keep dimension order */
            int k = m++;
            while (k > 0 && t->st[order[k - 1]] > t->st[i]) {
                order[k] = order[k - 1];
                k--;
            }
            order[k] = i;
        }
        for (int k = 1; k < m; k++) {
            const int a = order[k - 1], b = order[k];
            int64_t span;
            CHECK(!mul_ovf(t->st[a], t->shape[a], &span) && t->st[b] >= span,
                  "%s: %s describe overlapping elements: %s[%d] is %" PRId64 " but must be >= %s[%d]*extent = %"
                  PRId64 "*%" PRId64 " (output elements must be distinct)",
                  op, t->strides_name, t->strides_name, b, t->st[b], t->strides_name, a, t->st[a], t->shape[a]);
        }
    }
    return RRCONV_OK;
}

/* The call's layout (rr_conv.layout): NHWC when every activation tensor is dense channels-last and not
 * all of them are also dense NCHW (C = 1, or H = W = 1, makes the two coincide: then NCHW). */
static rr_layout call_layout(const rr_conv *c, const tensor_arg *args, int nargs)
{
    int nhwc = 1, nchw = 1;
    for (int i = 0; i < nargs; i++) {
        if (args[i].kind != RR_T_SRC && args[i].kind != RR_T_DIFF) continue;
        nhwc = nhwc && rr_is_dense_in(c, args[i].kind, args[i].st, RR_LAYOUT_NHWC);
        nchw = nchw && rr_is_dense_in(c, args[i].kind, args[i].st, RR_LAYOUT_NCHW);
    }
    return nhwc && !nchw ? RR_LAYOUT_NHWC : RR_LAYOUT_NCHW;
}

static const char *dtype_enum_name(int32_t t)
{
    switch (t) {
    case RRCONV_FLOAT32: return "RRCONV_FLOAT32";
    case RRCONV_FLOAT16: return "RRCONV_FLOAT16";
    case RRCONV_BFLOAT16: return "RRCONV_BFLOAT16";
    }
    return "no rrconv_dtype";
}

/* The data types (after the descriptor): the inputs' one of the three, the output's that or float32. */
static rrconv_status check_dtypes(const char *op, int32_t dtype, int32_t out_dtype, rr_conv *c)
{
    CHECK(dtype == RRCONV_FLOAT32 || dtype == RRCONV_FLOAT16 || dtype == RRCONV_BFLOAT16,
          "%s: dtype is %" PRId32 " but must be RRCONV_FLOAT32 (0), RRCONV_FLOAT16 (1) or RRCONV_BFLOAT16 (2)",
          op, dtype);
    CHECK(out_dtype == dtype || out_dtype == RRCONV_FLOAT32,
          "%s: out_dtype is %" PRId32 " (%s) but must be dtype (%" PRId32 ", %s) or RRCONV_FLOAT32 (0)",
          op, out_dtype, dtype_enum_name(out_dtype), dtype, dtype_enum_name(dtype));
    c->dtype = dtype == RRCONV_FLOAT16 ? RR_DT_F16 : dtype == RRCONV_BFLOAT16 ? RR_DT_BF16 : RR_DT_F32;
    c->out_dtype = out_dtype == RRCONV_FLOAT32 ? RR_DT_F32 : c->dtype;
    return RRCONV_OK;
}

static int64_t dtype_size(rr_dtype t)
{
    return t == RR_DT_F32 ? 4 : 2;
}

static rrconv_status validate(const char *op, rr_direction dir, const rrconv_conv_desc *desc, int32_t dtype,
                              int32_t out_dtype, tensor_arg *args, int nargs, rr_problem *p)
{
    rrconv_status st = check_desc(op, desc, &p->c);
    if (st != RRCONV_OK) return st;
    st = check_dtypes(op, dtype, out_dtype, &p->c);
    if (st != RRCONV_OK) return st;
    const int64_t mask_esize = p->c.mask_type == RRCONV_MASK_INT32 ? 4 : 1;
    for (int i = 0; i < nargs; i++) {
        if (args[i].is_output) args[i].esize = dtype_size(p->c.out_dtype);
        else if (args[i].kind == RR_T_RIN || args[i].kind == RR_T_ROUT) args[i].esize = mask_esize;
        else args[i].esize = dtype_size(p->c.dtype);
        st = check_tensor(op, &p->c, &args[i]);
        if (st != RRCONV_OK) return st;
    }
    const tensor_arg *out = &args[nargs - 1];
    for (int i = 0; i < nargs - 1; i++) {
        const tensor_arg *in = &args[i];
        CHECK(out->hi < in->lo || in->hi < out->lo,
              "%s: %s (bytes 0x%" PRIxPTR "..0x%" PRIxPTR ") overlaps the input %s (bytes 0x%" PRIxPTR
              "..0x%" PRIxPTR "); outputs must not overlap inputs",
              op, out->name, out->lo, out->hi, in->name, in->lo, in->hi);
    }

    memset(&p->src, 0, sizeof p->src);
    p->filter = p->diff = p->rin = p->rout = p->src;
    p->dir = dir;
    p->op = op;
    for (int i = 0; i < nargs - 1; i++) {
        rr_view *v = NULL;
        switch (args[i].kind) {
        case RR_T_SRC: v = &p->src; break;
        case RR_T_FILTER: v = &p->filter; break;
        case RR_T_DIFF: v = &p->diff; break;
        case RR_T_RIN: v = &p->rin; break;
        case RR_T_ROUT: v = &p->rout; break;
        }
        v->data = args[i].data;
        memcpy(v->strides, args[i].st, sizeof v->strides);
    }
    p->out.data = (float *)(uintptr_t)out->data;
    memcpy(p->out.strides, out->st, sizeof p->out.strides);
    p->c.layout = call_layout(&p->c, args, nargs);
    return RRCONV_OK;
}

static rrconv_status run(const char *op, rr_direction dir, const rrconv_conv_desc *desc, int32_t dtype,
                         int32_t out_dtype, tensor_arg *args, int nargs)
{
    rr_problem p;
    rrconv_status st = validate(op, dir, desc, dtype, out_dtype, args, nargs, &p);
    if (st != RRCONV_OK) return st;
    st = rr_dispatch(&p);
    if (st == RRCONV_OK) rr_clear_error();
    return st;
}

/* Element sizes are set by validate from the data types and the mask type. */
#define IN(nm, ptr, str, kd) { nm, nm "_strides", (ptr), (str), (kd), 0, 0, 0, {0}, {0}, 0, 0 }
#define OUT(nm, ptr, str, kd) { nm, nm "_strides", (ptr), (str), (kd), 1, 0, 0, {0}, {0}, 0, 0 }

static rrconv_status forward(const char *op, const rrconv_conv_desc *desc, int32_t dtype, int32_t out_dtype,
                             const void *src, const int64_t *src_strides, const void *filter,
                             const int64_t *filter_strides, const void *rin, const int64_t *rin_strides,
                             const void *rout, const int64_t *rout_strides, void *dst, const int64_t *dst_strides)
{
    tensor_arg args[] = {
        IN("src", src, src_strides, RR_T_SRC),
        IN("filter", filter, filter_strides, RR_T_FILTER),
        IN("rin", rin, rin_strides, RR_T_RIN),
        IN("rout", rout, rout_strides, RR_T_ROUT),
        OUT("dst", dst, dst_strides, RR_T_DIFF),
    };
    return run(op, RR_FORWARD, desc, dtype, out_dtype, args, 5);
}

static rrconv_status backward_data(const char *op, const rrconv_conv_desc *desc, int32_t dtype, int32_t out_dtype,
                                   const void *filter, const int64_t *filter_strides, const void *diff,
                                   const int64_t *diff_strides, const void *rin, const int64_t *rin_strides,
                                   const void *rout, const int64_t *rout_strides, void *grad_src,
                                   const int64_t *grad_src_strides)
{
    tensor_arg args[] = {
        IN("filter", filter, filter_strides, RR_T_FILTER),
        IN("diff", diff, diff_strides, RR_T_DIFF),
        IN("rin", rin, rin_strides, RR_T_RIN),
        IN("rout", rout, rout_strides, RR_T_ROUT),
        OUT("grad_src", grad_src, grad_src_strides, RR_T_SRC),
    };
    return run(op, RR_BACKWARD_DATA, desc, dtype, out_dtype, args, 5);
}

static rrconv_status backward_filter(const char *op, const rrconv_conv_desc *desc, int32_t dtype,
                                     int32_t out_dtype, const void *src, const int64_t *src_strides,
                                     const void *diff, const int64_t *diff_strides, const void *rin,
                                     const int64_t *rin_strides, const void *rout, const int64_t *rout_strides,
                                     void *grad_filter, const int64_t *grad_filter_strides)
{
    tensor_arg args[] = {
        IN("src", src, src_strides, RR_T_SRC),
        IN("diff", diff, diff_strides, RR_T_DIFF),
        IN("rin", rin, rin_strides, RR_T_RIN),
        IN("rout", rout, rout_strides, RR_T_ROUT),
        OUT("grad_filter", grad_filter, grad_filter_strides, RR_T_FILTER),
    };
    return run(op, RR_BACKWARD_FILTER, desc, dtype, out_dtype, args, 5);
}

rrconv_status rrconv_forward(const rrconv_conv_desc *desc, int32_t dtype, int32_t out_dtype,
                             const void *src, const int64_t *src_strides,
                             const void *filter, const int64_t *filter_strides,
                             const void *rin, const int64_t *rin_strides,
                             const void *rout, const int64_t *rout_strides,
                             void *dst, const int64_t *dst_strides)
{
    return forward("rrconv_forward", desc, dtype, out_dtype, src, src_strides, filter, filter_strides, rin,
                   rin_strides, rout, rout_strides, dst, dst_strides);
}

rrconv_status rrconv_backward_data(const rrconv_conv_desc *desc, int32_t dtype, int32_t out_dtype,
                                   const void *filter, const int64_t *filter_strides,
                                   const void *diff, const int64_t *diff_strides,
                                   const void *rin, const int64_t *rin_strides,
                                   const void *rout, const int64_t *rout_strides,
                                   void *grad_src, const int64_t *grad_src_strides)
{
    return backward_data("rrconv_backward_data", desc, dtype, out_dtype, filter, filter_strides, diff,
                         diff_strides, rin, rin_strides, rout, rout_strides, grad_src, grad_src_strides);
}

rrconv_status rrconv_backward_filter(const rrconv_conv_desc *desc, int32_t dtype, int32_t out_dtype,
                                     const void *src, const int64_t *src_strides,
                                     const void *diff, const int64_t *diff_strides,
                                     const void *rin, const int64_t *rin_strides,
                                     const void *rout, const int64_t *rout_strides,
                                     void *grad_filter, const int64_t *grad_filter_strides)
{
    return backward_filter("rrconv_backward_filter", desc, dtype, out_dtype, src, src_strides, diff, diff_strides,
                           rin, rin_strides, rout, rout_strides, grad_filter, grad_filter_strides);
}

/* The float32 entry points: the typed calls with RRCONV_FLOAT32 twice (their own names in messages). */

rrconv_status rrconv_forward_f32(const rrconv_conv_desc *desc,
                                 const float *src, const int64_t *src_strides,
                                 const float *filter, const int64_t *filter_strides,
                                 const void *rin, const int64_t *rin_strides,
                                 const void *rout, const int64_t *rout_strides,
                                 float *dst, const int64_t *dst_strides)
{
    return forward("rrconv_forward_f32", desc, RRCONV_FLOAT32, RRCONV_FLOAT32, src, src_strides, filter,
                   filter_strides, rin, rin_strides, rout, rout_strides, dst, dst_strides);
}

rrconv_status rrconv_backward_data_f32(const rrconv_conv_desc *desc,
                                       const float *filter, const int64_t *filter_strides,
                                       const float *diff, const int64_t *diff_strides,
                                       const void *rin, const int64_t *rin_strides,
                                       const void *rout, const int64_t *rout_strides,
                                       float *grad_src, const int64_t *grad_src_strides)
{
    return backward_data("rrconv_backward_data_f32", desc, RRCONV_FLOAT32, RRCONV_FLOAT32, filter, filter_strides,
                         diff, diff_strides, rin, rin_strides, rout, rout_strides, grad_src, grad_src_strides);
}

rrconv_status rrconv_backward_filter_f32(const rrconv_conv_desc *desc,
                                         const float *src, const int64_t *src_strides,
                                         const float *diff, const int64_t *diff_strides,
                                         const void *rin, const int64_t *rin_strides,
                                         const void *rout, const int64_t *rout_strides,
                                         float *grad_filter, const int64_t *grad_filter_strides)
{
    return backward_filter("rrconv_backward_filter_f32", desc, RRCONV_FLOAT32, RRCONV_FLOAT32, src, src_strides,
                           diff, diff_strides, rin, rin_strides, rout, rout_strides, grad_filter,
                           grad_filter_strides);
}
