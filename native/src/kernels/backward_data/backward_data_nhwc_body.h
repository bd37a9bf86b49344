/*
 * backward_data_nhwc_body.h -- the loops of the channels-last backward-data rows (see
 * backward_data_nhwc.h), written once for AVX-512 and AVX2. Included by backward_data_nhwc__<isa>.c after
 * it defined:
 *   BDN_VL                      lanes (16 or 8)
 *   BDN_VEC, BDN_TAIL           a vector of floats; what masks the last, partial vector of a pixel
 *   BDN_ZERO(), BDN_SET1(x)     zeros; x in every lane
 *   BDN_LOAD(p)                 BDN_VL floats from p (unaligned)
 *   BDN_LOADT(p, t)             the lanes of t from p, 0 elsewhere; never reads past them
 *   BDN_FMA(a, x, w)            a + x * w
 *   BDN_STORE(p, v), BDN_STORET(p, v, t)  all lanes / the lanes of t
 *   BDN_MKTAIL(n)               the tail of n lanes (1..BDN_VL)
 *   BDN_FN(name)                name##_<isa>
 *   BDN_NB                      vectors of channels summed per pass over a pixel's tap list (4 or 8:
 *                               accumulators in registers)
 *   bdn_list(pl, ro, label, iw, nr, roh, rd, rw, dl, wl)  the tap list of pixel iw of a row (below)
 */

/*
 * The channels left after the whole blocks of BDN_NB vectors (rem of them, 1 .. BDN_NB*VL - 1): at most
 * two passes, CALL(NV, TAILED, OFF) with constant NV and TAILED: a run of whole vectors, then the partial
 * one (cut to `tail`) at channel OFF.
 */
#define BDN_REMAINDER(CALL)                                                            \
    {                                                                                  \
        const BDN_TAIL tail = BDN_MKTAIL((int)(rem % BDN_VL == 0 ? BDN_VL : rem % BDN_VL)); \
        const int64_t whole = rem / BDN_VL;                                            \
        switch (whole) {                                                               \
        case 1: CALL(1, 0, 0); break;                                                  \
        case 2: CALL(2, 0, 0); break;                                                  \
        case 3: CALL(3, 0, 0); break;                                                  \
        case 4: CALL(4, 0, 0); break;                                                  \
        case 5: CALL(5, 0, 0); break;                                                  \
        case 6: CALL(6, 0, 0); break;                                                  \
        case 7: CALL(7, 0, 0); break;                                                  \
        default: break;                                                                \
        }                                                                              \
        if (rem % BDN_VL != 0) CALL(1, 1, whole * BDN_VL);                             \
    }

/*
 * The output rows reaching grad_src row ih, kh ascending: roh[r] = oh, rd[r] = oh*OW*OC (the row's diff
 * offset in its image), rw[r] = kh*FW*wtap (the row's offset in the packed weights). Returns their number.
 */
static int32_t bdn_rows(const bdn_plan *pl, int64_t ih, int32_t *roh, int32_t *rd, int32_t *rw)
{
    const rr_conv *c = &pl->p->c;
    int32_t nr = 0;
    for (int64_t kh = 0; kh < c->fh; kh++) {
        const int64_t t = ih + c->ph - kh * c->dh;
        if (t < 0) break; /* kh ascending: t only falls */
        if (t % c->sh != 0) continue;
        const int64_t oh = t / c->sh;
        if (oh >= c->oh) continue;
        roh[nr] = (int32_t)oh;
        rd[nr] = (int32_t)(oh * c->ow * c->oc);
        rw[nr] = (int32_t)(kh * c->fw * pl->wtap);
        nr++;
    }
    return nr;
}

/*
 * Depthwise: o[v*VL + l] = sum over the list of d[dl[t] + v*VL + l] * w[wl[t] + v*VL + l] for nv
 * vectors, the last one cut to tail when tailed. nv and tailed are constants at every call (inlined).
 */
static inline __attribute__((always_inline)) void bdn_dw_vecs(const float *d, const float *w, float *o,
                                                              const int32_t *dl, const int32_t *wl, int32_t nt,
                                                              const int nv, const int tailed, BDN_TAIL tail)
{
    BDN_VEC acc[8]; /* BDN_NB <= 8; BDN_REMAINDER names up to 7 */
#pragma GCC unroll 8
    for (int k = 0; k < nv; k++) acc[k] = BDN_ZERO();
    for (int32_t t = 0; t < nt; t++) {
        const float *dp = d + dl[t], *wp = w + wl[t];
#pragma GCC unroll 8
        for (int k = 0; k < nv; k++) {
            const BDN_VEC x = tailed && k == nv - 1 ? BDN_LOADT(dp + k * BDN_VL, tail) : BDN_LOAD(dp + k * BDN_VL);
            acc[k] = BDN_FMA(acc[k], x, BDN_LOAD(wp + k * BDN_VL));
        }
    }
#pragma GCC unroll 8
    for (int k = 0; k < nv; k++) {
        if (tailed && k == nv - 1) BDN_STORET(o + k * BDN_VL, acc[k], tail);
        else BDN_STORE(o + k * BDN_VL, acc[k]);
    }
}

