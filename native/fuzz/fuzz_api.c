/*
 * fuzz_api.c -- libFuzzer target over the public entry points of rrconv.h: the three _f32 ones and the
 * typed ones (rrconv_forward, ...) with float16 / bfloat16 data and a float32 or half output (and, in
 * chaos mode, nonsense data types).
 *
 * Each input decodes into one call: a direction, a descriptor (usually small and sane, sometimes
 * nonsense: zero, negative, huge and overflowing sizes, bad enums, a wrong output size, a NULL
 * descriptor), and for every tensor a layout (NULL strides, dense, padded/permuted, broadcast,
 * nonsense strides) and a pointer (a buffer of exactly the bytes the view spans, NULL, misaligned,
 * or for the output: inside an input). An independent model of the documented rules (below, in
 * 128-bit arithmetic) says whether the call is valid. Then:
 *   - the status is one of the rrconv_status values, and the message is "" after a success and
 *     starts with the function's name after a failure;
 *   - a call the model rejects returns RRCONV_INVALID_ARGUMENT and writes nothing (the output
 *     buffer and every input keep their bytes);
 *   - a call the model accepts (and that is small enough to run) returns RRCONV_OK with both
 *     RRCONV_ALGO_AUTO and RRCONV_ALGO_REFERENCE, the two agree within a tolerance (bitwise on
 *     small-integer data, whose sums are exact), the output elements outside the view keep their
 *     bytes, and the inputs are untouched.
 * Buffers are allocated with exactly the bytes a view spans, so AddressSanitizer catches any read
 * or write outside them. Any violation aborts with a description.
 *
 * Build and run: native/fuzz/build.sh, then see native/fuzz/README.md.
 */
#include "rrconv.h"

#include <inttypes.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef __int128 i128;

/* ---- input decoding ------------------------------------------------------------------------- */

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static uint64_t rd(reader *r, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        uint8_t b = 0;
        if (r->n > 0) {
            b = *r->p++;
            r->n--;
        }
        v = (v << 8) | b;
    }
    return v;
}

static int64_t special(unsigned k)
{
    static const int64_t table[16] = {
        0, -1, 1, INT64_MAX, INT64_MIN, INT64_MAX / 2 + 1, (int64_t)1 << 31, ((int64_t)1 << 32) + 1,
        (int64_t)1 << 62, -((int64_t)1 << 31), 3037000500 /* ~sqrt(2^63) */, INT64_MAX / 3,
        (int64_t)1 << 20, 65535, INT64_MAX - 1, -2};
    return table[k & 15];
}

/* A field: in [lo, hi] when sane, else sometimes a special or a raw 64-bit value. */
static int64_t field(reader *r, int chaos, int64_t lo, int64_t hi)
{
    const unsigned sel = (unsigned)rd(r, 1);
    if (!chaos || sel < 200) return lo + (int64_t)(sel % (unsigned)(hi - lo + 1));
    if (sel < 248) return special(sel - 200);
    return (int64_t)rd(r, 8);
}

/* splitmix64, for tensor values */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "fuzz_api: ");                                                             \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        abort();                                                                                   \
    } while (0)

/* ---- tensors -------------------------------------------------------------------------------- */

enum { T_SRC, T_FILTER, T_DIFF, T_RIN, T_ROUT, T_OUT, T_COUNT };
static const char *const TNAME[T_COUNT] = {"src", "filter", "diff", "rin", "rout", "out"};
static const char *const FN_F32[3] = {"rrconv_forward_f32", "rrconv_backward_data_f32", "rrconv_backward_filter_f32"};
static const char *const FN_TYPED[3] = {"rrconv_forward", "rrconv_backward_data", "rrconv_backward_filter"};

/* The call's entry point and data types: g_typed 0 calls the _f32 entry points, 1 the typed ones with
 * g_dtype / g_out_dtype (set per input, before anything reads them). */
static int g_typed;
static int32_t g_dtype, g_out_dtype;
#define FN (g_typed ? FN_TYPED : FN_F32)

/* Bits of a float16 / bfloat16 value for v in (-16, 16) (float16: rounded toward zero; tiny values 0). */
static uint16_t half_bits(float v, int32_t dtype)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    if (dtype == RRCONV_BFLOAT16) return (uint16_t)(u >> 16);
    const int e = (int)((u >> 23) & 0xff) - 127;
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    return e < -14 ? sign : (uint16_t)(sign | ((e + 15) << 10) | ((u >> 13) & 0x3ff));
}

