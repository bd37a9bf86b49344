/*
 * backward_filter.c -- the backward_filter rows of the kernel table (kernel_list.inc): their applies()
 * predicates and entry functions, and the plan of the tile and icpg1 rows (backward_filter_plan.h):
 * src phase packing for stride_w > 1, tap predicate bits per image.
 *
 * Rows: `tile` (ICPG > 1: a block of up to 6 output x 4 input channels per item, AVX2 4 x 2) and
 * `icpg1` (ICPG = 1: depthwise and channel multipliers; a pair of channels and up to 12 taps of at
 * most 3 kh per item, AVX2 one channel and up to 9 taps), each for AVX-512 and AVX2, with a mask
 * builder per ISA; and on AVX-512 `depthwise_rows`: depthwise filters of FW 3 with "same" column
 * padding at stride_w 1 (FH <= 3), the row segment kernel (backward_filter_depthwise_rows__avx512.c)
 * over the tile plan shared with forward (common/tile_plan.h).
 */
#include "backward_filter_plan.h"
#include "backward_filter_nhwc.h"
#include "../../half.h"
#include "../common/tile_plan.h"
#include "../common/workspace.h"
#include "../forward/forward.h"

#include <inttypes.h>
#include <stdatomic.h>
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
    /* half problems (stride_w 1): src and diff are bit patterns of c->dtype, never packed;
     * the pass sums into float, rounded once to the output type at the end */
    const int half = c->dtype != RR_DT_F32;
    const int64_t esize = half ? 2 : 4;
    /* flat, and every (n, oc) plane of diff equally aligned: shift the blocks onto 64-byte lines (half:
     * 32-byte, a block's bytes) */
    if (P.flat && allow_origin && (c->oh * c->ow) % 16 == 0)
        P.origin = (int64_t)(((uintptr_t)q->diff.data / (uintptr_t)esize) % 16);
    if (P.flat) P.blocks = (P.lanes + P.origin + 15) / 16;

    const int64_t per_image = rr_bwf_mask_bytes_per_image(c);
    int64_t batch = RR_BWF_MASK_BATCH_BYTES / (per_image > 0 ? per_image : 1);
    if (batch < 1) batch = 1;
    if (batch > c->n) batch = c->n;

    const int packed = c->sw > 1;
    RR_ASSERT(!(half && packed));
    const int64_t pwc = (c->iw + c->sw - 1) / c->sw;
    rr_workspace ws;
    rr_ws_begin(&ws, q->op);
    int64_t *offs = (int64_t *)rr_ws_alloc(&ws, 3 * c->fh + c->fw, sizeof(int64_t), "tap offsets");
    uint16_t *mask = offs ? (uint16_t *)rr_ws_alloc(&ws, batch * (per_image / 2), sizeof(uint16_t), "tap masks") : NULL;
    float *pk = NULL;
    if (mask != NULL && packed) pk = (float *)rr_ws_alloc(&ws, c->n * c->ic * c->ih * c->sw * pwc, sizeof(float), "packed src");
    const int64_t nout = c->oc * c->icpg * c->fh * c->fw;
    float *sums = mask != NULL && c->out_dtype != RR_DT_F32 ? (float *)rr_ws_alloc(&ws, nout, 4, "gradient sums") : NULL;
    if (offs == NULL || mask == NULL || (packed && pk == NULL) || (c->out_dtype != RR_DT_F32 && sums == NULL)) {
        rr_ws_end(&ws);
        return ws.status;
    }

    int64_t *row_off0 = offs, *r_lo = offs + c->fh, *r_hi = offs + 2 * c->fh, *col_off = offs + 3 * c->fh;
    const float *src = (const float *)q->src.data;
    if (packed) {
        pack_ctx x = {src, pk, c->iw, c->sw, pwc};
        rr_parallel_for(c->n * c->ic * c->ih, pack_rows, &x);
        P.src = pk;
        P.src_row = c->sw * pwc;
    } else {
        P.src = half ? (const float *)(const void *)((const uint16_t *)q->src.data - P.origin) : src - P.origin;
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
    P.diff = half ? (const float *)(const void *)((const uint16_t *)q->diff.data - P.origin)
                  : (const float *)q->diff.data - P.origin;
    P.diff_r = P.flat ? 0 : c->ow;
    P.diff_c = c->oh * c->ow;
    P.diff_n = c->oc * P.diff_c;
    P.out = sums != NULL ? sums : q->out.data;
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
    if (sums != NULL)
        for (int64_t i = 0; i < nout; i++) rr_store(q->out.data, c->out_dtype, i, sums[i]);
    rr_ws_end(&ws);
    return RRCONV_OK;
}

/* ---- the rows ---------------------------------------------------------------------------------- */

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

