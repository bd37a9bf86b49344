/*
 * portable.c -- the portable kernels' shared pieces: per-slot workspace and the small matrix product
 * of the panel kernels (portable.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "portable.h"

#include <inttypes.h>
#include <stdlib.h>

rrconv_status rr_pt_slots_alloc(rr_pt_slots *s, const char *op, int64_t n_items, int64_t ws_bytes)
{
    int64_t slots = rrconv_get_num_threads();
    if (slots > n_items) slots = n_items;
    if (slots < 1) slots = 1;
    s->n_slots = slots;
    s->n_items = n_items;
    s->ws = NULL;
    s->ws_bytes = rr_pt_round_up(ws_bytes < 64 ? 64 : ws_bytes, 64);
    int64_t total;
    if (__builtin_mul_overflow(s->ws_bytes, slots, &total) || (uint64_t)total > SIZE_MAX) {
        return rr_fail(RRCONV_OUT_OF_MEMORY, "%s: workspace of %" PRId64 " bytes per thread is too large",
                       op, s->ws_bytes);
    }
    s->ws = (unsigned char *)aligned_alloc(64, (size_t)total);
    if (s->ws == NULL) {
        return rr_fail(RRCONV_OUT_OF_MEMORY, "%s: could not allocate %" PRId64 " bytes of workspace", op, total);
    }
    return RRCONV_OK;
}

void rr_pt_slots_free(rr_pt_slots *s)
{
    free(s->ws);
    s->ws = NULL;
}

/* Stores the first n (1..4) lanes of v. */
static inline void store_part(float *p, rr_v4f v, int64_t n)
{
    if (n >= RR_PT_VL) rr_pt_store(p, v);
    else memcpy(p, &v, (size_t)n * sizeof(float));
}

/* Rows o0..o0+3, two vectors of columns at x. */
static inline void gemm_4x2(int64_t o0, int64_t x, int64_t nx, int64_t nk, const int32_t *k, const float *a,
                            int64_t na, const float *b, int64_t ldb, float *out, int64_t ldo)
{
    rr_v4f c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
    for (int64_t i = 0; i < nk; i++) {
        const float *ar = a + (int64_t)k[i] * na + o0;
        const rr_v4f b0 = rr_pt_load(b + i * ldb + x), b1 = rr_pt_load(b + i * ldb + x + RR_PT_VL);
        const rr_v4f a0 = rr_pt_splat(ar[0]), a1 = rr_pt_splat(ar[1]), a2 = rr_pt_splat(ar[2]),
                     a3 = rr_pt_splat(ar[3]);
        c00 += a0 * b0; c01 += a0 * b1;
        c10 += a1 * b0; c11 += a1 * b1;
        c20 += a2 * b0; c21 += a2 * b1;
        c30 += a3 * b0; c31 += a3 * b1;
    }
    const int64_t n0 = nx - x, n1 = nx - x - RR_PT_VL;
    float *o = out + o0 * ldo + x;
    store_part(o, c00, n0); store_part(o + RR_PT_VL, c01, n1); o += ldo;
    store_part(o, c10, n0); store_part(o + RR_PT_VL, c11, n1); o += ldo;
    store_part(o, c20, n0); store_part(o + RR_PT_VL, c21, n1); o += ldo;
    store_part(o, c30, n0); store_part(o + RR_PT_VL, c31, n1);
}

/* One row o, one vector of columns at x (the edges). */
static inline void gemm_1x1(int64_t o, int64_t x, int64_t nx, int64_t nk, const int32_t *k, const float *a,
                            int64_t na, const float *b, int64_t ldb, float *out, int64_t ldo)
{
    rr_v4f c = {0};
    for (int64_t i = 0; i < nk; i++) c += rr_pt_splat(a[(int64_t)k[i] * na + o]) * rr_pt_load(b + i * ldb + x);
    store_part(out + o * ldo + x, c, nx - x);
}

void rr_pt_gemm(int64_t no, int64_t nx, int64_t nk, const int32_t *k, const float *a, int64_t na, const float *b,
                int64_t ldb, float *out, int64_t ldo)
{
    const int64_t o4 = no / 4 * 4, x8 = nx / (2 * RR_PT_VL) * (2 * RR_PT_VL);
    for (int64_t o = 0; o < o4; o += 4) {
        for (int64_t x = 0; x < x8; x += 2 * RR_PT_VL) gemm_4x2(o, x, nx, nk, k, a, na, b, ldb, out, ldo);
        for (int64_t x = x8; x < nx; x += RR_PT_VL) {
            for (int64_t oo = o; oo < o + 4; oo++) gemm_1x1(oo, x, nx, nk, k, a, na, b, ldb, out, ldo);
        }
    }
    for (int64_t o = o4; o < no; o++) {
        for (int64_t x = 0; x < nx; x += RR_PT_VL) gemm_1x1(o, x, nx, nk, k, a, na, b, ldb, out, ldo);
    }
}
