/*
 * rrconv.h -- region-restricted 2-D convolution, the public C API.
 *
 * This is the only header a user includes. Every tensor is float32 in NCHW order (masks: int32 or
 * uint8), described by a base pointer plus per-dimension strides counted in ELEMENTS (not bytes).
 * A NULL strides pointer means "dense, C order". Shapes and parameters live in one descriptor,
 * rrconv_conv_desc, shared by the three directions.
 *
 * The operator: an output pixel (n, oh, ow) only accumulates input pixels (n, ih, iw) of the same
 * region, i.e. where rin[n, ih, iw] == rout[n, oh, ow] (compared as integers). With
 *   ih = oh*stride_h - pad_h + kh*dil_h,   iw = ow*stride_w - pad_w + kw*dil_w
 * and kh' = kh (cross-correlation) or FH-1-kh (convolution), likewise kw':
 *   dst[n, g*OCPG+ocg, oh, ow] = sum over icg, kh, kw with (ih, iw) inside the image and the regions equal
 *                                of src[n, g*ICPG+icg, ih, iw] * filter[g, ocg, icg, kh', kw']
 * A masked-out or padded tap is skipped, never multiplied by zero: a NaN there cannot reach the output.
 * backward_data and backward_filter are the exact gradients of forward w.r.t. src and filter.
 *
 * Ownership: the library never keeps a pointer past the call and never frees caller memory.
 * Outputs are overwritten (not accumulated into) and must not overlap any input.
 * Thread safety: every entry point may be called from many threads at once; the calls share the
 * library's worker pool (see rrconv_set_num_threads). Results are bitwise identical for every thread
 * count. Error messages are kept per calling thread (rrconv_last_error).
 */
#ifndef RRCONV_H
#define RRCONV_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(RRCONV_BUILDING)
#    define RRCONV_API __declspec(dllexport)
#  else
#    define RRCONV_API
#  endif
#else
#  define RRCONV_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define RRCONV_VERSION_MAJOR 0
#define RRCONV_VERSION_MINOR 1
#define RRCONV_VERSION_PATCH 0

/** Status of every call. Zero is success; a non-zero status leaves every output untouched. */
typedef enum rrconv_status {
    RRCONV_OK = 0,
    RRCONV_INVALID_ARGUMENT = 1, /**< a NULL pointer, an inconsistent shape, a bad parameter */
    RRCONV_UNSUPPORTED = 2,      /**< valid, but not implemented by this build */
    RRCONV_OUT_OF_MEMORY = 3,    /**< scratch memory could not be allocated */
    RRCONV_INTERNAL_ERROR = 4    /**< a bug: please report it */
} rrconv_status;

/** Cross-correlation (the deep-learning convention) or true convolution (spatially flipped filter). */
typedef enum rrconv_mode {
    RRCONV_CROSS_CORRELATION = 0,
    RRCONV_CONVOLUTION = 1
} rrconv_mode;

/** Element type of rin and rout (both the same). */
typedef enum rrconv_mask_type {
    RRCONV_MASK_INT32 = 0,
    RRCONV_MASK_UINT8 = 1
} rrconv_mask_type;

/** Which implementation runs: the fastest available (default) or the plain reference loop. */
typedef enum rrconv_algorithm {
    RRCONV_ALGO_AUTO = 0,
    RRCONV_ALGO_REFERENCE = 1
} rrconv_algorithm;

/**
 * Shapes and parameters of one convolution. Sizes are element counts, all > 0 unless noted.
 * IC = groups*icpg, OC = groups*ocpg.
 * The output size must equal  oh = (ih + 2*pad_h - dil_h*(fh-1) - 1) / stride_h + 1  (floor,
 * and >= 1), likewise ow; the library checks it.
 */
typedef struct rrconv_conv_desc {
    int64_t n;                    /**< batch */
    int64_t groups;               /**< G */
    int64_t icpg;                 /**< input channels per group */
    int64_t ocpg;                 /**< output channels per group */
    int64_t ih, iw;               /**< input (src, rin) height, width */
    int64_t oh, ow;               /**< output (dst, diff, rout) height, width */
    int64_t fh, fw;               /**< filter height, width */
    int64_t stride_h, stride_w;   /**< >= 1 */
    int64_t pad_h, pad_w;         /**< zero padding on each side, >= 0 */
    int64_t dil_h, dil_w;         /**< dilation, >= 1 (1 = dense filter) */
    int32_t mode;                 /**< rrconv_mode */
    int32_t mask_type;            /**< rrconv_mask_type */
    int32_t algorithm;            /**< rrconv_algorithm */
    int32_t reserved;             /**< must be 0 */
} rrconv_conv_desc;

