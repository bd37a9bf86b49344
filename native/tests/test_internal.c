/*
 * test_internal.c -- the internal layer the fast kernels build on (links the object files):
 * rr_parallel_for coverage and nesting, rr_valid_range, dense strides, strided copies, filter
 * flips, mask widening, and rr_normalize/rr_run_normalized: a normalized problem run through the
 * reference loops must give bitwise the same output as the reference loops on the original.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"
#include "ref/ref_util.h"
#include "kernels/common/workspace.h"
#include "kernels/kernels.h"
#include "tensor_util.h"

#include <stdatomic.h>

/* ---- rr_parallel_for ------------------------------------------------------------------------- */

typedef struct pf_ctx {
    atomic_int *hits;
    atomic_int calls;
    int nested;
} pf_ctx;

static void pf_inner(void *vctx, int64_t b, int64_t e)
{
    pf_ctx *c = (pf_ctx *)vctx;
    for (int64_t i = b; i < e; i++) atomic_fetch_add(&c->hits[i], 1);
}

static void pf_fn(void *vctx, int64_t b, int64_t e)
{
    pf_ctx *c = (pf_ctx *)vctx;
    atomic_fetch_add(&c->calls, 1);
    if (c->nested) {
        /* a nested parallel_for over a private array: must complete (serially) */
        atomic_int local[8];
        for (int i = 0; i < 8; i++) atomic_init(&local[i], 0);
        pf_ctx inner = {local, 0, 0};
        rr_parallel_for(8, pf_inner, &inner);
        for (int i = 0; i < 8; i++) EXPECT(atomic_load(&local[i]) == 1, "nested item %d", i);
    }
    EXPECT(b < e, "empty range [%" PRId64 ", %" PRId64 ")", b, e);
    for (int64_t i = b; i < e; i++) atomic_fetch_add(&c->hits[i], 1);
}

static void test_parallel_for(void)
{
    const int64_t sizes[] = {0, 1, 2, 3, 7, 64, 1001};
    const int threads[] = {1, 2, 3, 7, 64};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
            for (int nested = 0; nested < 2; nested++) {
                rrconv_set_num_threads(threads[t]);
                const int64_t n = sizes[s];
                atomic_int *hits = t_alloc((size_t)(n + 1) * sizeof(atomic_int));
                for (int64_t i = 0; i < n; i++) atomic_init(&hits[i], 0);
                pf_ctx c = {hits, 0, nested};
                rr_parallel_for(n, pf_fn, &c);
                for (int64_t i = 0; i < n; i++)
                    EXPECT(atomic_load(&hits[i]) == 1, "n=%" PRId64 " threads=%d item %" PRId64 " hit %d times", n,
                           threads[t], i, atomic_load(&hits[i]));
                /* chunks of max(1, n / (4 k)) items: at most min(n, 8 k) calls */
                const int calls = atomic_load(&c.calls);
                const int64_t max_calls = n < 8 * threads[t] ? n : 8 * threads[t];
                EXPECT(calls <= max_calls && (n == 0 || calls >= 1), "n=%" PRId64 ": %d ranges", n, calls);
                free(hits);
            }
        }
    }
    rrconv_set_num_threads(0);
}

/* ---- small helpers --------------------------------------------------------------------------- */

static void test_valid_range(void)
{
    for (int64_t off = -12; off <= 12; off++)
        for (int64_t step = 1; step <= 4; step++)
            for (int64_t limit = 1; limit <= 9; limit++)
                for (int64_t count = 1; count <= 7; count++) {
                    int64_t lo, hi, first = -1, last = -2;
                    rr_valid_range(off, step, limit, count, &lo, &hi);
                    for (int64_t j = 0; j < count; j++) {
                        const int64_t v = off + j * step;
                        if (v >= 0 && v < limit) {
                            if (first < 0) first = j;
                            last = j;
                        }
                    }
                    if (first < 0) EXPECT(lo == hi, "off %" PRId64 ": expected empty", off);
                    else EXPECT(lo == first && hi == last + 1, "off %" PRId64 " step %" PRId64 ": [%" PRId64 ",%" PRId64 ")", off, step, lo, hi);
                }
}

