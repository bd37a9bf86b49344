package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.rrconv.RandomConfigTest.Config;
import dev.rrconv.RandomConfigTest.Data;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Channels-last (NHWC) activations: {@link Layout}, {@link Tensor#allocate(Arena, DType, Layout, long, long, long,
 * long)}, and every direction on the native backend and on the Java backend with and without its Vector API rows
 * (java, java-scalar) against the independent {@link Oracle} with src and diff in
 * NHWC memory, on the seeded random configurations of {@link RandomConfigTest} (another base seed): groups,
 * strides, paddings, dilations, both modes and both mask dtypes. Tolerances are those of RandomConfigTest.
 *
 * <p>The test writes and reads the NHWC memory with its own index arithmetic ({@code ((n*H + h)*W + w)*C + c}),
 * never through {@link Tensor}'s accessors, and checks the strides of every allocated output: an output
 * follows its activation input's layout (forward: src; backward data: diff), or the one the caller names.
 */
class ChannelsLastTest {
    static final long BASE_SEED = 0xC1A5_5E5L;
    static final int CONFIGS = 160;
    private static final int[] THREADS = {1, 2, 3};

    @AfterEach
    void restoreThreads() {
        RegionConv.setThreads(0);
    }

    // ---- Layout and allocation ------------------------------------------------------------------

    @Test
    void allocateNhwcGivesChannelsLastStridesInLogicalOrder() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.allocate(arena, DType.FLOAT32, Layout.NHWC, 2, 3, 4, 5);
            assertArrayEquals(new long[] {2, 3, 4, 5}, t.shape());
            // (N, H, W, C) = (2, 4, 5, 3) in C order: strides N 60, H 15, W 3, C 1
            assertArrayEquals(new long[] {60, 1, 15, 3}, t.strides());
            assertEquals(Layout.NHWC, Layout.of(t));
            assertEquals(2 * 3 * 4 * 5 * 4, t.spanBytes());
            assertTrue(Arrays.equals(new float[120], t.toFloatArray()), "zero-filled");
            t.setFloat(7f, 1, 2, 3, 4); // n=1, c=2, h=3, w=4 lives at ((1*4 + 3)*5 + 4)*3 + 2 = 119
            assertEquals(7f, t.segment().getAtIndex(ValueLayout.JAVA_FLOAT, 119));

