/*
 * forward_nhwc_body.h -- the forward rows on channels-last tensors whose cost falls with the active
 * taps (forward_nhwc_depthwise__<isa>, forward_nhwc_channels__<isa>), written once over the lane
 * macros of the including file (forward_nhwc__avx512.c, forward_nhwc__avx2.c):
 *   NV_VL vector width in floats; NV_VEC; NV_TAIL a lane mask, NV_TAILMASK(k) its first k lanes;
 *   NV_ZERO(); NV_LOAD(p) / NV_STORE(p, v) (whole vector); NV_LOADT(p, t) / NV_STORET(p, t, v) (lanes t only, the
 *   others never touched); NV_BCAST(p); NV_FMA(a, b, acc); NV_TAPS the active-tap builder;
 *   NV_PB pixels run together; NV_MASK a whole-vector on/off mask, NV_MASKOF(0 or 1) one, NV_FMAM(a, b,
 *   acc, k) acc + a*b where k is on, acc untouched where off;
 *   NV_FN(name) the ISA's suffix for local names, NV_ENTRY(name) for the rows' entries.
 *
 * The normalized problem: src [N][IH][IW][IC], dst [N][OH][OW][OC] (dense NHWC), filter
 * [G][OCPG][ICPG][FH][FW], int32 masks, cross-correlation. An item is a run of up to NV_SEG pixels of
 * one output row; it lists every pixel's active taps once (common/active_taps.h: a word per filter row
 * and pixel) and then, for every block of channels, spends arithmetic on those taps only, vectorised
 * over the channels (contiguous in NHWC). A masked-out tap is never loaded, so a NaN there never
 * reaches dst; channel tails are masked loads and stores, so nothing outside the tensors is touched.
 *
 *   depthwise: filter repacked [tap][C padded to NV_VL] (zeros past C); per block of up to NV_CBV
 *       channel vectors and per band of filter rows (band * FW * block small enough for L1, so the
 *       band's filter rows and the input rows they read stay there across the run of pixels), each
 *       pixel's accumulators start at zero (the band of its first active filter row) or at the partial
 *       sums in dst, take the band's active taps and go back to dst; a band where the pixel has no
 *       active tap is skipped (superpixel DW-K31: about 9 of 31 filter rows have one).
 *   channels (grouped / dense): filter repacked [g][tap][ICPG][OCPG padded to NV_VL]; per group,
 *       block of up to NV_CBV output-channel vectors (or, OCPG <= NV_VL, block of up to NV_CBV groups)
 *       and pixel: for each active tap and input channel one broadcast of src feeds the block's FMAs. Where NV_PB neighbouring pixels share most of
 *       their active taps (superpixel-like masks), they run together over the union of their taps,
 *       each filter load feeding NV_PB pixels' FMAs, masked by each pixel's own taps (ch_union).
 * Each output element is summed in a fixed order (depthwise: kh, kw; channels: kh, kw, icg) by the one
 * item that owns it: results do not depend on the thread count.
 */
#include "../common/active_taps.h"
#include "../common/workspace.h"

#include <string.h>

#define NV_SEG 32          /* output pixels per item */
#define NV_CBV 4           /* channel vectors per block (accumulators per pixel) */
#define NV_CBV_ALONE 8     /* depthwise: channel vectors per block of a pixel alone (pixel-major) and of
                              the banded channel-block-major order (its union runs take blocks <= NV_CBV) */
#define NV_BAND_BYTES 16384 /* filter bytes of one band of rows x one channel block (depthwise) */
#define NV_PIXEL_MAJOR_BYTES 98304 /* depthwise: a packed filter up to this size runs pixel-major */

#if defined(__GNUC__)
#define NV_INLINE static inline __attribute__((always_inline))
#else
#define NV_INLINE static inline
#endif

typedef struct NV_FN(nhwc_job) {
    const rr_conv *c;
    const float *src, *w;
    const int32_t *rin, *rout;
    float *dst;
    int64_t cp;   /* padded channels of a packed filter row: C (depthwise) or OCPG (channels), to NV_VL */
    int64_t segs; /* items per output row */
    int64_t band; /* filter rows per pass (depthwise) */
    int pixel_major; /* depthwise: every channel of NV_PB pixels before the next NV_PB (the whole packed
                        filter is small), else every pixel of a channel block before the next block */
} NV_FN(nhwc_job);

