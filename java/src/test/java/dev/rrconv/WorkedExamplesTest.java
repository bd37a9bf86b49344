package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Small worked examples with hand-computed exact values, on both backends, with int32 and uint8 masks
 * (region ids 0/1 re-encoded as other pairs of ids, including extremes), 4-D and 5-D filters, through the
 * arena-returning and the caller-output methods; each is also checked against {@link Oracle}. All inputs
 * are small integers, so every float32 sum is exact and the comparisons are exact.
 */
class WorkedExamplesTest {

    /** How region ids 0 and 1 are written in the mask tensors. */
    enum MaskEncoding {
        INT32_01(DType.INT32, 0, 1),
        INT32_2POW24(DType.INT32, 16777216, 16777217), // equal if ever compared through float
        INT32_MINMAX(DType.INT32, Integer.MIN_VALUE, Integer.MAX_VALUE),
        UINT8_01(DType.UINT8, 0, 1),
        UINT8_0_255(DType.UINT8, 0, 255),
        UINT8_255_254(DType.UINT8, 255, 254);

        final DType dtype;
        final int zero;
        final int one;

        MaskEncoding(DType dtype, int zero, int one) {
            this.dtype = dtype;
            this.zero = zero;
            this.one = one;
        }

        int[] encode(int[] zeroOne) {
            int[] out = new int[zeroOne.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = zeroOne[i] == 0 ? zero : one;
            }
            return out;
        }

