/*
 * forward.c -- the forward rows of the kernel table (kernel_list.inc): their applies() predicates and
 * entry functions, and the filter packing they share.
 *
 * The tile kernels (common/tile_plan.h explains the plan) cover dense, grouped and depthwise forward
 * convolutions with any stride, dilation and padding. Three compute loops, three kinds of rows:
 *   channel tiles    (ICPG > 1 or OCPG > 1): per item a tile x up to 12 output channels of one group;
 *                    per tap and input channel one masked load per block feeds up to 12 broadcast FMAs;
 *   depthwise tiles  (ICPG == OCPG == 1): per item a tile x up to 12 channels, one mask per tap for all;
 *   depthwise rows   (AVX-512, FW 3..13 odd or 31, pad_w (FW-1)/2, stride_w 1, dil_w 1): input rows are
 *                    read in aligned-to-the-tile segments and the taps' windows are lane rotations of
 *                    them, not one unaligned load each (forward_depthwise_rows__avx512.c).
 * Each has bfloat16 and float16 rows (the depthwise rows on AVX-512 only): the same loops reading half
 * src (widened exactly in each load; weights widened while packed), float32 sums, each output element
 * rounded once when stored -- no widened copy of the tensors.
 * Before them, the NHWC rows (forward_nhwc_body.h): per pixel the active taps listed once, arithmetic
 * on those only, vectorised over channels; they take channels-last calls and large depthwise filters.
 * Before those, for grouped / dense NHWC calls with ICPG >= 8 and OCPG >= 16, the tap-GEMM row
 * (forward_nhwc_tapgemm__avx512.c): per tap the active pixels listed, then a register-blocked GEMM.
 */
#define _POSIX_C_SOURCE 200809L

#include "forward.h"
#include "../common/active_taps.h"
#include "../../half.h"
#include "../common/tile_plan.h"
#include "../common/workspace.h"

#include <string.h>

/* Register tiles (see the ISA files): output channels per oc item, channels per depthwise item. */
#define FWD_MAX_OCB(isa) ((isa) == RR_ISA_AVX512 ? 12 : 5)
#define FWD_MAX_CB(isa) ((isa) == RR_ISA_AVX512 ? 12 : 4)

/* ---- applies() --------------------------------------------------------------------------------- */

int rr_forward_depthwise_rows_fits(const rr_conv *c)
{
    /* the widths forward_depthwise_rows__avx512.c is instantiated for (each costs compile time) */
#define DWROW_WIDTH_IS(F) || c->fw == F
    const int width = 0 RR_DWROW_WIDTHS(DWROW_WIDTH_IS);
#undef DWROW_WIDTH_IS
    return c->icpg == 1 && c->ocpg == 1 && width && c->pw == (c->fw - 1) / 2 && c->dw == 1 && c->sw == 1;
}

int rr_forward_depthwise_rows_applies(const rr_conv *c)
{
    return rr_tile_geometry_fits(c) && rr_forward_depthwise_rows_fits(c);
}

/* A half row of dtype t: half inputs of that type, output of that type or float32. */
static int half_call_of(const rr_conv *c, rr_dtype t)
{
    return c->dtype == t && (c->out_dtype == t || c->out_dtype == RR_DT_F32);
}

int rr_forward_depthwise_rows_bf16_applies(const rr_conv *c)
{
    return half_call_of(c, RR_DT_BF16) && rr_forward_depthwise_rows_applies(c);
}

int rr_forward_depthwise_rows_f16_applies(const rr_conv *c)
{
    return half_call_of(c, RR_DT_F16) && rr_forward_depthwise_rows_applies(c);
}

int rr_forward_depthwise_applies(const rr_conv *c)
{
    return rr_tile_geometry_fits(c) && c->icpg == 1 && c->ocpg == 1;
}

int rr_forward_channels_applies(const rr_conv *c)
{
    return rr_tile_geometry_fits(c) && (c->icpg > 1 || c->ocpg > 1);
}

int rr_forward_depthwise_tiles_bf16_applies(const rr_conv *c)
{
    return half_call_of(c, RR_DT_BF16) && rr_forward_depthwise_applies(c);
}

int rr_forward_depthwise_tiles_f16_applies(const rr_conv *c)
{
    return half_call_of(c, RR_DT_F16) && rr_forward_depthwise_applies(c);
}

#if RRCONV_X86_KERNELS /* rows of the x86 kernel files only */
/* AVX2 has no 16-bit masked loads: each tap's load checks the tensor's bounds and widens, one load per
 * FMA in the depthwise loop, so the half row beats the float32 row on widened src only for few taps
 * (rough, 1 thread: DW-K3 0.7-0.9x, DW-K7 1.8x). */