/* The value of element bits at p of type dtype (float32, or a half type widened exactly). */
static double value_at(const unsigned char *p, int32_t dtype)
{
    if (dtype == RRCONV_FLOAT32) {
        float f;
        memcpy(&f, p, 4);
        return (double)f;
    }
    uint16_t h;
    memcpy(&h, p, 2);
    if (dtype == RRCONV_BFLOAT16) {
        const uint32_t u = (uint32_t)h << 16;
        float f;
        memcpy(&f, &u, 4);
        return (double)f;
    }
    const int e = (h >> 10) & 31, m = h & 1023;
    const double sg = (h & 0x8000) ? -1.0 : 1.0;
    if (e == 31) return m ? NAN : sg * INFINITY;
    return e == 0 ? sg * ldexp(m, -24) : sg * ldexp(1024 + m, e - 25);
}

typedef struct tens {
    int used;
    int ndim;
    int64_t shape[5];
    int64_t st[5];          /* strides as passed (or dense if pass_null) */
    int pass_null;
    int64_t esize;
    /* the model's view of it */
    int count_ok;           /* every size >= 1 and the element count fits in int64 */
    i128 count;             /* element count (if count_ok) */
    int strides_ok;         /* no negative stride */
    i128 max_byte;          /* highest byte offset touched (valid if count_ok && strides_ok) */
    /* memory */
    unsigned char *alloc;   /* owned buffer (NULL if none) */
    size_t alloc_bytes;
    unsigned char *data;    /* pointer passed */
    int aliased;            /* output placed inside an input */
} tens;

#define SPAN_LIMIT ((i128)1 << 20) /* bytes per tensor we are willing to allocate */
#define COUNT_LIMIT ((i128)1 << 18) /* elements per tensor we are willing to fill */
#define WORK_LIMIT ((i128)1 << 17) /* taps per call we are willing to run */

static void shape_of(const rrconv_conv_desc *d, int kind, int dir, tens *t)
{
    if (kind == T_OUT) kind = dir == 0 ? T_DIFF : dir == 1 ? T_SRC : T_FILTER;
    const int64_t ic = (int64_t)((uint64_t)d->groups * (uint64_t)d->icpg); /* wraps only if invalid anyway */
    const int64_t oc = (int64_t)((uint64_t)d->groups * (uint64_t)d->ocpg);
    switch (kind) {
    case T_SRC: t->ndim = 4; t->shape[0] = d->n; t->shape[1] = ic; t->shape[2] = d->ih; t->shape[3] = d->iw; break;
    case T_FILTER:
        t->ndim = 5; t->shape[0] = d->groups; t->shape[1] = d->ocpg; t->shape[2] = d->icpg;
        t->shape[3] = d->fh; t->shape[4] = d->fw; break;
    case T_DIFF: t->ndim = 4; t->shape[0] = d->n; t->shape[1] = oc; t->shape[2] = d->oh; t->shape[3] = d->ow; break;
    case T_RIN: t->ndim = 3; t->shape[0] = d->n; t->shape[1] = d->ih; t->shape[2] = d->iw; break;
    default: t->ndim = 3; t->shape[0] = d->n; t->shape[1] = d->oh; t->shape[2] = d->ow; break;
    }
}

/* Picks strides: 0 NULL, 1 dense, 2 padded + permuted, 3 broadcast, 4 one stride off by one, 5 nonsense. */
static void pick_strides(reader *r, int chaos, tens *t, int is_output)
{
    const unsigned sel = (unsigned)rd(r, 1) % (chaos ? 6u : 4u);
    int64_t dense[5];
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        dense[i] = s;
        const int64_t ext = t->shape[i] > 0 && t->shape[i] < ((int64_t)1 << 20) ? t->shape[i] : 1;
        s *= ext; /* bounded: 5 dims of < 2^20 would overflow, but sane shapes are tiny */
        if (s > ((int64_t)1 << 40)) s = (int64_t)1 << 40;
    }
    memcpy(t->st, dense, sizeof dense);
    t->pass_null = sel == 0;
    if (t->pass_null) {
        /* NULL strides: the library derives the exact dense strides, so the model must too (the clamped
         * ones above turned an extent of 2^20 into 1, and the model then called a valid dense output
         * "overlapping" while the library ran it; found in CI). Saturating: a stride beyond int64 makes
         * the tensor invalid in the model, as the element-count check makes it in the library. */
        i128 e = 1;
        for (int i = t->ndim - 1; i >= 0; i--) {
            t->st[i] = e > INT64_MAX ? INT64_MAX : (int64_t)e;
            e *= t->shape[i] > 0 ? t->shape[i] : 1; /* e <= 2^63 here, so no i128 overflow */
            if (e > (i128)INT64_MAX + 1) e = (i128)INT64_MAX + 1;
        }
        return;
    }
    if (sel == 2) {
        int perm[5] = {0, 1, 2, 3, 4};
        for (int i = t->ndim - 1; i > 0; i--) {
            const int j = (int)(rd(r, 1) % (unsigned)(i + 1));
            const int tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp;
        }
        int64_t st = 1 + (int64_t)(rd(r, 1) % 2);
        for (int k = t->ndim - 1; k >= 0; k--) {
            const int dd = perm[k];
            t->st[dd] = st;
            const int64_t ext = t->shape[dd] > 0 && t->shape[dd] < 64 ? t->shape[dd] : 1;
            st = st * ext + (int64_t)(rd(r, 1) % 3);
        }
    } else if (sel == 3 && !is_output) {
        t->st[rd(r, 1) % (unsigned)t->ndim] = 0;
    } else if (sel == 3 || sel == 4) {
        const unsigned i = (unsigned)(rd(r, 1) % (unsigned)t->ndim);
        t->st[i] += (rd(r, 1) & 1) ? 1 : -1;
    } else if (sel == 5) {
        for (int i = 0; i < t->ndim; i++) t->st[i] = field(r, 1, 0, 40);
    }
}

