/*
 * forward_depthwise_rows_bf16_body.h -- the bfloat16 forward row segment kernel, included by
 * forward_depthwise_rows_bf16__avx512.c (DWBF_CVT 0: outputs rounded to bfloat16 with integer
 * arithmetic) and forward_depthwise_rows_bf16cvt__avx512.c (DWBF_CVT 1: with vcvtneps2bf16, for CPUs
 * with AVX512_BF16; forward.c picks by rr_cpu_has_bf16_dot()). The includer defines DWBF_CVT and
 * DWROW_ENTRY.
 *
 * The row segment kernel (forward_depthwise_rows__avx512.c) on bfloat16 src, float weights (packed by
 * forward.c), float32 FMAs, each output element rounded once to the output type (bfloat16 or float32)
 * when stored.
 *
 * Two-block pieces (32 output columns from ow0) run EVEN / ODD: 32 bfloat16 columns are one 64-byte
 * load, and as 16 dwords each holds columns 2j (low half) and 2j+1 (high half), so a 16-bit left shift
 * gives the even columns as floats and a mask of the high halves the odd ones -- two ALU operations
 * instead of two widening shuffles (vpmovzxwd) per 16 columns, the shuffle port being the one the
 * windows' rotations (valignd) already load. The piece's outputs are two accumulators per channel,
 * E (columns ow0 + 2j) and O (ow0 + 2j + 1); tap offset o = kw - (FW-1)/2 reads, for o = 2m, the even
 * segments rotated by m into E and the odd ones into O, and for o = 2m + 1 the odd segments rotated by
 * m into E and the even ones rotated by m + 1 into O: still one rotation per FMA. The tap masks of the
 * even / odd columns are the piece's 32-column masks' even / odd bits (pext), once per tap and channel
 * block. Per output element the taps are summed in the same (kh, kw) order as the float32 kernel: the
 * same sums. A bfloat16 result is rounded in the dwords and the two halves merged into 32 columns (one
 * store; DWBF_CVT 1: vcvtne2ps2bf16 rounds both and vpermw interleaves them); a float32 result is
 * interleaved back (vpermt2ps). One-block pieces take the widening loader.
 */
#include "../common/tile_plan.h"
#include "../common/row_segments__avx512.h"

#include <string.h>

/* Lanes of the 32 columns from c0 inside a row of iw columns. */
RR_INLINE __mmask32 pair_columns(int64_t c0, int64_t iw)
{
    const int64_t lo = c0 < 0 ? -c0 : 0, hi = iw - c0 > 32 ? 32 : iw - c0;
    if (hi <= lo) return 0;
    return (__mmask32)((((uint64_t)1 << hi) - 1u) & ~(((uint64_t)1 << lo) - 1u));
}

/* Lanes m.. of seg[1] continued into its neighbour (m in [-8, 8], a constant): seg[0] left, seg[2] right. */
RR_INLINE __m512 pair_shift(const __m512 *seg, int m)
{
    if (m < 0) return rr_rotate(seg[1], seg[0], m + 16);
    if (m == 0) return seg[1];
    return rr_rotate(seg[2], seg[1], m);
}

/*
 * DWBF_CVT 1: stores round with vcvtneps2bf16 / vcvtne2ps2bf16 (AVX512_BF16). Their rounding is the
 * integer sequence's (nearest even; NaN: the high half with the quiet bit set, sign and payload kept;
 * overflow carries into Inf), but they read a denormal input as zero: a vector with a denormal lane
 * (vfpclassps; rare) takes the integer sequence instead, so both instantiations store the same bits.
 */
#if DWBF_CVT
/* lanes of v that hold denormals */
RR_INLINE __mmask16 dwbf_denormals(__m512 v)
{
    return _mm512_fpclass_ps_mask(v, 0x20);
}
#endif

/* 16 floats rounded to bfloat16 (half.h's rounding, bit for bit). */
RR_INLINE __m256i dwbf_narrow(__m512 v)
{
#if DWBF_CVT
    if (__builtin_expect(dwbf_denormals(v) == 0, 1)) return (__m256i)_mm512_cvtneps_pbh(v);
#endif
    return rr_bf16x16_narrow(v);
}

/* Stores lanes k (all when full) of v as elements off.. of an output of type t: rr_store_out16, with
 * dwbf_narrow for bfloat16. */
RR_INLINE void dwbf_store16(rr_dtype t, void *out, int64_t off, __m512 v, __mmask16 k, int full)
{
    if (t != RR_DT_BF16) {
        rr_store_out16(t, out, off, v, k, full);
        return;
    }
    uint16_t *d = (uint16_t *)out + off;
    const __m256i h = dwbf_narrow(v);
    if (full) _mm256_storeu_si256((__m256i *)(void *)d, h);
    else _mm256_mask_storeu_epi16(d, k, h);
}

/* bfloat16 rounding (nearest even, NaN quiet) of 16 floats, the result in each dword's high half. */
RR_INLINE __m512i pair_round_high(__m512 v)
{
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x400000));
}