static void test_dense(void)
{
    const int64_t shape[4] = {2, 1, 3, 4};
    int64_t st[4];
    rr_dense_strides(shape, 4, st);
    EXPECT(st[0] == 12 && st[1] == 12 && st[2] == 4 && st[3] == 1, "dense strides");
    EXPECT(rr_is_dense(shape, st, 4), "dense");
    st[1] = 999;
    EXPECT(rr_is_dense(shape, st, 4), "extent-1 stride ignored");
    st[2] = 5;
    EXPECT(!rr_is_dense(shape, st, 4), "padded is not dense");
    st[2] = 4;
    st[3] = 0;
    EXPECT(!rr_is_dense(shape, st, 4), "broadcast is not dense");
}

static void test_layout_strides(void)
{
    rr_conv c;
    memset(&c, 0, sizeof c);
    c.n = 2; c.groups = 3; c.icpg = 2; c.ocpg = 1; c.ic = 6; c.oc = 3;
    c.ih = 4; c.iw = 5; c.oh = 4; c.ow = 5; c.fh = c.fw = 1;
    int64_t st[5];
    EXPECT(rr_layout_strides(&c, RR_T_SRC, RR_LAYOUT_NHWC, st) == 4, "src rank");
    EXPECT(st[0] == 120 && st[1] == 1 && st[2] == 30 && st[3] == 6, "src NHWC strides [N,C,H,W]");
    rr_layout_strides(&c, RR_T_DIFF, RR_LAYOUT_NHWC, st);
    EXPECT(st[0] == 60 && st[1] == 1 && st[2] == 15 && st[3] == 3, "diff NHWC strides");
    EXPECT(rr_is_dense_in(&c, RR_T_DIFF, st, RR_LAYOUT_NHWC) && !rr_is_dense_in(&c, RR_T_DIFF, st, RR_LAYOUT_NCHW),
           "NHWC is not NCHW");
    rr_layout_strides(&c, RR_T_FILTER, RR_LAYOUT_NHWC, st);
    EXPECT(st[0] == 2 && st[1] == 2 && st[2] == 1, "the filter stays C order in NHWC");
    rr_layout_strides(&c, RR_T_RIN, RR_LAYOUT_NHWC, st);
    EXPECT(st[0] == 20 && st[1] == 5 && st[2] == 1, "masks stay C order in NHWC");
    c.ic = c.icpg = 1; c.groups = 1;
    rr_layout_strides(&c, RR_T_SRC, RR_LAYOUT_NHWC, st);
    EXPECT(rr_is_dense_in(&c, RR_T_SRC, st, RR_LAYOUT_NCHW), "one channel: NHWC and NCHW coincide");
}

static void test_copies(uint64_t *rng)
{
    for (int k = 0; k < 200; k++) {
        const int nd = (int)t_int(rng, 1, 5);
        int64_t shape[5];
        for (int i = 0; i < nd; i++) shape[i] = t_int(rng, 1, 5);
        /* big enough sometimes to take the parallel path */
        if (k % 20 == 0) shape[0] = 4000 / (nd > 1 ? 1 : 1) + t_int(rng, 0, 99);
        tview a, b;
        tv_make(&a, rng, nd, shape, 4, (int)t_int(rng, 0, L_COUNT - 1));
        tv_make(&b, rng, nd, shape, 4, (int)t_int(rng, 0, L_BROADCAST - 1));
        tv_fill_f(&a, rng, 0);
        tv_fill_sentinel(&b);
        const size_t count = tv_count(&a);
        float *dense = t_alloc(count * 4);
        rr_pack_f32(dense, tv_data(&a), a.st, shape, nd);
        rr_unpack_f32(tv_data(&b), b.st, dense, shape, nd);
        int64_t idx[5] = {0};
        size_t i = 0;
        int ok = 1;
        do {
            const float va = tv_getf(&a, idx), vb = tv_getf(&b, idx);
            ok &= memcmp(&va, &dense[i], 4) == 0 && memcmp(&va, &vb, 4) == 0;
            i++;
        } while (tv_next(&a, idx));
        EXPECT(ok, "copy %d (ndim %d) wrong", k, nd);
        EXPECT(tv_gaps_untouched(&b), "copy %d wrote outside the view", k);
        free(dense);
        tv_free(&a);
        tv_free(&b);
    }
}

