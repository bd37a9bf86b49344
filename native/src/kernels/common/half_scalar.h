/*
 * half_scalar.h -- float16 / bfloat16 element conversions, one element at a time, in plain C (any ISA):
 * what the kernels' packing and their last scalar stores use. The vector forms are in half__avx512.h.
 *
 * Widening is exact (every half value is a float). Narrowing rounds once to nearest even, keeps NaN a
 * (quiet) NaN and Inf an Inf, overflows to Inf and produces the half type's denormals as IEEE 754 says.
 */
#ifndef RRCONV_HALF_SCALAR_H
#define RRCONV_HALF_SCALAR_H

#include "../../internal.h"

#include <stdint.h>
#include <string.h>

static inline float rr_bf16_to_float(uint16_t h)
{
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t rr_float_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* NaN: quiet, sign kept */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);                 /* nearest even; carries into Inf */
}

static inline float rr_f16_to_float(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    uint32_t u;
    if (e == 0x1f) {
        u = sign | 0x7f800000u | (m << 13); /* Inf, NaN (payload kept) */
    } else if (e != 0) {
        u = sign | ((e + 112u) << 23) | (m << 13);
    } else if (m == 0) {
        u = sign;
    } else { /* denormal: m * 2^-24, exact in float */
        float f = (float)m * 0x1p-24f;
        memcpy(&u, &f, 4);
        u |= sign;
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t rr_float_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    const uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN: quiet */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: Inf */
    if (a >= 0x38800000u) { /* normal half: drop 13 bits, nearest even (a carry moves into the exponent) */
        const uint32_t r = a - 0x38000000u; /* rebias 127 -> 15 */
        return (uint16_t)(sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13));
    }
    if (a < 0x33000000u) return (uint16_t)sign; /* below half the smallest denormal: zero */
    /* denormal half: the value in units of 2^-24, rounded to nearest even */
    const uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, shift = 126u - e; /* 14 .. 24 */
    const uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
    return (uint16_t)(sign | (q + (rem > half || (rem == half && (q & 1u)))));
}

/* Element i of a half array of type t (RR_DT_F16 or RR_DT_BF16) as a float. */
static inline float rr_half_get(rr_dtype t, const uint16_t *a, int64_t i)
{
    return t == RR_DT_BF16 ? rr_bf16_to_float(a[i]) : rr_f16_to_float(a[i]);
}

/* Stores v, rounded once, as element i of an output of type t (f32, f16 or bf16). */
static inline void rr_elem_put(rr_dtype t, void *out, int64_t i, float v)
{
    if (t == RR_DT_F32) ((float *)out)[i] = v;
    else if (t == RR_DT_BF16) ((uint16_t *)out)[i] = rr_float_to_bf16(v);
    else ((uint16_t *)out)[i] = rr_float_to_f16(v);
}

#endif /* RRCONV_HALF_SCALAR_H */
