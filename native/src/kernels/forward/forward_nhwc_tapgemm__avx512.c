/*
 * forward_nhwc_tapgemm__avx512.c -- forward_nhwc_tapgemm__avx512: grouped / dense forward on
 * channels-last tensors as one small GEMM per active tap, so that its cost falls with the active taps
 * and each filter load feeds several pixels' FMAs.
 *
 * The normalized problem: src [N][IH][IW][IC], dst [N][OH][OW][OC] (dense NHWC), filter
 * [G][OCPG][ICPG][FH][FW], int32 masks, cross-correlation. An item is a run of up to TG_SEG pixels of
 * one output row. For it, per tap t = kh * FW + kw, the list of the run's pixels where t is active
 * (common/active_taps.h: source pixel inside the image, rin there == rout at the pixel) is built once,
 * shared by every channel. Then per group and block of up to TG_MAXV output-channel vectors: an L1
 * tile of the run's sums [pixel][TG_MAXV * 16] starts at zero; per tap with active pixels, a
 * register-blocked micro-kernel takes TG_P(V) listed pixels x V vectors of accumulators from the tile,
 * runs over the group's input channels (per channel: V filter-vector loads and one broadcast of src
 * per pixel for P * V FMAs) and puts them back; at the end the tile goes to dst (its channel tail only:
 * nothing outside the tensors is written). A masked-out tap's src is never read (a NaN there never
 * reaches dst); a pixel without an active tap gets zeros.
 *
 * Each output element is summed in the order (kh, kw, icg), starting from 0.0f, by the one item that
 * owns it -- the same order and the same roundings as forward_nhwc_channels (forward_nhwc_body.h), so
 * both give the same bits, for every thread count.
 */
#include "forward.h"
#include "nhwc_tapgemm.h"
#include "../common/active_taps__avx512.h"
#include "../common/workspace.h"

#include <immintrin.h>

#define TG_SEG 64  /* output pixels per item (the tap lists hold uint8 pixel indices) */
#define TG_MAXV 4  /* output-channel vectors per block */
#define TG_TV (TG_MAXV * 16) /* floats per pixel of the tile */
/* pixels per micro-kernel call: 6 x 4 = 24 or 8 x 1..3 <= 24 accumulators of the 32 zmm registers */
#define TG_P(v) ((v) == 4 ? 6 : 8)

#if defined(__GNUC__)
#define TG_INLINE static inline __attribute__((always_inline))
#else
#define TG_INLINE static inline
#endif

typedef struct tg_job {
    const rr_conv *c;
    const float *src, *w; /* w: [g][tap][ICPG][cp], zeros past OCPG */
    const int32_t *rin, *rout;
    float *dst;
    int64_t cp;   /* OCPG rounded up to 16 */
    int64_t segs; /* items per output row */
} tg_job;

/* P pixels (src rows s[p], tile rows d[p]) x V vectors: d[p][v] += sum over i < icpg of src * filter, the
 * channels i in ascending order, one FMA each. Dense blocks (GR 0): V vectors of one group's output
 * channels, src s[p][i] (one broadcast for the V FMAs), filter w[i * cp + v * 16]. Group blocks (GR 1,
 * OCPG <= 16): vector v is group v's, src s[p][v * icpg + i], filter w[v * wstep + i * cp]. */
TG_INLINE void tg_kernel(const int P, const int V, const int GR, const float *const *s, float *const *d,
                         const float *w, int64_t cp, int64_t icpg, int64_t wstep)
{
    __m512 acc[8][TG_MAXV];
    for (int p = 0; p < P; p++)
        for (int v = 0; v < V; v++) acc[p][v] = _mm512_load_ps(d[p] + v * 16);
    for (int64_t i = 0; i < icpg; i++, w += cp) {
        __m512 wv[TG_MAXV];
        for (int v = 0; v < V; v++) wv[v] = _mm512_loadu_ps(w + (GR ? v * wstep : v * 16));
        for (int p = 0; p < P; p++) {
            if (GR) {
                for (int v = 0; v < V; v++)
                    acc[p][v] = _mm512_fmadd_ps(_mm512_set1_ps(s[p][v * icpg + i]), wv[v], acc[p][v]);
            } else {
                const __m512 b = _mm512_set1_ps(s[p][i]);
                for (int v = 0; v < V; v++) acc[p][v] = _mm512_fmadd_ps(b, wv[v], acc[p][v]);
            }
        }
    }
    for (int p = 0; p < P; p++)
        for (int v = 0; v < V; v++) _mm512_store_ps(d[p] + v * 16, acc[p][v]);
}

