/*
 * backward_filter_portable.c -- the portable filter-gradient kernel (portable.h), on the normalized
 * problem.
 *
 * Items: (block of groups, chunk of up to 8 output channels of a group); an item owns the gradient of
 * its filters. Per item and per output row (n, oh) in ascending order: the row's tap masks (shared by
 * the block's groups), the padded input rows of the group's channels, the diff rows of the chunk;
 * then for every output channel o, input channel icg and active tap t a 4-lane partial sum
 *   acc[o][icg][t] += (diff[o][x] * input[icg][t][x]) & mask[t][x]     over the row's vectors x
 * The product is ANDed with the mask (diff and src may both hold NaN or Inf under a masked tap), so
 * no data check is needed. Each lane sums over n, oh, then ow in its lane (ascending); the gradient is
 * the fixed-order sum of the four lanes.
 */
#define _POSIX_C_SOURCE 200809L

#include "portable.h"

#include <stdlib.h>

#define BWF_PT_WS_MAX ((int64_t)64 << 20)
#define BWF_PT_OB 8 /* output channels per item */
#define BWF_PT_AHEAD_BYTES ((int64_t)16 << 10) /* padded rows copied ahead of their use (L1) */

typedef struct bwf_pt {
    rr_conv c;
    rr_pt_geom g;
    const float *src, *diff;
    const int32_t *rin, *rout;
    float *gw;
    int64_t gb, ngb, ob, nob;
    int64_t sb; /* groups whose rows are copied before the first is used (<= gb) */
    int64_t taps, row_floats;
    rr_pt_slots slots;
} bwf_pt;

typedef struct bwf_ws {
    int32_t *m;      /* [taps][xp] */
    rr_pt_taps at;   /* [taps] each */
    float *rows;     /* [gb][ICPG][FH][row_floats] */
    float *d;        /* [gb][ob][xp] */
    float *acc;      /* [gb][ob][ICPG*taps][4] */
} bwf_ws;

static int64_t bwf_ws_layout(const bwf_pt *b, unsigned char *base, bwf_ws *w)
{
    const rr_conv *c = &b->c;
    const int64_t xp = b->g.xp, t = b->taps;
    int64_t off = 0;
#define TAKE(field, type, count)                                                                   \
    do {                                                                                           \
        if (w != NULL) w->field = (type *)(void *)(base + off);                                    \
        off += rr_pt_round_up((int64_t)(count) * (int64_t)sizeof(type), 64);                      \
    } while (0)
    TAKE(m, int32_t, t * xp);
    TAKE(at.tap, int32_t, t);
    TAKE(at.x, int64_t, t);
    TAKE(at.m, int64_t, t);
    TAKE(rows, float, b->sb * c->icpg * c->fh * b->row_floats);
    TAKE(d, float, b->sb * b->ob * xp);
    TAKE(acc, float, b->gb * b->ob * c->icpg * t * RR_PT_VL);
#undef TAKE
    return off;
}

/* acc[o][k] += sum over the row of (d[o] * x[k]) & m[k], for OB output channels and KB taps
 * (OB * KB <= 8, OB <= 4, KB <= 8: the sums stay in registers). */
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

/* The padded input rows and the diff rows of output row (n, oh), group g. */
static void bwf_prepare(const bwf_pt *b, float *rows, float *dr, int64_t n, int64_t oh, int64_t g, int64_t o0,
                        int64_t on)
{
    const rr_conv *c = &b->c;
    const int64_t xp = b->g.xp;
    for (int64_t icg = 0; icg < c->icpg; icg++) {
        const float *plane = b->src + (n * c->ic + g * c->icpg + icg) * c->ih * c->iw;
        for (int64_t kh = 0; kh < c->fh; kh++) {
            const int64_t ih = oh * c->sh + kh * c->dh - c->ph;
            if (ih < 0 || ih >= c->ih) continue;
            rr_pt_pad_row(&b->g, plane + ih * c->iw, rows + (icg * c->fh + kh) * b->row_floats);
        }
    }
    for (int64_t o = 0; o < on; o++) {
        const float *s = b->diff + ((n * c->oc + g * c->ocpg + o0 + o) * c->oh + oh) * c->ow;
        rr_pt_copy(dr + o * xp, s, c->ow);
        rr_pt_zero(dr + o * xp + c->ow, xp - c->ow);
    }
}

