/*
 * internal.h -- what the layers under the public API share (never installed).
 *
 * Calls go one way, top to bottom (a ctest, test_layers, checks the kernel layer's objects with nm):
 *   api.c        the public entry points: validates the arguments (the C twin of the Java checks),
 *                the kernel table queries (rrconv_kernel_count / rrconv_kernel_get)
 *   dispatch.c   picks the row of the kernel table to run (RRCONV_KERNEL, RRCONV_VERBOSE)
 *   kernels/     the kernel table (kernels.h, kernel_list.inc, kernel_table.c) and its rows, one folder
 *                per direction, and common/ (normalization, workspace, tile plan, lane helpers)
 *   ref/         the reference loops, the last row of each direction: any strides, both modes and
 *                mask types; the last-resort fallback and the C-side model of the operator
 *   threadpool.c persistent worker pool, rr_parallel_for (chunks claimed from an atomic counter)
 *   cpu.c        ISA detection once, RRCONV_MAX_ISA cap
 *   problem.c    tensor shapes, dense strides
 *   error.c      the per-thread error message (rr_fail), status names
 */
#ifndef RRCONV_INTERNAL_H
#define RRCONV_INTERNAL_H

#include "rrconv.h"

#include <stdint.h>

/* ---- messages (error.c) ---------------------------------------------------------------------- */

