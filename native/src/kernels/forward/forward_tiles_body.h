/*
 * forward_tiles_body.h -- the forward tile kernels' loops (see common/tile_plan.h), written once over
 * a few vector macros; included by forward_tiles__avx512.c and forward_tiles__avx2.c only.
 *
 * The including file includes common/tile_lanes__<isa>.h, which defines (listed here once):
 *   FD_VL                 lanes per block (pl->lanes)
 *   FD_BITS, FD_PAIR      stored lane mask of one block (one bit per lane), and of a tile's two blocks
 *   FD_FN(name)           name with the ISA suffix
 * float lanes:
 *   FD_VEC, FD_MASK       vector and in-register lane mask
 *   FD_TOMASK(bits)       FD_BITS -> FD_MASK
 *   FD_ZERO(), FD_SET1(x) zero, broadcast
 *   FD_LOADZ(k, p)        masked load: lanes outside k are 0 and neither read nor faulting
 *   FD_FMA(x, w, acc, k)  lanes in k: acc + x*w (one rounding); others: acc unchanged
 *   FD_STORE(p, k, v)     stores the lanes in k
 * int32 lanes (the mask pass):
 *   FD_IVEC, FD_IMASK     vector and lane predicate
 *   FD_ILANES(bits)       lanes 0..n-1 as a predicate, from (1 << n) - 1
 *   FD_ILOAD(p), FD_ILOADZ(k, p), FD_ISET1(x), FD_IADD(a, b), FD_IMUL(a, b)
 *   FD_IN_RANGE(k, v, hi) the lanes of k with 0 <= v < hi
 *   FD_IEQ(k, a, b)       the lanes of k with a == b
 *   FD_IBITS(k)           the predicate as bits (lane l -> bit l)
 * register tiles:
 *   FD_OC_CASES(X)        X(1) ... X(max output channels per oc item)
 *   FD_DW_CASES(X)        X(1) ... X(max channels per depthwise item)
 *   FD_ACC_MAX            the larger of the two maxima
 *   FD_VTILE              1: depthwise vertical tiles (pl->vertical, common/tile_plan.c sets it for AVX-512 only)
 * and the element types (float32 unless the includer defines them; the half rows' files do):
 *   FD_T                  the element type of src (float, or uint16_t bit patterns of pl->c.dtype)
 *   FD_SRC_LOAD(pl, k, p) FD_LOADZ for FD_T: the lanes of k (at least) of the elements at p, as floats
 *   FD_OUT_STORE(pl, dst, off, k, v)  stores the lanes in k of v as elements off.. of dst (pl->dst, of
 *                         type pl->c.out_dtype), rounded once
 *   FD_NAME(name)         the entry points' names (FD_FN(name), or with the type in them)
 * Weights are packed as floats for every type (forward.c widens half filters while packing): a half
 * instantiation computes the float32 one's sums of the widened data, rounded once when stored.
 */
#include "../common/tile_plan.h"

#include <string.h>

#ifndef FD_T
#define FD_T float
#define FD_SRC_LOAD(pl, k, p) FD_LOADZ((k), (p))
#define FD_OUT_STORE(pl, dst, off, k, v) FD_STORE((float *)(dst) + (off), (k), (v))
#define FD_NAME(name) FD_FN(name)
#endif

#define RR_INLINE static inline __attribute__((always_inline))

/* Full unrolling of the small constant-count register-tile loops keeps the accumulators in registers. */
#if defined(__clang__)
#define RR_UNROLL _Pragma("unroll")
#else
#define RR_UNROLL _Pragma("GCC unroll 16")
#endif

/* Keeps the compiler from hoisting per-channel addresses out of the tap loop (it would run out of
 * general registers and park them in vector registers, costing a transfer per load). */
#define RR_OPAQUE(p) __asm__("" : "+r"(p))

/* The two blocks' masks of one tap (two FD_BITS) in one load. */
RR_INLINE FD_PAIR mask_pair(const FD_BITS *m, int64_t t)
{
    FD_PAIR v;
    memcpy(&v, m + 2 * t, sizeof v);
    return v;
}

