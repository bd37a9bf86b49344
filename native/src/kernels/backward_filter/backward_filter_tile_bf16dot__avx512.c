/*
 * backward_filter_tile_bf16dot__avx512.c -- the bfloat16 filter gradient on vdpbf16ps (AVX-512 +
 * AVX512_BF16; common/bf16dot.h says when it is exact, and how the work is cut).
 *
 * Over the tile plan's masks (blocks of 16 output pixels, two per tile; flat blocks of the flattened
 * OH*OW plane at stride 1 with OW == IW, so that no lanes idle at row ends, else row-wise): a piece is
 * the 32 pixels of a tile whose blocks are contiguous, else each block alone. Its pixel pairs are
 * the 16 lanes: 32 consecutive bfloat16 values of diff (one output channel) and of src at the tap's
 * offset (one input channel), both loaded under the tap's 32-bit pixel mask (zero outside it: 0 * 0, so
 * a NaN or Inf in a masked-out pixel never meets the other operand), one vdpbf16ps per (output,
 * input channel). Per output element the order is fixed (lanes over the tiles in plan order, then the
 * lanes summed in one fixed order): no dependence on the thread count.
 */
#include "../common/bf16dot.h"
#include "../common/tile_plan.h"
#include "../../half.h"

#include <immintrin.h>

#define RR_INLINE static inline __attribute__((always_inline))
#if defined(__clang__)
#define RR_UNROLL _Pragma("unroll")
#else
#define RR_UNROLL _Pragma("GCC unroll 16")
#endif

#define BO RR_BF16DOT_BWF_BO
#define BI RR_BF16DOT_BWF_BI
#define SPAN 32 /* tiles per pass over the taps */

void rr_bf16dot_scan_avx512(void *vctx, int64_t begin, int64_t end)
{
    const rr_bf16dot_scan *x = (const rr_bf16dot_scan *)vctx;
    for (int64_t item = begin; item < end; item++) {
        const int64_t i0 = item * RR_BF16DOT_SCAN;
        const int64_t i1 = i0 + RR_BF16DOT_SCAN < x->n ? i0 + RR_BF16DOT_SCAN : x->n;
        __m512i mn = _mm512_set1_epi16(-1), mx = _mm512_setzero_si512();
        for (int64_t i = i0; i < i1; i += 32) {
            const int64_t left = i1 - i;
            const __mmask32 k = left >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << left) - 1u);
            const __m512i mag = _mm512_and_si512(_mm512_maskz_loadu_epi16(k, x->v + i), _mm512_set1_epi16(0x7fff));
            mn = _mm512_min_epu16(mn, _mm512_sub_epi16(mag, _mm512_set1_epi16(1))); /* zero -> 0xffff */
            mx = _mm512_max_epu16(mx, mag);
        }
        /* Inf and NaN: exponent field 255, magnitude >= 0x7f80 */
        x->finite[item] = (uint8_t)(_mm512_cmpge_epu16_mask(mx, _mm512_set1_epi16(0x7f80)) == 0);
        uint16_t lanes[32];
        _mm512_storeu_si512(lanes, mn);
        unsigned m = 0xffffu;
        for (int l = 0; l < 32; l++) m = lanes[l] < m ? lanes[l] : m;
        x->emin[item] = (uint8_t)(m == 0xffffu ? 255u : (m + 1u) >> 7);
    }
}

RR_INLINE __m512 dot(__m512 acc, __m512i x, __m512i w)
{
    return _mm512_dpbf16_ps(acc, (__m512bh)x, (__m512bh)w);
}

/* A piece of a tile: its diff and src pixels (channel oc0 / ic0 of its image, tap offset not yet added)
 * and its masks (per tap: two uint16_t from m, the second one part of the piece when whole). */
typedef struct piece {
    const uint16_t *d, *s, *m;
    int whole;
} piece;

/* The pieces of tiles [t0, t1) of the chunk, no output channels; returns their number (at most 2 per
 * tile); *dfree: the diff of every piece may be loaded without the mask (bf16dot.h: finite diff, the
 * 32 values of every channel of the item inside the tensor). */
static int span_pieces(const rr_tile_plan *pl, const rr_bf16dot_bwf *j, const uint16_t *d_base, const uint16_t *s_base,
                       int64_t t0, int64_t t1, int no, piece *pcs, int *dfree)
{
    const rr_conv *c = &pl->c;
    const int64_t ohw = c->oh * c->ow, ihw = c->ih * c->iw;
    const int64_t dimg = j->groups * j->ocpg * ohw, simg = j->groups * j->icpg * ihw;
    int np = 0;
    for (int64_t tl = t0; tl < t1; tl++) {
        const rr_tile *ti = &pl->tiles[tl];
        const uint16_t *m = (const uint16_t *)pl->masks + tl * pl->taps * 2;
        const uint16_t *dn = d_base + ti->n * dimg, *sn = s_base + ti->n * simg;
        /* the tile as one 32-pixel piece (its blocks contiguous in diff and src: neighbours in a row, or
         * in the flattened plane), or its blocks one at a time */
        const int whole = ti->two && ti->d1 == ti->d0 + 16 && ti->s1 == ti->s0 + 16;
        pcs[np++] = (piece){dn + ti->d0, sn + ti->s0, m, whole};
        if (ti->two && !whole) pcs[np++] = (piece){dn + ti->d1, sn + ti->s1, m + 1, 0};
        /* the last piece of the tile reads 32 values from here, in each of the item's no channels */
        const int64_t dlast = ti->two && !whole ? ti->d1 : ti->d0;
        if (dn + dlast + (no - 1) * ohw + 32 > j->diff_end) *dfree = 0;
    }
    return np;
}

