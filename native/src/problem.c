/*
 * problem.c -- shapes and dense strides of a problem's tensors, rr_note (no state, no calls into other files).
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

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

/* ---- dense strides --------------------------------------------------------------------------- */

void rr_dense_strides(const int64_t *shape, int ndim, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i];
    }
}

int rr_is_dense(const int64_t *shape, const int64_t *strides, int ndim)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        if (shape[i] != 1 && strides[i] != s) return 0;
        s *= shape[i];
    }
    return 1;
}

int rr_same_strides(const int64_t *shape, const int64_t *a, const int64_t *b, int ndim)
{
    for (int i = 0; i < ndim; i++) {
        if (shape[i] != 1 && a[i] != b[i]) return 0;
    }
    return 1;
}

int rr_layout_strides(const rr_conv *c, rr_tensor t, rr_layout l, int64_t strides[5])
{
    int64_t shape[5];
    const int nd = rr_tensor_shape(c, t, shape);
    for (int i = nd; i < 5; i++) strides[i] = 0;
    if (l == RR_LAYOUT_NHWC && (t == RR_T_SRC || t == RR_T_DIFF)) {
        /* [N, C, H, W] with C innermost */
        strides[1] = 1;
        strides[3] = shape[1];
        strides[2] = shape[1] * shape[3];
        strides[0] = shape[1] * shape[3] * shape[2];
    } else {
        rr_dense_strides(shape, nd, strides);
    }
    return nd;
}

int rr_is_dense_in(const rr_conv *c, rr_tensor t, const int64_t strides[5], rr_layout l)
{
    int64_t shape[5], want[5];
    const int nd = rr_layout_strides(c, t, l, want);
    rr_tensor_shape(c, t, shape);
    return rr_same_strides(shape, strides, want, nd);
}

const char *rr_dtype_name(rr_dtype t)
{
    switch (t) {
    case RR_DT_F32: return "f32";
    case RR_DT_F16: return "f16";
    case RR_DT_BF16: return "bf16";
    }
    return "unknown";
}

const char *rr_layout_name(rr_layout l)
{
    switch (l) {
    case RR_LAYOUT_NCHW: return "nchw";
    case RR_LAYOUT_NHWC: return "nhwc";
    }
    return "unknown";
}

const char *rr_direction_name(rr_direction dir)
{
    switch (dir) {
    case RR_FORWARD: return "forward";
    case RR_BACKWARD_DATA: return "backward_data";
    case RR_BACKWARD_FILTER: return "backward_filter";
    }
    return "unknown";
}

void rr_note(const rr_problem *p, const char *fmt, ...)
{
    if (p->note == NULL) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->note, RR_NOTE_SIZE, fmt, ap);
    va_end(ap);
}

rr_conv rr_adjoint_conv(const rr_conv *c)
{
    rr_conv a = *c;
    a.ih = c->oh;
    a.iw = c->ow;
    a.oh = c->ih;
    a.ow = c->iw;
    a.ph = (c->fh - 1) * c->dh - c->ph;
    a.pw = (c->fw - 1) * c->dw - c->pw;
    a.icpg = c->ocpg;
    a.ocpg = c->icpg;
    a.ic = c->oc;
    a.oc = c->ic;
    return a;
}

rr_problem rr_adjoint_problem(const rr_problem *p)
{
    rr_problem f = *p;
    f.dir = RR_FORWARD;
    f.c = rr_adjoint_conv(&p->c);
    f.src.data = p->diff.data;
    f.diff.data = NULL;
    f.rin.data = p->rout.data;
    f.rout.data = p->rin.data;
    return f;
}
