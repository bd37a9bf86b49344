package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link RegionConvLayer}: exact worked values (bias added to every output pixel, bias gradient summed
 * over n, oh, ow), agreement with {@link RegionConv} and the oracle, validation, and central finite
 * differences of a scalar loss against all three gradients, on both backends.
 */
class RegionConvLayerTest {
    private static final float[] SRC_A = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    private static final int[] RIN_A = {1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1};
    private static final int[] ROUT_A = {0, 1, 1, 1, 0, 0, 1, 0, 1};

    private static float[] range(int from, int count) {
        float[] f = new float[count];
        for (int i = 0; i < count; i++) {
            f[i] = from + i;
        }
        return f;
    }

    private static double[] doubles(float[] f) {
        return TestTensors.toDoubles(f);
    }

    /**
     * Worked example (a) with two output channels: channel 0 a filter of ones with bias 1, channel 1 a
     * filter of twos with bias -2, so dst = (a + 1, 2a - 2); diff = 1..18 gives grad bias (45, 126).
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void workedExampleTwoChannelsWithBias(Backend backend) {
        Tensor filter = Tensor.ofFloats(new float[] {1, 1, 1, 1, 2, 2, 2, 2}, 2, 1, 2, 2);
        Tensor bias = Tensor.ofFloats(new float[] {1, -2}, 2);
        RegionConvLayer layer = new RegionConvLayer(filter, bias, ConvParams.DEFAULT, backend);
        assertEquals(1, layer.inChannels());
        assertEquals(2, layer.outChannels());
        Tensor src = Tensor.ofFloats(SRC_A.clone(), 1, 1, 4, 4);
        Tensor rin = Tensor.ofInts(RIN_A, 1, 4, 4);
        Tensor rout = Tensor.ofInts(ROUT_A, 1, 3, 3);
        try (Arena arena = Arena.ofConfined()) {
            Tensor dst = layer.forward(src, rin, rout, arena);
            assertArrayEquals(new long[] {1, 2, 3, 3}, dst.shape());
            assertArrayEquals(new float[] {5, 15, 19, 6, 10, 1, 14, 10, 51, 6, 26, 34, 8, 16, -2, 24, 16, 98},
                    dst.toFloatArray());

            float[] dy = range(1, 18);
            RegionConvLayer.Gradients g = layer.backward(src, Tensor.ofFloats(dy, 1, 2, 3, 3), rin, rout, arena);
            assertArrayEquals(new float[] {45, 126}, g.gradBias().toFloatArray());
            // grad src and grad filter: exactly the operator's, and the oracle's (small integers: exact)
            Oracle.Geometry geo = new Oracle.Geometry(1, 1, 1, 2, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, false);
            assertArrayEquals(Oracle.backwardData(geo, doubles(filter.toFloatArray()), doubles(dy), RIN_A, ROUT_A).value(),
                    doubles(g.gradSrc().toFloatArray()), 0.0);
            assertArrayEquals(Oracle.backwardFilter(geo, doubles(SRC_A), doubles(dy), RIN_A, ROUT_A).value(),
                    doubles(g.gradFilter().toFloatArray()), 0.0);
            assertArrayEquals(filter.shape(), g.gradFilter().shape(), "grad filter has the filter's (4-D) shape");
            RegionConv conv = RegionConv.of(backend);
            Tensor diff = Tensor.ofFloats(dy, 1, 2, 3, 3);
            assertArrayEquals(conv.backwardData(filter, diff, rin, rout, ConvParams.DEFAULT, arena).toFloatArray(),
                    g.gradSrc().toFloatArray());
            assertArrayEquals(conv.backwardFilter(src, diff, rin, rout, ConvParams.DEFAULT, 2, 2, arena).toFloatArray(),
                    g.gradFilter().toFloatArray());
        }
    }

    /** Worked example (d), groups = 2, with bias (0.5, -1): forward (14.5, 125); diff of ones: grad bias (1, 1). */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void workedExampleGroupsWithBias(Backend backend) {
        ConvParams p = ConvParams.DEFAULT.withGroups(2);
        Tensor filter = Tensor.ofFloats(range(0, 8), 2, 1, 1, 2, 2);
        RegionConvLayer layer = new RegionConvLayer(filter, Tensor.ofFloats(new float[] {0.5f, -1}, 2), p, backend);
        assertEquals(2, layer.inChannels());
        assertEquals(2, layer.outChannels());
        Tensor src = Tensor.ofFloats(range(0, 8), 1, 2, 2, 2);
        Tensor rin = Tensor.ofInts(new int[] {1, 1, 1, 1}, 1, 2, 2);
        Tensor rout = Tensor.ofInts(new int[] {1}, 1, 1, 1);
        try (Arena arena = Arena.ofConfined()) {
            assertArrayEquals(new float[] {14.5f, 125}, layer.forward(src, rin, rout, arena).toFloatArray());
            RegionConvLayer.Gradients g = layer.backward(src, Tensor.ofFloats(new float[] {1, 1}, 1, 2, 1, 1),
                    rin, rout, arena);
            assertArrayEquals(range(0, 8), g.gradSrc().toFloatArray());
            assertArrayEquals(range(0, 8), g.gradFilter().toFloatArray());
            assertArrayEquals(new long[] {2, 1, 1, 2, 2}, g.gradFilter().shape());
            assertArrayEquals(new float[] {1, 1}, g.gradBias().toFloatArray());
        }
    }