/*
 * NCHW <-> NHWC copies (the blocked transposition of normalize.c: rr_normalize's and rr_finish's for the
 * channels-last rows on NCHW calls): C and H*W past one or more 16-element blocks with odd tails, both
 * directions, float32 and 16-bit copies and the widening / narrowing pairs, destinations with gaps
 * (padded pixels, padded images) that must keep their sentinel, at 1 and 3 threads. Every element
 * must equal rr_store(rr_load(source element)): bitwise the value the row-by-row copy gives.
 */
static void test_transpose(uint64_t *rng)
{
    static const rr_dtype pairs[][2] = {{RR_DT_F32, RR_DT_F32}, {RR_DT_BF16, RR_DT_BF16}, {RR_DT_F16, RR_DT_F16},
                                        {RR_DT_F32, RR_DT_BF16}, {RR_DT_BF16, RR_DT_F32}, {RR_DT_F16, RR_DT_F32},
                                        {RR_DT_F32, RR_DT_F16}};
    for (int k = 0; k < 120; k++) {
        const rr_dtype st = pairs[k % 7][0], dt = pairs[k % 7][1];
        const int to_nhwc = (k / 7) % 2;
        const int64_t N = t_int(rng, 1, 2), C = t_int(rng, 1, 70), H = t_int(rng, 1, 9), W = t_int(rng, 1, 40);
        const int64_t shape[4] = {N, C, H, W};
        if (k % 13 == 0) rrconv_set_num_threads(1);
        if (k % 13 == 6) rrconv_set_num_threads(3);
        /* source dense in one layout; destination in the other, with gaps */
        const int64_t gap_c = t_int(rng, 0, 3), gap_n = t_int(rng, 0, 5);
        int64_t sst[4], dst[4];
        if (to_nhwc) {
            sst[3] = 1; sst[2] = W; sst[1] = H * W; sst[0] = C * H * W;
            dst[1] = 1; dst[3] = C + gap_c; dst[2] = W * dst[3]; dst[0] = H * dst[2] + gap_n;
        } else {
            sst[1] = 1; sst[3] = C; sst[2] = W * C; sst[0] = H * W * C;
            dst[3] = 1; dst[2] = W + gap_c; dst[1] = H * dst[2]; dst[0] = C * dst[1] + gap_n;
        }
        const int64_t scount = N * C * H * W, dcount = N * dst[0];
        const int64_t ses = rr_dtype_size(st), des = rr_dtype_size(dt);
        unsigned char *sbuf = t_alloc((size_t)(scount * ses)), *dbuf = t_alloc((size_t)(dcount * des));
        for (int64_t i = 0; i < scount; i++) rr_store(sbuf, st, i, (float)t_int(rng, -5000, 5000) / 64.0f);
        memset(dbuf, 0xA5, (size_t)(dcount * des));
        rr_copy(dbuf, dt, dst, sbuf, st, sst, shape, 4);
        int ok = 1;
        unsigned char *want = t_alloc((size_t)(dcount * des));
        memset(want, 0xA5, (size_t)(dcount * des));
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t h = 0; h < H; h++)
                    for (int64_t w = 0; w < W; w++) {
                        const int64_t so = n * sst[0] + c * sst[1] + h * sst[2] + w * sst[3];
                        rr_store(want, dt, n * dst[0] + c * dst[1] + h * dst[2] + w * dst[3], rr_load(sbuf, st, so));
                    }
        ok = memcmp(want, dbuf, (size_t)(dcount * des)) == 0;
        EXPECT(ok, "transpose %d (%s, %d -> %d, N %" PRId64 " C %" PRId64 " H %" PRId64 " W %" PRId64
               ") wrong or wrote outside the view", k, to_nhwc ? "NCHW -> NHWC" : "NHWC -> NCHW", (int)st, (int)dt,
               N, C, H, W);
        free(sbuf);
        free(dbuf);
        free(want);
    }
    rrconv_set_num_threads(0);
}

