/*
 * backward_filter_rows__portable.c -- the portable filter-gradient kernel (common/portable.h), on the normalized
 * problem.
 *
 * Items: (block of groups, up to 64 output channels x up to 8 input channels of a group); an item
 * owns those filters' gradient (the input channels split the items, so that each src plane is padded
 * by few items; the diff rows, smaller at stride > 1, are read by all of a group's). Per item, image n and chunk of R output rows: the tap masks of the R rows (shared by
 * the block's groups); then per group the input rows those output rows read, each padded once, and
 * per output row (ascending) and per output channel o, input channel icg and active tap t a 4-lane
 * partial sum
 *   acc[o][icg][t] += (diff[o][x] * input[icg][t][x]) & mask[t][x]     over the row's vectors x
 * A group's planes are read front to back (one stream each, which the hardware prefetchers follow).
 * The product is ANDed with the mask (diff and src may both hold NaN or Inf under a masked tap), so
 * no data check is needed. Each lane sums over n, oh, then ow in its lane (ascending); the gradient is
 * the fixed-order sum of the four lanes.
 */
#define _POSIX_C_SOURCE 200809L

#include "../common/portable.h"

#include <stdlib.h>

#define BWF_PT_WS_MAX ((int64_t)64 << 20)
#define BWF_PT_OB 64                              /* output channels per item */
#define BWF_PT_ICB 8                              /* input channels per item */
#define BWF_PT_MASK_BYTES ((int64_t)64 << 10)     /* masks of a chunk of rows */
#define BWF_PT_PLANE_BYTES ((int64_t)256 << 10)   /* padded input rows of a chunk, one group */

typedef struct bwf_pt {
    rr_conv c;
    rr_pt_geom g;
    const float *src, *diff;
    const int32_t *rin, *rout;
    float *gw;
    int64_t gb, ngb, ob, nob, icb, nicb;
    int64_t rows;     /* output rows per chunk (R) */
    int64_t span;     /* input rows a chunk reads at most */
    int64_t taps;
    rr_pt_slots slots;
} bwf_pt;

typedef struct bwf_ws {
    int32_t *m;      /* [R][taps][xp] */
    rr_pt_taps at;   /* [R][taps] each */
    int64_t *na;     /* [R] */
    float *plane;    /* [icb][span][row_floats] */
    float *d;        /* [ob][xp] */
    float *acc;      /* [gb][ob][icb*taps][4] */
    float *panel;    /* OCPG >= 4: [icb*taps][xp] selected inputs of a row */
    int64_t *kacc;   /* OCPG >= 4: [icb*taps] where a panel row's sums are */
} bwf_ws;

static int64_t bwf_ws_layout(const bwf_pt *b, unsigned char *base, bwf_ws *w)
{
    const int64_t xp = b->g.xp, t = b->taps, R = b->rows;
    int64_t off = 0;
#define TAKE(field, type, count)                                                                   \
    do {                                                                                           \
        if (w != NULL) w->field = (type *)(void *)(base + off);                                    \
        off += rr_pt_round_up((int64_t)(count) * (int64_t)sizeof(type), 64);                      \
    } while (0)
    TAKE(m, int32_t, R * t * xp);
    TAKE(at.tap, int32_t, R * t);
    TAKE(at.x, int64_t, R * t);
    TAKE(at.m, int64_t, R * t);
    TAKE(na, int64_t, R);
    TAKE(plane, float, b->icb * b->span * b->g.row_floats);
    TAKE(d, float, b->ob * xp);
    TAKE(acc, float, b->gb * b->ob * b->icb * t * RR_PT_VL);
    TAKE(panel, float, b->ob >= 4 ? b->icb * t * xp : 1);
    TAKE(kacc, int64_t, b->ob >= 4 ? b->icb * t : 1);
#undef TAKE
    return off;
}

/* acc[o][k] += sum over the row of (d[o] * x[k]) & m[k], for OB output channels and KB taps
 * (OB * KB <= 8: the sums stay in registers). */
