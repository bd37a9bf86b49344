/*
 * backward_filter_nhwc_tapgemm__avx512.c -- backward_filter_nhwc_tapgemm__avx512: grouped / dense filter
 * gradient on channels-last tensors as one GEMM per active tap, K = the tap's active output pixels.
 *
 * The normalized problem: src [N][IH][IW][IC], diff [N][OH][OW][OC] (dense NHWC), grad_filter
 * [G][OCPG][ICPG][FH][FW], int32 masks, cross-correlation. For tap t = (kh, kw):
 *   dW_t[g][ocg][icg] = sum over t's active output pixels o of diff[o][g, ocg] * src[i(o, t)][g, icg].
 * The output rows go in chunks of about RR_BWF_NHWC_BATCH_PIXELS pixels (backward_filter.c), so that a
 * chunk's src and diff rows stay in the core's cache. Per chunk: (1) per output row (parallel) and tap,
 * the list of the row's pixels (ow ascending) where the tap is active (common/active_taps.h), then per
 * tap one flat list of the chunk's (diff offset, src offset) pairs, rows in order (ft_flatten: short
 * row lists left the first pixels of each row unprefetched); (2) per block (parallel) -- group g, tap
 * t, up to 4 vectors of output channels from oc0, ICB(V) input channels from ic0 -- the block's sums
 * (its own scratch, [ICB][V * 16]) are loaded into registers, every listed pixel of t adds V diff vector
 * loads and ICB broadcasts of src for ICB * V FMAs (the pixel FT_PREFETCH entries ahead prefetched: GRP
 * random 7.5 -> 4.3 cpu ms with the flat lists and 16, rough), and the sums go back. At the end each
 * block writes its part of grad_filter.
 *
 * Input-channel blocks start at 0, ICB, 2 * ICB, ... and the last one at ICPG - ICB (ICPG >= 16 >= ICB):
 * blocks may overlap; an element in two blocks is computed twice, in the same order, so written twice
 * with the same bits. Output channels past OCPG are zero lanes of a masked load (never read).
 *
 * Each grad_filter element is summed from 0.0f over the active pixels in the order (n, oh, ow), by one
 * block at a time: the same bits for every thread count.
 */
#include "backward_filter_nhwc.h"
#include "../common/active_taps__avx512.h"
#include "../common/workspace.h"
#include "../forward/forward.h"

#include <immintrin.h>

#if defined(__GNUC__)
#define FT_INLINE static inline __attribute__((always_inline))
#else
#define FT_INLINE static inline
#endif

/* input channels per block with V output-channel vectors: ICB * V accumulators <= 24 of 32 registers */
#define FT_ICB(v) ((v) == 1 ? 16 : (v) == 2 ? 12 : (v) == 3 ? 8 : 6)
#define FT_BLOCK_FLOATS (16 * 4 * 16) /* a block's sums: [ICB <= 16][V * 16 <= 64] */

#ifndef FT_PREFETCH
#define FT_PREFETCH 16
#endif

typedef struct ft_block {
    int64_t g, t, oc0, ic0;
    int nv;
} ft_block;

typedef struct ft_job {
    const rr_conv *c;
    const float *src, *diff;
    const int32_t *rin, *rout;
    const ft_block *blocks;
    float *sums;    /* [block][FT_BLOCK_FLOATS] */
    int32_t *lists; /* [chunk row][tap][OW]: ow of the row's pixels where the tap is active */
    int32_t *cnt;   /* [chunk row][tap] */
    int64_t *flat;  /* [tap][chunk rows * OW][2]: the chunk's listed pixels of the tap, rows in order:
                       diff offset (pixel * OC), src offset (pixel * IC) */
    int64_t *fcnt;  /* [tap] */
    int64_t row0, rows; /* the chunk: output rows (n * OH + oh) row0 .. row0 + rows - 1 */
} ft_job;

