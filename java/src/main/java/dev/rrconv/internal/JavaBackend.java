package dev.rrconv.internal;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.DType;
import dev.rrconv.KernelInfo;
import dev.rrconv.Layout;
import dev.rrconv.Tensor;
import java.util.List;

/**
 * The pure-Java backend. Each call runs one row of {@link JavaKernels}: the first of its direction that can
 * compute the problem and pays. A call whose activation tensors are all channels-last ({@link #callLayout}) runs
 * the {@code java_<direction>_nhwc_vector} or {@code java_<direction>_nhwc} rows ({@code NhwcLoops}: no repacking
 * into planes, work only on each pixel's active taps); so do channels-first float32 depthwise calls with filters of
 * at least 400 taps where the Vector API runs (rows {@code java_<direction>_via_nhwc_vector}, forward and backward
 * data: transposed in and out). Otherwise, where this backend has the Vector API loops
 * ({@link VectorProvider}, package {@code dev.rrconv.internal.vector}) their {@code java_<direction>_vector} rows
 * come first (float32 data); then the channels-last depthwise loops for depthwise problems with enough channels and taps, the planar loops,
 * which pack their inputs into dense Java arrays and run auto-vectorizable loops, and the straightforward
 * reference loops when the packed planes would not fit in Java arrays, a size checked before anything runs.
 * Results are bitwise identical for every thread count. float16 and bfloat16 inputs are widened to float
 * while the scalar loops pack or read them, and results rounded once as they are stored, so every row
 * computes them in float32 (see {@code Packing}). See {@code dev.rrconv.internal.javaimpl} for the loops.
 */
public final class JavaBackend implements ConvBackend {
    /** A forced row's name, or null to read the user's choice on each call. */
    private final String forced;
    /** Whether the Vector API rows may run ({@code Backend.JAVA} with the module present). */
    private final boolean vector;

    /**
     * @param vector the Vector API loops ({@link VectorProvider}), whose rows then run first where they apply,
     *     or null for the scalar loops only
     */
    JavaBackend(VectorConv vector) {
        this.forced = null;
        this.vector = vector != null;
    }

    /** The scalar loops only, steered by {@code rrconv.javaKernel} / {@code RRCONV_JAVA_KERNEL}. */
    public JavaBackend() {
        this((VectorConv) null);
    }

    /**
     * A backend that runs one row for the calls of that row's direction (tests and benchmarks); the
     * Vector API rows are among them where the module is present.
     *
     * @param row a row's name
     * @throws IllegalArgumentException if there is no such row
     */
    public JavaBackend(String row) {
        this.forced = JavaKernels.named(row).name();
        this.vector = VectorProvider.get().conv().isPresent();
    }

    @Override
    public void forward(ConvShape s, ConvParams p, Tensor src, Tensor filter, Tensor rin, Tensor rout, Tensor dst) {
        run(Direction.FORWARD, s, p, src, filter, rin, rout, dst);
    }

    @Override
    public void backwardData(ConvShape s, ConvParams p, Tensor filter, Tensor diff, Tensor rin, Tensor rout,
                             Tensor gradSrc) {
        run(Direction.BACKWARD_DATA, s, p, filter, diff, rin, rout, gradSrc);
    }

    @Override
    public void backwardFilter(ConvShape s, ConvParams p, Tensor src, Tensor diff, Tensor rin, Tensor rout,
                               Tensor gradFilter) {
        run(Direction.BACKWARD_FILTER, s, p, src, diff, rin, rout, gradFilter);
    }

    @Override
    public List<KernelInfo> kernels() {
        return JavaKernels.table().stream().map(JavaKernel::info).toList();
    }

    /**
     * The layout of a call: {@link Layout#NHWC} if its activation tensors (forward: src and dst; backward data:
     * diff and grad src; backward filter: src and diff) are all channels-last ({@link Layout#of}), else NCHW.
     *
     * @param d the direction
     * @param a the first input, in the direction's order ({@link JavaKernel.Entry})
     * @param b the second input
     * @param out the result
     * @return the layout
     */
    static Layout callLayout(Direction d, Tensor a, Tensor b, Tensor out) {
        Tensor[] acts = switch (d) {
            case FORWARD -> new Tensor[] {a, out};
            case BACKWARD_DATA -> new Tensor[] {b, out};
            case BACKWARD_FILTER -> new Tensor[] {a, b};
        };
        for (Tensor t : acts) {
            if (t.rank() != 4 || Layout.of(t) != Layout.NHWC) {
                return Layout.NCHW;
            }
        }
        return Layout.NHWC;
    }

    private void run(Direction d, ConvShape s, ConvParams p, Tensor a, Tensor b, Tensor rin, Tensor rout,
                     Tensor out) {
        String[] user = forced == null ? JavaKernels.forcedByUser() : new String[] {forced, "the forced row"};
        String noVector = vector ? null : VectorProvider.get().conv().isPresent() ? "the java-scalar backend"
                : "this JVM (" + VectorProvider.get().reason() + ")";
        boolean half = a.dtype() != DType.FLOAT32 || out.dtype() != DType.FLOAT32;
        JavaKernel k = JavaKernels.select(d, s, p, callLayout(d, a, b, out), half, user == null ? null : user[0],
                user == null ? null : user[1], noVector);
        boolean verbose = JavaKernels.verbose();
        int threads = Backends.threads();
        long start = System.nanoTime();
        k.entry().run(s, p, a, b, rin, rout, out, threads);
        if (verbose) {
            Tensor activation = d == Direction.BACKWARD_DATA ? b : a; // src, or diff for backward data
            Layout layout = activation.rank() == 4 ? Layout.of(activation) : Layout.NCHW;
            System.err.println(JavaKernels.verboseLine(k, s, p, activation.dtype(), layout, rin.dtype(), threads,
                    System.nanoTime() - start));
        }
    }
}
