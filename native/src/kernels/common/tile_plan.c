/*
 * tile_plan.c -- the tile plan's driver (tile_plan.h): tap tables, phase planes, chunks of masks, and
 * the two parallel passes per chunk (masks, then the job's compute loop). The forward tile and row
 * segment kernels and the backward-filter row segment kernel each run it with their own job.
 * Scratch (phase planes, masks, the job's data) comes from the workspace before anything is written;
 * the masks are computed in chunks of tiles so their memory stays bounded for huge images.
 */
#define _POSIX_C_SOURCE 200809L

#include "tile_plan.h"
#include "workspace.h"

#include <stdatomic.h>
#include <string.h>

#define TILE_MASK_BUDGET ((int64_t)4 << 20) /* bytes of masks per chunk */
#define TILE_SERIAL_MACS 65536.0             /* below this many multiply-adds: no worker threads */
#define TILE_COORD_LIMIT ((int64_t)1 << 28)  /* lane coordinates are int32 */

/* The chunk budget the tests set to run huge-image chunking on small problems (0: the default). The
 * one piece of global mutable state here, for that reason only. */
static _Atomic int64_t tile_mask_budget_for_tests;

void rr_tile_set_mask_budget(int64_t bytes)
{
    atomic_store(&tile_mask_budget_for_tests, bytes > 0 ? bytes : 0);
}

/* The tile plan's size limits (coordinates in int32 lanes, bounded scratch). */
int rr_tile_geometry_fits(const rr_conv *c)
{
    const int64_t lim = TILE_COORD_LIMIT;
    if (c->ih >= lim || c->iw >= lim || c->oh >= lim || c->ow >= lim || c->ph >= lim || c->pw >= lim ||
        c->sh >= lim || c->sw >= lim || c->oh * c->sh >= lim || c->ow * c->sw >= lim ||
        (c->fh - 1) >= lim / c->dh || (c->fw - 1) >= lim / c->dw || c->fh * c->fw >= lim)
        return 0;
    /* Phase planes hold sw * ceil(iw/sw) columns per row: < 2*iw while sw <= iw. A stride much wider
     * than the image (one output column) would make them grow with the stride (found by the fuzzer:
     * 34 GB of scratch for 65535 1x1 images at stride_w 65535): the reference loop takes it. */
    return !(c->sw > c->iw && c->sw > 64);
}

#if RRCONV_X86_KERNELS /* the plan drives the AVX2 / AVX-512 loops only (internal.h) */

/* ---- phase planes (stride_w > 1) ------------------------------------------------------------- */

typedef struct phase_ctx {
    const rr_tile_plan *pl;
    const void *src;       /* normalized src [N][IC][IH][IW], of type c.dtype (float32 or a half type) */
    void *src_pk;          /* its phase planes, the same type (the half rows read half data) */
    const int32_t *rin;    /* normalized rin [N][IH][IW] */
    int32_t *rin_pk;
    const uint8_t *row_used;   /* [IH]: some tap reads this input row */
    const uint8_t *phase_used; /* [sw]: some tap reads this phase */
} phase_ctx;

/* Items: rows (n, ic, ih) of src, then rows (n, ih) of rin. Unused slots are zeroed; rows and
 * phases that no tap reads are left alone (never read). */
static void phase_rows(void *vctx, int64_t begin, int64_t end)
{
    const phase_ctx *x = (const phase_ctx *)vctx;
    const rr_conv *c = &x->pl->c;
    const int64_t sw = c->sw, pw = x->pl->pw, plane = x->pl->plane;
    const int64_t src_rows = c->n * c->ic * c->ih;
    for (int64_t row = begin; row < end; row++) {
        if (!x->row_used[row % c->ih]) continue;
        if (row < src_rows) {
            if (x->src_pk == NULL) continue; /* src came in phase planes */
            const int64_t nc = row / c->ih, ih = row % c->ih;
            const int64_t d0 = nc * x->pl->src_chan + ih * pw;
            for (int64_t r = 0; r < sw; r++) {
                if (!x->phase_used[r]) continue;
                if (c->dtype == RR_DT_F32) {
                    const float *s = (const float *)x->src + row * c->iw;
                    float *dr = (float *)x->src_pk + d0 + r * plane;
                    int64_t j = 0;
                    for (int64_t iw = r; iw < c->iw; iw += sw) dr[j++] = s[iw];
                    for (; j < pw; j++) dr[j] = 0.0f;
                } else { /* half bit patterns, copied as they are */
                    const uint16_t *s = (const uint16_t *)x->src + row * c->iw;
                    uint16_t *dr = (uint16_t *)x->src_pk + d0 + r * plane;
                    int64_t j = 0;
                    for (int64_t iw = r; iw < c->iw; iw += sw) dr[j++] = s[iw];
                    for (; j < pw; j++) dr[j] = 0;
                }
            }
        } else {
            const int64_t r2 = row - src_rows, n = r2 / c->ih, ih = r2 % c->ih;
            const int32_t *s = x->rin + r2 * c->iw;
            int32_t *d = x->rin_pk + n * sw * plane + ih * pw;
            for (int64_t r = 0; r < sw; r++) {
                if (!x->phase_used[r]) continue;
                int32_t *dr = d + r * plane;
                int64_t j = 0;
                for (int64_t iw = r; iw < c->iw; iw += sw) dr[j++] = s[iw];
                for (; j < pw; j++) dr[j] = 0;
            }
        }
    }
}