/* What every backward-filter row needs. */
static int plan_fits(const rr_conv *c)
{
    if (!coordinates_fit(c)) return 0;
    /* Phase planes hold sw * ceil(iw/sw) columns per row: < 2*iw while sw <= iw. A stride much wider
     * than the image (an output of one or two columns) would make the packed src grow with the
     * stride (found by the fuzzer: ~200 MB for a 3x3 image at sw = 2^24-1): reference loops. */
    if (c->sw > c->iw && c->sw > 64) return 0;
    const int64_t per_image = rr_bwf_mask_bytes_per_image(c);
    return per_image > 0 && per_image <= RR_BWF_MASK_IMAGE_MAX;
}

/* ---- the channels-last rows (backward_filter_nhwc_body.h) ---------------------------------------- */

/* Bytes of active-tap lists per image: [FH*FW][OH*OW][2] int32; 0 on overflow. */
static int64_t nhwc_bytes_per_image(const rr_conv *c)
{
    int64_t b;
    if (__builtin_mul_overflow(c->oh, c->ow, &b) || __builtin_mul_overflow(b, c->fh, &b) ||
        __builtin_mul_overflow(b, c->fw, &b) || __builtin_mul_overflow(b, (int64_t)8, &b))
        return 0;
    return b;
}

/* Output pixels per image batch of the NHWC rows: about this many, so that a channel block's src and
 * diff rows of a batch stay in the core's cache while every tap of the block runs over them. */
#define RR_BWF_NHWC_BATCH_PIXELS 1024

/* the tests' override (0: the default) */
static _Atomic int64_t nhwc_batch_pixels_for_tests;

void rr_bwf_nhwc_set_batch_pixels(int64_t pixels)
{
    atomic_store(&nhwc_batch_pixels_for_tests, pixels > 0 ? pixels : 0);
}

int64_t rr_bwf_nhwc_batch(const rr_conv *c)
{
    const int64_t per_image = nhwc_bytes_per_image(c);
    const int64_t pixels = atomic_load(&nhwc_batch_pixels_for_tests);
    int64_t batch = (pixels > 0 ? pixels : RR_BWF_NHWC_BATCH_PIXELS) / (c->oh * c->ow);
    if (batch > RR_BWF_MASK_BATCH_BYTES / per_image) batch = RR_BWF_MASK_BATCH_BYTES / per_image;
    if (batch < 1) batch = 1;
    if (batch > c->n) batch = c->n;
    /* batch-relative pixel indices of the lists are int32 */
    const int64_t plane = c->ih * c->iw > c->oh * c->ow ? c->ih * c->iw : c->oh * c->ow;
    if (batch > INT32_MAX / plane) batch = INT32_MAX / plane;
    return batch;
}

int64_t rr_bwf_nhwc_chunk_rows(const rr_conv *c)
{
    const int64_t pixels = atomic_load(&nhwc_batch_pixels_for_tests);
    int64_t rows = (pixels > 0 ? pixels : RR_BWF_NHWC_BATCH_PIXELS) / c->ow;
    if (rows < 1) rows = 1;
    if (rows > c->n * c->oh) rows = c->n * c->oh;
    return rows;
}

static int nhwc_fits(const rr_conv *c)
{
    const int64_t per_image = nhwc_bytes_per_image(c);
    return coordinates_fit(c) && per_image > 0 && per_image <= RR_BWF_MASK_IMAGE_MAX;
}

/* NCHW calls take the depthwise NHWC row (rr_normalize transposes src and diff, two passes over them)
 * from this many taps on, with at least 16 channels to fill the vectors: the NCHW rows' cost grows
 * with every tap, masked or not, the lists' only with the active ones. Measured (1 thread, 4 x 384 x
 * 32 x 32): DW-K13 13.4 ms on the NCHW row against 13.6-16.7 through the transposition (random
 * masks), 13-15 against 17-19 (superpixel); DW-K31 58-61 against 42-49 (random), 56-73 against
 * 24-26 (superpixel). */
#define RR_BWF_NHWC_NCHW_TAPS 256

int rr_backward_filter_nhwc_depthwise_applies(const rr_conv *c)
{
    if (!nhwc_fits(c) || c->icpg != 1 || c->ocpg != 1) return 0;
    return c->layout == RR_LAYOUT_NHWC || (c->fh * c->fw >= RR_BWF_NHWC_NCHW_TAPS && c->groups >= 16);
}

/* The small-filter depthwise row (backward_filter_depthwise_small_nhwc_body.h): channels-last calls with
 * FW 3, 5 or 7 (every tap evaluated under its mask, the accumulators of a tap group in registers) and a
 * tap table row of at most 2^20 entries. */