            Tensor c = Tensor.allocate(arena, DType.INT32, Layout.NCHW, 2, 3, 4, 5);
            assertArrayEquals(new long[] {60, 20, 5, 1}, c.strides());
            assertEquals(Layout.NCHW, Layout.of(c));
            assertArrayEquals(new long[] {60, 1, 15, 3}, Layout.NHWC.denseStrides(2, 3, 4, 5));
            assertArrayEquals(new long[] {60, 20, 5, 1}, Layout.NCHW.denseStrides(2, 3, 4, 5));
        }
    }

    @Test
    void layoutOfReadsTheStrides() {
        float[] data = new float[2 * 3 * 4 * 5];
        assertEquals(Layout.NCHW, Layout.of(Tensor.ofFloats(data, 2, 3, 4, 5)));
        assertEquals(Layout.NHWC, Layout.of(Tensor.ofFloats(data, 2, 4, 5, 3).permute(0, 3, 1, 2)));
        // W of size 1: H decides
        assertEquals(Layout.NHWC, Layout.of(Tensor.ofFloats(data, 2, 20, 1, 3).permute(0, 3, 1, 2)));
        // one channel, or a 1x1 image: the same memory either way, reported NCHW
        assertEquals(Layout.NCHW, Layout.of(Tensor.ofFloats(data, 40, 1, 3, 1).permute(0, 3, 1, 2)));
        assertEquals(Layout.NCHW, Layout.of(Tensor.ofFloats(data, 2, 1, 1, 60).permute(0, 3, 1, 2)));
        // a transposed-plane view is not channels-last
        assertEquals(Layout.NCHW, Layout.of(Tensor.ofFloats(data, 2, 3, 4, 5).permute(0, 1, 3, 2)));
        var e = assertThrows(IllegalArgumentException.class, () -> Layout.of(Tensor.ofFloats(data, 6, 4, 5)));
        assertTrue(e.getMessage().contains("rank-4"), e.getMessage());
        assertEquals(Layout.NHWC, Layout.parse("nhwc"));
        assertEquals("nchw", Layout.NCHW.cliName());
        assertThrows(IllegalArgumentException.class, () -> Layout.parse("NHWC"));
    }

    /** A worked example: 1x1 filter summing two channels; the output must be channels-last and exact. */
    @Test
    void workedExampleOneByOneFilterKeepsChannelsLast() {
        for (Backend backend : Backend.values()) {
            try (Arena arena = Arena.ofConfined()) {
                // src (N, H, W, C) = (1, 1, 2, 2): pixel 0 has channels (1, 2), pixel 1 has (3, 4)
                Tensor src = Tensor.ofFloats(new float[] {1, 2, 3, 4}, 1, 1, 2, 2).permute(0, 3, 1, 2);
                // two output channels: oc0 = c0 + c1, oc1 = 10*c0
                Tensor filter = Tensor.ofFloats(new float[] {1, 1, 10, 0}, 1, 2, 2, 1, 1);
                Tensor rin = Tensor.ofInts(new int[] {5, 6}, 1, 1, 2);
                Tensor rout = Tensor.ofInts(new int[] {5, 5}, 1, 1, 2); // pixel 1 is in another region
                Tensor dst = RegionConv.of(backend).forward(src, filter, rin, rout, ConvParams.DEFAULT, arena);
                assertArrayEquals(new long[] {4, 1, 4, 2}, dst.strides(), backend + " dst strides");
                float[] raw = dst.segment().asSlice(0, 16).toArray(ValueLayout.JAVA_FLOAT);
                assertArrayEquals(new float[] {3, 10, 0, 0}, raw, backend + " dst memory in (N, H, W, C)");
            }
        }
    }

    /** The layer's bias is added through the strides: an NHWC forward equals the NCHW one, transposed. */
    @Test
    void layerWithBiasKeepsChannelsLast() {
        for (Backend backend : Backend.values()) {
            try (Arena arena = Arena.ofConfined()) {
                float[] x = new float[2 * 3 * 4 * 5];
                for (int i = 0; i < x.length; i++) {
                    x[i] = i % 7 - 3;
                }
                Tensor srcNchw = Tensor.ofFloats(x, 2, 3, 4, 5);
                Tensor srcNhwc = Tensor.allocate(arena, DType.FLOAT32, Layout.NHWC, 2, 3, 4, 5);
                srcNhwc.copyFrom(srcNchw);
                float[] w = new float[2 * 3 * 3 * 3];
                for (int i = 0; i < w.length; i++) {
                    w[i] = i % 5 - 2;
                }
                Tensor bias = Tensor.ofFloats(new float[] {10, 20}, 2);
                RegionConvLayer layer = new RegionConvLayer(Tensor.ofFloats(w, 2, 3, 3, 3), bias,
                        ConvParams.DEFAULT.withPadding(1, 1), backend);
                Tensor rin = Tensor.ofInts(new int[2 * 4 * 5], 2, 4, 5);
                Tensor a = layer.forward(srcNchw, rin, rin, arena);
                Tensor b = layer.forward(srcNhwc, rin, rin, arena);
                assertEquals(Layout.NHWC, Layout.of(b), backend + " " + b);
                assertArrayEquals(a.toFloatArray(), b.toFloatArray(), backend.toString());
            }
        }
    }

    // ---- randomized, against the oracle -----------------------------------------------------------

    static Stream<Arguments> configs() {
        return IntStream.range(0, CONFIGS).mapToObj(i -> {
            Config c = Config.random(i, BASE_SEED);
            return Arguments.of(Named.of(c.summary() + " t" + THREADS[i % THREADS.length], c));
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void nhwcMatchesOracle(Config c) {
        Oracle.Geometry g = c.geometry();
        Data d = Data.generate(c);
        Oracle.Result fwd = Oracle.forward(g, d.src(), d.filter(), d.rin(), d.rout());
        Oracle.Result bwdData = Oracle.backwardData(g, d.filter(), d.diff(), d.rin(), d.rout());
        Oracle.Result bwdFilter = Oracle.backwardFilter(g, d.src(), d.diff(), d.rin(), d.rout());
        RegionConv.setThreads(THREADS[c.index() % THREADS.length]);
        List<String> errors = new ArrayList<>();
        Throwable cause = null;
        // java: the Vector API rows (the tests run with the module); java-scalar: the scalar rows
        for (Backend backend : new Backend[] {Backend.JAVA, Backend.JAVA_SCALAR, Backend.NATIVE}) {
            try {
                run(c, d, backend, fwd, bwdData, bwdFilter, errors);
            } catch (RuntimeException | Error e) {
                errors.add(backend + " threw " + e);
                cause = cause == null ? e : cause;
            }
        }
        if (!errors.isEmpty()) {
            fail("seed=" + c.seed() + " (" + errors.size() + " problems)\n  config: " + c + "\n  "
                    + String.join("\n  ", errors.subList(0, Math.min(errors.size(), 16))), cause);
        }
    }

    private static void run(Config c, Data d, Backend backend, Oracle.Result fwd, Oracle.Result bwdData,
                            Oracle.Result bwdFilter, List<String> errors) {
        Oracle.Geometry g = c.geometry();
        RegionConv conv = RegionConv.of(backend);
        ConvParams p = c.params();
        String b = backend + " ";
        boolean heap = c.index() % 2 == 0; // heap and off-heap NHWC inputs alike
        try (Arena arena = Arena.ofConfined()) {
            Tensor src = nhwc(arena, heap, d.src(), g.n(), g.ic(), c.ih(), c.iw());
            Tensor diff = nhwc(arena, heap, d.diff(), g.n(), g.oc(), g.oh(), g.ow());
            Tensor filter = floats(d.filter(), c.filterRank() == 5 ? g.filterShape5() : g.filterShape4());
            Tensor rin = masks(c.maskType(), d.rin(), g.rinShape());
            Tensor rout = masks(c.maskType(), d.rout(), g.routShape());

            // forward: dst follows src; or NCHW by choice; or into a caller's NHWC tensor
            Tensor dst = conv.forward(src, filter, rin, rout, p, arena);
            Layout expected = channelsLastVisible(g.ic(), c.ih(), c.iw()) ? Layout.NHWC : Layout.NCHW;
            RandomConfigTest.compare(b + "forward (dst follows src)", fwd,
                    read(dst, expected, g.n(), g.oc(), g.oh(), g.ow(), b + "forward dst", errors), c.integerValues(), errors);
            Tensor dstNchw = conv.forward(src, filter, rin, rout, p, Layout.NCHW, arena);
            RandomConfigTest.compare(b + "forward (NCHW chosen)", fwd,
                    read(dstNchw, Layout.NCHW, g.n(), g.oc(), g.oh(), g.ow(), b + "forward NCHW dst", errors),
                    c.integerValues(), errors);
            Tensor dstGiven = Tensor.allocate(arena, DType.FLOAT32, Layout.NHWC, g.n(), g.oc(), g.oh(), g.ow());
            conv.forward(src, filter, rin, rout, p, dstGiven);
            RandomConfigTest.compare(b + "forward (into NHWC dst)", fwd,
                    read(dstGiven, Layout.NHWC, g.n(), g.oc(), g.oh(), g.ow(), b + "forward given dst", errors),
                    c.integerValues(), errors);
            // NHWC chosen from NCHW inputs
            Tensor dstFromNchw = conv.forward(dense(arena, src), filter, rin, rout, p, Layout.NHWC, arena);
            RandomConfigTest.compare(b + "forward (NHWC chosen, NCHW src)", fwd,
                    read(dstFromNchw, Layout.NHWC, g.n(), g.oc(), g.oh(), g.ow(), b + "forward NHWC dst", errors),
                    c.integerValues(), errors);

            // backward data: grad src follows diff; or NCHW by choice; or into a caller's NHWC tensor
            Tensor gs = conv.backwardData(filter, diff, rin, rout, p, arena);
            expected = channelsLastVisible(g.oc(), g.oh(), g.ow()) ? Layout.NHWC : Layout.NCHW;
            RandomConfigTest.compare(b + "backward data (grad src follows diff)", bwdData,
                    read(gs, expected, g.n(), g.ic(), c.ih(), c.iw(), b + "backward data grad src", errors),
                    c.integerValues(), errors);
            Tensor gsNchw = conv.backwardData(filter, diff, rin, rout, p, Layout.NCHW, arena);
            RandomConfigTest.compare(b + "backward data (NCHW chosen)", bwdData,
                    read(gsNchw, Layout.NCHW, g.n(), g.ic(), c.ih(), c.iw(), b + "backward data NCHW", errors),
                    c.integerValues(), errors);
            Tensor gsGiven = Tensor.allocate(arena, DType.FLOAT32, Layout.NHWC, g.n(), g.ic(), c.ih(), c.iw());
            conv.backwardData(filter, diff, rin, rout, p, gsGiven);
            RandomConfigTest.compare(b + "backward data (into NHWC grad src)", bwdData,
                    read(gsGiven, Layout.NHWC, g.n(), g.ic(), c.ih(), c.iw(), b + "backward data given", errors),
                    c.integerValues(), errors);

            // backward filter from NHWC src and diff: the filter gradient keeps its one layout
            Tensor gf = conv.backwardFilter(src, diff, rin, rout, p, c.fh(), c.fw(), arena);
            RandomConfigTest.compare(b + "backward filter", bwdFilter, TestTensors.toDoubles(gf), c.integerValues(),
                    errors);
        }
    }

    /**
     * Whether an NHWC tensor of this size is reported as NHWC by {@link Layout#of}: more than one channel and more
     * than one pixel in W or H (otherwise both orders are the same memory). An NHWC input that is not "visible"
     * gives an NCHW output.
     */
    private static boolean channelsLastVisible(long c, long h, long w) {
        return c > 1 && (w > 1 || h > 1);
    }

    /** values in logical (N, C, H, W) C order, stored as an (N, H, W, C) array; heap or off-heap. */
    private static Tensor nhwc(Arena arena, boolean heap, double[] values, long n, long c, long h, long w) {
        float[] mem = new float[values.length];
        for (int in = 0; in < n; in++) {
            for (int ic = 0; ic < c; ic++) {
                for (int ih = 0; ih < h; ih++) {
                    for (int iw = 0; iw < w; iw++) {
                        mem[(int) (((in * h + ih) * w + iw) * c + ic)] = (float) values[(int) (((in * c + ic) * h + ih) * w + iw)];
                    }
                }
            }
        }
        MemorySegment seg = heap ? MemorySegment.ofArray(mem) : arena.allocateFrom(ValueLayout.JAVA_FLOAT, mem);
        return Tensor.of(seg, DType.FLOAT32, n, h, w, c).permute(0, 3, 1, 2);
    }

    /** The same values, copied dense NCHW. */
    private static Tensor dense(Arena arena, Tensor t) {
        Tensor out = Tensor.allocate(arena, t.dtype(), t.shape());
        out.copyFrom(t);
        return out;
    }

    private static Tensor floats(double[] values, long[] shape) {
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) values[i];
        }
        return Tensor.ofFloats(f, shape);
    }

    private static Tensor masks(DType type, int[] values, long[] shape) {
        if (type == DType.INT32) {
            return Tensor.ofInts(values.clone(), shape);
        }
        byte[] b = new byte[values.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) values[i];
        }
        return Tensor.ofBytes(b, shape);
    }

    /**
     * Checks that t has the dense strides of the layout (computed here) and reads its memory with them into
     * logical (N, C, H, W) C order.
     */
    private static double[] read(Tensor t, Layout layout, long n, long c, long h, long w, String what,
                                 List<String> errors) {
        long[] strides = layout == Layout.NHWC ? new long[] {h * w * c, 1, w * c, c} : new long[] {c * h * w, h * w, w, 1};
        if (!Arrays.equals(strides, t.strides())) {
            errors.add(what + ": strides " + Arrays.toString(t.strides()) + ", expected " + layout + " "
                    + Arrays.toString(strides));
        }
        double[] out = new double[Math.toIntExact(n * c * h * w)];
        int i = 0;
        for (long in = 0; in < n; in++) {
            for (long ic = 0; ic < c; ic++) {
                for (long ih = 0; ih < h; ih++) {
                    for (long iw = 0; iw < w; iw++) {
                        long e = in * strides[0] + ic * strides[1] + ih * strides[2] + iw * strides[3];
                        out[i++] = t.segment().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, e);
                    }
                }
            }
        }
        return out;
    }
}