#define FD_LO(pair) ((FD_BITS)(pair))
#define FD_HI(pair) ((FD_BITS)((pair) >> FD_VL))

/* ---- dense / grouped: a tile x OCB output channels of one group ------------------------------- */

RR_INLINE void oc_tile(const rr_tile_plan *pl, const FD_BITS *m, const FD_T *src_g, const float *w_g,
                       void *dst, int64_t dst_o, int64_t s0, int64_t s1, int64_t d0, int64_t d1, FD_MASK lv0, FD_MASK lv1,
                       const int OCB, const int NB)
{
    const rr_conv *c = &pl->c;
    const int64_t taps = pl->taps, ohw = c->oh * c->ow;
    const int64_t *toff = pl->toff;
    FD_VEC acc[FD_ACC_MAX][2];
RR_UNROLL
    for (int o = 0; o < OCB; o++) {
        acc[o][0] = FD_ZERO();
        acc[o][1] = FD_ZERO();
    }
    for (int64_t t = 0; t < taps; t++) {
        const FD_PAIR kk = mask_pair(m, t);
        if (kk == 0) continue;
        const FD_MASK k0 = FD_TOMASK(FD_LO(kk)), k1 = FD_TOMASK(FD_HI(kk));
        const FD_T *sp = src_g + toff[t];
        const float *wt = w_g + t * c->icpg * OCB;
        for (int64_t icg = 0; icg < c->icpg; icg++, sp += pl->src_chan, wt += OCB) {
            const FD_VEC x0 = FD_SRC_LOAD(pl, k0, sp + s0);
            if (NB == 2) {
                const FD_VEC x1 = FD_SRC_LOAD(pl, k1, sp + s1);
RR_UNROLL
                for (int o = 0; o < OCB; o++) {
                    const FD_VEC wv = FD_SET1(wt[o]);
                    acc[o][0] = FD_FMA(x0, wv, acc[o][0], k0);
                    acc[o][1] = FD_FMA(x1, wv, acc[o][1], k1);
                }
            } else {
RR_UNROLL
                for (int o = 0; o < OCB; o++) acc[o][0] = FD_FMA(x0, FD_SET1(wt[o]), acc[o][0], k0);
            }
        }
    }
RR_UNROLL
    for (int o = 0; o < OCB; o++) {
        FD_OUT_STORE(pl, dst, dst_o + o * ohw + d0, lv0, acc[o][0]);
        if (NB == 2) FD_OUT_STORE(pl, dst, dst_o + o * ohw + d1, lv1, acc[o][1]);
    }
}

#define OC_CASE(K)                                                                                     \
    case K:                                                                                            \
        if (two) oc_tile(pl, m, src_g, w_g, dst, dst_o, s0, s1, d0, d1, lv0, lv1, K, 2);               \
        else oc_tile(pl, m, src_g, w_g, dst, dst_o, s0, s1, d0, d1, lv0, lv1, K, 1);                   \
        break;

void FD_NAME(rr_fwd_oc)(void *vpl, int64_t begin, int64_t end)
{
    const rr_tile_plan *pl = (const rr_tile_plan *)vpl;
    const rr_conv *c = &pl->c;
    void *const dst = pl->dst;
    for (int64_t item = begin; item < end; item++) {
        const int64_t blocks = c->groups * pl->nob, sp = item / blocks, blkid = item % blocks;
        const int64_t g = blkid / pl->nob, oc0 = (blkid % pl->nob) * pl->ocb;
        const int64_t no = c->ocpg - oc0 < pl->ocb ? c->ocpg - oc0 : pl->ocb;
        const float *w_g = pl->w + (g * c->ocpg + oc0) * c->icpg * pl->taps;
        const int64_t t_end = (sp + 1) * pl->span < pl->ntiles ? (sp + 1) * pl->span : pl->ntiles;
        for (int64_t tl = sp * pl->span; tl < t_end; tl++) {
            const rr_tile *ti = &pl->tiles[tl];
            const int two = ti->two;
            const int64_t s0 = ti->s0, s1 = ti->s1, d0 = ti->d0, d1 = ti->d1;
            const FD_MASK lv0 = FD_TOMASK((FD_BITS)ti->lv), lv1 = FD_TOMASK((FD_BITS)(ti->lv >> 16));
            const FD_BITS *m = (const FD_BITS *)pl->masks + tl * pl->taps * 2;
            const FD_T *src_g = (const FD_T *)(const void *)pl->src + (ti->n * c->ic + g * c->icpg) * pl->src_chan;
            const int64_t dst_o = (ti->n * c->oc + g * c->ocpg + oc0) * c->oh * c->ow;
            switch (no) {
                FD_OC_CASES(OC_CASE)
            default: break;
            }
        }
    }
}

