/*
 * bf16dot.h -- what the bfloat16 dot-product rows share (vdpbf16ps, AVX512_BF16): the packing of a
 * bfloat16 tensor into channel pairs, and the gate that decides whether vdpbf16ps computes a call
 * exactly as IEEE float32 multiply-adds would.
 *
 * VDPBF16PS (Intel SDM): per 32-bit lane j, with a[2j], a[2j+1] and b[2j], b[2j+1] bfloat16,
 *     acc = acc + a[2j+1]*b[2j+1];  acc = acc + a[2j]*b[2j]
 * each addition of an exact product rounded once to nearest even (a bfloat16 x bfloat16 product has at
 * most 16 significant bits: exact in float32) -- two fused multiply-adds in a fixed order -- BUT with
 * denormal inputs read as zero and denormal results flushed to zero, whatever MXCSR says. NaN and Inf
 * propagate as in IEEE arithmetic (Inf * 0 and Inf - Inf are NaN). So the rows run a call on it only
 * when no denormal can appear anywhere (the gate), and hand it to the float32 row otherwise.
 *
 * The gate. Let ex be the smallest biased exponent field of the nonzero elements of one multiplied
 * tensor (NaN and Inf have 255 and never lower it), ew that of the other. A denormal has exponent
 * field 0, so (a) ex >= 1 and ew >= 1 mean there is no denormal input. Every nonzero finite element x
 * is then a multiple of 2^(ex - 127 - 7) (7 fraction bits), every w of 2^(ew - 134), so every product
 * is a multiple of Q = 2^(ex + ew - 268). Every partial sum is a multiple of Q too: the rounded sum of
 * two multiples of Q is either exact (|s| < 2^24 Q: then s = kQ with k < 2^24 is a float) or rounded to
 * a multiple of its ulp, which is >= Q. So a nonzero product or partial sum has magnitude >= Q, and
 * (b) Q >= 2^-126, i.e. ex + ew >= 142, makes every one of them a normal float: flushing never
 * happens and vdpbf16ps computes exactly the IEEE fused multiply-adds. Overflow rounds to Inf as in
 * IEEE (RNE). Zeros (products and the accumulators' start) are exact either way.
 * Example: bfloat16 data in [2^-40, 2^40] passes with room to spare (87 + 87 = 174).
 */
#ifndef RRCONV_BF16DOT_H
#define RRCONV_BF16DOT_H

#include "../kernels.h"

#include <stdint.h>

/* ex + ew must reach this (see above). */
#define RR_BF16DOT_MIN_EXP_SUM 142

/* The gate: 1 if vdpbf16ps is exact for tensors whose smallest nonzero exponent fields are ex, ew. */
static inline int rr_bf16dot_exact(int ex, int ew)
{
    return ex >= 1 && ew >= 1 && ex + ew >= RR_BF16DOT_MIN_EXP_SUM;
}

/* Smallest exponent field of the nonzero elements of n bfloat16 values (255 when none is nonzero). */
static inline int rr_bf16dot_min_exponent(const uint16_t *v, int64_t n)
{
    int e = 255;
    for (int64_t i = 0; i < n; i++) {
        const int mag = v[i] & 0x7fff;
        if (mag != 0 && (mag >> 7) < e) e = mag >> 7;
    }
    return e;
}

/*
 * Channel-pair packing, rr_range_fn over items outer * pairs: src is [outer][cpg][inner] bfloat16 (cpg
 * channels per group, groups folded into outer), dst [outer][pairs][inner] 32-bit words, pair p of a
 * group holding channel 2p in the low half and channel 2p+1 in the high half (zero when 2p+1 = cpg).
 * With sw > 1 (inner = ih * iw) each item's words go straight into the tile plan's phase planes
 * instead, [sw][ih][pw] (pw = ceil(iw / sw); column j of phase r is input column j*sw + r, zero past
 * the row), what the plan would otherwise copy them into in a second pass (RR_TILE_CHANNELS_PHASED).
 * emin[item] gets the smallest exponent field of the item's nonzero elements (255 when none).
 */
typedef struct rr_bf16dot_pack {
    const uint16_t *src;
    uint32_t *dst;
    uint8_t *emin;
    int64_t cpg, pairs, inner;
    int64_t sw, ih, iw, pw; /* sw 1: dst is [outer][pairs][inner] */
} rr_bf16dot_pack;

void rr_bf16dot_pack_avx512(void *ctx, int64_t begin, int64_t end);


/* The forward compute pass over a tile plan whose src and packed weights are channel pairs (plan's
 * c.icpg = pairs; weights [taps][pairs][no] words per oc block; dst of c.out_dtype). */
void rr_fwd_oc_bf16dot_avx512(void *plan, int64_t begin, int64_t end);

/* Exponent scan without packing, rr_range_fn over items of RR_BF16DOT_SCAN elements of v[0..n):
 * emin[item] as for the packing, finite[item] 1 when no element of the item is Inf or NaN. */
#define RR_BF16DOT_SCAN 8192
typedef struct rr_bf16dot_scan {
    const uint16_t *v;
    int64_t n;
    uint8_t *emin, *finite;
} rr_bf16dot_scan;

void rr_bf16dot_scan_avx512(void *ctx, int64_t begin, int64_t end);

/* The smallest exponent field of the nonzero elements of n bfloat16 values (*emin) and whether all of
 * them are finite (*finite), by rr_bf16dot_scan_avx512 in parallel; 0 when out of workspace (ws->status). */
int rr_bf16dot_scan_exponent(const uint16_t *v, int64_t n, rr_workspace *ws, int *emin, int *finite);

/*
 * The filter gradient (tile plan job data, plan's c: the geometry with one channel): items are
 * (g, output channel block, input channel block) of up to RR_BF16DOT_BWF_BO x RR_BF16DOT_BWF_BI
 * channels; pairs of neighbouring pixels of a piece (32 pixels of an output row, or of the flattened
 * plane at stride 1 with OW == IW) in the 32-bit lanes (diff and src loaded as 32 consecutive bfloat16
 * values under the tap's pixel mask, both zero outside it), per tap NO x NI accumulators, carried in
 * gacc ([items][taps][BO][BI][16] floats) from span to span of tiles and chunk to chunk, the lanes
 * summed into gw at the last chunk.
 * When every diff element is finite (diff_finite), diff is loaded without the tap's mask in spans whose
 * diff values lie inside the tensor (DENSE, GRP 0.95x the time with masked loads, rough): src is still
 * zero outside the mask, so there a lane adds finite * 0 = +-0 to its sum, which leaves it unchanged
 * (the sums start at +0, and a round-to-nearest sum that starts at +0 is never -0): bitwise the same.
 */
#define RR_BF16DOT_BWF_BO 6 /* 24 accumulators, 10 loads per 24 vdpbf16ps (4 x 4: 8 per 16) */
#define RR_BF16DOT_BWF_BI 4
typedef struct rr_bf16dot_bwf {
    const uint16_t *src, *diff; /* normalized bfloat16 [N][IC][IH][IW], [N][OC][OH][OW] */
    void *gw;                   /* [G][OCPG][ICPG][FH][FW] of out_dtype */
    rr_dtype out_dtype;
    int64_t groups, icpg, ocpg, nob, nib;
    int diff_finite;            /* no diff element is Inf or NaN */
    const uint16_t *diff_end;   /* diff + N*OC*OH*OW */
    float *gacc;
} rr_bf16dot_bwf;

void rr_bwf_bf16dot_avx512(void *plan, int64_t begin, int64_t end);

#endif /* RRCONV_BF16DOT_H */
