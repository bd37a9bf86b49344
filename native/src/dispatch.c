/*
 * dispatch.c -- runs a validated problem: picks an implementation, normalizes for fast kernels.
 *
 * Fast kernels want one canonical form: dense C-order tensors, cross-correlation, int32 masks.
 * rr_normalize produces that form from any validated problem (packing strided tensors into dense
 * scratch, flipping the filter of a convolution, widening uint8 masks); rr_finish copies a scratch
 * output back (un-flipping grad_filter). The reference loops take every form directly.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"
#include "kernels/kernels.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- strided copies -------------------------------------------------------------------------- */

/* Below this many elements a copy runs on the calling thread only. */
#define RR_COPY_PARALLEL_MIN ((int64_t)1 << 16)

typedef struct copy_ctx {
    int ndim;
    int64_t shape[5];
    int64_t dst_st[5], src_st[5];
    float *dst;
    const float *src;
    int32_t *mdst;            /* widen_mask: destination */
    const void *msrc;         /* widen_mask: source */
    rrconv_mask_type mtype;
} copy_ctx;

/* Element offsets of the first element of row `row` (index over all dimensions but the last). */
static void row_offsets(const copy_ctx *x, int64_t row, int64_t *doff, int64_t *soff)
{
    int64_t d = 0, s = 0;
    for (int i = x->ndim - 2; i >= 0; i--) {
        const int64_t idx = row % x->shape[i];
        row /= x->shape[i];
        d += idx * x->dst_st[i];
        s += idx * x->src_st[i];
    }
    *doff = d;
    *soff = s;
}

static void copy_rows(void *vctx, int64_t begin, int64_t end)
{
    const copy_ctx *x = (const copy_ctx *)vctx;
    const int last = x->ndim - 1;
    const int64_t len = x->shape[last], ds = x->dst_st[last], ss = x->src_st[last];
    for (int64_t row = begin; row < end; row++) {
        int64_t doff, soff;
        row_offsets(x, row, &doff, &soff);
        float *d = x->dst + doff;
        const float *s = x->src + soff;
        if (ds == 1 && ss == 1) {
            memcpy(d, s, (size_t)len * sizeof(float));
        } else {
            for (int64_t j = 0; j < len; j++) d[j * ds] = s[j * ss];
        }
    }
}

static void run_rows(copy_ctx *x, rr_range_fn fn)
{
    int64_t rows = 1;
    for (int i = 0; i < x->ndim - 1; i++) rows *= x->shape[i];
    if (rows * x->shape[x->ndim - 1] < RR_COPY_PARALLEL_MIN) fn(x, 0, rows);
    else rr_parallel_for(rows, fn, x);
}

void rr_copy_f32(float *dst, const int64_t *dst_strides, const float *src,
                 const int64_t *src_strides, const int64_t *shape, int ndim)
{
    copy_ctx x;
    memset(&x, 0, sizeof x);
    x.ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        x.shape[i] = shape[i];
        x.dst_st[i] = dst_strides[i];
        x.src_st[i] = src_strides[i];
    }
    x.dst = dst;
    x.src = src;
    run_rows(&x, copy_rows);
}

void rr_pack_f32(float *dst, const float *src, const int64_t *src_strides,
                 const int64_t *shape, int ndim)
{
    int64_t dense[5];
    rr_dense_strides(shape, ndim, dense);
    rr_copy_f32(dst, dense, src, src_strides, shape, ndim);
}

void rr_unpack_f32(float *dst, const int64_t *dst_strides, const float *src,
                   const int64_t *shape, int ndim)
{
    int64_t dense[5];
    rr_dense_strides(shape, ndim, dense);
    rr_copy_f32(dst, dst_strides, src, dense, shape, ndim);
}

/* A view of the filter mirrored in FH and FW: base moved to the last tap, strides negated. */
static void flipped_filter_view(const rr_conv *c, const int64_t st[5], int64_t *base_off, int64_t out[5])
{
    memcpy(out, st, 5 * sizeof(int64_t));
    *base_off = (c->fh - 1) * st[3] + (c->fw - 1) * st[4];
    out[3] = -st[3];
    out[4] = -st[4];
}

