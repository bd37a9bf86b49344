/*
 * backward_data_phases_body.h -- the mask and compute passes of the fast backward-data kernel, written
 * once over a few vector macros; included by backward_data_phases__avx512.c and __avx2.c only.
 *
 * The including file defines:
 *   BD_VL             lanes per vector
 *   BD_BITS           stored lane-mask type (one bit per lane)
 *   BD_VEC, BD_MASK   vector and in-register mask types
 *   BD_TOMASK(bits)   stored bits -> BD_MASK
 *   BD_ZERO()         zero vector
 *   BD_SET1(x)        broadcast
 *   BD_LOADZ(m, p)    masked load, masked-off lanes neither read nor faulting
 *   BD_FMA(a, x, w, m) lanes in m: a + x*w (one rounding); others: a unchanged
 *   BD_FMA_FINITE(a, x, w, m)  the same when w is finite and x is 0 outside m (a BD_LOADZ): there
 *                     a + 0*w == a bitwise (a is never -0: it starts at +0, and a sum only gives -0
 *                     from two -0 terms), so an ISA without masked FMAs may skip the merge
 *   BD_STOREN(p, v, n) stores lanes 0..n-1
 *   BD_STOREU(p, v)   stores all lanes
 *   BD_FN(name)       name with the ISA suffix
 *   BD_TILES(X)       the generic tiles, X(icb, nbt) each; BD_DW_CB, BD_DW_NB the depthwise tile
 *   BD_SPLIT_FINITE   1: also build BD_FMA_FINITE variants, run when the weights are all finite
 *   BD_STORE_STRIDED(pl, p, v, n, s)  optional, for 2 <= s <= 4: stores lanes 0..n-1 of v at p[0],
 *                     p[s], p[2s], ... (the plan's stride_idx / stride_mask tables)
 * and the function
 *   BD_BITS bd_tap_bits(jh, jw, rv, nvalid, offh, offw, rout_at, oh, ow)
 *     bit l set iff l < nvalid, 0 <= jh[l]+offh < oh, 0 <= jw[l]+offw < ow and
 *     rout_at[l] == rv[l] (rout_at[l] read only for lanes inside those bounds).
 * A half instantiation (the compute pass only; the float32 file's mask pass serves it) defines instead
 * of bd_tap_bits:
 *   BD_HALF               1
 *   BD_T                  uint16_t: diff's elements (bit patterns of c.dtype)
 *   BD_LOADT(pl, m, p)    BD_LOADZ for BD_T elements, as floats (0 outside m)
 *   BD_STORE_HALF(t, base, off, v, n)  stores lanes 0..n-1 of v as elements off.. of type t at base
 * and BD_FN names its compute pass apart (e.g. name##_bf16_avx512). It sums the float32 pass's products
 * of the widened data (weights widened while packed) in the same order, and rounds each grad_src
 * element once to c.out_dtype when it stores it.
 */
#include "backward_data_phases.h"

#ifndef BD_HALF
#define BD_HALF 0
#define BD_T float
#define BD_LOADT(pl, m, p) BD_LOADZ((m), (p))
#endif

#if !BD_HALF /* the mask pass: once per ISA, in the float32 file */
/* Lane coordinates (phase plane) and rin values of one block. */
static void BD_FN(block_lanes)(const bd_plan *pl, const bd_phase *ph, const bd_block *blk, const int32_t *rin_n,
                               int32_t *jh, int32_t *jw, int32_t *rv)
{
    const rr_conv *c = &pl->p->c;
    const int64_t q0 = (int64_t)blk->jh0 * ph->plane_w + blk->jw0;
    for (int l = 0; l < BD_VL; l++) {
        if (l < blk->nvalid) {
            if (ph->flat) {
                jh[l] = (int32_t)((q0 + l) / ph->plane_w);
                jw[l] = (int32_t)((q0 + l) % ph->plane_w);
            } else {
                jh[l] = blk->jh0;
                jw[l] = blk->jw0 + l;
            }
            rv[l] = rin_n[(ph->rh + c->sh * (int64_t)jh[l]) * c->iw + ph->rw + c->sw * (int64_t)jw[l]];
        } else {
            jh[l] = jw[l] = rv[l] = 0;
        }
    }
}