static inline __attribute__((always_inline)) void reduce_block(int ob, int kb, const float *const *d, const float *const *x,
                                const int32_t *const *m, float *const *acc, int64_t ldacc, int64_t xp)
{
    rr_v4f a[4][8];
    for (int o = 0; o < ob; o++) {
        for (int k = 0; k < kb; k++) a[o][k] = rr_pt_load(acc[k] + o * ldacc);
    }
    for (int64_t v = 0; v < xp; v += RR_PT_VL) {
        rr_v4f xv[8];
        rr_v4i mv[8];
        for (int k = 0; k < kb; k++) {
            xv[k] = rr_pt_load(x[k] + v);
            mv[k] = rr_pt_loadi(m[k] + v);
        }
        for (int o = 0; o < ob; o++) {
            const rr_v4f dv = rr_pt_load(d[o] + v);
            for (int k = 0; k < kb; k++) a[o][k] += rr_pt_select(dv * xv[k], mv[k]);
        }
    }
    for (int o = 0; o < ob; o++) {
        for (int k = 0; k < kb; k++) rr_pt_store(acc[k] + o * ldacc, a[o][k]);
    }
}

/* acc[o][k] += sum over the row of d[o] * p[k], for 4 output channels and KB panel rows p (inputs
 * already selected by their masks; 12 sums in registers). */
static inline __attribute__((always_inline)) void reduce_panel(int kb, const float *const *d, const float *p,
                                                               int64_t xp, float *acc, const int64_t *kacc,
                                                               int64_t ldacc)
{
    rr_v4f a[4][3];
    for (int o = 0; o < 4; o++) {
        for (int k = 0; k < kb; k++) a[o][k] = rr_pt_load(acc + o * ldacc + kacc[k]);
    }
    for (int64_t v = 0; v < xp; v += RR_PT_VL) {
        rr_v4f xv[3];
        for (int k = 0; k < kb; k++) xv[k] = rr_pt_load(p + k * xp + v);
        for (int o = 0; o < 4; o++) {
            const rr_v4f dv = rr_pt_load(d[o] + v);
            for (int k = 0; k < kb; k++) a[o][k] += dv * xv[k];
        }
    }
    for (int o = 0; o < 4; o++) {
        for (int k = 0; k < kb; k++) rr_pt_store(acc + o * ldacc + kacc[k], a[o][k]);
    }
}

/* 1 if the n-float rows r, r + ld, ... (on of them) hold no NaN or Inf. */
static int rows_finite(const float *r, int64_t ld, int64_t on, int64_t n)
{
    for (int64_t o = 0; o < on; o++) {
        if (!rr_pt_all_finite(r + o * ld, n)) return 0;
    }
    return 1;
}

/*
 * One output row of a group into the item's sums acc ([ob][icn*taps][4]) for its icn input channels:
 * tap row 0 of this output row reads plane[base + icg*ldp ..] (base may be negative: only active taps are read, and those are
 * inside the buffer), at its taps, dr its diff rows (ldd apart).
 * Blocks of 4 output channels with finite diff rows multiply a panel of selected inputs (+0.0 under
 * masked lanes, so a finite product is +-0.0 there and the sums are those of the active lanes alone);
 * the other channels AND every product with its mask (NaN or Inf in diff must not meet a masked lane).
 */
