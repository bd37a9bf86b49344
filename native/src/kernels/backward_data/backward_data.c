/*
 * backward_data.c -- the backward_data rows of the kernel table (kernel_list.inc): their applies()
 * predicates, entry functions and the driver they share: it builds the phase / tap / block plan, packs
 * the weights, then per batch of images runs the mask pass and the compute pass (ISA loops in
 * backward_data_phases__<isa>.c; the plan is described in backward_data_phases.h). Three variants of
 * the plan, each a row per ISA:
 *   phases           any problem: grad_src in stride phases, blocks of lanes, per-tap masks
 *   depthwise_flat   depthwise at stride 1 with OW == IW: blocks over the flattened plane, channels
 *                    per item
 *   depthwise_rows   (AVX-512) depthwise at stride 1, dil_h 1, FH odd 3..13, FW <= 64: row pairs with
 *                    dense masks
 * and the depthwise adjoint (forward's row segment kernel on diff, below). The channels-last rows
 * (nhwc_depthwise, nhwc_channels: per-pixel lists of the active taps, backward_data_nhwc.h) have their
 * own driver, bdn_run.
 */
#include "backward_data_phases.h"
#include "backward_data_nhwc.h"
#include "../common/workspace.h"
#include "../forward/forward.h"
#include "../../half.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Masks of at most this many bytes are live at once (images are processed in batches). */
#define BD_MASK_BUDGET ((int64_t)32 << 20)

/* Every coordinate and offset the vector loops compute in int32 stays below this. */
#define BD_COORD_LIMIT ((int64_t)1 << 29)

#if RRCONV_X86_KERNELS /* the plan drives the AVX2 / AVX-512 loops only (internal.h) */