/* The model: element count, strides sign, highest byte offset (128-bit, saturating). */
static void model_tensor(tens *t)
{
    i128 count = 1;
    t->count_ok = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 1) { /* only in calls the descriptor check already rejects */
            t->count_ok = 0;
            continue;
        }
        count *= t->shape[i];
        if (count > (i128)INT64_MAX) {
            t->count_ok = 0;
            count = (i128)INT64_MAX + 1;
        }
    }
    t->count = count;
    t->strides_ok = 1;
    i128 off = 0;
    const i128 cap = (i128)1 << 100; /* far above INT64_MAX, far below overflow */
    for (int i = 0; i < t->ndim; i++) {
        if (t->st[i] < 0) t->strides_ok = 0;
        off += ((i128)t->shape[i] - 1) * (i128)t->st[i];
        if (off > cap) off = cap;
        if (off < -cap) off = -cap;
    }
    t->max_byte = off * t->esize + (t->esize - 1);
}

/* Does the output's stride layout give distinct elements (the header's rule)? */
static int output_distinct(const tens *t)
{
    int order[5], m = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] == 1) continue;
        if (t->st[i] == 0) return 0;
        order[m++] = i;
    }
    for (int a = 1; a < m; a++) { /* sort by stride (stable) */
        for (int b = a; b > 0 && t->st[order[b - 1]] > t->st[order[b]]; b--) {
            const int tmp = order[b]; order[b] = order[b - 1]; order[b - 1] = tmp;
        }
    }
    for (int k = 1; k < m; k++) {
        if ((i128)t->st[order[k]] < (i128)t->st[order[k - 1]] * t->shape[order[k - 1]]) return 0;
    }
    return 1;
}

static void fill_view_values(tens *t, uint64_t *rng, int is_mask, int integers)
{
    int64_t idx[5] = {0};
    for (;;) {
        int64_t off = 0;
        for (int i = 0; i < t->ndim; i++) off += idx[i] * t->st[i];
        unsigned char *p = t->data + off * t->esize;
        const uint64_t v = mix(rng);
        if (is_mask) {
            if (t->esize == 1) *p = (unsigned char)(v % 3 == 0 ? 255 : v % 3);
            else {
                const int32_t m = (int32_t)(v % 3) - (v % 7 == 0 ? 1000000 : 0);
                memcpy(p, &m, 4);
            }
        } else {
            const float f = integers ? (float)((int64_t)(v % 9) - 4) : (float)((double)(v >> 11) / 4503599627370496.0 - 1.0);
            if (t->esize == 2) {
                const uint16_t h = half_bits(f, g_dtype);
                memcpy(p, &h, 2);
            } else {
                memcpy(p, &f, 4);
            }
        }
        int i = t->ndim - 1;
        for (; i >= 0; i--) {
            if (++idx[i] < t->shape[i]) break;
            idx[i] = 0;
        }
        if (i < 0) break;
    }
}

/*
 * How far AUTO and REFERENCE may differ on float data (values in [-1, 1)): both sum the same K terms
 * per element in different orders, and a float sum of K terms can be off by ~K*eps*sum|terms|: with
 * equal terms (zero strides broadcast one product) that drift is systematic, about K*eps*|ref|; with
 * random signs the partial sums stay near sqrt(K). Small problems (K up to a few hundred) keep a
 * tolerance near 1e-4; a 98k-term backward-filter sum of one repeated product (found by the fuzzer:
 * 6297.14 vs 6298.28) gets the room its float rounding needs.
 */