static void bwf_row(const bwf_pt *b, const bwf_ws *w, const rr_pt_taps *at, const int32_t *m, int64_t na,
                    const float *plane, int64_t base, int64_t ldp, const float *dr, int64_t ldd, int64_t on,
                    int64_t icn, float *acc)
{
    const rr_conv *c = &b->c;
    const int64_t xp = b->g.xp, T = b->taps, ldacc = b->icb * T * RR_PT_VL;
    const int64_t nk = icn * na;
    int64_t o = 0;
    if (on >= 4 && rows_finite(dr, ldd, on / 4 * 4, c->ow)) {
        int64_t icg = 0, j = 0;
        for (int64_t i = 0; i < nk; i++) {
            const float *x = plane + (base + icg * ldp + at->x[j]);
            const int32_t *mk = m + at->m[j];
            float *pr = w->panel + i * xp;
            for (int64_t v = 0; v < xp; v += RR_PT_VL) rr_pt_store(pr + v, rr_pt_select(rr_pt_load(x + v), rr_pt_loadi(mk + v)));
            w->kacc[i] = (icg * T + at->tap[j]) * RR_PT_VL;
            if (++j == na) {
                j = 0;
                icg++;
            }
        }
        for (; o + 4 <= on; o += 4) {
            const float *d[4] = {dr + o * ldd, dr + (o + 1) * ldd, dr + (o + 2) * ldd, dr + (o + 3) * ldd};
            float *ao = acc + o * ldacc;
            int64_t i = 0;
            for (; i + 3 <= nk; i += 3) reduce_panel(3, d, w->panel + i * xp, xp, ao, w->kacc + i, ldacc);
            if (nk - i == 2) reduce_panel(2, d, w->panel + i * xp, xp, ao, w->kacc + i, ldacc);
            if (nk - i == 1) reduce_panel(1, d, w->panel + i * xp, xp, ao, w->kacc + i, ldacc);
        }
    }
    while (o < on) {
        const int ob = on - o >= 4 ? 4 : 1; /* blocks of 4 channels x 2 taps, the rest one at a time x 4 taps */
        const int kmax = ob == 4 ? 2 : 4;
        const float *d[4];
        for (int j = 0; j < ob; j++) d[j] = dr + (o + j) * ldd;
        int64_t icg = 0, j = 0; /* (icg, active tap j) of block member i */
        for (int64_t i = 0; i < nk; i += kmax) {
            const int kb = nk - i >= kmax ? kmax : (int)(nk - i);
            const float *x[4];
            const int32_t *mk[4];
            float *ac[4];
            for (int k = 0; k < kb; k++) {
                x[k] = plane + (base + icg * ldp + at->x[j]);
                mk[k] = m + at->m[j];
                ac[k] = acc + o * ldacc + (icg * T + at->tap[j]) * RR_PT_VL;
                if (++j == na) {
                    j = 0;
                    icg++;
                }
            }
            if (ob == 4) {
                if (kb == 2) reduce_block(4, 2, d, x, mk, ac, ldacc, xp);
                else reduce_block(4, 1, d, x, mk, ac, ldacc, xp);
            } else {
                switch (kb) {
                case 4: reduce_block(1, 4, d, x, mk, ac, ldacc, xp); break;
                case 3: reduce_block(1, 3, d, x, mk, ac, ldacc, xp); break;
                case 2: reduce_block(1, 2, d, x, mk, ac, ldacc, xp); break;
                default: reduce_block(1, 1, d, x, mk, ac, ldacc, xp); break;
                }
            }
        }
        o += ob;
    }
}

/* Output rows [oh0, oh1) of image n (masks in w) for output channels o0.. (on) and input channels
 * i0.. (icn) of group g into acc. */
static void bwf_chunk(const bwf_pt *b, const bwf_ws *w, int64_t n, int64_t oh0, int64_t oh1, int64_t g, int64_t o0,
                      int64_t on, int64_t i0, int64_t icn, float *acc)
{
    const rr_conv *c = &b->c;
    const int64_t xp = b->g.xp, T = b->taps, rf = b->g.row_floats;
    /* input rows [ih0, ih1) that some tap of these output rows reads */
    int64_t ih0 = oh0 * c->sh - c->ph, ih1 = (oh1 - 1) * c->sh + (c->fh - 1) * c->dh - c->ph + 1;
    if (ih0 < 0) ih0 = 0;
    if (ih1 > c->ih) ih1 = c->ih;
    if (ih1 <= ih0) return; /* no tap inside the image: no active tap either */
    const int64_t ldp = b->span * rf;
    for (int64_t icg = 0; icg < icn; icg++) {
        const float *plane = b->src + (n * c->ic + g * c->icpg + i0 + icg) * c->ih * c->iw;
        for (int64_t ih = ih0; ih < ih1; ih++) rr_pt_pad_row(&b->g, plane + ih * c->iw, w->plane + icg * ldp + (ih - ih0) * rf);
    }
    const int in_place = xp == c->ow; /* diff rows whose vectors end with the row: read where they are */
    for (int64_t oh = oh0; oh < oh1; oh++) {
        const int64_t r = oh - oh0, na = w->na[r];
        if (na == 0) continue;
        const float *dr = b->diff + ((n * c->oc + g * c->ocpg + o0) * c->oh + oh) * c->ow;
        int64_t ldd = c->oh * c->ow;
        if (!in_place) {
            for (int64_t o = 0; o < on; o++) {
                rr_pt_copy(w->d + o * xp, dr + o * ldd, c->ow);
                rr_pt_zero(w->d + o * xp + c->ow, xp - c->ow);
            }
            dr = w->d;
            ldd = xp;
        }
        rr_pt_taps at = {w->at.tap + r * T, w->at.x + r * T, w->at.m + r * T};
        /* the padded row of tap row 0: input row oh*sh - ph, buffer row oh*sh - ph - ih0 */
        const int64_t base = (oh * c->sh - c->ph - ih0) * rf;
        bwf_row(b, w, &at, w->m + r * T * xp, na, w->plane, base, ldp, dr, ldd, on, icn, acc);
    }
}

