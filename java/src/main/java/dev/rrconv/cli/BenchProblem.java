package dev.rrconv.cli;

import dev.rrconv.Backend;
import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.DType;
import dev.rrconv.RegionConv;
import dev.rrconv.Tensor;
import dev.rrconv.internal.ConvBackend;
import dev.rrconv.internal.NativeBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The tensors of one {@link BenchShape}, allocated once off-heap (64-byte aligned) and filled from a
 * seed, with every output preallocated, so that a timed call is exactly one convolution into a
 * caller-given tensor. Used by {@code rrconv bench} and by the JMH benchmarks.
 *
 * <p>Data: src, filter and diff uniform in [-1, 1). Masks: {@link Masks}; {@code rout[n, oh, ow]} is
 * {@code rin} at the input pixel under the centre tap of output pixel {@code (oh, ow)} (clamped to
 * the image), so for the stride-1 shapes rout is rin itself, as in a segmentation network.
 */
public final class BenchProblem {

    /** The three directions, with their command-line names. */
    public enum Op {
        /** dst from src and filter. */
        FORWARD("forward"),
        /** grad src from filter and diff. */
        BACKWARD_DATA("backward-data"),
        /** grad filter from src and diff. */
        BACKWARD_FILTER("backward-filter");

        private final String cliName;

        Op(String cliName) {
            this.cliName = cliName;
        }

        /** @return {@code forward}, {@code backward-data} or {@code backward-filter} */
        public String cliName() {
            return cliName;
        }

        /**
         * @param name a command-line name
         * @return the direction, or null if the name is none
         */
        public static Op parse(String name) {
            for (Op o : values()) {
                if (o.cliName.equals(name)) {
                    return o;
                }
            }
            return null;
        }
    }

    /** What computes a call: the library backends, or the C library's plain reference loops. */
    public enum Target {
        /** {@link Backend#NATIVE}: the C library's fastest kernels. */
        NATIVE("native", Backend.NATIVE),
        /** {@link Backend#JAVA}: the pure-Java backend (its Vector API loops where the JVM has them). */
        JAVA("java", Backend.JAVA),
        /** {@link Backend#JAVA}, required to run its Vector API loops (refused where the JVM lacks them). */
        JAVA_VECTOR("java-vector", Backend.JAVA),
        /** {@link Backend#JAVA_SCALAR}: the pure-Java backend's scalar loops. */
        JAVA_SCALAR("java-scalar", Backend.JAVA_SCALAR),
        /** The C library's reference loops (slow; the baseline of the speed-up column). */
        REFERENCE("reference", null);

        private final String cliName;
        private final Backend backend;

        Target(String cliName, Backend backend) {
            this.cliName = cliName;
            this.backend = backend;
        }

        /** @return {@code native}, {@code java}, {@code java-vector}, {@code java-scalar} or {@code reference} */
        public String cliName() {
            return cliName;
        }

        /** @return true for the pure-Java targets (whose loops need the JIT's warm-up) */
        public boolean isJava() {
            return backend == Backend.JAVA || backend == Backend.JAVA_SCALAR;
        }

        /**
         * @param name a command-line name
         * @return the target, or null if the name is none
         */
        public static Target parse(String name) {
            for (Target t : values()) {
                if (t.cliName.equals(name)) {
                    return t;
                }
            }
            return null;
        }
    }

    /** How the region masks look. */
    public enum Masks {
        /** Each pixel uniformly in {1, 2, 3}: about a third of the taps of an output pixel are on. */
        RANDOM("random"),
        /** A background 0 with a few overlapping rectangles (ids 1..) per image: large regions. */
        BLOCKY("blocky");

        private final String cliName;

        Masks(String cliName) {
            this.cliName = cliName;
        }

        /** @return {@code random} or {@code blocky} */
        public String cliName() {
            return cliName;
        }

        /**
         * @param name a command-line name
         * @return the kind, or null if the name is none
         */
        public static Masks parse(String name) {
            for (Masks m : values()) {
                if (m.cliName.equals(name)) {
                    return m;
                }
            }
            return null;
        }
    }

    private final BenchShape shape;
    private final ConvShape conv;
    private final ConvParams params;
    private final Tensor src;
    private final Tensor filter;
    private final Tensor diff;
    private final Tensor rin;
    private final Tensor rout;
    private final Tensor dst;
    private final Tensor gradSrc;
    private final Tensor gradFilter;

    /**
     * Allocates and fills the tensors of a shape.
     *
     * @param shape the problem
     * @param masks random or blocky regions
     * @param maskType {@link DType#INT32} or {@link DType#UINT8}
     * @param seed seeds all values
     * @param arena owner of the memory (must stay open while the problem is used)
     */
    public BenchProblem(BenchShape shape, Masks masks, DType maskType, long seed, Arena arena) {
        if (maskType == DType.FLOAT32) {
            throw new IllegalArgumentException("mask type must be int32 or uint8");
        }
        this.shape = shape;
        this.conv = shape.convShape();
        this.params = shape.params();
        ConvShape s = conv;
        SplittableRandom rnd = new SplittableRandom(seed);
        src = Tensor.allocate(arena, DType.FLOAT32, s.srcShape());
        filter = Tensor.allocate(arena, DType.FLOAT32, s.filterShape());
        diff = Tensor.allocate(arena, DType.FLOAT32, s.dstShape());
        fillUniform(src.segment(), rnd);
        fillUniform(filter.segment(), rnd);
        fillUniform(diff.segment(), rnd);
        rin = Tensor.allocate(arena, maskType, s.rinShape());
        rout = Tensor.allocate(arena, maskType, s.routShape());
        fillMasks(masks, rnd);
        dst = Tensor.allocate(arena, DType.FLOAT32, s.dstShape());
        gradSrc = Tensor.allocate(arena, DType.FLOAT32, s.srcShape());
        gradFilter = Tensor.allocate(arena, DType.FLOAT32, s.filterShape());
    }