static int64_t floor_div(int64_t a, int64_t b)
{
    const int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* The generic register tile for icpg input channels per group: icb channels x nbt blocks. */
static void choose_tile(const rr_conv *c, int32_t vl, int32_t *icb, int32_t *nbt)
{
    if (vl == 16) {
        if (c->icpg == 1) { *icb = 1; *nbt = 8; }
        else if (c->icpg == 2) { *icb = 2; *nbt = 8; }
        else if (c->icpg <= 4) { *icb = 4; *nbt = 6; }
        else { *icb = 8; *nbt = 3; }
    } else {
        if (c->icpg == 1) { *icb = 1; *nbt = 5; }
        else if (c->icpg == 2) { *icb = 2; *nbt = 3; }
        else { *icb = 4; *nbt = 2; }
    }
}

/*
 * Taps (kh, kw) reaching phase (rh, rw) whose diff row / column can be inside the output, kh-major; or
 * (!prune, stride 1, the row mode) all taps, kw-major.
 */
static int32_t phase_taps(const rr_conv *c, int64_t rh, int64_t rw, int64_t plane_h, int64_t plane_w, int prune,
                          bd_tap *out)
{
    int32_t nt = 0;
    if (!prune && c->sh == 1 && c->sw == 1) {
        /* row mode: every tap, kw-major (tap kw*FH + kh) */
        for (int64_t kw = 0; kw < c->fw; kw++) {
            for (int64_t kh = 0; kh < c->fh; kh++, nt++) {
                out[nt].offh = (int32_t)(c->ph - kh * c->dh);
                out[nt].offw = (int32_t)(c->pw - kw * c->dw);
                out[nt].doff = out[nt].offh * c->ow + out[nt].offw;
                out[nt].widx = (int32_t)(kh * c->fw + kw);
            }
        }
        return nt;
    }
    for (int64_t kh = 0; kh < c->fh; kh++) {
        const int64_t th = rh + c->ph - kh * c->dh;
        if (((th % c->sh) + c->sh) % c->sh != 0) continue;
        const int64_t offh = floor_div(th, c->sh);
        if (prune && (offh + plane_h - 1 < 0 || offh >= c->oh)) continue;
        for (int64_t kw = 0; kw < c->fw; kw++) {
            const int64_t tw = rw + c->pw - kw * c->dw;
            if (((tw % c->sw) + c->sw) % c->sw != 0) continue;
            const int64_t offw = floor_div(tw, c->sw);
            if (prune && (offw + plane_w - 1 < 0 || offw >= c->ow)) continue;
            out[nt].offh = (int32_t)offh;
            out[nt].offw = (int32_t)offw;
            out[nt].doff = offh * c->ow + offw;
            out[nt].widx = (int32_t)(kh * c->fw + kw);
            nt++;
        }
    }
    return nt;
}

/*
 * Generic: wpack[g][icb][kh*FW+kw][ocg][i] = filter[g, ocg, icb*ICB+i, kh, kw] (0 past ICPG).
 * Depthwise: wpack[cb][kh*FW+kw][i] = filter[cb*CB+i, 0, 0, kh, kw] (0 past G).
 */
static void pack_weights(const rr_problem *p, const bd_plan *pl, float *wp)
{
    const rr_conv *c = &p->c;
    /* filter element i as a float: half filters are widened here, once (exact) */
#define F(i) (c->dtype == RR_DT_F32 ? ((const float *)p->filter.data)[i] : rr_load(p->filter.data, c->dtype, i))
    const int64_t fhw = c->fh * c->fw, icb = pl->icb;
    if (pl->dw) {
        for (int64_t cb = 0; cb < pl->ncb; cb++)
            for (int64_t t = 0; t < fhw; t++)
                for (int64_t i = 0; i < pl->dw_cb; i++) {
                    const int64_t g = cb * pl->dw_cb + i;
                    *wp++ = g < c->groups ? F(g * fhw + t) : 0.0f;
                }
        return;
    }
    for (int64_t g = 0; g < c->groups; g++)
        for (int64_t b = 0; b < pl->nicb; b++)
            for (int64_t t = 0; t < fhw; t++)
                for (int64_t ocg = 0; ocg < c->ocpg; ocg++)
                    for (int64_t i = 0; i < icb; i++) {
                        const int64_t icg = b * icb + i;
                        *wp++ = icg < c->icpg ? F(((g * c->ocpg + ocg) * c->icpg + icg) * fhw + t) : 0.0f;
                    }
#undef F
}

/* The plan's variants (see the top of the file). */
typedef enum bd_variant { BD_PHASES, BD_DEPTHWISE_FLAT, BD_DEPTHWISE_ROWS } bd_variant;

static rrconv_status bd_run(const rr_problem *p, int32_t vl, bd_variant variant)
{
    const rr_conv *c = &p->c;
    rr_workspace a;
    rr_ws_begin(&a, p->op);
    bd_plan pl;
    memset(&pl, 0, sizeof pl);
    pl.p = p;
    pl.vl = vl;
    /* phases that hold grad_src pixels: rh < min(sh, IH), rw < min(sw, IW) */
    const int64_t psh = c->sh < c->ih ? c->sh : c->ih, psw = c->sw < c->iw ? c->sw : c->iw;
    pl.nphases = (int32_t)(psh * psw);
    const int unit = c->sh == 1 && c->sw == 1, depthwise = c->icpg == 1 && c->ocpg == 1;
    (void)depthwise; /* read by the preconditions only */
    pl.dwr = variant == BD_DEPTHWISE_ROWS; /* its masks keep every tap */
    RR_ASSERT(!pl.dwr || (vl == 16 && unit && depthwise && c->dh == 1 && c->fh % 2 == 1 && c->fh >= 3 &&
                          c->fh <= 13 && c->fw <= 64));
    pl.dense_masks = pl.dwr;
    const int flat = unit && c->iw == c->ow && !pl.dwr;
    const int64_t R = RR_BD_DWR_R(c->fh), ncol = ceil_div(c->iw, vl), npairs = ceil_div(ncol, 2);
    choose_tile(c, vl, &pl.icb, &pl.nbt);
    pl.nicb = ceil_div(c->icpg, pl.icb);
    if (pl.dwr) pl.nbt = (int32_t)(2 * R);
    pl.dw = variant == BD_DEPTHWISE_FLAT;
    RR_ASSERT(!pl.dw || (flat && depthwise));
    if (pl.dw) {
        pl.nbt = vl == 16 ? RR_BD_DW_NB_AVX512 : RR_BD_DW_NB_AVX2;
        pl.dw_cb = vl == 16 ? RR_BD_DW_CB_AVX512 : RR_BD_DW_CB_AVX2;
        pl.ncb = ceil_div(c->groups, pl.dw_cb);
    }

    /* Sizes first: blocks and chunks per phase; each tap reaches exactly one phase. */
    int64_t nblocks = 0, nchunks = 0;
    for (int64_t rh = 0; rh < psh; rh++) {
        for (int64_t rw = 0; rw < psw; rw++) {
            const int64_t plane_h = ceil_div(c->ih - rh, c->sh), plane_w = ceil_div(c->iw - rw, c->sw);
            if (pl.dwr) {
                nblocks += npairs * plane_h * 2;
                nchunks += npairs * ceil_div(plane_h, R);
                continue;
            }
            const int64_t nb = flat ? ceil_div(plane_h * plane_w, vl) : plane_h * ceil_div(plane_w, vl);
            nblocks += nb;
            nchunks += ceil_div(nb, pl.nbt);
        }
    }
    pl.phases = (bd_phase *)rr_ws_calloc(&a, pl.nphases, sizeof(bd_phase), "phases");
    pl.taps = (bd_tap *)rr_ws_calloc(&a, c->fh * c->fw, sizeof(bd_tap), "taps");
    pl.blocks = (bd_block *)rr_ws_calloc(&a, nblocks, sizeof(bd_block), "blocks");
    pl.chunks = (bd_chunk *)rr_ws_calloc(&a, nchunks, sizeof(bd_chunk), "chunks");
    const int64_t wcount = pl.dw ? pl.ncb * c->fh * c->fw * pl.dw_cb
                                 : c->groups * pl.nicb * c->fh * c->fw * c->ocpg * pl.icb;
    float *wpack = (float *)rr_ws_calloc(&a, wcount, sizeof(float), "packed weights");
    uint16_t *colmask = (uint16_t *)rr_ws_calloc(&a, pl.dwr ? npairs * 2 * c->fw : 1, sizeof(uint16_t), "column masks");
    if (pl.phases == NULL || pl.taps == NULL || pl.blocks == NULL || pl.chunks == NULL || wpack == NULL ||
        colmask == NULL) {
        rr_ws_end(&a);
        return a.status;
    }

    int32_t ntaps_all = 0;
    int64_t bi = 0, ci = 0, moff = 0, loff = 0;
    for (int64_t rh = 0; rh < psh; rh++) {
        for (int64_t rw = 0; rw < psw; rw++) {
            const int32_t phase = (int32_t)(rh * psw + rw);
            bd_phase *ph = &pl.phases[phase];
            const int64_t plane_h = ceil_div(c->ih - rh, c->sh), plane_w = ceil_div(c->iw - rw, c->sw);
            ph->rh = (int32_t)rh;
            ph->rw = (int32_t)rw;
            ph->plane_w = (int32_t)plane_w;
            ph->flat = flat;
            ph->tap0 = ntaps_all;
            ph->ntaps = phase_taps(c, rh, rw, plane_h, plane_w, !pl.dwr, pl.taps + ntaps_all);
            ntaps_all += ph->ntaps;
            ph->blk0 = bi;
            ph->chunk0 = ci;
            ph->mask_off = moff;
            ph->list_off = loff;
            const int64_t first = bi;
            if (pl.dwr) {
                /* stride 1: the only phase; blocks pair-major, chunks of R rows x 2 column blocks */
                for (int64_t pair = 0; pair < npairs; pair++) {
                    for (int64_t jh0 = 0; jh0 < plane_h; jh0 += R, ci++) {
                        const int64_t rows = plane_h - jh0 < R ? plane_h - jh0 : R;
                        pl.chunks[ci].blk0 = bi;
                        pl.chunks[ci].nb = (int32_t)(2 * rows);
                        pl.chunks[ci].phase = 0;
                        pl.chunks[ci].local = ci;
                        for (int64_t jh = jh0; jh < jh0 + rows; jh++) {
                            for (int64_t j = 0; j < 2; j++, bi++) {
                                bd_block *b = &pl.blocks[bi];
                                const int64_t jw0 = (2 * pair + j) * vl;
                                b->jh0 = (int32_t)jh;
                                b->jw0 = (int32_t)jw0;
                                b->phase = 0;
                                if (jw0 < plane_w) {
                                    b->dbase = jh * c->ow + jw0;
                                    b->obase = jh * c->iw + jw0;
                                    b->nvalid = (int32_t)(plane_w - jw0 < vl ? plane_w - jw0 : vl);
                                }
                            }
                        }
                    }
                }
                for (int64_t col = 0; col < npairs * 2; col++) {
                    for (int64_t kw = 0; kw < c->fw; kw++) {
                        unsigned bits = 0;
                        for (int64_t l = 0; l < vl; l++) {
                            const int64_t iw = col * vl + l, x = iw + c->pw - kw * c->dw;
                            if (iw < c->iw && x >= 0 && x < c->ow) bits |= 1u << l;
                        }
                        colmask[col * c->fw + kw] = (uint16_t)bits;
                    }
                }
            } else if (flat) {
                for (int64_t q0 = 0; q0 < plane_h * plane_w; q0 += vl, bi++) {
                    bd_block *b = &pl.blocks[bi];
                    b->jh0 = (int32_t)(q0 / plane_w);
                    b->jw0 = (int32_t)(q0 % plane_w);
                    b->dbase = q0;
                    b->obase = q0;
                    b->nvalid = (int32_t)(plane_h * plane_w - q0 < vl ? plane_h * plane_w - q0 : vl);
                    b->phase = phase;
                }
            } else {
                for (int64_t jh = 0; jh < plane_h; jh++) {
                    for (int64_t jw0 = 0; jw0 < plane_w; jw0 += vl, bi++) {
                        bd_block *b = &pl.blocks[bi];
                        b->jh0 = (int32_t)jh;
                        b->jw0 = (int32_t)jw0;
                        b->dbase = jh * c->ow + jw0;
                        b->obase = (rh + c->sh * jh) * c->iw + rw + c->sw * jw0;
                        b->nvalid = (int32_t)(plane_w - jw0 < vl ? plane_w - jw0 : vl);
                        b->phase = phase;
                    }
                }
            }
            ph->nblk = bi - first;
            for (int64_t b0 = first; b0 < bi && !pl.dwr; b0 += pl.nbt, ci++) {
                pl.chunks[ci].blk0 = b0;
                pl.chunks[ci].nb = (int32_t)(bi - b0 < pl.nbt ? bi - b0 : pl.nbt);
                pl.chunks[ci].phase = phase;
                pl.chunks[ci].local = ci - ph->chunk0;
            }
            moff += (ci - ph->chunk0) * ph->ntaps * pl.nbt;
            loff += (ci - ph->chunk0) * ph->ntaps;
        }
    }
    pl.nblocks = nblocks;
    pl.nchunks = nchunks;
    pl.masks_per_image = moff;
    pl.lists_per_image = loff;

    const int64_t mbytes = vl == 16 ? 2 : 1;
    int64_t per_img = moff * mbytes + (loff + nchunks) * 4;
    int64_t batch = BD_MASK_BUDGET / per_img;
    if (batch < 1) batch = 1;
    if (batch > c->n) batch = c->n;
    pl.masks = rr_ws_calloc(&a, batch * moff, mbytes, "masks");
    pl.lists = (int32_t *)rr_ws_calloc(&a, batch * loff, sizeof(int32_t), "tap lists");
    pl.counts = (int32_t *)rr_ws_calloc(&a, batch * nchunks, sizeof(int32_t), "tap counts");
    if (pl.masks == NULL || pl.lists == NULL || pl.counts == NULL) {
        rr_ws_end(&a);
        return a.status;
    }
    pack_weights(p, &pl, wpack);
    pl.wpack = wpack;
    pl.colmask = colmask;
    if (c->sw >= 2 && c->sw <= 4) {
        for (int64_t r = 0; r < c->sw; r++) {
            for (int64_t q = 0; q < 16; q++) {
                const int64_t pos = 16 * r + q;
                pl.stride_idx[r][q] = (int32_t)(pos / c->sw);
                if (pos % c->sw == 0) pl.stride_mask[r] |= (uint16_t)(1u << q);
            }
        }
    }
    pl.finite_w = 1;
    for (int64_t i = 0; i < wcount; i++) {
        if (!isfinite(wpack[i])) {
            pl.finite_w = 0;
            break;
        }
    }

    const rr_range_fn masks_fn = vl == 16 ? rr_bd_masks_avx512 : rr_bd_masks_avx2;
    /* the compute pass of the ISA and diff's type (half: widened in its loads, rounded when stored) */
    const rr_dtype t = c->dtype;
    RR_ASSERT(t == RR_DT_F32 || (vl == 16 && !pl.dwr)); /* half diff: the AVX-512 compute pass only */
    const rr_range_fn compute_fn = pl.dwr                ? rr_bd_dwr_avx512
                                 : vl == 8               ? rr_bd_compute_avx2
                                 : t == RR_DT_BF16       ? rr_bd_compute_bf16_avx512
                                 : t == RR_DT_F16        ? rr_bd_compute_f16_avx512
                                                         : rr_bd_compute_avx512;
    for (int64_t n0 = 0; n0 < c->n; n0 += batch) {
        pl.n0 = n0;
        pl.nimg = c->n - n0 < batch ? c->n - n0 : batch;
        rr_parallel_for(pl.nimg * nchunks, masks_fn, &pl);
        rr_parallel_for(pl.dw ? pl.nimg * nchunks * pl.ncb
                              : pl.dwr ? pl.nimg * c->groups * nchunks : pl.nimg * c->groups * nchunks * pl.nicb,
                        compute_fn, &pl);
    }
    rr_ws_end(&a);
    return RRCONV_OK;
}

/*
 * Depthwise at stride 1 with the row segment kernel's widths (FW 3..13 odd, 31) and "same" column
 * padding (pad_w = (FW-1)/2 = P, dil_w 1):
 * the gradient is itself a stride-1 correlation,
 *   grad_src[ih][iw] = sum over (kh, kw) of w[FH-1-kh][FW-1-kw] * diff[ih - ph' + kh*dh][iw - P + kw]
 *                      * [rin(ih, iw) == rout(that pixel)],   ph' = (FH-1)*dh - ph,
 * i.e. a forward problem with diff as its input, grad_src as its output, the filter flipped and rin /
 * rout swapped, which the forward row segment kernel (forward/forward_depthwise_rows__avx512.c) runs
 * faster than the backward-data loops. Taps are summed in the flipped order.
 */
rrconv_status rr_backward_data_depthwise_adjoint_rows__avx512(const rr_problem *p)
{
    const rr_conv *c = &p->c;
    RR_ASSERT(rr_backward_data_depthwise_adjoint_rows_applies(c));
    const int64_t taps = c->fh * c->fw, count = c->groups * taps;
    rr_workspace ws;
    rr_ws_begin(&ws, p->op);
    /* float32, or half bit patterns (the forward kernel widens them when it packs the filter) */
    const int half = c->dtype != RR_DT_F32;
    void *flipped = rr_ws_alloc(&ws, count, half ? 2 : 4, "the flipped filter");
    if (flipped == NULL) {
        rr_ws_end(&ws);
        return ws.status;
    }
    if (half) {
        const uint16_t *w = (const uint16_t *)p->filter.data;
        uint16_t *f = (uint16_t *)flipped;
        for (int64_t g = 0; g < c->groups; g++)
            for (int64_t t = 0; t < taps; t++) f[g * taps + t] = w[g * taps + (taps - 1 - t)];
    } else {
        const float *w = (const float *)p->filter.data;
        float *f = (float *)flipped;
        for (int64_t g = 0; g < c->groups; g++)
            for (int64_t t = 0; t < taps; t++) f[g * taps + t] = w[g * taps + (taps - 1 - t)];
    }
    rr_problem q = rr_adjoint_problem(p);
    q.filter.data = flipped;
    const rrconv_status st = rr_forward_depthwise_rows_run(&q);
    rr_ws_end(&ws);
    return st;
}

rrconv_status rr_backward_data_depthwise_adjoint_rows_bf16__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_depthwise_adjoint_rows_bf16_applies(&p->c));
    return rr_backward_data_depthwise_adjoint_rows__avx512(p);
}