static void bwf_slot(void *vctx, int64_t begin, int64_t end)
{
    const bwf_pt *b = (const bwf_pt *)vctx;
    const rr_conv *c = &b->c;
    const int64_t T = b->taps, K = b->icb * T, xp = b->g.xp;
    for (int64_t slot = begin; slot < end; slot++) {
        bwf_ws w;
        bwf_ws_layout(b, b->slots.ws + slot * b->slots.ws_bytes, &w);
        int64_t first, last;
        rr_pt_slot_range(&b->slots, slot, &first, &last);
        for (int64_t item = first; item < last; item++) {
            const int64_t ichunk = item % b->nicb, ochunk = item / b->nicb % b->nob, gblk = item / b->nicb / b->nob;
            const int64_t i0 = ichunk * b->icb, icn = i0 + b->icb <= c->icpg ? b->icb : c->icpg - i0;
            const int64_t g0 = gblk * b->gb, g1 = g0 + b->gb < c->groups ? g0 + b->gb : c->groups;
            const int64_t o0 = ochunk * b->ob, on = o0 + b->ob <= c->ocpg ? b->ob : c->ocpg - o0;
            const int64_t per_group = b->ob * K * RR_PT_VL;
            memset(w.acc, 0, (size_t)((g1 - g0) * per_group) * sizeof(float));
            for (int64_t n = 0; n < c->n; n++) {
                for (int64_t oh0 = 0; oh0 < c->oh; oh0 += b->rows) {
                    const int64_t oh1 = oh0 + b->rows < c->oh ? oh0 + b->rows : c->oh;
                    int64_t any = 0;
                    for (int64_t oh = oh0; oh < oh1; oh++) {
                        const int64_t r = oh - oh0;
                        const rr_pt_taps at = {w.at.tap + r * T, w.at.x + r * T, w.at.m + r * T};
                        w.na[r] = rr_pt_row_masks(&b->g, oh, b->rin + n * c->ih * c->iw,
                                                  b->rout + (n * c->oh + oh) * c->ow, w.m + r * T * xp, &at);
                        any |= w.na[r];
                    }
                    if (!any) continue;
                    for (int64_t g = g0; g < g1; g++) {
                        bwf_chunk(b, &w, n, oh0, oh1, g, o0, on, i0, icn, w.acc + (g - g0) * per_group);
                    }
                }
            }
            for (int64_t g = g0; g < g1; g++) {
                for (int64_t o = 0; o < on; o++) {
                    const float *a = w.acc + (g - g0) * per_group + o * K * RR_PT_VL;
                    float *gw = b->gw + ((g * c->ocpg + o0 + o) * c->icpg + i0) * T;
                    for (int64_t k = 0; k < icn * T; k++) gw[k] = rr_pt_hsum(rr_pt_load(a + k * RR_PT_VL));
                }
            }
        }
    }
}

/* Output rows per chunk: masks within BWF_PT_MASK_BYTES, padded rows within BWF_PT_PLANE_BYTES (at least 1). */
static int64_t chunk_rows(const rr_conv *c, int64_t xp, int64_t row_floats)
{
    const double mask_row = 4.0 * (double)c->fh * (double)c->fw * (double)xp;
    const double icb = c->icpg < BWF_PT_ICB ? (double)c->icpg : BWF_PT_ICB;
    const double plane_row = 4.0 * icb * (double)c->sh * (double)row_floats;
    double r = (double)BWF_PT_MASK_BYTES / mask_row;
    if ((double)BWF_PT_PLANE_BYTES / plane_row < r) r = (double)BWF_PT_PLANE_BYTES / plane_row;
    if (r > (double)c->oh) r = (double)c->oh;
    return r < 1.0 ? 1 : (int64_t)r;
}

