/*
 * backward_filter.c -- picks the fast backward_filter kernel (see kernels.h) and builds its plan
 * (backward_filter_plan.h): src phase packing for stride_w > 1, tap predicate bits per image.
 *
 * Kernels: `tile` (dense and grouped: a block of up to 6 output x 4 input channels per item, AVX2
 * 4 x 2) and `dw` (icpg == 1: depthwise and channel multipliers; a pair of channels and up to 12
 * taps of at most 3 kh per item, AVX2 one channel and up to 9 taps), each for AVX-512 and AVX2, and
 * a mask builder per ISA. The scalar ISA level keeps the reference loop. On AVX-512, depthwise
 * filters of FW 3 with "same" column padding at stride_w 1 (FH <= 3) go to the row segment kernel
 * instead (backward_filter_dwrow__avx512.c, driven by forward.c with the forward plan's masks).
 */
#include "backward_filter_plan.h"
#include "portable/portable.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Masks of at most this many bytes are built at once; bigger problems run in image batches
   (overridable at build time, which the batch test does). */
#ifndef RR_BWF_MASK_BATCH_BYTES
#define RR_BWF_MASK_BATCH_BYTES ((int64_t)32 << 20)
#endif
/* A single image's mask may not exceed this (else the reference loop runs). */
#define RR_BWF_MASK_IMAGE_MAX ((int64_t)1 << 30)

static int flat_domain(const rr_conv *c)
{
    return c->sh == 1 && c->sw == 1 && c->iw == c->ow && c->ow % 16 != 0;
}

static void domain_of(const rr_conv *c, int64_t *rows, int64_t *blocks, int64_t *lanes)
{
    if (flat_domain(c)) {
        *rows = 1;
        *lanes = c->oh * c->ow;
    } else {
        *rows = c->oh;
        *lanes = c->ow;
    }
    *blocks = (*lanes + 15) / 16 + (flat_domain(c) ? 1 : 0); /* room for any origin */
}

int64_t rr_bwf_mask_bytes_per_image(const rr_conv *c)
{
    int64_t rows, blocks, lanes, b;
    domain_of(c, &rows, &blocks, &lanes);
    if (__builtin_mul_overflow(rows, blocks, &b) || __builtin_mul_overflow(b, c->fh, &b) ||
        __builtin_mul_overflow(b, c->fw, &b) || __builtin_mul_overflow(b, (int64_t)2, &b))
        return 0;
    return b;
}

/* ---- scratch --------------------------------------------------------------------------------- */

static void *bwf_alloc(const rr_problem *q, const char *what, int64_t count, int64_t esize)
{
    int64_t bytes;
    if (__builtin_mul_overflow(count, esize, &bytes) || __builtin_add_overflow(bytes, (int64_t)63, &bytes) ||
        (uint64_t)bytes > SIZE_MAX) {
        rr_fail(RRCONV_OUT_OF_MEMORY, "%s: scratch for %s (%" PRId64 " elements) is too large", q->op, what,
                count);
        return NULL;
    }
    bytes -= bytes % 64;
    void *mem = aligned_alloc(64, (size_t)(bytes ? bytes : 64));
    if (mem == NULL) {
        rr_fail(RRCONV_OUT_OF_MEMORY, "%s: could not allocate %" PRId64 " bytes of scratch for %s", q->op,
                bytes, what);
    }
    return mem;
}

/* ---- src phase packing (stride_w > 1) -------------------------------------------------------- */

typedef struct pack_ctx {
    const float *src;
    float *dst;
    int64_t iw, sw, pwc;
} pack_ctx;

/* Row item: dst row = sw phase planes of pwc columns; column col of phase ph is src iw = col*sw + ph. */
static void pack_rows(void *vctx, int64_t begin, int64_t end)
{
    const pack_ctx *x = (const pack_ctx *)vctx;
    for (int64_t row = begin; row < end; row++) {
        const float *s = x->src + row * x->iw;
        float *d = x->dst + row * x->sw * x->pwc;
        for (int64_t ph = 0; ph < x->sw; ph++) {
            for (int64_t col = 0; col < x->pwc; col++) {
                const int64_t iw = col * x->sw + ph;
                d[ph * x->pwc + col] = iw < x->iw ? s[iw] : 0.0f;
            }
        }
    }
}

/* ---- tap predicate bits ---------------------------------------------------------------------- */