rrconv_status rr_backward_data_depthwise_adjoint_rows_f16__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_depthwise_adjoint_rows_f16_applies(&p->c));
    return rr_backward_data_depthwise_adjoint_rows__avx512(p);
}

rrconv_status rr_backward_data_depthwise_rows__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_depthwise_rows_applies(&p->c));
    return bd_run(p, 16, BD_DEPTHWISE_ROWS);
}

rrconv_status rr_backward_data_depthwise_flat__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_depthwise_flat_applies(&p->c));
    return bd_run(p, 16, BD_DEPTHWISE_FLAT);
}

rrconv_status rr_backward_data_phases__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_phases_applies(&p->c));
    return bd_run(p, 16, BD_PHASES);
}

rrconv_status rr_backward_data_depthwise_flat__avx2(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_depthwise_flat_applies(&p->c));
    return bd_run(p, 8, BD_DEPTHWISE_FLAT);
}

rrconv_status rr_backward_data_phases__avx2(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_phases_applies(&p->c));
    return bd_run(p, 8, BD_PHASES);
}


rrconv_status rr_backward_data_phases_bf16__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_phases_bf16_applies(&p->c));
    return bd_run(p, 16, BD_PHASES); /* the compute pass of diff's type */
}

rrconv_status rr_backward_data_depthwise_flat_bf16__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_depthwise_flat_bf16_applies(&p->c));
    return bd_run(p, 16, BD_DEPTHWISE_FLAT); /* the compute pass of diff's type */
}

