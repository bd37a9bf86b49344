/*
 * half.h -- float16 (IEEE binary16) and bfloat16 <-> float32, portable C (bit manipulation; no F16C, no
 * _Float16), for the reference loops and normalization. Every half value widens to float32 exactly;
 * float32 rounds to a half type once, to nearest, ties to even, as IEEE 754 says: values beyond the
 * largest finite half round to Inf, small ones to (signed) denormals or zero, Inf stays Inf, NaN stays
 * NaN (made quiet; the sign and the payload's high bits are kept).
 */
#ifndef RRCONV_HALF_H
#define RRCONV_HALF_H

#include "internal.h"

#include <stdint.h>
#include <string.h>

static inline uint32_t rr_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float rr_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* bfloat16 is the high half of a float32: widening is a shift. */
static inline float rr_bf16_to_f32(uint16_t h)
{
    return rr_bits_f32((uint32_t)h << 16);
}

static inline uint16_t rr_f32_to_bf16(float f)
{
    const uint32_t u = rr_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* NaN: quiet */
    /* add half an ulp of the result, minus one unless the kept lowest bit is odd (ties to even); a carry
       into the exponent is the right result (up to Inf) */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static inline float rr_f16_to_f32(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) return rr_bits_f32(sign | 0x7f800000u | (man << 13) | (man != 0 ? 0x400000u : 0u));
    if (exp == 0) {
        /* zero or denormal: man * 2^-24, exact in float32 */
        const float v = (float)man * 5.9604644775390625e-8f;
        return rr_bits_f32(sign | rr_f32_bits(v));
    }
    return rr_bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

/*
 * rr_f16_to_f32 without branches, for loops that should vectorize: the exponent and fraction bits are
 * placed into a float32 whose exponent is too small by 112, and a multiply by 2^112 rebiases them (exact,
 * denormals included: they become normal float32s); an exponent field of 31 (Inf, NaN) is patched to 255
 * afterwards, and a NaN gets the quiet bit. Same results as rr_f16_to_f32 (test_internal checks every
 * pattern).
 */
static inline float rr_f16_to_f32_fast(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t em = (uint32_t)(h & 0x7fffu) << 13; /* exponent and fraction, at float32's places */
    uint32_t v = rr_f32_bits(rr_bits_f32(em) * 0x1p112f);
    const uint32_t special = (h & 0x7c00u) == 0x7c00u ? 0xffffffffu : 0u;
    const uint32_t quiet = (h & 0x3ffu) != 0 ? 0x400000u : 0u;
    v = (v & ~special) | ((0x7f800000u | em | quiet) & special);
    return rr_bits_f32(sign | v);
}

static inline uint16_t rr_f32_to_f16(float f)
{
    const uint32_t u = rr_f32_bits(f);
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    const uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN: quiet */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 (Inf included): Inf */
    if (a >= 0x38800000u) {                                   /* >= 2^-14: a normal float16 */
        const uint32_t r = a - 0x38000000u;                   /* exponent rebiased from 127 to 15 */
        return (uint16_t)(sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13));
    }
    if (a < 0x33000000u) return sign; /* <= 2^-25 (the tie rounds to the even zero) */
    /* a denormal float16: the value in units of 2^-24, rounded to nearest even */
    const uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - e; /* 14 .. 24 */
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (uint16_t)(sign | q);
}

/* Element off of a data tensor of type t, as a float (exact). */
static inline float rr_load(const void *base, rr_dtype t, int64_t off)
{
    switch (t) {
    case RR_DT_F16: return rr_f16_to_f32(((const uint16_t *)base)[off]);
    case RR_DT_BF16: return rr_bf16_to_f32(((const uint16_t *)base)[off]);
    case RR_DT_F32: break;
    }
    return ((const float *)base)[off];
}

/* Stores v at element off of an output of type t (rounded once for the half types). */
static inline void rr_store(void *base, rr_dtype t, int64_t off, float v)
{
    switch (t) {
    case RR_DT_F16: ((uint16_t *)base)[off] = rr_f32_to_f16(v); return;
    case RR_DT_BF16: ((uint16_t *)base)[off] = rr_f32_to_bf16(v); return;
    case RR_DT_F32: break;
    }
    ((float *)base)[off] = v;
}

/* Bytes per element of t. */
static inline int64_t rr_dtype_size(rr_dtype t)
{
    return t == RR_DT_F32 ? 4 : 2;
}

#endif /* RRCONV_HALF_H */
