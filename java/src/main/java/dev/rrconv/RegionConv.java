package dev.rrconv;

import dev.rrconv.internal.Backends;
import dev.rrconv.internal.ConvBackend;
import java.lang.foreign.Arena;
import java.util.Arrays;
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
 * On any exception the output is left untouched. Tensors: float32 src/filter/dst/diff; rin and rout
 * both int32 or both uint8. The filter may be 5-D {@code (G, OCPG, ICPG, FH, FW)} or 4-D
 * {@code (OC, ICPG, FH, FW)} (the same memory) with {@code groups} taken from the parameters.
 *
 * {@snippet :
 * RegionConv conv = RegionConv.of(Backend.NATIVE);
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

    private RegionConv(Backend backend, ConvBackend impl) {
        this.backend = backend;
        this.impl = impl;
    }

    /**
     * The convolution computed by the given backend.
     *
     * @param backend {@link Backend#NATIVE} (loads the C library on first use) or {@link Backend#JAVA}
     * @return the facade
     * @throws UnsatisfiedLinkError if the native library cannot be loaded
     */
    public static RegionConv of(Backend backend) {
        Objects.requireNonNull(backend, "backend");
        return new RegionConv(backend, Backends.get(backend));
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
     * The backend this instance uses.
     *
     * @return the backend
     */
    public Backend backend() {
        return backend;
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
     * @param src input, float32 (N, IC, IH, IW)
     * @param filter float32 (G, OCPG, ICPG, FH, FW) or (OC, ICPG, FH, FW)
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param arena where dst is allocated
     * @return dst, float32 (N, OC, OH, OW), dense
     */
    public Tensor forward(Tensor src, Tensor filter, Tensor rin, Tensor rout, ConvParams params, Arena arena) {
        ConvShape s = checkForward(src, filter, rin, rout, params);
        Objects.requireNonNull(arena, "arena");
        Tensor dst = Tensor.allocate(arena, DType.FLOAT32, s.dstShape());
        impl.forward(s, params, src, filter5(filter, s), rin, rout, dst);
        return dst;
    }

    /**
     * Forward, into a caller-given tensor (any strides; overwritten).
     *
     * @param src input, float32 (N, IC, IH, IW)
     * @param filter float32 (G, OCPG, ICPG, FH, FW) or (OC, ICPG, FH, FW)
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param dst output, float32 (N, OC, OH, OW); writable, overlapping no input
     */
    public void forward(Tensor src, Tensor filter, Tensor rin, Tensor rout, ConvParams params, Tensor dst) {
        ConvShape s = checkForward(src, filter, rin, rout, params);
        checkOutput("dst", dst, s.dstShape(), src, filter, rin, rout);
        impl.forward(s, params, src, filter5(filter, s), rin, rout, dst);
    }

    private static ConvShape checkForward(Tensor src, Tensor filter, Tensor rin, Tensor rout, ConvParams params) {
        Objects.requireNonNull(params, "params");
        checkInput("src", src, DType.FLOAT32);
        checkInput("filter", filter, DType.FLOAT32);
        ConvShape s = ConvShape.ofForward(src.shape(), filter.shape(), params);
        checkMasks(rin, rout, s);
        return s;
    }

    // ---- backward data --------------------------------------------------------------------------

    /**
     * Backward data (the gradient w.r.t. src), into a new tensor allocated in {@code arena}. The
     * spatial size of src is that of rin.
     *
     * @param filter float32 (G, OCPG, ICPG, FH, FW) or (OC, ICPG, FH, FW)
     * @param diff gradient of dst, float32 (N, OC, OH, OW)
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param arena where the result is allocated
     * @return grad src, float32 (N, IC, IH, IW), dense
     */
    public Tensor backwardData(Tensor filter, Tensor diff, Tensor rin, Tensor rout, ConvParams params, Arena arena) {
        ConvShape s = checkBackwardData(filter, diff, rin, rout, params);
        Objects.requireNonNull(arena, "arena");
        Tensor gradSrc = Tensor.allocate(arena, DType.FLOAT32, s.srcShape());
        impl.backwardData(s, params, filter5(filter, s), diff, rin, rout, gradSrc);
        return gradSrc;
    }

    /**
     * Backward data into a caller-given tensor (any strides; overwritten).
     *
     * @param filter float32 (G, OCPG, ICPG, FH, FW) or (OC, ICPG, FH, FW)
     * @param diff gradient of dst, float32 (N, OC, OH, OW)
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param gradSrc output, float32 (N, IC, IH, IW); writable, overlapping no input
     */
    public void backwardData(Tensor filter, Tensor diff, Tensor rin, Tensor rout, ConvParams params, Tensor gradSrc) {
        ConvShape s = checkBackwardData(filter, diff, rin, rout, params);
        checkOutput("gradSrc", gradSrc, s.srcShape(), filter, diff, rin, rout);
        impl.backwardData(s, params, filter5(filter, s), diff, rin, rout, gradSrc);
    }

    private static ConvShape checkBackwardData(Tensor filter, Tensor diff, Tensor rin, Tensor rout, ConvParams params) {
        Objects.requireNonNull(params, "params");
        checkInput("filter", filter, DType.FLOAT32);
        checkInput("diff", diff, DType.FLOAT32);
        checkInput("rin", rin, null);
        ConvShape s = ConvShape.ofBackwardData(filter.shape(), diff.shape(), rin.shape(), params);
        checkMasks(rin, rout, s);
        return s;
    }

    // ---- backward filter ------------------------------------------------------------------------

    /**
     * Backward filter (the gradient w.r.t. the filter), into a new 5-D tensor allocated in {@code arena}.
     *
     * @param src input, float32 (N, IC, IH, IW)
     * @param diff gradient of dst, float32 (N, OC, OH, OW)
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param fh filter height
     * @param fw filter width
     * @param arena where the result is allocated
     * @return grad filter, float32 (G, OCPG, ICPG, FH, FW), dense, in the stored (un-flipped) layout
     */
    public Tensor backwardFilter(Tensor src, Tensor diff, Tensor rin, Tensor rout, ConvParams params,
                                 long fh, long fw, Arena arena) {
        ConvShape s = checkBackwardFilter(src, diff, rin, rout, params, fh, fw);
        Objects.requireNonNull(arena, "arena");
        Tensor gradFilter = Tensor.allocate(arena, DType.FLOAT32, s.filterShape());
        impl.backwardFilter(s, params, src, diff, rin, rout, gradFilter);
        return gradFilter;
    }

    /**
     * Backward filter into a caller-given tensor, 5-D (G, OCPG, ICPG, FH, FW) or 4-D (OC, ICPG, FH, FW),
     * any strides; overwritten. The kernel size is taken from it.
     *
     * @param src input, float32 (N, IC, IH, IW)
     * @param diff gradient of dst, float32 (N, OC, OH, OW)
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param params stride, padding, dilation, groups, mode
     * @param gradFilter output, float32; writable, overlapping no input
     */
    public void backwardFilter(Tensor src, Tensor diff, Tensor rin, Tensor rout, ConvParams params, Tensor gradFilter) {
        checkInput("gradFilter", gradFilter, DType.FLOAT32);
        long[] g = gradFilter.shape();
        if (g.length != 4 && g.length != 5) {
            throw new IllegalArgumentException("gradFilter must have rank 5 (G, OCPG, ICPG, FH, FW) or 4 (OC, ICPG, FH, FW), got shape "
                    + Arrays.toString(g));
        }
        ConvShape.requirePositive("gradFilter", g); // name the tensor, not just "kernel size", for a zero size
        ConvShape s = checkBackwardFilter(src, diff, rin, rout, params, g[g.length - 2], g[g.length - 1]);
        long[] expected = g.length == 5 ? s.filterShape() : new long[] {s.oc(), s.icpg(), s.fh(), s.fw()};
        checkOutput("gradFilter", gradFilter, expected, src, diff, rin, rout);
        impl.backwardFilter(s, params, src, diff, rin, rout, filter5(gradFilter, s));
    }

    private static ConvShape checkBackwardFilter(Tensor src, Tensor diff, Tensor rin, Tensor rout, ConvParams params,
                                                 long fh, long fw) {
        Objects.requireNonNull(params, "params");
        checkInput("src", src, DType.FLOAT32);
        checkInput("diff", diff, DType.FLOAT32);
        ConvShape s = ConvShape.ofBackwardFilter(src.shape(), diff.shape(), fh, fw, params);
        checkMasks(rin, rout, s);
        return s;
    }

    // ---- shared checks --------------------------------------------------------------------------

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
        if (rin.dtype() == DType.FLOAT32) {
            throw new IllegalArgumentException("rin must be int32 or uint8, got float32");
        }
        if (rout.dtype() != rin.dtype()) {
            throw new IllegalArgumentException("rin and rout must have the same dtype, got rin " + rin.dtype()
                    + " and rout " + rout.dtype());
        }
        ConvShape.requireShape("rin", s.rinShape(), rin.shape());
        ConvShape.requireShape("rout", s.routShape(), rout.shape());
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

    private static void checkOutput(String name, Tensor out, long[] expected, Tensor... inputs) {
        checkInput(name, out, DType.FLOAT32);
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
