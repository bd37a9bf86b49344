/*
 * test_validation.c -- every argument check: RRCONV_INVALID_ARGUMENT, a message that starts with
 * the function name and names the argument, and an untouched output buffer. Also a few calls that
 * look odd but are valid (they must succeed), and the message being cleared by a success.
 * The whole list runs twice: through the _f32 entry points and through the typed ones (rrconv_forward,
 * ...) with float32 twice; then the typed entry points' own checks (dtype, out_dtype, half alignment).
 */
#include "test_util.h"

#define BUF 4096

static float g_src[BUF], g_flt[BUF], g_diff[BUF], g_out[BUF + 16];
static int32_t g_rin[BUF], g_rout[BUF];

typedef struct call {
    rrconv_conv_desc d;
    const rrconv_conv_desc *dp;
    const float *src, *flt, *diff;
    const void *rin, *rout;
    float *out;
    int64_t src_st[4], flt_st[5], diff_st[4], rin_st[3], rout_st[3], out_st[5];
    const int64_t *src_sp, *flt_sp, *diff_sp, *rin_sp, *rout_sp, *out_sp;
    int32_t dt, odt;  /* the typed entry points' data types */
} call;

static int g_typed; /* 1: invoke calls the typed entry points */
static const char *FN_F32[3] = {"rrconv_forward_f32", "rrconv_backward_data_f32", "rrconv_backward_filter_f32"};
static const char *FN_TYPED[3] = {"rrconv_forward", "rrconv_backward_data", "rrconv_backward_filter"};
#define FN (g_typed ? FN_TYPED : FN_F32)
static const char *OUT[3] = {"dst", "grad_src", "grad_filter"};

static void dense(const int64_t *shape, int nd, int64_t *st)
{
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        st[i] = s;
        s *= shape[i];
    }
}

/* The baseline: valid for all three directions, explicit dense strides. */
static void base(call *c, int dir)
{
    memset(c, 0, sizeof *c);
    c->d = t_desc(2, 2, 2, 3, 6, 5, 3, 2, 1, 2, 1, 0, 1, 2, RRCONV_CROSS_CORRELATION, RRCONV_MASK_INT32);
    c->dp = &c->d;
    c->src = g_src; c->flt = g_flt; c->diff = g_diff; c->rin = g_rin; c->rout = g_rout; c->out = g_out;
    const rrconv_conv_desc *d = &c->d;
    const int64_t s_src[4] = {d->n, d->groups * d->icpg, d->ih, d->iw};
    const int64_t s_dst[4] = {d->n, d->groups * d->ocpg, d->oh, d->ow};
    const int64_t s_flt[5] = {d->groups, d->ocpg, d->icpg, d->fh, d->fw};
    const int64_t s_rin[3] = {d->n, d->ih, d->iw}, s_rout[3] = {d->n, d->oh, d->ow};
    dense(s_src, 4, c->src_st); dense(s_flt, 5, c->flt_st); dense(s_dst, 4, c->diff_st);
    dense(s_rin, 3, c->rin_st); dense(s_rout, 3, c->rout_st);
    if (dir == 0) dense(s_dst, 4, c->out_st);
    else if (dir == 1) dense(s_src, 4, c->out_st);
    else dense(s_flt, 5, c->out_st);
    c->src_sp = c->src_st; c->flt_sp = c->flt_st; c->diff_sp = c->diff_st;
    c->rin_sp = c->rin_st; c->rout_sp = c->rout_st; c->out_sp = c->out_st;
}

static rrconv_status invoke(const call *c, int dir)
{
    if (g_typed) {
        switch (dir) {
        case 0:
            return rrconv_forward(c->dp, c->dt, c->odt, c->src, c->src_sp, c->flt, c->flt_sp, c->rin, c->rin_sp,
                                  c->rout, c->rout_sp, c->out, c->out_sp);
        case 1:
            return rrconv_backward_data(c->dp, c->dt, c->odt, c->flt, c->flt_sp, c->diff, c->diff_sp, c->rin,
                                        c->rin_sp, c->rout, c->rout_sp, c->out, c->out_sp);
        default:
            return rrconv_backward_filter(c->dp, c->dt, c->odt, c->src, c->src_sp, c->diff, c->diff_sp, c->rin,
                                          c->rin_sp, c->rout, c->rout_sp, c->out, c->out_sp);
        }
    }
    switch (dir) {
    case 0:
        return rrconv_forward_f32(c->dp, c->src, c->src_sp, c->flt, c->flt_sp, c->rin, c->rin_sp, c->rout,
                                  c->rout_sp, c->out, c->out_sp);
    case 1:
        return rrconv_backward_data_f32(c->dp, c->flt, c->flt_sp, c->diff, c->diff_sp, c->rin, c->rin_sp,
                                        c->rout, c->rout_sp, c->out, c->out_sp);
    default:
        return rrconv_backward_filter_f32(c->dp, c->src, c->src_sp, c->diff, c->diff_sp, c->rin, c->rin_sp,
                                          c->rout, c->rout_sp, c->out, c->out_sp);
    }
}

