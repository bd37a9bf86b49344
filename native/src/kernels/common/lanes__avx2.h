/*
 * lanes__avx2.h -- the lane helpers every AVX2 kernel file uses. Include only from __avx2.c files.
 */
#ifndef RRCONV_LANES_AVX2_H
#define RRCONV_LANES_AVX2_H

#include <immintrin.h>

/* Lane j is all-ones iff bit j of bits (0..255) is set: AVX2's form of a lane mask. */
static inline __m256i rr_avx2_lanes(unsigned bits)
{
    const __m256i lane_bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), lane_bits), lane_bits);
}

/* The sum of the 8 lanes in a fixed order. */
static inline float rr_avx2_hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#endif /* RRCONV_LANES_AVX2_H */