/* One item's taps over the pieces of a span, NO x NI channels; fresh: the item's first span (the
 * accumulators start from zero, not from gacc); DFREE: every piece's diff is loaded without the mask. */
RR_INLINE void span_taps(const rr_tile_plan *pl, const rr_bf16dot_bwf *j, float *gacc, const piece *pcs, int np,
                         int fresh, const int NO, const int NI, const int DFREE)
{
    const rr_conv *c = &pl->c;
    const int64_t taps = pl->taps, ohw = c->oh * c->ow, ihw = c->ih * c->iw;
    (void)j;
    for (int64_t t = 0; t < taps; t++) {
        float *ga = gacc + t * BO * BI * 16;
        __m512 acc[BO][BI];
RR_UNROLL
        for (int o = 0; o < NO; o++)
RR_UNROLL
            for (int i = 0; i < NI; i++) acc[o][i] = fresh ? _mm512_setzero_ps() : _mm512_loadu_ps(ga + (o * BI + i) * 16);
        const int64_t toff = pl->toff[t];
        for (int q = 0; q < np; q++) {
            const piece *pc = &pcs[q];
            const __mmask32 k = (__mmask32)pc->m[2 * t] | (pc->whole ? (__mmask32)pc->m[2 * t + 1] << 16 : 0u);
            if (k == 0) continue;
            const uint16_t *sp = pc->s + toff, *dp = pc->d;
            __m512i xs[BI];
RR_UNROLL
            for (int i = 0; i < NI; i++) xs[i] = _mm512_maskz_loadu_epi16(k, sp + i * ihw);
            if (DFREE) {
RR_UNROLL
                for (int o = 0; o < NO; o++) {
                    const __m512i dv = _mm512_loadu_si512(dp + o * ohw);
RR_UNROLL
                    for (int i = 0; i < NI; i++) acc[o][i] = dot(acc[o][i], xs[i], dv);
                }
            } else {
RR_UNROLL
                for (int o = 0; o < NO; o++) {
                    const __m512i dv = _mm512_maskz_loadu_epi16(k, dp + o * ohw);
RR_UNROLL
                    for (int i = 0; i < NI; i++) acc[o][i] = dot(acc[o][i], xs[i], dv);
                }
            }
        }
RR_UNROLL
        for (int o = 0; o < NO; o++)
RR_UNROLL
            for (int i = 0; i < NI; i++) _mm512_storeu_ps(ga + (o * BI + i) * 16, acc[o][i]);
    }
}

#define NI_CASE(NO, NI)                                                                                \
    case NI:                                                                                           \
        if (dfree) span_taps(pl, j, gacc, pcs, np, fresh, NO, NI, 1);                                  \
        else span_taps(pl, j, gacc, pcs, np, fresh, NO, NI, 0);                                        \
        break;
#define NO_CASE(NO)                                                                                    \
    case NO:                                                                                           \
        switch (ni) {                                                                                  \
            NI_CASE(NO, 1) NI_CASE(NO, 2) NI_CASE(NO, 3) NI_CASE(NO, 4)                                \
        default: break;                                                                                \
        }                                                                                              \
        break;

/* Items: (g * nob + ob) * nib + ib, every tile of the chunk each. */
void rr_bwf_bf16dot_avx512(void *vpl, int64_t begin, int64_t end)
{
    const rr_tile_plan *pl = (const rr_tile_plan *)vpl;
    const rr_bf16dot_bwf *j = (const rr_bf16dot_bwf *)pl->job_data;
    const rr_conv *c = &pl->c;
    const int64_t taps = pl->taps, ohw = c->oh * c->ow, ihw = c->ih * c->iw;
    for (int64_t item = begin; item < end; item++) {
        const int64_t ib = item % j->nib, ob = item / j->nib % j->nob, g = item / j->nib / j->nob;
        const int64_t oc0 = ob * BO, ic0 = ib * BI;
        const int no = (int)(j->ocpg - oc0 < BO ? j->ocpg - oc0 : BO), ni = (int)(j->icpg - ic0 < BI ? j->icpg - ic0 : BI);
        float *gacc = j->gacc + item * taps * BO * BI * 16;
        const uint16_t *d_base = j->diff + (g * j->ocpg + oc0) * ohw;
        const uint16_t *s_base = j->src + (g * j->icpg + ic0) * ihw;
        for (int64_t t0 = 0; t0 < pl->ntiles; t0 += SPAN) {
            const int64_t t1 = t0 + SPAN < pl->ntiles ? t0 + SPAN : pl->ntiles;
            piece pcs[2 * SPAN];
            int dfree = j->diff_finite;
            const int np = span_pieces(pl, j, d_base, s_base, t0, t1, no, pcs, &dfree);
            const int fresh = pl->first_chunk && t0 == 0;
            switch (no) {
                NO_CASE(1) NO_CASE(2) NO_CASE(3) NO_CASE(4) NO_CASE(5) NO_CASE(6)
            default: break;
            }
        }
        if (!pl->last_chunk) continue;
        for (int o = 0; o < no; o++) {
            for (int i = 0; i < ni; i++) {
                const int64_t base = ((g * j->ocpg + oc0 + o) * j->icpg + ic0 + i) * taps;
                for (int64_t t = 0; t < taps; t++) {
                    const float v = _mm512_reduce_add_ps(_mm512_loadu_ps(gacc + ((t * BO + o) * BI + i) * 16));
                    if (j->out_dtype == RR_DT_F32) ((float *)j->gw)[base + t] = v;
                    else ((uint16_t *)j->gw)[base + t] = rr_f32_to_bf16(v);
                }
            }
        }
    }
}