/* Item (n - n0)*R + r: the bits of every tap and block of row r of image n. */
static void mask_rows(void *vctx, int64_t begin, int64_t end)
{
    const rr_bwf_mask_ctx *x = (const rr_bwf_mask_ctx *)vctx;
    const rr_bwf_plan *P = x->plan;
    const rr_conv *c = &P->c;
    const int64_t R = P->rows, Bn = P->blocks, T = P->ntaps;
    for (int64_t item = begin; item < end; item++) {
        const int64_t n = P->n0 + item / R, r = item % R;
        uint16_t *m = x->mask + item * T * Bn;
        memset(m, 0, (size_t)(T * Bn) * sizeof *m);
        const int32_t *rin_n = x->rin + n * c->ih * c->iw;
        const int32_t *rout_n = x->rout + n * c->oh * c->ow;
        for (int64_t p = 0; p < P->lanes; p++) {
            const int64_t oh = P->flat ? p / c->ow : r, ow = P->flat ? p % c->ow : p;
            const int64_t b = (p + P->origin) / 16;
            const uint16_t bit = (uint16_t)(1u << ((p + P->origin) % 16));
            const int32_t rv = rout_n[oh * c->ow + ow];
            for (int64_t kh = 0; kh < c->fh; kh++) {
                const int64_t ih = oh * c->sh - c->ph + kh * c->dh;
                if (ih < 0 || ih >= c->ih) continue;
                const int32_t *rrow = rin_n + ih * c->iw;
                const int64_t iw0 = ow * c->sw - c->pw;
                for (int64_t kw = 0; kw < c->fw; kw++) {
                    const int64_t iw = iw0 + kw * c->dw;
                    if (iw >= 0 && iw < c->iw && rrow[iw] == rv) m[b * T + kh * c->fw + kw] |= bit;
                }
            }
        }
    }
}

/* ---- the driver ------------------------------------------------------------------------------ */

/* The rows r in [0, OH) with 0 <= r*sh + off < IH. */
static void valid_rows(int64_t off, int64_t sh, int64_t ih, int64_t oh, int64_t *lo, int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + sh - 1) / sh;
    int64_t h = ih - 1 - off < 0 ? 0 : (ih - 1 - off) / sh + 1;
    if (h > oh) h = oh;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    const int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}



rrconv_status rr_bwf_run(const rr_problem *q, rr_bwf_pass_fn pass, rr_range_fn mask_fn, int allow_origin)
{
    const rr_conv *c = &q->c;
    rr_bwf_plan P;
    memset(&P, 0, sizeof P);
    P.c = *c;
    P.flat = flat_domain(c);
    domain_of(c, &P.rows, &P.blocks, &P.lanes);
    P.ntaps = c->fh * c->fw;
    /* flat, and every (n, oc) plane of diff equally aligned: shift the blocks onto 64-byte lines */
    if (P.flat && allow_origin && (c->oh * c->ow) % 16 == 0)
        P.origin = (int64_t)(((uintptr_t)q->diff.data / sizeof(float)) % 16);
    if (P.flat) P.blocks = (P.lanes + P.origin + 15) / 16;

    const int64_t per_image = rr_bwf_mask_bytes_per_image(c);
    int64_t batch = RR_BWF_MASK_BATCH_BYTES / (per_image > 0 ? per_image : 1);
    if (batch < 1) batch = 1;
    if (batch > c->n) batch = c->n;

    const int packed = c->sw > 1;
    const int64_t pwc = (c->iw + c->sw - 1) / c->sw;
    int64_t *offs = (int64_t *)bwf_alloc(q, "tap offsets", 3 * c->fh + c->fw, sizeof(int64_t));
    uint16_t *mask = offs ? (uint16_t *)bwf_alloc(q, "tap masks", batch * (per_image / 2), sizeof(uint16_t)) : NULL;
    float *pk = NULL;
    if (mask != NULL && packed) pk = (float *)bwf_alloc(q, "packed src", c->n * c->ic * c->ih * c->sw * pwc, sizeof(float));
    if (offs == NULL || mask == NULL || (packed && pk == NULL)) {
        free(offs);
        free(mask);
        return RRCONV_OUT_OF_MEMORY;
    }

    int64_t *row_off0 = offs, *r_lo = offs + c->fh, *r_hi = offs + 2 * c->fh, *col_off = offs + 3 * c->fh;
    const float *src = (const float *)q->src.data;
    if (packed) {
        pack_ctx x = {src, pk, c->iw, c->sw, pwc};
        rr_parallel_for(c->n * c->ic * c->ih, pack_rows, &x);
        P.src = pk;
        P.src_row = c->sw * pwc;
    } else {
        P.src = src - P.origin;
        P.src_row = c->iw;
    }
    P.src_c = c->ih * P.src_row;
    P.src_n = c->ic * P.src_c;
    for (int64_t kh = 0; kh < c->fh; kh++) {
        row_off0[kh] = (kh * c->dh - c->ph) * c->iw;
        valid_rows(kh * c->dh - c->ph, c->sh, c->ih, c->oh, &r_lo[kh], &r_hi[kh]);
    }
    for (int64_t kw = 0; kw < c->fw; kw++) {
        const int64_t off = kw * c->dw - c->pw;
        if (packed) {
            const int64_t fl = floor_div(off, c->sw);
            col_off[kw] = (off - fl * c->sw) * pwc + fl;
        } else {
            col_off[kw] = off;
        }
    }
    P.row_off0 = row_off0;
    P.col_off = col_off;
    P.r_lo = r_lo;
    P.r_hi = r_hi;
    P.diff = (const float *)q->diff.data - P.origin;
    P.diff_r = P.flat ? 0 : c->ow;
    P.diff_c = c->oh * c->ow;
    P.diff_n = c->oc * P.diff_c;
    P.out = q->out.data;
    P.mask = mask;

    rr_bwf_mask_ctx mx = {&P, mask, (const int32_t *)q->rin.data, (const int32_t *)q->rout.data};
    if (mask_fn == NULL) mask_fn = mask_rows;
    for (int64_t n0 = 0; n0 < c->n; n0 += batch) {
        P.n0 = n0;
        P.n1 = n0 + batch < c->n ? n0 + batch : c->n;
        P.first_batch = n0 == 0;
        rr_parallel_for((P.n1 - P.n0) * P.rows, mask_fn, &mx);
        pass(&P);
    }
    free(pk);
    free(mask);
    free(offs);
    return RRCONV_OK;
}