/* ---- depthwise: a tile x CB channels, one mask load per tap for all of them ------------------- */

RR_INLINE void dw_tile(const rr_tile_plan *pl, const FD_BITS *m, const FD_T *src_c, const float *w_c,
                       void *dst, int64_t dst_c, int64_t s0, int64_t s1, int64_t d0, int64_t d1, FD_MASK lv0, FD_MASK lv1,
                       const int CB, const int NB)
{
    const int64_t taps = pl->taps, chan = pl->src_chan, ohw = pl->c.oh * pl->c.ow, ds = s1 - s0;
    const int64_t *toff = pl->toff;
    FD_VEC acc[FD_ACC_MAX][2];
RR_UNROLL
    for (int ci = 0; ci < CB; ci++) {
        acc[ci][0] = FD_ZERO();
        acc[ci][1] = FD_ZERO();
    }
    for (int64_t t = 0; t < taps; t++) {
        const FD_PAIR kk = mask_pair(m, t);
        if (kk == 0) continue;
        const FD_MASK k0 = FD_TOMASK(FD_LO(kk)), k1 = FD_TOMASK(FD_HI(kk));
        const FD_T *sp = src_c + toff[t] + s0;
RR_UNROLL
        for (int ci = 0; ci < CB; ci++) {
            const FD_VEC wv = FD_SET1(w_c[t * CB + ci]);
            const FD_VEC x0 = FD_SRC_LOAD(pl, k0, sp);
            acc[ci][0] = FD_FMA(x0, wv, acc[ci][0], k0);
            if (NB == 2) {
                const FD_VEC x1 = FD_SRC_LOAD(pl, k1, sp + ds);
                acc[ci][1] = FD_FMA(x1, wv, acc[ci][1], k1);
            }
            sp += chan;
            RR_OPAQUE(sp);
        }
    }
RR_UNROLL
    for (int ci = 0; ci < CB; ci++) {
        FD_OUT_STORE(pl, dst, dst_c + ci * ohw + d0, lv0, acc[ci][0]);
        if (NB == 2) FD_OUT_STORE(pl, dst, dst_c + ci * ohw + d1, lv1, acc[ci][1]);
    }
}

#if FD_VTILE
/*
 * Depthwise on a vertical tile (rows oh and oh+1, same columns; stride_h == dil_h == 1): input row
 * oh - ph + r is tap row r of block 0 and tap row r-1 of block 1, so each window is loaded once
 * (under the union of the two tap masks) and feeds both blocks' FMAs (each under its own mask).
 * The per-output order of taps is unchanged (kh, then kw ascending).
 */