/* One tap of one block: the listed pixels (cnt of them, indices pix; pixel j's src at src + off + j *
 * sstep), TG_P(V) at a time. */
TG_INLINE void tg_tap(const int V, const int GR, const float *src, int64_t off, int64_t sstep, float *tile,
                      const uint8_t *pix, int64_t cnt, const float *w, int64_t cp, int64_t icpg, int64_t wstep)
{
    const int P = TG_P(V);
    const float *s[8];
    float *d[8];
    int64_t b = 0;
    for (; b + P <= cnt; b += P) {
        for (int p = 0; p < P; p++) {
            s[p] = src + (off + pix[b + p] * sstep);
            d[p] = tile + pix[b + p] * TG_TV;
        }
        tg_kernel(P, V, GR, s, d, w, cp, icpg, wstep);
    }
    const int rest = (int)(cnt - b);
    for (int p = 0; p < rest; p++) {
        s[p] = src + (off + pix[b + p] * sstep);
        d[p] = tile + pix[b + p] * TG_TV;
    }
    switch (rest) {
    case 0: break;
    case 1: tg_kernel(1, V, GR, s, d, w, cp, icpg, wstep); break;
    case 2: tg_kernel(2, V, GR, s, d, w, cp, icpg, wstep); break;
    case 3: tg_kernel(3, V, GR, s, d, w, cp, icpg, wstep); break;
    case 4: tg_kernel(4, V, GR, s, d, w, cp, icpg, wstep); break;
    case 5: tg_kernel(5, V, GR, s, d, w, cp, icpg, wstep); break;
    case 6: tg_kernel(6, V, GR, s, d, w, cp, icpg, wstep); break;
    default: tg_kernel(7, V, GR, s, d, w, cp, icpg, wstep); break;
    }
}

/* Every tap of a block of an item at (n, oh, ow0) (cnt[t] pixels listed in lists[t]): group g, output
 * channels oc0 .. oc0 + V vectors (GR 0), or groups g .. g + V - 1 (GR 1). */
TG_INLINE void tg_block(const int V, const int GR, const tg_job *x, int64_t g, int64_t oc0, int64_t n, int64_t oh,
                        int64_t ow0, const uint8_t (*lists)[TG_SEG], const int64_t *cnt, float *tile)
{
    const rr_conv *c = x->c;
    const int64_t taps = c->fh * c->fw, icpg = c->icpg;
    const int64_t sstep = c->sw * c->ic, wstep = taps * icpg * x->cp;
    for (int64_t t = 0; t < taps; t++) {
        if (cnt[t] == 0) continue;
        const int64_t kh = t / c->fw, kw = t % c->fw;
        const int64_t ih = oh * c->sh - c->ph + kh * c->dh;
        /* src of pixel j: off + j * sstep (only listed pixels, whose source is inside the image, are read) */
        const int64_t off = ((n * c->ih + ih) * c->iw + ow0 * c->sw - c->pw + kw * c->dw) * c->ic + g * icpg;
        const float *w = x->w + g * wstep + t * icpg * x->cp + oc0;
        tg_tap(V, GR, x->src, off, sstep, tile, lists[t], cnt[t], w, x->cp, icpg, wstep);
    }
}

