/*
 * tile_masks_body.h -- the tile plan's mask pass (see tile_plan.h), written once over the vector
 * macros of common/tile_lanes__<isa>.h (listed in forward/forward_tiles_body.h); included by
 * tile_masks__avx512.c and tile_masks__avx2.c only. Both the forward tile kernels and the
 * backward-filter row segment kernel run it before their compute pass.
 */
#include "tile_plan.h"

/* ---- masks ----------------------------------------------------------------------------------- */

void FD_FN(rr_tile_masks)(void *vpl, int64_t begin, int64_t end)
{
    const rr_tile_plan *pl = (const rr_tile_plan *)vpl;
    const rr_conv *c = &pl->c;
    const int64_t taps = pl->taps;
    const FD_IVEC ihmax = FD_ISET1((int32_t)c->ih), shv = FD_ISET1((int32_t)c->sh);
    for (int64_t tl = begin; tl < end; tl++) {
        const int64_t gt = pl->tile0 + tl, n = gt / pl->tpi, tile = gt % pl->tpi;
        FD_BITS *m = (FD_BITS *)pl->masks + tl * taps * 2;
        rr_tile *ti = &pl->tiles[tl];
        ti->n = n;
        ti->d1 = ti->s1 = 0;
        ti->oh1 = ti->ow1 = 0;
        ti->lv = 0;
        int64_t blks[2];
        ti->two = rr_tile_blocks(pl, tile, &blks[0], &blks[1]);
        for (int j = 0; j < 2; j++) {
            const int64_t blk = blks[j];
            if (j == 1 && !ti->two) {
                for (int64_t t = 0; t < taps; t++) m[2 * t + j] = 0;
                continue;
            }
            int64_t dbase, sbase;
            int nvalid;
            int32_t ohl[FD_VL], owl[FD_VL];
            rr_tile_block(pl, blk, &dbase, &sbase, &nvalid);
            rr_tile_block_lanes(pl, blk, ohl, owl);
            if (j == 0) {
                ti->d0 = dbase;
                ti->s0 = sbase;
                ti->oh0 = (int32_t)(dbase / c->ow);
                ti->ow0 = (int32_t)(dbase % c->ow);
            } else {
                ti->d1 = dbase;
                ti->s1 = sbase;
                ti->oh1 = (int32_t)(dbase / c->ow);
                ti->ow1 = (int32_t)(dbase % c->ow);
            }
            ti->lv |= ((1u << nvalid) - 1u) << (16 * j);
            const FD_IMASK lv = FD_ILANES((1u << nvalid) - 1u);
            const FD_IVEC ohs = FD_IMUL(FD_ILOAD(ohl), shv);
            const FD_IVEC owv = FD_ILOAD(owl);
            const FD_IVEC routv = FD_ILOADZ(lv, pl->rout + n * c->oh * c->ow + dbase);
            const int32_t *rin_b = pl->rin + n * pl->src_chan + sbase;
            for (int64_t kh = 0; kh < c->fh; kh++) {
                const FD_IVEC ihv = FD_IADD(ohs, FD_ISET1(pl->khoff[kh]));
                const FD_IMASK kr = FD_IN_RANGE(lv, ihv, ihmax);
                FD_BITS *mk = m + 2 * kh * c->fw + j;
                if (FD_IBITS(kr) == 0) {
                    for (int64_t kw = 0; kw < c->fw; kw++) mk[2 * kw] = 0;
                    continue;
                }
                for (int64_t kw = 0; kw < c->fw; kw++) {
                    const FD_IVEC jv = FD_IADD(owv, FD_ISET1(pl->q[kw]));
                    const FD_IMASK kc = FD_IN_RANGE(kr, jv, FD_ISET1(pl->lr[kw]));
                    unsigned k = 0;
                    if (FD_IBITS(kc) != 0) {
                        const FD_IVEC rinv = FD_ILOADZ(kc, rin_b + pl->toff[kh * c->fw + kw]);
                        k = FD_IBITS(FD_IEQ(kc, rinv, routv));
                    }
                    mk[2 * kw] = (FD_BITS)k;
                }
            }
        }
    }
}