        Tensor tensor(int[] zeroOne, long... shape) {
            int[] v = encode(zeroOne);
            if (dtype == DType.INT32) {
                return Tensor.ofInts(v, shape);
            }
            byte[] b = new byte[v.length];
            for (int i = 0; i < v.length; i++) {
                b[i] = (byte) v[i];
            }
            return Tensor.ofBytes(b, shape);
        }
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Backend b : Backend.values()) {
            for (MaskEncoding e : MaskEncoding.values()) {
                for (int rank : new int[] {5, 4}) {
                    out.add(Arguments.of(b, e, rank));
                }
            }
        }
        return out.stream();
    }

    private static final int[] RIN_A = {1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1};
    private static final int[] ROUT_A = {0, 1, 1, 1, 0, 0, 1, 0, 1};

    static double[] range(int from, int count) {
        double[] d = new double[count];
        for (int i = 0; i < count; i++) {
            d[i] = from + i;
        }
        return d;
    }

    static double[] ones(int count) {
        double[] d = new double[count];
        java.util.Arrays.fill(d, 1);
        return d;
    }

    static int[] intOnes(int count) {
        int[] d = new int[count];
        java.util.Arrays.fill(d, 1);
        return d;
    }

    /** The filter tensor in the requested rank (4-D is the same memory as 5-D). */
    static Tensor filter(double[] v, Oracle.Geometry g, int rank) {
        return TestTensors.heapFloats(v, rank == 5 ? g.filterShape5() : g.filterShape4());
    }

    static void assertExact(double[] expected, double[] actual, String what) {
        assertArrayEquals(expected, actual, 0.0, what);
    }

    // ---- (a) forward, dense ---------------------------------------------------------------------

    @ParameterizedTest(name = "{0} {1} filter rank {2}")
    @MethodSource("cases")
    void forwardDense(Backend backend, MaskEncoding enc, int rank) {
        Oracle.Geometry g = new Oracle.Geometry(1, 1, 1, 1, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, false);
        double[] src = range(0, 16);
        double[] w = ones(4);
        double[] expected = {4, 14, 18, 5, 9, 0, 13, 9, 50};
        assertExact(expected, Oracle.forward(g, src, w, RIN_A, ROUT_A).value(), "oracle (a)");

        RegionConv conv = RegionConv.of(backend);
        Tensor rin = enc.tensor(RIN_A, 1, 4, 4);
        Tensor rout = enc.tensor(ROUT_A, 1, 3, 3);
        try (Arena arena = Arena.ofConfined()) {
            Tensor dst = conv.forward(TestTensors.heapFloats(src, 1, 1, 4, 4), filter(w, g, rank), rin, rout,
                    g.params(), arena);
            assertArrayEquals(new long[] {1, 1, 3, 3}, dst.shape());
            assertExact(expected, TestTensors.toDoubles(dst), "forward (a), arena");

            float[] out = new float[9];
            java.util.Arrays.fill(out, Float.NaN);
            conv.forward(TestTensors.heapFloats(src, 1, 1, 4, 4), filter(w, g, rank), rin, rout, g.params(),
                    Tensor.ofFloats(out, 1, 1, 3, 3));
            assertExact(expected, TestTensors.toDoubles(out), "forward (a), caller output");
        }
    }

    // ---- (b) backward data, dense ---------------------------------------------------------------

    @ParameterizedTest(name = "{0} {1} filter rank {2}")
    @MethodSource("cases")
    void backwardDataDense(Backend backend, MaskEncoding enc, int rank) {
        Oracle.Geometry g = new Oracle.Geometry(1, 1, 1, 1, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, false);
        double[] w = ones(4);
        double[] diff = range(1, 9);
        double[] expected = {0, 2, 5, 3, 1, 6, 5, 3, 0, 13, 9, 9, 0, 7, 9, 9};
        assertExact(expected, Oracle.backwardData(g, w, diff, RIN_A, ROUT_A).value(), "oracle (b)");

        RegionConv conv = RegionConv.of(backend);
        Tensor rin = enc.tensor(RIN_A, 1, 4, 4);
        Tensor rout = enc.tensor(ROUT_A, 1, 3, 3);
        try (Arena arena = Arena.ofConfined()) {
            Tensor gs = conv.backwardData(filter(w, g, rank), TestTensors.heapFloats(diff, 1, 1, 3, 3), rin, rout,
                    g.params(), arena);
            assertArrayEquals(new long[] {1, 1, 4, 4}, gs.shape());
            assertExact(expected, TestTensors.toDoubles(gs), "backward data (b), arena");

            Tensor out = Tensor.allocate(arena, DType.FLOAT32, 1, 1, 4, 4);
            out.segment().fill((byte) 0xFF); // NaN everywhere: every element must be overwritten
            conv.backwardData(filter(w, g, rank), TestTensors.heapFloats(diff, 1, 1, 3, 3), rin, rout, g.params(), out);
            assertExact(expected, TestTensors.toDoubles(out), "backward data (b), caller output");
        }
    }

    // ---- (c) backward data, grouped -------------------------------------------------------------

    @ParameterizedTest(name = "{0} {1} filter rank {2}")
    @MethodSource("cases")
    void backwardDataGrouped(Backend backend, MaskEncoding enc, int rank) {
        for (boolean convolution : new boolean[] {false, true}) {
            Oracle.Geometry g = new Oracle.Geometry(1, 2, 1, 1, 2, 2, 2, 2, 1, 1, 0, 0, 1, 1, convolution);
            double[] w = range(1, 8);
            double[] diff = {1, 2};
            double[] expected = convolution
                    ? new double[] {4, 3, 2, 1, 16, 14, 12, 10}  // the flipped filter
                    : new double[] {1, 2, 3, 4, 10, 12, 14, 16};
            String what = "backward data (c) " + g.params().mode();
            assertExact(expected, Oracle.backwardData(g, w, diff, intOnes(4), new int[] {1}).value(), "oracle " + what);

            RegionConv conv = RegionConv.of(backend);
            try (Arena arena = Arena.ofConfined()) {
                Tensor gs = conv.backwardData(filter(w, g, rank), TestTensors.heapFloats(diff, 1, 2, 1, 1),
                        enc.tensor(intOnes(4), 1, 2, 2), enc.tensor(new int[] {1}, 1, 1, 1), g.params(), arena);
                assertArrayEquals(new long[] {1, 2, 2, 2}, gs.shape());
                assertExact(expected, TestTensors.toDoubles(gs), what);
            }
        }
    }

    // ---- (d) groups = 2, all three directions ---------------------------------------------------

    @ParameterizedTest(name = "{0} {1} filter rank {2}")
    @MethodSource("cases")
    void twoGroupsAllDirections(Backend backend, MaskEncoding enc, int rank) {
        Oracle.Geometry g = new Oracle.Geometry(1, 2, 1, 1, 2, 2, 2, 2, 1, 1, 0, 0, 1, 1, false);
        double[] src = range(0, 8);
        double[] w = range(0, 8);
        double[] diff = ones(2);
        int[] rin = intOnes(4);
        int[] rout = {1};
        double[] fwd = {14, 126};
        assertExact(fwd, Oracle.forward(g, src, w, rin, rout).value(), "oracle forward (d)");
        assertExact(range(0, 8), Oracle.backwardData(g, w, diff, rin, rout).value(), "oracle backward data (d)");
        assertExact(range(0, 8), Oracle.backwardFilter(g, src, diff, rin, rout).value(), "oracle backward filter (d)");

        RegionConv conv = RegionConv.of(backend);
        Tensor tRin = enc.tensor(rin, 1, 2, 2);
        Tensor tRout = enc.tensor(rout, 1, 1, 1);
        try (Arena arena = Arena.ofConfined()) {
            Tensor dst = conv.forward(TestTensors.heapFloats(src, 1, 2, 2, 2), filter(w, g, rank), tRin, tRout,
                    g.params(), arena);
            assertExact(fwd, TestTensors.toDoubles(dst), "forward (d)");

            Tensor gs = conv.backwardData(filter(w, g, rank), TestTensors.heapFloats(diff, 1, 2, 1, 1), tRin, tRout,
                    g.params(), arena);
            assertExact(range(0, 8), TestTensors.toDoubles(gs), "backward data (d)");

            Tensor gf = conv.backwardFilter(TestTensors.heapFloats(src, 1, 2, 2, 2),
                    TestTensors.heapFloats(diff, 1, 2, 1, 1), tRin, tRout, g.params(), 2, 2, arena);
            assertArrayEquals(g.filterShape5(), gf.shape(), "arena backward filter is 5-D");
            assertExact(range(0, 8), TestTensors.toDoubles(gf), "backward filter (d), arena");

            Tensor gfOut = Tensor.allocate(arena, DType.FLOAT32, rank == 5 ? g.filterShape5() : g.filterShape4());
            gfOut.segment().fill((byte) 0x7F);
            conv.backwardFilter(TestTensors.heapFloats(src, 1, 2, 2, 2), TestTensors.heapFloats(diff, 1, 2, 1, 1),
                    tRin, tRout, g.params(), gfOut);
            assertExact(range(0, 8), TestTensors.toDoubles(gfOut), "backward filter (d), caller output rank " + rank);
        }
    }

    // ---- backward filter of example (a), and convolution mode of (a) ----------------------------

    @ParameterizedTest(name = "{0} {1} filter rank {2}")
    @MethodSource("cases")
    void exampleAOtherDirectionsAndModes(Backend backend, MaskEncoding enc, int rank) {
        RegionConv conv = RegionConv.of(backend);
        for (boolean convolution : new boolean[] {false, true}) {
            Oracle.Geometry g = new Oracle.Geometry(1, 1, 1, 1, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, convolution);
            double[] src = range(0, 16);
            double[] w = {1, 2, 3, 4}; // not symmetric: the flip matters
            double[] diff = range(1, 9);
            Tensor rin = enc.tensor(RIN_A, 1, 4, 4);
            Tensor rout = enc.tensor(ROUT_A, 1, 3, 3);
            String m = " " + g.params().mode();
            try (Arena arena = Arena.ofConfined()) {
                Tensor dst = conv.forward(TestTensors.heapFloats(src, 1, 1, 4, 4), filter(w, g, rank), rin, rout,
                        g.params(), arena);
                assertExact(Oracle.forward(g, src, w, RIN_A, ROUT_A).value(), TestTensors.toDoubles(dst), "forward" + m);
                Tensor gs = conv.backwardData(filter(w, g, rank), TestTensors.heapFloats(diff, 1, 1, 3, 3), rin, rout,
                        g.params(), arena);
                assertExact(Oracle.backwardData(g, w, diff, RIN_A, ROUT_A).value(), TestTensors.toDoubles(gs),
                        "backward data" + m);
                Tensor gf = conv.backwardFilter(TestTensors.heapFloats(src, 1, 1, 4, 4),
                        TestTensors.heapFloats(diff, 1, 1, 3, 3), rin, rout, g.params(), 2, 2, arena);
                assertExact(Oracle.backwardFilter(g, src, diff, RIN_A, ROUT_A).value(), TestTensors.toDoubles(gf),
                        "backward filter" + m);
            }
        }
    }

    /**
     * Hand-computed backward filter of example (a) with the ones filter's diff = 1..9, cross-correlation:
     * tap (kh, kw) sums src[oh+kh, ow+kw] * diff[oh, ow] over the 3x3 outputs whose region matches.
     */
    @Test
    void oracleBackwardFilterOfExampleA() {
        Oracle.Geometry g = new Oracle.Geometry(1, 1, 1, 1, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, false);
        double[] src = range(0, 16);
        double[] diff = range(1, 9);
        double[] expected = new double[4];
        for (int kh = 0; kh < 2; kh++) {
            for (int kw = 0; kw < 2; kw++) {
                for (int oh = 0; oh < 3; oh++) {
                    for (int ow = 0; ow < 3; ow++) {
                        int ih = oh + kh;
                        int iw = ow + kw;
                        if (RIN_A[ih * 4 + iw] == ROUT_A[oh * 3 + ow]) {
                            expected[kh * 2 + kw] += src[ih * 4 + iw] * diff[oh * 3 + ow];
                        }
                    }
                }
            }
        }
        assertExact(expected, Oracle.backwardFilter(g, src, diff, RIN_A, ROUT_A).value(), "oracle backward filter (a)");
        assertEquals(Oracle.dot(Oracle.forward(g, src, ones(4), RIN_A, ROUT_A).value(), diff),
                Oracle.dot(ones(4), Oracle.backwardFilter(g, src, diff, RIN_A, ROUT_A).value()), 0.0,
                "oracle adjoint");
    }
}