static double float_tolerance(const rrconv_conv_desc *d, int dir, double ref)
{
    const double k = dir == 0 ? (double)d->icpg * (double)d->fh * (double)d->fw
                   : dir == 1 ? (double)d->ocpg * (double)d->fh * (double)d->fw
                              : (double)d->n * (double)d->oh * (double)d->ow;
    return 1e-4 + 1e-5 * fabs(ref) + 2.0 * k * FLT_EPSILON * (fabs(ref) + sqrt(k));
}

static rrconv_status invoke(int dir, const rrconv_conv_desc *dp, tens *t)
{
    const int64_t *sp[T_COUNT];
    for (int i = 0; i < T_COUNT; i++) sp[i] = t[i].pass_null ? NULL : t[i].st;
    if (g_typed) {
        switch (dir) {
        case 0:
            return rrconv_forward(dp, g_dtype, g_out_dtype, t[T_SRC].data, sp[T_SRC], t[T_FILTER].data, sp[T_FILTER],
                                  t[T_RIN].data, sp[T_RIN], t[T_ROUT].data, sp[T_ROUT], t[T_OUT].data, sp[T_OUT]);
        case 1:
            return rrconv_backward_data(dp, g_dtype, g_out_dtype, t[T_FILTER].data, sp[T_FILTER], t[T_DIFF].data,
                                        sp[T_DIFF], t[T_RIN].data, sp[T_RIN], t[T_ROUT].data, sp[T_ROUT],
                                        t[T_OUT].data, sp[T_OUT]);
        default:
            return rrconv_backward_filter(dp, g_dtype, g_out_dtype, t[T_SRC].data, sp[T_SRC], t[T_DIFF].data,
                                          sp[T_DIFF], t[T_RIN].data, sp[T_RIN], t[T_ROUT].data, sp[T_ROUT],
                                          t[T_OUT].data, sp[T_OUT]);
        }
    }
    switch (dir) {
    case 0:
        return rrconv_forward_f32(dp, (const float *)(void *)t[T_SRC].data, sp[T_SRC],
                                  (const float *)(void *)t[T_FILTER].data, sp[T_FILTER], t[T_RIN].data, sp[T_RIN],
                                  t[T_ROUT].data, sp[T_ROUT], (float *)(void *)t[T_OUT].data, sp[T_OUT]);
    case 1:
        return rrconv_backward_data_f32(dp, (const float *)(void *)t[T_FILTER].data, sp[T_FILTER],
                                        (const float *)(void *)t[T_DIFF].data, sp[T_DIFF], t[T_RIN].data,
                                        sp[T_RIN], t[T_ROUT].data, sp[T_ROUT], (float *)(void *)t[T_OUT].data,
                                        sp[T_OUT]);
    default:
        return rrconv_backward_filter_f32(dp, (const float *)(void *)t[T_SRC].data, sp[T_SRC],
                                          (const float *)(void *)t[T_DIFF].data, sp[T_DIFF], t[T_RIN].data,
                                          sp[T_RIN], t[T_ROUT].data, sp[T_ROUT], (float *)(void *)t[T_OUT].data,
                                          sp[T_OUT]);
    }
}

static void check_status(rrconv_status st, int dir)
{
    if (st != RRCONV_OK && st != RRCONV_INVALID_ARGUMENT && st != RRCONV_UNSUPPORTED &&
        st != RRCONV_OUT_OF_MEMORY && st != RRCONV_INTERNAL_ERROR) {
        FAIL("%s returned %d, not an rrconv_status", FN[dir], (int)st);
    }
    const char *msg = rrconv_last_error();
    if (msg == NULL) FAIL("rrconv_last_error() is NULL");
    if (st == RRCONV_OK && msg[0] != '\0') FAIL("%s succeeded but the message is '%s'", FN[dir], msg);
    if (st != RRCONV_OK && strncmp(msg, FN[dir], strlen(FN[dir])) != 0) {
        FAIL("%s failed (%s) with message '%s' not naming the function", FN[dir], rrconv_status_name(st), msg);
    }
    if (strlen(msg) >= 512) FAIL("message too long");
}

static unsigned char *snapshot(const tens *t)
{
    if (t->alloc == NULL || t->alloc_bytes == 0) return NULL;
    unsigned char *s = malloc(t->alloc_bytes);
    if (s == NULL) abort();
    memcpy(s, t->alloc, t->alloc_bytes);
    return s;
}