/* The lanes of a block's last vector: `rest` channels from its start, at most one vector (a block capped
 * at its vector count has more channels after it; NV_TAILMASK(k) needs k <= NV_VL). */
NV_INLINE NV_TAIL NV_FN(tail_of)(int64_t rest)
{
    return NV_TAILMASK((int)(rest < NV_VL ? rest : NV_VL));
}

/* The active-tap words of item i; sets its image, row, first column and length. */
NV_INLINE void NV_FN(item_taps)(const NV_FN(nhwc_job) *x, int64_t i, int64_t *n, int64_t *oh, int64_t *ow0,
                                int64_t *len, uint64_t *bits)
{
    const rr_conv *c = x->c;
    const int64_t row = i / x->segs, seg = i % x->segs;
    *n = row / c->oh;
    *oh = row % c->oh;
    *ow0 = seg * NV_SEG;
    *len = c->ow - *ow0 < NV_SEG ? c->ow - *ow0 : NV_SEG;
    NV_TAPS(c, x->rin, x->rout, *n, *oh, *ow0, *len, bits);
}

/* 1 when pixels j .. j + NV_PB - 1 of an item should run together over filter rows kh0 .. kh1 - 1
 * (dw_union, ch_union): their taps overlap enough that computing the union of their active taps,
 * each pixel's FMAs masked by its own taps, costs less than each pixel alone (where every filter load
 * serves one pixel: about twice the cost per FMA, measured). The choice does not change the results:
 * both sum the same taps in the same order. */
NV_INLINE int NV_FN(union_pays)(const uint64_t *bits, int64_t len, int64_t j, int64_t kh0, int64_t kh1)
{
    int64_t own = 0, uni = 0;
    for (int64_t kh = kh0; kh < kh1; kh++) {
        uint64_t o = 0;
        for (int p = 0; p < NV_PB; p++) {
            own += __builtin_popcountll(bits[kh * len + j + p]);
            o |= bits[kh * len + j + p];
        }
        uni += __builtin_popcountll(o);
    }
    return uni * NV_PB < 2 * own;
}

/* plan[j] = 1 where a run of NV_PB pixels that union_pays over every filter row starts (greedy from
 * the item's first pixel; a pixel in such a run starts none). */
static void NV_FN(union_plan)(const uint64_t *bits, int64_t len, int64_t fh, uint8_t *plan)
{
    for (int64_t j = 0; j < len; j++) plan[j] = 0;
    for (int64_t j = 0; j + NV_PB <= len; j++) {
        if (NV_FN(union_pays)(bits, len, j, 0, fh)) {
            plan[j] = 1;
            j += NV_PB - 1;
        }
    }
}

/* ---- depthwise --------------------------------------------------------------------------------- */

/* dw_block's pixels j .. j + NV_PB - 1 together over filter rows kh0 .. kh1 - 1: for every tap active at
 * one of them, one load of the filter vectors feeds every pixel's FMA, masked off where the tap is not
 * the pixel's (src then read at a valid dummy address, its value discarded). */