rrconv_status rr_backward_data_phases_f16__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_phases_f16_applies(&p->c));
    return bd_run(p, 16, BD_PHASES); /* the compute pass of diff's type */
}

rrconv_status rr_backward_data_depthwise_flat_f16__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_depthwise_flat_f16_applies(&p->c));
    return bd_run(p, 16, BD_DEPTHWISE_FLAT); /* the compute pass of diff's type */
}

/* ---- channels-last rows (backward_data_nhwc.h) ------------------------------------------------- */

static int64_t round_up16(int64_t v)
{
    return (v + 15) / 16 * 16;
}

static rrconv_status bdn_run(const rr_problem *p, int avx512, int depthwise)
{
    const rr_conv *c = &p->c;
    RR_ASSERT(c->layout == RR_LAYOUT_NHWC && c->mode == RRCONV_CROSS_CORRELATION &&
              c->mask_type == RRCONV_MASK_INT32 && c->fh * c->fw <= RR_BDN_MAX_TAPS);
    bdn_plan pl;
    memset(&pl, 0, sizeof pl);
    pl.p = p;
    const int64_t taps = c->fh * c->fw;
    pl.cp = round_up16(depthwise ? c->groups : c->icpg);
    pl.wtap = depthwise ? pl.cp : c->ocpg * pl.cp;
    pl.wgroup = taps * pl.wtap;
    pl.fwq = (int32_t)round_up16(c->fw);
    pl.contig = c->sw == 1 && c->dw == 1;
    rr_workspace ws;
    rr_ws_begin(&ws, p->op);
    float *wpack = (float *)rr_ws_calloc(&ws, depthwise ? pl.wgroup : c->groups * pl.wgroup, sizeof(float),
                                         "packed weights");
    int32_t *col_n = (int32_t *)rr_ws_calloc(&ws, c->iw, sizeof(int32_t), "column counts");
    int32_t *cols = (int32_t *)rr_ws_calloc(&ws, 3 * c->iw * pl.fwq, sizeof(int32_t), "column lists");
    if (wpack == NULL || col_n == NULL || cols == NULL) {
        rr_ws_end(&ws);
        return ws.status;
    }
    const float *f = (const float *)p->filter.data;
    if (depthwise) {
        for (int64_t g = 0; g < c->groups; g++)
            for (int64_t t = 0; t < taps; t++) wpack[t * pl.cp + g] = f[g * taps + t];
    } else {
        for (int64_t g = 0; g < c->groups; g++)
            for (int64_t ocg = 0; ocg < c->ocpg; ocg++)
                for (int64_t icg = 0; icg < c->icpg; icg++)
                    for (int64_t t = 0; t < taps; t++)
                        wpack[g * pl.wgroup + t * pl.wtap + ocg * pl.cp + icg] =
                            f[((g * c->ocpg + ocg) * c->icpg + icg) * taps + t];
    }
    int32_t *col_ow = cols, *col_d = cols + c->iw * pl.fwq, *col_w = cols + 2 * c->iw * pl.fwq;
    for (int64_t iw = 0; iw < c->iw; iw++) {
        int32_t n = 0;
        for (int64_t kw = c->fw - 1; kw >= 0; kw--) { /* ow ascending */
            const int64_t t = iw + c->pw - kw * c->dw;
            if (t < 0 || t % c->sw != 0 || t / c->sw >= c->ow) continue;
            const int64_t ow = t / c->sw, at = iw * pl.fwq + n++;
            col_ow[at] = (int32_t)ow;
            col_d[at] = (int32_t)(ow * c->oc);
            col_w[at] = (int32_t)(kw * pl.wtap);
        }
        col_n[iw] = n;
    }
    pl.wpack = wpack;
    pl.col_n = col_n;
    pl.col_ow = col_ow;
    pl.col_d = col_d;
    pl.col_w = col_w;
    const rr_range_fn fn = avx512 ? (depthwise ? rr_bdn_depthwise_avx512 : rr_bdn_channels_avx512)
                                  : (depthwise ? rr_bdn_depthwise_avx2 : rr_bdn_channels_avx2);
    rr_parallel_for(c->n * c->ih, fn, &pl);
    rr_ws_end(&ws);
    return RRCONV_OK;
}