void BD_FN(rr_bd_masks)(void *vplan, int64_t begin, int64_t end)
{
    const bd_plan *pl = (const bd_plan *)vplan;
    const rr_conv *c = &pl->p->c;
    const int32_t *rin = (const int32_t *)pl->p->rin.data, *rout = (const int32_t *)pl->p->rout.data;
    const int nbt = pl->nbt;
    for (int64_t item = begin; item < end; item++) {
        const int64_t nl = item / pl->nchunks, ci = item % pl->nchunks;
        const int64_t n = pl->n0 + nl;
        const bd_chunk *ch = &pl->chunks[ci];
        const bd_phase *ph = &pl->phases[ch->phase];
        const int32_t *rin_n = rin + n * c->ih * c->iw;
        const int32_t *rout_n = rout + n * c->oh * c->ow;
        int32_t jh[RR_BD_MAX_NB][BD_VL], jw[RR_BD_MAX_NB][BD_VL], rv[RR_BD_MAX_NB][BD_VL];
        for (int b = 0; b < ch->nb; b++)
            BD_FN(block_lanes)(pl, ph, &pl->blocks[ch->blk0 + b], rin_n, jh[b], jw[b], rv[b]);
        BD_BITS *mo = (BD_BITS *)pl->masks + nl * pl->masks_per_image + ph->mask_off + ch->local * ph->ntaps * nbt;
        int32_t *lo = pl->lists + nl * pl->lists_per_image + ph->list_off + ch->local * ph->ntaps;
        const bd_tap *taps = pl->taps + ph->tap0;
        int32_t cnt = 0;
        for (int32_t t = 0; t < ph->ntaps; t++) {
            BD_BITS m[RR_BD_MAX_NB];
            unsigned any = 0;
            for (int b = 0; b < nbt; b++) {
                m[b] = 0;
                if (b < ch->nb) {
                    const bd_block *blk = &pl->blocks[ch->blk0 + b];
                    m[b] = bd_tap_bits(jh[b], jw[b], rv[b], blk->nvalid, taps[t].offh, taps[t].offw,
                                       rout_n + blk->dbase + taps[t].doff, (int32_t)c->oh, (int32_t)c->ow);
                }
                any |= m[b];
            }
            if (any == 0 && !pl->dense_masks) continue;
            for (int b = 0; b < nbt; b++) mo[cnt * nbt + b] = m[b];
            lo[cnt++] = t;
        }
        pl->counts[nl * pl->nchunks + ci] = cnt;
    }
}

#endif

/* Stores acc (lanes of block blk) into the [IH, IW] plane at element o of grad_src. */
static inline __attribute__((always_inline)) void BD_FN(store_block)(const bd_plan *pl, int64_t o_off,
                                                                      const bd_block *blk, int64_t sw, BD_VEC acc)
{
#if BD_HALF
    /* each element rounded once to the output type, in the vector */
    const rr_dtype t = pl->p->c.out_dtype;
    void *out = pl->p->out.data;
    if (sw == 1) {
        BD_STORE_HALF(t, out, o_off + blk->obase, acc, blk->nvalid);
    } else if (t == RR_DT_F32) {
        float tmp[BD_VL];
        BD_STOREU(tmp, acc);
        for (int32_t l = 0; l < blk->nvalid; l++) ((float *)out)[o_off + blk->obase + l * sw] = tmp[l];
    } else { /* rounded in the vector, then spread */
        uint16_t tmp[BD_VL];
        BD_STORE_HALF(t, tmp, 0, acc, BD_VL);
        for (int32_t l = 0; l < blk->nvalid; l++) ((uint16_t *)out)[o_off + blk->obase + l * sw] = tmp[l];
    }
#else
    float *o = (float *)pl->p->out.data + o_off;
    if (sw == 1) {
        if (blk->nvalid == BD_VL) BD_STOREU(o + blk->obase, acc);
        else BD_STOREN(o + blk->obase, acc, blk->nvalid);
    } else {
#ifdef BD_STORE_STRIDED
        if (sw <= 4) {
            BD_STORE_STRIDED(pl, o + blk->obase, acc, blk->nvalid, sw);
            return;
        }
#endif
        (void)pl;
        float tmp[BD_VL];
        BD_STOREU(tmp, acc);
        for (int32_t l = 0; l < blk->nvalid; l++) o[blk->obase + l * sw] = tmp[l];
    }
#endif
}

/*
 * The generic tile: ICB input channels x NB blocks of one chunk. Blocks missing from a short chunk
 * have all-zero masks: their loads and FMAs do nothing.
 */
