package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.rrconv.RandomConfigTest.Config;
import dev.rrconv.RandomConfigTest.Data;
import dev.rrconv.TestTensors.Buf;
import dev.rrconv.TestTensors.Layout;
import dev.rrconv.internal.JavaKernels;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * float16 and bfloat16 data: tensors, the worked examples (exact in both types), seeded random configurations
 * against {@link Oracle} (computed from the same half inputs, then rounded once to the output type by
 * {@link HalfRounding}), output-type choices, thread counts, and bad input.
 *
 * <p>Tolerance. Integer-valued configs (values in -3..3, every float32 partial sum exact) must equal the
 * exact result rounded once to the output type, bit for bit; the others must lie between the exact result
 * minus and plus the float32 summation bound of {@link RandomConfigTest}, each rounded once to the output
 * type (so within 1 ulp of that type plus that bound; see {@link #compare}).
 *
 * <p>The random configs run the native backend, the Java backend as dispatched, and the Java backend with
 * each family of its kernel table forced ({@code rrconv.javaKernel}): reference, planar, and depthwise
 * (on depthwise configs).
 */
class HalfPrecisionTest {
    static final DType[] HALVES = {DType.FLOAT16, DType.BFLOAT16};
    static final int CONFIGS = 160;
    static final long BASE_SEED = 1313_2026L;

    @AfterEach
    void reset() {
        RegionConv.setThreads(0);
        System.clearProperty(JavaKernels.KERNEL_PROPERTY);
    }

    // ---- tensors --------------------------------------------------------------------------------

    @Test
    void shortTensorsConvertOnGetAndSet() {
        short[] bits = new short[6];
        Tensor f16 = Tensor.ofShorts(bits, DType.FLOAT16, 2, 3);
        f16.setFloat(1.5f, 0, 1);
        f16.setFloat(1f + 0x1p-11f, 1, 0); // a tie: rounds to even (1.0)
        f16.setFloat(1e6f, 1, 2); // overflows to infinity
        assertEquals((short) 0x3E00, bits[1]);
        assertEquals((short) 0x3C00, bits[3]);
        assertEquals((short) 0x7C00, bits[5]);
        assertEquals(1.5f, f16.getFloat(0, 1));
        assertEquals(Float.POSITIVE_INFINITY, f16.getFloat(1, 2));
        assertArrayEquals(new float[] {0, 1.5f, 0, 1, 0, Float.POSITIVE_INFINITY}, f16.toFloatArray());
        assertArrayEquals(bits, f16.toShortArray());

        Tensor bf16 = Tensor.ofShorts(new short[4], DType.BFLOAT16, 4);
        bf16.setFloat(1.5f, 0);
        bf16.setFloat(Float.NaN, 1);
        bf16.setFloat(1f + 3 * 0x1p-8f, 2); // a tie: rounds to even (1 + 2^-6)
        bf16.setFloat(-Float.MAX_VALUE, 3);
        assertArrayEquals(new short[] {0x3FC0, 0x7FC0, 0x3F82, (short) 0xFF80}, bf16.toShortArray());
        assertTrue(Float.isNaN(bf16.getFloat(1)));
        assertEquals(1f + 0x1p-6f, bf16.getFloat(2));
        assertEquals(2, DType.BFLOAT16.byteSize());
        assertEquals("<f2", DType.FLOAT16.npyDescr());
        assertEquals("bfloat16", DType.BFLOAT16.toString());

        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.allocate(arena, DType.BFLOAT16, 3, 5);
            assertEquals(30, t.segment().byteSize());
            t.setFloat(-2.25f, 2, 4);
            assertEquals(-2.25f, t.getFloat(2, 4));
            assertEquals(28, t.byteOffset(2, 4));
        }
    }

    @Test
    void shortTensorsRejectMisuse() {
        rejects(() -> Tensor.ofShorts(new short[4], DType.FLOAT32, 4), "ofShorts", "float16 or bfloat16", "float32");
        rejects(() -> Tensor.ofShorts(new short[4], DType.INT32, 4), "ofShorts", "int32");
        rejects(() -> Tensor.ofShorts(new short[4], DType.FLOAT16, 5), "[5]", "5 elements", "4");
        Tensor h = Tensor.ofShorts(new short[4], DType.FLOAT16, 4);
        rejects(() -> h.getInt(0), "float16");
        rejects(() -> h.toIntArray(), "float16");
        rejects(() -> Tensor.ofInts(new int[4], 4).getFloat(0), "getFloat", "int32");
        rejects(() -> Tensor.ofFloats(new float[4], 4).toShortArray(), "toShortArray", "float32");
    }

    // ---- worked examples, exact in both types ---------------------------------------------------

    /** How the result is obtained. */
    enum Out {
        /** arena overload without an output type: the inputs' type. */
        DEFAULT,
        /** arena overload asking for float32. */
        ARENA_FLOAT32,
        /** a caller-given output of the inputs' type. */
        CALLER_SAME,
        /** a caller-given float32 output. */
        CALLER_FLOAT32;

        DType type(DType in) {
            return this == ARENA_FLOAT32 || this == CALLER_FLOAT32 ? DType.FLOAT32 : in;
        }
    }

    static Stream<Arguments> exampleCases() {
        List<Arguments> out = new ArrayList<>();
        for (Backend b : Backend.values()) {
            for (DType t : HALVES) {
                for (Out o : Out.values()) {
                    out.add(Arguments.of(b, t, o));
                }
            }
        }
        return out.stream();
    }

    private static final int[] RIN_A = {1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1};
    private static final int[] ROUT_A = {0, 1, 1, 1, 0, 0, 1, 0, 1};

    private static Tensor half(DType t, double[] v, long... shape) {
        short[] bits = new short[v.length];
        for (int i = 0; i < v.length; i++) {
            bits[i] = HalfRounding.bits(t, v[i]);
        }
        return Tensor.ofShorts(bits, t, shape);
    }

    /** Runs one direction the way {@code o} asks and checks the result's dtype; returns its values. */
    private static double[] result(Out o, DType in, long[] shape, Arena arena,
                                   java.util.function.Function<DType, Tensor> arenaCall,
                                   java.util.function.Consumer<Tensor> callerCall) {
        Tensor r;
        switch (o) {
            case DEFAULT -> r = arenaCall.apply(null);
            case ARENA_FLOAT32 -> r = arenaCall.apply(DType.FLOAT32);
            default -> {
                r = Tensor.allocate(arena, o.type(in), shape);
                r.segment().fill((byte) 0x7F); // a sentinel (bfloat16 3.4e38, float16 NaN): must be overwritten
                callerCall.accept(r);
            }
        }
        assertEquals(o.type(in), r.dtype(), "result dtype");
        assertArrayEquals(shape, r.shape());
        return TestTensors.toDoubles(r);
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("exampleCases")
    void workedExamples(Backend backend, DType t, Out o) {
        RegionConv conv = RegionConv.of(backend);
        try (Arena arena = Arena.ofConfined()) {
            // (a) forward, dense, masked
            Oracle.Geometry a = new Oracle.Geometry(1, 1, 1, 1, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, false);
            Tensor src = half(t, WorkedExamplesTest.range(0, 16), 1, 1, 4, 4);
            Tensor w = half(t, WorkedExamplesTest.ones(4), 1, 1, 1, 2, 2);
            Tensor rin = Tensor.ofInts(RIN_A, 1, 4, 4);
            Tensor rout = Tensor.ofInts(ROUT_A, 1, 3, 3);
            double[] fwd = {4, 14, 18, 5, 9, 0, 13, 9, 50};
            assertArrayEquals(fwd, result(o, t, new long[] {1, 1, 3, 3}, arena,
                    ty -> ty == null ? conv.forward(src, w, rin, rout, a.params(), arena)
                            : conv.forward(src, w, rin, rout, a.params(), ty, arena),
                    dst -> conv.forward(src, w, rin, rout, a.params(), dst)), 0.0, "forward (a)");

            // (b) backward data of (a)
            Tensor diff = half(t, WorkedExamplesTest.range(1, 9), 1, 1, 3, 3);
            double[] bwd = {0, 2, 5, 3, 1, 6, 5, 3, 0, 13, 9, 9, 0, 7, 9, 9};
            assertArrayEquals(bwd, result(o, t, new long[] {1, 1, 4, 4}, arena,
                    ty -> ty == null ? conv.backwardData(w, diff, rin, rout, a.params(), arena)
                            : conv.backwardData(w, diff, rin, rout, a.params(), ty, arena),
                    gs -> conv.backwardData(w, diff, rin, rout, a.params(), gs)), 0.0, "backward data (b)");

            // (d) two groups, all three directions, uint8 masks
            Oracle.Geometry d = new Oracle.Geometry(1, 2, 1, 1, 2, 2, 2, 2, 1, 1, 0, 0, 1, 1, false);
            Tensor srcD = half(t, WorkedExamplesTest.range(0, 8), 1, 2, 2, 2);
            Tensor wD = half(t, WorkedExamplesTest.range(0, 8), 2, 1, 2, 2); // 4-D filter
            Tensor diffD = half(t, WorkedExamplesTest.ones(2), 1, 2, 1, 1);
            Tensor rinD = Tensor.ofBytes(new byte[] {1, 1, 1, 1}, 1, 2, 2);
            Tensor routD = Tensor.ofBytes(new byte[] {1}, 1, 1, 1);
            ConvParams p = d.params();
            assertArrayEquals(new double[] {14, 126}, result(o, t, new long[] {1, 2, 1, 1}, arena,
                    ty -> ty == null ? conv.forward(srcD, wD, rinD, routD, p, arena)
                            : conv.forward(srcD, wD, rinD, routD, p, ty, arena),
                    dst -> conv.forward(srcD, wD, rinD, routD, p, dst)), 0.0, "forward (d)");
            assertArrayEquals(WorkedExamplesTest.range(0, 8), result(o, t, new long[] {1, 2, 2, 2}, arena,
                    ty -> ty == null ? conv.backwardData(wD, diffD, rinD, routD, p, arena)
                            : conv.backwardData(wD, diffD, rinD, routD, p, ty, arena),
                    gs -> conv.backwardData(wD, diffD, rinD, routD, p, gs)), 0.0, "backward data (d)");
            assertArrayEquals(WorkedExamplesTest.range(0, 8), result(o, t, d.filterShape5(), arena,
                    ty -> ty == null ? conv.backwardFilter(srcD, diffD, rinD, routD, p, 2, 2, arena)
                            : conv.backwardFilter(srcD, diffD, rinD, routD, p, 2, 2, ty, arena),
                    gf -> conv.backwardFilter(srcD, diffD, rinD, routD, p, gf)), 0.0, "backward filter (d)");
        }
    }

    /** One rounding, to nearest even, of the float32 sum: 1 + 2^-11 + 2^-11 is 1 + 2^-10 in float16, not 1. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void sumsInFloat32RoundedOnce(Backend backend) {
        RegionConv conv = RegionConv.of(backend);
        Oracle.Geometry g = new Oracle.Geometry(1, 1, 1, 1, 1, 3, 1, 3, 1, 1, 0, 0, 1, 1, false);
        for (DType t : HALVES) {
            double eps = t == DType.FLOAT16 ? 0x1p-11 : 0x1p-8; // half an ulp of 1 in each type
            Tensor src = half(t, new double[] {1, eps * 2, eps * 2}, 1, 1, 1, 3); // 2*eps: exact (the ulp of 1)
            Tensor w = half(t, new double[] {1, 0.5, 0.5}, 1, 1, 1, 1, 3);
            Tensor rin = Tensor.ofInts(new int[3], 1, 1, 3);
            Tensor rout = Tensor.ofInts(new int[1], 1, 1, 1);
            try (Arena arena = Arena.ofConfined()) {
                // exact: 1 + eps + eps = 1 + 2 eps. Summed in half precision: (1 + eps) rounds to 1, twice: 1.
                Tensor dst = conv.forward(src, w, rin, rout, g.params(), arena);
                assertEquals(1 + 2 * eps, dst.getFloat(0, 0, 0, 0), 0.0, t + ": the sum must not be rounded per tap");
                Tensor dst32 = conv.forward(src, w, rin, rout, g.params(), DType.FLOAT32, arena);
                assertEquals(1 + 2 * eps, dst32.getFloat(0, 0, 0, 0), 0.0, t + " to float32");
                // 1 + eps alone is a tie: even (1) in the half type, exact in float32
                Tensor one = half(t, new double[] {1, eps * 2, 0}, 1, 1, 1, 3);
                assertEquals(1.0, conv.forward(one, w, rin, rout, g.params(), arena).getFloat(0, 0, 0, 0), 0.0, t + " tie");
                assertEquals(1 + eps, conv.forward(one, w, rin, rout, g.params(), DType.FLOAT32, arena)
                        .getFloat(0, 0, 0, 0), 0.0, t + " tie, float32 output");
            }
        }
    }

    static Stream<Backend> backends() {
        return Stream.of(Backend.values());
    }

    // ---- random configs against the oracle -------------------------------------------------------

    /** How the Java backend picks its rows for a run: as dispatched, or one family forced in every direction. */
    enum Engine {
        NATIVE, JAVA, JAVA_REFERENCE, JAVA_PLANAR, JAVA_DEPTHWISE;

        /** The row this engine forces for a direction ({@code forward}, ...), or null. */
        String row(String direction) {
            return switch (this) {
                case JAVA_REFERENCE -> "java_" + direction + "_reference";
                case JAVA_PLANAR -> "java_" + direction + "_planar";
                case JAVA_DEPTHWISE -> "java_" + direction + "_depthwise";
                default -> null;
            };
        }
    }

    record HalfConfig(Config config, DType type, DType outType) {
        @Override
        public String toString() {
            return type + "->" + outType + " " + config.summary();
        }
    }

    static Stream<Arguments> randomConfigs() {
        return IntStream.range(0, CONFIGS).mapToObj(i -> {
            Config c = Config.random(i, BASE_SEED);
            DType type = HALVES[(i / 16) % 2];
            DType out = (i / 32) % 2 == 0 ? type : DType.FLOAT32;
            HalfConfig h = new HalfConfig(c, type, out);
            return Arguments.of(Named.of(h.toString(), h));
        });
    }

    @Test
    void randomConfigsCoverBothTypesBothOutputsEveryGroupKindAndLayout() {
        List<String> seen = new ArrayList<>();
        randomConfigs().forEach(a -> {
            HalfConfig h = (HalfConfig) ((Named<?>) a.get()[0]).getPayload();
            seen.add(h.type() + "->" + h.outType() + " " + h.config().groupKind() + " " + h.config().maskType());
            seen.add("values " + h.config().integerValues() + " " + h.type());
            seen.add("dst " + h.config().dstLayout());
        });
        for (DType t : HALVES) {
            for (DType o : new DType[] {t, DType.FLOAT32}) {
                for (RandomConfigTest.GroupKind k : RandomConfigTest.GroupKind.values()) {
                    for (DType m : new DType[] {DType.INT32, DType.UINT8}) {
                        assertTrue(seen.contains(t + "->" + o + " " + k + " " + m), t + "->" + o + " " + k + " " + m);
                    }
                }
            }
            assertTrue(seen.contains("values true " + t) && seen.contains("values false " + t));
        }
        for (Layout l : new Layout[] {Layout.ARENA, Layout.HEAP_DENSE, Layout.OFFHEAP_STRIDED, Layout.HEAP_UNALIGNED}) {
            assertTrue(seen.contains("dst " + l), "dst layout " + l);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("randomConfigs")
    void randomConfigsMatchOracle(HalfConfig h) {
        Config c = h.config();
        Oracle.Geometry g = c.geometry();
        Data raw = Data.generate(c);
        // the inputs as the half type holds them: the oracle computes from exactly these values
        Data d = new Data(HalfRounding.round(h.type(), raw.src()), HalfRounding.round(h.type(), raw.filter()),
                HalfRounding.round(h.type(), raw.diff()), raw.rin(), raw.rout());
        Oracle.Result[] expected = {
                Oracle.forward(g, d.src(), d.filter(), d.rin(), d.rout()),
                Oracle.backwardData(g, d.filter(), d.diff(), d.rin(), d.rout()),
                Oracle.backwardFilter(g, d.src(), d.diff(), d.rin(), d.rout())};
        List<String> errors = new ArrayList<>();
        Throwable cause = null;
        for (Engine e : Engine.values()) {
            if (e == Engine.JAVA_DEPTHWISE && !(g.icpg() == 1 && g.ocpg() == 1)) {
                continue;
            }
            try {
                runEngine(h, d, e, expected, errors);
            } catch (RuntimeException | Error ex) {
                errors.add(e + " threw " + ex);
                cause = cause == null ? ex : cause;
            } finally {
                System.clearProperty(JavaKernels.KERNEL_PROPERTY);
            }
        }
        if (!errors.isEmpty()) {
            fail("seed=" + c.seed() + " " + h + " (" + errors.size() + " problems)\n  config: " + c + "\n  "
                    + String.join("\n  ", errors.subList(0, Math.min(errors.size(), 16))), cause);
        }
    }

    private static <T> T forcing(Engine e, String direction, Supplier<T> call) {
        String row = e.row(direction);
        if (row == null) {
            System.clearProperty(JavaKernels.KERNEL_PROPERTY);
        } else {
            System.setProperty(JavaKernels.KERNEL_PROPERTY, row);
        }
        return call.get();
    }

    private static void runEngine(HalfConfig h, Data d, Engine e, Oracle.Result[] expected, List<String> errors) {
        Config c = h.config();
        Oracle.Geometry g = c.geometry();
        RegionConv conv = RegionConv.of(e == Engine.NATIVE ? Backend.NATIVE : Backend.JAVA);
        ConvParams p = c.params();
        DType t = h.type();
        DType o = h.outType();
        Random lr = new Random(RandomConfigTest.Config.mix(c.seed() + 7));
        try (Arena arena = Arena.ofConfined()) {
            Buf src = TestTensors.data(arena, t, g.srcShape(), c.srcLayout(), lr, d.src());
            long[] filterShape = c.filterRank() == 5 ? g.filterShape5() : g.filterShape4();
            Buf filter = TestTensors.data(arena, t, filterShape, c.filterLayout(), lr, d.filter());
            Buf rin = TestTensors.ints(arena, c.maskType(), g.rinShape(), c.rinLayout(), lr, d.rin());
            Buf rout = TestTensors.ints(arena, c.maskType(), g.routShape(), c.routLayout(), lr, d.rout());
            Buf diff = TestTensors.data(arena, t, g.dstShape(), c.diffLayout(), lr, d.diff());
            Buf[] inputs = {src, filter, rin, rout, diff};
            byte[][] before = new byte[inputs.length][];
            for (int i = 0; i < inputs.length; i++) {
                before[i] = inputs[i].snapshot();
            }
            String prefix = e + " ";

            double[] got = run(arena, o, g.dstShape(), c.dstLayout(), lr, prefix + "forward",
                    () -> forcing(e, "forward", () -> conv.forward(src.tensor(), filter.tensor(), rin.tensor(),
                            rout.tensor(), p, o, arena)),
                    out -> forcing(e, "forward", () -> {
                        conv.forward(src.tensor(), filter.tensor(), rin.tensor(), rout.tensor(), p, out);
                        return null;
                    }));
            compare(prefix + "forward", expected[0], got, o, c.integerValues(), errors);

            got = run(arena, o, g.srcShape(), c.gradSrcLayout(), lr, prefix + "backward data",
                    () -> forcing(e, "backward_data", () -> conv.backwardData(filter.tensor(), diff.tensor(),
                            rin.tensor(), rout.tensor(), p, o, arena)),
                    out -> forcing(e, "backward_data", () -> {
                        conv.backwardData(filter.tensor(), diff.tensor(), rin.tensor(), rout.tensor(), p, out);
                        return null;
                    }));
            compare(prefix + "backward data", expected[1], got, o, c.integerValues(), errors);

            got = run(arena, o, filterShape, c.gradFilterLayout(), lr, prefix + "backward filter",
                    () -> forcing(e, "backward_filter", () -> conv.backwardFilter(src.tensor(), diff.tensor(),
                            rin.tensor(), rout.tensor(), p, c.fh(), c.fw(), o, arena)),
                    out -> forcing(e, "backward_filter", () -> {
                        conv.backwardFilter(src.tensor(), diff.tensor(), rin.tensor(), rout.tensor(), p, out);
                        return null;
                    }));
            compare(prefix + "backward filter", expected[2], got, o, c.integerValues(), errors);

            String[] names = {"src", "filter", "rin", "rout", "diff"};
            for (int i = 0; i < inputs.length; i++) {
                if (!Arrays.equals(before[i], inputs[i].snapshot())) {
                    errors.add(prefix + "modified input " + names[i]);
                }
            }
        }
    }

    private static double[] run(Arena arena, DType o, long[] shape, Layout layout, Random lr, String what,
                                Supplier<Tensor> arenaCall, java.util.function.Consumer<Tensor> callerCall) {
        if (layout == Layout.ARENA) {
            Tensor r = arenaCall.get();
            assertEquals(o, r.dtype(), what + " result dtype");
            return TestTensors.toDoubles(r);
        }
        Buf out = TestTensors.create(arena, o, shape, layout, lr);
        byte[] snap = out.snapshot();
        callerCall.accept(out.tensor());
        out.assertGapsUntouched(snap, what);
        return out.readDoubles();
    }

    /**
     * The result must be the float32 sum rounded once to the output type. The float32 sum lies within
     * {@code err} of the exact value e ({@code err = 0} for integer data and for outputs without taps, else the
     * float32 summation bound 1e-4 * sum|terms|), and rounding is monotone, so the result must lie between
     * e - err and e + err each rounded once to the output type: bit for bit round(e) for integer data, and for
     * the others within 1 ulp of the output type plus err (truncating instead of rounding fails this).
     */
    static void compare(String what, Oracle.Result expected, double[] got, DType out, boolean integerValues,
                        List<String> errors) {
        if (got.length != expected.value().length) {
            errors.add(what + ": " + got.length + " elements, expected " + expected.value().length);
            return;
        }
        int bad = 0;
        for (int i = 0; i < got.length; i++) {
            double e = expected.value()[i];
            double err = integerValues || expected.terms()[i] == 0 ? 0 : 1e-4 * expected.absSum()[i];
            double lo = HalfRounding.round(out, e - err);
            double hi = HalfRounding.round(out, e + err);
            boolean ok = got[i] >= lo && got[i] <= hi;
            String want = (lo == hi ? String.valueOf(lo) : "in [" + lo + ", " + hi + "]") + " (exact " + e
                    + " +- " + err + ", rounded once to " + out + ")";
            if (!ok && bad++ < 4) {
                errors.add(what + ": element " + i + " = " + got[i] + ", expected " + want + ", "
                        + expected.terms()[i] + " terms");
            }
        }
        if (bad > 4) {
            errors.add(what + ": ... " + bad + " of " + got.length + " elements differ");
        }
    }

    // ---- thread counts ----------------------------------------------------------------------------

    static Stream<Arguments> threadCases() {
        List<Arguments> out = new ArrayList<>();
        for (Backend b : Backend.values()) {
            for (DType t : HALVES) {
                // dense (planar rows) and depthwise 64 channels with a 7x7 kernel (depthwise rows)
                out.add(Arguments.of(b, t, new Oracle.Geometry(2, 1, 5, 6, 19, 23, 3, 3, 1, 2, 1, 1, 1, 1, false)));
                out.add(Arguments.of(b, t, new Oracle.Geometry(1, 64, 1, 1, 16, 16, 7, 7, 1, 1, 3, 3, 1, 1, true)));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("threadCases")
    void bitwiseIdenticalForThreads1237(Backend backend, DType t, Oracle.Geometry g) {
        RegionConv conv = RegionConv.of(backend);
        Random r = new Random(77);
        double[] src = randomHalves(t, r, g.srcSize());
        double[] w = randomHalves(t, r, g.filterSize());
        double[] diff = randomHalves(t, r, g.dstSize());
        int[] rin = r.ints(g.rinSize(), 0, 3).toArray();
        int[] rout = r.ints(g.routSize(), 0, 3).toArray();
        short[][] reference = null;
        for (int threads : new int[] {1, 2, 3, 7}) {
            RegionConv.setThreads(threads);
            short[][] got = new short[3][];
            try (Arena arena = Arena.ofShared()) {
                Tensor tSrc = half(t, src, g.srcShape());
                Tensor tW = half(t, w, g.filterShape5());
                Tensor tDiff = half(t, diff, g.dstShape());
                Tensor tRin = Tensor.ofInts(rin, g.rinShape());
                Tensor tRout = Tensor.ofInts(rout, g.routShape());
                got[0] = conv.forward(tSrc, tW, tRin, tRout, g.params(), arena).toShortArray();
                got[1] = conv.backwardData(tW, tDiff, tRin, tRout, g.params(), arena).toShortArray();
                got[2] = conv.backwardFilter(tSrc, tDiff, tRin, tRout, g.params(), g.fh(), g.fw(), arena).toShortArray();
                if (threads == 1) {
                    List<String> errors = new ArrayList<>();
                    compare("forward", Oracle.forward(g, src, w, rin, rout), doubles(t, got[0]), t, false, errors);
                    compare("backward data", Oracle.backwardData(g, w, diff, rin, rout), doubles(t, got[1]), t, false,
                            errors);
                    compare("backward filter", Oracle.backwardFilter(g, src, diff, rin, rout), doubles(t, got[2]), t,
                            false, errors);
                    assertTrue(errors.isEmpty(), String.join("\n", errors));
                }
            }
            if (reference == null) {
                reference = got;
            } else {
                for (int d = 0; d < 3; d++) {
                    assertArrayEquals(reference[d], got[d], backend + " " + t + " direction " + d + " with " + threads
                            + " threads differs from 1 thread");
                }
            }
        }
    }

    private static double[] randomHalves(DType t, Random r, int count) {
        double[] v = new double[count];
        for (int i = 0; i < count; i++) {
            v[i] = HalfRounding.round(t, r.nextDouble() * 2 - 1);
        }
        return v;
    }

    private static double[] doubles(DType t, short[] bits) {
        double[] d = new double[bits.length];
        for (int i = 0; i < bits.length; i++) {
            d[i] = HalfRounding.value(t, bits[i]);
        }
        return d;
    }

    // ---- bad input ------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void mixedAndWrongTypesAreRejectedClearly(Backend backend) {
        RegionConv conv = RegionConv.of(backend);
        Oracle.Geometry g = new Oracle.Geometry(1, 1, 1, 1, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, false);
        ConvParams p = g.params();
        Tensor src16 = half(DType.FLOAT16, WorkedExamplesTest.range(0, 16), 1, 1, 4, 4);
        Tensor srcBf = half(DType.BFLOAT16, WorkedExamplesTest.range(0, 16), 1, 1, 4, 4);
        Tensor w16 = half(DType.FLOAT16, WorkedExamplesTest.ones(4), 1, 1, 1, 2, 2);
        Tensor wBf = half(DType.BFLOAT16, WorkedExamplesTest.ones(4), 1, 1, 1, 2, 2);
        Tensor w32 = TestTensors.heapFloats(WorkedExamplesTest.ones(4), 1, 1, 1, 2, 2);
        Tensor diff16 = half(DType.FLOAT16, WorkedExamplesTest.ones(9), 1, 1, 3, 3);
        Tensor rin = Tensor.ofInts(RIN_A, 1, 4, 4);
        Tensor rout = Tensor.ofInts(ROUT_A, 1, 3, 3);
        try (Arena arena = Arena.ofConfined()) {
            rejects(() -> conv.forward(src16, wBf, rin, rout, p, arena),
                    "src and filter must share one data type", "src float16", "filter bfloat16");
            rejects(() -> conv.forward(srcBf, w32, rin, rout, p, arena), "src bfloat16", "filter float32");
            rejects(() -> conv.backwardData(w32, diff16, rin, rout, p, arena),
                    "filter and diff must share one data type", "filter float32", "diff float16");
            rejects(() -> conv.backwardFilter(srcBf, diff16, rin, rout, p, 2, 2, arena),
                    "src and diff must share one data type", "src bfloat16", "diff float16");

            // output types: the inputs' type or float32, nothing else
            rejects(() -> conv.forward(src16, w16, rin, rout, p, DType.BFLOAT16, arena),
                    "dst must be float16 (the inputs' type) or float32", "got bfloat16");
            rejects(() -> conv.forward(src16, w16, rin, rout, p, DType.INT32, arena), "dst", "got int32");
            rejects(() -> conv.backwardData(w16, diff16, rin, rout, p, DType.UINT8, arena), "gradSrc", "got uint8");
            rejects(() -> conv.backwardFilter(src16, diff16, rin, rout, p, 2, 2, DType.BFLOAT16, arena),
                    "gradFilter must be float16", "got bfloat16");
            rejects(() -> conv.forward(TestTensors.heapFloats(WorkedExamplesTest.range(0, 16), 1, 1, 4, 4), w32, rin,
                    rout, p, DType.FLOAT16, arena), "dst must be float32 (the inputs' type), got float16");
            assertThrows(NullPointerException.class, () -> conv.forward(src16, w16, rin, rout, p, (DType) null, arena));

            short[] dstBits = new short[9];
            Arrays.fill(dstBits, (short) 0x1234);
            Tensor dstBf = Tensor.ofShorts(dstBits, DType.BFLOAT16, 1, 1, 3, 3);
            rejects(() -> conv.forward(src16, w16, rin, rout, p, dstBf), "dst must be float16", "got bfloat16");
            Tensor gradSrcBf = Tensor.ofShorts(new short[16], DType.BFLOAT16, 1, 1, 4, 4);
            rejects(() -> conv.backwardData(w16, diff16, rin, rout, p, gradSrcBf), "gradSrc must be float16",
                    "got bfloat16");
            Tensor gfInt = Tensor.ofInts(new int[4], 1, 1, 1, 2, 2);
            rejects(() -> conv.backwardFilter(src16, diff16, rin, rout, p, gfInt), "gradFilter must be float16",
                    "got int32");
            for (short b : dstBits) {
                assertEquals((short) 0x1234, b, "a rejected call leaves the output untouched");
            }

            // masks stay int32/uint8; data tensors are not masks
            Tensor rinHalf = half(DType.FLOAT16, WorkedExamplesTest.ones(16), 1, 4, 4);
            rejects(() -> conv.forward(src16, w16, rinHalf, rout, p, arena), "rin must be int32 or uint8",
                    "got float16");
            rejects(() -> conv.forward(rin.reshape(1, 1, 4, 4), w16, rin, rout, p, arena),
                    "src must be float32, float16 or bfloat16", "got int32");
        }
    }

    private static void rejects(Runnable call, String... parts) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), "message '" + e.getMessage() + "' lacks '" + part + "'");
        }
    }
}
