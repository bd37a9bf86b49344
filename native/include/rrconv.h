/*
 * rrconv.h -- region-restricted 2-D convolution, the public C API.
 *
 * This is the only header a user includes. Data tensors are float32, float16 or bfloat16 (one type for
 * the inputs of a call; the output of that type or float32: rrconv_dtype), indexed in NCHW order (masks:
 * int32 or uint8), each described by a base pointer plus per-dimension strides counted in ELEMENTS (not
 * bytes). A NULL strides pointer means "dense, C order". Shapes and parameters live in one descriptor,
 * rrconv_conv_desc, shared by the three directions. Each direction has a typed entry point
 * (rrconv_forward, ...: const void * data and the data types) and a float32 one (rrconv_forward_f32, ...).
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
 * Ownership: the caller owns every tensor and the descriptor. The library only reads the inputs
 * and writes the one output during the call, never keeps a pointer past the call and never frees
 * caller memory. Outputs are overwritten (not accumulated into) and must not overlap any input (an
 * overlap is detected and rejected). Scratch memory the library needs comes from a process-wide
 * cache of blocks that calls reuse (bounded: at most 16 blocks and 256 MiB are kept between calls;
 * freed when the library is unloaded or the process exits). Strings returned by the library
 * (messages, names, version, kernel descriptions) are owned by the library: never free them.
 *
 * Thread safety: every function may be called from any number of threads at once, on the same or
 * on different data (as long as no call's output is another concurrent call's input or output).
 * The library keeps no per-call global state (the scratch cache is guarded by a lock and fork-safe).
 * A process-wide pool of worker threads, created on
 * the first call that uses more than one thread and kept until the process exits (or the library
 * is unloaded), splits each call's work; a call that finds the pool busy with another call runs on
 * its own thread instead of waiting. After a call its workers spin for up to 0.2 ms before they
 * sleep (waking a sleeping thread costs tens of microseconds), so back-to-back calls start at once.
 * Results are bitwise identical for every thread count, whichever way a call is split. The pool
 * is fork-safe: a child process starts with none and creates its own. Error messages are kept per
 * calling thread (rrconv_last_error). No function is async-signal-safe.
 *
 * Linking: pkg-config --cflags --libs rrconv, or CMake find_package(rrconv) with the target
 * rrconv::rrconv (shared, soname librrconv.so.<major>) or rrconv::rrconv_static (librrconv.a; it
 * needs -pthread -lm, which the CMake target and pkg-config --static add). Only rrconv_* symbols
 * are exported. The header is C99/C11 and C++ compatible (extern "C"). RRCONV_VERSION_* give the
 * version compiled against, rrconv_version() the version running; rrconv_active_isa() tells which
 * kernels run.
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

/* The version of this header (compile time); rrconv_version() returns the loaded library's. The
 * shared library's soname carries the major version: librrconv.so.RRCONV_VERSION_MAJOR. */
#define RRCONV_VERSION_MAJOR 0
#define RRCONV_VERSION_MINOR 1
#define RRCONV_VERSION_PATCH 0

/**
 * Status of every call. Zero is success; a non-zero status leaves every output untouched and sets
 * the calling thread's rrconv_last_error() message, which names the function, the argument and the
 * expected and actual values.
 */
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

/**
 * Element type of the data tensors (src, filter, diff) and of the output. Products and sums are float32
 * whatever the type (never half); the inputs widen to float32 exactly, and each output element is
 * rounded once from its float32 sum to the output type: to nearest, ties to even, as IEEE 754 says
 * (overflow gives Inf, tiny values denormals or zero, NaN stays NaN, made quiet).
 *   RRCONV_FLOAT32   float (IEEE binary32)
 *   RRCONV_FLOAT16   IEEE binary16 (1 sign, 5 exponent, 10 fraction bits), 2 bytes, passed as uint16_t bits
 *                    (or _Float16 where the compiler has it)
 *   RRCONV_BFLOAT16  bfloat16 (the high 16 bits of a float32: 8 exponent, 7 fraction bits), 2 bytes,
 *                    passed as uint16_t bits
 */
typedef enum rrconv_dtype {
    RRCONV_FLOAT32 = 0,
    RRCONV_FLOAT16 = 1,
    RRCONV_BFLOAT16 = 2
} rrconv_dtype;

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
 * Channels-last activations are recognised: when src / grad_src and dst / diff of a call are all
 * dense NHWC, i.e. strides [H*W*C, 1, W*C, C], the library runs its channels-last kernels on them in
 * place (other strides are packed for the fast kernels or read in place).
 * Pointers need the natural alignment of their element type (4 bytes for float and int32, 2 for float16
 * and bfloat16).
 */

