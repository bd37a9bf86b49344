/*
 * depthwise_small_nhwc_body.h -- the loops of the small-filter channels-last depthwise rows
 * (depthwise_small_nhwc.h), written once over the lane macros of the including file:
 *   DS_VL floats a vector; DS_VEC; DS_K a lane mask; DS_KT the type of a tap-mask table entry, DS_KON its
 *   value for an active tap (0 for an inactive one); DS_KOF(e) the lane mask of table entry e;
 *   DS_KAND(a, b); DS_TAILMASK(k) the first k lanes; DS_ZERO(); DS_LOAD(p); DS_LOADK(p, k) the lanes of k
 *   (others zero, never read); DS_FMAK(a, b, acc, k) acc + a*b in the lanes of k, acc elsewhere;
 *   DS_STORE(p, v); DS_STORET(p, k, v) the lanes of k only; DS_NB channel vectors and DS_PB pixels run
 *   together (DS_NB * DS_PB accumulators); DS_FN(name) name##_<isa>.
 *
 * An item is a run of up to RR_DWS_SEG pixels x0 .. x0 + len - 1 of output row (n, y). First its tap
 * table: tab[t * ld + j] = DS_KON where tap t is active at pixel j (source pixel inside the image, its
 * label equal to the output pixel's), else 0, for the filter rows kh0 .. kh1 - 1 whose source row is
 * inside the image (the others are skipped whole); ld is len rounded up to DS_PB, the pixels past len
 * inactive. Then per DS_PB pixels (DS_PIXEL_OUTER 1; 0: per channel block, every pixel) and per block
 * of DS_NB channel vectors (a last, shorter block with a masked tail) every tap is a masked FMA per
 * pixel and vector (an inactive tap leaves the accumulator untouched: it sums exactly the active taps,
 * in tap order).
 *   block:    any stride / dilation: per tap one filter load per vector and, per pixel, a load masked
 *             by the tap (an inactive tap's lanes, outside the image or past the run, are never read).
 *   block_fw: stride_w 1, dil_w 1, FW 3, 5 or 7: per filter row the FW filter vectors in registers and
 *             each source pixel loaded once for all the (pixel, kw) pairs that read it; a source pixel
 *             outside the image is zeros, never loaded. DS_PREFETCH (optional) prefetches the source
 *             DS_PF pixels ahead.
 */
#include "depthwise_small_nhwc.h"

#include <string.h>

_Static_assert(DS_NB >= 1 && DS_NB <= 4, "DS_NB: 1 to 4 channel vectors a block");

#if defined(__GNUC__)
#define DS_INLINE static inline __attribute__((always_inline))
#define DS_PRAGMA(x) _Pragma(#x)
#define DS_UNROLL DS_PRAGMA(GCC unroll 16) /* the accumulators stay in registers only when fully unrolled */
#else
#define DS_INLINE static inline
#define DS_UNROLL
#endif

/* The filter rows [kh0, kh1) whose source row y*sy - py + kh*dy lies in [0, SH). */
static void DS_FN(rows_in)(const rr_dws_job *x, int64_t y, int64_t *kh0, int64_t *kh1)
{
    const int64_t iy0 = y * x->sy - x->py;
    int64_t a = 0, b = x->fh;
    if (iy0 < 0) a = (-iy0 + x->dy - 1) / x->dy;
    if (iy0 + (b - 1) * x->dy > x->sh - 1) b = iy0 > x->sh - 1 ? 0 : (x->sh - 1 - iy0) / x->dy + 1;
    *kh0 = a;
    *kh1 = b > a ? b : a;
}

