/*
 * backward_data_nhwc__avx512.c -- AVX-512 loops of the channels-last backward-data rows (16 channels a
 * vector; see backward_data_nhwc.h). Compiled with AVX-512 flags, called only when the CPU has them.
 */
#include "backward_data_nhwc.h"

#include <immintrin.h>

#define BDN_VL 16
#define BDN_VEC __m512
#define BDN_TAIL __mmask16
#define BDN_ZERO() _mm512_setzero_ps()
#define BDN_SET1(x) _mm512_set1_ps(x)
#define BDN_LOAD(p) _mm512_loadu_ps(p)
#define BDN_LOADT(p, t) _mm512_maskz_loadu_ps((t), (p))
#define BDN_FMA(a, x, w) _mm512_fmadd_ps((x), (w), (a))
#define BDN_STORE(p, v) _mm512_storeu_ps((p), (v))
#define BDN_STORET(p, v, t) _mm512_mask_storeu_ps((p), (t), (v))
#define BDN_MKTAIL(n) ((__mmask16)(((n) >= 16 ? 0x10000u : (1u << (n))) - 1u))
#define BDN_FN(name) name##_avx512
#define BDN_NB 8

/*
 * The tap list of pixel (ih, iw) of a row (see backward_data_nhwc.h): for each output row r of the
 * row's nr, one compare of rout at the pixel's columns (a masked load of consecutive ow when contig, a
 * gather otherwise) against its label; the matching lanes' offsets are compressed onto the lists.
 * Writes up to 16 entries past the returned count (the lists' slack).
 */
static inline int32_t bdn_list(const bdn_plan *pl, const int32_t *ro, int32_t label, int64_t iw, int32_t nr,
                               const int32_t *roh, const int32_t *rd, const int32_t *rw, int32_t *dl, int32_t *wl)
{
    const int32_t cnt = pl->col_n[iw];
    if (cnt == 0) return 0;
    const int64_t ow = pl->p->c.ow, at = iw * pl->fwq;
    const int32_t *cow = pl->col_ow + at, *cd = pl->col_d + at, *cw = pl->col_w + at;
    const __m512i lab = _mm512_set1_epi32(label);
    int32_t nt = 0;
    for (int32_t r = 0; r < nr; r++) {
        const int32_t *row = ro + roh[r] * ow;
        const __m512i vd = _mm512_set1_epi32(rd[r]), vw = _mm512_set1_epi32(rw[r]);
        for (int32_t j0 = 0; j0 < cnt; j0 += 16) {
            const __mmask16 m = (__mmask16)(cnt - j0 >= 16 ? 0xFFFFu : (1u << (cnt - j0)) - 1u);
            const __m512i rv = pl->contig ? _mm512_maskz_loadu_epi32(m, row + cow[0] + j0)
                                          : _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m,
                                                                        _mm512_loadu_si512(cow + j0), row, 4);
            const __mmask16 k = _mm512_mask_cmpeq_epi32_mask(m, rv, lab);
            if (k == 0) continue;
            _mm512_storeu_si512(dl + nt, _mm512_maskz_compress_epi32(k, _mm512_add_epi32(_mm512_loadu_si512(cd + j0), vd)));
            _mm512_storeu_si512(wl + nt, _mm512_maskz_compress_epi32(k, _mm512_add_epi32(_mm512_loadu_si512(cw + j0), vw)));
            nt += __builtin_popcount((unsigned)k);
        }
    }
    return nt;
}

#include "backward_data_nhwc_body.h"