static void tg_items(void *ctx, int64_t begin, int64_t end)
{
    const tg_job *x = (const tg_job *)ctx;
    const rr_conv *c = x->c;
    const int64_t taps = c->fh * c->fw;
    uint64_t bits[RR_TAPS_MAX_FH];
    uint8_t lists[RR_TAPGEMM_MAX_TAPS][TG_SEG];
    int64_t cnt[RR_TAPGEMM_MAX_TAPS];
    _Alignas(64) float tile[TG_SEG * TG_TV]; /* zero where a block starts: each block leaves it so */
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t j = 0; j < TG_SEG * TG_TV; j += 16) _mm512_store_ps(tile + j, zero);
    for (int64_t i = begin; i < end; i++) {
        const int64_t row = i / x->segs, seg = i % x->segs;
        const int64_t n = row / c->oh, oh = row % c->oh, ow0 = seg * TG_SEG;
        const int64_t len = c->ow - ow0 < TG_SEG ? c->ow - ow0 : TG_SEG;
        for (int64_t t = 0; t < taps; t++) cnt[t] = 0;
        for (int64_t j = 0; j < len; j++) {
            rr_active_taps_row_avx512(c, x->rin, x->rout, n, oh, ow0 + j, 1, bits);
            for (int64_t kh = 0; kh < c->fh; kh++) {
                for (uint64_t m = bits[kh]; m != 0; m &= m - 1) {
                    const int64_t t = kh * c->fw + RR_TAPS_CTZ(m);
                    lists[t][cnt[t]++] = (uint8_t)j;
                }
            }
        }
        float *drow = x->dst + ((n * c->oh + oh) * c->ow + ow0) * c->oc;
        if (x->cp == 16) {
            /* OCPG <= 16: a block is up to TG_MAXV groups (tile columns gi * 16), one micro-kernel call
             * for all of them, each pixel's outputs of the block written to dst together (one group per
             * block took 6.6 cpu ms on GRP random, four 4.1; rough, 1 thread) */
            const __mmask16 tail = (__mmask16)((1u << c->ocpg) - 1u);
            for (int64_t g0 = 0; g0 < c->groups; g0 += TG_MAXV) {
                const int64_t ng = c->groups - g0 < TG_MAXV ? c->groups - g0 : TG_MAXV;
                switch (ng) {
                case 1: tg_block(1, 1, x, g0, 0, n, oh, ow0, lists, cnt, tile); break;
                case 2: tg_block(2, 1, x, g0, 0, n, oh, ow0, lists, cnt, tile); break;
                case 3: tg_block(3, 1, x, g0, 0, n, oh, ow0, lists, cnt, tile); break;
                default: tg_block(4, 1, x, g0, 0, n, oh, ow0, lists, cnt, tile); break;
                }
                for (int64_t j = 0; j < len; j++) {
                    float *d = drow + j * c->oc + g0 * c->ocpg;
                    float *tj = tile + j * TG_TV;
                    for (int64_t gi = 0; gi < ng; gi++) {
                        _mm512_mask_storeu_ps(d + gi * c->ocpg, tail, _mm512_load_ps(tj + gi * 16));
                        _mm512_store_ps(tj + gi * 16, zero);
                    }
                }
            }
            continue;
        }
        for (int64_t g = 0; g < c->groups; g++) {
            for (int64_t oc0 = 0; oc0 < c->ocpg; oc0 += TG_TV) {
                const int64_t nch = c->ocpg - oc0 < TG_TV ? c->ocpg - oc0 : TG_TV;
                const int nv = (int)((nch + 15) / 16);
                switch (nv) {
                case 1: tg_block(1, 0, x, g, oc0, n, oh, ow0, lists, cnt, tile); break;
                case 2: tg_block(2, 0, x, g, oc0, n, oh, ow0, lists, cnt, tile); break;
                case 3: tg_block(3, 0, x, g, oc0, n, oh, ow0, lists, cnt, tile); break;
                default: tg_block(4, 0, x, g, oc0, n, oh, ow0, lists, cnt, tile); break;
                }
                /* the block's last vector: its first nch - 16 * (nv - 1) lanes */
                const __mmask16 tail = (__mmask16)((1u << (nch - 16 * (nv - 1))) - 1u);
                for (int64_t j = 0; j < len; j++) {
                    float *d = drow + j * c->oc + g * c->ocpg + oc0;
                    float *tj = tile + j * TG_TV;
                    for (int v = 0; v < nv - 1; v++) _mm512_storeu_ps(d + v * 16, _mm512_load_ps(tj + v * 16));
                    _mm512_mask_storeu_ps(d + (nv - 1) * 16, tail, _mm512_load_ps(tj + (nv - 1) * 16));
                    for (int v = 0; v < nv; v++) _mm512_store_ps(tj + v * 16, zero); /* the next block's start */
                }
            }
        }
    }
}