static void ft_lists(void *ctx, int64_t begin, int64_t end)
{
    const ft_job *x = (const ft_job *)ctx;
    const rr_conv *c = x->c;
    const int64_t taps = c->fh * c->fw;
    uint64_t bits[RR_TAPS_MAX_FH];
    int32_t cnt[RR_TAPGEMM_MAX_TAPS]; /* counted here, stored once: x->cnt's rows share cache lines */
    for (int64_t r = begin; r < end; r++) {
        const int64_t row = x->row0 + r, n = row / c->oh, oh = row % c->oh;
        int32_t *lists = x->lists + r * taps * c->ow;
        for (int64_t t = 0; t < taps; t++) cnt[t] = 0;
        for (int64_t ow = 0; ow < c->ow; ow++) {
            rr_active_taps_row_avx512(c, x->rin, x->rout, n, oh, ow, 1, bits);
            for (int64_t kh = 0; kh < c->fh; kh++)
                for (uint64_t m = bits[kh]; m != 0; m &= m - 1) {
                    const int64_t t = kh * c->fw + RR_TAPS_CTZ(m);
                    lists[t * c->ow + cnt[t]++] = (int32_t)ow;
                }
        }
        for (int64_t t = 0; t < taps; t++) x->cnt[r * taps + t] = cnt[t];
    }
}

/* The rows' lists of the chunk, one flat list per tap (rows in order), with offsets. */
static void ft_flatten(ft_job *x)
{
    const rr_conv *c = x->c;
    const int64_t taps = c->fh * c->fw;
    for (int64_t t = 0; t < taps; t++) {
        const int64_t kh = t / c->fw, kw = t % c->fw;
        int64_t *out = x->flat + t * x->rows * c->ow * 2, k = 0;
        for (int64_t r = 0; r < x->rows; r++) {
            const int64_t cnt = x->cnt[r * taps + t];
            if (cnt == 0) continue;
            const int32_t *list = x->lists + (r * taps + t) * c->ow;
            const int64_t row = x->row0 + r, n = row / c->oh, oh = row % c->oh;
            const int64_t ih = oh * c->sh - c->ph + kh * c->dh;
            /* listed pixels only: their source pixel is inside the image */
            const int64_t s0 = (n * c->ih + ih) * c->iw - c->pw + kw * c->dw;
            for (int64_t e = 0; e < cnt; e++) {
                const int64_t ow = list[e];
                out[2 * k] = (row * c->ow + ow) * c->oc;
                out[2 * k + 1] = (s0 + ow * c->sw) * c->ic;
                k++;
            }
        }
        x->fcnt[t] = k;
    }
}

/* One block over the chunk: V output-channel vectors (the last one nch - 16 * (V - 1) lanes), ICB input
 * channels. */
FT_INLINE void ft_run_block(const int V, const int ICB, const ft_job *x, const ft_block *b, float *s)
{
    const rr_conv *c = x->c;
    const int64_t nch = c->ocpg - b->oc0 < 16 * V ? c->ocpg - b->oc0 : 16 * V;
    const __mmask16 tail = (__mmask16)((1u << (nch - 16 * (V - 1))) - 1u);
    __m512 acc[16][4];
    for (int j = 0; j < ICB; j++)
        for (int v = 0; v < V; v++) acc[j][v] = _mm512_load_ps(s + j * 64 + v * 16);
    const int64_t cnt = x->fcnt[b->t];
    const int64_t *list = x->flat + b->t * x->rows * c->ow * 2;
    const float *dbase = x->diff + b->g * c->ocpg + b->oc0, *sbase = x->src + b->g * c->icpg + b->ic0;
    for (int64_t e = 0; e < cnt; e++) {
        if (FT_PREFETCH > 0 && e + FT_PREFETCH < cnt) {
            _mm_prefetch((const char *)(dbase + list[2 * (e + FT_PREFETCH)]), _MM_HINT_T0);
            _mm_prefetch((const char *)(sbase + list[2 * (e + FT_PREFETCH) + 1]), _MM_HINT_T0);
        }
        const float *d = dbase + list[2 * e];
        const float *sp = sbase + list[2 * e + 1];
        __m512 dv[4];
        for (int v = 0; v < V - 1; v++) dv[v] = _mm512_loadu_ps(d + v * 16);
        dv[V - 1] = _mm512_maskz_loadu_ps(tail, d + (V - 1) * 16);
        for (int j = 0; j < ICB; j++) {
            const __m512 bj = _mm512_set1_ps(sp[j]);
            for (int v = 0; v < V; v++) acc[j][v] = _mm512_fmadd_ps(bj, dv[v], acc[j][v]);
        }
    }
    for (int j = 0; j < ICB; j++)
        for (int v = 0; v < V; v++) _mm512_store_ps(s + j * 64 + v * 16, acc[j][v]);
}

