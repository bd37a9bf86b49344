/*
 * row_segments__avx512.h -- the row segments shared by the AVX-512 row segment kernels
 * (forward_depthwise_rows_body.h, backward_filter_depthwise_rows_body.h: float32, bfloat16 and float16
 * instantiations). Include only from AVX-512 files.
 *
 * A ROW PIECE is NB (1 or 2) blocks of 16 output columns from column ow0 (a multiple of 16) of
 * one output row. With stride_w 1, dil_w 1 and "same" pad_w P = (FW-1)/2, tap kw of block b reads
 * input columns ow0 + 16 b + o .. + 15 with o = kw - P in [-15, 15]: a WINDOW cut out of two of the
 * NB + 2 sixteen-column SEGMENTS of the input row that start at ow0 - 16, ow0, ..., ow0 + 16 NB
 * with one lane rotation (valignd). seg[i] below is the segment starting at ow0 + 16 (i - 1).
 *
 * Loading (see rr_segments_load): a segment whole inside the row is a plain load, a partial one a
 * masked load of its columns, and one wholly outside the row is not loaded at all: its lanes only
 * reach FMA lanes whose tap masks are 0 (the mask pass checks the columns), so a loaded neighbour
 * stands in (a masked load with an empty mask costs as much as a line-crossing load).
 */
#ifndef RRCONV_ROW_SEGMENTS_AVX512_H
#define RRCONV_ROW_SEGMENTS_AVX512_H

#include "half__avx512.h"

#include <immintrin.h>
#include <stdint.h>

#define RR_INLINE static inline __attribute__((always_inline))

#if defined(__clang__)
#define RR_UNROLL _Pragma("unroll")
#else
#define RR_UNROLL _Pragma("GCC unroll 32")
#endif

/*
 * The 16-bit lane mask at p, loaded straight into a mask register (kmovw k, m16). Compilers route a
 * mask read as an integer through a general register (movzwl + kmovw k, r32), and on AMD Zen 4 that
 * move costs about as much as 1.6 masked FMAs (measured: one per FMA halves the FMA rate, one kmovw
 * from memory per FMA costs 17 %, one per two FMAs nothing).
 */
RR_INLINE __mmask16 rr_load_mask(const uint16_t *p)
{
    __mmask16 k;
    __asm__("kmovw %1, %0" : "=k"(k) : "m"(*p));
    return k;
}

/* Lanes l of the segment starting at column c0 with 0 <= c0 + l < iw. */
RR_INLINE __mmask16 rr_columns_in_row(int64_t c0, int64_t iw)
{
    const int64_t lo = c0 < 0 ? -c0 : 0, hi = iw - c0 > 16 ? 16 : iw - c0;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* Lanes s..15 of lo followed by lanes 0..s-1 of hi, 0 < s < 16. valignd takes its count as an
 * immediate: s is a constant in every instantiation and the switch folds away. */
#define RR_ALIGNR(hi, lo, S) \
    case S: return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), S));
RR_INLINE __m512 rr_rotate(__m512 hi, __m512 lo, int s)
{
    switch (s) {
        RR_ALIGNR(hi, lo, 1) RR_ALIGNR(hi, lo, 2) RR_ALIGNR(hi, lo, 3) RR_ALIGNR(hi, lo, 4) RR_ALIGNR(hi, lo, 5)
        RR_ALIGNR(hi, lo, 6) RR_ALIGNR(hi, lo, 7) RR_ALIGNR(hi, lo, 8) RR_ALIGNR(hi, lo, 9) RR_ALIGNR(hi, lo, 10)
        RR_ALIGNR(hi, lo, 11) RR_ALIGNR(hi, lo, 12) RR_ALIGNR(hi, lo, 13) RR_ALIGNR(hi, lo, 14)
        RR_ALIGNR(hi, lo, 15)
    default: return lo;
    }
}

/* The window at offset o (-16 < o < 16, a constant) of block b. */
RR_INLINE __m512 rr_window(const __m512 *seg, int b, int o)
{
    if (o < 0) return rr_rotate(seg[b + 1], seg[b], o + 16);
    if (o == 0) return seg[b + 1];
    return rr_rotate(seg[b + 2], seg[b + 1], o);
}

/* How the segments of one row piece are read. */
typedef struct rr_segments {
    __mmask16 lk[4];  /* load masks (general case) */
    int64_t soff[4];  /* column each segment is read from (general case) */
    int has_left;     /* segment -1 is inside the row */
    int has_right;    /* segment NB is inside the row */
} rr_segments;