/* Does direction dir read tensor t? 0 src, 1 filter, 2 diff */
static int reads(int dir, int t)
{
    return dir == 0 ? t != 2 : dir == 1 ? t != 0 : t != 1;
}

static char g_expect[128];

/*
 * The invalid cases, one per number: mutates c for direction dir and returns the substring the
 * message must contain, or NULL if the case does not apply to dir. Returns "" past the last case.
 */
static const char *mutate(int k, call *c, int dir)
{
    rrconv_conv_desc *d = &c->d;
    switch (k) {
    case 0: c->dp = NULL; return "desc is NULL";
    case 1: d->n = 0; return "desc->n is 0";
    case 2: d->n = -3; return "desc->n is -3";
    case 3: d->groups = 0; return "desc->groups";
    case 4: d->icpg = 0; return "desc->icpg";
    case 5: d->ocpg = -1; return "desc->ocpg";
    case 6: d->ih = 0; return "desc->ih";
    case 7: d->iw = 0; return "desc->iw";
    case 8: d->oh = 0; return "desc->oh";
    case 9: d->ow = -1; return "desc->ow";
    case 10: d->fh = 0; return "desc->fh";
    case 11: d->fw = 0; return "desc->fw";
    case 12: d->stride_h = 0; return "desc->stride_h";
    case 13: d->stride_w = -1; return "desc->stride_w";
    case 14: d->pad_h = -1; return "desc->pad_h";
    case 15: d->pad_w = -2; return "desc->pad_w";
    case 16: d->dil_h = 0; return "desc->dil_h";
    case 17: d->dil_w = 0; return "desc->dil_w";
    case 18: d->mode = 2; return "desc->mode";
    case 19: d->mode = -1; return "desc->mode";
    case 20: d->mask_type = 2; return "desc->mask_type";
    case 21: d->algorithm = 2; return "desc->algorithm";
    case 22: d->algorithm = -1; return "desc->algorithm";
    case 23: d->reserved = 1; return "desc->reserved";
    case 24: d->oh += 1; return "desc->oh is";
    case 25: d->ow -= 1; return "desc->ow is";
    case 26: d->oh = 1; d->ow = 1; d->pad_h = 0; d->pad_w = 0; d->stride_h = 1; d->stride_w = 1; d->fh = 7; d->fw = 1;
        return "dil_h*(fh-1)+1 = 7 exceeds ih + 2*pad_h = 6";
    case 27: d->oh = 1; d->dil_w = 9; return "dil_w*(fw-1)+1 = 10 exceeds iw + 2*pad_w = 5";
    case 28: d->groups = INT64_MAX / 2 + 1; return "desc->groups * desc->icpg";
    case 29: d->ocpg = INT64_MAX / 2 + 1; d->icpg = 1; return "desc->groups * desc->ocpg";
    case 30: d->pad_h = INT64_MAX / 2 + 1; return "desc->ih + 2*desc->pad_h";
    case 31: d->pad_w = INT64_MAX - 2; return "desc->iw + 2*desc->pad_w";
    case 32: d->dil_h = INT64_MAX / 2 + 1; return "desc->dil_h*(desc->fh-1)+1";
    case 33: d->fw = INT64_MAX; return "desc->dil_w*(desc->fw-1)+1";
    case 34: /* element count overflow: n*IC*IH*IW (and the output) */
        d->n = INT64_MAX / 4; c->src_sp = c->flt_sp = c->diff_sp = c->rin_sp = c->rout_sp = c->out_sp = NULL;
        return dir == 1 ? "diff has more elements than int64" : "src has more elements than int64";
    case 35: if (!reads(dir, 0)) return NULL; c->src = NULL; return "src is NULL";
    case 36: if (!reads(dir, 1)) return NULL; c->flt = NULL; return "filter is NULL";
    case 37: if (!reads(dir, 2)) return NULL; c->diff = NULL; return "diff is NULL";
    case 38: c->rin = NULL; return "rin is NULL";
    case 39: c->rout = NULL; return "rout is NULL";
    case 40: c->out = NULL; snprintf(g_expect, sizeof g_expect, "%s is NULL", OUT[dir]); return g_expect;
    case 41: if (!reads(dir, 0)) return NULL; c->src = (const float *)((const char *)g_src + 2); return "src is";
    case 42: if (!reads(dir, 1)) return NULL; c->flt = (const float *)((const char *)g_flt + 1); return "filter is";
    case 43: if (!reads(dir, 2)) return NULL; c->diff = (const float *)((const char *)g_diff + 3); return "diff is";
    case 44: c->rin = (const char *)g_rin + 1; return "rin is";
    case 45: c->rout = (const char *)g_rout + 2; return "rout is";
    case 46: c->out = (float *)((char *)g_out + 2);
        snprintf(g_expect, sizeof g_expect, "%s is", OUT[dir]); return g_expect;
    case 47: if (!reads(dir, 0)) return NULL; c->src_st[2] = -1; return "src_strides[2] is -1";
    case 48: if (!reads(dir, 1)) return NULL; c->flt_st[4] = -1; return "filter_strides[4] is -1";
    case 49: if (!reads(dir, 2)) return NULL; c->diff_st[0] = -5; return "diff_strides[0] is -5";
    case 50: c->rin_st[1] = -1; return "rin_strides[1] is -1";
    case 51: c->rout_st[2] = -7; return "rout_strides[2] is -7";
    case 52: c->out_st[1] = -1; snprintf(g_expect, sizeof g_expect, "%s_strides[1] is -1", OUT[dir]); return g_expect;
    case 53: if (!reads(dir, 0)) return NULL; c->src_st[0] = INT64_MAX / 2; return "src: the highest byte offset";
    case 54: if (!reads(dir, 2)) return NULL; c->diff_st[3] = INT64_MAX / 3; return "diff: the highest byte offset";
    case 55: c->rin_st[0] = INT64_MAX / 2 + 1; return "rin: the highest byte offset";
    case 56: c->out_st[0] = INT64_MAX / 2; snprintf(g_expect, sizeof g_expect, "%s: the highest", OUT[dir]); return g_expect;
    case 57: c->out_st[3] = 0; snprintf(g_expect, sizeof g_expect, "%s_strides[3] is 0", OUT[dir]); return g_expect;
    case 58: c->out_st[2] = 1; c->out_st[3] = 1; snprintf(g_expect, sizeof g_expect, "%s_strides describe overlapping", OUT[dir]);
        return g_expect;
    case 59: /* two outer dims interleaved: strides (.., 2, 1) with an inner extent > 2 */
        c->out_st[1] = c->out_st[2] + 1; snprintf(g_expect, sizeof g_expect, "%s_strides describe overlapping", OUT[dir]);
        return g_expect;
    case 60: /* output on top of the first input */
        c->out = (float *)(uintptr_t)(dir == 1 ? (const void *)g_flt : (const void *)g_src);
        snprintf(g_expect, sizeof g_expect, "overlaps the input %s", dir == 1 ? "filter" : "src"); return g_expect;
    case 61: c->out = (float *)(void *)g_rin; return "overlaps the input rin";
    case 62: c->out = (float *)(void *)(g_rout + 10); return "overlaps the input rout";
    case 63: if (!reads(dir, 2)) return NULL; c->out = g_diff + 1; return "overlaps the input diff";
    case 64: d->mask_type = RRCONV_MASK_UINT8; c->rin_st[0] = INT64_MAX - 1; return "rin: the highest";
    case 65: /* the sum overflows only when the small src_strides[2] term is added: blame the big term */
        if (!reads(dir, 0)) return NULL;
        c->src_st[0] = 1; c->src_st[1] = INT64_MAX / 3; c->src_st[2] = 1; c->src_st[3] = 1;
        return "src: the highest element offset overflows int64 (src_strides[1] = 3074457345618258602";
    /* the typed entry points' own checks (the _f32 ones have no such arguments) */
    case 66: if (!g_typed) return NULL; c->dt = 3; return "dtype is 3 but must be RRCONV_FLOAT32 (0), RRCONV_FLOAT16 (1)";
    case 67: if (!g_typed) return NULL; c->dt = -1; c->src = NULL; return "dtype is -1"; /* before the tensors */
    case 68: if (!g_typed) return NULL; c->dt = RRCONV_FLOAT16; c->odt = RRCONV_BFLOAT16;
        return "out_dtype is 2 (RRCONV_BFLOAT16) but must be dtype (1, RRCONV_FLOAT16) or RRCONV_FLOAT32 (0)";
    case 69: if (!g_typed) return NULL; c->odt = 7; return "out_dtype is 7 (no rrconv_dtype)";
    case 70: if (!g_typed) return NULL; c->odt = RRCONV_BFLOAT16; return "out_dtype is 2";
    case 71: if (!g_typed || !reads(dir, 0)) return NULL; c->dt = c->odt = RRCONV_BFLOAT16;
        c->src = (const float *)((const char *)g_src + 1); return "src is";
    case 72: if (!g_typed || !reads(dir, 2)) return NULL; c->dt = RRCONV_FLOAT16;
        c->diff = (const float *)((const char *)g_diff + 3); return "must be aligned to 2 bytes";
    case 73: if (!g_typed) return NULL; c->dt = RRCONV_FLOAT16; c->out = (float *)((char *)g_out + 2);
        return "must be aligned to 4 bytes"; /* a float32 output of a half call */
    case 74: if (!g_typed) return NULL; c->dt = c->odt = RRCONV_FLOAT16; c->out = (float *)((char *)g_out + 1);
        return "must be aligned to 2 bytes";
    default: return "";
    }
}