static void ft_blocks(void *ctx, int64_t begin, int64_t end)
{
    const ft_job *x = (const ft_job *)ctx;
    for (int64_t i = begin; i < end; i++) {
        const ft_block *b = &x->blocks[i];
        float *s = x->sums + i * FT_BLOCK_FLOATS;
        switch (b->nv) {
        case 1: ft_run_block(1, FT_ICB(1), x, b, s); break;
        case 2: ft_run_block(2, FT_ICB(2), x, b, s); break;
        case 3: ft_run_block(3, FT_ICB(3), x, b, s); break;
        default: ft_run_block(4, FT_ICB(4), x, b, s); break;
        }
    }
}

/*
 * With OCPG <= 16 (one vector of output channels per block, 16 FMAs per listed pixel's two cache lines)
 * and above this fraction of active in-image taps, backward_filter_nhwc_channels does a little better
 * and takes the call. Measured (rough: busy 2-core machine, 1 thread, cpu ms, two alternating rounds,
 * this row / backward_filter_nhwc_channels): GRP random 4.3-4.4 / 4.7-5.1, superpixel (0.85 active)
 * 5.7 / 5.4-6.1, blocky 5.9-6.0 / 5.4-5.45; with OCPG 64 this row was as fast or faster on every mask:
 * DENSE random 8.4-8.5 / 10.1-10.2, superpixel 16.2-16.3 / 21.0-21.3, blocky 17.9 / 22.0-22.5,
 * DENSE-S2D2 random 2.2 / 2.2-2.4, superpixel 3.6 / 3.7, blocky 4.4 / 4.4-4.5.
 */
#define FT_MAX_ACTIVE_ONE_VECTOR 0.9

/* Output pixels the choice samples (rr_active_fraction). */
#define FT_SAMPLE_PIXELS 1024