/* Depthwise: the C channels of one grad_src pixel from its tap list. */
static void bdn_dw_pixel(const float *d, const float *w, float *o, const int32_t *dl, const int32_t *wl,
                         int32_t nt, int64_t C)
{
    const BDN_TAIL full = BDN_MKTAIL(BDN_VL);
    int64_t c0 = 0;
    for (; c0 + BDN_NB * BDN_VL <= C; c0 += BDN_NB * BDN_VL) bdn_dw_vecs(d + c0, w + c0, o + c0, dl, wl, nt, BDN_NB, 0, full);
    const int64_t rem = C - c0;
    if (rem == 0) return;
    d += c0;
    w += c0;
    o += c0;
#define BDN_DW_CALL(NV, TAILED, OFF) bdn_dw_vecs(d + (OFF), w + (OFF), o + (OFF), dl, wl, nt, NV, TAILED, tail)
    BDN_REMAINDER(BDN_DW_CALL)
#undef BDN_DW_CALL
}

/*
 * Grouped / dense: o[v*VL + l] = sum over the list, then ocg < OCPG, of d[dl[t] + ocg] *
 * w[wl[t] + ocg*cp + v*VL + l] (d: the group's first diff channel, w: the group's weights at the
 * vectors' first input channel); with np = 2 also the next pixel (d + dstep, o + ostep), as above.
 */
static inline __attribute__((always_inline)) void bdn_ch_vecs(const float *d, const float *w, float *o,
                                                              const int32_t *dl, const int32_t *wl, int32_t nt,
                                                              int64_t ocpg, int64_t cp, const int nv,
                                                              const int tailed, BDN_TAIL tail, const int np,
                                                              int64_t dstep, int64_t ostep)
{
    BDN_VEC acc[2][8];
#pragma GCC unroll 2
    for (int q = 0; q < np; q++) {
#pragma GCC unroll 8
        for (int k = 0; k < nv; k++) acc[q][k] = BDN_ZERO();
    }
    for (int32_t t = 0; t < nt; t++) {
        const float *dp = d + dl[t], *wp = w + wl[t];
        for (int64_t ocg = 0; ocg < ocpg; ocg++, wp += cp) {
            const BDN_VEC x0 = BDN_SET1(dp[ocg]), x1 = np == 2 ? BDN_SET1(dp[dstep + ocg]) : x0;
#pragma GCC unroll 8
            for (int k = 0; k < nv; k++) {
                const BDN_VEC wv = BDN_LOAD(wp + k * BDN_VL);
                acc[0][k] = BDN_FMA(acc[0][k], x0, wv);
                if (np == 2) acc[1][k] = BDN_FMA(acc[1][k], x1, wv);
            }
        }
    }
#pragma GCC unroll 2
    for (int q = 0; q < np; q++) {
#pragma GCC unroll 8
        for (int k = 0; k < nv; k++) {
            if (tailed && k == nv - 1) BDN_STORET(o + q * ostep + k * BDN_VL, acc[q][k], tail);
            else BDN_STORE(o + q * ostep + k * BDN_VL, acc[q][k]);
        }
    }
}

/* Grouped / dense: the IC channels of np (constant: 1 or 2) grad_src pixels from their tap list. */
static inline __attribute__((always_inline)) void bdn_ch_pixels(const bdn_plan *pl, const float *d, float *o,
                                                                const int32_t *dl, const int32_t *wl, int32_t nt,
                                                                const int np)
{
    const rr_conv *c = &pl->p->c;
    const BDN_TAIL full = BDN_MKTAIL(BDN_VL);
    const int64_t ocpg = c->ocpg, cp = pl->cp, icpg = c->icpg, block = (BDN_NB / np) * BDN_VL;
    for (int64_t g = 0; g < c->groups; g++) {
        const float *dg = d + g * ocpg, *wg = pl->wpack + g * pl->wgroup;
        float *og = o + g * icpg;
        int64_t c0 = 0;
        for (; c0 + block <= icpg; c0 += block)
            bdn_ch_vecs(dg, wg + c0, og + c0, dl, wl, nt, ocpg, cp, BDN_NB / np, 0, full, np, c->oc, c->ic);
        const int64_t rem = icpg - c0;
        if (rem == 0) continue;
        const float *wc = wg + c0;
        float *oc = og + c0;
#define BDN_CH_CALL(NV, TAILED, OFF) \
    bdn_ch_vecs(dg, wc + (OFF), oc + (OFF), dl, wl, nt, ocpg, cp, NV, TAILED, tail, np, c->oc, c->ic)
        BDN_REMAINDER(BDN_CH_CALL)
#undef BDN_CH_CALL
    }
}