int rr_backward_filter_depthwise_small_nhwc_applies(const rr_conv *c)
{
    return nhwc_fits(c) && c->icpg == 1 && c->ocpg == 1 && c->layout == RR_LAYOUT_NHWC &&
           (c->fw == 3 || c->fw == 5 || c->fw == 7) && c->fh <= 64 && c->ow * c->fh * c->fw <= ((int64_t)1 << 20);
}

/* The per-tap GEMM (backward_filter_nhwc_tapgemm__avx512.c): input-channel blocks of up to 16 (so ICPG >=
 * 16), at least half a vector of output channels, the forward tap-GEMM's tap limits, a row's tap lists
 * (OW * FH * FW int32) of at most 16 MiB. */
int rr_backward_filter_nhwc_tapgemm_applies(const rr_conv *c)
{
    return nhwc_fits(c) && c->layout == RR_LAYOUT_NHWC && c->icpg >= 16 && c->ocpg >= 8 &&
           c->fh * c->fw <= RR_TAPGEMM_MAX_TAPS && c->ow * c->fh * c->fw <= ((int64_t)1 << 22);
}

int rr_backward_filter_nhwc_channels_applies(const rr_conv *c)
{
    return nhwc_fits(c) && c->icpg > 1 && c->layout == RR_LAYOUT_NHWC;
}

int rr_backward_filter_depthwise_rows_applies(const rr_conv *c)
{
    return plan_fits(c) && rr_tile_geometry_fits(c) && c->icpg == 1 && c->ocpg == 1 && c->fw == 3 && c->pw == 1 &&
           c->dw == 1 && c->sw == 1 && c->fh <= 3;
}

int rr_backward_filter_depthwise_rows_bf16_applies(const rr_conv *c)
{
    return c->dtype == RR_DT_BF16 && (c->out_dtype == RR_DT_BF16 || c->out_dtype == RR_DT_F32) &&
           rr_backward_filter_depthwise_rows_applies(c);
}

int rr_backward_filter_depthwise_rows_f16_applies(const rr_conv *c)
{
    return c->dtype == RR_DT_F16 && (c->out_dtype == RR_DT_F16 || c->out_dtype == RR_DT_F32) &&
           rr_backward_filter_depthwise_rows_applies(c);
}

int rr_backward_filter_icpg1_applies(const rr_conv *c)
{
    return plan_fits(c) && c->icpg == 1;
}

/* The half rows read src in place (no column phase planes): stride_w 1. */
int rr_backward_filter_icpg1_bf16_applies(const rr_conv *c)
{
    return c->dtype == RR_DT_BF16 && (c->out_dtype == RR_DT_BF16 || c->out_dtype == RR_DT_F32) && c->sw == 1 &&
           rr_backward_filter_icpg1_applies(c);
}

int rr_backward_filter_icpg1_f16_applies(const rr_conv *c)
{
    return c->dtype == RR_DT_F16 && (c->out_dtype == RR_DT_F16 || c->out_dtype == RR_DT_F32) && c->sw == 1 &&
           rr_backward_filter_icpg1_applies(c);
}

int rr_backward_filter_tile_applies(const rr_conv *c)
{
    return plan_fits(c) && c->icpg > 1;
}

/* A half call of type t that rr_bwf_run takes as it is (src read in place: stride_w 1). */
static int half_in_place(const rr_conv *c, rr_dtype t)
{
    return c->dtype == t && (c->out_dtype == t || c->out_dtype == RR_DT_F32) && c->sw == 1;
}

/* The dense / grouped pass loads every src and diff block once per (output, input) channel block and tap
 * chunk: with many channels per group, widening in those loads costs more than widening the tensors once
 * for the float32 row. Measured (rough, 1 thread, cpu ms, float16 and bfloat16): GRP (16 x 16 per group)
 * 6.0 against 5.7-7.7 widened, DENSE (64 x 64) 23.5-24.4 against 21.4-22.7 widened. */
#define BWF_HALF_TILE_MAX_CHANNELS 256 /* OCPG * ICPG */

int rr_backward_filter_tile_bf16_applies(const rr_conv *c)
{
    return half_in_place(c, RR_DT_BF16) && rr_backward_filter_tile_applies(c) &&
           c->ocpg * c->icpg <= BWF_HALF_TILE_MAX_CHANNELS;
}

int rr_backward_filter_tile_f16_applies(const rr_conv *c)
{
    return half_in_place(c, RR_DT_F16) && rr_backward_filter_tile_applies(c) &&
           c->ocpg * c->icpg <= BWF_HALF_TILE_MAX_CHANNELS;
}

#if RRCONV_X86_KERNELS /* the ISA loops exist (internal.h) */