/*
 * The three directions share their parameters:
 *   desc               shapes and parameters (rrconv_conv_desc); read only; must not be NULL.
 *   <tensor>           base pointer of a tensor, never NULL, element-aligned: float for data,
 *                      int32_t or uint8_t for rin/rout as desc->mask_type says.
 *   <tensor>_strides   that tensor's strides in elements (see above), or NULL for dense C order.
 * Inputs are const and only read. The last tensor is the output: every element of it is written
 * on success (masked-out or unreached positions get 0), nothing on failure.
 * Returns RRCONV_OK, or RRCONV_INVALID_ARGUMENT (bad descriptor, NULL pointer, misaligned pointer,
 * bad strides, overlapping output, sizes that overflow), RRCONV_OUT_OF_MEMORY (scratch allocation
 * failed) or RRCONV_INTERNAL_ERROR (a bug). Thread-safe (see the top of this file).
 */

/*
 * The typed entry points: the same three directions on any rrconv_dtype.
 *   dtype       the element type of the data inputs (src, filter, diff), one for all of them
 *   out_dtype   the element type of the output: dtype, or RRCONV_FLOAT32 (e.g. gradients that an
 *               optimizer accumulates in float32)
 * Data pointers are const void * / void * to elements of those types. Anything else is
 * RRCONV_INVALID_ARGUMENT naming the argument (a dtype that is no rrconv_dtype, an out_dtype that is
 * neither dtype nor RRCONV_FLOAT32, a pointer not aligned to its element type). A float32 call computes
 * exactly what the _f32 entry point computes (those are this call with RRCONV_FLOAT32 twice).
 * Kernels: a call runs the first row of the kernel table (rrconv_kernel_get) that applies to it; rows of
 * dtype "f16" / "bf16" compute on that type directly; an "f32" row also serves a half call: its inputs
 * are widened to float32 scratch and its float32 result rounded into the output, so every row computes
 * every type (the kernel table's dtype says what a row's inner loops read).
 */

/** Forward on any data type: see rrconv_forward_f32 for the tensors, and above for dtype, out_dtype. */
RRCONV_API rrconv_status rrconv_forward(
    const rrconv_conv_desc *desc, int32_t dtype, int32_t out_dtype,
    const void *src,     const int64_t *src_strides,     /* [N, IC, IH, IW], dtype */
    const void *filter,  const int64_t *filter_strides,  /* [G, OCPG, ICPG, FH, FW], dtype */
    const void *rin,     const int64_t *rin_strides,     /* [N, IH, IW], int32 or uint8 */
    const void *rout,    const int64_t *rout_strides,    /* [N, OH, OW], int32 or uint8 */
    void *dst,           const int64_t *dst_strides);    /* [N, OC, OH, OW], out_dtype, written */

/** Backward data on any data type: see rrconv_backward_data_f32, and above for dtype, out_dtype. */
RRCONV_API rrconv_status rrconv_backward_data(
    const rrconv_conv_desc *desc, int32_t dtype, int32_t out_dtype,
    const void *filter,  const int64_t *filter_strides,  /* [G, OCPG, ICPG, FH, FW], dtype */
    const void *diff,    const int64_t *diff_strides,    /* [N, OC, OH, OW], dtype */
    const void *rin,     const int64_t *rin_strides,     /* [N, IH, IW] */
    const void *rout,    const int64_t *rout_strides,    /* [N, OH, OW] */
    void *grad_src,      const int64_t *grad_src_strides); /* [N, IC, IH, IW], out_dtype, written */

/** Backward filter on any data type: see rrconv_backward_filter_f32, and above for dtype, out_dtype. */
RRCONV_API rrconv_status rrconv_backward_filter(
    const rrconv_conv_desc *desc, int32_t dtype, int32_t out_dtype,
    const void *src,     const int64_t *src_strides,     /* [N, IC, IH, IW], dtype */
    const void *diff,    const int64_t *diff_strides,    /* [N, OC, OH, OW], dtype */
    const void *rin,     const int64_t *rin_strides,     /* [N, IH, IW] */
    const void *rout,    const int64_t *rout_strides,    /* [N, OH, OW] */
    void *grad_filter,   const int64_t *grad_filter_strides); /* [G, OCPG, ICPG, FH, FW], out_dtype, written */

/**
 * Forward:  dst = rrconv(src, filter).
 * Inputs src [N, IC, IH, IW], filter [G, OCPG, ICPG, FH, FW], rin [N, IH, IW], rout [N, OH, OW];
 * output dst [N, OC, OH, OW].
 */