NV_INLINE void NV_FN(dw_union)(const NV_FN(nhwc_job) *x, const int nv, NV_TAIL tail, int64_t c0, int64_t n,
                               int64_t oh, int64_t ow0, int64_t len, int64_t j, int64_t kh0, int64_t kh1,
                               const uint64_t *bits, const int64_t *first)
{
    const rr_conv *c = x->c;
    const int64_t C = c->ic, cp = x->cp;
    const float *dummy = x->src + c0;
    float *d[NV_PB];
    NV_VEC acc[NV_PB][NV_CBV];
    for (int p = 0; p < NV_PB; p++) {
        d[p] = x->dst + ((n * c->oh + oh) * c->ow + ow0 + j + p) * C + c0;
        for (int v = 0; v < nv; v++) {
            if (kh0 <= first[j + p]) acc[p][v] = NV_ZERO();
            else acc[p][v] = v < nv - 1 ? NV_LOAD(d[p] + v * NV_VL) : NV_LOADT(d[p] + v * NV_VL, tail);
        }
    }
    for (int64_t kh = kh0; kh < kh1; kh++) {
        uint64_t o = 0;
        for (int p = 0; p < NV_PB; p++) o |= bits[kh * len + j + p];
        if (o == 0) continue;
        const int64_t ih = oh * c->sh - c->ph + kh * c->dh;
        const int64_t rowoff = ((n * c->ih + ih) * c->iw + (ow0 + j) * c->sw - c->pw) * C + c0;
        const float *wrow = x->w + kh * c->fw * cp + c0;
        for (; o != 0; o &= o - 1) {
            const int64_t kw = RR_TAPS_CTZ(o);
            const float *wt = wrow + kw * cp;
            const float *sp[NV_PB];
            NV_MASK k[NV_PB];
            for (int p = 0; p < NV_PB; p++) {
                const int on = (int)(bits[kh * len + j + p] >> kw & 1u);
                sp[p] = on ? x->src + (rowoff + (p * c->sw + kw * c->dw) * C) : dummy;
                k[p] = NV_MASKOF(on);
            }
            for (int v = 0; v < nv; v++) {
                const NV_VEC wv = NV_LOAD(wt + v * NV_VL);
                for (int p = 0; p < NV_PB; p++) {
                    const NV_VEC sv = v < nv - 1 ? NV_LOAD(sp[p] + v * NV_VL) : NV_LOADT(sp[p] + v * NV_VL, tail);
                    acc[p][v] = NV_FMAM(sv, wv, acc[p][v], k[p]);
                }
            }
        }
    }
    for (int p = 0; p < NV_PB; p++) {
        for (int v = 0; v < nv - 1; v++) NV_STORE(d[p] + v * NV_VL, acc[p][v]);
        NV_STORET(d[p] + (nv - 1) * NV_VL, tail, acc[p][nv - 1]);
    }
}

/* 1 when pixel j has an active tap in filter rows kh0 .. kh1 - 1, or must be written there although it
 * has none: its first active row is first[j] (FH: none), and a pixel without any is written (zeros) in
 * the first band. A band where it is 0 leaves dst as it is: the pixel's sum neither starts nor grows. */
NV_INLINE int NV_FN(band_runs)(const uint64_t *bits, int64_t len, int64_t j, int64_t kh0, int64_t kh1,
                               const int64_t *first, int64_t fh)
{
    if (kh0 == 0 && first[j] == fh) return 1;
    for (int64_t kh = kh0 < first[j] ? first[j] : kh0; kh < kh1; kh++) {
        if (bits[kh * len + j] != 0) return 1;
    }
    return 0;
}

/* Channels c0 .. c0 + nv vectors (the last vector's lanes: tail) of the item's pixels j0 .. j1 - 1
 * (bits: the item's words, len per filter row; first: each pixel's first filter row with an active tap,
 * FH for none; plan: union_plan's, or NULL to decide per band). A pixel's accumulators start at zero in
 * the band of its first active row (or, without any, in the first band: zeros are written), and load
 * the partial sums from dst in later bands; a band without an active tap of the pixel is skipped. */
NV_INLINE void NV_FN(dw_block)(const NV_FN(nhwc_job) *x, const int nv, NV_TAIL tail, int64_t c0, int64_t n,
                               int64_t oh, int64_t ow0, int64_t len, int64_t j0, int64_t j1, const uint64_t *bits,
                               const int64_t *first, const uint8_t *plan)
{
    const rr_conv *c = x->c;
    const int64_t C = c->ic, cp = x->cp;
    for (int64_t kh0 = 0; kh0 < c->fh; kh0 += x->band) {
        const int64_t kh1 = kh0 + x->band < c->fh ? kh0 + x->band : c->fh;
        int64_t united = j0; /* pixels before this one ran in dw_union */
        for (int64_t j = j0; j < j1; j++) {
            if (nv <= NV_CBV && j >= united && j + NV_PB <= j1 &&
                (plan ? plan[j] : NV_FN(union_pays)(bits, len, j, kh0, kh1))) {
                int runs = 0;
                for (int p = 0; p < NV_PB; p++) runs |= NV_FN(band_runs)(bits, len, j + p, kh0, kh1, first, c->fh);
                if (runs) NV_FN(dw_union)(x, nv, tail, c0, n, oh, ow0, len, j, kh0, kh1, bits, first);
                united = j + NV_PB;
            }
            if (j < united || !NV_FN(band_runs)(bits, len, j, kh0, kh1, first, c->fh)) continue;
            const int64_t ow = ow0 + j, iw0 = ow * c->sw - c->pw;
            float *d = x->dst + ((n * c->oh + oh) * c->ow + ow) * C + c0;
            NV_VEC acc[NV_CBV_ALONE];
            for (int v = 0; v < nv; v++) {
                if (kh0 <= first[j]) acc[v] = NV_ZERO();
                else acc[v] = v < nv - 1 ? NV_LOAD(d + v * NV_VL) : NV_LOADT(d + v * NV_VL, tail);
            }
            for (int64_t kh = kh0; kh < kh1; kh++) {
                uint64_t m = bits[kh * len + j];
                if (m == 0) continue;
                const int64_t ih = oh * c->sh - c->ph + kh * c->dh;
                const int64_t rowoff = ((n * c->ih + ih) * c->iw + iw0) * C + c0; /* + kw*dw*C: in src */
                const float *wrow = x->w + kh * c->fw * cp + c0;
                for (; m != 0; m &= m - 1) {
                    const int64_t kw = RR_TAPS_CTZ(m);
                    const float *s = x->src + (rowoff + kw * c->dw * C);
                    const float *wt = wrow + kw * cp;
                    for (int v = 0; v < nv - 1; v++) acc[v] = NV_FMA(NV_LOAD(s + v * NV_VL), NV_LOAD(wt + v * NV_VL), acc[v]);
                    acc[nv - 1] = NV_FMA(NV_LOADT(s + (nv - 1) * NV_VL, tail), NV_LOAD(wt + (nv - 1) * NV_VL), acc[nv - 1]);
                }
            }
            for (int v = 0; v < nv - 1; v++) NV_STORE(d + v * NV_VL, acc[v]);
            NV_STORET(d + (nv - 1) * NV_VL, tail, acc[nv - 1]);
        }
    }
}

