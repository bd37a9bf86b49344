/*
 * normalize.c -- the one form fast kernels run on (see rr_normalize in internal.h).
 *
 * Fast kernels want dense tensors in their row's layout (NCHW or NHWC activations, C-order filter and
 * masks), cross-correlation and int32 masks. rr_normalize produces that form from any validated problem
 * (packing or transposing strided tensors into dense scratch, flipping the filter of a convolution,
 * widening uint8 masks, widening half-precision data for a float32 row); rr_finish copies a scratch output
 * back (un-flipping grad_filter, rounding a float32 result into a half output).
 * The reference loops take every form directly.
 */
#define _POSIX_C_SOURCE 200809L

#include "workspace.h"
#include "../../half.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- strided copies -------------------------------------------------------------------------- */

/* Below this many elements a copy runs on the calling thread only. */
#define RR_COPY_PARALLEL_MIN ((int64_t)1 << 16)

typedef struct copy_ctx {
    int ndim;
    int64_t shape[5];
    int64_t dst_st[5], src_st[5];
    char *dst;                /* element 0 of the destination, dst_t elements */
    const char *src;          /* element 0 of the source, src_t elements */
    rr_dtype dst_t, src_t;
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

/* One row of len elements converted from type st to type dt (they differ), strides ss / ds in elements.
 * The common pairs have their own loops (contiguous ones vectorize: bfloat16 both ways, float16 widening
 * through float arithmetic), so that widening a half call's inputs for an f32 row costs little. */
static void convert_row(char *d, rr_dtype dt, int64_t ds, const char *s, rr_dtype st, int64_t ss, int64_t len)
{
    if (dt == RR_DT_F32 && st == RR_DT_BF16) {
        float *o = (float *)(void *)d;
        const uint16_t *in = (const uint16_t *)(const void *)s;
        for (int64_t j = 0; j < len; j++) o[j * ds] = rr_bf16_to_f32(in[j * ss]);
    } else if (dt == RR_DT_F32 && st == RR_DT_F16) {
        float *o = (float *)(void *)d;
        const uint16_t *in = (const uint16_t *)(const void *)s;
        for (int64_t j = 0; j < len; j++) o[j * ds] = rr_f16_to_f32_fast(in[j * ss]);
    } else if (dt == RR_DT_BF16 && st == RR_DT_F32) {
        uint16_t *o = (uint16_t *)(void *)d;
        const float *in = (const float *)(const void *)s;
        for (int64_t j = 0; j < len; j++) o[j * ds] = rr_f32_to_bf16(in[j * ss]);
    } else if (dt == RR_DT_F16 && st == RR_DT_F32) {
        uint16_t *o = (uint16_t *)(void *)d;
        const float *in = (const float *)(const void *)s;
        for (int64_t j = 0; j < len; j++) o[j * ds] = rr_f32_to_f16(in[j * ss]);
    } else {
        for (int64_t j = 0; j < len; j++) rr_store(d, dt, j * ds, rr_load(s, st, j * ss));
    }
}

static void copy_rows(void *vctx, int64_t begin, int64_t end)
{
    const copy_ctx *x = (const copy_ctx *)vctx;
    const int last = x->ndim - 1;
    const int64_t len = x->shape[last], ds = x->dst_st[last], ss = x->src_st[last];
    const int64_t desz = rr_dtype_size(x->dst_t), sesz = rr_dtype_size(x->src_t);
    for (int64_t row = begin; row < end; row++) {
        int64_t doff, soff;
        row_offsets(x, row, &doff, &soff);
        char *d = x->dst + doff * desz;
        const char *s = x->src + soff * sesz;
        if (x->dst_t != x->src_t) {
            /* widening is exact; narrowing rounds once (half.h) */
            if (ds == 1 && ss == 1) convert_row(d, x->dst_t, 1, s, x->src_t, 1, len);
            else convert_row(d, x->dst_t, ds, s, x->src_t, ss, len);
        } else if (ds == 1 && ss == 1) {
            memcpy(d, s, (size_t)(len * desz));
        } else if (desz == 4) {
            float *df = (float *)(void *)d;
            const float *sf = (const float *)(const void *)s;
            for (int64_t j = 0; j < len; j++) df[j * ds] = sf[j * ss];
        } else {
            uint16_t *dh = (uint16_t *)(void *)d;
            const uint16_t *sh = (const uint16_t *)(const void *)s;
            for (int64_t j = 0; j < len; j++) dh[j * ds] = sh[j * ss];
        }
    }
}

/* Rows of the copies get at least this many elements where the strides allow (merged dimensions). */
#define RR_COPY_ROW_TARGET ((int64_t)1 << 14)

/*
 * Merges the innermost dimension with the next outer one while both views are contiguous across the
 * pair and the row stays below RR_COPY_ROW_TARGET elements: a dense tensor of short rows (W = 32) is then
 * copied in long rows, not in many short ones that each pay row_offsets' divisions.
 */
static void merge_inner(copy_ctx *x)
{
    while (x->ndim >= 2) {
        const int i = x->ndim - 2, j = x->ndim - 1;
        if (x->shape[i] * x->shape[j] > RR_COPY_ROW_TARGET) break;
        if (x->shape[i] != 1 &&
            (x->src_st[i] != x->src_st[j] * x->shape[j] || x->dst_st[i] != x->dst_st[j] * x->shape[j])) {
            break;
        }
        x->shape[i] *= x->shape[j];
        x->src_st[i] = x->src_st[j];
        x->dst_st[i] = x->dst_st[j];
        x->ndim--;
    }
}

/* ---- blocked transposition ------------------------------------------------------------------- */

/*
 * A copy whose innermost dimension is contiguous on one side only, the other side being contiguous along
 * an outer dimension k (NCHW <-> NHWC: after merge_inner src [N][C][H*W] into dst strides [HWC, 1, C]) runs
 * in RR_TILE x RR_TILE blocks of (k, innermost), stores contiguous: the row-at-a-time copy writes (or
 * reads) one element per cache line, line after line, before coming back to the same line; a block
 * touches RR_TILE lines on each side, all in L1 until it is done. Measured on DW-K31's 6 MB src (1 thread,
 * loaded host): row by row 2.8-5.0 ms, blocked 2.2-2.5 ms (AVX-512 gathers were no faster: memory bound).
 */
#define RR_TILE 16

/* The dimension k < ndim - 1 along which the side not contiguous in the innermost dimension is, or -1. */
static int tile_partner(const copy_ctx *x)
{
    const int last = x->ndim - 1;
    const int64_t ds = x->dst_st[last], ss = x->src_st[last];
    if (x->ndim < 2 || x->shape[last] < 2 || (ss == 1) == (ds == 1)) return -1;
    const int64_t *other = ss == 1 ? x->dst_st : x->src_st;
    for (int k = last - 1; k >= 0; k--) {
        if (other[k] == 1 && x->shape[k] > 1) return k;
    }
    return -1;
}

typedef struct tile_ctx {
    const copy_ctx *x;
    int k;          /* the partner dimension */
    int64_t ktiles; /* blocks along k */
} tile_ctx;

/* One row of a block: len elements, strides ds / ss (elements); same type or converted. */
static inline void tile_row(const copy_ctx *x, char *d, int64_t ds, const char *s, int64_t ss, int64_t len,
                            int64_t desz)
{
    if (x->dst_t != x->src_t) {
        convert_row(d, x->dst_t, ds, s, x->src_t, ss, len);
    } else if (desz == 4) {
        float *df = (float *)(void *)d;
        const float *sf = (const float *)(const void *)s;
        for (int64_t j = 0; j < len; j++) df[j * ds] = sf[j * ss];
    } else {
        uint16_t *dh = (uint16_t *)(void *)d;
        const uint16_t *sh = (const uint16_t *)(const void *)s;
        for (int64_t j = 0; j < len; j++) dh[j * ds] = sh[j * ss];
    }
}

/* Items: (index over the dimensions but k and the innermost, block along k); each copies its block row
 * of RR_TILE indices of k times the whole innermost dimension, block by block. */
static void copy_tiles(void *vctx, int64_t begin, int64_t end)
{
    const tile_ctx *t = (const tile_ctx *)vctx;
    const copy_ctx *x = t->x;
    const int last = x->ndim - 1, k = t->k;
    const int64_t nl = x->shape[last], nk = x->shape[k], ds = x->dst_st[last], ss = x->src_st[last];
    const int64_t dk = x->dst_st[k], sk = x->src_st[k];
    const int64_t desz = rr_dtype_size(x->dst_t), sesz = rr_dtype_size(x->src_t);
    for (int64_t item = begin; item < end; item++) {
        int64_t outer = item / t->ktiles, doff = 0, soff = 0;
        const int64_t k0 = item % t->ktiles * RR_TILE, k1 = k0 + RR_TILE < nk ? k0 + RR_TILE : nk;
        for (int i = last - 1; i >= 0; i--) {
            if (i == k) continue;
            const int64_t idx = outer % x->shape[i];
            outer /= x->shape[i];
            doff += idx * x->dst_st[i];
            soff += idx * x->src_st[i];
        }
        for (int64_t l0 = 0; l0 < nl; l0 += RR_TILE) {
            const int64_t l1 = l0 + RR_TILE < nl ? l0 + RR_TILE : nl;
            if (ds == 1) { /* rows along the innermost dimension: stores contiguous */
                for (int64_t i = k0; i < k1; i++) {
                    tile_row(x, x->dst + (doff + i * dk + l0) * desz, 1, x->src + (soff + i * sk + l0 * ss) * sesz,
                             ss, l1 - l0, desz);
                }
            } else { /* rows along k, where dst is contiguous */
                for (int64_t l = l0; l < l1; l++) {
                    tile_row(x, x->dst + (doff + k0 + l * ds) * desz, 1, x->src + (soff + k0 * sk + l * ss) * sesz, sk,
                             k1 - k0, desz);
                }
            }
        }
    }
}

/* 1 when the copy ran blocked (tile_partner found a partner dimension). */
static int run_tiles(const copy_ctx *x)
{
    tile_ctx t;
    t.x = x;
    t.k = tile_partner(x);
    if (t.k < 0) return 0;
    t.ktiles = (x->shape[t.k] + RR_TILE - 1) / RR_TILE;
    int64_t items = t.ktiles, count = x->shape[t.k];
    for (int i = 0; i < x->ndim; i++) {
        if (i != t.k && i != x->ndim - 1) items *= x->shape[i];
        if (i != t.k) count *= x->shape[i];
    }
    if (count < RR_COPY_PARALLEL_MIN) copy_tiles(&t, 0, items);
    else rr_parallel_for(items, copy_tiles, &t);
    return 1;
}

/*
 * Visits the dimensions in the destination's memory order: sorted by destination stride, largest
 * outermost (dimensions of extent 1 first), the source strides permuted alike. A copy visits every
 * element once in any order, so only speed changes: a channels-last tensor (NCHW dimensions, the
 * innermost W with stride C) copied to channels-last, e.g. bfloat16 widened to float32 for an f32
 * row, then runs as contiguous rows that merge_inner joins, not as 384-element strides (DW-K3 NHWC
 * bfloat16: the strided widening took about 4x the kernel's time).
 */
static void order_by_dst(copy_ctx *x)
{
    for (int i = 1; i < x->ndim; i++) {
        for (int j = i; j > 0; j--) {
            const int64_t a = x->shape[j - 1] == 1 ? INT64_MAX : x->dst_st[j - 1];
            const int64_t b = x->shape[j] == 1 ? INT64_MAX : x->dst_st[j];
            if (a >= b) break;
            int64_t t = x->shape[j]; x->shape[j] = x->shape[j - 1]; x->shape[j - 1] = t;
            t = x->dst_st[j]; x->dst_st[j] = x->dst_st[j - 1]; x->dst_st[j - 1] = t;
            t = x->src_st[j]; x->src_st[j] = x->src_st[j - 1]; x->src_st[j - 1] = t;
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

void rr_copy(void *dst, rr_dtype dst_type, const int64_t *dst_strides, const void *src, rr_dtype src_type,
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
    x.dst = (char *)dst;
    x.src = (const char *)src;
    x.dst_t = dst_type;
    x.src_t = src_type;
    order_by_dst(&x);
    merge_inner(&x);
    if (!run_tiles(&x)) run_rows(&x, copy_rows);
}

void rr_copy_f32(float *dst, const int64_t *dst_strides, const float *src,
                 const int64_t *src_strides, const int64_t *shape, int ndim)
{
    rr_copy(dst, RR_DT_F32, dst_strides, src, RR_DT_F32, src_strides, shape, ndim);
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

void rr_pack_filter(void *dst, rr_dtype dst_type, const void *src, rr_dtype src_type,
                    const int64_t src_strides[5], const rr_conv *c, int flip)
{
    int64_t shape[5], dense[5], st[5], off = 0;
    rr_tensor_shape(c, RR_T_FILTER, shape);
    rr_dense_strides(shape, 5, dense);
    if (flip) flipped_filter_view(c, src_strides, &off, st);
    else memcpy(st, src_strides, sizeof st);
    rr_copy(dst, dst_type, dense, (const char *)src + off * rr_dtype_size(src_type), src_type, st, shape, 5);
}

void rr_unpack_filter(void *dst, rr_dtype dst_type, const int64_t dst_strides[5], const void *src,
                      rr_dtype src_type, const rr_conv *c, int flip)
{
    int64_t shape[5], dense[5], st[5], off = 0;
    rr_tensor_shape(c, RR_T_FILTER, shape);
    rr_dense_strides(shape, 5, dense);
    if (flip) flipped_filter_view(c, dst_strides, &off, st);
    else memcpy(st, dst_strides, sizeof st);
    rr_copy((char *)dst + off * rr_dtype_size(dst_type), dst_type, st, src, src_type, dense, shape, 5);
}

void rr_pack_filter_f32(float *dst, const float *src, const int64_t src_strides[5],
                        const rr_conv *c, int flip)
{
    rr_pack_filter(dst, RR_DT_F32, src, RR_DT_F32, src_strides, c, flip);
}

void rr_unpack_filter_f32(float *dst, const int64_t dst_strides[5], const float *src,
                          const rr_conv *c, int flip)
{
    rr_unpack_filter(dst, RR_DT_F32, dst_strides, src, RR_DT_F32, c, flip);
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

static int64_t count_of(const int64_t *shape, int ndim)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* Makes the data input view v (tensor t, of the call's dtype) dense in layout l with elements of type dt
 * in q; packs / transposes / flips / widens into scratch if needed. */
static rrconv_status normalize_input(const rr_problem *p, rr_tensor t, const rr_view *v, rr_view *qv,
                                     rr_workspace *s, int flip, rr_layout l, rr_dtype dt, const char *what)
{
    int64_t shape[5], want[5];
    const int nd = rr_tensor_shape(&p->c, t, shape);
    rr_layout_strides(&p->c, t, l, want);
    if (v->data == NULL) return RRCONV_OK;
    memcpy(qv->strides, want, sizeof want);
    if (!flip && dt == p->c.dtype && rr_same_strides(shape, v->strides, want, nd)) return RRCONV_OK;
    void *buf = rr_ws_alloc(s, count_of(shape, nd), (size_t)rr_dtype_size(dt), what);
    if (buf == NULL) return RRCONV_OUT_OF_MEMORY;
    if (t == RR_T_FILTER) rr_pack_filter(buf, dt, v->data, p->c.dtype, v->strides, &p->c, flip);
    else rr_copy(buf, dt, want, v->data, p->c.dtype, v->strides, shape, nd);
    qv->data = buf;
    return RRCONV_OK;
}

static rrconv_status normalize_mask(const rr_problem *p, rr_tensor t, const rr_view *v, rr_view *qv,
                                    rr_workspace *s, const char *what)
{
    int64_t shape[5];
    const int nd = rr_tensor_shape(&p->c, t, shape);
    if (p->c.mask_type == RRCONV_MASK_INT32 && rr_is_dense(shape, v->strides, nd)) {
        rr_dense_strides(shape, nd, qv->strides);
        return RRCONV_OK;
    }
    int32_t *buf = (int32_t *)rr_ws_alloc(s, count_of(shape, nd), sizeof(int32_t), what);
    if (buf == NULL) return RRCONV_OUT_OF_MEMORY;
    rr_widen_mask(buf, v->data, p->c.mask_type, v->strides, shape);
    qv->data = buf;
    rr_dense_strides(shape, nd, qv->strides);
    return RRCONV_OK;
}

/*
 * Data types: a row of the call's dtype (f32 on a float32 call, f16 / bf16 on a half call of that type)
 * reads the inputs as they are and writes the call's out_dtype. An f32 row on a half call reads inputs
 * widened to float32 and writes a float32 scratch output that rr_finish rounds into the caller's (or
 * copies, when out_dtype is float32 and the caller's output is not dense in the row's layout).
 */
rrconv_status rr_normalize(const rr_problem *p, rr_problem *q, rr_workspace *s, rr_dtype dtype,
                           rr_layout layout)
{
    const int flip = p->c.mode == RRCONV_CONVOLUTION;
    rrconv_status st;
    RR_ASSERT(dtype == RR_DT_F32 || dtype == p->c.dtype);
    RR_ASSERT(p->c.out_dtype == RR_DT_F32 || p->c.out_dtype == p->c.dtype);
    *q = *p;
    q->c.mode = RRCONV_CROSS_CORRELATION;
    q->c.mask_type = RRCONV_MASK_INT32;
    q->c.layout = layout;
    q->c.dtype = dtype;
    q->c.out_dtype = dtype == RR_DT_F32 ? RR_DT_F32 : p->c.out_dtype;

    if ((st = normalize_input(p, RR_T_SRC, &p->src, &q->src, s, 0, layout, dtype, "src")) != RRCONV_OK) return st;
    st = normalize_input(p, RR_T_FILTER, &p->filter, &q->filter, s, flip, layout, dtype, "filter");
    if (st != RRCONV_OK) return st;
    if ((st = normalize_input(p, RR_T_DIFF, &p->diff, &q->diff, s, 0, layout, dtype, "diff")) != RRCONV_OK) return st;
    if ((st = normalize_mask(p, RR_T_RIN, &p->rin, &q->rin, s, "rin")) != RRCONV_OK) return st;
    if ((st = normalize_mask(p, RR_T_ROUT, &p->rout, &q->rout, s, "rout")) != RRCONV_OK) return st;

    int64_t shape[5];
    const rr_tensor ot = rr_out_tensor(p->dir);
    const int nd = rr_tensor_shape(&p->c, ot, shape);
    const int out_flip = flip && p->dir == RR_BACKWARD_FILTER;
    rr_layout_strides(&p->c, ot, layout, q->out.strides);
    if (out_flip || q->c.out_dtype != p->c.out_dtype || !rr_same_strides(shape, p->out.strides, q->out.strides, nd)) {
        void *buf = rr_ws_alloc(s, count_of(shape, nd), (size_t)rr_dtype_size(q->c.out_dtype), "the output");
        if (buf == NULL) return RRCONV_OUT_OF_MEMORY;
        q->out.data = (float *)buf;
    }
    return RRCONV_OK;
}

void rr_finish(const rr_problem *p, const rr_problem *q)
{
    if (q->out.data == p->out.data) return;
    if (p->dir == RR_BACKWARD_FILTER) {
        rr_unpack_filter(p->out.data, p->c.out_dtype, p->out.strides, q->out.data, q->c.out_dtype, &p->c,
                         p->c.mode == RRCONV_CONVOLUTION);
    } else {
        int64_t shape[5];
        const int nd = rr_tensor_shape(&p->c, rr_out_tensor(p->dir), shape);
        rr_copy(p->out.data, p->c.out_dtype, p->out.strides, q->out.data, q->c.out_dtype, q->out.strides, shape, nd);
    }
}