rrconv_status rr_backward_data_nhwc_depthwise__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_nhwc_depthwise_applies(&p->c));
    return bdn_run(p, 1, 1);
}

rrconv_status rr_backward_data_nhwc_channels__avx512(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_nhwc_channels_applies(&p->c));
    return bdn_run(p, 1, 0);
}

rrconv_status rr_backward_data_nhwc_depthwise__avx2(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_nhwc_depthwise_applies(&p->c));
    return bdn_run(p, 0, 1);
}

rrconv_status rr_backward_data_nhwc_channels__avx2(const rr_problem *p)
{
    RR_ASSERT(rr_backward_data_nhwc_channels_applies(&p->c));
    return bdn_run(p, 0, 0);
}

#endif /* RRCONV_X86_KERNELS */

/* ---- applies() --------------------------------------------------------------------------------- */

/* What every backward-data plan needs: coordinates in int32 lanes, bounded phase counts and mask work. */
int rr_backward_data_phases_applies(const rr_conv *c)
{
    const int64_t lim = BD_COORD_LIMIT;
    if (c->ih >= lim || c->iw >= lim || c->oh >= lim || c->ow >= lim || c->ph >= lim || c->pw >= lim ||
        (c->fh - 1) * c->dh >= lim || (c->fw - 1) * c->dw >= lim || c->fh * c->fw >= lim) {
        return 0;
    }
    /* one phase per (ih mod sh, iw mod sw) that holds pixels: absurd strides go to the reference */
    const int64_t psh = c->sh < c->ih ? c->sh : c->ih, psw = c->sw < c->iw ? c->sw : c->iw;
    if (psh * psw > ((int64_t)1 << 20)) return 0;
    /* The mask pass visits every (grad_src block, tap of its phase) pair: for a filter far larger
     * than the output (the fuzzer's FW 65535 over a one-pixel output) that is IW * FW / 16 steps for
     * a handful of multiply-adds. The reference loop computes each pixel's valid taps instead. */
    const double mask_steps = ((double)c->ih * (double)c->iw / 16.0 + 1.0) * (double)((c->fh + c->sh - 1) / c->sh) *
                              (double)((c->fw + c->sw - 1) / c->sw);
    const double macs = (double)c->ic * (double)c->ocpg * (double)c->oh * (double)c->ow * (double)c->fh * (double)c->fw;
    /* Building the plan scans, per phase, every kh and the kw of the kh that fall on it: for as many
     * phases as a stride as tall as the image (the fuzzer's IH = FH = SH = 65535 over one output pixel:
     * 65535 phases x 65535 kh, minutes) that dwarfs the multiply-adds too. */
    const double tap_scan = (double)psh * (double)psw *
                            ((double)c->fh + (double)((c->fh + c->sh - 1) / c->sh) * (double)c->fw);
    return !(mask_steps > 64.0 * macs + 4194304.0) && !(tap_scan > 64.0 * macs + 4194304.0);
}