/* Every channel block of pixels j0 .. j1 - 1 of an item. */
static void NV_FN(dw_pixels)(const NV_FN(nhwc_job) *x, int64_t n, int64_t oh, int64_t ow0, int64_t len, int64_t j0,
                             int64_t j1, const uint64_t *bits, const int64_t *first, const uint8_t *plan)
{
    const int64_t C = x->c->ic;
    /* one pixel alone (pixel-major) or the banded order: wider blocks, more independent accumulators
     * per tap (dw_block then runs no unions: measured, NV_CBV blocks with unions per band took 10-20 %
     * longer on superpixel DW-K13 / DW-K31); NV_PB pixels of a union run: NV_CBV */
    const int64_t cbv = !x->pixel_major || j1 - j0 == 1 ? NV_CBV_ALONE : NV_CBV;
    for (int64_t c0 = 0; c0 < C; c0 += cbv * NV_VL) {
        int64_t nv = (C - c0 + NV_VL - 1) / NV_VL;
        if (nv > cbv) nv = cbv;
        const NV_TAIL tail = NV_FN(tail_of)(C - c0 - (nv - 1) * NV_VL);
#define NV_DW_CASE(k) case k: NV_FN(dw_block)(x, k, tail, c0, n, oh, ow0, len, j0, j1, bits, first, plan); break;
        switch (nv) {
            NV_DW_CASE(1) NV_DW_CASE(2) NV_DW_CASE(3) NV_DW_CASE(4) NV_DW_CASE(5) NV_DW_CASE(6) NV_DW_CASE(7)
        default: NV_FN(dw_block)(x, NV_CBV_ALONE, tail, c0, n, oh, ow0, len, j0, j1, bits, first, plan); break;
        }
#undef NV_DW_CASE
    }
}

static void NV_FN(dw_items)(void *ctx, int64_t begin, int64_t end)
{
    const NV_FN(nhwc_job) *x = (const NV_FN(nhwc_job) *)ctx;
    const int64_t fh = x->c->fh;
    uint64_t bits[RR_TAPS_MAX_FH * NV_SEG];
    int64_t first[NV_SEG];
    uint8_t plan[NV_SEG];
    for (int64_t i = begin; i < end; i++) {
        int64_t n, oh, ow0, len;
        NV_FN(item_taps)(x, i, &n, &oh, &ow0, &len, bits);
        for (int64_t j = 0; j < len; j++) {
            first[j] = 0;
            while (first[j] < fh && bits[first[j] * len + j] == 0) first[j]++;
        }
        if (x->pixel_major) {
            NV_FN(union_plan)(bits, len, fh, plan);
            for (int64_t j = 0; j < len;) {
                const int64_t step = plan[j] ? NV_PB : 1;
                NV_FN(dw_pixels)(x, n, oh, ow0, len, j, j + step, bits, first, plan);
                j += step;
            }
        } else {
            NV_FN(dw_pixels)(x, n, oh, ow0, len, 0, len, bits, first, NULL);
        }
    }
}