/* The tap table of pixels x0 .. x0 + len - 1 of row (n, y) for filter rows kh0 .. kh1 - 1. */
static void DS_FN(taps)(const rr_dws_job *x, int64_t n, int64_t y, int64_t x0, int64_t len, int64_t ld, int64_t kh0,
                        int64_t kh1, DS_KT *tab)
{
    const int32_t *mo = x->mout + (n * x->oh + y) * x->ow + x0;
    for (int64_t kh = kh0; kh < kh1; kh++) {
        const int32_t *mr = x->msrc + (n * x->sh + y * x->sy - x->py + kh * x->dy) * x->sw;
        for (int64_t kw = 0; kw < x->fw; kw++) {
            DS_KT *row = tab + (kh * x->fw + kw) * ld;
            const int64_t ix0 = x0 * x->sx - x->px + kw * x->dx;
            for (int64_t j = 0; j < len; j++) {
                const int64_t ix = ix0 + j * x->sx;
                const int in = (uint64_t)ix < (uint64_t)x->sw;
                row[j] = in && mr[in ? ix : 0] == mo[j] ? DS_KON : (DS_KT)0;
            }
            for (int64_t j = len; j < ld; j++) row[j] = 0;
        }
    }
}

/* Channels c0 .. c0 + nv vectors (the last one cut to `tail` when tailed) of the item's pixels. */
DS_INLINE void DS_FN(block)(const rr_dws_job *x, const int nv, const int tailed, DS_K tail, int64_t c0, int64_t n,
                            int64_t j0, int64_t y, int64_t x0, int64_t len, int64_t ld, int64_t kh0, int64_t kh1,
                            const DS_KT *tab)
{
    const int64_t C = x->c, cp = x->cp;
    const int64_t pstep = x->sx * C * (int64_t)sizeof(float); /* bytes from one pixel's source to the next's */
    {
        DS_VEC acc[DS_PB][DS_NB];
        DS_UNROLL
        for (int p = 0; p < DS_PB; p++)
            DS_UNROLL
            for (int v = 0; v < nv; v++) acc[p][v] = DS_ZERO();
        for (int64_t kh = kh0; kh < kh1; kh++) {
            const int64_t iy = y * x->sy - x->py + kh * x->dy;
            /* column 0 of the source row (inside the image); columns are reached by integer offsets */
            const uintptr_t row = (uintptr_t)(x->src + ((n * x->sh + iy) * x->sw) * C + c0);
            for (int64_t kw = 0; kw < x->fw; kw++) {
                const int64_t t = kh * x->fw + kw;
                const float *wt = x->w + t * cp + c0;
                DS_VEC wv[DS_NB];
                DS_UNROLL
                for (int v = 0; v < nv; v++) wv[v] = DS_LOAD(wt + v * DS_VL);
                const uintptr_t s0 = row + (uintptr_t)(((x0 + j0) * x->sx - x->px + kw * x->dx) * C *
                                                       (int64_t)sizeof(float));
                const DS_KT *kt = tab + t * ld + j0;
                DS_UNROLL
                for (int p = 0; p < DS_PB; p++) {
                    const DS_K k = DS_KOF(kt[p]);
                    const float *sp = (const float *)(s0 + (uintptr_t)(p * pstep));
                    DS_UNROLL
                    for (int v = 0; v < nv; v++) {
                        const DS_K kv = tailed && v == nv - 1 ? DS_KAND(k, tail) : k;
                        acc[p][v] = DS_FMAK(DS_LOADK(sp + v * DS_VL, kv), wv[v], acc[p][v], kv);
                    }
                }
            }
        }
        const int64_t np = len - j0 < DS_PB ? len - j0 : DS_PB;
        DS_UNROLL
        for (int p = 0; p < DS_PB; p++) {
            if (p >= np) break;
            float *d = x->out + ((n * x->oh + y) * x->ow + x0 + j0 + p) * C + c0;
            DS_UNROLL
            for (int v = 0; v < nv; v++) {
                if (tailed && v == nv - 1) DS_STORET(d + v * DS_VL, tail, acc[p][v]);
                else DS_STORE(d + v * DS_VL, acc[p][v]);
            }
        }
    }
}