    private static void fillUniform(MemorySegment seg, SplittableRandom rnd) {
        long count = seg.byteSize() / Float.BYTES;
        for (long i = 0; i < count; i++) {
            seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (rnd.nextDouble() * 2.0 - 1.0));
        }
    }

    private void fillMasks(Masks masks, SplittableRandom rnd) {
        ConvShape s = conv;
        int[] plane = new int[Math.toIntExact(s.ih() * s.iw())];
        int ih = (int) s.ih();
        int iw = (int) s.iw();
        for (long n = 0; n < s.n(); n++) {
            if (masks == Masks.RANDOM) {
                for (int i = 0; i < plane.length; i++) {
                    plane[i] = 1 + rnd.nextInt(3);
                }
            } else {
                java.util.Arrays.fill(plane, 0);
                int rects = 3 + rnd.nextInt(3);
                for (int r = 1; r <= rects; r++) {
                    int rh = Math.max(1, ih / 4 + rnd.nextInt(Math.max(1, ih / 2)));
                    int rw = Math.max(1, iw / 4 + rnd.nextInt(Math.max(1, iw / 2)));
                    int y0 = rnd.nextInt(Math.max(1, ih - rh + 1));
                    int x0 = rnd.nextInt(Math.max(1, iw - rw + 1));
                    for (int y = y0; y < y0 + rh; y++) {
                        java.util.Arrays.fill(plane, y * iw + x0, y * iw + x0 + rw, r);
                    }
                }
            }
            for (int i = 0; i < plane.length; i++) {
                rin.setInt(plane[i], n, i / iw, i % iw);
            }
            long centreH = (long) params.dilationH() * (s.fh() - 1) / 2 - params.padH();
            long centreW = (long) params.dilationW() * (s.fw() - 1) / 2 - params.padW();
            for (long oh = 0; oh < s.oh(); oh++) {
                int y = (int) Math.clamp(oh * params.strideH() + centreH, 0, ih - 1);
                for (long ow = 0; ow < s.ow(); ow++) {
                    int x = (int) Math.clamp(ow * params.strideW() + centreW, 0, iw - 1);
                    rout.setInt(plane[y * iw + x], n, oh, ow);
                }
            }
        }
    }

    /** @return the shape this problem was made for */
    public BenchShape shape() {
        return shape;
    }

    /** @return the resolved sizes */
    public ConvShape convShape() {
        return conv;
    }

    /** @return the input regions (N, IH, IW) */
    public Tensor rin() {
        return rin;
    }

    /** @return the output regions (N, OH, OW) */
    public Tensor rout() {
        return rout;
    }

    /** @return the mask dtype */
    public DType maskType() {
        return rin.dtype();
    }

    /**
     * The output tensor of a direction (preallocated; every call overwrites it).
     *
     * @param op the direction
     * @return dst, grad src or grad filter (5-D)
     */
    public Tensor output(Op op) {
        return switch (op) {
            case FORWARD -> dst;
            case BACKWARD_DATA -> gradSrc;
            case BACKWARD_FILTER -> gradFilter;
        };
    }

    /**
     * A prepared call: one direction on one target, into the preallocated output.
     *
     * @param op the direction
     * @param target what computes it
     * @return the call; each {@link Runnable#run()} computes it once
     * @throws UnsatisfiedLinkError if the target needs the native library and it cannot be loaded
     */
    public Runnable call(Op op, Target target) {
        if (target == Target.REFERENCE) {
            ConvBackend ref = NativeBackend.reference();
            return switch (op) {
                case FORWARD -> () -> ref.forward(conv, params, src, filter, rin, rout, dst);
                case BACKWARD_DATA -> () -> ref.backwardData(conv, params, filter, diff, rin, rout, gradSrc);
                case BACKWARD_FILTER -> () -> ref.backwardFilter(conv, params, src, diff, rin, rout, gradFilter);
            };
        }
        RegionConv rc = RegionConv.of(target.backend);
        return switch (op) {
            case FORWARD -> () -> rc.forward(src, filter, rin, rout, params, dst);
            case BACKWARD_DATA -> () -> rc.backwardData(filter, diff, rin, rout, params, gradSrc);
            case BACKWARD_FILTER -> () -> rc.backwardFilter(src, diff, rin, rout, params, gradFilter);
        };
    }

    @Override
    public String toString() {
        ConvShape s = conv;
        return String.format(Locale.ROOT, "%s: N=%d IC=%d OC=%d G=%d %dx%d -> %dx%d, %dx%d kernel, %s",
                shape.name(), s.n(), s.ic(), s.oc(), s.groups(), s.ih(), s.iw(), s.oh(), s.ow(), s.fh(), s.fw(), params);
    }
}