/* ---- kernels and the picker ------------------------------------------------------------------ */

#if RRCONV_X86_KERNELS /* the ISA loops exist (internal.h) */
static rrconv_status bwf_tile_avx512(const rr_problem *q)
{
    return rr_bwf_run(q, rr_bwf_pass_tile_avx512, rr_bwf_mask_rows_avx512, 1);
}
static rrconv_status bwf_dw_avx512(const rr_problem *q)
{
    return rr_bwf_run(q, rr_bwf_pass_dw_avx512, rr_bwf_mask_rows_avx512, 0);
}
static rrconv_status bwf_tile_avx2(const rr_problem *q)
{
    return rr_bwf_run(q, rr_bwf_pass_tile_avx2, rr_bwf_mask_rows_avx2, 1);
}
static rrconv_status bwf_dw_avx2(const rr_problem *q)
{
    return rr_bwf_run(q, rr_bwf_pass_dw_avx2, rr_bwf_mask_rows_avx2, 0);
}
#endif

/*
 * 1 if every coordinate the kernels form (oh*sh + kh*dh - ph and the like, row and column offsets,
 * image sizes) stays below 2^30 in magnitude, so that no int64 product of them with a tensor stride
 * overflows and the vector mask builders' int32 lanes hold them. Larger parameters (strides,
 * paddings or dilations near the int64 limits on tiny outputs) take the reference loop.
 */
static int coordinates_fit(const rr_conv *c)
{
    const int64_t lim = (int64_t)1 << 30;
    int64_t a, b;
    if (c->ih >= lim || c->iw >= lim || c->oh >= lim || c->ow >= lim || c->ph >= lim || c->pw >= lim) return 0;
    if (__builtin_mul_overflow(c->oh, c->sh, &a) || __builtin_mul_overflow(c->fh, c->dh, &b) || a + b >= lim)
        return 0;
    if (__builtin_mul_overflow(c->ow, c->sw, &a) || __builtin_mul_overflow(c->fw, c->dw, &b) || a + b >= lim)
        return 0;
    return c->ih * c->iw < lim && c->oh * c->ow < lim;
}

rr_kernel_fn rr_pick_backward_filter(const rr_conv *c, rr_isa isa)
{
    if (!coordinates_fit(c)) return NULL;
    /* Phase planes hold sw * ceil(iw/sw) columns per row: < 2*iw while sw <= iw. A stride much wider
     * than the image (an output of one or two columns) would make the packed src grow with the
     * stride (found by the fuzzer: ~200 MB for a 3x3 image at sw = 2^24-1): reference loops. */
    if (c->sw > c->iw && c->sw > 64) return NULL;
    const int64_t per_image = rr_bwf_mask_bytes_per_image(c);
    if (per_image <= 0 || per_image > RR_BWF_MASK_IMAGE_MAX) return NULL;
    if (isa == RR_ISA_PORTABLE) return rr_portable_backward_filter_applies(c) ? rr_portable_backward_filter : NULL;
#if RRCONV_X86_KERNELS
    const int dw = c->icpg == 1;
    /* "same" 3-wide depthwise rows: the forward plan's row segment kernel, turned around */
    if (isa == RR_ISA_AVX512 && rr_forward_dwrow_filter_grad_fits(c)) return rr_forward_dwrow_filter_grad;
    switch (isa) {
    case RR_ISA_AVX512: return dw ? bwf_dw_avx512 : bwf_tile_avx512;
    case RR_ISA_AVX2: return dw ? bwf_dw_avx2 : bwf_tile_avx2;
    default: return NULL;
    }
#else
    (void)isa;
    return NULL;
#endif
}
