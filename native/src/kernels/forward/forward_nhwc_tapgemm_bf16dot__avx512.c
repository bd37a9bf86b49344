/*
 * forward_nhwc_tapgemm_bf16dot__avx512.c -- forward_nhwc_tapgemm_bf16dot__avx512: the per-tap GEMM of
 * forward_nhwc_tapgemm__avx512 on bfloat16 channels-last tensors with vdpbf16ps (AVX512_BF16; when it is
 * exact: common/bf16dot.h), no widening of the tensors.
 *
 * The normalized problem: src [N][IH][IW][IC] bfloat16, dst [N][OH][OW][OC] of out_dtype (bfloat16 or
 * float32), filter [G][OCPG][ICPG][FH][FW] bfloat16, int32 masks, cross-correlation. Items, tap lists
 * and tiles as in the float32 row: an item is a run of up to TB_SEG pixels of one output row; per tap the
 * run's pixels where it is active are listed once (common/active_taps.h), shared by every channel; per
 * group (or up to TB_MAXV groups when OCPG <= 16) and block of up to TB_MAXV vectors of output channels a
 * float32 L1 tile [pixel][TB_MAXV * 16] gathers the sums (a pixel's first active tap starts them at zero:
 * the tile is never cleared), a register-blocked micro-kernel (TB_P(V)
 * listed pixels x V vectors) running over the group's input channel PAIRS: in NHWC the two bfloat16
 * values of channels 2i, 2i+1 of a pixel are one 32-bit word of src, broadcast by vdpbf16ps's memory
 * operand ({1to16}) against a vector of 16 output channels' weight pairs (packed [g][tap][pair][cp]
 * words: channel 2i low, 2i+1 high). So per pair and pixel one broadcast feeds V instructions of two
 * multiply-adds each, on half the bytes of the widened tensors. An odd ICPG's last channel is read as a
 * 16-bit value (its word's upper half would be the next channel, or past the tensor's end) and widened
 * to a word with a zero upper half (its weight's upper half is zero too). At the end each output is
 * rounded once to out_dtype (bfloat16 nearest even) and stored, the channel tail only.
 *
 * Order per output element: taps (kh, kw), pairs ascending, channel 2i+1 before 2i inside a pair
 * (vdpbf16ps), from +0.0f, by the one item that owns it: the same bits for every thread count. A
 * masked-out tap's src is never read (a NaN there never reaches dst).
 *
 * The gate (common/bf16dot.h): the smallest exponent of the filter and of src (a vector scan) decide
 * whether vdpbf16ps is exact; when not (denormal or tiny data) the call goes to
 * forward_nhwc_tapgemm__avx512, which widens it ("ran:forward_nhwc_tapgemm__avx512 (denormal or tiny
 * data)" in RRCONV_VERBOSE).
 */
#include "forward.h"
#include "../common/active_taps__avx512.h"
#include "../common/bf16dot.h"
#include "../common/workspace.h"

#include <immintrin.h>

#define TB_SEG 64            /* output pixels per item (the tap lists hold uint8 pixel indices) */
#define TB_MAXV 4            /* output-channel vectors per block */
#define TB_TV (TB_MAXV * 16) /* floats per pixel of the tile */
/* pixels per micro-kernel call: 6 x 4 = 24 or 8 x 1..3 <= 24 accumulators of the 32 zmm registers */
#define TB_P(v) ((v) == 4 ? 6 : 8)
/* a tap list entry: the pixel's index in the run, TB_FIRST added at the pixel's first active tap */
#define TB_PIX 63
#define TB_FIRST 64

#define TB_INLINE static inline __attribute__((always_inline))

/* a 32-bit word of src at any 2-byte boundary (NHWC channel pairs of an odd IC are not 4-aligned) */
typedef uint32_t tb_word __attribute__((aligned(2), may_alias));

typedef struct tb_job {
    const rr_conv *c;
    const uint16_t *src;
    const uint32_t *w; /* [g][tap][pair][cp] words, zeros past OCPG and in an odd ICPG's last upper half */
    const int32_t *rin, *rout;
    void *dst;         /* of c->out_dtype */
    int64_t cp;        /* OCPG rounded up to 16 */
    int64_t pairs;     /* ICPG / 2 rounded up */
    int64_t segs;      /* items per output row */
} tb_job;

/* acc + the pairs of wv times the word *x broadcast (vdpbf16ps's {1to16} memory operand: no register
 * and no separate broadcast for it). */