/* One output row of a group (rows, dr: bwf_prepare) into the item's sums acc ([ob][ICPG*taps][4]). */
static void bwf_row(const bwf_pt *b, const bwf_ws *w, const float *rows, const float *dr, int64_t na, int64_t on,
                    float *acc)
{
    const rr_conv *c = &b->c;
    const int64_t xp = b->g.xp, T = b->taps, ldacc = c->icpg * T * RR_PT_VL;
    const int64_t nk = c->icpg * na;
    for (int64_t o = 0; o < on;) {
        const int ob = on - o >= 4 ? 4 : 1; /* blocks of 4 channels (2 taps), the rest one at a time (8 taps) */
        const int kmax = ob == 4 ? 2 : 4;
        const float *d[4];
        for (int j = 0; j < ob; j++) d[j] = dr + (o + j) * xp;
        int64_t icg = 0, j = 0; /* (icg, active tap j) of block member i */
        for (int64_t i = 0; i < nk; i += kmax) {
            const int kb = nk - i >= kmax ? kmax : (int)(nk - i);
            const float *x[8];
            const int32_t *m[8];
            float *ac[8];
            for (int k = 0; k < kb; k++) {
                x[k] = rows + icg * c->fh * b->row_floats + w->at.x[j];
                m[k] = w->m + w->at.m[j];
                ac[k] = acc + o * ldacc + (icg * T + w->at.tap[j]) * RR_PT_VL;
                if (++j == na) {
                    j = 0;
                    icg++;
                }
            }
            if (ob == 4) {
                if (kb == 2) reduce_block(4, 2, d, x, m, ac, ldacc, xp);
                else reduce_block(4, 1, d, x, m, ac, ldacc, xp);
            } else {
                switch (kb) {
                case 8: reduce_block(1, 8, d, x, m, ac, ldacc, xp); break;
                case 7: reduce_block(1, 7, d, x, m, ac, ldacc, xp); break;
                case 6: reduce_block(1, 6, d, x, m, ac, ldacc, xp); break;
                case 5: reduce_block(1, 5, d, x, m, ac, ldacc, xp); break;
                case 4: reduce_block(1, 4, d, x, m, ac, ldacc, xp); break;
                case 3: reduce_block(1, 3, d, x, m, ac, ldacc, xp); break;
                case 2: reduce_block(1, 2, d, x, m, ac, ldacc, xp); break;
                default: reduce_block(1, 1, d, x, m, ac, ldacc, xp); break;
                }
            }
        }
        o += ob;
    }
}

static void bwf_slot(void *vctx, int64_t begin, int64_t end)
{
    const bwf_pt *b = (const bwf_pt *)vctx;
    const rr_conv *c = &b->c;
    const int64_t T = b->taps, K = c->icpg * T;
    for (int64_t slot = begin; slot < end; slot++) {
        bwf_ws w;
        bwf_ws_layout(b, b->slots.ws + slot * b->slots.ws_bytes, &w);
        int64_t i0, i1;
        rr_pt_slot_range(&b->slots, slot, &i0, &i1);
        for (int64_t item = i0; item < i1; item++) {
            const int64_t ochunk = item % b->nob, gblk = item / b->nob;
            const int64_t g0 = gblk * b->gb, g1 = g0 + b->gb < c->groups ? g0 + b->gb : c->groups;
            const int64_t o0 = ochunk * b->ob, on = o0 + b->ob <= c->ocpg ? b->ob : c->ocpg - o0;
            const int64_t per_group = b->ob * K * RR_PT_VL, group_rows = c->icpg * c->fh * b->row_floats;
            memset(w.acc, 0, (size_t)((g1 - g0) * per_group) * sizeof(float));
            for (int64_t n = 0; n < c->n; n++) {
                for (int64_t oh = 0; oh < c->oh; oh++) {
                    const int64_t na = rr_pt_row_masks(&b->g, oh, b->rin + n * c->ih * c->iw,
                                                       b->rout + (n * c->oh + oh) * c->ow, w.m, &w.at);
                    if (na == 0) continue;
                    /* the rows of sb groups first: a row read straight after its copy stalls on store
                     * forwarding; sb keeps them in L1 */
                    for (int64_t gs = g0; gs < g1; gs += b->sb) {
                        const int64_t ge = gs + b->sb < g1 ? gs + b->sb : g1;
                        for (int64_t g = gs; g < ge; g++) {
                            bwf_prepare(b, w.rows + (g - gs) * group_rows, w.d + (g - gs) * b->ob * b->g.xp, n, oh, g,
                                        o0, on);
                        }
                        for (int64_t g = gs; g < ge; g++) {
                            bwf_row(b, &w, w.rows + (g - gs) * group_rows, w.d + (g - gs) * b->ob * b->g.xp, na, on,
                                    w.acc + (g - g0) * per_group);
                        }
                    }
                }
            }
            for (int64_t g = g0; g < g1; g++) {
                for (int64_t o = 0; o < on; o++) {
                    const float *a = w.acc + (g - g0) * per_group + o * K * RR_PT_VL;
                    float *gw = b->gw + (g * c->ocpg + o0 + o) * K;
                    for (int64_t k = 0; k < K; k++) gw[k] = rr_pt_hsum(rr_pt_load(a + k * RR_PT_VL));
                }
            }
        }
    }
}