RRCONV_API rrconv_status rrconv_forward_f32(
    const rrconv_conv_desc *desc,
    const float *src,    const int64_t *src_strides,     /* [N, IC, IH, IW] */
    const float *filter, const int64_t *filter_strides,  /* [G, OCPG, ICPG, FH, FW] */
    const void *rin,     const int64_t *rin_strides,     /* [N, IH, IW], int32 or uint8 */
    const void *rout,    const int64_t *rout_strides,    /* [N, OH, OW], int32 or uint8 */
    float *dst,          const int64_t *dst_strides);    /* [N, OC, OH, OW], written */

/**
 * Backward data:  grad_src = d<forward, diff>/d src, i.e. for every input pixel the sum of
 * filter * diff over the taps of the same region that read it.
 * Inputs filter [G, OCPG, ICPG, FH, FW], diff [N, OC, OH, OW] (the gradient of dst), rin, rout;
 * output grad_src [N, IC, IH, IW] (the shape of src; IH, IW from desc).
 */
RRCONV_API rrconv_status rrconv_backward_data_f32(
    const rrconv_conv_desc *desc,
    const float *filter, const int64_t *filter_strides,  /* [G, OCPG, ICPG, FH, FW] */
    const float *diff,   const int64_t *diff_strides,    /* [N, OC, OH, OW] */
    const void *rin,     const int64_t *rin_strides,     /* [N, IH, IW] */
    const void *rout,    const int64_t *rout_strides,    /* [N, OH, OW] */
    float *grad_src,     const int64_t *grad_src_strides); /* [N, IC, IH, IW], written */

/**
 * Backward filter:  grad_filter = d<forward, diff>/d filter, in the stored (un-flipped) layout
 * (also in RRCONV_CONVOLUTION mode), summed over the batch.
 * Inputs src [N, IC, IH, IW], diff [N, OC, OH, OW], rin, rout;
 * output grad_filter [G, OCPG, ICPG, FH, FW] (FH, FW from desc).
 */
RRCONV_API rrconv_status rrconv_backward_filter_f32(
    const rrconv_conv_desc *desc,
    const float *src,    const int64_t *src_strides,     /* [N, IC, IH, IW] */
    const float *diff,   const int64_t *diff_strides,    /* [N, OC, OH, OW] */
    const void *rin,     const int64_t *rin_strides,     /* [N, IH, IW] */
    const void *rout,    const int64_t *rout_strides,    /* [N, OH, OW] */
    float *grad_filter,  const int64_t *grad_filter_strides); /* [G, OCPG, ICPG, FH, FW], written */

/**
 * The message of the last failed call on the calling thread, or "" if none failed since the last
 * successful call on this thread of a convolution entry point (rrconv_forward, rrconv_forward_f32, ...)
 * or rrconv_set_num_threads (a success clears it). Never NULL. The
 * string is owned by the library (a per-thread buffer): do not free it; it stays valid until the
 * next rrconv call on this thread. Other threads' failures never change it.
 */
RRCONV_API const char *rrconv_last_error(void);

/**
 * A short name for a status code, e.g. "RRCONV_INVALID_ARGUMENT"; "RRCONV_UNKNOWN_STATUS" for a
 * value that is not an rrconv_status. Never NULL; static storage (do not free). Thread-safe.
 */
RRCONV_API const char *rrconv_status_name(rrconv_status status);

/**
 * The version of the library actually loaded, "MAJOR.MINOR.PATCH" (e.g. "0.1.0"), which may differ
 * from the RRCONV_VERSION_* macros this file was compiled with if another build is loaded at run
 * time. Never NULL; static storage (do not free). Thread-safe.
 */
RRCONV_API const char *rrconv_version(void);

/**
 * The instruction set the fast kernels use: "avx512", "avx2", "portable" (the plain C kernels built
 * with the target's baseline flags: every non-x86 CPU, x86-64 without AVX2, builds without the x86
 * kernel files) or "scalar" (no fast kernels: every call runs the reference loops; only when capped
 * to it). Chosen once per process, on the first call that needs it, from the CPU (and the OS's
 * support for its registers); the environment variable RRCONV_MAX_ISA (avx512 | avx2 | portable |
 * scalar, case-insensitive), read at that moment, caps it. Any other value of RRCONV_MAX_ISA is an
 * error: this function then reports the CPU's level, and every convolution call fails with
 * RRCONV_INVALID_ARGUMENT and a message naming the valid values. Calls with desc->algorithm =
 * RRCONV_ALGO_REFERENCE use the reference loops whatever this says. Never NULL; static storage (do
 * not free). Thread-safe.
 */
