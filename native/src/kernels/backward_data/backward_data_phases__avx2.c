/*
 * backward_data_phases__avx2.c -- AVX2 loops of the fast backward-data kernel (8 lanes over grad_src
 * pixels of one phase; see backward_data_phases.h). Masked-out lanes are never loaded (maskload) and keep
 * their accumulator (blend), so a NaN or Inf on a skipped tap never reaches the result.
 */
#include "backward_data_phases.h"

#include "../common/lanes__avx2.h"

static inline __m256 bd_fma_masked(__m256 a, __m256 x, __m256 w, __m256i m)
{
    return _mm256_blendv_ps(a, _mm256_fmadd_ps(x, w, a), _mm256_castsi256_ps(m));
}

static inline void bd_store_n(float *p, __m256 v, int32_t n)
{
    _mm256_maskstore_ps(p, rr_avx2_lanes((1u << n) - 1u), v);
}

#define BD_VL 8
#define BD_BITS uint8_t
#define BD_VEC __m256
#define BD_MASK __m256i
#define BD_TOMASK(bits) rr_avx2_lanes(bits)
#define BD_ZERO() _mm256_setzero_ps()
#define BD_SET1(x) _mm256_set1_ps(x)
#define BD_LOADZ(m, p) _mm256_maskload_ps((p), (m))
#define BD_FMA(a, x, w, m) bd_fma_masked((a), (x), (w), (m))
#define BD_FMA_FINITE(a, x, w, m) _mm256_fmadd_ps((x), (w), (a))
#define BD_SPLIT_FINITE 1 /* a blend per FMA halves the throughput */
#define BD_STOREN(p, v, n) bd_store_n((p), (v), (n))
#define BD_STOREU(p, v) _mm256_storeu_ps((p), (v))
#define BD_FN(name) name##_avx2
#define BD_TILES(X) RR_BD_TILES_AVX2(X)
#define BD_DW_CB RR_BD_DW_CB_AVX2
#define BD_DW_NB RR_BD_DW_NB_AVX2

static inline uint8_t bd_tap_bits(const int32_t *jh, const int32_t *jw, const int32_t *rv, int32_t nvalid,
                                  int32_t offh, int32_t offw, const int32_t *rout_at, int32_t oh, int32_t ow)
{
    const __m256i minus1 = _mm256_set1_epi32(-1);
    const __m256i h = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)jh), _mm256_set1_epi32(offh));
    const __m256i w = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)jw), _mm256_set1_epi32(offw));
    __m256i k = rr_avx2_lanes(nvalid >= 8 ? 0xFFu : (1u << nvalid) - 1u);
    k = _mm256_and_si256(k, _mm256_cmpgt_epi32(h, minus1));
    k = _mm256_and_si256(k, _mm256_cmpgt_epi32(_mm256_set1_epi32(oh), h));
    k = _mm256_and_si256(k, _mm256_cmpgt_epi32(w, minus1));
    k = _mm256_and_si256(k, _mm256_cmpgt_epi32(_mm256_set1_epi32(ow), w));
    const __m256i ro = _mm256_maskload_epi32(rout_at, k);
    k = _mm256_and_si256(k, _mm256_cmpeq_epi32(ro, _mm256_loadu_si256((const __m256i *)rv)));
    return (uint8_t)_mm256_movemask_ps(_mm256_castsi256_ps(k));
}

#include "backward_data_phases_body.h"
