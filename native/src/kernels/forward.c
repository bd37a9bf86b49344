/*
 * forward.c -- picks the fast forward kernel (see kernels.h) and sets up its plan.
 *
 * One direct kernel family covers dense, grouped and depthwise forward convolutions with any
 * stride, dilation and padding (forward_direct.h explains the plan). Two inner loops:
 *   oc  (ICPG > 1 or OCPG > 1): per item a tile x up to 12 output channels of one group; per tap
 *       and input channel one masked load per block feeds up to 12 broadcast FMAs;
 *   dw  (ICPG == OCPG == 1): per item a tile x up to 12 channels, one mask per tap for all of them;
 *       on AVX-512 with FW 3..13 (odd) or 31, pad_w (FW-1)/2, stride_w 1, dil_w 1 the row segment kernel
 *       (forward_dwrow__avx512.c) runs instead: input rows are read in aligned-to-the-tile
 *       segments and the taps' windows are lane rotations of them, not one unaligned load each.
 * Scratch (phase planes, packed weights, masks) is allocated before anything is written; the
 * masks are computed in chunks of tiles so their memory stays bounded for huge images.
 */
#define _POSIX_C_SOURCE 200809L

#include "forward_direct.h"
#include "portable/portable.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Register tiles (see the ISA files): output channels per oc item, channels per depthwise item. */
#define FWD_MAX_OCB(isa) ((isa) == RR_ISA_AVX512 ? 12 : 5)
#define FWD_MAX_CB(isa) ((isa) == RR_ISA_AVX512 ? 12 : 4)
#define FWD_MASK_BUDGET ((int64_t)4 << 20) /* bytes of masks per chunk */
#define FWD_COORD_LIMIT ((int64_t)1 << 28) /* lane coordinates are int32 */
#define FWD_SERIAL_MACS 65536.0             /* below this many multiply-adds: no worker threads */

/* The chunk budget the tests set to run huge-image chunking on small problems (0: the default). The
 * one piece of global mutable state here, for that reason only. */
static _Atomic int64_t fwd_mask_budget_for_tests;

void rr_forward_set_mask_budget(int64_t bytes)
{
    atomic_store(&fwd_mask_budget_for_tests, bytes > 0 ? bytes : 0);
}

#if RRCONV_X86_KERNELS /* the plan drives the AVX2 / AVX-512 loops only (internal.h) */

/* ---- scratch --------------------------------------------------------------------------------- */

typedef struct fwd_scratch {
    void *blocks[8];
    int count;
    rrconv_status status; /* of the failed allocation */
    const char *op;       /* the public function the plan runs for, for messages */
} fwd_scratch;

static void *fwd_alloc(fwd_scratch *s, int64_t count, int64_t esize, const char *what)
{
    int64_t bytes;
    if (count < 1) count = 1;
    if (s->count >= (int)(sizeof s->blocks / sizeof s->blocks[0])) {
        s->status = rr_fail(RRCONV_INTERNAL_ERROR, "%s: too many scratch blocks (%s)", s->op, what);
        return NULL;
    }
    if (__builtin_mul_overflow(count, esize, &bytes) || __builtin_add_overflow(bytes, 63, &bytes) ||
        (uint64_t)bytes > SIZE_MAX) {
        s->status = rr_fail(RRCONV_OUT_OF_MEMORY, "%s: scratch for %s (%" PRId64 " elements) is too large",
                s->op, what, count);
        return NULL;
    }
    bytes -= bytes % 64;
    void *mem = aligned_alloc(64, (size_t)bytes);
    if (mem == NULL) {
        s->status = rr_fail(RRCONV_OUT_OF_MEMORY, "%s: could not allocate %" PRId64 " bytes of scratch for %s",
                s->op, bytes, what);
        return NULL;
    }
    s->blocks[s->count++] = mem;
    return mem;
}

static void fwd_free(fwd_scratch *s)
{
    for (int i = 0; i < s->count; i++) free(s->blocks[i]);
    s->count = 0;
}

/* ---- phase planes (stride_w > 1) ------------------------------------------------------------- */

