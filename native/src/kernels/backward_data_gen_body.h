/*
 * backward_data_gen_body.h -- the compute pass of the fast backward-data kernel, written once over a
 * few vector macros; included by backward_data_gen__avx512.c and backward_data_gen__avx2.c only.
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
 *   BD_STOREN(p, v, n) stores lanes 0..n-1
 *   BD_STOREU(p, v)   stores all lanes
 *   BD_FN(name)       name with the ISA suffix
 */
#include "backward_data_gen.h"

/*
 * One register tile: ICB input channels x NB blocks of one chunk (NB blocks of one phase).
 * Blocks missing from a short chunk get all-zero masks: their loads and FMAs do nothing.
 */
static inline __attribute__((always_inline)) void BD_FN(tile)(const bd_plan *pl, int64_t nl, int64_t g,
                                                               int64_t icb, const bd_chunk *ch,
                                                               const int ICB, const int NB)
{
    const rr_problem *p = pl->p;
    const rr_conv *c = &p->c;
    const int64_t ohw = c->oh * c->ow, ihw = c->ih * c->iw, ocpg = c->ocpg;
    const int64_t n = pl->n0 + nl;
    const bd_phase *ph = &pl->phases[ch->phase];
    const bd_tap *taps = pl->taps + ph->tap0;
    const int32_t ntaps = ph->ntaps;
    const BD_BITS *mimg = (const BD_BITS *)pl->masks + nl * pl->masks_per_image + ph->mask_off;
    const BD_BITS *mk[8];
    int64_t dbase[8];
#pragma GCC unroll 8
    for (int b = 0; b < NB; b++) {
        if (b < ch->nb) {
            const int64_t blk = ch->blk0 + b;
            mk[b] = mimg + (blk - ph->blk0) * ntaps;
            dbase[b] = pl->blocks[blk].dbase;
        } else {
            mk[b] = (const BD_BITS *)pl->zero_masks;
            dbase[b] = 0;
        }
    }
    const float *dimg = (const float *)p->diff.data + (n * c->oc + g * ocpg) * ohw;
    const float *wg = pl->wpack + (g * pl->nicb + icb) * (c->fh * c->fw) * ocpg * ICB;

    BD_VEC acc[8][8];
#pragma GCC unroll 8
    for (int i = 0; i < ICB; i++) {
#pragma GCC unroll 8
        for (int b = 0; b < NB; b++) acc[i][b] = BD_ZERO();
    }

    for (int32_t t = 0; t < ntaps; t++) {
        BD_BITS bits[8];
        unsigned any = 0;
#pragma GCC unroll 8
        for (int b = 0; b < NB; b++) {
            bits[b] = mk[b][t];
            any |= bits[b];
        }
        if (any == 0) continue;
        BD_MASK m[8];
        const float *d[8];
#pragma GCC unroll 8
        for (int b = 0; b < NB; b++) {
            m[b] = BD_TOMASK(bits[b]);
            d[b] = dimg + dbase[b] + taps[t].doff;
        }
        const float *w = wg + (int64_t)taps[t].widx * ocpg * ICB;
        for (int64_t ocg = 0; ocg < ocpg; ocg++) {
            BD_VEC x[8];
#pragma GCC unroll 8
            for (int b = 0; b < NB; b++) x[b] = BD_LOADZ(m[b], d[b] + ocg * ohw);
#pragma GCC unroll 8
            for (int i = 0; i < ICB; i++) {
                const BD_VEC wv = BD_SET1(w[ocg * ICB + i]);
#pragma GCC unroll 8
                for (int b = 0; b < NB; b++) acc[i][b] = BD_FMA(acc[i][b], x[b], wv, m[b]);
            }
        }
    }

    const int64_t sw = c->sw;
#pragma GCC unroll 8
    for (int i = 0; i < ICB; i++) {
        const int64_t icg = icb * ICB + i;
        if (icg >= c->icpg) break;
        float *o = p->out.data + (n * c->ic + g * c->icpg + icg) * ihw;
#pragma GCC unroll 8
        for (int b = 0; b < NB; b++) {
            if (b >= ch->nb) break;
            const bd_block *blk = &pl->blocks[ch->blk0 + b];
            if (sw == 1) {
                if (blk->nvalid == BD_VL) BD_STOREU(o + blk->obase, acc[i][b]);
                else BD_STOREN(o + blk->obase, acc[i][b], blk->nvalid);
            } else {
                float tmp[BD_VL];
                BD_STOREU(tmp, acc[i][b]);
                for (int32_t l = 0; l < blk->nvalid; l++) o[blk->obase + l * sw] = tmp[l];
            }
        }
    }
}

#define BD_TILE_FN(ICB, NB)                                                                         \
    static void BD_FN(tile_##ICB##x##NB)(const bd_plan *pl, int64_t nl, int64_t g, int64_t icb,     \
                                          const bd_chunk *ch)                                       \
    {                                                                                               \
        BD_FN(tile)(pl, nl, g, icb, ch, ICB, NB);                                                   \
    }
RR_BD_TILES(BD_TILE_FN)
#undef BD_TILE_FN

void BD_FN(rr_bd_compute)(void *vplan, int64_t begin, int64_t end)
{
    const bd_plan *pl = (const bd_plan *)vplan;
    const int64_t groups = pl->p->c.groups;
    for (int64_t item = begin; item < end; item++) {
        int64_t r = item;
        const int64_t icb = r % pl->nicb;
        r /= pl->nicb;
        const int64_t chunk = r % pl->nchunks;
        r /= pl->nchunks;
        const int64_t g = r % groups, nl = r / groups;
        const bd_chunk *ch = &pl->chunks[chunk];
#define BD_TILE_CASE(ICB, NB)                                                                       \
        if (pl->icb == ICB && pl->nbt == NB) {                                                      \
            BD_FN(tile_##ICB##x##NB)(pl, nl, g, icb, ch);                                           \
            continue;                                                                               \
        }
        RR_BD_TILES(BD_TILE_CASE)
#undef BD_TILE_CASE
    }
}