/* block for stride_w 1, dil_w 1 and FW == fw (a constant): per filter row, each source pixel's vectors
 * are loaded once and feed the FMAs of every (pixel, kw) pair that reads them (p + kw = q), not one load
 * per tap; a source pixel outside the image is a masked-off load (zeros) and its taps are inactive. Per
 * output element the taps are still summed kh, then kw ascending (q ascending is kw ascending). */
DS_INLINE void DS_FN(block_fw)(const rr_dws_job *x, const int nv, const int tailed, DS_K tail, const int fw,
                               int64_t c0, int64_t n, int64_t j0, int64_t y, int64_t x0, int64_t len, int64_t ld,
                               int64_t kh0, int64_t kh1, const DS_KT *tab)
{
    const int64_t C = x->c, cp = x->cp;
    const int64_t pstep = C * (int64_t)sizeof(float);
    {
        DS_VEC acc[DS_PB][DS_NB];
        DS_UNROLL
        for (int p = 0; p < DS_PB; p++)
            DS_UNROLL
            for (int v = 0; v < nv; v++) acc[p][v] = DS_ZERO();
        const int64_t ix0 = x0 + j0 - x->px; /* source column of q = 0 */
        for (int64_t kh = kh0; kh < kh1; kh++) {
            const int64_t iy = y * x->sy - x->py + kh * x->dy;
            const uintptr_t s0 = (uintptr_t)(x->src + ((n * x->sh + iy) * x->sw) * C + c0) +
                                 (uintptr_t)(ix0 * pstep);
            DS_VEC wv[8][DS_NB];
            DS_UNROLL
            for (int kw = 0; kw < fw; kw++)
                DS_UNROLL
                for (int v = 0; v < nv; v++) wv[kw][v] = DS_LOAD(x->w + (kh * fw + kw) * cp + c0 + v * DS_VL);
            const DS_KT *kt = tab + kh * fw * ld + j0;
            DS_UNROLL
            for (int q = 0; q < DS_PB + fw - 1; q++) {
                const int in = (uint64_t)(ix0 + q) < (uint64_t)x->sw;
                const float *sp = (const float *)(s0 + (uintptr_t)(q * pstep));
                DS_VEC sv[DS_NB];
                if (in) {
#ifdef DS_PREFETCH
                    DS_UNROLL
                    for (int v = 0; v < nv; v++) DS_PREFETCH(sp + DS_PF * C + v * DS_VL);
#endif
                    DS_UNROLL
                    for (int v = 0; v < nv; v++) sv[v] = tailed && v == nv - 1 ? DS_LOADK(sp + v * DS_VL, tail) : DS_LOAD(sp + v * DS_VL);
                } else {
                    DS_UNROLL
                    for (int v = 0; v < nv; v++) sv[v] = DS_ZERO();
                }
                DS_UNROLL
                for (int kw = 0; kw < fw; kw++) {
                    const int p = q - kw;
                    if (p < 0 || p >= DS_PB) continue;
                    const DS_K k = DS_KOF(kt[kw * ld + p]);
                    DS_UNROLL
                    for (int v = 0; v < nv; v++) acc[p][v] = DS_FMAK(sv[v], wv[kw][v], acc[p][v], k);
                }
            }
        }
        const int64_t np = len - j0 < DS_PB ? len - j0 : DS_PB;
        DS_UNROLL
        for (int p = 0; p < DS_PB; p++) {
            if (p >= np) break;
            float *d = x->out + ((n * x->oh + y) * x->ow + x0 + j0 + p) * C + c0;
            DS_UNROLL
            for (int v = 0; v < nv; v++) {
                if (tailed && v == nv - 1) DS_STORET(d + v * DS_VL, tail, acc[p][v]);
                else DS_STORE(d + v * DS_VL, acc[p][v]);
            }
        }
    }
}