static void check_invalid(int k, int dir)
{
    call c;
    base(&c, dir);
    const char *expect = mutate(k, &c, dir);
    if (expect == NULL) return;
    for (int i = 0; i < BUF + 16; i++) g_out[i] = -777.0f;
    const rrconv_status st = invoke(&c, dir);
    const char *msg = rrconv_last_error();
    EXPECT(st == RRCONV_INVALID_ARGUMENT, "case %d %s: status %s (%s)", k, FN[dir], rrconv_status_name(st), msg);
    EXPECT(strncmp(msg, FN[dir], strlen(FN[dir])) == 0, "case %d: message '%s' does not start with %s", k, msg, FN[dir]);
    EXPECT(strstr(msg, expect) != NULL, "case %d %s: message '%s' lacks '%s'", k, FN[dir], msg, expect);
    int untouched = 1;
    for (int i = 0; i < BUF + 16; i++) untouched &= g_out[i] == -777.0f;
    EXPECT(untouched, "case %d %s: the output buffer was written", k, FN[dir]);
    if (k == 0 && dir == 0) printf("e.g. %s\n", msg);
}

static void check_valid(const call *c, int dir, const char *what)
{
    const rrconv_status st = invoke(c, dir);
    EXPECT(st == RRCONV_OK, "%s %s: %s (%s)", what, FN[dir], rrconv_status_name(st), rrconv_last_error());
    EXPECT(rrconv_last_error()[0] == '\0', "%s: message not cleared: %s", what, rrconv_last_error());
}