typedef struct phase_ctx {
    const rr_fwd_plan *pl;
    const float *src;      /* normalized src [N][IC][IH][IW] */
    float *src_pk;
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
            const int64_t nc = row / c->ih, ih = row % c->ih;
            const float *s = x->src + row * c->iw;
            float *d = x->src_pk + nc * x->pl->src_chan + ih * pw;
            for (int64_t r = 0; r < sw; r++) {
                if (!x->phase_used[r]) continue;
                float *dr = d + r * plane;
                int64_t j = 0;
                for (int64_t iw = r; iw < c->iw; iw += sw) dr[j++] = s[iw];
                for (; j < pw; j++) dr[j] = 0.0f;
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

/* ---- the kernel ------------------------------------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
    const int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Packs the filter for the compute kernel (layouts in forward_direct.h); NULL when out of memory. */
static float *pack_weights(rr_fwd_plan *pl, const rr_problem *p, rr_isa isa, int dw, int dwrow, fwd_scratch *s)
{
    const rr_conv *c = &p->c;
    const float *flt = (const float *)p->filter.data;
    const int64_t nflt = c->groups * c->ocpg * c->icpg * pl->taps;
    const int64_t dwrow_cb = RR_DWROW_CB(c->fw);
    const int64_t npk = dwrow ? (c->groups + dwrow_cb - 1) / dwrow_cb * dwrow_cb * pl->taps : nflt;
    float *wpk = (float *)fwd_alloc(s, npk, 4, "packed weights");
    if (wpk == NULL) return NULL;
    if (dwrow) {
        /* blocks of RR_DWROW_CB channels from g0: [taps][RR_DWROW_CB] at g0 * taps, zeros past the last */
        pl->cb = dwrow_cb;
        pl->ncb = (c->groups + pl->cb - 1) / pl->cb;
        memset(wpk, 0, (size_t)npk * sizeof(float));
        for (int64_t g = 0; g < c->groups; g++)
            for (int64_t t = 0; t < pl->taps; t++)
                wpk[(g - g % pl->cb) * pl->taps + t * pl->cb + g % pl->cb] = flt[g * pl->taps + t];
    } else if (dw) {
        /* block of nc channels from g0: [taps][nc] at g0 * taps */
        pl->cb = c->groups < FWD_MAX_CB(isa) ? c->groups : FWD_MAX_CB(isa);
        pl->ncb = (c->groups + pl->cb - 1) / pl->cb;
        for (int64_t g0 = 0; g0 < c->groups; g0 += pl->cb) {
            const int64_t nc = c->groups - g0 < pl->cb ? c->groups - g0 : pl->cb;
            for (int64_t ci = 0; ci < nc; ci++)
                for (int64_t t = 0; t < pl->taps; t++) wpk[g0 * pl->taps + t * nc + ci] = flt[(g0 + ci) * pl->taps + t];
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
                            blk[(t * c->icpg + i) * no + o] = flt[((g * c->ocpg + oc0 + o) * c->icpg + i) * pl->taps + t];
            }
        }
    }
    return wpk;
}

/*
 * The direct kernels' driver. filter_grad: p is a backward_filter problem that
 * rr_forward_dwrow_filter_grad_fits; the same plan (src, masks, tiles) feeds the filter-gradient row
 * segment kernel (backward_filter_dwrow__avx512.c) instead of a forward one.
 */
static rrconv_status run_direct(const rr_problem *p, rr_isa isa, int filter_grad)
{
    const rr_conv *c = &p->c;
    rr_fwd_plan pl;
    fwd_scratch s;
    memset(&pl, 0, sizeof pl);
    s.count = 0;
    s.status = RRCONV_OUT_OF_MEMORY;
    s.op = p->op != NULL ? p->op : "rrconv_forward_f32";
    pl.c = *c;
    pl.lanes = isa == RR_ISA_AVX512 ? 16 : 8;
    const int dw = c->icpg == 1 && c->ocpg == 1;
    /* depthwise, FW 3..13 or 31 with "same" column padding at stride_w 1: the row segment kernel */
    const int dwrow = isa == RR_ISA_AVX512 && rr_forward_dwrow_fits(c);
    pl.vertical = dw && !dwrow && isa == RR_ISA_AVX512 && c->sh == 1 && c->dh == 1 && c->oh >= 2;
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
    const int64_t budget = atomic_load(&fwd_mask_budget_for_tests);
    int64_t chunk = (budget > 0 ? budget : FWD_MASK_BUDGET) / tile_bytes;
    if (chunk < 1) chunk = 1;
    if (chunk > total_tiles) chunk = total_tiles;

    /* tables */
    int64_t *toff = (int64_t *)fwd_alloc(&s, pl.taps + c->fh + 2 * c->fw, 8, "the tap tables");
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
        x.src = (const float *)p->src.data;
        x.rin = (const int32_t *)p->rin.data;
        x.src_pk = (float *)fwd_alloc(&s, c->n * c->ic * pl.src_chan, 4, "src phase planes");
        if (x.src_pk == NULL) goto fail;
        x.rin_pk = (int32_t *)fwd_alloc(&s, c->n * pl.src_chan, 4, "rin phase planes");
        if (x.rin_pk == NULL) goto fail;
        uint8_t *used = (uint8_t *)fwd_alloc(&s, c->ih + c->sw, 1, "row flags");
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
        pl.src = x.src_pk;
        pl.rin = x.rin_pk;
        /* allocate everything before the first parallel pass; run it below */
        void *masks = fwd_alloc(&s, chunk * 2 * pl.taps, mask_esize, "tap masks");
        if (masks == NULL) goto fail;
        pl.masks = masks;
        pl.tiles = (rr_fwd_tile *)fwd_alloc(&s, chunk, (int64_t)sizeof(rr_fwd_tile), "tile table");
        if (pl.tiles == NULL) goto fail;
        rr_parallel_for(c->n * (c->ic + 1) * c->ih, phase_rows, &x);
    } else {
        pl.src = (const float *)p->src.data;
        pl.rin = (const int32_t *)p->rin.data;
        pl.masks = fwd_alloc(&s, chunk * 2 * pl.taps, mask_esize, "tap masks");
        if (pl.masks == NULL) goto fail;
        pl.tiles = (rr_fwd_tile *)fwd_alloc(&s, chunk, (int64_t)sizeof(rr_fwd_tile), "tile table");
        if (pl.tiles == NULL) goto fail;
    }

    if (filter_grad) {
        /* per channel 9 taps x 16 lanes of partial sums, carried from mask chunk to mask chunk when
         * there are several; the kernel writes grad_filter in the last */
        pl.ncb = (c->groups + RR_BWF_DWROW_CB - 1) / RR_BWF_DWROW_CB;
        pl.gw = p->out.data;
        if (chunk < total_tiles) {
            pl.gacc = (float *)fwd_alloc(&s, c->groups * 9 * 16, 4, "filter gradient partial sums");
            if (pl.gacc == NULL) goto fail;
        }
    } else {
        pl.w = pack_weights(&pl, p, isa, dw, dwrow, &s);
        if (pl.w == NULL) goto fail;
    }

    const rr_range_fn masks_fn = isa == RR_ISA_AVX512 ? rr_fwd_masks_avx512 : rr_fwd_masks_avx2;
    const rr_range_fn compute_fn = filter_grad ? rr_bwf_dwrow_avx512
                                   : dwrow     ? rr_fwd_dwrow_avx512
                                   : dw        ? (isa == RR_ISA_AVX512 ? rr_fwd_dw_avx512 : rr_fwd_dw_avx2)
                                               : (isa == RR_ISA_AVX512 ? rr_fwd_oc_avx512 : rr_fwd_oc_avx2);
    const int64_t blocks = dw ? pl.ncb : c->groups * pl.nob;
    /* waking the workers costs microseconds: tiny problems run on the calling thread */
    const double macs = (double)c->n * (double)c->oc * (double)(c->oh * c->ow) * (double)c->icpg * (double)pl.taps;
    const int small = macs < FWD_SERIAL_MACS;
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
    fwd_free(&s);
    return RRCONV_OK;
fail:
    fwd_free(&s);
    return s.status;
}

