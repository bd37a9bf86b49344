/*
 * api.c -- the public entry points: argument validation, error messages, small queries.
 *
 * Every check is one line of the flat lists below, in a fixed order: the descriptor (struct
 * order), the derived sizes, then every tensor (pointer, alignment, strides, sizes, and for the
 * output: distinct elements), then output-vs-input overlap. The first failing check returns
 * RRCONV_INVALID_ARGUMENT with a message "<function>: <argument> is <actual> but <expected>";
 * nothing is written. A successful call clears the message.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- messages -------------------------------------------------------------------------------- */

#define RR_MSG_SIZE 512

static _Thread_local char rr_msg[RR_MSG_SIZE];

rrconv_status rr_fail(rrconv_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(rr_msg, sizeof rr_msg, fmt, ap);
    va_end(ap);
    if (len <= 0) {
        snprintf(rr_msg, sizeof rr_msg, "%s (no message)", rrconv_status_name(status));
    }
    return status;
}

void rr_clear_error(void)
{
    rr_msg[0] = '\0';
}

const char *rrconv_last_error(void)
{
    return rr_msg;
}

const char *rrconv_status_name(rrconv_status status)
{
    switch (status) {
    case RRCONV_OK: return "RRCONV_OK";
    case RRCONV_INVALID_ARGUMENT: return "RRCONV_INVALID_ARGUMENT";
    case RRCONV_UNSUPPORTED: return "RRCONV_UNSUPPORTED";
    case RRCONV_OUT_OF_MEMORY: return "RRCONV_OUT_OF_MEMORY";
    case RRCONV_INTERNAL_ERROR: return "RRCONV_INTERNAL_ERROR";
    }
    return "RRCONV_UNKNOWN_STATUS";
}

#define RR_STR2(x) #x
#define RR_STR(x) RR_STR2(x)

const char *rrconv_version(void)
{
    return RR_STR(RRCONV_VERSION_MAJOR) "." RR_STR(RRCONV_VERSION_MINOR) "." RR_STR(RRCONV_VERSION_PATCH);
}

const char *rrconv_active_isa(void)
{
    switch (rr_active_isa()) {
    case RR_ISA_AVX512: return "avx512";
    case RR_ISA_AVX2: return "avx2";
    case RR_ISA_PORTABLE: return "portable";
    case RR_ISA_SCALAR: break;
    }
    return "scalar";
}

/* ---- shapes ---------------------------------------------------------------------------------- */

int rr_tensor_shape(const rr_conv *c, rr_tensor t, int64_t shape[5])
{
    for (int i = 0; i < 5; i++) shape[i] = 1;
    switch (t) {
    case RR_T_SRC:
        shape[0] = c->n; shape[1] = c->ic; shape[2] = c->ih; shape[3] = c->iw;
        return 4;
    case RR_T_FILTER:
        shape[0] = c->groups; shape[1] = c->ocpg; shape[2] = c->icpg; shape[3] = c->fh; shape[4] = c->fw;
        return 5;
    case RR_T_DIFF:
        shape[0] = c->n; shape[1] = c->oc; shape[2] = c->oh; shape[3] = c->ow;
        return 4;
    case RR_T_RIN:
        shape[0] = c->n; shape[1] = c->ih; shape[2] = c->iw;
        return 3;
    case RR_T_ROUT:
        shape[0] = c->n; shape[1] = c->oh; shape[2] = c->ow;
        return 3;
    }
    return 0;
}