void rr_pack_filter_f32(float *dst, const float *src, const int64_t src_strides[5],
                        const rr_conv *c, int flip)
{
    int64_t shape[5], dense[5], st[5], off = 0;
    rr_tensor_shape(c, RR_T_FILTER, shape);
    rr_dense_strides(shape, 5, dense);
    if (flip) flipped_filter_view(c, src_strides, &off, st);
    else memcpy(st, src_strides, sizeof st);
    rr_copy_f32(dst, dense, src + off, st, shape, 5);
}

void rr_unpack_filter_f32(float *dst, const int64_t dst_strides[5], const float *src,
                          const rr_conv *c, int flip)
{
    int64_t shape[5], dense[5], st[5], off = 0;
    rr_tensor_shape(c, RR_T_FILTER, shape);
    rr_dense_strides(shape, 5, dense);
    if (flip) flipped_filter_view(c, dst_strides, &off, st);
    else memcpy(st, dst_strides, sizeof st);
    rr_copy_f32(dst + off, st, src, dense, shape, 5);
}

static void widen_rows(void *vctx, int64_t begin, int64_t end)
{
    const copy_ctx *x = (const copy_ctx *)vctx;
    const int64_t len = x->shape[2], ss = x->src_st[2];
    for (int64_t row = begin; row < end; row++) {
        int64_t doff, soff;
        row_offsets(x, row, &doff, &soff);
        int32_t *d = x->mdst + doff;
        if (x->mtype == RRCONV_MASK_INT32) {
            const int32_t *s = (const int32_t *)x->msrc + soff;
            for (int64_t j = 0; j < len; j++) d[j] = s[j * ss];
        } else {
            const uint8_t *s = (const uint8_t *)x->msrc + soff;
            for (int64_t j = 0; j < len; j++) d[j] = (int32_t)s[j * ss];
        }
    }
}

void rr_widen_mask(int32_t *dst, const void *src, rrconv_mask_type mask_type,
                   const int64_t src_strides[3], const int64_t shape[3])
{
    copy_ctx x;
    memset(&x, 0, sizeof x);
    x.ndim = 3;
    for (int i = 0; i < 3; i++) {
        x.shape[i] = shape[i];
        x.src_st[i] = src_strides[i];
    }
    rr_dense_strides(shape, 3, x.dst_st);
    x.mdst = dst;
    x.msrc = src;
    x.mtype = mask_type;
    run_rows(&x, widen_rows);
}

/* ---- normalization --------------------------------------------------------------------------- */

#define RR_SCRATCH_ALIGN 64

void rr_scratch_free(rr_scratch *s)
{
    for (int i = 0; i < s->count; i++) free(s->blocks[i]);
    s->count = 0;
}

/* count elements of esize bytes, 64-byte aligned; NULL (message set) if impossible. */
static void *scratch_alloc(rr_scratch *s, const char *op, const char *what, int64_t count, int64_t esize)
{
    int64_t bytes;
    if (s->count >= (int)(sizeof s->blocks / sizeof s->blocks[0]) ||
        __builtin_mul_overflow(count, esize, &bytes) ||
        __builtin_add_overflow(bytes, RR_SCRATCH_ALIGN - 1, &bytes) || (uint64_t)bytes > SIZE_MAX) {
        rr_fail(RRCONV_OUT_OF_MEMORY, "%s: scratch for %s (%" PRId64 " elements of %" PRId64
                " bytes) is too large", op, what, count, esize);
        return NULL;
    }
    bytes -= bytes % RR_SCRATCH_ALIGN;
    void *mem = aligned_alloc(RR_SCRATCH_ALIGN, (size_t)bytes);
    if (mem == NULL) {
        rr_fail(RRCONV_OUT_OF_MEMORY, "%s: could not allocate %" PRId64 " bytes of scratch for %s",
                op, bytes, what);
        return NULL;
    }
    s->blocks[s->count++] = mem;
    return mem;
}

