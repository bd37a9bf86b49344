package dev.rrconv;

import dev.rrconv.internal.Backends;
import dev.rrconv.internal.ConvBackend;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Region-restricted 2-D convolution: forward, backward data and backward filter.
 *
 * <p>An output pixel {@code (n, oh, ow)} only accumulates input pixels {@code (n, ih, iw)} of the
 * same region, {@code rin[n, ih, iw] == rout[n, oh, ow]}:
 * <pre>
 * dst[n, g*OCPG+ocg, oh, ow] = sum over icg, kh, kw of src[n, g*ICPG+icg, ih, iw] * filter[g, ocg, icg, kh', kw']
 *     ih = oh*strideH - padH + kh*dilationH,  iw = ow*strideW - padW + kw*dilationW,
 *     only where (ih, iw) is inside the image and the regions are equal
 * </pre>
 * with {@code kh' = kh} for cross-correlation and {@code FH-1-kh} for convolution (likewise kw).
 * Masked-out and padded taps are skipped: a NaN there never reaches the output.
 *
 * <p>Every method checks all of its arguments before any computation and throws
 * {@link IllegalArgumentException} naming the tensor, the expected and the actual shape or dtype;
 * {@link IllegalStateException} if a segment's arena is closed or not accessible from this thread.
 * On any exception the output is left untouched. A kernel forced by name ({@code RRCONV_KERNEL} for the native
 * backend, {@code RRCONV_JAVA_KERNEL} or {@code -Drrconv.javaKernel} for the Java one; see {@link #kernels()})
 * that cannot compute the problem throws {@link UnsupportedOperationException} naming it and why.
 * Tensors: src/filter/dst/diff float32, float16 or bfloat16; rin and rout both int32 or both uint8. The filter may be 5-D {@code (G, OCPG, ICPG, FH, FW)} or 4-D
 * {@code (OC, ICPG, FH, FW)} (the same memory) with {@code groups} taken from the parameters.
 *
 * <p>Layouts. Activations (src, dst, diff, grad src) are always indexed {@code (N, C, H, W)} and may have any
 * strides; a channels-last tensor is an {@code (N, H, W, C)} array viewed in that order (see {@link Layout}).
 * The methods that allocate their result make it dense in the layout of the activation input
 * ({@link Layout#of(Tensor)}: forward's dst follows src, backward data's grad src follows diff), or in the
 * layout the caller names in the overloads that take a {@link Layout}. The filter and grad filter are always
 * {@code (G, OCPG, ICPG, FH, FW)} (any strides), the masks {@code (N, H, W)}.
 *
 * <p><b>Data types.</b> The two data inputs of a call share one data type. The result has that type, or
 * float32 on request: the overloads taking a {@link DType} {@code outputType} allocate it in that type, and a
 * caller-given output may be of the inputs' type or float32. With float16 or bfloat16 inputs, products and
 * sums are computed in float32 (never in half precision) and each output element is rounded once, to nearest
 * even. Both backends compute half-precision tensors directly (the native one passes them to the C library
 * as they are).
 *
 * {@snippet :
 * RegionConv conv = RegionConv.of(); // Backend.AUTO: native where the library loads, else Java
 * try (Arena arena = Arena.ofConfined()) {
 *     Tensor dst = conv.forward(src, filter, rin, rout, ConvParams.DEFAULT.withPadding(1, 1), arena);
 * }
 * }
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class RegionConv {
    private final Backend backend;
    private final ConvBackend impl;
    private final String reason;

    private RegionConv(Backends.Choice choice) {
        this.backend = choice.backend();
        this.impl = choice.impl();
        this.reason = choice.reason();
    }

    /**
     * The convolution computed by {@link Backend#AUTO}: the native library where it loads, else the
     * Java backend ({@link #backend()} and {@link #backendReason()} say which, and why).
     *
     * @return the facade
     */
    public static RegionConv of() {
        return of(Backend.AUTO);
    }

    /**
     * The convolution computed by the given backend.
     *
     * @param backend {@link Backend#AUTO}, {@link Backend#NATIVE} (loads the C library on first use) or
     *     {@link Backend#JAVA}
     * @return the facade
     * @throws UnsatisfiedLinkError if {@code backend} is {@link Backend#NATIVE} and the native library cannot be
     *     loaded (the message names the platform and the platforms the jar carries)
     */
    public static RegionConv of(Backend backend) {
        Objects.requireNonNull(backend, "backend");
        return new RegionConv(Backends.choose(backend));
    }

    /**
     * Which loops {@link Backend#JAVA} runs in this JVM, and why: {@code java_vector (...)} with the
     * vectors used when the Vector API ({@code jdk.incubator.vector}) is in the module graph, else
     * {@code java scalar loops (...)} with the reason (typically: start java with
     * {@code --add-modules jdk.incubator.vector}). {@link Backend#JAVA_SCALAR} always runs the scalar loops.
     *
     * @return one line, e.g. {@code java_vector (jdk.incubator.vector, 512-bit vectors (16 floats))}
     */
    public static String javaImplementation() {
        return Backends.javaImplementation();
    }

    /**
     * The backend that computes this instance's calls: {@link Backend#NATIVE}, {@link Backend#JAVA} or {@link Backend#JAVA_SCALAR}, never
     * {@link Backend#AUTO} (which has become one of them).
     *
     * @return the backend
     */
    public Backend backend() {
        return backend;
    }

    /**
     * The kernel table of this instance's backend: per direction, the loops a call may run, fastest first, the
     * reference loops last. A call runs the first row of its direction that applies; {@code RRCONV_KERNEL}
     * (native) or {@code RRCONV_JAVA_KERNEL} / {@code -Drrconv.javaKernel} (Java) force one row by name.
     *
     * @return the rows, in table order
     * @throws UnsupportedOperationException if the loaded native library has no kernel table (an older build)
     */
    public List<KernelInfo> kernels() {
        return impl.kernels();
    }

    /**
     * Why {@link #backend()} is the one computing: asked for explicitly, or what {@link Backend#AUTO} found
     * (where the native library was loaded from, or the error that kept it from loading).
     *
     * @return a sentence for users, e.g. {@code auto: the native library did not load: ...}
     */
    public String backendReason() {
        return reason;
    }

    /**
     * Sets the number of threads each call may use, for both backends (the calling thread counts as
     * one). Results are bitwise identical for every thread count.
     *
     * @param threads {@code >= 1}, or {@code 0} for the default (the number of available processors)
     * @throws IllegalArgumentException if threads is negative or above 1024
     */
    public static void setThreads(int threads) {
        Backends.setThreads(threads);
    }

    /**
     * The number of threads each call uses (see {@link #setThreads}).
     *
     * @return the thread count, {@code >= 1}
     */
    public static int threads() {
        return Backends.threads();
    }

    // ---- forward --------------------------------------------------------------------------------

    /**
     * Forward, into a new tensor allocated in {@code arena}.
     *
     * @param src input, float32, float16 or bfloat16 (N, IC, IH, IW)
     * @param filter (G, OCPG, ICPG, FH, FW) or (OC, ICPG, FH, FW), the dtype of the other data input
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param arena where dst is allocated
     * @return dst (N, OC, OH, OW) of the inputs' dtype, dense in the layout of src ({@link Layout#of(Tensor)})
     */
    public Tensor forward(Tensor src, Tensor filter, Tensor rin, Tensor rout, ConvParams params, Arena arena) {
        Objects.requireNonNull(src, "src");
        return forward(src, filter, rin, rout, params, layoutOf(src), src.dtype(), arena);
    }

    /**
     * Forward, into a new tensor of the inputs' dtype allocated in {@code arena} in the given layout.
     *
     * @param src input, float32, float16 or bfloat16 (N, IC, IH, IW)
     * @param filter (G, OCPG, ICPG, FH, FW) or (OC, ICPG, FH, FW), the dtype of src
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param dstLayout the memory order of dst
     * @param arena where dst is allocated
     * @return dst (N, OC, OH, OW), dense in {@code dstLayout}
     */
    public Tensor forward(Tensor src, Tensor filter, Tensor rin, Tensor rout, ConvParams params, Layout dstLayout,
                          Arena arena) {
        Objects.requireNonNull(src, "src");
        return forward(src, filter, rin, rout, params, dstLayout, src.dtype(), arena);
    }

    /**
     * Forward, into a new tensor of the given type allocated in {@code arena} in the layout of src: e.g.
     * float32 results of bfloat16 inputs.
     *
     * @param src input, float32, float16 or bfloat16 (N, IC, IH, IW)
     * @param filter (G, OCPG, ICPG, FH, FW) or (OC, ICPG, FH, FW), the dtype of src
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param outputType the dtype of dst: that of src, or float32
     * @param arena where dst is allocated
     * @return dst (N, OC, OH, OW), dense in the layout of src
     * @throws IllegalArgumentException also if outputType is neither the inputs' type nor float32
     */
    public Tensor forward(Tensor src, Tensor filter, Tensor rin, Tensor rout, ConvParams params, DType outputType,
                          Arena arena) {
        return forward(src, filter, rin, rout, params, layoutOf(src), outputType, arena);
    }

    /**
     * Forward, into a new tensor of the given type and layout allocated in {@code arena}.
     *
     * @param src input, float32, float16 or bfloat16 (N, IC, IH, IW)
     * @param filter (G, OCPG, ICPG, FH, FW) or (OC, ICPG, FH, FW), the dtype of src
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param dstLayout the memory order of dst
     * @param outputType the dtype of dst: that of src, or float32
     * @param arena where dst is allocated
     * @return dst (N, OC, OH, OW), dense in {@code dstLayout}
     * @throws IllegalArgumentException also if outputType is neither the inputs' type nor float32
     */
    public Tensor forward(Tensor src, Tensor filter, Tensor rin, Tensor rout, ConvParams params, Layout dstLayout,
                          DType outputType, Arena arena) {
        ConvShape s = checkForward(src, filter, rin, rout, params);
        Objects.requireNonNull(dstLayout, "dstLayout");
        checkOutputType("dst", outputType, src.dtype());
        Objects.requireNonNull(arena, "arena");
        Tensor dst = Tensor.allocate(arena, outputType, dstLayout, s.n(), s.oc(), s.oh(), s.ow());
        impl.forward(s, params, src, filter5(filter, s), rin, rout, dst);
        return dst;
    }

    /**
     * Forward, into a caller-given tensor (any strides; overwritten).
     *
     * @param src input, float32, float16 or bfloat16 (N, IC, IH, IW)
     * @param filter (G, OCPG, ICPG, FH, FW) or (OC, ICPG, FH, FW), the dtype of the other data input
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param dst output (N, OC, OH, OW), the dtype of src or float32; writable, overlapping no input
     */
    public void forward(Tensor src, Tensor filter, Tensor rin, Tensor rout, ConvParams params, Tensor dst) {
        ConvShape s = checkForward(src, filter, rin, rout, params);
        checkOutput("dst", dst, s.dstShape(), src.dtype(), src, filter, rin, rout);
        impl.forward(s, params, src, filter5(filter, s), rin, rout, dst);
    }

    private static ConvShape checkForward(Tensor src, Tensor filter, Tensor rin, Tensor rout, ConvParams params) {
        Objects.requireNonNull(params, "params");
        checkData("src", src, "filter", filter);
        ConvShape s = ConvShape.ofForward(src.shape(), filter.shape(), params);
        checkMasks(rin, rout, s);
        return s;
    }

    // ---- backward data --------------------------------------------------------------------------

    /**
     * Backward data (the gradient w.r.t. src), into a new tensor allocated in {@code arena}. The
     * spatial size of src is that of rin.
     *
     * @param filter (G, OCPG, ICPG, FH, FW) or (OC, ICPG, FH, FW), the dtype of the other data input
     * @param diff gradient of dst (N, OC, OH, OW), float32, float16 or bfloat16, the dtype of the other data input
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param arena where the result is allocated
     * @return grad src (N, IC, IH, IW) of the inputs' dtype, dense in the layout of diff ({@link Layout#of(Tensor)})
     */
    public Tensor backwardData(Tensor filter, Tensor diff, Tensor rin, Tensor rout, ConvParams params, Arena arena) {
        Objects.requireNonNull(diff, "diff");
        return backwardData(filter, diff, rin, rout, params, layoutOf(diff), diff.dtype(), arena);
    }

    /**
     * Backward data (the gradient w.r.t. src), into a new tensor of the inputs' dtype allocated in
     * {@code arena} in the given layout. The spatial size of src is that of rin.
     *
     * @param filter (G, OCPG, ICPG, FH, FW) or (OC, ICPG, FH, FW), the dtype of diff
     * @param diff gradient of dst, float32, float16 or bfloat16 (N, OC, OH, OW)
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param gradSrcLayout the memory order of the result
     * @param arena where the result is allocated
     * @return grad src (N, IC, IH, IW), dense in {@code gradSrcLayout}
     */
    public Tensor backwardData(Tensor filter, Tensor diff, Tensor rin, Tensor rout, ConvParams params,
                               Layout gradSrcLayout, Arena arena) {
        Objects.requireNonNull(diff, "diff");
        return backwardData(filter, diff, rin, rout, params, gradSrcLayout, diff.dtype(), arena);
    }

    /**
     * Backward data into a new tensor of the given type allocated in {@code arena} in the layout of diff:
     * e.g. float32 gradients of bfloat16 inputs.
     *
     * @param filter (G, OCPG, ICPG, FH, FW) or (OC, ICPG, FH, FW), the dtype of diff
     * @param diff gradient of dst, float32, float16 or bfloat16 (N, OC, OH, OW)
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param outputType the dtype of the result: that of the inputs, or float32
     * @param arena where the result is allocated
     * @return grad src (N, IC, IH, IW), dense in the layout of diff
     * @throws IllegalArgumentException also if outputType is neither the inputs' type nor float32
     */
    public Tensor backwardData(Tensor filter, Tensor diff, Tensor rin, Tensor rout, ConvParams params,
                               DType outputType, Arena arena) {
        return backwardData(filter, diff, rin, rout, params, layoutOf(diff), outputType, arena);
    }

    /**
     * Backward data into a new tensor of the given type and layout allocated in {@code arena}.
     *
     * @param filter (G, OCPG, ICPG, FH, FW) or (OC, ICPG, FH, FW), the dtype of diff
     * @param diff gradient of dst, float32, float16 or bfloat16 (N, OC, OH, OW)
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param gradSrcLayout the memory order of the result
     * @param outputType the dtype of the result: that of the inputs, or float32
     * @param arena where the result is allocated
     * @return grad src (N, IC, IH, IW), dense in {@code gradSrcLayout}
     * @throws IllegalArgumentException also if outputType is neither the inputs' type nor float32
     */
    public Tensor backwardData(Tensor filter, Tensor diff, Tensor rin, Tensor rout, ConvParams params,
                               Layout gradSrcLayout, DType outputType, Arena arena) {
        ConvShape s = checkBackwardData(filter, diff, rin, rout, params);
        Objects.requireNonNull(gradSrcLayout, "gradSrcLayout");
        checkOutputType("gradSrc", outputType, diff.dtype());
        Objects.requireNonNull(arena, "arena");
        Tensor gradSrc = Tensor.allocate(arena, outputType, gradSrcLayout, s.n(), s.ic(), s.ih(), s.iw());
        impl.backwardData(s, params, filter5(filter, s), diff, rin, rout, gradSrc);
        return gradSrc;
    }

    /**
     * Backward data into a caller-given tensor (any strides; overwritten).
     *
     * @param filter (G, OCPG, ICPG, FH, FW) or (OC, ICPG, FH, FW), the dtype of the other data input
     * @param diff gradient of dst (N, OC, OH, OW), float32, float16 or bfloat16, the dtype of the other data input
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param gradSrc output (N, IC, IH, IW), the dtype of the inputs or float32; writable, overlapping no input
     */
    public void backwardData(Tensor filter, Tensor diff, Tensor rin, Tensor rout, ConvParams params, Tensor gradSrc) {
        ConvShape s = checkBackwardData(filter, diff, rin, rout, params);
        checkOutput("gradSrc", gradSrc, s.srcShape(), diff.dtype(), filter, diff, rin, rout);
        impl.backwardData(s, params, filter5(filter, s), diff, rin, rout, gradSrc);
    }

    private static ConvShape checkBackwardData(Tensor filter, Tensor diff, Tensor rin, Tensor rout, ConvParams params) {
        Objects.requireNonNull(params, "params");
        checkData("filter", filter, "diff", diff);
        checkInput("rin", rin, null);
        ConvShape s = ConvShape.ofBackwardData(filter.shape(), diff.shape(), rin.shape(), params);
        checkMasks(rin, rout, s);
        return s;
    }

    // ---- backward filter ------------------------------------------------------------------------

    /**
     * Backward filter (the gradient w.r.t. the filter), into a new 5-D tensor allocated in {@code arena}.
     *
     * @param src input, float32, float16 or bfloat16 (N, IC, IH, IW)
     * @param diff gradient of dst (N, OC, OH, OW), float32, float16 or bfloat16, the dtype of the other data input
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param fh filter height
     * @param fw filter width
     * @param arena where the result is allocated
     * @return grad filter of the inputs' dtype (G, OCPG, ICPG, FH, FW), dense, in the stored (un-flipped) layout
     */
    public Tensor backwardFilter(Tensor src, Tensor diff, Tensor rin, Tensor rout, ConvParams params,
                                 long fh, long fw, Arena arena) {
        Objects.requireNonNull(src, "src");
        return backwardFilter(src, diff, rin, rout, params, fh, fw, src.dtype(), arena);
    }

    /**
     * Backward filter into a new 5-D tensor of the given type allocated in {@code arena}: e.g. float32
     * gradients, which an optimizer accumulates, of bfloat16 inputs.
     *
     * @param src input, float32, float16 or bfloat16 (N, IC, IH, IW)
     * @param diff gradient of dst (N, OC, OH, OW), the dtype of src
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param fh filter height
     * @param fw filter width
     * @param outputType the dtype of the result: that of the inputs, or float32
     * @param arena where the result is allocated
     * @return grad filter (G, OCPG, ICPG, FH, FW), dense, in the stored (un-flipped) layout
     * @throws IllegalArgumentException also if outputType is neither the inputs' type nor float32
     */
    public Tensor backwardFilter(Tensor src, Tensor diff, Tensor rin, Tensor rout, ConvParams params,
                                 long fh, long fw, DType outputType, Arena arena) {
        ConvShape s = checkBackwardFilter(src, diff, rin, rout, params, fh, fw);
        checkOutputType("gradFilter", outputType, src.dtype());
        Objects.requireNonNull(arena, "arena");
        Tensor gradFilter = Tensor.allocate(arena, outputType, s.filterShape());
        impl.backwardFilter(s, params, src, diff, rin, rout, gradFilter);
        return gradFilter;
    }

    /**
     * Backward filter into a caller-given tensor, 5-D (G, OCPG, ICPG, FH, FW) or 4-D (OC, ICPG, FH, FW),
     * any strides; overwritten. The kernel size is taken from it.
     *
     * @param src input, float32, float16 or bfloat16 (N, IC, IH, IW)
     * @param diff gradient of dst (N, OC, OH, OW), float32, float16 or bfloat16, the dtype of the other data input
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param gradFilter output, the dtype of the inputs or float32; writable, overlapping no input
     */
    public void backwardFilter(Tensor src, Tensor diff, Tensor rin, Tensor rout, ConvParams params, Tensor gradFilter) {
        checkInput("gradFilter", gradFilter, null);
        long[] g = gradFilter.shape();
        if (g.length != 4 && g.length != 5) {
            throw new IllegalArgumentException("gradFilter must have rank 5 (G, OCPG, ICPG, FH, FW) or 4 (OC, ICPG, FH, FW), got shape "
                    + Arrays.toString(g));
        }
        ConvShape.requirePositive("gradFilter", g); // name the tensor, not just "kernel size", for a zero size
        ConvShape s = checkBackwardFilter(src, diff, rin, rout, params, g[g.length - 2], g[g.length - 1]);
        long[] expected = g.length == 5 ? s.filterShape() : new long[] {s.oc(), s.icpg(), s.fh(), s.fw()};
        checkOutput("gradFilter", gradFilter, expected, src.dtype(), src, diff, rin, rout);
        impl.backwardFilter(s, params, src, diff, rin, rout, filter5(gradFilter, s));
    }

    private static ConvShape checkBackwardFilter(Tensor src, Tensor diff, Tensor rin, Tensor rout, ConvParams params,
                                                 long fh, long fw) {
        Objects.requireNonNull(params, "params");
        checkData("src", src, "diff", diff);
        ConvShape s = ConvShape.ofBackwardFilter(src.shape(), diff.shape(), fh, fw, params);
        checkMasks(rin, rout, s);
        return s;
    }

    // ---- shared checks --------------------------------------------------------------------------

    /** The layout an allocated output follows; any tensor the checks will then reject gives NCHW. */
    private static Layout layoutOf(Tensor activation) {
        return activation != null && activation.rank() == 4 ? Layout.of(activation) : Layout.NCHW;
    }

    /** A 4-D filter (OC, ICPG, FH, FW) viewed as (G, OCPG, ICPG, FH, FW); a 5-D one as is. */
    private static Tensor filter5(Tensor f, ConvShape s) {
        if (f.rank() == 5) {
            return f;
        }
        long[] st = f.strides();
        return Tensor.ofStrided(f.segment(), f.dtype(), s.filterShape(),
                new long[] {st[0] * s.ocpg(), st[0], st[1], st[2], st[3]});
    }

    private static void checkMasks(Tensor rin, Tensor rout, ConvShape s) {
        checkInput("rin", rin, null);
        checkInput("rout", rout, null);
        if (rin.dtype().isFloating()) {
            throw new IllegalArgumentException("rin must be int32 or uint8, got " + rin.dtype());
        }
        if (rout.dtype() != rin.dtype()) {
            throw new IllegalArgumentException("rin and rout must have the same dtype, got rin " + rin.dtype()
                    + " and rout " + rout.dtype());
        }
        ConvShape.requireShape("rin", s.rinShape(), rin.shape());
        ConvShape.requireShape("rout", s.routShape(), rout.shape());
    }

    /** The two data inputs: each float32, float16 or bfloat16 (and otherwise as checkInput), both the same. */
    private static void checkData(String nameA, Tensor a, String nameB, Tensor b) {
        checkInput(nameA, a, null);
        checkInput(nameB, b, null);
        requireFloating(nameA, a);
        requireFloating(nameB, b);
        if (a.dtype() != b.dtype()) {
            throw new IllegalArgumentException(nameA + " and " + nameB + " must share one data type, got " + nameA
                    + " " + a.dtype() + " and " + nameB + " " + b.dtype());
        }
    }

    private static void requireFloating(String name, Tensor t) {
        if (!t.dtype().isFloating()) {
            throw new IllegalArgumentException(name + " must be float32, float16 or bfloat16, got " + t.dtype() + " " + t);
        }
    }

    /** An output's dtype: the inputs' type or float32. */
    private static void checkOutputType(String name, DType type, DType inputType) {
        Objects.requireNonNull(type, "outputType");
        if (type != inputType && type != DType.FLOAT32) {
            throw new IllegalArgumentException(name + " must be " + inputType + " (the inputs' type)"
                    + (inputType == DType.FLOAT32 ? "" : " or float32") + ", got " + type);
        }
    }

    /** Non-null, expected dtype (null: any), live and accessible from this thread, naturally aligned if native. */
    static void checkInput(String name, Tensor t, DType dtype) {
        Objects.requireNonNull(t, name);
        if (dtype != null && t.dtype() != dtype) {
            throw new IllegalArgumentException(name + " must be " + dtype + ", got " + t.dtype() + " " + t);
        }
        var seg = t.segment();
        if (!seg.scope().isAlive()) {
            throw new IllegalStateException(name + ": the arena of its segment is closed");
        }
        if (!seg.isAccessibleBy(Thread.currentThread())) {
            throw new IllegalStateException(name + ": its segment belongs to a confined arena of another thread");
        }
        if (seg.isNative() && seg.address() % t.dtype().byteSize() != 0) {
            throw new IllegalArgumentException(name + ": segment address 0x" + Long.toHexString(seg.address())
                    + " is not aligned to " + t.dtype().byteSize() + " bytes (" + t.dtype() + ")");
        }
    }

    private static void checkOutput(String name, Tensor out, long[] expected, DType inputType, Tensor... inputs) {
        checkInput(name, out, null);
        checkOutputType(name, out.dtype(), inputType);
        ConvShape.requireShape(name, expected, out.shape());
        if (out.segment().isReadOnly()) {
            throw new IllegalArgumentException(name + " is read-only");
        }
        if (!nonOverlapping(out)) {
            throw new IllegalArgumentException(name + " has overlapping strides " + Arrays.toString(out.strides())
                    + " for shape " + Arrays.toString(out.shape()) + ": two elements would share memory");
        }
        var outSpan = out.segment().asSlice(0, out.spanBytes());
        for (Tensor in : inputs) {
            if (in.spanBytes() > 0 && outSpan.asOverlappingSlice(in.segment().asSlice(0, in.spanBytes())).isPresent()) {
                throw new IllegalArgumentException(name + " overlaps the memory of input " + in
                        + "; outputs must not alias inputs");
            }
        }
    }

    /** True if no two index tuples of t map to the same element. */
    private static boolean nonOverlapping(Tensor t) {
        int r = t.rank();
        Integer[] order = new Integer[r];
        for (int i = 0; i < r; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Long.compare(t.stride(a), t.stride(b)));
        long needed = 1;
        for (int i : order) {
            if (t.dim(i) == 1) {
                continue;
            }
            if (t.stride(i) < needed) {
                return false;
            }
            needed = t.stride(i) * t.dim(i);
        }
        return true;
    }
}
