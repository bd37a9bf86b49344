/*
 * portable.h -- what the portable fast kernels share: 4-lane GCC/Clang vector types, the per-row tap
 * masks, zero-padded input rows split into stride phases, per-thread workspace.
 *
 * The portable kernels are plain C (vector extensions, no intrinsics) compiled with the target's
 * baseline flags: SSE2 on x86-64, NEON on aarch64, whatever the compiler has elsewhere. They run on the
 * normalized problem (kernels.h): dense NCHW, cross-correlation, int32 masks.
 *
 * Vectors run along an output row (ow for forward and the filter gradient, iw for backward data).
 * For one row of outputs and one tap (kh, kw), the tap mask row holds all ones in the lanes whose
 * tap is inside the image and whose input region equals the output region, zeros elsewhere; an
 * inactive tap (all lanes zero) is skipped. A masked-out lane is never multiplied: either the input
 * value is replaced by +0.0 (a select, as a bitwise AND) before it meets a finite weight, or the
 * product is ANDed away. Either way a NaN or Inf under a masked tap cannot reach the output, and the
 * sum equals the sum over the active taps alone (adding +0.0 or -0.0 to a sum that started at +0.0
 * never changes it).
 *
 * Determinism: the work is split into items (output blocks) in a fixed way that does not depend on
 * the thread count; each item is computed the same way by whichever thread runs it, and the summation
 * order per output element is fixed by the item's loops.
 */
#ifndef RRCONV_PORTABLE_H
#define RRCONV_PORTABLE_H

#include "../kernels.h"
#include "workspace.h"

#include <stdint.h>
#include <string.h>

#define RR_PT_VL 4 /* lanes of rr_v4f */

typedef float rr_v4f __attribute__((vector_size(16)));
typedef int32_t rr_v4i __attribute__((vector_size(16)));