RR_INLINE void dw_vtile(const rr_tile_plan *pl, const FD_BITS *m, const FD_T *src_c, const float *w_c,
                        void *dst, int64_t dst_c, int64_t s0, int64_t s1, int64_t d0, int64_t d1, FD_MASK lv0, FD_MASK lv1,
                        const int CB)
{
    const rr_conv *c = &pl->c;
    const int64_t fh = c->fh, fw = c->fw, chan = pl->src_chan, ohw = c->oh * c->ow;
    const int64_t *toff = pl->toff;
    FD_VEC acc[FD_ACC_MAX][2];
RR_UNROLL
    for (int ci = 0; ci < CB; ci++) {
        acc[ci][0] = FD_ZERO();
        acc[ci][1] = FD_ZERO();
    }
    for (int64_t r = 0; r <= fh; r++) {
        for (int64_t kw = 0; kw < fw; kw++) {
            const FD_BITS b0 = r < fh ? m[2 * (r * fw + kw)] : 0;
            const FD_BITS b1 = r > 0 ? m[2 * ((r - 1) * fw + kw) + 1] : 0;
            if ((b0 | b1) == 0) continue;
            const FD_MASK k0 = FD_TOMASK(b0), k1 = FD_TOMASK(b1), ku = FD_TOMASK((FD_BITS)(b0 | b1));
            const FD_T *sp = src_c + (r < fh ? s0 + toff[r * fw + kw] : s1 + toff[(r - 1) * fw + kw]);
            RR_OPAQUE(sp);
            /* a row outside 0..fh-1 has mask 0: any valid weight address will do */
            const float *w0 = w_c + ((r < fh ? r : r - 1) * fw + kw) * CB;
            const float *w1 = w_c + ((r > 0 ? r - 1 : r) * fw + kw) * CB;
RR_UNROLL
            for (int ci = 0; ci < CB; ci++) {
                const FD_VEC x = FD_SRC_LOAD(pl, ku, sp);
                acc[ci][0] = FD_FMA(x, FD_SET1(w0[ci]), acc[ci][0], k0);
                acc[ci][1] = FD_FMA(x, FD_SET1(w1[ci]), acc[ci][1], k1);
                sp += chan;
                RR_OPAQUE(sp);
            }
        }
    }
RR_UNROLL
    for (int ci = 0; ci < CB; ci++) {
        FD_OUT_STORE(pl, dst, dst_c + ci * ohw + d0, lv0, acc[ci][0]);
        FD_OUT_STORE(pl, dst, dst_c + ci * ohw + d1, lv1, acc[ci][1]);
    }
}
#define FD_RUN_VTILE(K) if (two && pl->vertical) dw_vtile(pl, m, src_c, w_c, dst, dst_c, s0, s1, d0, d1, lv0, lv1, K); else
#else
#define FD_RUN_VTILE(K)
#endif

#define DW_CASE(K)                                                                                     \
    case K:                                                                                            \
        FD_RUN_VTILE(K)                                                                                \
        if (two) dw_tile(pl, m, src_c, w_c, dst, dst_c, s0, s1, d0, d1, lv0, lv1, K, 2);               \
        else dw_tile(pl, m, src_c, w_c, dst, dst_c, s0, s1, d0, d1, lv0, lv1, K, 1);                   \
        break;

void FD_NAME(rr_fwd_dw)(void *vpl, int64_t begin, int64_t end)
{
    const rr_tile_plan *pl = (const rr_tile_plan *)vpl;
    const rr_conv *c = &pl->c;
    void *const dst = pl->dst;
    for (int64_t item = begin; item < end; item++) {
        const int64_t cbi = item / pl->nspans, sp = item % pl->nspans;
        const int64_t g0 = cbi * pl->cb, nc = c->groups - g0 < pl->cb ? c->groups - g0 : pl->cb;
        const float *w_c = pl->w + g0 * pl->taps;
        const int64_t t_end = (sp + 1) * pl->span < pl->ntiles ? (sp + 1) * pl->span : pl->ntiles;
        for (int64_t tl = sp * pl->span; tl < t_end; tl++) {
            const rr_tile *ti = &pl->tiles[tl];
            const int two = ti->two;
            const int64_t s0 = ti->s0, s1 = ti->s1, d0 = ti->d0, d1 = ti->d1;
            const FD_MASK lv0 = FD_TOMASK((FD_BITS)ti->lv), lv1 = FD_TOMASK((FD_BITS)(ti->lv >> 16));
            const FD_BITS *m = (const FD_BITS *)pl->masks + tl * pl->taps * 2;
            const FD_T *src_c = (const FD_T *)(const void *)pl->src + (ti->n * c->ic + g0) * pl->src_chan;
            const int64_t dst_c = (ti->n * c->oc + g0) * c->oh * c->ow;
            switch (nc) {
                FD_DW_CASES(DW_CASE)
            default: break;
            }
        }
    }
}