TB_INLINE __m512 tb_dot(__m512 acc, __m512i wv, const uint16_t *x)
{
    __asm__("vdpbf16ps %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(wv), "m"(*(const tb_word *)(const void *)x));
    return acc;
}

/* acc + the pairs of wv times the word of x (a register). */
TB_INLINE __m512 tb_dot_reg(__m512 acc, __m512i wv, __m512i x)
{
    __asm__("vdpbf16ps %2, %1, %0" : "+v"(acc) : "v"(wv), "v"(x));
    return acc;
}

/* P pixels (src rows s[p], tile rows d[p]; k[p] 0: the pixel's first active tap, its sums start at zero
 * instead of the tile's, else all ones) x V vectors: d[p][v] += the pairs' products, pairs ascending
 * (ODD: then the last channel alone). Dense blocks (GR 0): V vectors of one group's output channels, the
 * pair word at s[p] + 2i, weights w[i * cp + v * 16]. Group blocks (GR 1, OCPG <= 16): vector v is group
 * v's, src s[p] + v * icpg + 2i, weights w[v * wstep + i * cp]. */
TB_INLINE void tb_kernel(const int P, const int V, const int GR, const int ODD, const uint16_t *const *s,
                         float *const *d, const __mmask16 *k, const uint32_t *w, int64_t cp, int64_t full,
                         int64_t icpg, int64_t wstep)
{
    __m512 acc[8][TB_MAXV];
    for (int p = 0; p < P; p++)
        for (int v = 0; v < V; v++) acc[p][v] = _mm512_maskz_mov_ps(k[p], _mm512_load_ps(d[p] + v * 16));
    int64_t i = 0;
    for (; i < full; i++, w += cp) {
        __m512i wv[TB_MAXV];
        for (int v = 0; v < V; v++) wv[v] = _mm512_loadu_si512(w + (GR ? v * wstep : v * 16));
        for (int p = 0; p < P; p++)
            for (int v = 0; v < V; v++) acc[p][v] = tb_dot(acc[p][v], wv[v], s[p] + (GR ? v * icpg : 0) + 2 * i);
    }
    if (ODD) {
        __m512i wv[TB_MAXV];
        for (int v = 0; v < V; v++) wv[v] = _mm512_loadu_si512(w + (GR ? v * wstep : v * 16));
        for (int p = 0; p < P; p++)
            for (int v = 0; v < V; v++) {
                const __m512i x = _mm512_set1_epi32((int32_t)s[p][(GR ? v * icpg : 0) + 2 * i]);
                acc[p][v] = tb_dot_reg(acc[p][v], wv[v], x);
            }
    }
    for (int p = 0; p < P; p++)
        for (int v = 0; v < V; v++) _mm512_store_ps(d[p] + v * 16, acc[p][v]);
}

#define TB_KERNEL(P)                                                                                  \
    (odd ? tb_kernel(P, V, GR, 1, s, d, k, w, cp, full, icpg, wstep)                                  \
         : tb_kernel(P, V, GR, 0, s, d, k, w, cp, full, icpg, wstep))

/* One tap of one block: the listed pixels (cnt of them, entries pix: index | TB_FIRST at the pixel's
 * first active tap; pixel j's src at src + off + j *
 * sstep), TB_P(V) at a time. */
TB_INLINE void tb_tap(const int V, const int GR, const uint16_t *src, int64_t off, int64_t sstep, float *tile,
                      const uint8_t *pix, int64_t cnt, const uint32_t *w, int64_t cp, int64_t icpg, int64_t wstep)
{
    const int P = TB_P(V);
    const int64_t full = icpg / 2;
    const int odd = (int)(icpg & 1);
    const uint16_t *s[8];
    float *d[8];
    __mmask16 k[8];
    int64_t b = 0;
    for (; b + P <= cnt; b += P) {
        for (int p = 0; p < P; p++) {
            const int64_t j = pix[b + p] & TB_PIX;
            s[p] = src + (off + j * sstep);
            d[p] = tile + j * TB_TV;
            k[p] = pix[b + p] & TB_FIRST ? 0 : 0xffff;
        }
        if (P == 6) TB_KERNEL(6);
        else TB_KERNEL(8);
    }
    const int rest = (int)(cnt - b);
    for (int p = 0; p < rest; p++) {
        const int64_t j = pix[b + p] & TB_PIX;
        s[p] = src + (off + j * sstep);
        d[p] = tile + j * TB_TV;
        k[p] = pix[b + p] & TB_FIRST ? 0 : 0xffff;
    }
    switch (rest) {
    case 0: break;
    case 1: TB_KERNEL(1); break;
    case 2: TB_KERNEL(2); break;
    case 3: TB_KERNEL(3); break;
    case 4: TB_KERNEL(4); break;
    case 5: TB_KERNEL(5); break;
    case 6: TB_KERNEL(6); break;
    default: TB_KERNEL(7); break;
    }
}

/* Every tap of a block of an item at (n, oh, ow0) (cnt[t] pixels listed in lists[t]): group g, output
 * channels oc0 .. oc0 + V vectors (GR 0), or groups g .. g + V - 1 (GR 1). */
TB_INLINE void tb_block(const int V, const int GR, const tb_job *x, int64_t g, int64_t oc0, int64_t n, int64_t oh,
                        int64_t ow0, const uint8_t (*lists)[TB_SEG], const int64_t *cnt, float *tile)
{
    const rr_conv *c = x->c;
    const int64_t taps = c->fh * c->fw, icpg = c->icpg;
    const int64_t sstep = c->sw * c->ic, wstep = taps * x->pairs * x->cp;
    for (int64_t t = 0; t < taps; t++) {
        if (cnt[t] == 0) continue;
        const int64_t kh = t / c->fw, kw = t % c->fw;
        const int64_t ih = oh * c->sh - c->ph + kh * c->dh;
        /* src of pixel j: off + j * sstep (only listed pixels, whose source is inside the image, are read) */
        const int64_t off = ((n * c->ih + ih) * c->iw + ow0 * c->sw - c->pw + kw * c->dw) * c->ic + g * icpg;
        const uint32_t *w = x->w + g * wstep + t * x->pairs * x->cp + oc0;
        tb_tap(V, GR, x->src, off, sstep, tile, lists[t], cnt[t], w, x->cp, icpg, wstep);
    }
}

/* Tile pixel rows 0..len-1, vectors v < nv (columns 16v) to the output at element dst0 + j * oc + v *
 * vstep (out_dtype): vector v's first `last` lanes when it is the last one or every_tail, else all 16;
 * zeros where a pixel has no active tap (any[j] 0: its tile row holds an earlier block's sums).
 * bfloat16 is rounded by vcvtneps2bf16: nearest even, NaN made quiet, as rr_bf16x16_narrow, but it reads
 * a denormal as zero; under the gate (common/bf16dot.h) no sum is one (each is 0, Inf, NaN or a multiple
 * of Q >= 2^-126). Tile rows are read with plain loads (a masked load waits for the kernel's stores to
 * retire instead of taking their data), and whole vectors stored with plain stores. */
static void tb_flush(const tb_job *x, const float *tile, const uint8_t *any, int64_t len, int64_t dst0, int nv,
                     int64_t vstep, int64_t last, int every_tail)
{
    const rr_conv *c = x->c;
    const __mmask16 tail = (__mmask16)((1u << last) - 1u);
    for (int64_t j = 0; j < len; j++) {
        const float *tj = tile + j * TB_TV;
        const int64_t o = dst0 + j * c->oc;
        for (int v = 0; v < nv; v++) {
            const __m512 sum = any[j] ? _mm512_load_ps(tj + v * 16) : _mm512_setzero_ps();
            const int whole = last == 16 || (!every_tail && v < nv - 1);
            if (c->out_dtype == RR_DT_BF16) {
                uint16_t *d = (uint16_t *)x->dst + o + v * vstep;
                const __m256i h = (__m256i)_mm512_cvtneps_pbh(sum);
                if (whole) _mm256_storeu_si256((__m256i *)(void *)d, h);
                else _mm256_mask_storeu_epi16(d, tail, h);
            } else {
                float *d = (float *)x->dst + o + v * vstep;
                if (whole) _mm512_storeu_ps(d, sum);
                else _mm512_mask_storeu_ps(d, tail, sum);
            }
        }
    }
}

static void tb_items(void *ctx, int64_t begin, int64_t end)
{
    const tb_job *x = (const tb_job *)ctx;
    const rr_conv *c = x->c;
    const int64_t taps = c->fh * c->fw;
    uint64_t bits[RR_TAPS_MAX_FH];
    uint8_t lists[RR_TAPGEMM_MAX_TAPS][TB_SEG];
    uint8_t any[TB_SEG]; /* the pixel has an active tap */
    int64_t cnt[RR_TAPGEMM_MAX_TAPS];
    _Alignas(64) float tile[TB_SEG * TB_TV]; /* a pixel's first active tap starts its sums at zero */
    for (int64_t j = 0; j < TB_SEG * TB_TV; j += 16) _mm512_store_ps(tile + j, _mm512_setzero_ps());
    for (int64_t i = begin; i < end; i++) {
        const int64_t row = i / x->segs, seg = i % x->segs;
        const int64_t n = row / c->oh, oh = row % c->oh, ow0 = seg * TB_SEG;
        const int64_t len = c->ow - ow0 < TB_SEG ? c->ow - ow0 : TB_SEG;
        for (int64_t t = 0; t < taps; t++) cnt[t] = 0;
        for (int64_t j = 0; j < len; j++) {
            rr_active_taps_row_avx512(c, x->rin, x->rout, n, oh, ow0 + j, 1, bits);
            uint8_t first = TB_FIRST;
            for (int64_t kh = 0; kh < c->fh; kh++) {
                for (uint64_t m = bits[kh]; m != 0; m &= m - 1) {
                    const int64_t t = kh * c->fw + RR_TAPS_CTZ(m);
                    lists[t][cnt[t]++] = (uint8_t)(j | first);
                    first = 0;
                }
            }
            any[j] = first == 0;
        }
        const int64_t drow = ((n * c->oh + oh) * c->ow + ow0) * c->oc;
        if (x->cp == 16) {
            /* OCPG <= 16: a block is up to TB_MAXV groups (tile columns gi * 16), as in the float32 row */
            for (int64_t g0 = 0; g0 < c->groups; g0 += TB_MAXV) {
                const int64_t ng = c->groups - g0 < TB_MAXV ? c->groups - g0 : TB_MAXV;
                switch (ng) {
                case 1: tb_block(1, 1, x, g0, 0, n, oh, ow0, lists, cnt, tile); break;
                case 2: tb_block(2, 1, x, g0, 0, n, oh, ow0, lists, cnt, tile); break;
                case 3: tb_block(3, 1, x, g0, 0, n, oh, ow0, lists, cnt, tile); break;
                default: tb_block(4, 1, x, g0, 0, n, oh, ow0, lists, cnt, tile); break;
                }
                /* each group's OCPG outputs: vector gi of the tile, its first OCPG lanes */
                tb_flush(x, tile, any, len, drow + g0 * c->ocpg, (int)ng, c->ocpg, c->ocpg, 1);
            }
            continue;
        }
        for (int64_t g = 0; g < c->groups; g++) {
            for (int64_t oc0 = 0; oc0 < c->ocpg; oc0 += TB_TV) {
                const int64_t nch = c->ocpg - oc0 < TB_TV ? c->ocpg - oc0 : TB_TV;
                const int nv = (int)((nch + 15) / 16);
                switch (nv) {
                case 1: tb_block(1, 0, x, g, oc0, n, oh, ow0, lists, cnt, tile); break;
                case 2: tb_block(2, 0, x, g, oc0, n, oh, ow0, lists, cnt, tile); break;
                case 3: tb_block(3, 0, x, g, oc0, n, oh, ow0, lists, cnt, tile); break;
                default: tb_block(4, 0, x, g, oc0, n, oh, ow0, lists, cnt, tile); break;
                }
                tb_flush(x, tile, any, len, drow + g * c->ocpg + oc0, nv, 16, nch - 16 * (nv - 1), 0);
            }
        }
    }
}

/* Where weight (g, o, i, t) of the forward problem run is in the caller's filter:
 * g * gs + o * os + i * is + (flip ? taps - 1 - t : t). */
typedef struct tb_weights {
    int64_t gs, os, is;
    int flip;
} tb_weights;

/*
 * Runs the forward problem f (normalized NHWC bfloat16; its filter read through wm) on vdpbf16ps; when
 * the gate fails hands the caller's problem p (f itself, or the problem f is the adjoint of) to the
 * float32 row `fallback`.
 */
static rrconv_status tb_run(const rr_problem *f, const tb_weights *wm, const rr_problem *p, const char *fallback)
{
    const rr_conv *c = &f->c;
    const int64_t taps = c->fh * c->fw, icpg = c->icpg;
    const uint16_t *flt = (const uint16_t *)f->filter.data;
    const int ew = rr_bf16dot_min_exponent(flt, c->groups * c->ocpg * icpg * taps);
    if (!rr_bf16dot_exact(255, ew)) return rr_kernel_hand_over(fallback, p, "(denormal or tiny data)");
    rr_workspace ws;
    rr_ws_begin(&ws, f->op);
    int es, finite;
    if (!rr_bf16dot_scan_exponent((const uint16_t *)f->src.data, c->n * c->ih * c->iw * c->ic, &ws, &es, &finite)) {
        rr_ws_end(&ws);
        return ws.status;
    }
    if (!rr_bf16dot_exact(es, ew)) {
        rr_ws_end(&ws);
        return rr_kernel_hand_over(fallback, p, "(denormal or tiny data)");
    }
    tb_job x;
    x.c = c;
    x.src = (const uint16_t *)f->src.data;
    x.rin = (const int32_t *)f->rin.data;
    x.rout = (const int32_t *)f->rout.data;
    x.dst = f->out.data;
    x.cp = (c->ocpg + 15) / 16 * 16;
    x.pairs = (icpg + 1) / 2;
    x.segs = (c->ow + TB_SEG - 1) / TB_SEG;
    uint32_t *w = (uint32_t *)rr_ws_alloc(&ws, c->groups * taps * x.pairs * x.cp, 4, "packed weight pairs");
    if (w == NULL) {
        rr_ws_end(&ws);
        return ws.status;
    }
    /* -> [g][tap][pair][cp]: channel 2i low, 2i+1 high (0 past ICPG and OCPG) */
    for (int64_t g = 0; g < c->groups; g++)
        for (int64_t t = 0; t < taps; t++)
            for (int64_t i = 0; i < x.pairs; i++) {
                uint32_t *row = w + ((g * taps + t) * x.pairs + i) * x.cp;
                const int64_t ft = wm->flip ? taps - 1 - t : t;
                for (int64_t o = 0; o < x.cp; o++) {
                    row[o] = 0;
                    if (o >= c->ocpg) continue;
                    const uint16_t *fo = flt + g * wm->gs + o * wm->os + 2 * i * wm->is + ft;
                    row[o] = (uint32_t)fo[0] | (2 * i + 1 < icpg ? (uint32_t)fo[wm->is] << 16 : 0u);
                }
            }
    x.w = w;
    rr_parallel_for(c->n * c->oh * x.segs, tb_items, &x);
    rr_ws_end(&ws);
    return RRCONV_OK;
}

rrconv_status rr_forward_nhwc_tapgemm_bf16dot__avx512(const rr_problem *p)
{
    const rr_conv *c = &p->c;
    RR_ASSERT(rr_forward_nhwc_tapgemm_bf16dot_applies(c));
    RR_ASSERT(c->mode == RRCONV_CROSS_CORRELATION && c->mask_type == RRCONV_MASK_INT32);
    RR_ASSERT(c->layout == RR_LAYOUT_NHWC && c->dtype == RR_DT_BF16);
    const int64_t taps = c->fh * c->fw;
    const tb_weights wm = {c->ocpg * c->icpg * taps, c->icpg * taps, taps, 0};
    return tb_run(p, &wm, p, "forward_nhwc_tapgemm__avx512");
}

/* Backward data at stride 1 as the forward of its adjoint (rr_adjoint_problem, internal.h): diff the input, grad src
 * the output, rin and rout swapped, the filter transposed per group and flipped. */
rrconv_status rr_backward_data_nhwc_tapgemm_bf16dot__avx512(const rr_problem *p)
{
    const rr_conv *c = &p->c;
    RR_ASSERT(rr_backward_data_nhwc_tapgemm_bf16dot_applies(c));
    RR_ASSERT(c->mode == RRCONV_CROSS_CORRELATION && c->mask_type == RRCONV_MASK_INT32);
    RR_ASSERT(c->layout == RR_LAYOUT_NHWC && c->dtype == RR_DT_BF16);
    const int64_t taps = c->fh * c->fw;
    const rr_problem f = rr_adjoint_problem(p);
    /* forward weight (g, o = input channel, i = output channel, t) = w[g][i][o][taps-1-t] */
    const tb_weights wm = {c->ocpg * c->icpg * taps, taps, c->icpg * taps, 1};
    return tb_run(&f, &wm, p, "backward_data_nhwc_channels__avx512");
}