int rr_backward_data_depthwise_flat_applies(const rr_conv *c)
{
    return rr_backward_data_phases_applies(c) && c->sh == 1 && c->sw == 1 && c->iw == c->ow && c->icpg == 1 &&
           c->ocpg == 1;
}

int rr_backward_data_depthwise_rows_applies(const rr_conv *c)
{
    return rr_backward_data_phases_applies(c) && c->sh == 1 && c->sw == 1 && c->icpg == 1 && c->ocpg == 1 &&
           c->dh == 1 && c->fh % 2 == 1 && c->fh >= 3 && c->fh <= 13 && c->fw <= 64;
}

int rr_backward_data_depthwise_adjoint_rows_applies(const rr_conv *c)
{
    const int64_t php = (c->fh - 1) * c->dh - c->ph;
    return rr_backward_data_phases_applies(c) && c->sh == 1 && rr_forward_depthwise_rows_fits(c) &&
           php > -BD_COORD_LIMIT && php < BD_COORD_LIMIT;
}

/* Depthwise NCHW calls with at least this many filter taps (and 16 channels) run the channels-last row. */
#define BDN_NCHW_MIN_TAPS 625

/* What the channels-last rows need: a list of at most RR_BDN_MAX_TAPS taps per pixel, every diff and
 * packed-weight offset of an image in int32, column lists of a bounded size. */