/* Formats the calling thread's last-error message; returns status for `return rr_fail(...)`. */
rrconv_status rr_fail(rrconv_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void rr_clear_error(void);

/* ---- preconditions ------------------------------------------------------------------------------ */

/*
 * RR_ASSERT(cond): a precondition of an internal function (kernel entries, plans): checked unless NDEBUG
 * is defined (Debug and sanitizer builds check, Release builds do not; defining RRCONV_ENABLE_ASSERTS,
 * e.g. -DCMAKE_C_FLAGS=-DRRCONV_ENABLE_ASSERTS, forces them on). A failed check prints the condition and its place on stderr and aborts: it is a bug in the
 * library, never the caller's input (api.c has rejected bad input before any of these run).
 */
#if !defined(NDEBUG) || defined(RRCONV_ENABLE_ASSERTS)
void rr_assert_failed(const char *cond, const char *file, int line)
#if defined(__GNUC__)
    __attribute__((noreturn))
#endif
    ;
#define RR_ASSERT(cond) ((cond) ? (void)0 : rr_assert_failed(#cond, __FILE__, __LINE__))
#else
#define RR_ASSERT(cond) ((void)0)
#endif

/* ---- a validated problem --------------------------------------------------------------------- */

/* A strided view; strides in elements, always filled in (never NULL) after validation. */
typedef struct rr_view {
    const void *data;
    int64_t strides[5];
} rr_view;

/* ---- threads (threadpool.c) ------------------------------------------------------------------ */

/* Processes items [begin, end): one chunk of the items, on some thread of the pool. */
typedef void (*rr_range_fn)(void *ctx, int64_t begin, int64_t end);

/*
 * Runs fn over [0, n_items) on the calling thread and up to rrconv_get_num_threads() - 1 workers: the
 * range is cut into contiguous chunks of about n_items / (4k) items (k = min(threads, n_items)) that the
 * threads claim from one atomic counter until none is left, so which thread runs which chunk varies
 * from call to call. Returns when every chunk is done. Each item must be computed the same way
 * whichever thread gets it (items write disjoint outputs, each in a fixed order), so results do not
 * depend on the thread count or the schedule. A call made while the pool is busy (another thread's
 * call, or a nested rr_parallel_for) runs the whole range on the calling thread.
 */
void rr_parallel_for(int64_t n_items, rr_range_fn fn, void *ctx);

/* ---- ISA (cpu.c) ----------------------------------------------------------------------------- */

/* RRCONV_X86_KERNELS is 1 when the AVX2 / AVX-512 kernel files are part of the build (CMake option
 * of that name: on by default on x86-64 with GCC or Clang, impossible elsewhere). Without them the
 * active ISA is at most RR_ISA_PORTABLE: the portable kernels (the kernels/<direction>/<name>__portable.c files, plain C with vector
 * extensions, built with the target's baseline flags) or, capped to scalar, the reference loops. */
#ifndef RRCONV_X86_KERNELS
#define RRCONV_X86_KERNELS 0
#endif

/* Ordered: a row may run when its ISA is <= the active one. portable: plain C that any CPU runs
 * (the kernels/<direction>/<name>__portable.c files); scalar: the reference loops. */
typedef enum rr_isa { RR_ISA_SCALAR = 0, RR_ISA_PORTABLE = 1, RR_ISA_AVX2 = 2, RR_ISA_AVX512 = 3 } rr_isa;

/* The ISA the kernels may use: the CPU's, capped by RRCONV_MAX_ISA (read once per process). */
rr_isa rr_active_isa(void);

/* "scalar", "portable", "avx2", "avx512". */
const char *rr_isa_name(rr_isa isa);

/* NULL, or (RRCONV_MAX_ISA set to an unknown value) the message every call then fails with. */
const char *rr_isa_env_error(void);

/* 1 if the CPU has AVX512_BF16 (vdpbf16ps) beside AVX-512 (detected once; the RRCONV_MAX_ISA cap applies
 * through the rows' ISA, avx512). */
int rr_cpu_has_bf16_dot(void);

/* ---- the validated problem, dispatch, reference loops, normalization (api.c, dispatch.c, ref/) - */

/*
 * Everything below describes a problem that api.c has already validated: sizes >= 1, shapes
 * consistent, every element offset of every tensor fits in int64 (so index*stride products inside
 * the tensors never overflow), outputs non-overlapping and disjoint from every input.
 */

/* Which public entry point. */
typedef enum rr_direction {
    RR_FORWARD = 0,         /* src, filter           -> out = dst         [N, OC, OH, OW] */
    RR_BACKWARD_DATA = 1,   /* filter, diff          -> out = grad_src    [N, IC, IH, IW] */
    RR_BACKWARD_FILTER = 2  /* src, diff             -> out = grad_filter [G, OCPG, ICPG, FH, FW] */
} rr_direction;

/* Element type of the data tensors (src, filter, diff) or of the output. */
typedef enum rr_dtype { RR_DT_F32 = 0, RR_DT_F16 = 1, RR_DT_BF16 = 2 } rr_dtype;

/* Where the channels of the activations (src / grad_src, dst / diff) sit: NCHW (a plane per channel) or
 * NHWC (channels innermost, "channels-last"). The filter and the masks have one layout each. */
typedef enum rr_layout { RR_LAYOUT_NCHW = 0, RR_LAYOUT_NHWC = 1 } rr_layout;

/* "f32", "f16", "bf16" / "nchw", "nhwc" (the names of the kernel table and of RRCONV_VERBOSE). */
const char *rr_dtype_name(rr_dtype t);
const char *rr_layout_name(rr_layout l);

/* The sizes of one convolution, copied from rrconv_conv_desc plus the derived IC and OC. */
typedef struct rr_conv {
    int64_t n, groups, icpg, ocpg;
    int64_t ic, oc;              /* groups*icpg, groups*ocpg */
    int64_t ih, iw, oh, ow, fh, fw;
    int64_t sh, sw, ph, pw, dh, dw;
    rrconv_mode mode;
    rrconv_mask_type mask_type;
    rrconv_algorithm algorithm;
    rr_dtype dtype;              /* the data tensors' element type (src, filter, diff); rr_view data of a
                                    half type points at uint16_t bits */
    rr_dtype out_dtype;          /* the output's element type: dtype or RR_DT_F32 */
    rr_layout layout;            /* NHWC when every activation tensor of the call (inputs and output) is
                                    dense channels-last (and not also dense NCHW: C = 1 or H = W = 1),
                                    else NCHW; in a normalized problem: the layout of the row it runs on */
} rr_conv;

/* The written tensor; strides in elements, always filled in. data points at elements of the problem's
 * c.out_dtype (float for RR_DT_F32, uint16_t bits for RR_DT_F16 / RR_DT_BF16: cast it). */
typedef struct rr_out_view {
    float *data;
    int64_t strides[5];
} rr_out_view;

/*
 * One validated call. Tensors a direction does not read have data == NULL (forward: diff;
 * backward_data: src; backward_filter: filter). rin/rout data points at int32_t or uint8_t
 * elements according to c.mask_type. Dimension order of each view:
 *   src [N, IC, IH, IW]   filter [G, OCPG, ICPG, FH, FW]   diff [N, OC, OH, OW]
 *   rin [N, IH, IW]       rout [N, OH, OW]                 out: see rr_direction
 */
typedef struct rr_problem {
    rr_conv c;
    rr_direction dir;
    const char *op;              /* public function name, for messages */
    rr_view src, filter, diff, rin, rout;
    rr_out_view out;
    /* Where a kernel leaves a word on a choice it made inside (e.g. handing a call with few active taps
     * to another row's loops), for RRCONV_VERBOSE; RR_NOTE_SIZE bytes; NULL (nobody listens): rr_note
     * writes nothing. */
    char *note;
} rr_problem;

/*
 * Backward data at stride 1 is itself a forward correlation (the adjoint): with ph' = (FH-1)*dh - ph and
 * pw' = (FW-1)*dw - pw, grad_src[ic][ih][iw] = sum over (oc, kh, kw) of w[oc][ic][FH-1-kh][FW-1-kw] *
 * diff[oc][ih - ph' + kh*dh][iw - pw' + kw*dw] * [rin(ih, iw) == rout(that pixel)]: a forward problem
 * with diff as its input, grad_src its output, the filter transposed per group and flipped, rin and rout
 * swapped (problem.c). rr_adjoint_conv gives its geometry (sizes, padding, channels swapped);
 * rr_adjoint_problem the whole forward problem, its filter still the caller's (a row passes its
 * transposed / flipped copy, or reads the original through a weight map).
 */
rr_conv rr_adjoint_conv(const rr_conv *c);
rr_problem rr_adjoint_problem(const rr_problem *p);

#define RR_NOTE_SIZE 96
/* printf into p->note (truncated to RR_NOTE_SIZE) when p->note is not NULL (problem.c). */
void rr_note(const rr_problem *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The tensors of a problem, for rr_tensor_shape (problem.c). */
typedef enum rr_tensor {
    RR_T_SRC = 0,    /* also grad_src */
    RR_T_FILTER = 1, /* also grad_filter */
    RR_T_DIFF = 2,   /* also dst */
    RR_T_RIN = 3,
    RR_T_ROUT = 4
} rr_tensor;

/* Writes the extents of tensor t (unused trailing entries = 1); returns its rank (3, 4 or 5). */
int rr_tensor_shape(const rr_conv *c, rr_tensor t, int64_t shape[5]);

/* Shape of the output of direction dir. */
rr_tensor rr_out_tensor(rr_direction dir);

/* "forward", "backward_data", "backward_filter". */
const char *rr_direction_name(rr_direction dir);

/*
 * A kernel: computes p->out from the inputs of p, overwriting every element of the output view.
 * Returns RRCONV_OK or an error status after rr_fail (then it must not have written p->out).
 * The reference loops have this type, so do the fast kernels.
 */
typedef rrconv_status (*rr_kernel_fn)(const rr_problem *p);

/* dispatch.c: runs a validated problem on the row of the kernel table it picks. */
rrconv_status rr_dispatch(const rr_problem *p);

/*
 * Reference loops (ref/): any strides (zero and negative included), both modes, both mask types.
 * Float accumulation in a fixed order per output element, independent of the thread count:
 *   forward         dst[n,oc,oh,ow]          : icg, then kh, then kw (ascending)
 *   backward_data   grad_src[n,ic,ih,iw]     : ocg, then kh, then kw (ascending)
 *   backward_filter grad_filter[g,ocg,icg,..]: n, then oh, then ow (ascending)
 * Parallel over (n, oc) planes, (n, ic) planes and filter elements respectively.
 */
rrconv_status rr_ref_forward(const rr_problem *p);
rrconv_status rr_ref_backward_data(const rr_problem *p);
rrconv_status rr_ref_backward_filter(const rr_problem *p);

/* ---- dense strides (problem.c) --------------------------------------------------------------- */

/* Dense C-order strides for shape[0..ndim). */
void rr_dense_strides(const int64_t *shape, int ndim, int64_t *strides);

/* 1 if strides are dense C order for shape (the stride of an extent-1 dimension is ignored). */
int rr_is_dense(const int64_t *shape, const int64_t *strides, int ndim);

/* 1 if strides a and b address the same elements of shape (strides of extent-1 dimensions ignored). */
int rr_same_strides(const int64_t *shape, const int64_t *a, const int64_t *b, int ndim);

/* The dense strides of tensor t of c in layout l, in the tensor's dimension order (src and diff:
 * [N, C, H, W]; NHWC gives [H*W*C, 1, W*C, C]); the filter and the masks are dense C order in
 * either layout. Returns the rank. */
int rr_layout_strides(const rr_conv *c, rr_tensor t, rr_layout l, int64_t strides[5]);

/* 1 if view v of tensor t is dense in layout l (see rr_layout_strides). */
int rr_is_dense_in(const rr_conv *c, rr_tensor t, const int64_t strides[5], rr_layout l);

/* ---- normalization for fast kernels (kernels/common/normalize.c) ------------------------------- */

/*
 * Copies a float tensor of the given shape (ndim 1..5) from (src, src_strides) to
 * (dst, dst_strides). Strides in elements; any sign (a flip is a negative stride on a base
 * pointer moved to the last element). The views must not overlap. Parallel over rows.
 */
void rr_copy_f32(float *dst, const int64_t *dst_strides, const float *src,
                 const int64_t *src_strides, const int64_t *shape, int ndim);

/*
 * The same for elements of any rr_dtype: dst of dst_type, src of src_type; when the types differ each
 * element is converted (a half type widens to float32 exactly, float32 rounds once to a half type:
 * half.h). rr_copy_f32 is rr_copy with RR_DT_F32 twice.
 */
void rr_copy(void *dst, rr_dtype dst_type, const int64_t *dst_strides, const void *src, rr_dtype src_type,
             const int64_t *src_strides, const int64_t *shape, int ndim);

/* Strided -> dense C order (dst has prod(shape) elements). */
void rr_pack_f32(float *dst, const float *src, const int64_t *src_strides,
                 const int64_t *shape, int ndim);

/* Dense C order -> strided. */
void rr_unpack_f32(float *dst, const int64_t *dst_strides, const float *src,
                   const int64_t *shape, int ndim);

/*
 * Filter [G, OCPG, ICPG, FH, FW] strided -> dense; flip != 0 also mirrors FH and FW, i.e.
 * dst[g,o,i,kh,kw] = src[g,o,i,FH-1-kh,FW-1-kw] (turns a convolution into a cross-correlation).
 */
void rr_pack_filter_f32(float *dst, const float *src, const int64_t src_strides[5],
                        const rr_conv *c, int flip);

/* The inverse of rr_pack_filter_f32: dense (flipped if flip) -> strided filter layout. */
void rr_unpack_filter_f32(float *dst, const int64_t dst_strides[5], const float *src,
                          const rr_conv *c, int flip);

/* rr_pack_filter_f32 / rr_unpack_filter_f32 for elements of any type (converted as rr_copy does). */
void rr_pack_filter(void *dst, rr_dtype dst_type, const void *src, rr_dtype src_type,
                    const int64_t src_strides[5], const rr_conv *c, int flip);
void rr_unpack_filter(void *dst, rr_dtype dst_type, const int64_t dst_strides[5], const void *src,
                      rr_dtype src_type, const rr_conv *c, int flip);

/* Mask [N, H, W] of mask_type (strided) -> dense int32 (equality is preserved exactly). */
void rr_widen_mask(int32_t *dst, const void *src, rrconv_mask_type mask_type,
                   const int64_t src_strides[3], const int64_t shape[3]);

/* The scratch of one call (kernels/common/workspace.h). */
typedef struct rr_workspace rr_workspace;

/*
 * Builds q, the same problem in the form a fast row wants: every tensor dense in the row's layout
 * (rr_layout_strides: src, diff and the activation output NCHW or NHWC; filter and masks C order) with
 * elements of the row's dtype, c.mode = RRCONV_CROSS_CORRELATION, c.mask_type = RRCONV_MASK_INT32,
 * c.layout = layout, c.dtype = dtype. dtype is RR_DT_F32 or p's c.dtype (a half row runs only on calls
 * of its type): an f32 row on a half call gets its inputs widened to float32 and c.out_dtype = F32 (a
 * scratch output that rr_finish rounds into p's); a row of p's dtype keeps c.out_dtype = p's (half, or
 * float32 on request). Inputs that already qualify are used in place, others are packed / transposed /
 * flipped / widened into blocks of ws. q->out is p->out when that qualifies (layout, type) and needs no
 * flip, else a block that rr_finish copies back. Returns RRCONV_OUT_OF_MEMORY (message set, nothing written) if
 * scratch cannot be allocated.
 */
rrconv_status rr_normalize(const rr_problem *p, rr_problem *q, rr_workspace *ws, rr_dtype dtype,
                           rr_layout layout);

/* After a kernel ran on q = rr_normalize(p): copies q->out into p->out if they differ. */
void rr_finish(const rr_problem *p, const rr_problem *q);

#endif /* RRCONV_INTERNAL_H */