/* Every channel block of an item: fw 0 the general loops, else block_fw for that filter width. */
DS_INLINE void DS_FN(channels)(const rr_dws_job *x, const int fw, int64_t n, int64_t y, int64_t x0, int64_t len,
                               int64_t ld, int64_t kh0, int64_t kh1, const DS_KT *tab)
{
    const int64_t C = x->c;
    const DS_K full = DS_TAILMASK(DS_VL);
#define DS_RUN(nv, tailed, tail)                                                                      \
    do {                                                                                             \
        for (int64_t j0 = jb; j0 < je && j0 < len; j0 += DS_PB) {                                      \
            if (fw == 0) DS_FN(block)(x, nv, tailed, tail, c0, n, j0, y, x0, len, ld, kh0, kh1, tab);  \
            else DS_FN(block_fw)(x, nv, tailed, tail, fw, c0, n, j0, y, x0, len, ld, kh0, kh1, tab);   \
        }                                                                                           \
    } while (0)
#if DS_PIXEL_OUTER /* every channel block of DS_PB pixels before the next pixels */
    for (int64_t jb = 0; jb < len; jb += DS_PB) {
        const int64_t je = jb + DS_PB;
#else /* every pixel of a channel block before the next block */
    {
        const int64_t jb = 0, je = len;
#endif
    int64_t c0 = 0;
    for (; c0 + DS_NB * DS_VL <= C; c0 += DS_NB * DS_VL) DS_RUN(DS_NB, 0, full);
    const int64_t rem = C - c0;
    if (rem > 0) {
        const int64_t nv = (rem + DS_VL - 1) / DS_VL;
        const DS_K tail = DS_TAILMASK((int)(rem - (nv - 1) * DS_VL));
        switch (nv) { /* 1 .. DS_NB */
        case 1: DS_RUN(1, 1, tail); break;
#if DS_NB >= 2
        case 2: DS_RUN(2, 1, tail); break;
#endif
#if DS_NB >= 3
        case 3: DS_RUN(3, 1, tail); break;
#endif
#if DS_NB >= 4
        case 4: DS_RUN(4, 1, tail); break;
#endif
        default: RR_ASSERT(0); break;
        }
    }
    }
#undef DS_RUN
}

void DS_FN(rr_dws_items)(void *ctx, int64_t begin, int64_t end)
{
    const rr_dws_job *x = (const rr_dws_job *)ctx;
    /* the filter widths with their own loops (stride_w 1, dil_w 1) */
    const int fw = x->sx == 1 && x->dx == 1 && (x->fw == 3 || x->fw == 5 || x->fw == 7) ? (int)x->fw : 0;
    DS_KT tab[RR_DWS_MAX_TAPS * ((RR_DWS_SEG + DS_PB - 1) / DS_PB * DS_PB)];
    for (int64_t i = begin; i < end; i++) {
        const int64_t row = i / x->segs, seg = i % x->segs;
        const int64_t n = row / x->oh, y = row % x->oh, x0 = seg * RR_DWS_SEG;
        const int64_t len = x->ow - x0 < RR_DWS_SEG ? x->ow - x0 : RR_DWS_SEG;
        const int64_t ld = (len + DS_PB - 1) / DS_PB * DS_PB;
        int64_t kh0, kh1;
        DS_FN(rows_in)(x, y, &kh0, &kh1);
        DS_FN(taps)(x, n, y, x0, len, ld, kh0, kh1, tab);
        switch (fw) {
        case 3: DS_FN(channels)(x, 3, n, y, x0, len, ld, kh0, kh1, tab); break;
        case 5: DS_FN(channels)(x, 5, n, y, x0, len, ld, kh0, kh1, tab); break;
        case 7: DS_FN(channels)(x, 7, n, y, x0, len, ld, kh0, kh1, tab); break;
        default: DS_FN(channels)(x, 0, n, y, x0, len, ld, kh0, kh1, tab); break;
        }
    }
}