static int bdn_fits(const rr_conv *c, int64_t wtap)
{
    const double lim = (double)((int64_t)1 << 30);
    return c->fh * c->fw <= RR_BDN_MAX_TAPS && (double)c->oh * (double)c->ow * (double)c->oc < lim &&
           (double)(c->fh * c->fw) * (double)wtap < lim && (double)c->iw * (double)(c->fw + 15) < lim / 16.0;
}

int rr_backward_data_nhwc_depthwise_applies(const rr_conv *c)
{
    if (c->icpg != 1 || c->ocpg != 1) return 0;
    const int64_t cp = (c->groups + 15) / 16 * 16;
    if (!bdn_fits(c, cp)) return 0;
    /* An NCHW call pays two transpositions (diff in, grad_src out; about 5 ms on DW-K13, 1 thread): with
     * FH*FW >= 625 the skipped taps save more than that (DW-K31 random masks: 34 against 38 ms for the
     * NCHW adjoint rows, superpixel masks 16 against 37 ms; DW-K13: 12 against 8 ms). */
    return c->layout == RR_LAYOUT_NHWC || (c->groups >= 16 && c->fh * c->fw >= BDN_NCHW_MIN_TAPS);
}

int rr_backward_data_nhwc_channels_applies(const rr_conv *c)
{
    if (c->icpg == 1 && c->ocpg == 1) return 0;
    const int64_t cp = (c->icpg + 15) / 16 * 16;
    return c->layout == RR_LAYOUT_NHWC && bdn_fits(c, c->ocpg * cp);
}