int main(void)
{
    for (int i = 0; i < BUF; i++) {
        g_src[i] = g_flt[i] = g_diff[i] = (float)(i % 7);
        g_rin[i] = g_rout[i] = i % 3;
    }
    for (g_typed = 0; g_typed < 2; g_typed++) {
        int cases = 0;
        for (int k = 0;; k++) {
            call probe;
            base(&probe, 0);
            const char *e = mutate(k, &probe, 0);
            if (e != NULL && e[0] == '\0') break;
            for (int dir = 0; dir < 3; dir++) check_invalid(k, dir);
            cases++;
        }
        EXPECT(cases >= 70, "only %d cases ran", cases);

        /* a success clears the message; the baseline is valid everywhere */
        for (int dir = 0; dir < 3; dir++) {
            call c;
            base(&c, dir);
            c.d.n = 0;
            EXPECT(invoke(&c, dir) == RRCONV_INVALID_ARGUMENT, "n = 0");
            EXPECT(rrconv_last_error()[0] != '\0', "no message");
            base(&c, dir);
            check_valid(&c, dir, "baseline");
            base(&c, dir);
            c.src_sp = c.flt_sp = c.diff_sp = c.rin_sp = c.rout_sp = c.out_sp = NULL;
            check_valid(&c, dir, "NULL strides");
        }
        /* valid oddities */
        for (int dir = 0; dir < 3; dir++) {
            call c;
            /* zero-stride (broadcast) inputs */
            base(&c, dir);
            c.src_st[0] = 0; c.flt_st[0] = 0; c.diff_st[2] = 0; c.rin_st[0] = 0; c.rout_st[1] = 0;
            check_valid(&c, dir, "broadcast inputs");
            /* uint8 masks at odd addresses */
            base(&c, dir);
            c.d.mask_type = RRCONV_MASK_UINT8;
            c.rin = (const char *)g_rin + 1; c.rout = (const char *)g_rout + 3;
            c.rin_sp = c.rout_sp = NULL;
            check_valid(&c, dir, "uint8 masks, odd addresses");
            /* a zero or arbitrary stride on an extent-1 output dimension; stride order permuted */
            base(&c, dir);
            c.d = t_desc(1, 1, 2, 1, 5, 4, 2, 2, 1, 1, 0, 0, 1, 1, RRCONV_CONVOLUTION, RRCONV_MASK_INT32);
            c.src_sp = c.flt_sp = c.diff_sp = c.rin_sp = c.rout_sp = NULL;
            if (dir == 0) { int64_t s[4] = {0, 1, 3 * 1, 3 * 4}; memcpy(c.out_st, s, sizeof s); }     /* [1,1,4,3] */
            if (dir == 1) { int64_t s[4] = {123, 1, 2 * 4, 2}; memcpy(c.out_st, s, sizeof s); }      /* [1,2,5,4] */
            if (dir == 2) { int64_t s[5] = {0, 0, 4, 2, 1}; memcpy(c.out_st, s, sizeof s); }         /* [1,1,2,2,2] */
            check_valid(&c, dir, "extent-1 output dims, permuted strides");
            /* output adjacent to (but not overlapping) an input */
            base(&c, dir);
            c.src_sp = c.flt_sp = c.diff_sp = c.rin_sp = c.rout_sp = c.out_sp = NULL;
            c.rin = g_out; /* rin occupies g_out[0 .. n*ih*iw) */
            c.out = g_out + c.d.n * c.d.ih * c.d.iw;
            check_valid(&c, dir, "adjacent output");
        }
        printf("%s: %d invalid-argument cases x 3 directions\n", g_typed ? "typed" : "_f32", cases);
    }
    g_typed = 1;
    /* half-precision calls: 2-byte alignment suffices; the output float32 or of the inputs' type; the
       byte extent of a half output is half a float32 one's (adjacent to an input, not overlapping) */
    for (int dir = 0; dir < 3; dir++) {
        call c;
        base(&c, dir);
        c.dt = c.odt = RRCONV_BFLOAT16;
        c.src = (const float *)((const char *)g_src + 2);
        c.flt = (const float *)((const char *)g_flt + 6);
        c.diff = (const float *)((const char *)g_diff + 2);
        c.out = (float *)((char *)g_out + 2);
        check_valid(&c, dir, "bfloat16 at 2-byte aligned addresses");
        base(&c, dir);
        c.dt = RRCONV_FLOAT16;
        check_valid(&c, dir, "float16 in, float32 out");
        base(&c, dir);
        c.dt = c.odt = RRCONV_FLOAT16;
        c.src_sp = c.flt_sp = c.diff_sp = c.rin_sp = c.rout_sp = c.out_sp = NULL;
        c.d.mask_type = RRCONV_MASK_UINT8;
        const int64_t out_elems = dir == 0 ? c.d.n * c.d.groups * c.d.ocpg * c.d.oh * c.d.ow
                                : dir == 1 ? c.d.n * c.d.groups * c.d.icpg * c.d.ih * c.d.iw
                                           : c.d.groups * c.d.ocpg * c.d.icpg * c.d.fh * c.d.fw;
        c.out = g_out;
        c.rin = (const char *)g_out + out_elems * 2; /* right after the float16 output */
        check_valid(&c, dir, "float16 output adjacent to rin");
    }

    /* thread count */
    EXPECT(rrconv_set_num_threads(1025) == RRCONV_INVALID_ARGUMENT, "1025 threads accepted");
    EXPECT(strstr(rrconv_last_error(), "rrconv_set_num_threads: n is 1025") != NULL, "message %s", rrconv_last_error());
    EXPECT(rrconv_set_num_threads(1024) == RRCONV_OK, "1024 threads refused");
    EXPECT(rrconv_get_num_threads() == 1024, "get %d", (int)rrconv_get_num_threads());
    EXPECT(rrconv_set_num_threads(2) == RRCONV_OK && rrconv_get_num_threads() == 2, "2 threads");
    EXPECT(rrconv_set_num_threads(-5) == RRCONV_OK && rrconv_get_num_threads() >= 1, "default threads");
    EXPECT(rrconv_set_num_threads(INT32_MIN) == RRCONV_OK, "INT32_MIN means default");

    return t_finish("test_validation");
}