/*
 * Stride arrays (elements; NULL = dense C order; negative strides are rejected; a zero stride is
 * allowed on inputs, e.g. a broadcast, and rejected on outputs except on a dimension of extent 1;
 * an output's strides, sorted ascending over its dimensions of extent > 1, must each be at least
 * the previous stride times the previous extent, so that no two elements share memory):
 *   src / grad_src        [N, IC, IH, IW]          4 strides
 *   dst / diff            [N, OC, OH, OW]          4 strides
 *   filter / grad_filter  [G, OCPG, ICPG, FH, FW]  5 strides
 *   rin                   [N, IH, IW]              3 strides
 *   rout                  [N, OH, OW]              3 strides
 * Pointers need the natural alignment of their element type (4 bytes for float and int32).
 */

/** Forward:  dst = rrconv(src, filter). */
RRCONV_API rrconv_status rrconv_forward_f32(
    const rrconv_conv_desc *desc,
    const float *src,    const int64_t *src_strides,     /* [N, IC, IH, IW] */
    const float *filter, const int64_t *filter_strides,  /* [G, OCPG, ICPG, FH, FW] */
    const void *rin,     const int64_t *rin_strides,     /* [N, IH, IW], int32 or uint8 */
    const void *rout,    const int64_t *rout_strides,    /* [N, OH, OW], int32 or uint8 */
    float *dst,          const int64_t *dst_strides);    /* [N, OC, OH, OW], written */

/** Backward data:  grad_src = d<forward, diff>/d src. */
RRCONV_API rrconv_status rrconv_backward_data_f32(
    const rrconv_conv_desc *desc,
    const float *filter, const int64_t *filter_strides,  /* [G, OCPG, ICPG, FH, FW] */
    const float *diff,   const int64_t *diff_strides,    /* [N, OC, OH, OW] */
    const void *rin,     const int64_t *rin_strides,     /* [N, IH, IW] */
    const void *rout,    const int64_t *rout_strides,    /* [N, OH, OW] */
    float *grad_src,     const int64_t *grad_src_strides); /* [N, IC, IH, IW], written */

/** Backward filter:  grad_filter = d<forward, diff>/d filter, in the stored (un-flipped) layout. */
RRCONV_API rrconv_status rrconv_backward_filter_f32(
    const rrconv_conv_desc *desc,
    const float *src,    const int64_t *src_strides,     /* [N, IC, IH, IW] */
    const float *diff,   const int64_t *diff_strides,    /* [N, OC, OH, OW] */
    const void *rin,     const int64_t *rin_strides,     /* [N, IH, IW] */
    const void *rout,    const int64_t *rout_strides,    /* [N, OH, OW] */
    float *grad_filter,  const int64_t *grad_filter_strides); /* [G, OCPG, ICPG, FH, FW], written */

/**
 * The message of the last failed call on the calling thread ("" if none). The string is owned by
 * the library and stays valid until the next rrconv call on this thread.
 */
RRCONV_API const char *rrconv_last_error(void);

/** A short name for a status code, e.g. "RRCONV_INVALID_ARGUMENT". Never NULL. */
RRCONV_API const char *rrconv_status_name(rrconv_status status);

/** The library version, e.g. "0.1.0". Static storage. */
RRCONV_API const char *rrconv_version(void);

/**
 * The instruction set the fast kernels use: "avx512", "avx2" or "scalar". Chosen once from the CPU;
 * the environment variable RRCONV_MAX_ISA (avx512 | avx2 | scalar), read at that moment, caps it.
 */
RRCONV_API const char *rrconv_active_isa(void);

/**
 * Worker threads used per call (the caller's thread counts as one). n <= 0 restores the default,
 * the number of online CPUs (or the environment variable RRCONV_NUM_THREADS if set). Returns
 * RRCONV_INVALID_ARGUMENT for n > 1024. Takes effect for calls that start afterwards.
 */
RRCONV_API rrconv_status rrconv_set_num_threads(int32_t n);

/** The thread count calls will use. */
RRCONV_API int32_t rrconv_get_num_threads(void);

#ifdef __cplusplus
}
#endif

#endif /* RRCONV_H */