/* The per-tap GEMM of the forward conv a stride-1 backward data is (backward_data_nhwc_tapgemm__avx512.c):
 * the forward row's sizes with ICPG and OCPG swapped, and a padding dil*(F-1) - pad >= 0 on that conv. */
int rr_backward_data_nhwc_tapgemm_applies(const rr_conv *c)
{
    return c->layout == RR_LAYOUT_NHWC && c->sh == 1 && c->sw == 1 && c->ocpg >= 8 && c->icpg >= 16 &&
           c->fh * c->fw <= RR_TAPGEMM_MAX_TAPS && c->ph <= c->dh * (c->fh - 1) && c->pw <= c->dw * (c->fw - 1);
}

/* The phases and flat depthwise rows on half data (diff widened in the compute pass's loads). */
static int half_call_of(const rr_conv *c, rr_dtype t)
{
    return c->dtype == t && (c->out_dtype == t || c->out_dtype == RR_DT_F32);
}

int rr_backward_data_phases_bf16_applies(const rr_conv *c)
{
    return half_call_of(c, RR_DT_BF16) && rr_backward_data_phases_applies(c);
}

int rr_backward_data_phases_f16_applies(const rr_conv *c)
{
    return half_call_of(c, RR_DT_F16) && rr_backward_data_phases_applies(c);
}

int rr_backward_data_depthwise_flat_bf16_applies(const rr_conv *c)
{
    return half_call_of(c, RR_DT_BF16) && rr_backward_data_depthwise_flat_applies(c);
}

int rr_backward_data_depthwise_flat_f16_applies(const rr_conv *c)
{
    return half_call_of(c, RR_DT_F16) && rr_backward_data_depthwise_flat_applies(c);
}

/* The adjoint on half data: bfloat16 / float16 inputs, output of that type or float32. */
int rr_backward_data_depthwise_adjoint_rows_bf16_applies(const rr_conv *c)
{
    return c->dtype == RR_DT_BF16 && (c->out_dtype == RR_DT_BF16 || c->out_dtype == RR_DT_F32) &&
           rr_backward_data_depthwise_adjoint_rows_applies(c);
}

int rr_backward_data_depthwise_adjoint_rows_f16_applies(const rr_conv *c)
{
    return c->dtype == RR_DT_F16 && (c->out_dtype == RR_DT_F16 || c->out_dtype == RR_DT_F32) &&
           rr_backward_data_depthwise_adjoint_rows_applies(c);
}