RRCONV_API const char *rrconv_active_isa(void);

/**
 * One row of the kernel table: a way the library can compute one direction. Per direction the rows
 * are ordered fastest first and the reference loop ("<direction>_reference") is last; an
 * RRCONV_ALGO_AUTO call runs the first row that applies to its problem and is available. All strings
 * are static storage (do not free).
 */
typedef struct rrconv_kernel_info {
    const char *name;       /**< unique, "<direction>_<variant>__<isa>" or "<direction>_reference";
                                 what RRCONV_KERNEL takes */
    const char *direction;  /**< "forward", "backward_data" or "backward_filter" */
    const char *isa;        /**< "avx512", "avx2", "portable", or "scalar" for the reference rows */
    const char *dtype;      /**< the element type it computes on: "f32", "f16" or "bf16" (a fast f32
                                 row also serves half calls, on inputs widened to float32; the
                                 reference rows, "f32", read every type directly) */
    const char *layout;     /**< the activations' layout it computes on: "nchw" or "nhwc" */
    const char *applies;    /**< when it applies, in words */
    int32_t available;      /**< 1 if this process may run it (CPU and RRCONV_MAX_ISA), else 0 */
    int32_t reserved;       /**< 0 */
} rrconv_kernel_info;

/**
 * The number of rows of the kernel table (>= 3: the reference rows). Thread-safe.
 *
 * Two environment variables, each read once per process at the first convolution call, steer and
 * show the choice:
 *   RRCONV_KERNEL=<name>  RRCONV_ALGO_AUTO calls of that row's direction run that row (the other
 *                         directions choose as usual); a call the row does not apply to, or whose
 *                         ISA this process may not use, fails with RRCONV_UNSUPPORTED and a message
 *                         saying why; a name that is no row fails every call with
 *                         RRCONV_INVALID_ARGUMENT. RRCONV_ALGO_REFERENCE calls still run the reference.
 *   RRCONV_VERBOSE=1      (any value but empty or 0) one line per successful call on stderr:
 *     rrconv_verbose,exec,<direction>,<kernel name>,<isa>,<dtype>,<layout>,mask:<int32|uint8>,
 *     mode:<cross_correlation|convolution>,threads:<T>,<problem>,<ms>[,ran:<row> <why>]
 *   with <dtype> the call's data type (f32, f16, bf16; the row's own, rrconv_kernel_get, says whether it
 *   computed on that type or on widened float32 inputs), <layout> the row's, <problem> like mb1_g64_icpg1_ocpg1_ih128_iw128_oh128_ow128_fh3_fw3_sh1_sw1_ph1_pw1_dh1_dw1
 *   and <ms> the call's wall time in milliseconds, 4 significant digits in fixed notation (0.2310,
 *   12.50, 1234; no decimals from 1000 ms on). The last field is there when the row chosen handed the
 *   call to another row's loops because of the data, which only the call sees: e.g.
 *   "ran:forward_nhwc_depthwise__avx512 active:0.33<0.50" (few active taps: the tap lists) or
 *   "ran:forward_channel_tiles__avx512 (denormal or tiny data)" (a bfloat16 dot-product row's gate).
 */
RRCONV_API int32_t rrconv_kernel_count(void);

/**
 * Fills *info with row `index` (0 <= index < rrconv_kernel_count()) of the kernel table. Returns
 * RRCONV_OK, or RRCONV_INVALID_ARGUMENT (message set, *info unchanged) for an index out of range or
 * a NULL info. Thread-safe.
 */
RRCONV_API rrconv_status rrconv_kernel_get(int32_t index, rrconv_kernel_info *info);

/**
 * Threads used per call (the caller's thread counts as one), process-wide. n <= 0 restores the
 * default: the environment variable RRCONV_NUM_THREADS if set (read once), else the number of
 * online CPUs. Returns RRCONV_OK, or RRCONV_INVALID_ARGUMENT for n > 1024 (the setting is then
 * unchanged). Takes effect for calls that start afterwards; thread-safe. Results never depend on
 * it.
 */
RRCONV_API rrconv_status rrconv_set_num_threads(int32_t n);

/** The thread count calls will use (>= 1): the last rrconv_set_num_threads value or the default. */
RRCONV_API int32_t rrconv_get_num_threads(void);

#ifdef __cplusplus
}
#endif

#endif /* RRCONV_H */