/* The row segment kernel's part of the tile plan: per channel 9 taps x 16 lanes of partial sums,
 * carried from mask chunk to mask chunk when there are several; the kernel writes grad_filter in the
 * last. */
static rrconv_status prepare_depthwise_rows(rr_tile_plan *pl, const rr_problem *p, rr_isa isa, int chunked,
                                            rr_workspace *ws)
{
    (void)isa;
    const rr_conv *c = &p->c;
    pl->ncb = (c->groups + RR_BWF_DWROW_CB - 1) / RR_BWF_DWROW_CB;
    pl->gw = p->out.data;
    pl->diff = (const float *)p->diff.data;
    pl->dst = NULL;
    if (chunked) {
        pl->gacc = (float *)rr_ws_alloc(ws, c->groups * 9 * 16, 4, "filter gradient partial sums");
        if (pl->gacc == NULL) return ws->status;
    }
    return RRCONV_OK;
}

rrconv_status rr_backward_filter_depthwise_rows__avx512(const rr_problem *q)
{
    RR_ASSERT(rr_backward_filter_depthwise_rows_applies(&q->c));
    const rr_dtype t = q->c.dtype;
    const rr_range_fn compute = t == RR_DT_BF16 ? rr_bwf_dwrow_bf16_avx512
                              : t == RR_DT_F16  ? rr_bwf_dwrow_f16_avx512
                                                : rr_bwf_dwrow_avx512;
    const rr_tile_job job = {RR_TILE_FILTER_GRAD_ROWS, compute, prepare_depthwise_rows};
    return rr_tile_run(q, RR_ISA_AVX512, &job);
}

rrconv_status rr_backward_filter_depthwise_rows_bf16__avx512(const rr_problem *q)
{
    RR_ASSERT(rr_backward_filter_depthwise_rows_bf16_applies(&q->c));
    return rr_backward_filter_depthwise_rows__avx512(q);
}

rrconv_status rr_backward_filter_depthwise_rows_f16__avx512(const rr_problem *q)
{
    RR_ASSERT(rr_backward_filter_depthwise_rows_f16_applies(&q->c));
    return rr_backward_filter_depthwise_rows__avx512(q);
}

rrconv_status rr_backward_filter_tile__avx512(const rr_problem *q)
{
    RR_ASSERT(rr_backward_filter_tile_applies(&q->c));
    return rr_bwf_run(q, rr_bwf_pass_tile_avx512, rr_bwf_mask_rows_avx512, 1);
}

rrconv_status rr_backward_filter_icpg1__avx512(const rr_problem *q)
{
    RR_ASSERT(rr_backward_filter_icpg1_applies(&q->c));
    return rr_bwf_run(q, rr_bwf_pass_dw_avx512, rr_bwf_mask_rows_avx512, 0);
}

rrconv_status rr_backward_filter_icpg1_bf16__avx512(const rr_problem *q)
{
    RR_ASSERT(rr_backward_filter_icpg1_bf16_applies(&q->c));
    return rr_bwf_run(q, rr_bwf_pass_dw_bf16_avx512, rr_bwf_mask_rows_avx512, 0);
}

rrconv_status rr_backward_filter_icpg1_f16__avx512(const rr_problem *q)
{
    RR_ASSERT(rr_backward_filter_icpg1_f16_applies(&q->c));
    return rr_bwf_run(q, rr_bwf_pass_dw_f16_avx512, rr_bwf_mask_rows_avx512, 0);
}

rrconv_status rr_backward_filter_tile__avx2(const rr_problem *q)
{
    RR_ASSERT(rr_backward_filter_tile_applies(&q->c));
    return rr_bwf_run(q, rr_bwf_pass_tile_avx2, rr_bwf_mask_rows_avx2, 1);
}

rrconv_status rr_backward_filter_tile_bf16__avx512(const rr_problem *q)
{
    RR_ASSERT(rr_backward_filter_tile_bf16_applies(&q->c));
    return rr_bwf_run(q, rr_bwf_pass_tile_bf16_avx512, rr_bwf_mask_rows_avx512, 1);
}

rrconv_status rr_backward_filter_tile_f16__avx512(const rr_problem *q)
{
    RR_ASSERT(rr_backward_filter_tile_f16_applies(&q->c));
    return rr_bwf_run(q, rr_bwf_pass_tile_f16_avx512, rr_bwf_mask_rows_avx512, 1);
}

rrconv_status rr_backward_filter_icpg1__avx2(const rr_problem *q)
{
    RR_ASSERT(rr_backward_filter_icpg1_applies(&q->c));
    return rr_bwf_run(q, rr_bwf_pass_dw_avx2, rr_bwf_mask_rows_avx2, 0);
}

#endif /* RRCONV_X86_KERNELS */