static int64_t count_of(const int64_t *shape, int ndim)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* Makes the float input view v (tensor t) dense in q; packs into scratch if needed. */
static rrconv_status normalize_input(const rr_problem *p, rr_tensor t, const rr_view *v, rr_view *qv,
                                     rr_scratch *s, int flip, const char *what)
{
    int64_t shape[5];
    const int nd = rr_tensor_shape(&p->c, t, shape);
    if (v->data == NULL) return RRCONV_OK;
    if (!flip && rr_is_dense(shape, v->strides, nd)) {
        rr_dense_strides(shape, nd, qv->strides);
        return RRCONV_OK;
    }
    float *buf = (float *)scratch_alloc(s, p->op, what, count_of(shape, nd), sizeof(float));
    if (buf == NULL) return RRCONV_OUT_OF_MEMORY;
    if (t == RR_T_FILTER) rr_pack_filter_f32(buf, (const float *)v->data, v->strides, &p->c, flip);
    else rr_pack_f32(buf, (const float *)v->data, v->strides, shape, nd);
    qv->data = buf;
    rr_dense_strides(shape, nd, qv->strides);
    return RRCONV_OK;
}

static rrconv_status normalize_mask(const rr_problem *p, rr_tensor t, const rr_view *v, rr_view *qv,
                                    rr_scratch *s, const char *what)
{
    int64_t shape[5];
    const int nd = rr_tensor_shape(&p->c, t, shape);
    if (p->c.mask_type == RRCONV_MASK_INT32 && rr_is_dense(shape, v->strides, nd)) {
        rr_dense_strides(shape, nd, qv->strides);
        return RRCONV_OK;
    }
    int32_t *buf = (int32_t *)scratch_alloc(s, p->op, what, count_of(shape, nd), sizeof(int32_t));
    if (buf == NULL) return RRCONV_OUT_OF_MEMORY;
    rr_widen_mask(buf, v->data, p->c.mask_type, v->strides, shape);
    qv->data = buf;
    rr_dense_strides(shape, nd, qv->strides);
    return RRCONV_OK;
}

rrconv_status rr_normalize(const rr_problem *p, rr_problem *q, rr_scratch *s)
{
    const int flip = p->c.mode == RRCONV_CONVOLUTION;
    rrconv_status st;
    s->count = 0;
    *q = *p;
    q->c.mode = RRCONV_CROSS_CORRELATION;
    q->c.mask_type = RRCONV_MASK_INT32;

    if ((st = normalize_input(p, RR_T_SRC, &p->src, &q->src, s, 0, "src")) != RRCONV_OK) return st;
    if ((st = normalize_input(p, RR_T_FILTER, &p->filter, &q->filter, s, flip, "filter")) != RRCONV_OK) return st;
    if ((st = normalize_input(p, RR_T_DIFF, &p->diff, &q->diff, s, 0, "diff")) != RRCONV_OK) return st;
    if ((st = normalize_mask(p, RR_T_RIN, &p->rin, &q->rin, s, "rin")) != RRCONV_OK) return st;
    if ((st = normalize_mask(p, RR_T_ROUT, &p->rout, &q->rout, s, "rout")) != RRCONV_OK) return st;

    int64_t shape[5];
    const rr_tensor ot = rr_out_tensor(p->dir);
    const int nd = rr_tensor_shape(&p->c, ot, shape);
    const int out_flip = flip && p->dir == RR_BACKWARD_FILTER;
    if (out_flip || !rr_is_dense(shape, p->out.strides, nd)) {
        float *buf = (float *)scratch_alloc(s, p->op, "the output", count_of(shape, nd), sizeof(float));
        if (buf == NULL) return RRCONV_OUT_OF_MEMORY;
        q->out.data = buf;
    }
    rr_dense_strides(shape, nd, q->out.strides);
    return RRCONV_OK;
}

void rr_finish(const rr_problem *p, const rr_problem *q)
{
    if (q->out.data == p->out.data) return;
    if (p->dir == RR_BACKWARD_FILTER) {
        rr_unpack_filter_f32(p->out.data, p->out.strides, q->out.data, &p->c,
                             p->c.mode == RRCONV_CONVOLUTION);
    } else {
        int64_t shape[5];
        const int nd = rr_tensor_shape(&p->c, rr_out_tensor(p->dir), shape);
        rr_unpack_f32(p->out.data, p->out.strides, q->out.data, shape, nd);
    }
}

rrconv_status rr_run_normalized(const rr_problem *p, rr_kernel_fn kernel)
{
    rr_problem q;
    rr_scratch s;
    rrconv_status st = rr_normalize(p, &q, &s);
    if (st == RRCONV_OK) st = kernel(&q);
    if (st == RRCONV_OK) rr_finish(p, &q);
    rr_scratch_free(&s);
    return st;
}