static void describe(const rrconv_conv_desc *d, int dir, const tens *t)
{
    fprintf(stderr, "dir %d desc n=%" PRId64 " g=%" PRId64 " icpg=%" PRId64 " ocpg=%" PRId64 " in=%" PRId64 "x%" PRId64
            " out=%" PRId64 "x%" PRId64 " f=%" PRId64 "x%" PRId64 " s=%" PRId64 ",%" PRId64 " p=%" PRId64 ",%" PRId64
            " d=%" PRId64 ",%" PRId64 " mode=%d mask=%d algo=%d res=%d\n",
            dir, d->n, d->groups, d->icpg, d->ocpg, d->ih, d->iw, d->oh, d->ow, d->fh, d->fw, d->stride_h,
            d->stride_w, d->pad_h, d->pad_w, d->dil_h, d->dil_w, d->mode, d->mask_type, d->algorithm, d->reserved);
    for (int i = 0; i < T_COUNT; i++) {
        if (!t[i].used) continue;
        fprintf(stderr, "  %s %p%s strides", TNAME[i], (void *)t[i].data, t[i].pass_null ? " (NULL strides)" : "");
        for (int k = 0; k < t[i].ndim; k++) fprintf(stderr, " %" PRId64, t[i].st[k]);
        fprintf(stderr, " bytes %zu\n", t[i].alloc_bytes);
    }
}

/* What the calls were, printed at exit (a run that only ever rejects would test little). */
static long long n_rejected, n_accepted, n_skipped;