#define FWD_AVX2_HALF_DW_MAX_TAPS 9

int rr_forward_depthwise_tiles_bf16_avx2_applies(const rr_conv *c)
{
    return rr_forward_depthwise_tiles_bf16_applies(c) && c->fh * c->fw <= FWD_AVX2_HALF_DW_MAX_TAPS;
}

int rr_forward_depthwise_tiles_f16_avx2_applies(const rr_conv *c)
{
    return rr_forward_depthwise_tiles_f16_applies(c) && c->fh * c->fw <= FWD_AVX2_HALF_DW_MAX_TAPS;
}
#endif

int rr_forward_channel_tiles_bf16_applies(const rr_conv *c)
{
    return half_call_of(c, RR_DT_BF16) && rr_forward_channels_applies(c);
}

int rr_forward_channel_tiles_f16_applies(const rr_conv *c)
{
    return half_call_of(c, RR_DT_F16) && rr_forward_channels_applies(c);
}

/* The NHWC rows keep one active-tap word per filter row and pixel (common/active_taps.h). */
static int nhwc_taps_fit(const rr_conv *c)
{
    return c->fw <= RR_TAPS_MAX_FW && c->fh <= RR_TAPS_MAX_FH;
}

/* A depthwise NCHW call whose filter has at least this many taps runs the NHWC depthwise row: listing
 * the active taps pays for transposing src and dst. Measured (1 thread, busy machine, cpu ms, NCHW rows
 * / transposed NHWC row): DW-K31 random 36.5 / 25.8, superpixel 36.7 / 16; DW-K13 random 8.0 / 12.3
 * (the transpositions cost about 5 ms there), so 13x13 stays on the NCHW rows. With the blocked
 * transposition (normalize.c) still so: DW-K13 random 8.0 / 10.3, superpixel 8.0 / 10.6 (forward),
 * backward data 8.1 / 11.3 and 8.1 / 12.1 (cpu ms, same session, 1 thread, threshold lowered to 150 to
 * measure). */
#define NHWC_DEPTHWISE_MIN_NCHW_TAPS 400

int rr_forward_nhwc_depthwise_applies(const rr_conv *c)
{
    return c->icpg == 1 && c->ocpg == 1 && nhwc_taps_fit(c) &&
           (c->layout == RR_LAYOUT_NHWC || c->fh * c->fw >= NHWC_DEPTHWISE_MIN_NCHW_TAPS);
}

int rr_forward_nhwc_channels_applies(const rr_conv *c)
{
    return (c->icpg > 1 || c->ocpg > 1) && nhwc_taps_fit(c) && c->layout == RR_LAYOUT_NHWC;
}

/* Per-tap GEMMs over the active pixels (forward_nhwc_tapgemm__avx512.c): enough input channels per
 * group that a pixel's broadcasts feed several FMAs, a whole vector of output channels. */
int rr_forward_nhwc_tapgemm_applies(const rr_conv *c)
{
    return c->icpg >= 8 && c->ocpg >= 16 && nhwc_taps_fit(c) && c->fh * c->fw <= RR_TAPGEMM_MAX_TAPS &&
           c->layout == RR_LAYOUT_NHWC;
}

#if RRCONV_X86_KERNELS /* the plan drives the AVX2 / AVX-512 loops only (internal.h) */

/* ---- packed weights ---------------------------------------------------------------------------- */

