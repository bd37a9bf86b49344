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
    size_t esize;        /* 4 (float, int32) or 1 (uint8) */
    unsigned char *buf;
    size_t buf_elems;
    int64_t base;        /* element offset of index (0,...,0) in buf */
} tview;

enum { L_DENSE_NULL = 0, L_DENSE, L_PADDED, L_PERMUTED, L_BROADCAST, L_COUNT };

static inline const char *layout_name(int l)
{
    static const char *names[] = {"dense(NULL)", "dense", "padded", "permuted", "broadcast"};
    return names[l];
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
    const int pad = layout >= L_PADDED;
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

static inline float tv_getf(const tview *t, const int64_t *idx)
{
    float v;
    memcpy(&v, t->buf + (size_t)tv_off(t, idx) * 4, 4);
    return v;
}

static inline void tv_setf(tview *t, const int64_t *idx, float v)
{
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
    for (size_t i = 0; i < t->buf_elems; i++) memcpy(t->buf + i * 4, &nan, 4);
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

#endif /* RRCONV_TENSOR_UTIL_H */
