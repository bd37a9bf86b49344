/*
 * half__avx2.h -- 8 float16 / bfloat16 elements to and from one __m256 (AVX2 + F16C). Include only from
 * AVX2 files (they are compiled with -mf16c; the avx2 level requires F16C, cpu.c).
 *
 * The same conversions as half__avx512.h, bit for bit: widening is exact (bfloat16 by a 16-bit shift,
 * float16 by vcvtph2ps, denormals kept); narrowing rounds once to nearest even (bfloat16 with integer
 * arithmetic, NaN made quiet with its sign kept; float16 with vcvtps2ph).
 *
 * AVX2 has no 16-bit masked loads or stores. Loads: the callers' FMAs blend masked-out lanes away
 * (FD_FMA), so the lanes of a load only have to be readable: a load whose 8 elements lie inside the
 * tensor [lo, hi) reads them all (one plain load), one that reaches past either end reads the lanes of
 * its mask one at a time (the tensor's first and last blocks only). Stores: the real lanes of an output
 * block are a prefix; a whole block is one store, a partial one is written element by element.
 */
#ifndef RRCONV_HALF_AVX2_H
#define RRCONV_HALF_AVX2_H

#include "../../internal.h"

#include <immintrin.h>
#include <stdint.h>

#define RR_HALF2_INLINE static inline __attribute__((always_inline))

RR_HALF2_INLINE __m256 rr_avx2_widen(rr_dtype t, __m128i h)
{
    if (t == RR_DT_BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
}

/* The 8 elements at p as a vector; lanes outside k are unspecified (readable data, or 0) unless
 * [p, p + 8) lies inside [lo, hi), when all 8 are read. */
RR_HALF2_INLINE __m128i rr_avx2_load8_u16(const uint16_t *p, __m256i k, const uint16_t *lo, const uint16_t *hi)
{
    const uintptr_t a = (uintptr_t)p;
    if (a >= (uintptr_t)lo && a + 16 <= (uintptr_t)hi) return _mm_loadu_si128((const __m128i *)(const void *)p);
    const unsigned bits = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(k));
    uint16_t tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int l = 0; l < 8; l++)
        if (bits >> l & 1u) tmp[l] = p[l];
    return _mm_loadu_si128((const __m128i *)(const void *)tmp);
}

/* 8 floats rounded to bfloat16, nearest even (NaN: quiet, sign kept). */
RR_HALF2_INLINE __m128i rr_avx2_bf16x8_narrow(__m256 v)
{
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    const __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    const __m256i w = _mm256_blendv_epi8(r, q, nan);
    return _mm_packus_epi32(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
}

/*
 * Stores the lanes of k (a prefix of the 8, all when full) of v as elements off.. of an output of type
 * t: float32 as is, bfloat16 / float16 rounded once.
 */
RR_HALF2_INLINE void rr_avx2_store_out8(rr_dtype t, void *out, int64_t off, __m256i k, __m256 v)
{
    if (t == RR_DT_F32) {
        _mm256_maskstore_ps((float *)out + off, k, v);
        return;
    }
    const __m128i h = t == RR_DT_BF16 ? rr_avx2_bf16x8_narrow(v)
                                      : _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    uint16_t *d = (uint16_t *)out + off;
    const unsigned bits = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(k));
    if (bits == 0xffu) {
        _mm_storeu_si128((__m128i *)(void *)d, h);
        return;
    }
    uint16_t tmp[8];
    _mm_storeu_si128((__m128i *)(void *)tmp, h);
    for (int l = 0; l < 8; l++)
        if (bits >> l & 1u) d[l] = tmp[l];
}

#endif /* RRCONV_HALF_AVX2_H */