static inline __attribute__((always_inline)) void BD_FN(tile)(const bd_plan *pl, int64_t nl, int64_t g,
                                                               int64_t icb, int64_t ci, const int ICB, const int NB,
                                                               const int FINITE)
{
    const rr_problem *p = pl->p;
    const rr_conv *c = &p->c;
    const int64_t ohw = c->oh * c->ow, ihw = c->ih * c->iw, ocpg = c->ocpg;
    const int64_t n = pl->n0 + nl;
    const bd_chunk *ch = &pl->chunks[ci];
    const bd_phase *ph = &pl->phases[ch->phase];
    const bd_tap *taps = pl->taps + ph->tap0;
    const BD_BITS *mk = (const BD_BITS *)pl->masks + nl * pl->masks_per_image + ph->mask_off +
                        ch->local * ph->ntaps * NB;
    const int32_t *list = pl->lists + nl * pl->lists_per_image + ph->list_off + ch->local * ph->ntaps;
    const int32_t cnt = pl->counts[nl * pl->nchunks + ci];
    int64_t dbase[8];
#pragma GCC unroll 8
    for (int b = 0; b < NB; b++) dbase[b] = b < ch->nb ? pl->blocks[ch->blk0 + b].dbase : 0;
    const BD_T *dimg = (const BD_T *)p->diff.data + (n * c->oc + g * ocpg) * ohw;
    const float *wg = pl->wpack + (g * pl->nicb + icb) * (c->fh * c->fw) * ocpg * ICB;

    BD_VEC acc[8][8];
#pragma GCC unroll 8
    for (int i = 0; i < ICB; i++) {
#pragma GCC unroll 8
        for (int b = 0; b < NB; b++) acc[i][b] = BD_ZERO();
    }

    for (int32_t e = 0; e < cnt; e++) {
        const bd_tap *tap = &taps[list[e]];
        BD_MASK m[8];
        const BD_T *d[8];
#pragma GCC unroll 8
        for (int b = 0; b < NB; b++) {
            m[b] = BD_TOMASK(mk[e * NB + b]);
            d[b] = dimg + dbase[b] + tap->doff;
        }
        const float *w = wg + (int64_t)tap->widx * ocpg * ICB;
        for (int64_t ocg = 0; ocg < ocpg; ocg++) {
            BD_VEC x[8];
#pragma GCC unroll 8
            for (int b = 0; b < NB; b++) x[b] = BD_LOADT(pl, m[b], d[b] + ocg * ohw);
#pragma GCC unroll 8
            for (int i = 0; i < ICB; i++) {
                const BD_VEC wv = BD_SET1(w[ocg * ICB + i]);
#pragma GCC unroll 8
                for (int b = 0; b < NB; b++)
                    acc[i][b] = FINITE ? BD_FMA_FINITE(acc[i][b], x[b], wv, m[b]) : BD_FMA(acc[i][b], x[b], wv, m[b]);
            }
        }
    }

#pragma GCC unroll 8
    for (int i = 0; i < ICB; i++) {
        const int64_t icg = icb * ICB + i;
        if (icg >= c->icpg) break;
        const int64_t o = (n * c->ic + g * c->icpg + icg) * ihw;
#pragma GCC unroll 8
        for (int b = 0; b < NB; b++) {
            if (b >= ch->nb) break;
            BD_FN(store_block)(pl, o, &pl->blocks[ch->blk0 + b], c->sw, acc[i][b]);
        }
    }
}