rrconv_status rr_forward_direct(const rr_problem *p, rr_isa isa)
{
    return run_direct(p, isa, 0);
}

#endif /* RRCONV_X86_KERNELS */

int rr_forward_geometry_fits(const rr_conv *c)
{
    const int64_t lim = FWD_COORD_LIMIT;
    if (c->ih >= lim || c->iw >= lim || c->oh >= lim || c->ow >= lim || c->ph >= lim || c->pw >= lim ||
        c->sh >= lim || c->sw >= lim || c->oh * c->sh >= lim || c->ow * c->sw >= lim ||
        (c->fh - 1) >= lim / c->dh || (c->fw - 1) >= lim / c->dw || c->fh * c->fw >= lim)
        return 0;
    /* Phase planes hold sw * ceil(iw/sw) columns per row: < 2*iw while sw <= iw. A stride much wider
     * than the image (one output column) would make them grow with the stride (found by the fuzzer:
     * 34 GB of scratch for 65535 1x1 images at stride_w 65535): the reference loop takes it. */
    return !(c->sw > c->iw && c->sw > 64);
}

int rr_forward_dwrow_fits(const rr_conv *c)
{
    /* the widths forward_dwrow__avx512.c is instantiated for (each costs compile time) */
#define DWROW_WIDTH_IS(F) || c->fw == F
    const int width = 0 RR_DWROW_WIDTHS(DWROW_WIDTH_IS);
#undef DWROW_WIDTH_IS
    return c->icpg == 1 && c->ocpg == 1 && width && c->pw == (c->fw - 1) / 2 && c->dw == 1 && c->sw == 1;
}

int rr_forward_dwrow_filter_grad_fits(const rr_conv *c)
{
    return rr_forward_geometry_fits(c) && c->icpg == 1 && c->ocpg == 1 && c->fw == 3 && c->pw == 1 && c->dw == 1 &&
           c->sw == 1 && c->fh <= 3;
}

#if RRCONV_X86_KERNELS
rrconv_status rr_forward_dwrow_filter_grad(const rr_problem *p)
{
    return run_direct(p, RR_ISA_AVX512, 1);
}

static rrconv_status forward_direct_avx512(const rr_problem *p)
{
    return run_direct(p, RR_ISA_AVX512, 0);
}

static rrconv_status forward_direct_avx2(const rr_problem *p)
{
    return run_direct(p, RR_ISA_AVX2, 0);
}

#endif /* RRCONV_X86_KERNELS */

rr_kernel_fn rr_pick_forward(const rr_conv *c, rr_isa isa)
{
    if (isa == RR_ISA_PORTABLE) return rr_portable_forward_applies(c) ? rr_portable_forward : NULL;
#if RRCONV_X86_KERNELS
    if (isa < RR_ISA_AVX2) return NULL; /* scalar: the reference loop runs */
    if (!rr_forward_geometry_fits(c)) return NULL;
    return isa == RR_ISA_AVX512 ? forward_direct_avx512 : forward_direct_avx2;
#else
    (void)c;
    (void)isa;
    return NULL;
#endif
}