    /** A bias is added to every output pixel, also where no tap is in the output pixel's region. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void biasReachesPixelsWithoutTaps(Backend backend) {
        Tensor filter = Tensor.ofFloats(new float[] {1, 1, 1, 1}, 1, 1, 2, 2);
        RegionConvLayer layer = new RegionConvLayer(filter, Tensor.ofFloats(new float[] {3}, 1), ConvParams.DEFAULT,
                backend);
        try (Arena arena = Arena.ofConfined()) {
            Tensor dst = layer.forward(Tensor.ofFloats(new float[] {1, 1, 1, 1}, 1, 1, 2, 2),
                    Tensor.ofBytes(new byte[] {0, 0, 0, 0}, 1, 2, 2), Tensor.ofBytes(new byte[] {7}, 1, 1, 1), arena);
            assertArrayEquals(new float[] {3}, dst.toFloatArray());
        }
    }

    /** Without bias: forward is exactly RegionConv's, and there is no bias gradient. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void withoutBiasMatchesTheOperator(Backend backend) {
        Random r = new Random(7);
        float[] w = new float[6 * 2 * 3 * 3];
        float[] x = new float[2 * 4 * 6 * 5];
        fill(r, w);
        fill(r, x);
        ConvParams p = ConvParams.DEFAULT.withGroups(2).withPadding(1, 1);
        Tensor filter = Tensor.ofFloats(w, 6, 2, 3, 3);
        RegionConvLayer layer = new RegionConvLayer(filter, p, backend);
        assertTrue(layer.bias().isEmpty());
        assertEquals(backend == Backend.AUTO ? RegionConv.of().backend() : backend, layer.backend());
        assertEquals(p, layer.params());
        Tensor src = Tensor.ofFloats(x, 2, 4, 6, 5);
        Tensor rin = masks(r, false, 2, 6, 5);
        Tensor rout = masks(r, false, 2, 6, 5);
        try (Arena arena = Arena.ofConfined()) {
            Tensor dst = layer.forward(src, rin, rout, arena);
            RegionConv conv = RegionConv.of(backend);
            assertArrayEquals(conv.forward(src, filter, rin, rout, p, arena).toFloatArray(), dst.toFloatArray());
            Tensor dy = Tensor.ofFloats(filled(r, (int) dst.elementCount()), dst.shape());
            RegionConvLayer.Gradients g = layer.backward(src, dy, rin, rout, arena);
            assertNull(g.gradBias());
            assertArrayEquals(conv.backwardData(filter, dy, rin, rout, p, arena).toFloatArray(), g.gradSrc().toFloatArray());
            assertArrayEquals(conv.backwardFilter(src, dy, rin, rout, p, 3, 3, arena).toFloatArray(),
                    g.gradFilter().toFloatArray());
        }
    }

    /** The bias gradient sums over the batch too, and reads a strided (permuted, off-heap) diff correctly. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void biasGradientOfAStridedBatch(Backend backend) {
        int n = 3;
        int oc = 4;
        int oh = 5;
        int ow = 3;
        RegionConvLayer layer = new RegionConvLayer(Tensor.ofFloats(new float[oc * 2], oc, 2, 1, 1),
                Tensor.ofFloats(new float[oc], oc), ConvParams.DEFAULT, backend);
        Random r = new Random(11);
        try (Arena arena = Arena.ofConfined()) {
            // diff stored as (OH, N, OW, OC), viewed as (N, OC, OH, OW); small integers: exact sums
            Tensor stored = Tensor.allocate(arena, DType.FLOAT32, oh, n, ow, oc);
            double[] expected = new double[oc];
            for (int h = 0; h < oh; h++) {
                for (int i = 0; i < n; i++) {
                    for (int w = 0; w < ow; w++) {
                        for (int c = 0; c < oc; c++) {
                            int v = r.nextInt(201) - 100;
                            stored.setFloat(v, h, i, w, c);
                            expected[c] += v;
                        }
                    }
                }
            }
            Tensor diff = stored.permute(1, 3, 0, 2);
            assertFalse(diff.isContiguous());
            Tensor src = Tensor.ofFloats(filled(r, n * 2 * oh * ow), n, 2, oh, ow);
            RegionConvLayer.Gradients g = layer.backward(src, diff, masks(r, true, n, oh, ow),
                    masks(r, true, n, oh, ow), arena);
            assertArrayEquals(expected, doubles(g.gradBias().toFloatArray()), 0.0);
        }
    }

    // ---- validation ------------------------------------------------------------------------------

    private static IllegalArgumentException rejects(Runnable r) {
        return assertThrows(IllegalArgumentException.class, r::run);
    }

    @Test
    void constructorRejectsBadParameters() {
        Tensor f4 = Tensor.ofFloats(new float[2 * 3 * 3], 2, 1, 3, 3);
        ConvParams p = ConvParams.DEFAULT;
        assertTrue(rejects(() -> new RegionConvLayer(f4, Tensor.ofFloats(new float[3], 3), p, Backend.JAVA))
                .getMessage().contains("bias must have shape [2], got [3]"));
        assertTrue(rejects(() -> new RegionConvLayer(f4, Tensor.ofFloats(new float[2], 1, 2), p, Backend.JAVA))
                .getMessage().contains("bias must have shape [2], got [1, 2]"));
        assertTrue(rejects(() -> new RegionConvLayer(f4, Tensor.ofInts(new int[2], 2), p, Backend.JAVA))
                .getMessage().contains("bias must be float32"));
        assertTrue(rejects(() -> new RegionConvLayer(Tensor.ofInts(new int[18], 2, 1, 3, 3), p, Backend.JAVA))
                .getMessage().contains("filter must be float32"));
        assertTrue(rejects(() -> new RegionConvLayer(Tensor.ofFloats(new float[18], 2, 9), p, Backend.JAVA))
                .getMessage().contains("filter must have rank 5"));
        // a 5-D filter with 2 groups, parameters with 1
        assertTrue(rejects(() -> new RegionConvLayer(Tensor.ofFloats(new float[18], 2, 1, 1, 3, 3), p, Backend.JAVA))
                .getMessage().contains("groups"));
        // 4-D filter with 2 output channels, 4 groups
        assertTrue(rejects(() -> new RegionConvLayer(f4, p.withGroups(4), Backend.JAVA)).getMessage().contains("groups=4"));
        assertThrows(NullPointerException.class, () -> new RegionConvLayer(null, p, Backend.JAVA));
        assertThrows(NullPointerException.class, () -> new RegionConvLayer(f4, null, Backend.JAVA));
        assertThrows(NullPointerException.class, () -> new RegionConvLayer(f4, p, null));
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void callsRejectBadTensors(Backend backend) {
        Tensor filter = Tensor.ofFloats(new float[2 * 3 * 3], 2, 1, 3, 3);
        ConvParams p = ConvParams.DEFAULT.withStride(2, 2);
        RegionConvLayer layer = new RegionConvLayer(filter, Tensor.ofFloats(new float[2], 2), p, backend);
        Tensor src = Tensor.ofFloats(new float[8 * 8], 1, 1, 8, 8);          // OH = OW = 3
        Tensor rin = Tensor.ofInts(new int[64], 1, 8, 8);
        Tensor rout = Tensor.ofInts(new int[9], 1, 3, 3);
        Tensor diff = Tensor.ofFloats(new float[2 * 9], 1, 2, 3, 3);
        try (Arena arena = Arena.ofConfined()) {
            assertTrue(rejects(() -> layer.forward(Tensor.ofFloats(new float[2 * 64], 1, 2, 8, 8), rin, rout, arena))
                    .getMessage().contains("src has 2 channels"));
            assertTrue(rejects(() -> layer.backward(src, Tensor.ofFloats(new float[9], 1, 1, 3, 3), rin, rout, arena))
                    .getMessage().contains("diff must have shape [1, 2, 3, 3]"));
            // a 7x7 rin gives the same 3x3 output with stride 2: it must still match src
            assertTrue(rejects(() -> layer.backward(src, diff, Tensor.ofInts(new int[49], 1, 7, 7), rout, arena))
                    .getMessage().contains("rin must have shape [1, 8, 8]"));
            assertTrue(rejects(() -> layer.backward(src, diff, rin, Tensor.ofBytes(new byte[9], 1, 3, 3), arena))
                    .getMessage().contains("same dtype"));
            assertThrows(NullPointerException.class, () -> layer.backward(src, diff, rin, rout, null));
            RegionConvLayer.Gradients ok = layer.backward(src, diff, rin, rout, arena);
            assertArrayEquals(new float[2], ok.gradBias().toFloatArray());
        }
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void biasInAClosedArenaIsAnErrorNotACrash(Backend backend) {
        Tensor bias;
        try (Arena arena = Arena.ofConfined()) {
            bias = Tensor.allocate(arena, DType.FLOAT32, 1);
        }
        RegionConvLayer layer = new RegionConvLayer(Tensor.ofFloats(new float[] {1}, 1, 1, 1, 1), bias,
                ConvParams.DEFAULT, backend);
        try (Arena arena = Arena.ofConfined()) {
            Tensor src = Tensor.ofFloats(new float[] {1}, 1, 1, 1, 1);
            Tensor m = Tensor.ofInts(new int[] {0}, 1, 1, 1);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> layer.forward(src, m, m, arena));
            assertTrue(e.getMessage().startsWith("bias"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> layer.backward(src, src, m, m, arena));
        }
    }

    // ---- finite differences ----------------------------------------------------------------------

    /**
     * L = sum(forward(x) * R) for a fixed random R is affine in each of x, w and b, so a central difference
     * with a step of 1 equals the gradient up to float rounding: checked for every bias entry and for
     * random entries of x and w, in both modes, on a grouped, strided, padded, dilated problem.
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void gradientsMatchFiniteDifferences(Backend backend) {
        for (Mode mode : Mode.values()) {
            Random r = new Random(31 + mode.ordinal());
            int n = 2;
            int groups = 2;
            int icpg = 2;
            int ocpg = 3;
            int ih = 7;
            int iw = 6;
            ConvParams p = new ConvParams(2, 1, 1, 1, 1, 2, groups, mode);
            int oh = (int) ConvParams.outputSize(ih, 3, 1, 1, 2);
            int ow = (int) ConvParams.outputSize(iw, 2, 1, 2, 1);
            float[] w = filled(r, groups * ocpg * icpg * 3 * 2);
            float[] b = filled(r, groups * ocpg);
            float[] x = filled(r, n * groups * icpg * ih * iw);
            float[] weights = filled(r, n * groups * ocpg * oh * ow);
            boolean uint8 = mode == Mode.CONVOLUTION;
            Tensor rin = masks(r, uint8, n, ih, iw);
            Tensor rout = masks(r, uint8, n, oh, ow);
            RegionConvLayer layer = new RegionConvLayer(Tensor.ofFloats(w, groups, ocpg, icpg, 3, 2),
                    Tensor.ofFloats(b, groups * ocpg), p, backend);
            Tensor src = Tensor.ofFloats(x, n, groups * icpg, ih, iw);
            try (Arena arena = Arena.ofConfined()) {
                RegionConvLayer.Gradients g = layer.backward(src, Tensor.ofFloats(weights, n, groups * ocpg, oh, ow),
                        rin, rout, arena);
                float[] gx = g.gradSrc().toFloatArray();
                float[] gw = g.gradFilter().toFloatArray();
                float[] gb = g.gradBias().toFloatArray();
                for (int i = 0; i < b.length; i++) {
                    checkDifference("bias[" + i + "] " + mode, b, i, gb[i], () -> loss(layer, src, rin, rout, weights));
                }
                for (int k = 0; k < 12; k++) {
                    int i = r.nextInt(w.length);
                    checkDifference("filter[" + i + "] " + mode, w, i, gw[i], () -> loss(layer, src, rin, rout, weights));
                    int j = r.nextInt(x.length);
                    checkDifference("src[" + j + "] " + mode, x, j, gx[j], () -> loss(layer, src, rin, rout, weights));
                }
            }
        }
    }

    private static double loss(RegionConvLayer layer, Tensor src, Tensor rin, Tensor rout, float[] weights) {
        try (Arena arena = Arena.ofConfined()) {
            float[] y = layer.forward(src, rin, rout, arena).toFloatArray();
            double l = 0;
            for (int i = 0; i < y.length; i++) {
                l += (double) y[i] * weights[i];
            }
            return l;
        }
    }

    private static void checkDifference(String what, float[] param, int i, float analytic,
                                        java.util.function.DoubleSupplier loss) {
        float saved = param[i];
        param[i] = saved + 1;
        double up = loss.getAsDouble();
        param[i] = saved - 1;
        double down = loss.getAsDouble();
        param[i] = saved;
        double numeric = (up - down) / 2;
        assertEquals(numeric, analytic, 1e-3 * (1 + Math.abs(numeric)), what);
    }

    // ---- helpers ---------------------------------------------------------------------------------

    static void fill(Random r, float[] a) {
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
    }

    static float[] filled(Random r, int n) {
        float[] a = new float[n];
        fill(r, a);
        return a;
    }

    /** Random region ids 0..2, as uint8 or int32. */
    static Tensor masks(Random r, boolean uint8, int n, int h, int w) {
        int[] v = new int[n * h * w];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextInt(3);
        }
        if (!uint8) {
            return Tensor.ofInts(v, n, h, w);
        }
        byte[] bytes = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            bytes[i] = (byte) v[i];
        }
        return Tensor.ofBytes(bytes, n, h, w);
    }
}