static void print_counts(void)
{
    fprintf(stderr, "fuzz_api: %lld calls rejected as expected, %lld valid calls run and cross-checked, "
            "%lld valid but too large to run\n", n_rejected, n_accepted, n_skipped);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int registered = 0;
    if (!registered) {
        atexit(print_counts);
        registered = 1;
    }
    reader r = {data, size};
    const unsigned head = (unsigned)rd(&r, 1);
    const int dir = (int)(head % 3);
    const int chaos = (head / 3) % 4 == 3;          /* 1 in 4: nonsense allowed in every field */
    const int bad_ptrs = (head / 12) % 4 == 3;      /* 1 in 4: NULL / misaligned / aliased pointers */
    const int integers = (head / 48) % 2 == 0;
    /* head / 96: 0 the _f32 entry points; 1 float16, 2 bfloat16 through the typed ones */
    g_typed = head / 96 != 0;
    g_dtype = head / 96 == 1 ? RRCONV_FLOAT16 : head / 96 == 2 ? RRCONV_BFLOAT16 : RRCONV_FLOAT32;

    static int threads_set = 0;
    const unsigned thr = (unsigned)rd(&r, 1);
    if (!threads_set || thr < 8) { /* the pool is global; change it now and then */
        rrconv_set_num_threads((int32_t)(1 + thr % 3));
        threads_set = 1;
    }
    /* a float32 output (thr / 3 odd) or the inputs' type; in chaos mode now and then nonsense types */
    g_out_dtype = (thr / 3) % 2 ? RRCONV_FLOAT32 : g_dtype;
    int types_ok = 1;
    if (g_typed && chaos && thr >= 248) {
        if (thr & 1) g_dtype = (int32_t)(thr % 5 == 0 ? -1 : 3 + thr % 4);
        else g_out_dtype = g_dtype == RRCONV_FLOAT16 ? RRCONV_BFLOAT16 : 7;
        types_ok = 0;
    }

    rrconv_conv_desc d;
    memset(&d, 0, sizeof d);
    d.n = field(&r, chaos, 1, 2);
    d.groups = field(&r, chaos, 1, 3);
    d.icpg = field(&r, chaos, 1, 3);
    d.ocpg = field(&r, chaos, 1, 3);
    d.ih = field(&r, chaos, 1, 9);
    d.iw = field(&r, chaos, 1, 9);
    d.fh = field(&r, chaos, 1, 4);
    d.fw = field(&r, chaos, 1, 4);
    d.stride_h = field(&r, chaos, 1, 3);
    d.stride_w = field(&r, chaos, 1, 3);
    d.pad_h = field(&r, chaos, 0, 2);
    d.pad_w = field(&r, chaos, 0, 2);
    d.dil_h = field(&r, chaos, 1, 2);
    d.dil_w = field(&r, chaos, 1, 2);
    /* the output size: by the formula (when it can be computed), sometimes off or nonsense */
    {
        const i128 eh = (i128)d.dil_h * ((i128)d.fh - 1) + 1, ew = (i128)d.dil_w * ((i128)d.fw - 1) + 1;
        const i128 sh = (i128)d.ih + 2 * (i128)d.pad_h, sw = (i128)d.iw + 2 * (i128)d.pad_w;
        i128 oh = d.stride_h > 0 ? (sh - eh) / d.stride_h + 1 : 1;
        i128 ow = d.stride_w > 0 ? (sw - ew) / d.stride_w + 1 : 1;
        if (sh < eh) oh = 0;
        if (sw < ew) ow = 0;
        d.oh = oh > INT64_MAX || oh < INT64_MIN ? 1 : (int64_t)oh;
        d.ow = ow > INT64_MAX || ow < INT64_MIN ? 1 : (int64_t)ow;
        const unsigned o = (unsigned)rd(&r, 1);
        if (chaos && o >= 224) d.oh = field(&r, 1, -1, 9);
        else if (chaos && o >= 208) d.ow = (int64_t)((uint64_t)d.ow + ((o & 1) ? 1u : UINT64_MAX)); /* may wrap */
    }
    const unsigned e = (unsigned)rd(&r, 1);
    d.mode = (int32_t)(e & 1);
    d.mask_type = (int32_t)((e >> 1) & 1);
    d.algorithm = RRCONV_ALGO_AUTO;
    if (chaos && e >= 240) {
        switch (e & 3) {
        case 0: d.mode = (int32_t)rd(&r, 4); break;
        case 1: d.mask_type = (int32_t)rd(&r, 4); break;
        case 2: d.algorithm = (int32_t)rd(&r, 4); break;
        default: d.reserved = (int32_t)(1 + rd(&r, 1)); break;
        }
    }
    const int null_desc = chaos && e >= 236 && e < 240;

    /* ---- the model: the descriptor -------------------------------------------------------- */
    int valid = !null_desc;
    valid &= d.n >= 1 && d.groups >= 1 && d.icpg >= 1 && d.ocpg >= 1 && d.ih >= 1 && d.iw >= 1;
    valid &= d.oh >= 1 && d.ow >= 1 && d.fh >= 1 && d.fw >= 1;
    valid &= d.stride_h >= 1 && d.stride_w >= 1 && d.pad_h >= 0 && d.pad_w >= 0 && d.dil_h >= 1 && d.dil_w >= 1;
    valid &= (d.mode == 0 || d.mode == 1) && (d.mask_type == 0 || d.mask_type == 1);
    valid &= (d.algorithm == 0 || d.algorithm == 1) && d.reserved == 0;
    valid &= types_ok;
    if (valid) {
        const i128 ic = (i128)d.groups * d.icpg, oc = (i128)d.groups * d.ocpg;
        const i128 eh = (i128)d.dil_h * (d.fh - 1) + 1, ew = (i128)d.dil_w * (d.fw - 1) + 1;
        const i128 sh = (i128)d.ih + 2 * (i128)d.pad_h, sw = (i128)d.iw + 2 * (i128)d.pad_w;
        valid &= ic <= INT64_MAX && oc <= INT64_MAX && eh <= INT64_MAX && ew <= INT64_MAX;
        valid &= sh <= INT64_MAX && sw <= INT64_MAX && eh <= sh && ew <= sw;
        valid &= valid && d.oh == (int64_t)((sh - eh) / d.stride_h + 1) && d.ow == (int64_t)((sw - ew) / d.stride_w + 1);
    }

    /* ---- tensors ---------------------------------------------------------------------------- */
    tens t[T_COUNT];
    memset(t, 0, sizeof t);
    const int uses[3][T_COUNT] = {{1, 1, 0, 1, 1, 1}, {0, 1, 1, 1, 1, 1}, {1, 0, 1, 1, 1, 1}};
    const int64_t mask_esize = d.mask_type == RRCONV_MASK_UINT8 ? 1 : 4;
    uint64_t rng = rd(&r, 8);
    int can_allocate = 1;
    for (int i = 0; i < T_COUNT; i++) {
        tens *ti = &t[i];
        ti->used = uses[dir][i];
        if (!ti->used) continue;
        const int32_t ty = i == T_OUT ? g_out_dtype : g_dtype;
        ti->esize = (i == T_RIN || i == T_ROUT) ? mask_esize : ty == RRCONV_FLOAT16 || ty == RRCONV_BFLOAT16 ? 2 : 4;
        shape_of(&d, i, dir, ti);
        pick_strides(&r, chaos, ti, i == T_OUT);
        model_tensor(ti);
        if (valid) {
            valid &= ti->count_ok && ti->strides_ok && ti->max_byte <= INT64_MAX;
            if (i == T_OUT) valid &= output_distinct(ti);
        }
        if (ti->count_ok && ti->strides_ok && ti->max_byte < SPAN_LIMIT && ti->count < COUNT_LIMIT) {
            ti->alloc_bytes = (size_t)ti->max_byte + 1;
        } else {
            ti->alloc_bytes = 64; /* the call is invalid or too big to run: nothing may be touched */
            can_allocate = 0;
        }
    }
    /* pointers */
    for (int i = 0; i < T_COUNT; i++) {
        tens *ti = &t[i];
        if (!ti->used) continue;
        const unsigned p = bad_ptrs ? (unsigned)rd(&r, 1) : 0;
        const unsigned mis = p >= 224 && p < 240 ? 1 + p % 3 : 0;
        ti->alloc = malloc(ti->alloc_bytes + mis);
        if (ti->alloc == NULL) abort();
        ti->data = ti->alloc + mis;
        ti->alloc_bytes += mis;
        if (mis % ti->esize != 0) valid = 0;
        if (p >= 240 && p < 248) {
            ti->data = NULL;
            valid = 0;
        }
        if (i == T_OUT && p >= 248) { /* the output starts inside an input's span */
            const int in = (int)(p % 5 < 3 ? p % 5 : 3 + p % 2);
            if (t[in].used && t[in].data != NULL && t[in].count_ok && t[in].strides_ok && t[in].max_byte < SPAN_LIMIT) {
                const size_t span = (size_t)t[in].max_byte + 1;
                ti->data = t[in].data + (rd(&r, 2) % span) / 4 * 4 * (in == T_RIN || in == T_ROUT ? 0 : 1);
                ti->aliased = 1;
                valid = 0;
            }
        }
    }
    /* buffers: NaN everywhere (gaps stay NaN), then values in the views; the output: a sentinel */
    const float nan = NAN;
    for (int i = 0; i < T_COUNT; i++) {
        tens *ti = &t[i];
        if (!ti->used) continue;
        if (i == T_OUT) {
            memset(ti->alloc, 0xA5, ti->alloc_bytes);
            continue;
        }
        const uint16_t half_nan = 0x7fc0; /* NaN as float16 and as bfloat16 */
        if (ti->esize == 2) {
            for (size_t b = 0; b + 2 <= ti->alloc_bytes; b += 2) memcpy(ti->alloc + b, &half_nan, 2);
        } else {
            for (size_t b = 0; b + 4 <= ti->alloc_bytes; b += 4) memcpy(ti->alloc + b, &nan, 4);
        }
        if (ti->data != NULL && ti->count_ok && ti->strides_ok && ti->count < COUNT_LIMIT &&
            ti->max_byte < (i128)(ti->alloc_bytes - (size_t)(ti->data - ti->alloc))) {
            fill_view_values(ti, &rng, i == T_RIN || i == T_ROUT, integers);
        }
    }
    /* output vs input overlap (the model uses the declared byte ranges) */
    if (valid) {
        const uintptr_t olo = (uintptr_t)t[T_OUT].data, ohi = olo + (uintptr_t)t[T_OUT].max_byte;
        for (int i = 0; i < T_OUT; i++) {
            if (!t[i].used) continue;
            const uintptr_t lo = (uintptr_t)t[i].data, hi = lo + (uintptr_t)t[i].max_byte;
            if (!(ohi < lo || hi < olo)) valid = 0;
        }
    }
    if (valid) { /* valid but too big to run here: skip (the sizes are >= 1 and each tensor's count fits) */
        const i128 work = (i128)d.n * d.groups * d.ocpg * d.oh * d.ow * ((i128)d.icpg * d.fh * d.fw);
        if (!can_allocate || work > WORK_LIMIT) {
            n_skipped++;
            goto done;
        }
    }

    unsigned char *before[T_COUNT];
    for (int i = 0; i < T_COUNT; i++) before[i] = t[i].used ? snapshot(&t[i]) : NULL;

    /* "Extreme" valid calls: strides, paddings or dilated extents above 2^16, or stride_h*stride_w above
     * 4096. Found here on 2026-11-30: the fast backward-data kernel looped ~2^62 times (ceil_div overflow)
     * or over all stride_h*stride_w phases, the fast backward-filter kernel crashed (packed-src size
     * overflow); dispatch.c now keeps geometry >= 2^24 on the reference loops and backward data plans
     * only occupied phases. Still: the backward-filter kernel's scratch grows with stride_w
     * (n*ic*ih*sw*ceil(iw/sw) floats, ~200 MB for a 3x3 image at sw = 2^24-1), which exceeds the fuzzer's
     * malloc limit. RRCONV_FUZZ_EXTREME_AUTO lists the directions (fwd,bd,bf) whose AUTO path gets such
     * calls (default: all; CI: fwd); the others run them with RRCONV_ALGO_REFERENCE only. */
    if (valid && d.algorithm == RRCONV_ALGO_AUTO) {
        const int64_t big = (int64_t)1 << 16;
        const int extreme = d.stride_h > big || d.stride_w > big || d.pad_h > big || d.pad_w > big ||
                            (i128)d.stride_h * d.stride_w > 4096 ||
                            (i128)d.dil_h * (d.fh - 1) > big || (i128)d.dil_w * (d.fw - 1) > big;
        static const char *const short_name[3] = {"fwd", "bd", "bf"};
        const char *allowed = getenv("RRCONV_FUZZ_EXTREME_AUTO");
        if (extreme && allowed != NULL && strstr(allowed, short_name[dir]) == NULL) {
            d.algorithm = RRCONV_ALGO_REFERENCE;
        }
    }
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("RRCONV_FUZZ_VERBOSE") != NULL;
    if (verbose) {
        fprintf(stderr, "expected %s\n", valid ? "valid" : "invalid");
        describe(&d, dir, t);
    }
    const rrconv_status st = invoke(dir, null_desc ? NULL : &d, t);
    if (verbose) fprintf(stderr, "status %s: %s\n", rrconv_status_name(st), rrconv_last_error());
    check_status(st, dir);
    if (!valid) {
        n_rejected++;
        if (st != RRCONV_INVALID_ARGUMENT) {
            describe(&d, dir, t);
            FAIL("%s accepted an invalid call (status %s)", FN[dir], rrconv_status_name(st));
        }
        for (int i = 0; i < T_COUNT; i++) {
            if (t[i].used && before[i] != NULL && memcmp(before[i], t[i].alloc, t[i].alloc_bytes) != 0) {
                describe(&d, dir, t);
                FAIL("%s rejected the call (%s) but changed %s", FN[dir], rrconv_last_error(), TNAME[i]);
            }
        }
    } else {
        n_accepted++;
        if (st != RRCONV_OK) {
            describe(&d, dir, t);
            FAIL("%s rejected a valid call: %s: %s", FN[dir], rrconv_status_name(st), rrconv_last_error());
        }
        for (int i = 0; i < T_OUT; i++) {
            if (t[i].used && memcmp(before[i], t[i].alloc, t[i].alloc_bytes) != 0) {
                describe(&d, dir, t);
                FAIL("%s changed its input %s", FN[dir], TNAME[i]);
            }
        }
        /* the same call with the reference loops */
        tens *o = &t[T_OUT];
        unsigned char *fast = snapshot(o);
        memset(o->alloc, 0xA5, o->alloc_bytes);
        rrconv_conv_desc dr = d;
        dr.algorithm = RRCONV_ALGO_REFERENCE;
        const rrconv_status st2 = invoke(dir, &dr, t);
        check_status(st2, dir);
        if (st2 != RRCONV_OK) FAIL("reference rejected a call AUTO accepted: %s", rrconv_last_error());
        /* compare element by element; mark the view, then every other byte must be the sentinel */
        unsigned char *in_view = calloc(o->alloc_bytes, 1);
        if (in_view == NULL) abort();
        int64_t idx[5] = {0};
        for (;;) {
            int64_t off = 0;
            for (int k = 0; k < o->ndim; k++) off += idx[k] * o->st[k];
            /* byte of the element in the allocation: the view starts `data - alloc` bytes in (a 2-byte
               half view may start 2 bytes past a 4-byte boundary) */
            const size_t es = (size_t)o->esize, b = (size_t)(o->data - o->alloc) + (size_t)off * es;
            const double a = value_at(fast + b, g_out_dtype), ref = value_at(o->alloc + b, g_out_dtype);
            /* a half output: both rounded once from float32 sums of different orders, so up to an ulp of
               the type apart (float16: 2^-10 relative, bfloat16 2^-7; denormal float16 steps 2^-24) */
            const double ulp = g_out_dtype == RRCONV_FLOAT32 ? 0.0
                             : g_out_dtype == RRCONV_FLOAT16 ? fmax(fabs(ref) * 0x1p-10, 0x1p-24) : fabs(ref) * 0x1p-7;
            const double tol = integers ? 0.0 : float_tolerance(&d, dir, ref) + ulp;
            if (!(fabs((double)a - (double)ref) <= tol) && !(isnan(a) && isnan(ref))) {
                describe(&d, dir, t);
                FAIL("%s: AUTO %.9g vs REFERENCE %.9g at element offset %" PRId64 " (tolerance %g)", FN[dir],
                     a, ref, off, tol);
            }
            if (isnan(ref)) {
                describe(&d, dir, t);
                FAIL("%s: NaN in the output at element offset %" PRId64 " (NaN only sits in gaps)", FN[dir], off);
            }
            memset(in_view + b, 1, es);
            int k = o->ndim - 1;
            for (; k >= 0; k--) {
                if (++idx[k] < o->shape[k]) break;
                idx[k] = 0;
            }
            if (k < 0) break;
        }
        for (size_t b = 0; b < o->alloc_bytes; b++) {
            if (!in_view[b] && (fast[b] != 0xA5 || o->alloc[b] != 0xA5)) {
                describe(&d, dir, t);
                FAIL("%s wrote output byte %zu outside the view", FN[dir], b);
            }
        }
        free(in_view);
        free(fast);
    }
    for (int i = 0; i < T_COUNT; i++) free(before[i]);
done:
    for (int i = 0; i < T_COUNT; i++) free(t[i].alloc);
    return 0;
}
