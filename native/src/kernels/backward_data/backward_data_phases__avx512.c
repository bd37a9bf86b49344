/*
 * backward_data_phases__avx512.c -- AVX-512 loops of the fast backward-data kernel (16 lanes over grad_src
 * pixels of one phase; see backward_data_phases.h). Compiled with AVX-512 flags, called only when the CPU
 * has them.
 */
#include "backward_data_phases.h"

#include <immintrin.h>

#define BD_VL 16
#define BD_BITS uint16_t
#define BD_VEC __m512
#define BD_MASK __mmask16
#define BD_TOMASK(bits) ((__mmask16)(bits))
#define BD_ZERO() _mm512_setzero_ps()
#define BD_SET1(x) _mm512_set1_ps(x)
#define BD_LOADZ(m, p) _mm512_maskz_loadu_ps((m), (p))
#define BD_FMA(a, x, w, m) _mm512_mask3_fmadd_ps((x), (w), (a), (m))
#define BD_FMA_FINITE(a, x, w, m) BD_FMA(a, x, w, m)
#define BD_SPLIT_FINITE 0 /* masked FMAs cost nothing extra */
#define BD_STOREN(p, v, n) _mm512_mask_storeu_ps((p), (__mmask16)((1u << (n)) - 1u), (v))
#define BD_STOREU(p, v) _mm512_storeu_ps((p), (v))
#define BD_FN(name) name##_avx512
#define BD_TILES(X) RR_BD_TILES_AVX512(X)
#define BD_DW_CB RR_BD_DW_CB_AVX512
#define BD_DW_NB RR_BD_DW_NB_AVX512

static inline uint16_t bd_tap_bits(const int32_t *jh, const int32_t *jw, const int32_t *rv, int32_t nvalid,
                                   int32_t offh, int32_t offw, const int32_t *rout_at, int32_t oh, int32_t ow)
{
    const __mmask16 valid = (__mmask16)(nvalid >= 16 ? 0xFFFFu : (1u << nvalid) - 1u);
    const __m512i h = _mm512_add_epi32(_mm512_loadu_si512(jh), _mm512_set1_epi32(offh));
    const __m512i w = _mm512_add_epi32(_mm512_loadu_si512(jw), _mm512_set1_epi32(offw));
    __mmask16 k = _mm512_mask_cmplt_epu32_mask(valid, h, _mm512_set1_epi32(oh));
    k = _mm512_mask_cmplt_epu32_mask(k, w, _mm512_set1_epi32(ow));
    const __m512i ro = _mm512_maskz_loadu_epi32(k, rout_at);
    return (uint16_t)_mm512_mask_cmpeq_epi32_mask(k, ro, _mm512_loadu_si512(rv));
}

/*
 * p[l*sw] = v[l] for l < n (2 <= sw <= 4): each run of 16 floats of the row gets its lanes by one
 * permute and one masked store, with the plan's tables; every float written is a real element.
 */
static inline void bd_store_strided(const bd_plan *pl, float *p, __m512 v, int32_t n, int64_t sw)
{
    const int64_t span = (int64_t)(n - 1) * sw + 1;
    for (int s = 0; s * 16 < span; s++) {
        unsigned bits = pl->stride_mask[s];
        if (span - s * 16 < 16) bits &= (1u << (span - s * 16)) - 1u;
        const __m512 x = _mm512_permutexvar_ps(_mm512_loadu_si512(pl->stride_idx[s]), v);
        _mm512_mask_storeu_ps(p + s * 16, (__mmask16)bits, x);
    }
}

#define BD_STORE_STRIDED(pl, p, v, n, s) bd_store_strided((pl), (p), (v), (n), (s))

#include "backward_data_phases_body.h"

/*
 * Depthwise row mode (see backward_data_phases.h): one channel, RR_BD_DWR_R(FH) output rows x 2 column blocks.
 * For each kw the FH weights stay in registers; each diff row is loaded once per column block and
 * feeds every output row it reaches (kh = FH-1-rr+i for tile row i and window row rr). Taps are summed
 * kw-major (kw, then kh), one fixed order per element.
 */