#define BD_TILE_FN(ICB, NB)                                                                         \
    static void BD_FN(tile_##ICB##x##NB)(const bd_plan *pl, int64_t nl, int64_t g, int64_t icb, int64_t ci) \
    {                                                                                               \
        if (BD_SPLIT_FINITE && pl->finite_w) BD_FN(tile)(pl, nl, g, icb, ci, ICB, NB, 1);           \
        else BD_FN(tile)(pl, nl, g, icb, ci, ICB, NB, 0);                                           \
    }
BD_TILES(BD_TILE_FN)
#undef BD_TILE_FN

/*
 * The depthwise tile: CB channels x NB blocks of one chunk of flattened blocks, which are consecutive
 * (block b starts BD_VL*b pixels after block 0), so one pointer per channel reaches every block.
 * Channels past G (a short last channel block) read channel G-1 and are not stored.
 */
static inline __attribute__((always_inline)) void BD_FN(dw_tile)(const bd_plan *pl, int64_t nl, int64_t cb,
                                                                  int64_t ci, const int FINITE)
{
    enum { CB = BD_DW_CB, NB = BD_DW_NB };
    const rr_problem *p = pl->p;
    const rr_conv *c = &p->c;
    const int64_t ohw = c->oh * c->ow, ihw = c->ih * c->iw;
    const int64_t n = pl->n0 + nl;
    const bd_chunk *ch = &pl->chunks[ci];
    const bd_phase *ph = &pl->phases[ch->phase];
    const bd_tap *taps = pl->taps + ph->tap0;
    const BD_BITS *mk = (const BD_BITS *)pl->masks + nl * pl->masks_per_image + ph->mask_off +
                        ch->local * ph->ntaps * NB;
    const int32_t *list = pl->lists + nl * pl->lists_per_image + ph->list_off + ch->local * ph->ntaps;
    const int32_t cnt = pl->counts[nl * pl->nchunks + ci];
    const int64_t q0 = pl->blocks[ch->blk0].dbase;
    const BD_T *dp[CB];
    for (int i = 0; i < CB; i++) {
        int64_t g = cb * CB + i;
        if (g >= c->groups) g = c->groups - 1;
        dp[i] = (const BD_T *)p->diff.data + (n * c->oc + g) * ohw + q0;
    }
    const float *wc = pl->wpack + cb * (c->fh * c->fw) * CB;

    BD_VEC acc[CB][NB];
#pragma GCC unroll 8
    for (int i = 0; i < CB; i++) {
#pragma GCC unroll 8
        for (int b = 0; b < NB; b++) acc[i][b] = BD_ZERO();
    }
    for (int32_t e = 0; e < cnt; e++) {
        const bd_tap *tap = &taps[list[e]];
        const int64_t doff = tap->doff;
        const float *w = wc + (int64_t)tap->widx * CB;
        BD_VEC wv[CB];
#pragma GCC unroll 8
        for (int i = 0; i < CB; i++) wv[i] = BD_SET1(w[i]);
#pragma GCC unroll 8
        for (int b = 0; b < NB; b++) {
            const BD_MASK m = BD_TOMASK(mk[e * NB + b]);
#pragma GCC unroll 8
            for (int i = 0; i < CB; i++)
            {
                const BD_VEC x = BD_LOADT(pl, m, dp[i] + doff + BD_VL * b);
                acc[i][b] = FINITE ? BD_FMA_FINITE(acc[i][b], x, wv[i], m) : BD_FMA(acc[i][b], x, wv[i], m);
            }
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < CB; i++) {
        const int64_t g = cb * CB + i;
        if (g >= c->groups) break;
        const int64_t o = (n * c->ic + g) * ihw;
#pragma GCC unroll 8
        for (int b = 0; b < NB; b++) {
            if (b >= ch->nb) break;
            BD_FN(store_block)(pl, o, &pl->blocks[ch->blk0 + b], 1, acc[i][b]);
        }
    }
}

static void BD_FN(dw_tile_masked)(const bd_plan *pl, int64_t nl, int64_t cb, int64_t ci)
{
    BD_FN(dw_tile)(pl, nl, cb, ci, 0);
}

#if BD_SPLIT_FINITE
static void BD_FN(dw_tile_finite)(const bd_plan *pl, int64_t nl, int64_t cb, int64_t ci)
{
    BD_FN(dw_tile)(pl, nl, cb, ci, 1);
}
#endif

void BD_FN(rr_bd_compute)(void *vplan, int64_t begin, int64_t end)
{
    const bd_plan *pl = (const bd_plan *)vplan;
    if (pl->dw) {
        for (int64_t item = begin; item < end; item++) {
            const int64_t ci = item % pl->nchunks, r = item / pl->nchunks;
#if BD_SPLIT_FINITE
            if (pl->finite_w) {
                BD_FN(dw_tile_finite)(pl, r / pl->ncb, r % pl->ncb, ci);
                continue;
            }
#endif
            BD_FN(dw_tile_masked)(pl, r / pl->ncb, r % pl->ncb, ci);
        }
        return;
    }
    const int64_t groups = pl->p->c.groups;
    for (int64_t item = begin; item < end; item++) {
        int64_t r = item;
        const int64_t icb = r % pl->nicb;
        r /= pl->nicb;
        const int64_t ci = r % pl->nchunks;
        r /= pl->nchunks;
        const int64_t g = r % groups, nl = r / groups;
#define BD_TILE_CASE(ICB, NB)                                                                       \
        if (pl->icb == ICB && pl->nbt == NB) {                                                      \
            BD_FN(tile_##ICB##x##NB)(pl, nl, g, icb, ci);                                           \
            continue;                                                                               \
        }
        BD_TILES(BD_TILE_CASE)
#undef BD_TILE_CASE
    }
}
