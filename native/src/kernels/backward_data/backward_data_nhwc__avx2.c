/*
 * backward_data_nhwc__avx2.c -- AVX2 loops of the channels-last backward-data rows (8 channels a vector;
 * see backward_data_nhwc.h). The last, partial vector of a pixel's channels is loaded and stored with
 * maskload / maskstore, so nothing past the tensors is read or written.
 */
#include "backward_data_nhwc.h"

#include "../common/lanes__avx2.h"

#define BDN_VL 8
#define BDN_VEC __m256
#define BDN_TAIL __m256i
#define BDN_ZERO() _mm256_setzero_ps()
#define BDN_SET1(x) _mm256_set1_ps(x)
#define BDN_LOAD(p) _mm256_loadu_ps(p)
#define BDN_LOADT(p, t) _mm256_maskload_ps((p), (t))
#define BDN_FMA(a, x, w) _mm256_fmadd_ps((x), (w), (a))
#define BDN_STORE(p, v) _mm256_storeu_ps((p), (v))
#define BDN_STORET(p, v, t) _mm256_maskstore_ps((p), (t), (v))
#define BDN_MKTAIL(n) rr_avx2_lanes((1u << (n)) - 1u)
#define BDN_FN(name) name##_avx2
#define BDN_NB 4

/*
 * The tap list of pixel (ih, iw) of a row (see backward_data_nhwc.h): for each output row r of the
 * row's nr, 8 columns at a time, one compare of rout at the pixel's columns (maskload of consecutive
 * ow when contig, a masked gather otherwise) against its label; the matching lanes are appended.
 */
static inline int32_t bdn_list(const bdn_plan *pl, const int32_t *ro, int32_t label, int64_t iw, int32_t nr,
                               const int32_t *roh, const int32_t *rd, const int32_t *rw, int32_t *dl, int32_t *wl)
{
    const int32_t cnt = pl->col_n[iw];
    if (cnt == 0) return 0;
    const int64_t ow = pl->p->c.ow, at = iw * pl->fwq;
    const int32_t *cow = pl->col_ow + at, *cd = pl->col_d + at, *cw = pl->col_w + at;
    const __m256i lab = _mm256_set1_epi32(label);
    int32_t nt = 0;
    for (int32_t r = 0; r < nr; r++) {
        const int32_t *row = ro + roh[r] * ow;
        for (int32_t j0 = 0; j0 < cnt; j0 += 8) {
            const __m256i m = rr_avx2_lanes(cnt - j0 >= 8 ? 0xFFu : (1u << (cnt - j0)) - 1u);
            const __m256i rv = pl->contig ? _mm256_maskload_epi32(row + cow[0] + j0, m)
                                          : _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), row,
                                                                        _mm256_loadu_si256((const __m256i *)(cow + j0)),
                                                                        m, 4);
            unsigned bits = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_and_si256(m, _mm256_cmpeq_epi32(rv, lab))));
            while (bits != 0) {
                const int b = __builtin_ctz(bits);
                bits &= bits - 1u;
                dl[nt] = cd[j0 + b] + rd[r];
                wl[nt] = cw[j0 + b] + rw[r];
                nt++;
            }
        }
    }
    return nt;
}

#include "backward_data_nhwc_body.h"