static inline __attribute__((always_inline)) void dwr_tile(const bd_plan *pl, int64_t nl, int64_t g, int64_t ci,
                                                           const int FH)
{
    const int R = RR_BD_DWR_R(FH), NB = 2 * R;
    const rr_problem *p = pl->p;
    const rr_conv *c = &p->c;
    const int64_t n = pl->n0 + nl, ow = c->ow, oh = c->oh, fw = c->fw;
    const bd_chunk *ch = &pl->chunks[ci];
    const bd_phase *ph = &pl->phases[0];
    const uint16_t *mk = (const uint16_t *)pl->masks + nl * pl->masks_per_image + ph->mask_off +
                         ch->local * ph->ntaps * NB;
    const bd_block *first = &pl->blocks[ch->blk0];
    const int64_t ih0 = first->jh0, col0 = first->jw0;
    const float *dcol = (const float *)p->diff.data + (n * c->oc + g) * oh * ow + col0 + c->pw;
    const uint16_t *cm = pl->colmask + (col0 / 16) * fw;
    const float *wf = (const float *)p->filter.data + g * FH * fw;

    __m512 acc[12][2];
#pragma GCC unroll 12
    for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();

    for (int64_t kw = 0; kw < fw; kw++) {
        __m512 w[13];
#pragma GCC unroll 13
        for (int kh = 0; kh < FH; kh++) w[kh] = _mm512_set1_ps(wf[kh * fw + kw]);
        const __mmask16 c0 = cm[kw], c1 = cm[fw + kw];
        const float *dk = dcol - kw * c->dw;
        const uint16_t *mkw = mk + kw * FH * NB;
#pragma GCC unroll 24
        for (int rr = 0; rr < R + FH - 1; rr++) {
            const int64_t r = ih0 + c->ph - (FH - 1) + rr;
            if (r < 0 || r >= oh) continue;
            const __m512 x0 = _mm512_maskz_loadu_ps(c0, dk + r * ow);
            const __m512 x1 = _mm512_maskz_loadu_ps(c1, dk + r * ow + 16);
#pragma GCC unroll 12
            for (int i = 0; i < R; i++) {
                const int kh = FH - 1 - rr + i;
                if (kh < 0 || kh >= FH) continue;
                __mmask16 *m = (__mmask16 *)(uintptr_t)(mkw + kh * NB + 2 * i);
                acc[i][0] = _mm512_mask3_fmadd_ps(x0, w[kh], acc[i][0], _load_mask16(m));
                acc[i][1] = _mm512_mask3_fmadd_ps(x1, w[kh], acc[i][1], _load_mask16(m + 1));
            }
        }
    }

    float *o = p->out.data + (n * c->ic + g) * c->ih * c->iw;
#pragma GCC unroll 12
    for (int i = 0; i < R; i++) {
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++) {
            if (2 * i + j >= ch->nb) break;
            const bd_block *blk = &pl->blocks[ch->blk0 + 2 * i + j];
            if (blk->nvalid == 16) _mm512_storeu_ps(o + blk->obase, acc[i][j]);
            else _mm512_mask_storeu_ps(o + blk->obase, (__mmask16)((1u << blk->nvalid) - 1u), acc[i][j]);
        }
    }
}

static void dwr_tile_3(const bd_plan *pl, int64_t nl, int64_t g, int64_t ci) { dwr_tile(pl, nl, g, ci, 3); }
static void dwr_tile_5(const bd_plan *pl, int64_t nl, int64_t g, int64_t ci) { dwr_tile(pl, nl, g, ci, 5); }
static void dwr_tile_7(const bd_plan *pl, int64_t nl, int64_t g, int64_t ci) { dwr_tile(pl, nl, g, ci, 7); }
static void dwr_tile_9(const bd_plan *pl, int64_t nl, int64_t g, int64_t ci) { dwr_tile(pl, nl, g, ci, 9); }
static void dwr_tile_11(const bd_plan *pl, int64_t nl, int64_t g, int64_t ci) { dwr_tile(pl, nl, g, ci, 11); }
static void dwr_tile_13(const bd_plan *pl, int64_t nl, int64_t g, int64_t ci) { dwr_tile(pl, nl, g, ci, 13); }

void rr_bd_dwr_avx512(void *vplan, int64_t begin, int64_t end)
{
    const bd_plan *pl = (const bd_plan *)vplan;
    const int64_t groups = pl->p->c.groups, fh = pl->p->c.fh;
    for (int64_t item = begin; item < end; item++) {
        const int64_t ci = item % pl->nchunks, r = item / pl->nchunks;
        const int64_t g = r % groups, nl = r / groups;
        switch (fh) {
        case 3: dwr_tile_3(pl, nl, g, ci); break;
        case 5: dwr_tile_5(pl, nl, g, ci); break;
        case 7: dwr_tile_7(pl, nl, g, ci); break;
        case 9: dwr_tile_9(pl, nl, g, ci); break;
        case 11: dwr_tile_11(pl, nl, g, ci); break;
        default: dwr_tile_13(pl, nl, g, ci); break;
        }
    }
}