rrconv_status rr_backward_filter_nhwc_tapgemm__avx512(const rr_problem *p)
{
    const rr_conv *c = &p->c;
    RR_ASSERT(rr_backward_filter_nhwc_tapgemm_applies(c));
    RR_ASSERT(c->mode == RRCONV_CROSS_CORRELATION && c->mask_type == RRCONV_MASK_INT32);
    RR_ASSERT(c->layout == RR_LAYOUT_NHWC && c->icpg >= 16);
    if (c->ocpg <= 16) {
        const double active = rr_active_fraction(c, (const int32_t *)p->rin.data, (const int32_t *)p->rout.data,
                                                 FT_SAMPLE_PIXELS);
        if (active > FT_MAX_ACTIVE_ONE_VECTOR) {
            rr_note(p, "ran:backward_filter_nhwc_channels__avx512 active:%.2f>%.2f", active,
                    FT_MAX_ACTIVE_ONE_VECTOR);
            return rr_backward_filter_nhwc_channels__avx512(p);
        }
    }
    const int64_t taps = c->fh * c->fw;
    /* the blocks: (g, t, output-channel block of up to 4 vectors, input-channel block) */
    int64_t nblocks = 0;
    for (int64_t oc0 = 0; oc0 < c->ocpg; oc0 += 64) {
        const int64_t nch = c->ocpg - oc0 < 64 ? c->ocpg - oc0 : 64;
        const int64_t icb = FT_ICB((nch + 15) / 16);
        nblocks += (c->icpg + icb - 1) / icb;
    }
    nblocks *= c->groups * taps;
    const int64_t chunk = rr_bwf_nhwc_chunk_rows(c);
    rr_workspace ws;
    rr_ws_begin(&ws, p->op);
    ft_block *blocks = (ft_block *)rr_ws_alloc(&ws, nblocks, sizeof(ft_block), "blocks");
    float *sums = (float *)rr_ws_calloc(&ws, nblocks * FT_BLOCK_FLOATS, sizeof(float), "block sums");
    int32_t *lists = (int32_t *)rr_ws_alloc(&ws, chunk * taps * c->ow, sizeof(int32_t), "tap lists");
    int32_t *cnt = (int32_t *)rr_ws_alloc(&ws, chunk * taps, sizeof(int32_t), "tap list lengths");
    int64_t *flat = (int64_t *)rr_ws_alloc(&ws, chunk * taps * c->ow * 2, sizeof(int64_t), "tap lists");
    int64_t *fcnt = (int64_t *)rr_ws_alloc(&ws, taps, sizeof(int64_t), "tap list lengths");
    if (blocks == NULL || sums == NULL || lists == NULL || cnt == NULL || flat == NULL || fcnt == NULL) {
        const rrconv_status st = ws.status;
        rr_ws_end(&ws);
        return st;
    }
    int64_t k = 0;
    for (int64_t g = 0; g < c->groups; g++)
        for (int64_t t = 0; t < taps; t++)
            for (int64_t oc0 = 0; oc0 < c->ocpg; oc0 += 64) {
                const int64_t nch = c->ocpg - oc0 < 64 ? c->ocpg - oc0 : 64;
                const int nv = (int)((nch + 15) / 16);
                const int64_t icb = FT_ICB(nv);
                for (int64_t ic0 = 0; ic0 < c->icpg; ic0 += icb) {
                    blocks[k].g = g;
                    blocks[k].t = t;
                    blocks[k].oc0 = oc0;
                    blocks[k].ic0 = ic0 + icb <= c->icpg ? ic0 : c->icpg - icb;
                    blocks[k].nv = nv;
                    k++;
                }
            }
    RR_ASSERT(k == nblocks);
    ft_job x;
    x.c = c;
    x.src = (const float *)p->src.data;
    x.diff = (const float *)p->diff.data;
    x.rin = (const int32_t *)p->rin.data;
    x.rout = (const int32_t *)p->rout.data;
    x.blocks = blocks;
    x.sums = sums;
    x.lists = lists;
    x.cnt = cnt;
    x.flat = flat;
    x.fcnt = fcnt;
    const int64_t rows = c->n * c->oh;
    for (x.row0 = 0; x.row0 < rows; x.row0 += chunk) {
        x.rows = rows - x.row0 < chunk ? rows - x.row0 : chunk;
        rr_parallel_for(x.rows, ft_lists, &x);
        ft_flatten(&x);
        rr_parallel_for(nblocks, ft_blocks, &x);
    }
    /* grad_filter [g][ocg][icg][t] from the blocks' sums [j][v * 16 + lane] */
    float *out = p->out.data;
    for (int64_t i = 0; i < nblocks; i++) {
        const ft_block *b = &blocks[i];
        const int64_t nch = c->ocpg - b->oc0 < 64 ? c->ocpg - b->oc0 : 64, icb = FT_ICB(b->nv);
        const float *s = sums + i * FT_BLOCK_FLOATS;
        for (int64_t o = 0; o < nch; o++)
            for (int64_t j = 0; j < icb; j++)
                out[((b->g * c->ocpg + b->oc0 + o) * c->icpg + b->ic0 + j) * taps + b->t] = s[j * 64 + o];
    }
    rr_ws_end(&ws);
    return RRCONV_OK;
}