/*
 * The segments of the piece at ow0 in rows of iw columns. FULL selects the loader: 0 any piece
 * (masked loads), 1 every segment read is whole (the blocks end at or 16+ columns before the row's
 * end), FULL >= 2 as 1 with the neighbours fixed at compile time: bit 0 of FULL - 2 = left,
 * bit 1 = right (rr_segments_full_kind picks it).
 */
RR_INLINE void rr_segments_init(rr_segments *s, int64_t ow0, int64_t iw, const int NB, const int FULL)
{
RR_UNROLL
    for (int i = 0; i < NB + 2; i++) {
        s->lk[i] = rr_columns_in_row(ow0 + 16 * (i - 1), iw);
        s->soff[i] = ow0 + 16 * (i - 1);
        if (s->lk[i] == 0) { /* wholly outside: read segment 0's columns instead */
            s->lk[i] = rr_columns_in_row(ow0, iw);
            s->soff[i] = ow0;
        }
    }
    s->has_left = FULL >= 2 ? ((FULL - 2) & 1) : ow0 >= 16;
    s->has_right = FULL >= 2 ? ((FULL - 2) >> 1) & 1 : iw - ow0 - 16 * NB >= 16;
}

/* 0 (general), or the FULL >= 2 kind of a piece whose segments are whole. */
RR_INLINE int rr_segments_full_kind(int64_t ow0, int64_t iw, int NB)
{
    const int64_t right = iw - ow0 - 16 * NB;
    if (right != 0 && right < 16) return 0;
    return 2 + ((ow0 >= 16) | (right >= 16) << 1);
}

/*
 * seg[0 .. NB+1] (as floats) of the row whose column 0 is at p; one loader per element type T, with
 * LOADU / MASKZ_LOADU reading 16 elements of T as floats: rr_segments_load (float),
 * rr_segments_load_bf16, rr_segments_load_bf16_perm and rr_segments_load_f16 (uint16_t bit patterns,
 * widened exactly).
 */
#define RR_SEGMENTS_LOADER(NAME, T, LOADU, MASKZ_LOADU)                                                   \
    RR_INLINE void NAME(__m512 *seg, const T *p, const rr_segments *s, int64_t ow0, const int NB, const int FULL) \
    {                                                                                                       \
        if (!FULL) {                                                                                        \
            RR_UNROLL                                                                                       \
            for (int i = 0; i < NB + 2; i++) seg[i] = MASKZ_LOADU(s->lk[i], p + s->soff[i]);                \
            return;                                                                                         \
        }                                                                                                   \
        RR_UNROLL                                                                                           \
        for (int i = 1; i <= NB; i++) seg[i] = LOADU(p + ow0 + 16 * (i - 1));                               \
        seg[0] = s->has_left ? LOADU(p + ow0 - 16) : seg[1];                                                \
        seg[NB + 1] = s->has_right ? LOADU(p + ow0 + 16 * NB) : seg[NB];                                    \
    }

/* 16 bfloat16 as floats with one word permutation (vpermw, zeroing the low halves) instead of a
 * zero-extension and a shift: word 2j+1 of the result is word j of h. One instruction fewer, but it
 * holds its index in a register: the forward bfloat16 rows use it for FW <= 7 only (measured in cache,
 * one thread: DW-K3 -7 %, DW-K7 -1 %, DW-K13 +12 %). */
RR_INLINE __m512 rr_bf16x16_widen_perm(__m256i h)
{
    const __m512i idx = _mm512_set_epi16(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8, 7, 7, 6, 6, 5, 5,
                                         4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    return _mm512_castsi512_ps(_mm512_maskz_permutexvar_epi16(0xaaaaaaaau, idx, _mm512_castsi256_si512(h)));
}
RR_INLINE __m512 rr_load_bf16_perm(const uint16_t *p)
{
    return rr_bf16x16_widen_perm(_mm256_loadu_si256((const __m256i *)(const void *)p));
}
RR_INLINE __m512 rr_maskz_load_bf16_perm(__mmask16 k, const uint16_t *p)
{
    return rr_bf16x16_widen_perm(_mm256_maskz_loadu_epi16(k, p));
}

RR_SEGMENTS_LOADER(rr_segments_load, float, _mm512_loadu_ps, _mm512_maskz_loadu_ps)
RR_SEGMENTS_LOADER(rr_segments_load_bf16, uint16_t, rr_load_bf16, rr_maskz_load_bf16)
RR_SEGMENTS_LOADER(rr_segments_load_bf16_perm, uint16_t, rr_load_bf16_perm, rr_maskz_load_bf16_perm)
RR_SEGMENTS_LOADER(rr_segments_load_f16, uint16_t, rr_load_f16, rr_maskz_load_f16)

#endif /* RRCONV_ROW_SEGMENTS_AVX512_H */