void rr_nhwc_tapgemm_run_avx512(const rr_conv *c, const float *src, const float *w, const int32_t *rin,
                                const int32_t *rout, float *dst)
{
    tg_job x;
    x.c = c;
    x.src = src;
    x.w = w;
    x.rin = rin;
    x.rout = rout;
    x.dst = dst;
    x.cp = rr_tapgemm_cp(c);
    x.segs = (c->ow + TG_SEG - 1) / TG_SEG;
    rr_parallel_for(c->n * c->oh * x.segs, tg_items, &x);
}

/*
 * Above this fraction of active in-image taps a call with OCPG > 16 goes to forward_nhwc_channels, whose
 * pixel unions (ch_union) then do a little better. Measured (DENSE, 1 thread, busy 2-core machine,
 * rough, cpu ms, three alternating rounds, this row / forward_nhwc_channels): random masks (0.37 active)
 * 7.9 / 14.0, superpixel (0.87) 16.5 / 16.9, blocky (most taps active) 17.8 / 16.8 in every round.
 * With OCPG <= 16 (group blocks) this row was faster on every mask: GRP random 4.1 / 4.7, superpixel
 * 5.9 / 7.2, blocky 6.2 / 7.1.
 */
#define TG_MAX_ACTIVE 0.9

/* Output pixels the choice samples (rr_active_fraction). */
#define TG_SAMPLE_PIXELS 1024

rrconv_status rr_forward_nhwc_tapgemm__avx512(const rr_problem *p)
{
    const rr_conv *c = &p->c;
    RR_ASSERT(rr_forward_nhwc_tapgemm_applies(c));
    RR_ASSERT(c->mode == RRCONV_CROSS_CORRELATION && c->mask_type == RRCONV_MASK_INT32);
    RR_ASSERT(c->layout == RR_LAYOUT_NHWC);
    if (c->ocpg > 16) {
        const double active = rr_active_fraction(c, (const int32_t *)p->rin.data, (const int32_t *)p->rout.data,
                                                 TG_SAMPLE_PIXELS);
        if (active > TG_MAX_ACTIVE) {
            rr_note(p, "ran:forward_nhwc_channels__avx512 active:%.2f>%.2f", active, TG_MAX_ACTIVE);
            return rr_forward_nhwc_channels__avx512(p);
        }
    }
    const int64_t taps = c->fh * c->fw, icpg = c->icpg, cp = rr_tapgemm_cp(c);
    rr_workspace ws;
    rr_ws_begin(&ws, p->op);
    float *w = (float *)rr_ws_alloc(&ws, c->groups * taps * icpg * cp, 4, "packed weights");
    if (w == NULL) {
        const rrconv_status st = ws.status;
        rr_ws_end(&ws);
        return st;
    }
    /* [g][OCPG][ICPG][taps] -> [g][tap][ICPG][cp] */
    const float *flt = (const float *)p->filter.data;
    for (int64_t g = 0; g < c->groups; g++)
        for (int64_t t = 0; t < taps; t++)
            for (int64_t i = 0; i < icpg; i++) {
                float *row = w + ((g * taps + t) * icpg + i) * cp;
                for (int64_t o = 0; o < cp; o++)
                    row[o] = o < c->ocpg ? flt[((g * c->ocpg + o) * icpg + i) * taps + t] : 0.0f;
            }
    rr_nhwc_tapgemm_run_avx512(c, (const float *)p->src.data, w, (const int32_t *)p->rin.data,
                               (const int32_t *)p->rout.data, p->out.data);
    rr_ws_end(&ws);
    return RRCONV_OK;
}
