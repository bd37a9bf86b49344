/*
 * half__avx512.h -- 16 float16 / bfloat16 elements to and from one __m512 (AVX-512 F/BW/VL only).
 * Include only from AVX-512 files.
 *
 * Widening is exact: bfloat16 by a 16-bit shift, float16 by vcvtph2ps (which keeps denormals; MXCSR's
 * DAZ is never set by the library). Narrowing rounds once to nearest even: bfloat16 with integer
 * arithmetic (NaN made quiet with its sign kept, overflow carries into Inf, denormals kept: the same
 * as half.h bit for bit), float16 with vcvtps2ph (round to nearest even; it does not flush
 * denormal results). vcvtneps2bf16 (AVX512_BF16) also rounds to nearest even, but it flushes
 * denormal inputs to zero and is not on every AVX-512 CPU: only files compiled with -mavx512bf16 and
 * called where the CPU has it get rr_store_out16_bf16cvt, which takes this sequence for vectors
 * holding a denormal.
 */
#ifndef RRCONV_HALF_AVX512_H
#define RRCONV_HALF_AVX512_H

#include "../../internal.h"

#include <immintrin.h>
#include <stdint.h>

#define RR_HALF_INLINE static inline __attribute__((always_inline))

RR_HALF_INLINE __m512 rr_bf16x16_widen(__m256i h)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

RR_HALF_INLINE __m512 rr_load_bf16(const uint16_t *p)
{
    return rr_bf16x16_widen(_mm256_loadu_si256((const __m256i *)(const void *)p));
}

RR_HALF_INLINE __m512 rr_maskz_load_bf16(__mmask16 k, const uint16_t *p)
{
    return rr_bf16x16_widen(_mm256_maskz_loadu_epi16(k, p));
}

RR_HALF_INLINE __m512 rr_load_f16(const uint16_t *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
}

RR_HALF_INLINE __m512 rr_maskz_load_f16(__mmask16 k, const uint16_t *p)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, p));
}

/* 16 floats rounded to bfloat16, nearest even (NaN: quiet, sign kept). */
RR_HALF_INLINE __m256i rr_bf16x16_narrow(__m512 v)
{
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    const __m512i q = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    return _mm512_cvtepi32_epi16(q);
}

RR_HALF_INLINE __m256i rr_f16x16_narrow(__m512 v)
{
    return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/*
 * Stores lanes k (all 16 when full) of v as elements off.. of an output of type t: float32 as is,
 * bfloat16 / float16 rounded once. The type is a run-time value: one predictable branch per store.
 */
RR_HALF_INLINE void rr_store_out16(rr_dtype t, void *out, int64_t off, __m512 v, __mmask16 k, int full)
{
    if (t == RR_DT_F32) {
        float *d = (float *)out + off;
        if (full) _mm512_storeu_ps(d, v);
        else _mm512_mask_storeu_ps(d, k, v);
        return;
    }
    const __m256i h = t == RR_DT_BF16 ? rr_bf16x16_narrow(v) : rr_f16x16_narrow(v);
    uint16_t *d = (uint16_t *)out + off;
    if (full) _mm256_storeu_si256((__m256i *)(void *)d, h);
    else _mm256_mask_storeu_epi16(d, k, h);
}

#ifdef __AVX512BF16__
/*
 * rr_store_out16 with bfloat16 rounded by vcvtneps2bf16: its rounding is rr_bf16x16_narrow's (nearest
 * even; NaN: the high half with the quiet bit set, sign and payload kept; overflow carries into Inf),
 * but it reads a denormal input as zero, so a vector with a denormal lane (vfpclassps; rare) takes
 * the integer sequence: the same bits either way.
 */
RR_HALF_INLINE void rr_store_out16_bf16cvt(rr_dtype t, void *out, int64_t off, __m512 v, __mmask16 k, int full)
{
    if (t != RR_DT_BF16 || __builtin_expect(_mm512_fpclass_ps_mask(v, 0x20) != 0, 0)) {
        rr_store_out16(t, out, off, v, k, full);
        return;
    }
    const __m256i h = (__m256i)_mm512_cvtneps_pbh(v);
    uint16_t *d = (uint16_t *)out + off;
    if (full) _mm256_storeu_si256((__m256i *)(void *)d, h);
    else _mm256_mask_storeu_epi16(d, k, h);
}
#endif

#endif /* RRCONV_HALF_AVX512_H */
