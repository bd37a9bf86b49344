package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Results are bitwise identical for every thread count (RegionConv.setThreads 1, 2, 3, 7), on both
 * backends, in all three directions; and concurrent calls from several Java threads agree with a lone call.
 * Data are random floats, so that a change of summation order would show in the last bits.
 */
class ThreadCountTest {

    @AfterEach
    void restoreDefault() {
        RegionConv.setThreads(0);
        assertEquals(Runtime.getRuntime().availableProcessors(), RegionConv.threads(), "default thread count restored");
    }

    /**
     * A medium problem.
     *
     * @param name for the report
     * @param g sizes and parameters
     * @param maskType mask dtype
     * @param filterRank 4 or 5
     */
    record Shape(String name, Oracle.Geometry g, DType maskType, int filterRank) {
        @Override
        public String toString() {
            return name;
        }
    }

    static List<Shape> shapes() {
        return List.of(
                new Shape("2x16x19x21 3x3 pad 1, dense 16->16, int32",
                        new Oracle.Geometry(2, 1, 16, 16, 19, 21, 3, 3, 1, 1, 1, 1, 1, 1, false), DType.INT32, 5),
                new Shape("2x16x19x21 5x3 G=4 4->2, stride 2, pad (2,1), dilation (1,2), convolution, uint8",
                        new Oracle.Geometry(2, 4, 4, 2, 19, 21, 5, 3, 2, 2, 2, 1, 1, 2, true), DType.UINT8, 5),
                new Shape("3x12x17x23 3x3 depthwise x2, stride (2,3), dilation 2, 4-D filter, int32",
                        new Oracle.Geometry(3, 12, 1, 2, 17, 23, 3, 3, 2, 3, 2, 2, 2, 2, false), DType.INT32, 4));
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Backend b : new Backend[] {Backend.NATIVE, Backend.JAVA}) { // AUTO is NATIVE here
            for (Shape s : shapes()) {
                out.add(Arguments.of(b, s));
            }
        }
        return out.stream();
    }

    /** Inputs of one shape, on the heap (masks blocky, three regions). */
    static final class Inputs {
        final Tensor src;
        final Tensor filter;
        final Tensor diff;
        final Tensor rin;
        final Tensor rout;

        Inputs(Shape s, long seed) {
            Random r = new Random(seed);
            Oracle.Geometry g = s.g();
            src = Tensor.ofFloats(floats(r, g.srcSize()), g.srcShape());
            filter = Tensor.ofFloats(floats(r, g.filterSize()), s.filterRank() == 5 ? g.filterShape5() : g.filterShape4());
            diff = Tensor.ofFloats(floats(r, g.dstSize()), g.dstShape());
            rin = masks(s.maskType(), blocky(r, g.n(), g.ih(), g.iw()), g.rinShape());
            rout = masks(s.maskType(), blocky(r, g.n(), g.oh(), g.ow()), g.routShape());
        }

        private static float[] floats(Random r, int n) {
            float[] f = new float[n];
            for (int i = 0; i < n; i++) {
                f[i] = (float) r.nextGaussian();
            }
            return f;
        }

        private static int[] blocky(Random r, int n, int h, int w) {
            int[] v = new int[n * h * w];
            for (int b = 0; b < n; b++) {
                int cy = r.nextInt(h);
                int cx = r.nextInt(w);
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        v[(b * h + y) * w + x] = (y < cy ? 0 : 1) + (x < cx ? 0 : 1) + (r.nextInt(20) == 0 ? 7 : 0);
                    }
                }
            }
            return v;
        }

        private static Tensor masks(DType t, int[] v, long[] shape) {
            if (t == DType.INT32) {
                return Tensor.ofInts(v, shape);
            }
            byte[] b = new byte[v.length];
            for (int i = 0; i < v.length; i++) {
                b[i] = (byte) (v[i] + 250); // 250..259 wraps to 250..255, 0..3: both ends of uint8
            }
            return Tensor.ofBytes(b, shape);
        }
    }

    /** forward, backward data, backward filter results as raw float bits. */
    static int[][] runAll(RegionConv conv, Shape s, Inputs in, Arena arena) {
        ConvParams p = s.g().params();
        float[] fwd = conv.forward(in.src, in.filter, in.rin, in.rout, p, arena).toFloatArray();
        float[] bd = conv.backwardData(in.filter, in.diff, in.rin, in.rout, p, arena).toFloatArray();
        float[] bf = conv.backwardFilter(in.src, in.diff, in.rin, in.rout, p, s.g().fh(), s.g().fw(), arena)
                .toFloatArray();
        return new int[][] {bits(fwd), bits(bd), bits(bf)};
    }

    static int[] bits(float[] f) {
        int[] b = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            b[i] = Float.floatToRawIntBits(f[i]);
        }
        return b;
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void bitwiseIdenticalForEveryThreadCount(Backend backend, Shape s) {
        RegionConv conv = RegionConv.of(backend);
        Inputs in = new Inputs(s, 42);
        String[] dirs = {"forward", "backward data", "backward filter"};
        try (Arena arena = Arena.ofConfined()) {
            RegionConv.setThreads(1);
            int[][] reference = runAll(conv, s, in, arena);
            checkAgainstOracle(backend, s, in, reference);
            for (int t : new int[] {2, 3, 7}) {
                RegionConv.setThreads(t);
                assertEquals(t, RegionConv.threads());
                int[][] got = runAll(conv, s, in, arena);
                for (int d = 0; d < 3; d++) {
                    assertArrayEquals(reference[d], got[d], backend + " " + dirs[d] + " with " + t
                            + " threads differs (raw float bits) from 1 thread, " + s);
                }
            }
        }
    }

    /** The one-thread results are also right: |got - exact| <= 1e-4 * sum|terms| (see RandomConfigTest). */
    static void checkAgainstOracle(Backend backend, Shape s, Inputs in, int[][] bits) {
        Oracle.Geometry g = s.g();
        double[] x = TestTensors.toDoubles(in.src.toFloatArray());
        double[] w = TestTensors.toDoubles(in.filter.toFloatArray());
        double[] dy = TestTensors.toDoubles(in.diff.toFloatArray());
        int[] rin = in.rin.toIntArray();
        int[] rout = in.rout.toIntArray();
        Oracle.Result[] expected = {Oracle.forward(g, x, w, rin, rout), Oracle.backwardData(g, w, dy, rin, rout),
                Oracle.backwardFilter(g, x, dy, rin, rout)};
        List<String> errors = new ArrayList<>();
        String[] dirs = {"forward", "backward data", "backward filter"};
        for (int d = 0; d < 3; d++) {
            double[] got = new double[bits[d].length];
            for (int i = 0; i < got.length; i++) {
                got[i] = Float.intBitsToFloat(bits[d][i]);
            }
            RandomConfigTest.compare(backend + " " + dirs[d], expected[d], got, false, errors);
        }
        assertTrue(errors.isEmpty(), s + ": " + errors);
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void concurrentCallersAgreeWithALoneCall(Backend backend) throws Exception {
        RegionConv conv = RegionConv.of(backend);
        RegionConv.setThreads(2);
        List<Shape> shapes = shapes();
        List<Inputs> inputs = new ArrayList<>();
        List<int[][]> expected = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            for (Shape s : shapes) {
                Inputs in = new Inputs(s, 7);
                inputs.add(in);
                expected.add(runAll(conv, s, in, arena));
            }
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int k = 0; k < 8; k++) {
                int idx = k % shapes.size();
                futures.add(pool.submit(() -> {
                    try (Arena arena = Arena.ofConfined()) {
                        int[][] got = runAll(conv, shapes.get(idx), inputs.get(idx), arena);
                        for (int d = 0; d < 3; d++) {
                            assertArrayEquals(expected.get(idx)[d], got[d], backend + " concurrent call, direction "
                                    + d + ", " + shapes.get(idx));
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void threadCountIsValidated() {
        RegionConv.setThreads(5);
        assertEquals(5, RegionConv.threads());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RegionConv.setThreads(-1));
        assertContains(e.getMessage(), "threads", "-1");
        e = assertThrows(IllegalArgumentException.class, () -> RegionConv.setThreads(1025));
        assertContains(e.getMessage(), "threads", "1025");
        assertEquals(5, RegionConv.threads(), "a rejected value leaves the setting alone");
        RegionConv.setThreads(1024);
        assertEquals(1024, RegionConv.threads());
    }

    static void assertContains(String message, String... fragments) {
        for (String f : fragments) {
            if (message == null || !message.contains(f)) {
                throw new AssertionError("message '" + message + "' lacks '" + f + "'");
            }
        }
    }
}