/* ---- grouped / dense --------------------------------------------------------------------------- */

/* Pixels j .. j + NV_PB - 1 together: for every tap active at one of them, one load of each filter
 * vector feeds every pixel's FMA, masked off (acc kept, nothing multiplied into it) where the tap is
 * not the pixel's. A pixel's src is read only where its tap is active (else a valid dummy address
 * whose value the masked FMA discards). */
NV_INLINE void NV_FN(ch_union)(const NV_FN(nhwc_job) *x, const int ng, const int nv, NV_TAIL tail, int64_t g0,
                               int64_t oc0, int64_t n, int64_t oh, int64_t ow0, int64_t len, int64_t j,
                               const uint64_t *bits)
{
    const rr_conv *c = x->c;
    const int64_t icpg = c->icpg, cp = x->cp, gstride = c->fh * c->fw * icpg * cp;
    const float *wg = x->w + g0 * gstride + oc0;
    const float *dummy = x->src + g0 * icpg;
    NV_VEC acc[NV_PB][NV_CBV];
    for (int p = 0; p < NV_PB; p++)
        for (int v = 0; v < ng * nv; v++) acc[p][v] = NV_ZERO();
    for (int64_t kh = 0; kh < c->fh; kh++) {
        uint64_t o = 0;
        for (int p = 0; p < NV_PB; p++) o |= bits[kh * len + j + p];
        if (o == 0) continue;
        const int64_t ih = oh * c->sh - c->ph + kh * c->dh;
        int64_t rowoff[NV_PB];
        for (int p = 0; p < NV_PB; p++)
            rowoff[p] = ((n * c->ih + ih) * c->iw + (ow0 + j + p) * c->sw - c->pw) * c->ic + g0 * icpg;
        for (; o != 0; o &= o - 1) {
            const int64_t kw = RR_TAPS_CTZ(o);
            const float *sp[NV_PB];
            NV_MASK k[NV_PB];
            for (int p = 0; p < NV_PB; p++) {
                const int on = (int)(bits[kh * len + j + p] >> kw & 1u);
                sp[p] = on ? x->src + (rowoff[p] + kw * c->dw * c->ic) : dummy;
                k[p] = NV_MASKOF(on);
            }
            for (int gi = 0; gi < ng; gi++) {
                const float *wt = wg + gi * gstride + (kh * c->fw + kw) * icpg * cp;
                for (int64_t i = 0; i < icpg; i++, wt += cp) {
                    NV_VEC b[NV_PB];
                    for (int p = 0; p < NV_PB; p++) b[p] = NV_BCAST(sp[p] + gi * icpg + i);
                    for (int v = 0; v < nv; v++) {
                        const NV_VEC wv = NV_LOAD(wt + v * NV_VL);
                        for (int p = 0; p < NV_PB; p++)
                            acc[p][gi * nv + v] = NV_FMAM(b[p], wv, acc[p][gi * nv + v], k[p]);
                    }
                }
            }
        }
    }
    for (int p = 0; p < NV_PB; p++) {
        float *d = x->dst + ((n * c->oh + oh) * c->ow + ow0 + j + p) * c->oc + g0 * c->ocpg + oc0;
        for (int gi = 0; gi < ng; gi++, d += c->ocpg) {
            for (int v = 0; v < nv - 1; v++) NV_STORE(d + v * NV_VL, acc[p][gi * nv + v]);
            NV_STORET(d + (nv - 1) * NV_VL, tail, acc[p][gi * nv + nv - 1]);
        }
    }
}

/* Output channels oc0 .. oc0 + nv vectors of groups g0 .. g0 + ng - 1 (ng > 1 only with OCPG <= NV_VL:
 * the groups' accumulators are independent chains of FMAs) at the item's pixels (plan: union_plan's). */