static inline rr_v4f rr_pt_load(const float *p)
{
    rr_v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void rr_pt_store(float *p, rr_v4f v)
{
    memcpy(p, &v, sizeof v);
}

static inline rr_v4i rr_pt_loadi(const int32_t *p)
{
    rr_v4i v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline rr_v4f rr_pt_splat(float x)
{
    return (rr_v4f){x, x, x, x};
}

/* v where m is all ones, +0.0 where m is zero (m lanes are 0 or -1). */
static inline rr_v4f rr_pt_select(rr_v4f v, rr_v4i m)
{
    return (rr_v4f)((rr_v4i)v & m);
}

/* Fixed-order sum of the lanes. */
static inline float rr_pt_hsum(rr_v4f v)
{
    return (v[0] + v[1]) + (v[2] + v[3]);
}

/* d[0..n) = s[0..n) (short rows: inline vectors, not a libc call per row). */
static inline void rr_pt_copy(float *d, const float *s, int64_t n)
{
    int64_t i = 0;
    for (; i + RR_PT_VL <= n; i += RR_PT_VL) rr_pt_store(d + i, rr_pt_load(s + i));
    for (; i < n; i++) d[i] = s[i];
}

/* d[0..n) = 0. */
static inline void rr_pt_zero(float *d, int64_t n)
{
    int64_t i = 0;
    for (; i + RR_PT_VL <= n; i += RR_PT_VL) rr_pt_store(d + i, (rr_v4f){0.0f, 0.0f, 0.0f, 0.0f});
    for (; i < n; i++) d[i] = 0.0f;
}

static inline int64_t rr_pt_round_up(int64_t x, int64_t m)
{
    return (x + m - 1) / m * m;
}

static inline int64_t rr_pt_floor_div(int64_t a, int64_t b)
{
    const int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/*
 * The geometry of one "row pass": outputs x in [0, xn) along a row, the tap (kh, kw) of output x of
 * row y reads input row y*sy + kh*dy - py and column x*sx + kw*dx - px. Forward and the filter
 * gradient use it as is (y = oh, x = ow); backward data at stride 1 maps onto it (kernels' comments).
 */
typedef struct rr_pt_geom {
    int64_t in_h, in_w;         /* input plane */
    int64_t out_w;              /* outputs per row */
    int64_t fh, fw;
    int64_t sy, sx, dy, dx, py, px;
    int64_t xp;                 /* out_w rounded up to RR_PT_VL */
    int64_t wq;                 /* floats per phase of a padded row */
    int64_t row_floats;         /* floats of a padded row, all phases: sx * wq */
    int64_t kh_stride;          /* floats from the padded row of tap kh to that of kh + 1 (default
                                 * row_floats: one padded row per tap row; dy * row_floats when the
                                 * padded rows are those of consecutive input rows) */
} rr_pt_geom;

static inline void rr_pt_geom_init(rr_pt_geom *g, int64_t in_h, int64_t in_w, int64_t out_w, int64_t fh,
                                   int64_t fw, int64_t sy, int64_t sx, int64_t dy, int64_t dx, int64_t py,
                                   int64_t px)
{
    g->in_h = in_h;
    g->in_w = in_w;
    g->out_w = out_w;
    g->fh = fh;
    g->fw = fw;
    g->sy = sy;
    g->sx = sx;
    g->dy = dy;
    g->dx = dx;
    g->py = py;
    g->px = px;
    g->xp = rr_pt_round_up(out_w, RR_PT_VL);
    g->wq = g->xp + ((fw - 1) * dx) / sx;
    g->row_floats = sx * g->wq;
    g->kh_stride = g->row_floats;
}

/*
 * Padded row of input row s (in_w floats; NULL: outside the image, all zeros) in stride phases:
 * buf[r*wq + j] = s[j*sx + r - px] inside the row, 0 outside. Tap kw of output x then reads
 * buf[rr_pt_tap_offset(g, kw) + x], contiguous in x.
 */
static inline void rr_pt_pad_row(const rr_pt_geom *g, const float *s, float *buf)
{
    const int64_t sx = g->sx, wq = g->wq, px = g->px, w = g->in_w;
    if (s == NULL) {
        rr_pt_zero(buf, sx * wq);
        return;
    }
    if (sx == 1) { /* buf[j] = s[j - px] for j in [lo, hi), zeros around */
        const int64_t lo = px < 0 ? 0 : px < wq ? px : wq;
        const int64_t hi = px + w < lo ? lo : px + w < wq ? px + w : wq;
        rr_pt_zero(buf, lo);
        if (hi > lo) rr_pt_copy(buf + lo, s + (lo - px), hi - lo);
        rr_pt_zero(buf + hi, wq - hi);
        return;
    }
    for (int64_t r = 0; r < sx; r++) {
        /* d[j] = s[j*sx + r - px] for the j whose column is inside [0, w) */
        float *d = buf + r * wq;
        const int64_t off = r - px;
        int64_t lo = off >= 0 ? 0 : (-off + sx - 1) / sx;
        int64_t hi = off > w - 1 ? 0 : (w - 1 - off) / sx + 1;
        if (hi > wq) hi = wq;
        if (lo > hi) lo = hi;
        rr_pt_zero(d, lo);
        const float *sr = s + (lo * sx + off); /* inside the row when lo < hi */
        if (lo < hi) {
            for (int64_t j = 0; j < hi - lo; j++) d[lo + j] = sr[j * sx];
        }
        rr_pt_zero(d + hi, wq - hi);
    }
}

static inline int64_t rr_pt_tap_offset(const rr_pt_geom *g, int64_t kw)
{
    const int64_t t = kw * g->dx;
    return (t % g->sx) * g->wq + t / g->sx;
}

/* The active taps of an output row (rr_pt_row_masks), in ascending tap order. */
typedef struct rr_pt_taps {
    int32_t *tap;  /* kh*fw + kw */
    int64_t *x;    /* kh*kh_stride + rr_pt_tap_offset(kw): where the tap reads, from the padded row of kh 0 */
    int64_t *m;    /* tap * xp: its mask row */
} rr_pt_taps;

/*
 * Tap masks of output row y: m[(kh*fw + kw)*xp + x] = -1 where the tap is inside the image and
 * rin[ih][iw] == rout[x], else 0 (also for x >= out_w). rin: the image's input-region plane
 * [in_h][in_w]; rout: the output row's regions [out_w]. Lists the taps with some active lane in at
 * (ascending) and returns their count.
 */
static inline int64_t rr_pt_row_masks(const rr_pt_geom *g, int64_t y, const int32_t *rin, const int32_t *rout,
                                      int32_t *m, const rr_pt_taps *at)
{
    int64_t na = 0;
    for (int64_t kh = 0; kh < g->fh; kh++) {
        const int64_t ih = y * g->sy + kh * g->dy - g->py;
        if (ih < 0 || ih >= g->in_h) continue; /* never read: not active */
        const int32_t *ri = rin + ih * g->in_w;
        for (int64_t kw = 0; kw < g->fw; kw++) {
            int32_t *mr = m + (kh * g->fw + kw) * g->xp;
            /* the outputs x whose column x*sx + off is inside [0, in_w) */
            const int64_t off = kw * g->dx - g->px;
            int64_t lo = off >= 0 ? 0 : (-off + g->sx - 1) / g->sx;
            int64_t hi = off > g->in_w - 1 ? 0 : (g->in_w - 1 - off) / g->sx + 1;
            if (hi > g->out_w) hi = g->out_w;
            if (lo > hi) lo = hi;
            int32_t any = 0;
            for (int64_t x = 0; x < lo; x++) mr[x] = 0;
            if (g->sx == 1) {
                const int32_t *rc = ri + off;
                for (int64_t x = lo; x < hi; x++) {
                    const int32_t on = -(int32_t)(rc[x] == rout[x]);
                    mr[x] = on;
                    any |= on;
                }
            } else {
                for (int64_t x = lo; x < hi; x++) {
                    const int32_t on = -(int32_t)(ri[x * g->sx + off] == rout[x]);
                    mr[x] = on;
                    any |= on;
                }
            }
            for (int64_t x = hi; x < g->xp; x++) mr[x] = 0;
            if (any) {
                const int64_t t = kh * g->fw + kw;
                at->tap[na] = (int32_t)t;
                at->x[na] = kh * g->kh_stride + rr_pt_tap_offset(g, kw);
                at->m[na] = t * g->xp;
                na++;
            }
        }
    }
    return na;
}

/* 1 if every element of a[0..n) is finite (no NaN, no Inf). */
static inline int rr_pt_all_finite(const float *a, int64_t n)
{
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &a[i], sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return !bad;
}

/*
 * Per-thread workspace: the items are split into at most rrconv_get_num_threads() contiguous slices,
 * one per slot, each slot with its own workspace allocated before anything runs. Which thread runs a
 * slot does not matter; the slicing changes with the thread count, the computation of an item does not.
 */
typedef struct rr_pt_slots {
    int64_t n_slots;
    int64_t n_items;
    int64_t ws_bytes; /* per slot, a multiple of 64 */
    unsigned char *ws;
    rr_workspace owner; /* the call's workspace (common/workspace.h): the slots and rr_pt_slots_floats */
} rr_pt_slots;

/* Opens the call's workspace and takes the slots' block from it; RRCONV_OUT_OF_MEMORY (message set,
 * naming op) if impossible, the workspace then already closed. */
rrconv_status rr_pt_slots_alloc(rr_pt_slots *s, const char *op, int64_t n_items, int64_t ws_bytes);

/* count floats (64-byte aligned) from the same workspace, released by rr_pt_slots_free; NULL after
 * rr_fail when impossible (the status is in s->owner.status). */
float *rr_pt_slots_floats(rr_pt_slots *s, int64_t count, const char *what);

/* Closes the workspace: its blocks go back to the library's cache. */
void rr_pt_slots_free(rr_pt_slots *s);

/* The item range of slot t. */
static inline void rr_pt_slot_range(const rr_pt_slots *s, int64_t t, int64_t *begin, int64_t *end)
{
    *begin = s->n_items * t / s->n_slots;
    *end = s->n_items * (t + 1) / s->n_slots;
}

/*
 * out[o*ldo + x] = sum over i in [0, nk) (ascending) of A(k[i], o) * b[i*ldb + x], for o in [0, no),
 * x in [0, nx), where A(kk, o) is stored four times (a splat) at a[(kk*na + o)*4 .. +3]; b rows hold at
 * least round_up(nx, 4) floats (the lanes past nx are computed, not stored).
 */
void rr_pt_gemm(int64_t no, int64_t nx, int64_t nk, const int32_t *k, const float *a, int64_t na, const float *b,
                int64_t ldb, float *out, int64_t ldo);

/* The portable kernels (rr_kernel_fn on the normalized problem) and the problems they take. */
int rr_portable_forward_applies(const rr_conv *c);
rrconv_status rr_portable_forward(const rr_problem *p);
int rr_portable_backward_data_applies(const rr_conv *c);
rrconv_status rr_portable_backward_data(const rr_problem *p);
int rr_portable_backward_filter_applies(const rr_conv *c);
rrconv_status rr_portable_backward_filter(const rr_problem *p);

#endif /* RRCONV_PORTABLE_H */