static rr_conv conv_of(const rrconv_conv_desc *d)
{
    rr_conv c;
    memset(&c, 0, sizeof c); /* float32 data and output, NCHW */
    c.n = d->n; c.groups = d->groups; c.icpg = d->icpg; c.ocpg = d->ocpg;
    c.ic = d->groups * d->icpg; c.oc = d->groups * d->ocpg;
    c.ih = d->ih; c.iw = d->iw; c.oh = d->oh; c.ow = d->ow; c.fh = d->fh; c.fw = d->fw;
    c.sh = d->stride_h; c.sw = d->stride_w; c.ph = d->pad_h; c.pw = d->pad_w; c.dh = d->dil_h; c.dw = d->dil_w;
    c.mode = (rrconv_mode)d->mode;
    c.mask_type = (rrconv_mask_type)d->mask_type;
    c.algorithm = (rrconv_algorithm)d->algorithm;
    return c;
}

static void test_filter_flip(uint64_t *rng)
{
    for (int k = 0; k < 50; k++) {
        rrconv_conv_desc d = t_desc(1, t_int(rng, 1, 3), t_int(rng, 1, 3), t_int(rng, 1, 3), 9, 9, t_int(rng, 1, 4),
                                    t_int(rng, 1, 4), 1, 1, 0, 0, 1, 1, 0, 0);
        const rr_conv c = conv_of(&d);
        const int64_t shape[5] = {c.groups, c.ocpg, c.icpg, c.fh, c.fw};
        tview f, back;
        tv_make(&f, rng, 5, shape, 4, (int)t_int(rng, 0, L_COUNT - 1));
        tv_make(&back, rng, 5, shape, 4, (int)t_int(rng, 0, L_BROADCAST - 1));
        tv_fill_f(&f, rng, 0);
        tv_fill_sentinel(&back);
        const int flip = k % 2;
        float *dense = t_alloc(tv_count(&f) * 4);
        rr_pack_filter_f32(dense, tv_data(&f), f.st, &c, flip);
        int64_t idx[5] = {0};
        size_t i = 0;
        int ok = 1;
        do {
            const int64_t src_idx[5] = {idx[0], idx[1], idx[2], flip ? c.fh - 1 - idx[3] : idx[3],
                                        flip ? c.fw - 1 - idx[4] : idx[4]};
            const float v = tv_getf(&f, src_idx);
            ok &= memcmp(&v, &dense[i++], 4) == 0;
        } while (tv_next(&f, idx));
        EXPECT(ok, "pack_filter flip=%d", flip);
        /* unpack (zero-stride source dims are not invertible: compare through the dense copy) */
        rr_unpack_filter_f32(tv_data(&back), back.st, dense, &c, flip);
        float *dense2 = t_alloc(tv_count(&f) * 4);
        rr_pack_filter_f32(dense2, tv_data(&back), back.st, &c, flip);
        EXPECT(memcmp(dense, dense2, tv_count(&f) * 4) == 0, "unpack_filter is not the inverse (flip=%d)", flip);
        EXPECT(tv_gaps_untouched(&back), "unpack_filter wrote outside the view");
        free(dense);
        free(dense2);
        tv_free(&f);
        tv_free(&back);
    }
}

static void test_widen(uint64_t *rng)
{
    for (int k = 0; k < 60; k++) {
        const int64_t shape[3] = {t_int(rng, 1, 3), t_int(rng, 1, 7), t_int(rng, 1, 7)};
        const rrconv_mask_type mt = (rrconv_mask_type)(k % 2);
        tview m;
        tv_make(&m, rng, 3, shape, mt == RRCONV_MASK_INT32 ? 4 : 1, (int)t_int(rng, 0, L_COUNT - 1));
        int64_t idx[5] = {0};
        do {
            tv_setm(&m, idx, mt == RRCONV_MASK_INT32 ? (int64_t)(int32_t)t_next(rng) : (int64_t)(t_next(rng) & 255));
        } while (tv_next(&m, idx));
        int32_t *w = t_alloc(tv_count(&m) * 4);
        rr_widen_mask(w, tv_data(&m), mt, m.st, shape);
        size_t i = 0;
        int ok = 1;
        memset(idx, 0, sizeof idx);
        do {
            ok &= (int64_t)w[i++] == tv_getm(&m, idx);
        } while (tv_next(&m, idx));
        EXPECT(ok, "widen mask type %d", (int)mt);
        free(w);
        tv_free(&m);
    }
}