/* ---- dispatch -------------------------------------------------------------------------------- */

/*
 * The fast path: each direction's picker (kernels/) looks at the sizes and the active ISA and returns a
 * kernel, or NULL when none suits. The kernel runs on the normalized problem (rr_run_normalized):
 * dense tensors, cross-correlation, int32 masks.
 */
/*
 * Geometry the fast kernels are written for: every spatial size, stride, padding and dilation below
 * 2^24, so their index arithmetic (products of a few of these, padded plane sizes, phase counts) has
 * ample headroom in int64. Larger values are valid (api.c accepts everything whose offsets fit in
 * int64) and rare in practice; the reference loops, written for the full range, take them.
 */
#define RR_FAST_GEOMETRY_MAX ((int64_t)1 << 24)

static int fast_geometry_ok(const rr_conv *c)
{
    const int64_t v[] = {c->ih, c->iw, c->oh, c->ow, c->fh, c->fw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (v[i] >= RR_FAST_GEOMETRY_MAX) return 0;
    }
    return 1;
}

static rr_kernel_fn pick_fast_kernel(const rr_problem *p)
{
    const rr_isa isa = rr_active_isa();
    if (!fast_geometry_ok(&p->c)) return NULL;
    switch (p->dir) {
    case RR_FORWARD: return rr_pick_forward(&p->c, isa);
    case RR_BACKWARD_DATA: return rr_pick_backward_data(&p->c, isa);
    case RR_BACKWARD_FILTER: return rr_pick_backward_filter(&p->c, isa);
    }
    return NULL;
}

/*
 * Whether normalizing for a fast kernel is worth it: packing a non-dense input visits each of its index
 * positions, and a broadcast (stride-0) or sparsely read input can have far more of them than the
 * computation reads (one float broadcast to 2^20 x 2^20 under a stride of 2^20 asked for 4 TiB of
 * scratch for a 1x1 output). When the positions to pack outnumber the reference loops' multiply-adds
 * 16 times over, the reference loops, which read every form in place, take the problem (a multiply-add
 * there costs a few times what packing an element does, so a merely strided input, e.g. under a
 * stride-2 1x1 filter, is still packed for the fast kernel).
 */
static int packing_pays(const rr_problem *p)
{
    const rr_conv *c = &p->c;
    int64_t work = 1;
    const int64_t f[] = {c->n, c->groups, c->ocpg, c->oh, c->ow, c->icpg, c->fh, c->fw};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (__builtin_mul_overflow(work, f[i], &work)) return 1;
    }
    const struct { rr_tensor t; const rr_view *v; } in[] = {
        {RR_T_SRC, &p->src}, {RR_T_FILTER, &p->filter}, {RR_T_DIFF, &p->diff},
        {RR_T_RIN, &p->rin}, {RR_T_ROUT, &p->rout},
    };
    int64_t packed = 0;
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        int64_t shape[5];
        const int nd = rr_tensor_shape(c, in[i].t, shape);
        if (in[i].v->data == NULL || rr_is_dense(shape, in[i].v->strides, nd)) continue;
        if (__builtin_add_overflow(packed, count_of(shape, nd), &packed)) return 0;
    }
    return packed / 16 <= work;
}

static rr_kernel_fn reference_kernel(rr_direction dir)
{
    switch (dir) {
    case RR_FORWARD: return rr_ref_forward;
    case RR_BACKWARD_DATA: return rr_ref_backward_data;
    case RR_BACKWARD_FILTER: return rr_ref_backward_filter;
    }
    return NULL;
}

rrconv_status rr_dispatch(const rr_problem *p)
{
    if (p->c.algorithm == RRCONV_ALGO_AUTO) {
        const rr_kernel_fn fast = pick_fast_kernel(p);
        if (fast != NULL && packing_pays(p)) return rr_run_normalized(p, fast);
    }
    const rr_kernel_fn ref = reference_kernel(p->dir);
    if (ref == NULL) {
        return rr_fail(RRCONV_INTERNAL_ERROR, "%s: unknown direction %d", p->op, (int)p->dir);
    }
    return ref(p);
}
