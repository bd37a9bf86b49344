package dev.rrconv.internal;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.Tensor;
import dev.rrconv.internal.javaimpl.BackwardDataLoops;
import dev.rrconv.internal.javaimpl.BackwardFilterLoops;
import dev.rrconv.internal.javaimpl.DepthwiseLoops;
import dev.rrconv.internal.javaimpl.ForwardLoops;
import dev.rrconv.internal.javaimpl.ReferenceLoops;

/**
 * The pure-Java backend. Each call packs its inputs into dense Java arrays (planes split by stride
 * phase, masks widened to int), runs auto-vectorizable loops on {@link Backends#threads()} threads
 * (the caller plus a shared daemon pool), and writes the output. Results are bitwise identical for
 * every thread count. See {@code dev.rrconv.internal.javaimpl} for the loops.
 *
 * <p>When {@link VectorProvider} has the Vector API loops ({@code dev.rrconv.internal.vector}) and they take
 * the problem, they run instead of everything below.
 *
 * <p>Depthwise problems with enough channels and taps run channels-last ({@link DepthwiseLoops}). Problems whose packed planes would not fit in a Java array run on the straightforward
 * {@link ReferenceLoops} instead.
 */
public final class JavaBackend implements ConvBackend {
    private final VectorConv vector;

    /**
     * @param vector the Vector API loops, tried first where they apply ({@link VectorProvider}), or null
     *     for the scalar loops only
     */
    JavaBackend(VectorConv vector) {
        this.vector = vector;
    }

    /** The scalar loops only. */
    public JavaBackend() {
        this(null);
    }

    /** Prints the {@code RRCONV_VERBOSE} line of a call the vector loops take. */
    private void verbose(String row) {
        String v = System.getenv("RRCONV_VERBOSE");
        if (v != null && !v.isEmpty() && !v.equals("0")) {
            System.err.println("rrconv: java " + row + " (" + vector.describe() + ")");
        }
    }

    @Override
    public void forward(ConvShape s, ConvParams p, Tensor src, Tensor filter, Tensor rin, Tensor rout, Tensor dst) {
        if (vector != null && vector.appliesForward(s, p)) {
            verbose("java_vector_forward");
            vector.forward(s, p, src, filter, rin, rout, dst);
            return;
        }
        try {
            if (DepthwiseLoops.appliesForward(s, p)) {
                DepthwiseLoops.forward(s, p, src, filter, rin, rout, dst, Backends.threads());
                return;
            }
            ForwardLoops.run(s, p, src, filter, rin, rout, dst, Backends.threads());
        } catch (ArithmeticException tooLarge) {
            ReferenceLoops.forward(s, p, src, filter, rin, rout, dst);
        }
    }

    @Override
    public void backwardData(ConvShape s, ConvParams p, Tensor filter, Tensor diff, Tensor rin, Tensor rout,
                             Tensor gradSrc) {
        if (vector != null && vector.appliesBackwardData(s, p)) {
            verbose("java_vector_backward_data");
            vector.backwardData(s, p, filter, diff, rin, rout, gradSrc);
            return;
        }
        try {
            if (DepthwiseLoops.appliesForward(s, p)) {
                DepthwiseLoops.backwardData(s, p, filter, diff, rin, rout, gradSrc, Backends.threads());
                return;
            }
            BackwardDataLoops.run(s, p, filter, diff, rin, rout, gradSrc, Backends.threads());
        } catch (ArithmeticException tooLarge) {
            ReferenceLoops.backwardData(s, p, filter, diff, rin, rout, gradSrc);
        }
    }

    @Override
    public void backwardFilter(ConvShape s, ConvParams p, Tensor src, Tensor diff, Tensor rin, Tensor rout,
                               Tensor gradFilter) {
        // depthwise filter gradients: the scalar channels-last loops below beat the vector ones (DW-K7, 1 thread,
        // thread CPU time on a busy 2-core host: 14.6 against 17.4 ms), so the vector loops come after them
        if (vector != null && vector.appliesBackwardFilter(s, p) && !DepthwiseLoops.appliesBackwardFilter(s, p)) {
            verbose("java_vector_backward_filter");
            vector.backwardFilter(s, p, src, diff, rin, rout, gradFilter);
            return;
        }
        try {
            if (DepthwiseLoops.appliesBackwardFilter(s, p)) {
                DepthwiseLoops.backwardFilter(s, p, src, diff, rin, rout, gradFilter, Backends.threads());
                return;
            }
            BackwardFilterLoops.run(s, p, src, diff, rin, rout, gradFilter, Backends.threads());
        } catch (ArithmeticException tooLarge) {
            ReferenceLoops.backwardFilter(s, p, src, diff, rin, rout, gradFilter);
        }
    }
}