/* Packs the filter for the compute kernel (layouts in common/tile_plan.h); NULL when out of memory. */
static float *pack_weights(rr_tile_plan *pl, const rr_problem *p, rr_isa isa, int dw, int dwrow, rr_workspace *s)
{
    const rr_conv *c = &p->c;
    /* filter element i as a float: half filters are widened here, once (exact) */
#define FLT(i) (c->dtype == RR_DT_F32 ? ((const float *)p->filter.data)[i] : rr_load(p->filter.data, c->dtype, i))
    const int64_t nflt = c->groups * c->ocpg * c->icpg * pl->taps;
    const int64_t dwrow_cb = RR_DWROW_CB(c->fw);
    const int64_t npk = dwrow ? (c->groups + dwrow_cb - 1) / dwrow_cb * dwrow_cb * pl->taps : nflt;
    float *wpk = (float *)rr_ws_alloc(s, npk, 4, "packed weights");
    if (wpk == NULL) return NULL;
    if (dwrow) {
        /* blocks of RR_DWROW_CB channels from g0: [taps][RR_DWROW_CB] at g0 * taps, zeros past the last */
        pl->cb = dwrow_cb;
        pl->ncb = (c->groups + pl->cb - 1) / pl->cb;
        memset(wpk, 0, (size_t)npk * sizeof(float));
        for (int64_t g = 0; g < c->groups; g++)
            for (int64_t t = 0; t < pl->taps; t++)
                wpk[(g - g % pl->cb) * pl->taps + t * pl->cb + g % pl->cb] = FLT(g * pl->taps + t);
    } else if (dw) {
        /* block of nc channels from g0: [taps][nc] at g0 * taps */
        pl->cb = c->groups < FWD_MAX_CB(isa) ? c->groups : FWD_MAX_CB(isa);
        pl->ncb = (c->groups + pl->cb - 1) / pl->cb;
        for (int64_t g0 = 0; g0 < c->groups; g0 += pl->cb) {
            const int64_t nc = c->groups - g0 < pl->cb ? c->groups - g0 : pl->cb;
            for (int64_t ci = 0; ci < nc; ci++)
                for (int64_t t = 0; t < pl->taps; t++) wpk[g0 * pl->taps + t * nc + ci] = FLT((g0 + ci) * pl->taps + t);
        }
    } else {
        /* block of no output channels from (g, oc0): [taps][ICPG][no] at (g*OCPG + oc0) * ICPG * taps */
        pl->nob = (c->ocpg + FWD_MAX_OCB(isa) - 1) / FWD_MAX_OCB(isa);
        pl->ocb = (c->ocpg + pl->nob - 1) / pl->nob;
        const int64_t per_oc = c->icpg * pl->taps;
        for (int64_t g = 0; g < c->groups; g++) {
            for (int64_t oc0 = 0; oc0 < c->ocpg; oc0 += pl->ocb) {
                const int64_t no = c->ocpg - oc0 < pl->ocb ? c->ocpg - oc0 : pl->ocb;
                float *blk = wpk + (g * c->ocpg + oc0) * per_oc;
                for (int64_t o = 0; o < no; o++)
                    for (int64_t i = 0; i < c->icpg; i++)
                        for (int64_t t = 0; t < pl->taps; t++)
                            blk[(t * c->icpg + i) * no + o] = FLT(((g * c->ocpg + oc0 + o) * c->icpg + i) * pl->taps + t);
            }
        }
    }
#undef FLT
    return wpk;
}

static rrconv_status prepare_tiles(rr_tile_plan *pl, const rr_problem *p, rr_isa isa, int dw, int dwrow,
                                   rr_workspace *ws)
{
    pl->w = pack_weights(pl, p, isa, dw, dwrow, ws);
    return pl->w != NULL ? RRCONV_OK : ws->status;
}

static rrconv_status prepare_channels(rr_tile_plan *pl, const rr_problem *p, rr_isa isa, int chunked, rr_workspace *ws)
{
    (void)chunked;
    return prepare_tiles(pl, p, isa, 0, 0, ws);
}

static rrconv_status prepare_depthwise(rr_tile_plan *pl, const rr_problem *p, rr_isa isa, int chunked, rr_workspace *ws)
{
    (void)chunked;
    return prepare_tiles(pl, p, isa, 1, 0, ws);
}

static rrconv_status prepare_depthwise_rows(rr_tile_plan *pl, const rr_problem *p, rr_isa isa, int chunked,
                                            rr_workspace *ws)
{
    (void)chunked;
    return prepare_tiles(pl, p, isa, 1, 1, ws);
}

/* ---- the rows' entry functions ----------------------------------------------------------------- */

rrconv_status rr_forward_depthwise_rows_run(const rr_problem *p)
{
    RR_ASSERT(rr_forward_depthwise_rows_fits(&p->c));
    const rr_dtype t = p->c.dtype;
    /* bfloat16: the stores round with vcvtneps2bf16 where the CPU has it (the same bits) */
    const rr_range_fn compute = t == RR_DT_BF16 ? (rr_cpu_has_bf16_dot() ? rr_fwd_dwrow_bf16cvt_avx512
                                                                            : rr_fwd_dwrow_bf16_avx512)
                              : t == RR_DT_F16  ? rr_fwd_dwrow_f16_avx512
                                                : rr_fwd_dwrow_avx512;
    const rr_tile_job job = {RR_TILE_DEPTHWISE_ROWS, compute, prepare_depthwise_rows};
    return rr_tile_run(p, RR_ISA_AVX512, &job);
}