/* ---- normalization vs the reference loops ---------------------------------------------------- */

static void test_normalize(uint64_t *rng)
{
    for (int k = 0; k < 150; k++) {
        rrconv_conv_desc d;
        for (;;) {
            d = t_desc(t_int(rng, 1, 2), t_int(rng, 1, 3), t_int(rng, 1, 3), t_int(rng, 1, 3), t_int(rng, 4, 9),
                       t_int(rng, 4, 9), t_int(rng, 1, 4), t_int(rng, 1, 4), t_int(rng, 1, 2), t_int(rng, 1, 2),
                       t_int(rng, 0, 2), t_int(rng, 0, 2), t_int(rng, 1, 2), t_int(rng, 1, 2), (int)t_int(rng, 0, 1),
                       (int)t_int(rng, 0, 1));
            if (d.oh >= 1 && d.ow >= 1 && d.dil_h * (d.fh - 1) + 1 <= d.ih + 2 * d.pad_h &&
                d.dil_w * (d.fw - 1) + 1 <= d.iw + 2 * d.pad_w)
                break;
        }
        const rr_conv c = conv_of(&d);
        const int64_t s_src[4] = {c.n, c.ic, c.ih, c.iw}, s_dst[4] = {c.n, c.oc, c.oh, c.ow};
        const int64_t s_flt[5] = {c.groups, c.ocpg, c.icpg, c.fh, c.fw};
        const int64_t s_rin[3] = {c.n, c.ih, c.iw}, s_rout[3] = {c.n, c.oh, c.ow};
        const size_t mes = c.mask_type == RRCONV_MASK_INT32 ? 4 : 1;
        /* layouts: the first cases all dense (the in-place paths), then random */
        const int lay = k < 10 ? L_DENSE : -1;
#define LAY(out) (lay >= 0 ? lay : (int)t_int(rng, 0, (out) ? L_BROADCAST - 1 : L_COUNT - 1))
        tview src, flt, diff, rin, rout;
        tv_make(&src, rng, 4, s_src, 4, LAY(0));
        tv_make(&flt, rng, 5, s_flt, 4, LAY(0));
        tv_make(&diff, rng, 4, s_dst, 4, LAY(0));
        tv_make(&rin, rng, 3, s_rin, mes, LAY(0));
        tv_make(&rout, rng, 3, s_rout, mes, LAY(0));
        /* small integers: every sum is exact, so a fast kernel (FMA, another order) must agree bitwise */
        tv_fill_f(&src, rng, 1);
        tv_fill_f(&flt, rng, 1);
        tv_fill_f(&diff, rng, 1);
        tview *ms[2] = {&rin, &rout};
        for (int m = 0; m < 2; m++) {
            int64_t idx[5] = {0};
            do {
                tv_setm(ms[m], idx, t_int(rng, 0, 1) ? 255 : 3);
            } while (tv_next(ms[m], idx));
        }
        const int64_t *out_shape[3] = {s_dst, s_src, s_flt};
        const int out_nd[3] = {4, 4, 5};
        for (int dir = 0; dir < 3; dir++) {
            tview o1, o2;
            tv_make(&o1, rng, out_nd[dir], out_shape[dir], 4, LAY(1));
            o2 = o1;
            o2.buf = t_alloc(o1.buf_elems * 4);
            tv_fill_sentinel(&o1);
            tv_fill_sentinel(&o2);
            rr_problem p;
            memset(&p, 0, sizeof p);
            p.c = c;
            p.dir = (rr_direction)dir;
            p.op = "test_normalize";
            const tview *ins[5] = {dir == 1 ? NULL : &src, dir == 2 ? NULL : &flt, dir == 0 ? NULL : &diff, &rin, &rout};
            rr_view *views[5] = {&p.src, &p.filter, &p.diff, &p.rin, &p.rout};
            for (int i = 0; i < 5; i++) {
                if (ins[i] == NULL) continue;
                views[i]->data = tv_data(ins[i]);
                memcpy(views[i]->strides, ins[i]->st, sizeof ins[i]->st);
            }
            p.out.data = tv_data(&o1);
            memcpy(p.out.strides, o1.st, sizeof o1.st);
            const rr_kernel_fn ref = dir == 0 ? rr_ref_forward : dir == 1 ? rr_ref_backward_data : rr_ref_backward_filter;

            /* the normalized problem is canonical */
            rr_problem q;
            rr_workspace s;
            rr_ws_begin(&s, p.op);
            EXPECT(rr_normalize(&p, &q, &s, RR_DT_F32, RR_LAYOUT_NCHW) == RRCONV_OK, "normalize");
            EXPECT(q.c.mode == RRCONV_CROSS_CORRELATION && q.c.mask_type == RRCONV_MASK_INT32, "canonical form");
            for (int t = 0; t < 5; t++) {
                int64_t shape[5];
                const int nd = rr_tensor_shape(&q.c, (rr_tensor)t, shape);
                const rr_view *qv = t == 0 ? &q.src : t == 1 ? &q.filter : t == 2 ? &q.diff : t == 3 ? &q.rin : &q.rout;
                if (qv->data != NULL) EXPECT(rr_is_dense(shape, qv->strides, nd), "normalized tensor %d not dense", t);
            }
            if (lay == L_DENSE && c.mode == RRCONV_CROSS_CORRELATION) {
                EXPECT(q.out.data == p.out.data, "dense output should be written in place");
                if (dir != 1) EXPECT(q.src.data == p.src.data, "dense src should be used in place");
                if (c.mask_type == RRCONV_MASK_INT32) EXPECT(q.rin.data == p.rin.data, "dense int32 rin in place");
            }
            rr_ws_end(&s);
            EXPECT(s.count == 0, "scratch returned");

            /* bitwise: normalized + reference == reference */
            EXPECT(rr_normalize(&p, &q, &s, RR_DT_F32, RR_LAYOUT_NCHW) == RRCONV_OK && ref(&q) == RRCONV_OK, "normalized reference");
            rr_finish(&p, &q);
            rr_ws_end(&s);
            p.out.data = tv_data(&o2);
            EXPECT(ref(&p) == RRCONV_OK, "ref");
            EXPECT(memcmp(o1.buf, o2.buf, o1.buf_elems * 4) == 0, "case %d dir %d: normalized != reference", k, dir);
            EXPECT(tv_gaps_untouched(&o1), "case %d dir %d: normalized wrote outside the view", k, dir);
            /* the dispatcher (AUTO) agrees with the reference too */
            tv_fill_sentinel(&o2);
            p.c.algorithm = RRCONV_ALGO_AUTO;
            EXPECT(rr_dispatch(&p) == RRCONV_OK, "dispatch");
            EXPECT(memcmp(o1.buf, o2.buf, o1.buf_elems * 4) == 0, "case %d dir %d: dispatch != reference", k, dir);
            tv_free(&o1);
            tv_free(&o2);
        }
#undef LAY
        tv_free(&src); tv_free(&flt); tv_free(&diff); tv_free(&rin); tv_free(&rout);
    }
}