rr_tensor rr_out_tensor(rr_direction dir)
{
    switch (dir) {
    case RR_FORWARD: return RR_T_DIFF;
    case RR_BACKWARD_DATA: return RR_T_SRC;
    case RR_BACKWARD_FILTER: return RR_T_FILTER;
    }
    return RR_T_DIFF;
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

    /* highest element offset and byte address */
    int64_t max_off = 0;
    for (int i = 0; i < nd; i++) {
        int64_t term;
        CHECK(!mul_ovf(t->shape[i] - 1, t->st[i], &term) && !add_ovf(max_off, term, &max_off),
              "%s: %s: the highest element offset overflows int64 (%s[%d] = %" PRId64 ")",
              op, t->name, t->strides_name, i, t->st[i]);
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

static rrconv_status validate(const char *op, rr_direction dir, const rrconv_conv_desc *desc,
                              tensor_arg *args, int nargs, rr_problem *p)
{
    rrconv_status st = check_desc(op, desc, &p->c);
    if (st != RRCONV_OK) return st;
    const int64_t mask_esize = p->c.mask_type == RRCONV_MASK_INT32 ? 4 : 1;
    for (int i = 0; i < nargs; i++) {
        if (args[i].kind == RR_T_RIN || args[i].kind == RR_T_ROUT) args[i].esize = mask_esize;
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
    return RRCONV_OK;
}

static rrconv_status run(const char *op, rr_direction dir, const rrconv_conv_desc *desc,
                         tensor_arg *args, int nargs)
{
    rr_problem p;
    rrconv_status st = validate(op, dir, desc, args, nargs, &p);
    if (st != RRCONV_OK) return st;
    st = rr_dispatch(&p);
    if (st == RRCONV_OK) rr_clear_error();
    return st;
}

#define IN(nm, ptr, str, kd, es) { nm, nm "_strides", (ptr), (str), (kd), 0, (es), 0, {0}, {0}, 0, 0 }
#define OUT(nm, ptr, str, kd) { nm, nm "_strides", (ptr), (str), (kd), 1, 4, 0, {0}, {0}, 0, 0 }

rrconv_status rrconv_forward_f32(const rrconv_conv_desc *desc,
                                 const float *src, const int64_t *src_strides,
                                 const float *filter, const int64_t *filter_strides,
                                 const void *rin, const int64_t *rin_strides,
                                 const void *rout, const int64_t *rout_strides,
                                 float *dst, const int64_t *dst_strides)
{
    tensor_arg args[] = {
        IN("src", src, src_strides, RR_T_SRC, 4),
        IN("filter", filter, filter_strides, RR_T_FILTER, 4),
        IN("rin", rin, rin_strides, RR_T_RIN, 4),
        IN("rout", rout, rout_strides, RR_T_ROUT, 4),
        OUT("dst", dst, dst_strides, RR_T_DIFF),
    };
    return run("rrconv_forward_f32", RR_FORWARD, desc, args, 5);
}

rrconv_status rrconv_backward_data_f32(const rrconv_conv_desc *desc,
                                       const float *filter, const int64_t *filter_strides,
                                       const float *diff, const int64_t *diff_strides,
                                       const void *rin, const int64_t *rin_strides,
                                       const void *rout, const int64_t *rout_strides,
                                       float *grad_src, const int64_t *grad_src_strides)
{
    tensor_arg args[] = {
        IN("filter", filter, filter_strides, RR_T_FILTER, 4),
        IN("diff", diff, diff_strides, RR_T_DIFF, 4),
        IN("rin", rin, rin_strides, RR_T_RIN, 4),
        IN("rout", rout, rout_strides, RR_T_ROUT, 4),
        OUT("grad_src", grad_src, grad_src_strides, RR_T_SRC),
    };
    return run("rrconv_backward_data_f32", RR_BACKWARD_DATA, desc, args, 5);
}

rrconv_status rrconv_backward_filter_f32(const rrconv_conv_desc *desc,
                                         const float *src, const int64_t *src_strides,
                                         const float *diff, const int64_t *diff_strides,
                                         const void *rin, const int64_t *rin_strides,
                                         const void *rout, const int64_t *rout_strides,
                                         float *grad_filter, const int64_t *grad_filter_strides)
{
    tensor_arg args[] = {
        IN("src", src, src_strides, RR_T_SRC, 4),
        IN("diff", diff, diff_strides, RR_T_DIFF, 4),
        IN("rin", rin, rin_strides, RR_T_RIN, 4),
        IN("rout", rout, rout_strides, RR_T_ROUT, 4),
        OUT("grad_filter", grad_filter, grad_filter_strides, RR_T_FILTER),
    };
    return run("rrconv_backward_filter_f32", RR_BACKWARD_FILTER, desc, args, 5);
}
