package dev.rrconv.internal;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.KernelInfo;
import dev.rrconv.Layout;
import dev.rrconv.Tensor;

/**
 * One row of the Java backend's kernel table ({@link JavaKernels}).
 *
 * @param name unique name, {@code java_<direction>_<variant>}
 * @param direction the direction it computes
 * @param layout the activations' layout it is made for: automatic dispatch picks an {@link Layout#NHWC} row only
 *               for calls whose activation tensors are all channels-last (a forced row runs on any strides)
 * @param applies when it applies and when automatic dispatch picks it, in words
 * @param check whether it can compute a problem at all (shape class, array sizes)
 * @param pays whether automatic dispatch should pick it for a problem it can compute (a speed heuristic;
 *             a forced row ignores it)
 * @param entry the loops
 */
public record JavaKernel(String name, Direction direction, Layout layout, String applies, Check check, Pays pays,
                         Entry entry) {

    /** A row for channels-first calls ({@link Layout#NCHW}); arguments as in the canonical constructor. */
    public JavaKernel(String name, Direction direction, String applies, Check check, Pays pays, Entry entry) {
        this(name, direction, Layout.NCHW, applies, check, pays, entry);
    }

    /** Whether a row can compute a problem. */
    @FunctionalInterface
    public interface Check {
        /**
         * @param s the problem
         * @param p its parameters
         * @return null if the row can compute it, else why not, in words
         */
        String whyNot(ConvShape s, ConvParams p);
    }

    /** Whether automatic dispatch picks a row for a problem the row can compute. */
    @FunctionalInterface
    public interface Pays {
        /**
         * @param s the problem
         * @param p its parameters
         * @return true to pick the row
         */
        boolean test(ConvShape s, ConvParams p);
    }

    /**
     * The loops of a row. The two inputs are in the direction's order: forward (src, filter), backward data
     * (filter, diff), backward filter (src, diff); the tensors are as {@link ConvBackend} describes them.
     */
    @FunctionalInterface
    public interface Entry {
        /**
         * Computes {@code out}, overwriting it.
         *
         * @param s the problem
         * @param p its parameters
         * @param a the first input
         * @param b the second input
         * @param rin input regions
         * @param rout output regions
         * @param out the result
         * @param threads thread count
         */
        void run(ConvShape s, ConvParams p, Tensor a, Tensor b, Tensor rin, Tensor rout, Tensor out, int threads);
    }

    /** @return the row as the public API lists it (ISA {@code java}; the Vector API rows are available where
     *      the JVM has {@code jdk.incubator.vector}, the others always) */
    public KernelInfo info() {
        boolean available = !JavaKernels.isVector(this) || VectorProvider.get().conv().isPresent();
        return new KernelInfo(name, direction.id(), "java", "f32", layout.cliName(), applies, available);
    }
}