int rr_portable_backward_filter_applies(const rr_conv *c)
{
    const int64_t lim = (int64_t)1 << 24;
    if (c->ih >= lim || c->iw >= lim || c->oh >= lim || c->ow >= lim || c->fh >= lim || c->fw >= lim ||
        c->sh >= lim || c->sw >= lim || c->dh >= lim || c->dw >= lim || c->ph >= lim || c->pw >= lim)
        return 0;
    if (c->sw > c->iw && c->sw > 64) return 0;
    const double xp = (double)rr_pt_round_up(c->ow, RR_PT_VL), taps = (double)c->fh * (double)c->fw;
    const double row = (double)c->sw * (xp + (double)(c->fw - 1) * (double)c->dw / (double)c->sw + 1.0);
    const double gb = c->icpg * c->ocpg == 1 ? 16.0 : 1.0, ob = c->ocpg < BWF_PT_OB ? (double)c->ocpg : BWF_PT_OB;
    const double bytes = 4.0 * (taps * xp + 5.0 * taps + gb * (double)c->icpg * (double)c->fh * row + gb * ob * xp +
                                gb * ob * (double)c->icpg * taps * RR_PT_VL);
    return bytes <= (double)BWF_PT_WS_MAX;
}

rrconv_status rr_portable_backward_filter(const rr_problem *p)
{
    const rr_conv *c = &p->c;
    bwf_pt b;
    memset(&b, 0, sizeof b);
    b.c = *c;
    rr_pt_geom_init(&b.g, c->ih, c->iw, c->ow, c->fh, c->fw, c->sh, c->sw, c->dh, c->dw, c->ph, c->pw);
    b.src = (const float *)p->src.data;
    b.diff = (const float *)p->diff.data;
    b.rin = (const int32_t *)p->rin.data;
    b.rout = (const int32_t *)p->rout.data;
    b.gw = p->out.data;
    b.taps = c->fh * c->fw;
    b.row_floats = b.g.row_floats;
    b.gb = c->icpg * c->ocpg == 1 ? 16 : 1;
    if (b.gb > c->groups) b.gb = c->groups;
    b.ngb = (c->groups + b.gb - 1) / b.gb;
    b.ob = c->ocpg < BWF_PT_OB ? c->ocpg : BWF_PT_OB;
    b.nob = (c->ocpg + b.ob - 1) / b.ob;
    const int64_t group_bytes = 4 * c->icpg * c->fh * b.row_floats;
    b.sb = BWF_PT_AHEAD_BYTES / group_bytes;
    if (b.sb < 1) b.sb = 1;
    if (b.sb > b.gb) b.sb = b.gb;
    const char *op = p->op != NULL ? p->op : "rrconv_backward_filter_f32";
    const rrconv_status st = rr_pt_slots_alloc(&b.slots, op, b.ngb * b.nob, bwf_ws_layout(&b, NULL, NULL));
    if (st != RRCONV_OK) return st;
    rr_parallel_for(b.slots.n_slots, bwf_slot, &b);
    rr_pt_slots_free(&b.slots);
    return RRCONV_OK;
}