NV_INLINE void NV_FN(ch_block)(const NV_FN(nhwc_job) *x, const int ng, const int nv, NV_TAIL tail, int64_t g0,
                               int64_t oc0, int64_t n, int64_t oh, int64_t ow0, int64_t len, const uint64_t *bits,
                               const uint8_t *plan)
{
    const rr_conv *c = x->c;
    const int64_t icpg = c->icpg, cp = x->cp, gstride = c->fh * c->fw * icpg * cp;
    const float *wg = x->w + g0 * gstride + oc0;
    int64_t united = 0; /* pixels before this one that ran in ch_union */
    for (int64_t j = 0; j < len; j++) {
        if (plan[j]) {
            NV_FN(ch_union)(x, ng, nv, tail, g0, oc0, n, oh, ow0, len, j, bits);
            united = j + NV_PB;
        }
        if (j < united) continue;
        const int64_t ow = ow0 + j, iw0 = ow * c->sw - c->pw;
        NV_VEC acc[NV_CBV];
        for (int v = 0; v < ng * nv; v++) acc[v] = NV_ZERO();
        for (int64_t kh = 0; kh < c->fh; kh++) {
            uint64_t m = bits[kh * len + j];
            if (m == 0) continue;
            const int64_t ih = oh * c->sh - c->ph + kh * c->dh;
            const int64_t rowoff = ((n * c->ih + ih) * c->iw + iw0) * c->ic + g0 * icpg; /* + kw*dw*IC: in src */
            for (; m != 0; m &= m - 1) {
                const int64_t kw = RR_TAPS_CTZ(m);
                const float *s = x->src + (rowoff + kw * c->dw * c->ic);
                for (int gi = 0; gi < ng; gi++) {
                    const float *wt = wg + gi * gstride + (kh * c->fw + kw) * icpg * cp;
                    for (int64_t i = 0; i < icpg; i++, wt += cp) {
                        const NV_VEC b = NV_BCAST(s + gi * icpg + i);
                        for (int v = 0; v < nv; v++)
                            acc[gi * nv + v] = NV_FMA(b, NV_LOAD(wt + v * NV_VL), acc[gi * nv + v]);
                    }
                }
            }
        }
        float *d = x->dst + ((n * c->oh + oh) * c->ow + ow) * c->oc + g0 * c->ocpg + oc0;
        for (int gi = 0; gi < ng; gi++, d += c->ocpg) {
            for (int v = 0; v < nv - 1; v++) NV_STORE(d + v * NV_VL, acc[gi * nv + v]);
            NV_STORET(d + (nv - 1) * NV_VL, tail, acc[gi * nv + nv - 1]);
        }
    }
}

static void NV_FN(ch_items)(void *ctx, int64_t begin, int64_t end)
{
    const NV_FN(nhwc_job) *x = (const NV_FN(nhwc_job) *)ctx;
    const rr_conv *c = x->c;
    uint64_t bits[RR_TAPS_MAX_FH * NV_SEG];
    for (int64_t i = begin; i < end; i++) {
        int64_t n, oh, ow0, len;
        NV_FN(item_taps)(x, i, &n, &oh, &ow0, &len, bits);
        uint8_t plan[NV_SEG];
        NV_FN(union_plan)(bits, len, c->fh, plan);
        if (c->ocpg <= NV_VL) {
            /* one vector per group: up to NV_CBV groups at once */
            const NV_TAIL tail = NV_TAILMASK((int)c->ocpg);
            for (int64_t g0 = 0; g0 < c->groups; g0 += NV_CBV) {
                switch (c->groups - g0 < NV_CBV ? c->groups - g0 : NV_CBV) {
                case 1: NV_FN(ch_block)(x, 1, 1, tail, g0, 0, n, oh, ow0, len, bits, plan); break;
                case 2: NV_FN(ch_block)(x, 2, 1, tail, g0, 0, n, oh, ow0, len, bits, plan); break;
                case 3: NV_FN(ch_block)(x, 3, 1, tail, g0, 0, n, oh, ow0, len, bits, plan); break;
                default: NV_FN(ch_block)(x, NV_CBV, 1, tail, g0, 0, n, oh, ow0, len, bits, plan); break;
                }
            }
            continue;
        }
        for (int64_t g = 0; g < c->groups; g++) {
            for (int64_t oc0 = 0; oc0 < c->ocpg; oc0 += NV_CBV * NV_VL) {
                int64_t nv = (c->ocpg - oc0 + NV_VL - 1) / NV_VL;
                if (nv > NV_CBV) nv = NV_CBV;
                const NV_TAIL tail = NV_FN(tail_of)(c->ocpg - oc0 - (nv - 1) * NV_VL);
                switch (nv) {
                case 1: NV_FN(ch_block)(x, 1, 1, tail, g, oc0, n, oh, ow0, len, bits, plan); break;
                case 2: NV_FN(ch_block)(x, 1, 2, tail, g, oc0, n, oh, ow0, len, bits, plan); break;
                case 3: NV_FN(ch_block)(x, 1, 3, tail, g, oc0, n, oh, ow0, len, bits, plan); break;
                default: NV_FN(ch_block)(x, 1, NV_CBV, tail, g, oc0, n, oh, ow0, len, bits, plan); break;
                }
            }
        }
    }
}