/* A plan whose set-up alone would dwarf the computation goes to the reference row: the fuzzer's IH = FH =
 * SH = 65535 over one output pixel (65535 phases x 65535 taps to scan for one multiply-add per tap). */
static void test_backward_data_plan_bound(void)
{
    rr_conv c;
    memset(&c, 0, sizeof c);
    c.n = c.groups = c.icpg = c.ocpg = c.ic = c.oc = 1;
    c.ih = c.fh = c.sh = 65535;
    c.iw = c.fw = c.sw = 1;
    c.oh = c.ow = 1;
    c.dh = c.dw = 1;
    const rr_kernel_row *row = rr_kernel_pick(RR_BACKWARD_DATA, &c);
    EXPECT(rr_kernel_is_reference(row), "a 65535-phase x 65535-tap backward data picked %s, not the reference",
           row->name);
}

/*
 * half.h against tensor_util.h's by-value model: every float16 and bfloat16 bit pattern widens to its
 * value (NaN to a quiet NaN) and rounds back to itself (NaN: quiet, sign and high payload kept); float32
 * values round to the nearest half value, ties to even: the half-way points between neighbours and
 * their float32 neighbours, and random bit patterns over the whole range (denormals, overflow).
 */
static void test_half_conversions(uint64_t *rng)
{
    for (uint32_t h = 0; h < 65536; h++) {
        const float f16 = rr_f16_to_f32((uint16_t)h), bf = rr_bf16_to_f32((uint16_t)h);
        const float fast = rr_f16_to_f32_fast((uint16_t)h);
        EXPECT(memcmp(&fast, &f16, 4) == 0, "f16 %04x: rr_f16_to_f32_fast %08x, rr_f16_to_f32 %08x", (unsigned)h,
               (unsigned)rr_f32_bits(fast), (unsigned)rr_f32_bits(f16));
        const double v16 = t_f16_value((uint16_t)h), vbf = t_bf16_value((uint16_t)h);
        if (isnan(v16)) {
            EXPECT(isnan(f16) && (rr_f32_bits(f16) & 0x400000u), "f16 %04x: NaN widens to quiet NaN", (unsigned)h);
            EXPECT(rr_f32_to_f16(f16) == (h | 0x200u), "f16 %04x: NaN rounds back to %04x", (unsigned)h,
                   (unsigned)rr_f32_to_f16(f16));
        } else {
            EXPECT((double)f16 == v16 && !signbit(f16) == !signbit(v16), "f16 %04x widens to %.9g, not %.9g",
                   (unsigned)h, (double)f16, v16);
            EXPECT(rr_f32_to_f16(f16) == h, "f16 %04x does not round back", (unsigned)h);
        }
        if (isnan(vbf)) {
            EXPECT(isnan(bf) && rr_f32_to_bf16(bf) == (h | 0x40u), "bf16 %04x: NaN", (unsigned)h);
        } else {
            EXPECT((double)bf == vbf && rr_f32_to_bf16(bf) == h, "bf16 %04x round trip", (unsigned)h);
        }
    }
    /* a float32 signalling NaN rounds to a quiet NaN of the same sign */
    EXPECT(rr_f32_to_f16(rr_bits_f32(0xff800001u)) == 0xfe00u, "f16 of a signalling NaN");
    EXPECT(rr_f32_to_bf16(rr_bits_f32(0x7f800001u)) == 0x7fc0u, "bf16 of a signalling NaN");
    for (int i = 0; i < 400000; i++) {
        float f;
        if (i < 131072) {
            /* near the half-way point above half value i/2 (alternately f16, bf16) */
            const uint16_t h = (uint16_t)(i >> 1);
            const int dt = i & 1 ? RRCONV_BFLOAT16 : RRCONV_FLOAT16;
            const double v = dt == RRCONV_FLOAT16 ? t_f16_value(h) : t_bf16_value(h);
            if (isnan(v) || isinf(v)) continue;
            const double mid = v + copysign(0.5 * t_ulp(v, dt), v); /* exact in float32 */
            f = (float)mid;
            const int step = (int)t_int(rng, -1, 1);
            if (step != 0) f = nextafterf(f, step > 0 ? INFINITY : -INFINITY);
        } else {
            f = rr_bits_f32((uint32_t)t_next(rng));
            if (isnan(f)) continue;
        }
        const double r16 = t_round_to((double)f, RRCONV_FLOAT16), rbf = t_round_to((double)f, RRCONV_BFLOAT16);
        EXPECT(rr_f32_to_f16(f) == t_half_bits(r16, RRCONV_FLOAT16), "f16 of %a: %04x, want %04x (%a)", (double)f,
               (unsigned)rr_f32_to_f16(f), (unsigned)t_half_bits(r16, RRCONV_FLOAT16), r16);
        EXPECT(rr_f32_to_bf16(f) == t_half_bits(rbf, RRCONV_BFLOAT16), "bf16 of %a: %04x, want %04x", (double)f,
               (unsigned)rr_f32_to_bf16(f), (unsigned)t_half_bits(rbf, RRCONV_BFLOAT16));
    }
}

int main(void)
{
    uint64_t rng = 12345;
    test_backward_data_plan_bound();
    test_half_conversions(&rng);
    test_parallel_for();
    test_valid_range();
    test_dense();
    test_layout_strides();
    test_copies(&rng);
    test_transpose(&rng);
    test_filter_flip(&rng);
    test_widen(&rng);
    rrconv_set_num_threads(3);
    test_normalize(&rng);
    rrconv_set_num_threads(0);
    return t_finish("test_internal");
}