/* 1 if pixel b's tap list is pixel a's shifted by one diff pixel (same taps, diff offsets + OC). */
static int bdn_same_shifted(const int32_t *dla, const int32_t *wla, int32_t nta, const int32_t *dlb,
                            const int32_t *wlb, int32_t ntb, int32_t oc)
{
    if (nta != ntb) return 0;
    for (int32_t t = 0; t < nta; t++) {
        if (wla[t] != wlb[t] || dlb[t] - dla[t] != oc) return 0;
    }
    return 1;
}

/*
 * Rows n*IH + ih in [begin, end): each pixel's list, then its channels. Grouped / dense: two neighbours
 * whose lists are the same but shifted by one diff pixel (common inside regions) are summed together,
 * sharing the weight loads (depthwise gained nothing from it: it shares no broadcast). Each pixel's sum
 * runs its own list's order either way.
 */
static void bdn_rows_range(const bdn_plan *pl, int64_t begin, int64_t end, int depthwise)
{
    const rr_problem *p = pl->p;
    const rr_conv *c = &p->c;
    int32_t roh[RR_BDN_MAX_TAPS], rd[RR_BDN_MAX_TAPS], rw[RR_BDN_MAX_TAPS];
    int32_t lists[2][2][RR_BDN_MAX_TAPS + RR_BDN_SLACK]; /* [pixel a / b][diff / weight offsets] */
    const float *diff = (const float *)p->diff.data;
    const int32_t *rin = (const int32_t *)p->rin.data, *rout = (const int32_t *)p->rout.data;
    for (int64_t it = begin; it < end; it++) {
        const int64_t n = it / c->ih, ih = it % c->ih;
        const int32_t nr = bdn_rows(pl, ih, roh, rd, rw);
        const float *dimg = diff + n * c->oh * c->ow * c->oc;
        const int32_t *ro = rout + n * c->oh * c->ow, *ri = rin + it * c->iw;
        float *orow = p->out.data + it * c->iw * c->ic;
        int a = 0; /* lists[a]: pixel iw's, built; lists[1 - a]: the next pixel's */
        int32_t nta = bdn_list(pl, ro, ri[0], 0, nr, roh, rd, rw, lists[a][0], lists[a][1]);
        for (int64_t iw = 0; iw < c->iw;) {
            const int32_t *dla = lists[a][0], *wla = lists[a][1];
            float *o = orow + iw * c->ic;
            int32_t ntb = 0;
            if (iw + 1 < c->iw) {
                ntb = bdn_list(pl, ro, ri[iw + 1], iw + 1, nr, roh, rd, rw, lists[1 - a][0], lists[1 - a][1]);
                if (!depthwise &&
                    bdn_same_shifted(dla, wla, nta, lists[1 - a][0], lists[1 - a][1], ntb, (int32_t)c->oc)) {
                    bdn_ch_pixels(pl, dimg, o, dla, wla, nta, 2);
                    iw += 2;
                    if (iw < c->iw) nta = bdn_list(pl, ro, ri[iw], iw, nr, roh, rd, rw, lists[a][0], lists[a][1]);
                    continue;
                }
            }
            if (depthwise) bdn_dw_pixel(dimg, pl->wpack, o, dla, wla, nta, c->ic);
            else bdn_ch_pixels(pl, dimg, o, dla, wla, nta, 1);
            iw++;
            a = 1 - a;
            nta = ntb;
        }
    }
}

void BDN_FN(rr_bdn_depthwise)(void *ctx, int64_t begin, int64_t end)
{
    bdn_rows_range((const bdn_plan *)ctx, begin, end, 1);
}

void BDN_FN(rr_bdn_channels)(void *ctx, int64_t begin, int64_t end)
{
    bdn_rows_range((const bdn_plan *)ctx, begin, end, 0);
}