rrconv_status rr_forward_depthwise_rows__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_forward_depthwise_rows_applies(&p->c));
    return rr_forward_depthwise_rows_run(p);
}

rrconv_status rr_forward_depthwise_rows_bf16__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_forward_depthwise_rows_bf16_applies(&p->c));
    return rr_forward_depthwise_rows_run(p);
}

rrconv_status rr_forward_depthwise_rows_f16__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_forward_depthwise_rows_f16_applies(&p->c));
    return rr_forward_depthwise_rows_run(p);
}

/* The tile rows: one compute loop per ISA and src type (float32, bfloat16, float16; the half ones
 * widen in their loads and round each output once, forward_tiles_{bf16,f16}__<isa>.c). */
static rrconv_status run_tiles(const rr_problem *p, rr_isa isa, int dw)
{
    RR_ASSERT(dw ? rr_forward_depthwise_applies(&p->c) : rr_forward_channels_applies(&p->c));
    const rr_dtype t = p->c.dtype;
    const int x = t == RR_DT_BF16 ? 1 : t == RR_DT_F16 ? 2 : 0;
    static const rr_range_fn DW[2][3] = {{rr_fwd_dw_avx2, rr_fwd_dw_bf16_avx2, rr_fwd_dw_f16_avx2},
                                         {rr_fwd_dw_avx512, rr_fwd_dw_bf16_avx512, rr_fwd_dw_f16_avx512}};
    static const rr_range_fn OC[2][3] = {{rr_fwd_oc_avx2, rr_fwd_oc_bf16_avx2, rr_fwd_oc_f16_avx2},
                                         {rr_fwd_oc_avx512, rr_fwd_oc_bf16_avx512, rr_fwd_oc_f16_avx512}};
    const int i = isa == RR_ISA_AVX512;
    const rr_tile_job job = dw ? (rr_tile_job){RR_TILE_DEPTHWISE, DW[i][x], prepare_depthwise}
                               : (rr_tile_job){RR_TILE_CHANNELS, OC[i][x], prepare_channels};
    return rr_tile_run(p, isa, &job);
}

rrconv_status rr_forward_depthwise_tiles__avx512(const rr_problem *p) { return run_tiles(p, RR_ISA_AVX512, 1); }
rrconv_status rr_forward_channel_tiles__avx512(const rr_problem *p) { return run_tiles(p, RR_ISA_AVX512, 0); }
rrconv_status rr_forward_depthwise_tiles__avx2(const rr_problem *p) { return run_tiles(p, RR_ISA_AVX2, 1); }
rrconv_status rr_forward_channel_tiles__avx2(const rr_problem *p) { return run_tiles(p, RR_ISA_AVX2, 0); }

rrconv_status rr_forward_depthwise_tiles_bf16__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_forward_depthwise_tiles_bf16_applies(&p->c));
    return run_tiles(p, RR_ISA_AVX512, 1);
}

rrconv_status rr_forward_depthwise_tiles_f16__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_forward_depthwise_tiles_f16_applies(&p->c));
    return run_tiles(p, RR_ISA_AVX512, 1);
}

rrconv_status rr_forward_channel_tiles_bf16__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_forward_channel_tiles_bf16_applies(&p->c));
    return run_tiles(p, RR_ISA_AVX512, 0);
}

rrconv_status rr_forward_channel_tiles_f16__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_forward_channel_tiles_f16_applies(&p->c));
    return run_tiles(p, RR_ISA_AVX512, 0);
}

rrconv_status rr_forward_depthwise_tiles_bf16__avx2(const rr_problem *p)
{
    RR_ASSERT(rr_forward_depthwise_tiles_bf16_avx2_applies(&p->c));
    return run_tiles(p, RR_ISA_AVX2, 1);
}

rrconv_status rr_forward_depthwise_tiles_f16__avx2(const rr_problem *p)
{
    RR_ASSERT(rr_forward_depthwise_tiles_f16_avx2_applies(&p->c));
    return run_tiles(p, RR_ISA_AVX2, 1);
}

rrconv_status rr_forward_channel_tiles_bf16__avx2(const rr_problem *p)
{
    RR_ASSERT(rr_forward_channel_tiles_bf16_applies(&p->c));
    return run_tiles(p, RR_ISA_AVX2, 0);
}

rrconv_status rr_forward_channel_tiles_f16__avx2(const rr_problem *p)
{
    RR_ASSERT(rr_forward_channel_tiles_f16_applies(&p->c));
    return run_tiles(p, RR_ISA_AVX2, 0);
}

#endif /* RRCONV_X86_KERNELS */
