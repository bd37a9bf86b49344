/*
 * portable.c -- the portable kernels' shared pieces: per-slot workspace and the small matrix product
 * of the panel kernels (portable.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "portable.h"

#include <inttypes.h>

rrconv_status rr_pt_slots_alloc(rr_pt_slots *s, const char *op, int64_t n_items, int64_t ws_bytes)
{
    int64_t slots = rrconv_get_num_threads();
    if (slots > n_items) slots = n_items;
    if (slots < 1) slots = 1;
    s->n_slots = slots;
    s->n_items = n_items;
    s->ws_bytes = rr_pt_round_up(ws_bytes < 64 ? 64 : ws_bytes, 64);
    rr_ws_begin(&s->owner, op);
    int64_t total;
    if (__builtin_mul_overflow(s->ws_bytes, slots, &total)) {
        rr_ws_end(&s->owner);
        return rr_fail(RRCONV_OUT_OF_MEMORY, "%s: workspace of %" PRId64 " bytes per thread is too large",
                       op, s->ws_bytes);
    }
    s->ws = (unsigned char *)rr_ws_alloc(&s->owner, total, 1, "per-thread workspace of the portable kernel");
    if (s->ws == NULL) {
        const rrconv_status st = s->owner.status;
        rr_ws_end(&s->owner);
        return st;
    }
    return RRCONV_OK;
}

float *rr_pt_slots_floats(rr_pt_slots *s, int64_t count, const char *what)
{
    return (float *)rr_ws_alloc(&s->owner, count, (int64_t)sizeof(float), what);
}

void rr_pt_slots_free(rr_pt_slots *s)
{
    rr_ws_end(&s->owner);
    s->ws = NULL;
}

/* Stores the first n (1..4) lanes of v. */
static inline void store_part(float *p, rr_v4f v, int64_t n)
{
    if (n >= RR_PT_VL) rr_pt_store(p, v);
    else memcpy(p, &v, (size_t)n * sizeof(float));
}

/*
 * Rows o0..o0+OB-1, XB vectors of columns at x (OB, XB compile-time constants: the accumulators stay
 * in registers). a holds every weight four times (a splat), so it is a plain load, often folded into
 * the multiply.
 */
static inline __attribute__((always_inline)) void gemm_block(const int OB, const int XB, int64_t o0, int64_t x,
                                                             int64_t nx, int64_t nk, const int32_t *k,
                                                             const float *a, int64_t na, const float *b,
                                                             int64_t ldb, float *out, int64_t ldo)
{
    rr_v4f c[4][3];
    for (int o = 0; o < OB; o++) {
        for (int j = 0; j < XB; j++) c[o][j] = rr_pt_splat(0.0f);
    }
    for (int64_t i = 0; i < nk; i++) {
        const float *ar = a + ((int64_t)k[i] * na + o0) * RR_PT_VL;
        const float *br = b + i * ldb + x;
        rr_v4f bv[3];
        for (int j = 0; j < XB; j++) bv[j] = rr_pt_load(br + j * RR_PT_VL);
        for (int o = 0; o < OB; o++) {
            const rr_v4f av = rr_pt_load(ar + o * RR_PT_VL);
            for (int j = 0; j < XB; j++) c[o][j] += av * bv[j];
        }
    }
    for (int o = 0; o < OB; o++) {
        for (int j = 0; j < XB; j++) store_part(out + (o0 + o) * ldo + x + j * RR_PT_VL, c[o][j], nx - x - j * RR_PT_VL);
    }
}

void rr_pt_gemm(int64_t no, int64_t nx, int64_t nk, const int32_t *k, const float *a, int64_t na, const float *b,
                int64_t ldb, float *out, int64_t ldo)
{
    const int64_t o4 = no / 4 * 4, xv = (nx + RR_PT_VL - 1) / RR_PT_VL, x3 = xv / 3 * 3;
    for (int64_t o = 0; o < o4; o += 4) {
        for (int64_t v = 0; v < x3; v += 3) gemm_block(4, 3, o, v * RR_PT_VL, nx, nk, k, a, na, b, ldb, out, ldo);
        if (xv - x3 == 2) gemm_block(4, 2, o, x3 * RR_PT_VL, nx, nk, k, a, na, b, ldb, out, ldo);
        if (xv - x3 == 1) gemm_block(4, 1, o, x3 * RR_PT_VL, nx, nk, k, a, na, b, ldb, out, ldo);
    }
    for (int64_t o = o4; o < no; o++) {
        for (int64_t v = 0; v < x3; v += 3) gemm_block(1, 3, o, v * RR_PT_VL, nx, nk, k, a, na, b, ldb, out, ldo);
        if (xv - x3 == 2) gemm_block(1, 2, o, x3 * RR_PT_VL, nx, nk, k, a, na, b, ldb, out, ldo);
        if (xv - x3 == 1) gemm_block(1, 1, o, x3 * RR_PT_VL, nx, nk, k, a, na, b, ldb, out, ldo);
    }
}