/* Stores E (even columns) and O (odd columns) as the 32 columns from element off, lanes lv (32 bits). */
RR_INLINE void pair_store(rr_dtype t, void *dst, int64_t off, __m512 e, __m512 o, __mmask16 lv0, __mmask16 lv1)
{
    if (t == RR_DT_BF16) {
#if DWBF_CVT
        if (__builtin_expect((dwbf_denormals(e) | dwbf_denormals(o)) == 0, 1)) {
            /* words 0..15 the even columns, 16..31 the odd ones, interleaved into column order */
            const __m512i w = (__m512i)_mm512_cvtne2ps_pbh(o, e);
            const __m512i order = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                                   23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
            _mm512_mask_storeu_epi16((uint16_t *)dst + off, (__mmask32)lv0 | (__mmask32)lv1 << 16,
                                     _mm512_permutexvar_epi16(order, w));
            return;
        }
#endif
        const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
        const __m512i w = _mm512_or_si512(_mm512_and_si512(pair_round_high(o), hi),
                                          _mm512_srli_epi32(pair_round_high(e), 16));
        _mm512_mask_storeu_epi16((uint16_t *)dst + off, (__mmask32)lv0 | (__mmask32)lv1 << 16, w);
        return;
    }
    const __m512i ilo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i ihi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    dwbf_store16(t, dst, off, _mm512_permutex2var_ps(e, ilo, o), lv0, 0);
    dwbf_store16(t, dst, off + 16, _mm512_permutex2var_ps(e, ihi, o), lv1, 0);
}

/* The even / odd floats of the 32 bfloat16 columns at p (lanes k). */
RR_INLINE void pair_load(const uint16_t *p, __mmask32 k, __m512 *ev, __m512 *od)
{
    const __m512i r = _mm512_maskz_loadu_epi16(k, p);
    *ev = _mm512_castsi512_ps(_mm512_slli_epi32(r, 16));
    *od = _mm512_castsi512_ps(_mm512_and_si512(r, _mm512_set1_epi32((int)0xffff0000u)));
}

/* nrows two-block pieces from (oh0, ow0) x CBN channels: the arguments of dwrow_tile (NB 2, mb 0). */
RR_INLINE void pair_tile(const rr_tile_plan *pl, const uint16_t *m, const uint16_t *src_c, const float *w_c,
                         void *dst, int64_t dst_c, int64_t oh0, int64_t nrows, int64_t ow0, __mmask16 lv0,
                         __mmask16 lv1, const int FW, const int CBN)
{
    const int KC = RR_DWROW_KC(FW);
    const int CB = RR_DWROW_CB(FW);
    const int PW = (FW - 1) / 2;
    const rr_conv *c = &pl->c;
    const int64_t fh = c->fh, iw = c->iw, ihn = c->ih, chan = pl->src_chan, ohw = c->oh * c->ow;
    /* segments at ow0 - 32, ow0, ow0 + 32; one wholly outside the row reads the middle one instead
     * (its lanes only meet taps whose masks are 0) */
    __mmask32 lk[3];
    int64_t soff[3];
    for (int i = 0; i < 3; i++) {
        lk[i] = pair_columns(ow0 + 32 * (i - 1), iw);
        soff[i] = ow0 + 32 * (i - 1);
        if (lk[i] == 0) {
            lk[i] = pair_columns(ow0, iw);
            soff[i] = ow0;
        }
    }
    for (int64_t oh = oh0; oh < oh0 + nrows; oh++, m += 2 * pl->taps) {
        __m512 acc[8][2];
RR_UNROLL
        for (int q = 0; q < CBN; q++) {
            acc[q][0] = _mm512_setzero_ps();
            acc[q][1] = _mm512_setzero_ps();
        }
        for (int64_t kh = 0; kh < fh; kh++) {
            const int64_t ih = oh * c->sh + pl->khoff[kh];
            if (ih < 0 || ih >= ihn) continue;
            const uint16_t *row = src_c + ih * iw;
            const uint16_t *mk = m + 2 * FW * kh;
            const float *w_k = w_c + FW * kh * CB;
RR_UNROLL
            for (int k0 = 0; k0 < FW; k0 += KC) {
                __mmask16 ke[RR_DWROW_KC_MAX], ko[RR_DWROW_KC_MAX];
RR_UNROLL
                for (int u = 0; u < KC; u++) {
                    const uint32_t m32 = k0 + u < FW ? (uint32_t)mk[2 * (k0 + u)] | (uint32_t)mk[2 * (k0 + u) + 1] << 16 : 0;
                    ke[u] = (__mmask16)_pext_u32(m32, 0x55555555u);
                    ko[u] = (__mmask16)_pext_u32(m32, 0xaaaaaaaau);
                }
RR_UNROLL
                for (int q = 0; q < CBN; q++) {
                    const uint16_t *p = row + q * chan;
                    __m512 ev[3], od[3];
RR_UNROLL
                    for (int i = 0; i < 3; i++) pair_load(p + soff[i], lk[i], &ev[i], &od[i]);
RR_UNROLL
                    for (int u = 0; u < KC; u++) {
                        const int kw = k0 + u;
                        if (kw >= FW) break;
                        const int o = kw - PW;
                        const __m512 wv = _mm512_set1_ps(w_k[kw * CB + q]);
                        /* floor division: o = 2 h + (o & 1) */
                        const int h = (o - (o & 1)) / 2;
                        const __m512 we = (o & 1) ? pair_shift(od, h) : pair_shift(ev, h);
                        const __m512 wo = (o & 1) ? pair_shift(ev, h + 1) : pair_shift(od, h);
                        acc[q][0] = _mm512_mask3_fmadd_ps(we, wv, acc[q][0], ke[u]);
                        acc[q][1] = _mm512_mask3_fmadd_ps(wo, wv, acc[q][1], ko[u]);
                    }
                }
            }
        }
RR_UNROLL
        for (int q = 0; q < CBN; q++)
            pair_store(c->out_dtype, dst, dst_c + q * ohw + oh * c->ow + ow0, acc[q][0], acc[q][1], lv0, lv1);
    }
}

#define DWROW_T uint16_t
#define DWROW_SEGMENTS_LOAD rr_segments_load_bf16
#define DWROW_STORE(pl, dst, off, v, k, full) dwbf_store16((pl)->c.out_dtype, (dst), (off), (v), (k), (full))
#define DWROW_PAIR_TILE pair_tile
#include "forward_depthwise_rows_body.h"