/* ---- the driver ------------------------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    const int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

rrconv_status rr_tile_run(const rr_problem *p, rr_isa isa, const rr_tile_job *job)
{
    const rr_conv *c = &p->c;
    rr_tile_plan pl;
    rr_workspace s;
    RR_ASSERT(isa == RR_ISA_AVX512 || isa == RR_ISA_AVX2);
    const int channels = job->kind == RR_TILE_CHANNELS || job->kind == RR_TILE_CHANNELS_PHASED;
    const int phased = job->kind == RR_TILE_CHANNELS_PHASED; /* src comes in phase planes */
    RR_ASSERT(channels || (c->icpg == 1 && c->ocpg == 1));
    RR_ASSERT(channels || job->kind == RR_TILE_DEPTHWISE || isa == RR_ISA_AVX512);
    RR_ASSERT(!phased || (isa == RR_ISA_AVX512 && c->dtype == RR_DT_F32));
    RR_ASSERT(c->mode == RRCONV_CROSS_CORRELATION && c->mask_type == RRCONV_MASK_INT32);
    memset(&pl, 0, sizeof pl);
    rr_ws_begin(&s, p->op);
    pl.c = *c;
    pl.lanes = isa == RR_ISA_AVX512 ? 16 : 8;
    const int filter_grad = job->kind == RR_TILE_FILTER_GRAD_ROWS || job->kind == RR_TILE_FILTER_GRAD_FLAT;
    const int dw = !channels;
    const int dwrow = job->kind == RR_TILE_DEPTHWISE_ROWS || job->kind == RR_TILE_FILTER_GRAD_ROWS;
    pl.vertical = job->kind == RR_TILE_DEPTHWISE && isa == RR_ISA_AVX512 && c->sh == 1 && c->dh == 1 && c->oh >= 2;
    pl.flat = !pl.vertical && !dwrow && c->sh == 1 && c->sw == 1 && c->ow == c->iw;
    pl.pw = (c->iw + c->sw - 1) / c->sw;
    pl.plane = c->ih * pl.pw;
    pl.src_chan = c->sw * pl.plane;
    pl.bpr = (c->ow + pl.lanes - 1) / pl.lanes;
    pl.bpi = pl.flat ? (c->oh * c->ow + pl.lanes - 1) / pl.lanes : c->oh * pl.bpr;
    pl.tpi = pl.vertical ? (c->oh + 1) / 2 * pl.bpr : (pl.bpi + 1) / 2;
    pl.taps = c->fh * c->fw;
    pl.rout = (const int32_t *)p->rout.data;
    pl.dst = filter_grad ? NULL : p->out.data;
    pl.diff = filter_grad ? (const float *)p->diff.data : NULL;
    const int64_t mask_esize = isa == RR_ISA_AVX512 ? 2 : 1;
    const int64_t total_tiles = c->n * pl.tpi;
    const int64_t tile_bytes = 2 * pl.taps * mask_esize;
    const int64_t budget = atomic_load(&tile_mask_budget_for_tests);
    int64_t chunk = (budget > 0 ? budget : TILE_MASK_BUDGET) / tile_bytes;
    if (chunk < 1) chunk = 1;
    if (chunk > total_tiles) chunk = total_tiles;

    /* tables */
    int64_t *toff = (int64_t *)rr_ws_alloc(&s, pl.taps + c->fh + 2 * c->fw, 8, "the tap tables");
    if (toff == NULL) goto fail;
    int32_t *khoff = (int32_t *)(toff + pl.taps), *q = khoff + c->fh, *lr = q + c->fw;
    for (int64_t kh = 0; kh < c->fh; kh++) khoff[kh] = (int32_t)(kh * c->dh - c->ph);
    for (int64_t kw = 0; kw < c->fw; kw++) {
        const int64_t off = kw * c->dw - c->pw, qq = floor_div(off, c->sw), r = off - qq * c->sw;
        q[kw] = (int32_t)qq;
        lr[kw] = (int32_t)(r < c->iw ? (c->iw - r + c->sw - 1) / c->sw : 0);
        for (int64_t kh = 0; kh < c->fh; kh++) toff[kh * c->fw + kw] = khoff[kh] * pl.pw + r * pl.plane + qq;
    }
    pl.toff = toff;
    pl.khoff = khoff;
    pl.q = q;
    pl.lr = lr;

    /* src and rin in phase planes */
    if (c->sw > 1) {
        phase_ctx x;
        x.pl = &pl;
        x.src = p->src.data;
        x.rin = (const int32_t *)p->rin.data;
        const int64_t es = c->dtype == RR_DT_F32 ? 4 : 2;
        x.src_pk = phased ? NULL : rr_ws_alloc(&s, c->n * c->ic * pl.src_chan, es, "src phase planes");
        if (x.src_pk == NULL && !phased) goto fail;
        x.rin_pk = (int32_t *)rr_ws_alloc(&s, c->n * pl.src_chan, 4, "rin phase planes");
        if (x.rin_pk == NULL) goto fail;
        uint8_t *used = (uint8_t *)rr_ws_alloc(&s, c->ih + c->sw, 1, "row flags");
        if (used == NULL) goto fail;
        memset(used, 0, (size_t)(c->ih + c->sw));
        for (int64_t kh = 0; kh < c->fh; kh++) {
            for (int64_t oh = 0; oh < c->oh; oh++) {
                const int64_t ih = oh * c->sh + khoff[kh];
                if (ih >= 0 && ih < c->ih) used[ih] = 1;
            }
        }
        for (int64_t kw = 0; kw < c->fw; kw++) used[c->ih + (kw * c->dw - c->pw - (int64_t)q[kw] * c->sw)] = 1;
        x.row_used = used;
        x.phase_used = used + c->ih;
        pl.src = phased ? (const float *)p->src.data : (const float *)x.src_pk;
        pl.rin = x.rin_pk;
        /* allocate everything before the first parallel pass; run it below */
        void *masks = rr_ws_alloc(&s, chunk * 2 * pl.taps, mask_esize, "tap masks");
        if (masks == NULL) goto fail;
        pl.masks = masks;
        pl.tiles = (rr_tile *)rr_ws_alloc(&s, chunk, (int64_t)sizeof(rr_tile), "tile table");
        if (pl.tiles == NULL) goto fail;
        rr_parallel_for(c->n * (c->ic + 1) * c->ih, phase_rows, &x); /* phased: rin's rows only */
    } else {
        pl.src = (const float *)p->src.data;
        pl.rin = (const int32_t *)p->rin.data;
        pl.masks = rr_ws_alloc(&s, chunk * 2 * pl.taps, mask_esize, "tap masks");
        if (pl.masks == NULL) goto fail;
        pl.tiles = (rr_tile *)rr_ws_alloc(&s, chunk, (int64_t)sizeof(rr_tile), "tile table");
        if (pl.tiles == NULL) goto fail;
    }

    /* the job's own data: packed weights (forward), partial sums (filter gradient) */
    if (job->prepare(&pl, p, isa, chunk < total_tiles, &s) != RRCONV_OK) goto fail;

    const rr_range_fn masks_fn = isa == RR_ISA_AVX512 ? rr_tile_masks_avx512 : rr_tile_masks_avx2;
    const rr_range_fn compute_fn = job->compute;
    const int64_t blocks = dw ? pl.ncb : c->groups * pl.nob;
    /* waking the workers costs microseconds: tiny problems run on the calling thread */
    const double macs = (double)c->n * (double)c->oc * (double)(c->oh * c->ow) * (double)c->icpg * (double)pl.taps;
    const int small = macs < TILE_SERIAL_MACS;
    for (int64_t t0 = 0; t0 < total_tiles; t0 += chunk) {
        pl.tile0 = t0;
        pl.ntiles = total_tiles - t0 < chunk ? total_tiles - t0 : chunk;
        pl.first_chunk = t0 == 0;
        pl.last_chunk = t0 + pl.ntiles == total_tiles;
        /* spans of tiles: long enough to amortize an item's setup, enough items to share */
        pl.span = pl.ntiles / 8 < 1 ? 1 : pl.ntiles / 8 > 32 ? 32 : pl.ntiles / 8;
        pl.nspans = (pl.ntiles + pl.span - 1) / pl.span;
        /* forward items: (channel block, span); filter gradient items: channel blocks (all tiles) */
        const int64_t items = filter_grad ? blocks : blocks * pl.nspans;
        if (small) {
            masks_fn(&pl, 0, pl.ntiles);
            compute_fn(&pl, 0, items);
        } else {
            rr_parallel_for(pl.ntiles, masks_fn, &pl);
            rr_parallel_for(items, compute_fn, &pl);
        }
    }
    rr_ws_end(&s);
    return RRCONV_OK;
fail:
    rr_ws_end(&s);
    return s.status != RRCONV_OK ? s.status : RRCONV_OUT_OF_MEMORY;
}


#endif /* RRCONV_X86_KERNELS */