/* ---- entries ----------------------------------------------------------------------------------- */

/* Packs the filter (depthwise: [tap][cp]; else [g][tap][icg][cp], zeros past C / OCPG) and runs fn over
 * the items. */
static rrconv_status NV_FN(nhwc_run)(const rr_problem *p, int depthwise, rr_range_fn fn)
{
    const rr_conv *c = &p->c;
    RR_ASSERT(c->mode == RRCONV_CROSS_CORRELATION && c->mask_type == RRCONV_MASK_INT32);
    RR_ASSERT(c->layout == RR_LAYOUT_NHWC && c->fw <= RR_TAPS_MAX_FW && c->fh <= RR_TAPS_MAX_FH);
    const int64_t taps = c->fh * c->fw, ch = depthwise ? c->ic : c->ocpg;
    NV_FN(nhwc_job) x;
    x.c = c;
    x.src = (const float *)p->src.data;
    x.rin = (const int32_t *)p->rin.data;
    x.rout = (const int32_t *)p->rout.data;
    x.dst = p->out.data;
    x.cp = (ch + NV_VL - 1) / NV_VL * NV_VL;
    x.segs = (c->ow + NV_SEG - 1) / NV_SEG;
    const int64_t block_bytes = c->fw * NV_CBV_ALONE * NV_VL * (int64_t)sizeof(float);
    x.band = NV_BAND_BYTES / block_bytes < 1 ? 1 : NV_BAND_BYTES / block_bytes;
    x.pixel_major = taps * x.cp * (int64_t)sizeof(float) <= NV_PIXEL_MAJOR_BYTES;
    if (x.pixel_major) x.band = c->fh;
    rr_workspace ws;
    rr_ws_begin(&ws, p->op);
    const int64_t groups = depthwise ? 1 : c->groups, icpg = depthwise ? 1 : c->icpg;
    float *w = (float *)rr_ws_alloc(&ws, groups * taps * icpg * x.cp, 4, "packed weights");
    if (w == NULL) {
        const rrconv_status st = ws.status;
        rr_ws_end(&ws);
        return st;
    }
    const float *flt = (const float *)p->filter.data;
    if (depthwise) {
        /* [C][taps] -> [taps][cp], NV_VL channels at a time: the NV_VL filter rows being read stay in
         * cache across the taps (tap-major over all C read one element per line: 8 % of superpixel
         * DW-K31's forward) */
        for (int64_t o0 = 0; o0 < x.cp; o0 += NV_VL) {
            for (int64_t t = 0; t < taps; t++) {
                float *row = w + t * x.cp + o0;
                for (int64_t o = 0; o < NV_VL; o++) row[o] = o0 + o < ch ? flt[(o0 + o) * taps + t] : 0.0f;
            }
        }
    }
    for (int64_t g = 0; !depthwise && g < groups; g++) {
        for (int64_t t = 0; t < taps; t++) {
            for (int64_t i = 0; i < icpg; i++) {
                float *row = w + ((g * taps + t) * icpg + i) * x.cp;
                for (int64_t o = 0; o < x.cp; o++) {
                    /* filter [g][OCPG][ICPG][taps] */
                    row[o] = o >= ch ? 0.0f : flt[((g * c->ocpg + o) * icpg + i) * taps + t];
                }
            }
        }
    }
    x.w = w;
    rr_parallel_for(c->n * c->oh * x.segs, fn, &x);
    rr_ws_end(&ws);
    return RRCONV_OK;
}

rrconv_status NV_ENTRY(rr_forward_nhwc_depthwise)(const rr_problem *p)
{
    RR_ASSERT(rr_forward_nhwc_depthwise_applies(&p->c));
    return NV_FN(nhwc_run)(p, 1, NV_FN(dw_items));
}

rrconv_status NV_ENTRY(rr_forward_nhwc_channels)(const rr_problem *p)
{
    RR_ASSERT(rr_forward_nhwc_channels_applies(&p->c));
    return NV_FN(nhwc_run)(p, 0, NV_FN(ch_items));
}