static int64_t chunk_span(const rr_conv *c, int64_t rows)
{
    const int64_t span = (rows - 1) * c->sh + (c->fh - 1) * c->dh + 1;
    return span < c->ih ? span : c->ih;
}

int rr_portable_backward_filter_applies(const rr_conv *c)
{
    const int64_t lim = (int64_t)1 << 24;
    if (c->ih >= lim || c->iw >= lim || c->oh >= lim || c->ow >= lim || c->fh >= lim || c->fw >= lim ||
        c->sh >= lim || c->sw >= lim || c->dh >= lim || c->dw >= lim || c->ph >= lim || c->pw >= lim)
        return 0;
    if (c->sw > c->iw && c->sw > 64) return 0;
    rr_pt_geom g;
    rr_pt_geom_init(&g, c->ih, c->iw, c->ow, c->fh, c->fw, c->sh, c->sw, c->dh, c->dw, c->ph, c->pw);
    const double taps = (double)c->fh * (double)c->fw;
    const int64_t R = chunk_rows(c, g.xp, g.row_floats);
    const double gb = c->icpg * c->ocpg == 1 ? 16.0 : 1.0, ob = c->ocpg < BWF_PT_OB ? (double)c->ocpg : BWF_PT_OB;
    const double icb = c->icpg < BWF_PT_ICB ? (double)c->icpg : BWF_PT_ICB;
    const double bytes = (double)R * (4.0 * taps * (double)g.xp + 20.0 * taps + 8.0) +
                         4.0 * (icb * (double)chunk_span(c, R) * (double)g.row_floats + ob * (double)g.xp +
                                gb * ob * icb * taps * RR_PT_VL + 3.0 * icb * taps * (double)g.xp) + 10 * 64.0;
    return bytes <= (double)BWF_PT_WS_MAX;
}

rrconv_status rr_portable_backward_filter(const rr_problem *p)
{
    const rr_conv *c = &p->c;
    bwf_pt b;
    memset(&b, 0, sizeof b);
    b.c = *c;
    rr_pt_geom_init(&b.g, c->ih, c->iw, c->ow, c->fh, c->fw, c->sh, c->sw, c->dh, c->dw, c->ph, c->pw);
    b.g.kh_stride = c->dh * b.g.row_floats; /* padded rows of consecutive input rows */
    b.src = (const float *)p->src.data;
    b.diff = (const float *)p->diff.data;
    b.rin = (const int32_t *)p->rin.data;
    b.rout = (const int32_t *)p->rout.data;
    b.gw = p->out.data;
    b.taps = c->fh * c->fw;
    b.gb = c->icpg * c->ocpg == 1 ? 16 : 1;
    if (b.gb > c->groups) b.gb = c->groups;
    b.ngb = (c->groups + b.gb - 1) / b.gb;
    b.ob = c->ocpg < BWF_PT_OB ? c->ocpg : BWF_PT_OB;
    b.nob = (c->ocpg + b.ob - 1) / b.ob;
    b.icb = c->icpg < BWF_PT_ICB ? c->icpg : BWF_PT_ICB;
    b.nicb = (c->icpg + b.icb - 1) / b.icb;
    b.rows = chunk_rows(c, b.g.xp, b.g.row_floats);
    b.span = chunk_span(c, b.rows);
    const char *op = p->op != NULL ? p->op : "rrconv_backward_filter_f32";
    const rrconv_status st = rr_pt_slots_alloc(&b.slots, op, b.ngb * b.nob * b.nicb, bwf_ws_layout(&b, NULL, NULL));
    if (st != RRCONV_OK) return st;
    rr_parallel_for(b.slots.n_slots, bwf_slot, &b);
    rr_pt_slots_free(&b.slots);
    return RRCONV_OK;
}
