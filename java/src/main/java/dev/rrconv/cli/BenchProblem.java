package dev.rrconv.cli;

import dev.rrconv.Backend;
import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.DType;
import dev.rrconv.Layout;
import dev.rrconv.RegionConv;
import dev.rrconv.Tensor;
import dev.rrconv.internal.ConvBackend;
import dev.rrconv.internal.HalfFloats;
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
 * {@link #activeFraction()} says which share of the in-image taps the masks leave active.
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
        BLOCKY("blocky"),
        /**
         * Superpixels: Voronoi regions of one seed per 8x8-pixel cell, placed uniformly at random inside
         * its cell; a pixel's id is the index of its nearest seed's cell (row-major; uint8 masks keep it
         * modulo 256). Regions of about 64 pixels, as a superpixel segmentation gives.
         */
        SUPERPIXEL("superpixel");

        private final String cliName;

        Masks(String cliName) {
            this.cliName = cliName;
        }

        /** @return {@code random}, {@code blocky} or {@code superpixel} */
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
    private final double activeFraction;

    /**
     * Allocates and fills the tensors of a shape, NCHW.
     *
     * @param shape the problem
     * @param masks random, blocky or superpixel regions
     * @param maskType {@link DType#INT32} or {@link DType#UINT8}
     * @param seed seeds all values
     * @param arena owner of the memory (must stay open while the problem is used)
     */
    public BenchProblem(BenchShape shape, Masks masks, DType maskType, long seed, Arena arena) {
        this(shape, masks, maskType, Layout.NCHW, seed, arena);
    }

    /**
     * Allocates and fills the tensors of a shape, with src, dst, diff and grad src dense in the given layout
     * (the values are drawn in memory order, so the two layouts hold different data of the same distribution).
     *
     * @param shape the problem
     * @param masks random, blocky or superpixel regions
     * @param maskType {@link DType#INT32} or {@link DType#UINT8}
     * @param layout memory order of the activations
     * @param seed seeds all values
     * @param arena owner of the memory (must stay open while the problem is used)
     */
    public BenchProblem(BenchShape shape, Masks masks, DType maskType, Layout layout, long seed, Arena arena) {
        this(shape, masks, maskType, layout, DType.FLOAT32, seed, arena);
    }

    /**
     * Allocates and fills the tensors of a shape, with src, filter, diff and the outputs of a data type
     * (half-precision values are the float32 draws rounded to it).
     *
     * @param shape the problem
     * @param masks random, blocky or superpixel regions
     * @param maskType {@link DType#INT32} or {@link DType#UINT8}
     * @param layout memory order of the activations
     * @param dtype {@link DType#FLOAT32}, {@link DType#FLOAT16} or {@link DType#BFLOAT16}
     * @param seed seeds all values
     * @param arena owner of the memory (must stay open while the problem is used)
     */
    public BenchProblem(BenchShape shape, Masks masks, DType maskType, Layout layout, DType dtype, long seed,
                        Arena arena) {
        if (maskType.isFloating()) {
            throw new IllegalArgumentException("mask type must be int32 or uint8");
        }
        if (!dtype.isFloating()) {
            throw new IllegalArgumentException("data type must be float32, float16 or bfloat16");
        }
        this.shape = shape;
        this.conv = shape.convShape();
        this.params = shape.params();
        ConvShape s = conv;
        SplittableRandom rnd = new SplittableRandom(seed);
        src = Tensor.allocate(arena, dtype, layout, s.n(), s.ic(), s.ih(), s.iw());
        filter = Tensor.allocate(arena, dtype, s.filterShape());
        diff = Tensor.allocate(arena, dtype, layout, s.n(), s.oc(), s.oh(), s.ow());
        fillUniform(src, rnd);
        fillUniform(filter, rnd);
        fillUniform(diff, rnd);
        rin = Tensor.allocate(arena, maskType, s.rinShape());
        rout = Tensor.allocate(arena, maskType, s.routShape());
        activeFraction = fillMasks(masks, rnd);
        dst = Tensor.allocate(arena, dtype, layout, s.n(), s.oc(), s.oh(), s.ow());
        gradSrc = Tensor.allocate(arena, dtype, layout, s.n(), s.ic(), s.ih(), s.iw());
        gradFilter = Tensor.allocate(arena, dtype, s.filterShape());
    }

    /** Fills a dense tensor, in memory order, with uniform draws from [-1, 1) (rounded to its type). */
    private static void fillUniform(Tensor t, SplittableRandom rnd) {
        MemorySegment seg = t.segment();
        DType type = t.dtype();
        for (long i = 0; i < t.elementCount(); i++) {
            float v = (float) (rnd.nextDouble() * 2.0 - 1.0);
            if (type == DType.FLOAT32) {
                seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, v);
            } else {
                seg.setAtIndex(ValueLayout.JAVA_SHORT, i, HalfFloats.fromFloat(type, v));
            }
        }
    }

    /** Fills rin and rout of every image; returns the active fraction of the in-image taps. */
    private double fillMasks(Masks masks, SplittableRandom rnd) {
        ConvShape s = conv;
        int ih = (int) s.ih();
        int iw = (int) s.iw();
        int[] routPlane = new int[Math.toIntExact(s.oh() * s.ow())];
        long active = 0;
        long inImage = 0;
        for (long n = 0; n < s.n(); n++) {
            int[] plane = switch (masks) {
                case RANDOM -> randomPlane(ih, iw, rnd);
                case BLOCKY -> blockyPlane(ih, iw, rnd);
                case SUPERPIXEL -> superpixelPlane(ih, iw, rnd);
            };
            for (int i = 0; i < plane.length; i++) {
                rin.setInt(plane[i], n, i / iw, i % iw);
            }
            long centreH = (long) params.dilationH() * (s.fh() - 1) / 2 - params.padH();
            long centreW = (long) params.dilationW() * (s.fw() - 1) / 2 - params.padW();
            for (long oh = 0; oh < s.oh(); oh++) {
                int y = (int) Math.clamp(oh * params.strideH() + centreH, 0, ih - 1);
                for (long ow = 0; ow < s.ow(); ow++) {
                    int x = (int) Math.clamp(ow * params.strideW() + centreW, 0, iw - 1);
                    routPlane[(int) (oh * s.ow() + ow)] = plane[y * iw + x];
                    rout.setInt(plane[y * iw + x], n, oh, ow);
                }
            }
            // compare what the tensors hold (uint8 masks keep ids modulo 256)
            int[] storedIn = storedIds(plane, maskType());
            int[] storedOut = storedIds(routPlane, maskType());
            long[] counts = activeTaps(storedIn, ih, iw, storedOut, s, params);
            active += counts[0];
            inImage += counts[1];
        }
        return inImage == 0 ? 0 : (double) active / inImage;
    }

    private static int[] storedIds(int[] ids, DType maskType) {
        if (maskType != DType.UINT8) {
            return ids;
        }
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = ids[i] & 0xFF;
        }
        return out;
    }

    private static int[] randomPlane(int ih, int iw, SplittableRandom rnd) {
        int[] plane = new int[Math.multiplyExact(ih, iw)];
        for (int i = 0; i < plane.length; i++) {
            plane[i] = 1 + rnd.nextInt(3);
        }
        return plane;
    }

    private static int[] blockyPlane(int ih, int iw, SplittableRandom rnd) {
        int[] plane = new int[Math.multiplyExact(ih, iw)];
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
        return plane;
    }

    /** Side of the cells that each hold one superpixel seed. */
    static final int SUPERPIXEL_CELL = 8;

    /**
     * Superpixel regions of one (ih, iw) image: the cells are {@value #SUPERPIXEL_CELL}x{@value
     * #SUPERPIXEL_CELL} pixels (those on the right and bottom edges cut by the image), each with one seed
     * drawn uniformly among its pixels; a pixel takes the index {@code cy * cellsAcross + cx} of the cell
     * whose seed is nearest (Euclidean; a tie goes to the lower index).
     *
     * @return the ids, row-major
     */
    static int[] superpixelPlane(int ih, int iw, SplittableRandom rnd) {
        int c = SUPERPIXEL_CELL;
        int cellsDown = (ih + c - 1) / c;
        int cellsAcross = (iw + c - 1) / c;
        int[] seedY = new int[cellsDown * cellsAcross];
        int[] seedX = new int[seedY.length];
        for (int cy = 0; cy < cellsDown; cy++) {
            for (int cx = 0; cx < cellsAcross; cx++) {
                int k = cy * cellsAcross + cx;
                seedY[k] = cy * c + rnd.nextInt(Math.min(c, ih - cy * c));
                seedX[k] = cx * c + rnd.nextInt(Math.min(c, iw - cx * c));
            }
        }
        // the own cell's seed is at most (c-1)*sqrt(2) < 1.5c away, a seed three cells over at least
        // 2c + 1: the nearest seed is among the 5x5 cells around the pixel's own
        int[] plane = new int[Math.multiplyExact(ih, iw)];
        for (int y = 0; y < ih; y++) {
            int cy = y / c;
            for (int x = 0; x < iw; x++) {
                int cx = x / c;
                int best = -1;
                long bestD = Long.MAX_VALUE;
                for (int ny = Math.max(0, cy - 2); ny <= Math.min(cellsDown - 1, cy + 2); ny++) {
                    for (int nx = Math.max(0, cx - 2); nx <= Math.min(cellsAcross - 1, cx + 2); nx++) {
                        int k = ny * cellsAcross + nx;
                        long dy = seedY[k] - y;
                        long dx = seedX[k] - x;
                        long d = dy * dy + dx * dx;
                        if (d < bestD || (d == bestD && k < best)) {
                            bestD = d;
                            best = k;
                        }
                    }
                }
                plane[y * iw + x] = best;
            }
        }
        return plane;
    }

    /**
     * Counts, over every output pixel of one image and every tap of the filter that lands inside the
     * image, the taps whose input pixel is in the output pixel's region.
     *
     * @param rin the input ids (ih * iw, row-major)
     * @param rout the output ids (oh * ow, row-major)
     * @return {active taps, in-image taps}
     */
    static long[] activeTaps(int[] rin, int ih, int iw, int[] rout, ConvShape s, ConvParams p) {
        long active = 0;
        long inImage = 0;
        for (long oh = 0; oh < s.oh(); oh++) {
            for (long ow = 0; ow < s.ow(); ow++) {
                int id = rout[(int) (oh * s.ow() + ow)];
                for (long kh = 0; kh < s.fh(); kh++) {
                    long y = oh * p.strideH() - p.padH() + kh * p.dilationH();
                    if (y < 0 || y >= ih) {
                        continue;
                    }
                    for (long kw = 0; kw < s.fw(); kw++) {
                        long x = ow * p.strideW() - p.padW() + kw * p.dilationW();
                        if (x < 0 || x >= iw) {
                            continue;
                        }
                        inImage++;
                        if (rin[(int) (y * iw + x)] == id) {
                            active++;
                        }
                    }
                }
            }
        }
        return new long[] {active, inImage};
    }

    /**
     * @return the fraction of the in-image taps (over all images, output pixels and filter taps) whose
     *     input pixel is in its output pixel's region: what a kernel that skips inactive taps still computes
     */
    public double activeFraction() {
        return activeFraction;
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

    /** @return the data type of src, filter, diff and the outputs */
    public DType dtype() {
        return src.dtype();
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
