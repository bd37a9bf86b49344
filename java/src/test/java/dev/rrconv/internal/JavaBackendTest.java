package dev.rrconv.internal;

import static dev.rrconv.internal.BackendTestData.fill;
import static dev.rrconv.internal.BackendTestData.fillNaN;
import static dev.rrconv.internal.BackendTestData.inverse;
import static dev.rrconv.internal.BackendTestData.permuted;
import static dev.rrconv.internal.BackendTestData.product;
import static dev.rrconv.internal.BackendTestData.randomPermutation;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.Layout;
import dev.rrconv.DType;
import dev.rrconv.Mode;
import dev.rrconv.Tensor;
import dev.rrconv.internal.BackendTestData.Problem;
import dev.rrconv.internal.javaimpl.ReferenceLoops;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The fast Java backend against {@link OracleAdapter} (double precision, tolerance relative to the sum of
 * absolute terms) and, where it sums in float in the same order, bit for bit against the float
 * {@link ReferenceLoops}, on seeded random problems: dense, grouped, depthwise and
 * depthwise-multiplier channels, asymmetric strides, padding and dilation, non-square kernels, both
 * modes, int32 and uint8 masks with extreme values, every tensor in a random memory layout (heap
 * float[], unaligned heap byte[], shared or confined off-heap, permuted or padded-stride views).
 * Results must be bitwise identical for 1, 2, 3 and 7 threads, and NaN or infinity where no tap reads
 * must not reach any output.
 */
@ParameterizedClass(name = "{0} loops")
@ValueSource(strings = {"scalar", "vector"})
class JavaBackendTest {
    /** The backend under test: the scalar loops, or the Vector API loops where this JVM has them. */
    private final JavaBackend backend;
    private final boolean vector;

    JavaBackendTest(String loops) {
        vector = loops.equals("vector");
        VectorConv v = VectorProvider.get().conv().orElse(null);
        backend = vector ? new JavaBackend(v) : new JavaBackend();
    }

    @BeforeEach
    void vectorLoopsPresent() {
        assumeTrue(!vector || VectorProvider.get().conv().isPresent(),
                "no Vector API loops in this JVM: " + VectorProvider.get().reason());
    }
    private static final int[] INT_PALETTE = {Integer.MIN_VALUE, Integer.MAX_VALUE, 16777216, 16777217, 0, -1, 7};
    private static final int[] BYTE_PALETTE = {0, 255, 1, 128};
    private static final int LAYOUTS = 6;
    /** A layout beyond the random ones: dense channels-last for 4-D tensors (the NHWC rows' own). */
    private static final int NHWC = LAYOUTS;
    /** The call layout ({@link JavaBackend#callLayout}) of this thread's last run of each direction. */
    private static final ThreadLocal<Layout[]> CALL_LAYOUT = ThreadLocal.withInitial(() -> new Layout[3]);

    @AfterEach
    void resetThreads() {
        Backends.setThreads(0);
    }

    static IntStream smallSeeds() {
        return IntStream.range(0, 240);
    }

    static IntStream largeSeeds() {
        return IntStream.range(1000, 1010);
    }

    static IntStream nanSeeds() {
        return IntStream.range(2000, 2040);
    }

    @ParameterizedTest
    @MethodSource("smallSeeds")
    void randomSmallProblems(int seed) {
        Random r = new Random(seed * 0x9E3779B97F4A7C15L + 17);
        Problem pr = randomProblem(r, seed % 5, 40_000, 16, 3);
        int alt = new int[] {2, 3, 7}[seed % 3];
        checkAll(pr, r, new int[] {1, alt});
    }

    @ParameterizedTest
    @MethodSource("largeSeeds")
    void randomLargerProblemsAllThreadCounts(int seed) {
        Random r = new Random(seed * 0x9E3779B97F4A7C15L + 17);
        Problem pr = randomProblem(r, seed % 5, 1_500_000, 72, 4);
        checkAll(pr, r, new int[] {1, 2, 3, 7});
    }

    static IntStream bigFilterSeeds() {
        return IntStream.range(3000, 3008);
    }

    /**
     * Depthwise problems with filters of at least 400 taps (20..23 x 20..23, dilated and strided at random, up to
     * 150 channels) on
     * channels-first and randomly strided tensors: where the Vector API runs, dispatch sends the channels-first
     * forward and backward-data calls via the channels-last vector loops (transposed in and out); against the
     * oracle, bitwise the same for 1, 2, 3 and 7 threads.
     */
    @ParameterizedTest
    @MethodSource("bigFilterSeeds")
    void depthwiseCallsWithLargeFilters(int seed) {
        Random r = new Random(seed * 0x9E3779B97F4A7C15L + 17);
        int fh = 20 + r.nextInt(4);
        int fw = 20 + r.nextInt(4);
        int dh = 1 + r.nextInt(2);
        int dw = 1 + r.nextInt(2);
        ConvParams p = new ConvParams(1 + r.nextInt(2), 1 + r.nextInt(2), dh * (fh - 1) / 2 + 1 + r.nextInt(2),
                dw * (fw - 1) / 2 + 1 + r.nextInt(2), dh, dw, 1, r.nextBoolean() ? Mode.CONVOLUTION
                : Mode.CROSS_CORRELATION);
        // up to 150 channels: the vector loops' blocks of 8, 4, 1 vectors and the masked tail
        Problem pr = problem(r, 1 + r.nextInt(2), 1 + r.nextInt(150), 1, 1, 1 + r.nextInt(10), 1 + r.nextInt(10), fh,
                fw, p, r.nextInt(4), r.nextBoolean());
        checkAll(pr, r, new int[] {1, 2, 3, 7});
        Layout[] calls = CALL_LAYOUT.get();
        for (Direction d : new Direction[] {Direction.FORWARD, Direction.BACKWARD_DATA}) {
            if (vector && calls[d.ordinal()] == Layout.NCHW) {
                assertEquals("java_" + d.id() + "_via_nhwc_vector", JavaKernels.select(d, pr.s(), pr.p(),
                        Layout.NCHW, false, null, null, null).name(), pr.toString());
            }
        }
    }

    @Test
    void depthwiseAndDenseReferenceShapesAreConsistent() {
        Random r = new Random(5);
        // Small versions of the benchmark shapes: depthwise 7x7 pad 3, dense 3x3 pad 1, strided dense.
        checkAll(problem(r, 2, 24, 1, 1, 20, 20, 7, 7, ConvParams.DEFAULT.withPadding(3, 3).withGroups(24), 0, false),
                r, new int[] {1, 2, 7});
        checkAll(problem(r, 2, 1, 16, 16, 18, 18, 3, 3, ConvParams.DEFAULT.withPadding(1, 1), 0, false), r,
                new int[] {1, 3});
        checkAll(problem(r, 2, 1, 8, 12, 17, 19, 3, 3, ConvParams.DEFAULT.withPadding(1, 1).withStride(2, 2), 1,
                true), r, new int[] {1, 2});
    }

    @Test
    void depthwise3x3RowsOfSeveralVectors() {
        // Depthwise 3x3 with rows of an even number of vectors (17 to 32 or 49 to 64 columns at 16 floats)
        // runs the vector loops' written-out 3x3 kernel (GatherKernel.depthwise3x3), two channels at a time:
        // an odd channel count leaves a last channel alone; strides, dilations and both mask kinds change
        // its tap offsets and lane masks. Forward and backward data, against the oracle, bitwise the reference
        // loops and the same at 1, 2 and 3 threads (checkAll).
        for (int seed = 0; seed < 8; seed++) {
            Random r = new Random(300 + seed);
            int g = 1 + 2 * (seed % 4); // 1, 3, 5, 7 channels
            int stride = 1 + seed % 2;
            int dilation = 1 + (seed / 2) % 2;
            int iw = stride * (seed < 4 ? 17 + 5 * seed : 49 + 4 * seed) + 2;
            ConvParams p = ConvParams.DEFAULT.withPadding(1 + seed % 3, dilation).withStride(stride, stride)
                    .withDilation(dilation, dilation).withMode(seed % 3 == 0 ? Mode.CONVOLUTION : Mode.CROSS_CORRELATION);
            checkAll(problem(r, 1 + seed % 2, g, 1, 1, 4 + seed, iw, 3, 3, p, seed % 3, seed % 2 == 0), r,
                    new int[] {1, 2, 3});
        }
    }

    @Test
    void depthwiseFilterGradientThreeWide() {
        // Depthwise filter gradients with filters 3 wide on rows of an even number of vectors run the vector
        // loops' written-out kernel (FilterKernel.depthwise3), one filter row, two channels and two chunks at
        // a time: filter heights 1 to 5, strides, dilations, paddings that leave rows outside the image, odd
        // channel counts and both mask kinds. Against the oracle and bitwise the same at 1, 2 and 3 threads.
        for (int seed = 0; seed < 8; seed++) {
            Random r = new Random(400 + seed);
            int g = 1 + 2 * (seed % 4) + (seed / 4) * 4; // 1, 3, 5, 7, 5, 7, 9, 11 channels
            int stride = 1 + seed % 2;
            int dilation = 1 + (seed / 2) % 2;
            int fh = 1 + seed % 5;
            int iw = stride * (seed < 4 ? 17 + 5 * seed : 49 + 4 * seed) + 2 * dilation;
            ConvParams p = ConvParams.DEFAULT.withPadding(seed % 3, dilation).withStride(stride, stride)
                    .withDilation(dilation, dilation).withMode(seed % 3 == 0 ? Mode.CONVOLUTION : Mode.CROSS_CORRELATION);
            Problem pr = problem(r, 1 + seed % 3, g, 1, 1, 4 + 2 * seed, iw, fh, 3, p, seed % 3, seed % 2 == 0);
            checkDirection(backend, Direction.BACKWARD_FILTER, pr, r, new int[] {1, 2, 3}, false);
        }
    }

    @Test
    void masksCompareAsIntsNotFloats() {
        // 16777216 and 16777217 are one float but two regions; INT_MIN/INT_MAX and uint8 255 are regions too.
        Random r = new Random(9);
        for (boolean u8 : new boolean[] {false, true}) {
            ConvParams p = ConvParams.DEFAULT.withPadding(1, 1);
            ConvShape s = ConvShape.ofForward(new long[] {1, 1, 4, 4}, new long[] {1, 1, 1, 3, 3}, p);
            int a = u8 ? 0 : 16777216;
            int b = u8 ? 255 : 16777217;
            int[] rin = new int[16];
            int[] rout = new int[16];
            for (int i = 0; i < 16; i++) {
                rin[i] = (i % 4) < 2 ? a : b;
                rout[i] = (i / 4) < 2 ? a : (u8 ? 128 : Integer.MIN_VALUE);
            }
            float[] src = new float[16];
            Arrays.fill(src, 1f);
            float[] f = new float[9];
            Arrays.fill(f, 1f);
            Problem pr = new Problem(s, p, src, f, randomFloats(r, 16), rin, rout, u8);
            float[] got = runForward(backend, pr, 0, 0, 0, 0, 0, 1);
            double[] want = OracleAdapter.forward(s, p, src, f, rin, rout)[0];
            for (int i = 0; i < 16; i++) {
                assertEquals(want[i], got[i], 0.0, "pixel " + i);
            }
            assertEquals(0f, got[15], "rout region matches no input region");
        }
    }

    @Test
    void infiniteWeightWithManyChannelsPerGroupReachesOnlyTheOutputsThatTakeIt() {
        // 8 output (forward) and 8 input (backward data) channels per group: the blocks the vector loops run
        // with fused multiply-adds when every weight (backward filter: every diff value) is finite. One infinite weight must give exactly the
        // reference's infinities and NaNs, never a NaN from 0 * inf at a tap an output does not take.
        for (int seed = 0; seed < 6; seed++) {
            Random r = new Random(seed);
            Problem base = problem(r, 2, 1 + seed % 2, 8, 8, 9, 21, 3, 3, ConvParams.DEFAULT.withPadding(1, 1),
                    seed % 3, seed % 2 == 1);
            float[] f = base.filter().clone();
            f[r.nextInt(f.length)] = seed % 2 == 0 ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
            Problem pr = new Problem(base.s(), base.p(), base.src(), f, base.diff(), base.rin(), base.rout(), base.u8());
            assertSameNonFinite("forward", pr, referenceForward(pr), runForward(backend, pr, 0, 0, 0, 0, 0, 2));
            assertSameNonFinite("backward data", pr, referenceBackwardData(pr), runBackwardData(backend, pr, 0, 0, 0, 0, 0, 2));
            // the filter gradient's fma blocks (8 output channels) need every diff value finite
            float[] diff = base.diff().clone();
            diff[r.nextInt(diff.length)] = Float.POSITIVE_INFINITY;
            Problem pd = new Problem(base.s(), base.p(), base.src(), base.filter(), diff, base.rin(), base.rout(),
                    base.u8());
            assertSameNonFinite("backward filter", pd, referenceBackwardFilter(pd), runBackwardFilter(backend, pd, 0, 0, 0, 0, 0, 2));
        }
    }

    @Test
    void filterGradientOfTallImagesWithEightChannelsPerGroup() {
        // The vector loops' 8-channel filter-gradient blocks run the rows in tiles (32 rows of 16 columns)
        // and taps in threes, the last one or two in a pair (a single last tap twice): images of 33 to 70
        // rows cross tile edges; 3x3 kernels are three threes, 1x5 a three and a pair, 1x7 two threes and
        // a single tap. Against the oracle, and bitwise the same at 1, 2, 3 and 7 threads.
        for (int seed = 0; seed < 4; seed++) {
            Random r = new Random(100 + seed);
            int fh = seed % 2 == 0 ? 3 : 1;
            int fw = seed % 2 == 0 ? 3 : seed == 1 ? 5 : 7;
            Problem pr = problem(r, 1 + seed % 3, 1 + seed % 2, 2 + seed, 8, 33 + 12 * seed, 5 + 4 * seed, fh, fw,
                    ConvParams.DEFAULT.withPadding(fh / 2, fw / 2), seed % 3, seed % 2 == 1);
            checkDirection(backend, Direction.BACKWARD_FILTER, pr, r, new int[] {1, 2, 3, 7}, false);
        }
    }

    private static float[] referenceBackwardFilter(Problem pr) {
        ConvShape s = pr.s();
        Tensor grad = Tensor.ofFloats(new float[(int) product(s.filterShape())], s.filterShape());
        ReferenceLoops.backwardFilter(s, pr.p(), Tensor.ofFloats(pr.src().clone(), s.srcShape()),
                Tensor.ofFloats(pr.diff().clone(), s.dstShape()), Tensor.ofInts(pr.rin().clone(), s.rinShape()),
                Tensor.ofInts(pr.rout().clone(), s.routShape()), grad);
        return grad.toFloatArray();
    }

    /** Non-finite exactly where {@code want} is (the same infinity, or NaN), close elsewhere. */
    private static void assertSameNonFinite(String what, Problem pr, float[] want, float[] got) {
        int nonFinite = 0;
        for (int i = 0; i < want.length; i++) {
            if (!Float.isFinite(want[i])) {
                nonFinite++;
                if (Float.floatToIntBits(want[i]) != Float.floatToIntBits(got[i])
                        && !(Float.isNaN(want[i]) && Float.isNaN(got[i]))) {
                    fail(what + ": element " + i + " is " + got[i] + ", expected " + want[i] + " in " + pr);
                }
            } else if (!(Math.abs(got[i] - want[i]) <= 1e-4 * (1 + Math.abs(want[i])))) {
                fail(what + ": element " + i + " is " + got[i] + ", expected " + want[i] + " in " + pr);
            }
        }
        assertTrue(nonFinite > 0 && nonFinite < want.length, what + ": " + nonFinite + " non-finite outputs");
    }

    @ParameterizedTest
    @MethodSource("nanSeeds")
    void nonFiniteValuesNoTapReadsNeverReachOutputs(int seed) {
        Random r = new Random(seed * 31L + 7);
        Problem base = randomProblem(r, seed % 5, 40_000, 12, 2);
        ConvShape s = base.s();
        // Stripe masks leave whole taps unused; random masks leave scattered pixels unused.
        int[] rin = base.rin().clone();
        int[] rout = base.rout().clone();
        if (seed % 2 == 0) {
            for (int i = 0; i < rin.length; i++) {
                rin[i] = (int) ((i % s.iw()) % 2);
            }
            for (int i = 0; i < rout.length; i++) {
                rout[i] = (int) ((i % s.ow()) % 2);
            }
        }
        boolean[][] used = usage(s, base.p(), rin, rout);
        float[] poison = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
        float[] src = base.src().clone();
        float[] diff = base.diff().clone();
        float[] filter = base.filter().clone();
        int poisoned = 0;
        for (int i = 0; i < src.length; i++) {
            if (!used[0][i]) {
                src[i] = poison[i % 3];
                poisoned++;
            }
        }
        for (int i = 0; i < diff.length; i++) {
            if (!used[1][i]) {
                diff[i] = poison[i % 3];
                poisoned++;
            }
        }
        for (int i = 0; i < filter.length; i++) {
            if (!used[2][i]) {
                filter[i] = poison[i % 3];
                poisoned++;
            }
        }
        Problem pr = new Problem(s, base.p(), src, filter, diff, rin, rout, base.u8());
        checkAll(pr, r, new int[] {1, 2});
        if (seed == 2000) {
            assertTrue(poisoned > 0, "the test should poison something");
        }
        // A NaN at a position a tap does read must propagate exactly where the reference puts it.
        int live = -1;
        for (int i = 0; i < src.length && live < 0; i++) {
            if (used[0][i]) {
                live = i;
            }
        }
        if (live >= 0) {
            src[live] = Float.NaN;
            Problem hot = new Problem(s, base.p(), src, filter, diff, rin, rout, base.u8());
            double[] want = OracleAdapter.forward(s, hot.p(), src, filter, rin, rout)[0];
            float[] got = runForward(backend, hot, r.nextInt(LAYOUTS), 0, 0, 0, 0, 2);
            for (int i = 0; i < want.length; i++) {
                assertEquals(Double.isNaN(want[i]), Float.isNaN(got[i]), "NaN pattern at " + i + " of " + hot);
            }
        }
    }

    // ---- the kernel table -----------------------------------------------------------------------------

    static Stream<String> rows() {
        return JavaKernels.table().stream().map(JavaKernel::name);
    }

    /**
     * Each row of the table, forced, against the oracle on seeded random problems of every channel kind (those
     * it can compute), at 1 thread and one other count (bitwise the same). A row that no problem exercises
     * fails: a new row gets tested here without a new test.
     */
    @ParameterizedTest
    @MethodSource("rows")
    void everyRowAgainstTheOracle(String row) {
        JavaKernel k = JavaKernels.named(row);
        JavaBackend forced = new JavaBackend(row);
        int ran = 0;
        int channelsLast = 0;
        int seeds = 60;
        for (int seed = 0; seed < seeds; seed++) {
            Random r = new Random(seed * 0x9E3779B97F4A7C15L + 101);
            Problem pr = randomProblem(r, seed % 5, 20_000, 12, 2);
            if (k.check().whyNot(pr.s(), pr.p()) != null) {
                continue;
            }
            // channels-last rows: dense NHWC activations on two seeds of three, any strides on the third
            boolean nhwc = k.layout() == Layout.NHWC && seed % 3 != 2;
            checkDirection(forced, k.direction(), pr, r, new int[] {1, new int[] {2, 3, 7}[seed % 3]}, nhwc);
            if (nhwc && CALL_LAYOUT.get()[k.direction().ordinal()] == Layout.NHWC) { // not with one channel
                channelsLast++;
            }
            ran++;
        }
        assertTrue(k.layout() == Layout.NCHW || channelsLast >= 10, row + " ran on " + channelsLast
                + " channels-last calls");
        assertTrue(ran >= 10, row + " ran on " + ran + " of " + seeds + " random problems: a row no problem"
                + " exercises is untested");
    }

    @Test
    void dispatchPicksTheFirstRowThatAppliesAndPays() {
        ConvParams p3 = ConvParams.DEFAULT.withPadding(1, 1);
        ConvShape dense = ConvShape.ofForward(new long[] {1, 8, 16, 16}, new long[] {1, 8, 8, 3, 3}, p3);
        ConvShape dwSmall = ConvShape.ofForward(new long[] {1, 8, 16, 16}, new long[] {8, 1, 1, 3, 3},
                p3.withGroups(8));
        ConvParams p7 = ConvParams.DEFAULT.withPadding(3, 3).withGroups(256);
        ConvShape dwLarge = ConvShape.ofForward(new long[] {1, 256, 16, 16}, new long[] {256, 1, 1, 7, 7}, p7);
        assertEquals("java_forward_planar", pick(Direction.FORWARD, dense, p3));
        assertEquals("java_forward_planar", pick(Direction.FORWARD, dwSmall, p3.withGroups(8)));
        assertEquals("java_forward_depthwise", pick(Direction.FORWARD, dwLarge, p7));
        assertEquals("java_backward_data_depthwise", pick(Direction.BACKWARD_DATA, dwLarge, p7));
        assertEquals("java_backward_filter_planar", pick(Direction.BACKWARD_FILTER, dwSmall, p3.withGroups(8)));
        assertEquals("java_backward_filter_depthwise", pick(Direction.BACKWARD_FILTER, dwLarge, p7));
        if (VectorProvider.get().conv().isPresent()) {
            // with the Vector API, its rows stand ahead of the depthwise ones
            assertEquals("java_forward_vector", JavaKernels.select(Direction.FORWARD, dwLarge, p7, null, null, null).name());
            assertEquals("java_backward_data_vector",
                    JavaKernels.select(Direction.BACKWARD_DATA, dwLarge, p7, null, null, null).name());
            assertEquals("java_backward_filter_vector",
                    JavaKernels.select(Direction.BACKWARD_FILTER, dwLarge, p7, null, null, null).name());
            // depthwise filters of at least 400 taps: forward and backward data via the channels-last vector
            // loops (float32 only), the filter gradient planar
            ConvParams p21 = ConvParams.DEFAULT.withPadding(10, 10).withGroups(64);
            ConvShape dwHuge = ConvShape.ofForward(new long[] {1, 64, 16, 16}, new long[] {64, 1, 1, 21, 20}, p21);
            ConvShape dwBig = ConvShape.ofForward(new long[] {1, 64, 16, 16}, new long[] {64, 1, 1, 19, 21}, p21);
            for (Direction d : new Direction[] {Direction.FORWARD, Direction.BACKWARD_DATA}) {
                assertEquals("java_" + d.id() + "_via_nhwc_vector",
                        JavaKernels.select(d, dwHuge, p21, null, null, null).name());
                assertEquals("java_" + d.id() + "_vector", JavaKernels.select(d, dwBig, p21, null, null, null).name());
                assertTrue(!JavaKernels.select(d, dwHuge, p21, Layout.NCHW, true, null, null, null).name()
                        .contains("nhwc"));
                assertTrue(!JavaKernels.select(d, dwHuge, p21, null, null, "test").name().contains("nhwc"));
            }
            assertEquals("java_backward_filter_vector",
                    JavaKernels.select(Direction.BACKWARD_FILTER, dwHuge, p21, null, null, null).name());
            // filter gradients with ICPG*OCPG > 256: the vector row at stride 1 with OCPG a multiple of 8 (its
            // fused 8-channel blocks), the planar loops otherwise
            ConvShape wide = ConvShape.ofForward(new long[] {1, 32, 16, 16}, new long[] {1, 16, 32, 3, 3}, p3);
            assertEquals("java_backward_filter_vector",
                    JavaKernels.select(Direction.BACKWARD_FILTER, wide, p3, null, null, null).name());
            ConvParams s2 = p3.withStride(2, 2);
            ConvShape wideS2 = ConvShape.ofForward(new long[] {1, 32, 16, 16}, new long[] {1, 16, 32, 3, 3}, s2);
            assertEquals("java_backward_filter_planar",
                    JavaKernels.select(Direction.BACKWARD_FILTER, wideS2, s2, null, null, null).name());
            ConvShape odd = ConvShape.ofForward(new long[] {1, 32, 16, 16}, new long[] {1, 12, 32, 3, 3}, p3);
            assertEquals("java_backward_filter_planar",
                    JavaKernels.select(Direction.BACKWARD_FILTER, odd, p3, null, null, null).name());
        }
        // A forced row steers only its own direction.
        assertEquals("java_forward_reference",
                JavaKernels.select(Direction.FORWARD, dense, p3, "java_forward_reference", "test", null).name());
        assertEquals("java_backward_data_planar",
                JavaKernels.select(Direction.BACKWARD_DATA, dense, p3, "java_forward_reference", "test", "the scalar table").name());
        // Channels-last calls take the nhwc rows (the vector one where the module may run), half data included;
        // channels-first half data never takes a Vector API row.
        for (Direction d : Direction.values()) {
            String nhwc = "java_" + d.id() + "_nhwc";
            assertEquals(VectorProvider.get().conv().isPresent() ? nhwc + "_vector" : nhwc,
                    JavaKernels.select(d, dense, p3, Layout.NHWC, true, null, null, null).name());
            assertEquals(nhwc, JavaKernels.select(d, dwLarge, p7, Layout.NHWC, false, null, null, "test").name());
            // the scalar channels-last rows pay for depthwise problems only
            assertTrue(!JavaKernels.select(d, dense, p3, Layout.NHWC, false, null, null, "test").name().contains("nhwc"));
            assertTrue(!JavaKernels.select(d, dense, p3, Layout.NCHW, false, null, null, null).name().contains("nhwc"));
            assertTrue(!JavaKernels.isVector(JavaKernels.select(d, dense, p3, Layout.NCHW, true, null, null, null)));
        }
        UnsupportedOperationException half = assertThrows(UnsupportedOperationException.class, () ->
                JavaKernels.select(Direction.FORWARD, dense, p3, Layout.NCHW, true, "java_forward_vector", "test", null));
        assertTrue(half.getMessage().endsWith("the Vector API rows do not run for half-precision data"),
                half.getMessage());
    }

    /** Problems whose packed planes cannot be Java arrays go to the reference rows, by the size checks alone. */
    @Test
    void sizeChecksSendHugeProblemsToTheReferenceRows() {
        ConvParams p = ConvParams.DEFAULT;
        // 2^16 x 2^16 image: one packed plane is 2^32 floats (no tensor is allocated: the checks read shapes).
        ConvShape plane = ConvShape.ofForward(new long[] {1, 1, 65536, 65536}, new long[] {1, 1, 1, 1, 1}, p);
        // 2^20 images of 2^12 channels: 2^32 planes.
        ConvShape planes = ConvShape.ofForward(new long[] {1 << 20, 1 << 12, 1, 1}, new long[] {1, 1, 4096, 1, 1}, p);
        for (ConvShape s : List.of(plane, planes)) {
            assertEquals("java_forward_reference", pick(Direction.FORWARD, s, p));
            assertEquals("java_backward_data_reference", pick(Direction.BACKWARD_DATA, s, p));
            assertEquals("java_backward_filter_reference", pick(Direction.BACKWARD_FILTER, s, p));
        }
        String why = JavaKernels.named("java_forward_planar").check().whyNot(plane, p);
        assertTrue(why.contains("packed source plane") && why.contains("4294967296"), why);
        // Depthwise (groups 2^16 of 2^8 x 2^8 images: a packed channels-last image is 2^32 floats).
        ConvParams pg = p.withGroups(65536);
        ConvShape dw = ConvShape.ofForward(new long[] {1, 65536, 256, 256}, new long[] {65536, 1, 1, 1, 1}, pg);
        String whyDw = JavaKernels.named("java_forward_depthwise").check().whyNot(dw, pg);
        assertTrue(whyDw.contains("IH*IW*G"), whyDw);
        assertEquals("not depthwise (ICPG 8, OCPG 8; needs 1 and 1)", JavaKernels.named("java_forward_depthwise")
                .check().whyNot(ConvShape.ofForward(new long[] {1, 8, 4, 4}, new long[] {1, 8, 8, 1, 1}, p), p));
    }

    @Test
    void forcingNamesTheRowAndWhyOrTheValidNames() {
        ConvParams p = ConvParams.DEFAULT;
        ConvShape dense = ConvShape.ofForward(new long[] {1, 2, 4, 4}, new long[] {1, 2, 2, 1, 1}, p);
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () ->
                JavaKernels.select(Direction.FORWARD, dense, p, "java_forward_depthwise", "RRCONV_JAVA_KERNEL", null));
        assertEquals("RRCONV_JAVA_KERNEL=java_forward_depthwise does not apply to"
                + " mb1_g1_icpg2_ocpg2_ih4_iw4_oh4_ow4_fh1_fw1_sh1_sw1_ph0_pw0_dh1_dw1: not depthwise (ICPG 2, OCPG 2;"
                + " needs 1 and 1)", e.getMessage());
        IllegalArgumentException u = assertThrows(IllegalArgumentException.class, () ->
                JavaKernels.select(Direction.FORWARD, dense, p, "java_forward_fast", "-Drrconv.javaKernel", null));
        assertTrue(u.getMessage().startsWith("-Drrconv.javaKernel: unknown Java kernel 'java_forward_fast'; valid"
                + " names: java_forward_nhwc_vector, java_forward_nhwc, java_forward_via_nhwc_vector,"
                + " java_forward_vector, java_forward_depthwise,"
                + " java_forward_planar, java_forward_reference,"), u.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new JavaBackend("nope"));
    }

    @Test
    void systemPropertiesForceARowAndPrintVerboseLines() {
        Random r = new Random(3);
        Problem pr = problem(r, 1, 3, 1, 1, 6, 5, 3, 3, ConvParams.DEFAULT.withPadding(1, 1), 0, true);
        PrintStream saved = System.err;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            System.setProperty(JavaKernels.KERNEL_PROPERTY, "java_forward_depthwise");
            System.setProperty(JavaKernels.VERBOSE_PROPERTY, "1");
            System.setErr(new PrintStream(bytes, true, StandardCharsets.UTF_8));
            runForward(backend, pr, 0, 0, 0, 0, 0, 2);
            System.setProperty(JavaKernels.VERBOSE_PROPERTY, "0");
            runForward(backend, pr, 0, 0, 0, 0, 0, 2);
            System.setProperty(JavaKernels.VERBOSE_PROPERTY, "yes");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> runForward(backend, pr, 0, 0, 0, 0, 0, 1));
            assertEquals("-Drrconv.verbose=yes: expected 0 or 1", e.getMessage());
        } finally {
            System.setErr(saved);
            System.clearProperty(JavaKernels.KERNEL_PROPERTY);
            System.clearProperty(JavaKernels.VERBOSE_PROPERTY);
        }
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(out.matches("rrconv_verbose,exec,forward,java_forward_depthwise,java,f32,nchw,mask:uint8,"
                + "mode:(convolution|cross_correlation),threads:2,"
                + "mb1_g3_icpg1_ocpg1_ih6_iw5_oh6_ow5_fh3_fw3_sh1_sw1_ph1_pw1_dh1_dw1,[0-9.]+(e[+-][0-9]+)?\\R"), out);
        String ms = out.strip().substring(out.strip().lastIndexOf(',') + 1);
        assertEquals(4, ms.replace(".", "").replaceFirst("^0+", "").replaceFirst("e.*", "").length(),
                "4 significant digits: " + ms);
    }

    @Test
    void verboseTimesHaveFourSignificantDigits() {
        JavaKernel k = JavaKernels.named("java_backward_filter_planar");
        ConvParams p = ConvParams.DEFAULT.withPadding(1, 1).withGroups(64);
        ConvShape s = ConvShape.ofForward(new long[] {1, 64, 128, 128}, new long[] {64, 1, 1, 3, 3}, p);
        assertEquals("rrconv_verbose,exec,backward_filter,java_backward_filter_planar,java,f32,nchw,mask:int32,"
                + "mode:cross_correlation,threads:2,mb1_g64_icpg1_ocpg1_ih128_iw128_oh128_ow128_fh3_fw3_sh1_sw1_ph1_pw1"
                + "_dh1_dw1,0.2310", JavaKernels.verboseLine(k, s, p, DType.FLOAT32, Layout.NCHW, DType.INT32, 2, 231_000));
        String half = JavaKernels.verboseLine(k, s, p, DType.BFLOAT16, Layout.NHWC, DType.UINT8, 1, 12_345_678);
        assertTrue(half.contains(",java,bf16,nhwc,mask:uint8,") && half.endsWith(",12.35"), half);
        // the C library's fixed notation: 4 significant digits, whole milliseconds from 10000 on
        assertEquals(List.of("0.001235", "1.000", "999.9", "1235", "12346"), List.of(JavaKernels.millis(0.0012346),
                JavaKernels.millis(1.0), JavaKernels.millis(999.94), JavaKernels.millis(1234.6), JavaKernels.millis(12345.6)));
    }

    // ---- checking ---------------------------------------------------------------------------------

    /** One direction through {@code backend}: against the oracle, and bitwise the same for every thread count. */
    private static void checkDirection(ConvBackend backend, Direction d, Problem pr, Random r, int[] threadCounts,
                                       boolean nhwc) {
        ConvShape s = pr.s();
        int[] lay = new int[5];
        for (int i = 0; i < lay.length; i++) {
            lay[i] = r.nextInt(LAYOUTS);
        }
        if (nhwc) { // the activations: forward src and dst, backward data diff and grad, backward filter src and diff
            lay[d == Direction.FORWARD ? 0 : 1] = NHWC;
            lay[d == Direction.BACKWARD_FILTER ? 0 : 4] = NHWC;
        }
        double[][] want = switch (d) {
            case FORWARD -> OracleAdapter.forward(s, pr.p(), pr.src(), pr.filter(), pr.rin(), pr.rout());
            case BACKWARD_DATA -> OracleAdapter.backwardData(s, pr.p(), pr.filter(), pr.diff(), pr.rin(), pr.rout());
            case BACKWARD_FILTER -> OracleAdapter.backwardFilter(s, pr.p(), pr.src(), pr.diff(), pr.rin(), pr.rout());
        };
        float[] first = null;
        for (int t : threadCounts) {
            float[] got = switch (d) {
                case FORWARD -> runForward(backend, pr, lay[0], lay[1], lay[2], lay[3], lay[4], t);
                case BACKWARD_DATA -> runBackwardData(backend, pr, lay[0], lay[1], lay[2], lay[3], lay[4], t);
                case BACKWARD_FILTER -> runBackwardFilter(backend, pr, lay[0], lay[1], lay[2], lay[3], lay[4], t);
            };
            if (first == null) {
                first = got;
                assertClose(d.id(), pr, got, want);
            } else {
                assertBitwise(d.id() + ", " + t + " threads", pr, first, got);
            }
        }
    }

    private void checkAll(Problem pr, Random r, int[] threadCounts) {
        ConvShape s = pr.s();
        int[] lay = new int[7];
        for (int i = 0; i < lay.length; i++) {
            lay[i] = r.nextInt(LAYOUTS);
        }
        double[][] wantF = OracleAdapter.forward(s, pr.p(), pr.src(), pr.filter(), pr.rin(), pr.rout());
        double[][] wantD = OracleAdapter.backwardData(s, pr.p(), pr.filter(), pr.diff(), pr.rin(), pr.rout());
        double[][] wantW = OracleAdapter.backwardFilter(s, pr.p(), pr.src(), pr.diff(), pr.rin(), pr.rout());
        float[] f1 = null;
        float[] d1 = null;
        float[] w1 = null;
        for (int t : threadCounts) {
            float[] f = runForward(backend, pr, lay[0], lay[1], lay[2], lay[3], lay[4], t);
            float[] d = runBackwardData(backend, pr, lay[1], lay[5], lay[2], lay[3], lay[6], t);
            float[] w = runBackwardFilter(backend, pr, lay[0], lay[5], lay[2], lay[3], lay[4], t);
            if (f1 == null) {
                f1 = f;
                d1 = d;
                w1 = w;
                assertClose("forward", pr, f, wantF);
                assertClose("backward data", pr, d, wantD);
                assertClose("backward filter", pr, w, wantW);
            } else {
                assertBitwise("forward, " + t + " threads", pr, f1, f);
                assertBitwise("backward data, " + t + " threads", pr, d1, d);
                assertBitwise("backward filter, " + t + " threads", pr, w1, w);
            }
        }
        // With several output channels per group, forward and backward data sum in float in the same
        // order as the straightforward float loops (skipped taps adding exact zeros), so bit for bit.
        // The vector loops sum in that order too, except in blocks of 8 output channels of a group, which
        // use fused multiply-adds (GatherKernel.dense8): there only the oracle's tolerance applies.
        // (which loops ran: the vector rows stand ahead of the depthwise rows, backward data at stride 1 only)
        // The channels-last rows (picked when the random layouts made the activations NHWC, and via nhwc for
        // channels-first depthwise calls with large filters) sum otherwise.
        String noVector = vector ? null : "the scalar table";
        Layout[] calls = CALL_LAYOUT.get();
        JavaKernel kf = JavaKernels.select(Direction.FORWARD, s, pr.p(), calls[Direction.FORWARD.ordinal()], false,
                null, null, noVector);
        JavaKernel kd = JavaKernels.select(Direction.BACKWARD_DATA, s, pr.p(),
                calls[Direction.BACKWARD_DATA.ordinal()], false, null, null, noVector);
        boolean vf = JavaKernels.isVector(kf);
        boolean vd = JavaKernels.isVector(kd);
        if (!kf.name().contains("nhwc") && (vf ? s.ocpg() < 8 : s.ocpg() > 1)) {
            assertBitwise("forward vs float reference", pr, referenceForward(pr), f1);
        }
        if (!kd.name().contains("nhwc") && (vd ? s.icpg() < 8 : s.icpg() > 1)) {
            assertBitwise("backward data vs float reference", pr, referenceBackwardData(pr), d1);
        }
    }

    private static String pick(Direction d, ConvShape s, ConvParams p) {
        return JavaKernels.select(d, s, p, null, null, "the scalar table").name();
    }

    private static void assertClose(String what, Problem pr, float[] got, double[][] want) {
        assertEquals(want[0].length, got.length, what);
        for (int i = 0; i < got.length; i++) {
            double w = want[0][i];
            double tol = 1e-4 * want[1][i] + 1e-6;
            if (!Double.isFinite(w) || !Float.isFinite(got[i]) || Math.abs(got[i] - w) > tol) {
                fail(what + ": element " + i + " is " + got[i] + ", expected " + w + " (+-" + tol + ") in " + pr);
            }
        }
    }

    private static void assertBitwise(String what, Problem pr, float[] want, float[] got) {
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToIntBits(want[i]) != Float.floatToIntBits(got[i])) {
                fail(what + ": element " + i + " is " + got[i] + ", expected exactly " + want[i] + " in " + pr);
            }
        }
    }

    // ---- running the backend ------------------------------------------------------------------------

    private static float[] runForward(ConvBackend backend, Problem pr, int lSrc, int lFilter, int lRin, int lRout, int lOut, int threads) {
        Backends.setThreads(threads);
        ConvShape s = pr.s();
        try (Arena confined = Arena.ofConfined(); Arena shared = Arena.ofShared()) {
            Random r = new Random(lSrc * 7 + lOut);
            Tensor src = floats(pr.src(), s.srcShape(), lSrc, r, confined, shared);
            Tensor filter = floats(pr.filter(), s.filterShape(), lFilter, r, confined, shared);
            Tensor rin = mask(pr.rin(), s.rinShape(), pr.u8(), lRin, r, confined, shared);
            Tensor rout = mask(pr.rout(), s.routShape(), pr.u8(), lRout, r, confined, shared);
            Tensor dst = output(s.dstShape(), lOut, r, confined, shared);
            ConvShape checked = ConvShape.ofForward(src.shape(), filter.shape(), pr.p());
            assertEquals(s, checked);
            CALL_LAYOUT.get()[Direction.FORWARD.ordinal()] = JavaBackend.callLayout(Direction.FORWARD, src, filter, dst);
            backend.forward(s, pr.p(), src, filter, rin, rout, dst);
            return dst.toFloatArray();
        }
    }

    private static float[] runBackwardData(ConvBackend backend, Problem pr, int lFilter, int lDiff, int lRin, int lRout, int lOut,
                                           int threads) {
        Backends.setThreads(threads);
        ConvShape s = pr.s();
        try (Arena confined = Arena.ofConfined(); Arena shared = Arena.ofShared()) {
            Random r = new Random(lDiff * 7 + lOut);
            Tensor filter = floats(pr.filter(), s.filterShape(), lFilter, r, confined, shared);
            Tensor diff = floats(pr.diff(), s.dstShape(), lDiff, r, confined, shared);
            Tensor rin = mask(pr.rin(), s.rinShape(), pr.u8(), lRin, r, confined, shared);
            Tensor rout = mask(pr.rout(), s.routShape(), pr.u8(), lRout, r, confined, shared);
            Tensor grad = output(s.srcShape(), lOut, r, confined, shared);
            assertEquals(s, ConvShape.ofBackwardData(filter.shape(), diff.shape(), rin.shape(), pr.p()));
            CALL_LAYOUT.get()[Direction.BACKWARD_DATA.ordinal()] = JavaBackend.callLayout(Direction.BACKWARD_DATA,
                    filter, diff, grad);
            backend.backwardData(s, pr.p(), filter, diff, rin, rout, grad);
            return grad.toFloatArray();
        }
    }

    private static float[] runBackwardFilter(ConvBackend backend, Problem pr, int lSrc, int lDiff, int lRin, int lRout, int lOut,
                                             int threads) {
        Backends.setThreads(threads);
        ConvShape s = pr.s();
        try (Arena confined = Arena.ofConfined(); Arena shared = Arena.ofShared()) {
            Random r = new Random(lSrc * 7 + lOut + 3);
            Tensor src = floats(pr.src(), s.srcShape(), lSrc, r, confined, shared);
            Tensor diff = floats(pr.diff(), s.dstShape(), lDiff, r, confined, shared);
            Tensor rin = mask(pr.rin(), s.rinShape(), pr.u8(), lRin, r, confined, shared);
            Tensor rout = mask(pr.rout(), s.routShape(), pr.u8(), lRout, r, confined, shared);
            Tensor grad = output(s.filterShape(), lOut, r, confined, shared);
            assertEquals(s, ConvShape.ofBackwardFilter(src.shape(), diff.shape(), s.fh(), s.fw(), pr.p()));
            CALL_LAYOUT.get()[Direction.BACKWARD_FILTER.ordinal()] = JavaBackend.callLayout(Direction.BACKWARD_FILTER,
                    src, diff, grad);
            backend.backwardFilter(s, pr.p(), src, diff, rin, rout, grad);
            return grad.toFloatArray();
        }
    }

    private static float[] referenceForward(Problem pr) {
        ConvShape s = pr.s();
        Tensor dst = Tensor.ofFloats(new float[(int) product(s.dstShape())], s.dstShape());
        ReferenceLoops.forward(s, pr.p(), Tensor.ofFloats(pr.src().clone(), s.srcShape()),
                Tensor.ofFloats(pr.filter().clone(), s.filterShape()), Tensor.ofInts(pr.rin().clone(), s.rinShape()),
                Tensor.ofInts(pr.rout().clone(), s.routShape()), dst);
        return dst.toFloatArray();
    }

    private static float[] referenceBackwardData(Problem pr) {
        ConvShape s = pr.s();
        Tensor grad = Tensor.ofFloats(new float[(int) product(s.srcShape())], s.srcShape());
        ReferenceLoops.backwardData(s, pr.p(), Tensor.ofFloats(pr.filter().clone(), s.filterShape()),
                Tensor.ofFloats(pr.diff().clone(), s.dstShape()), Tensor.ofInts(pr.rin().clone(), s.rinShape()),
                Tensor.ofInts(pr.rout().clone(), s.routShape()), grad);
        return grad.toFloatArray();
    }

    // ---- tensors in assorted memory layouts -------------------------------------------------------------

    /** Storage for {@code count} elements of {@code bytes} bytes: heap or off-heap, by layout. */
    private static MemorySegment storage(long count, DType type, int layout, Random r, Arena confined, Arena shared) {
        long bytes = count * type.byteSize();
        return switch (layout) {
            case 0 -> switch (type) {
                case FLOAT32 -> MemorySegment.ofArray(new float[(int) count]);
                case FLOAT16, BFLOAT16 -> MemorySegment.ofArray(new short[(int) count]);
                case INT32 -> MemorySegment.ofArray(new int[(int) count]);
                case UINT8 -> MemorySegment.ofArray(new byte[(int) count]);
            };
            // heap byte[], deliberately misaligned for 4-byte elements
            case 1 -> MemorySegment.ofArray(new byte[(int) bytes + 3]).asSlice(type == DType.UINT8 ? 0 : 1 + r.nextInt(3), bytes);
            case 2 -> shared.allocate(Math.max(1, bytes), 64);
            case 3 -> confined.allocate(Math.max(1, bytes), 64);
            default -> r.nextBoolean() ? MemorySegment.ofArray(new byte[(int) bytes]) : shared.allocate(Math.max(1, bytes), 16);
        };
    }

    /** A tensor of the given logical shape in one of the layouts; layouts 4 and 5 are non-contiguous views. */
    private static Tensor tensor(long[] shape, DType type, int layout, Random r, Arena confined, Arena shared) {
        int rank = shape.length;
        if (layout == NHWC && rank == 4) { // dense (N, H, W, C) memory viewed as (N, C, H, W)
            return Tensor.of(storage(product(shape), type, layout, r, confined, shared), type, shape[0], shape[2],
                    shape[3], shape[1]).permute(0, 3, 1, 2);
        }
        if (layout == 4) { // permuted storage, viewed back in logical order
            int[] perm = randomPermutation(rank, r);
            Tensor base = Tensor.of(storage(product(shape), type, layout, r, confined, shared), type,
                    permuted(shape, perm));
            return base.permute(inverse(perm));
        }
        if (layout == 5) { // padded strides (gaps between rows, planes, images)
            long[] padded = new long[rank];
            for (int i = 0; i < rank; i++) {
                padded[i] = shape[i] + r.nextInt(3);
            }
            long[] strides = Tensor.denseStrides(padded);
            return Tensor.ofStrided(storage(product(padded), type, layout, r, confined, shared), type, shape, strides);
        }
        return Tensor.of(storage(product(shape), type, layout, r, confined, shared), type, shape);
    }

    private static Tensor floats(float[] data, long[] shape, int layout, Random r, Arena confined, Arena shared) {
        return fill(tensor(shape, DType.FLOAT32, layout, r, confined, shared), data);
    }

    private static Tensor mask(int[] data, long[] shape, boolean u8, int layout, Random r, Arena confined,
                               Arena shared) {
        return fill(tensor(shape, u8 ? DType.UINT8 : DType.INT32, layout, r, confined, shared), data);
    }

    /** An output tensor pre-filled with NaN, so that an element the backend fails to write shows. */
    private static Tensor output(long[] shape, int layout, Random r, Arena confined, Arena shared) {
        return fillNaN(tensor(shape, DType.FLOAT32, layout, r, confined, shared));
    }

    // ---- random problems ----------------------------------------------------------------------------

    /**
     * A random problem of a channel kind (0 dense, 1 grouped, 2 depthwise, 3 depthwise multiplier,
     * 4 many channels) with at most {@code maxMacs} multiply-adds per direction.
     */
    private static Problem randomProblem(Random r, int kind, long maxMacs, int maxSize, int maxBatch) {
        while (true) {
            int g;
            int icpg;
            int ocpg;
            switch (kind) {
                case 0 -> { g = 1; icpg = 1 + r.nextInt(6); ocpg = 1 + r.nextInt(6); }
                case 1 -> { g = 2 + r.nextInt(2); icpg = 1 + r.nextInt(4); ocpg = 1 + r.nextInt(4); }
                case 2 -> { g = 1 + r.nextInt(8); icpg = 1; ocpg = 1; }
                case 3 -> { g = 1 + r.nextInt(5); icpg = 1; ocpg = 2 + r.nextInt(3); }
                default -> { g = 1 + r.nextInt(2); icpg = 4 + r.nextInt(8); ocpg = 4 + r.nextInt(8); }
            }
            int fh = 1 + r.nextInt(7);
            int fw = 1 + r.nextInt(7);
            int sh = small(r);
            int sw = small(r);
            int dh = small(r);
            int dw = small(r);
            int ph = r.nextInt(dh * (fh - 1) + 3);
            int pw = r.nextInt(dw * (fw - 1) + 3);
            int ih = 1 + r.nextInt(maxSize);
            int iw = 1 + r.nextInt(maxSize);
            int n = 1 + r.nextInt(maxBatch);
            ConvParams p = new ConvParams(sh, sw, ph, pw, dh, dw, g, r.nextBoolean() ? Mode.CONVOLUTION
                    : Mode.CROSS_CORRELATION);
            long oh = ConvParams.outputSize(ih, fh, ph, dh, sh);
            long ow = ConvParams.outputSize(iw, fw, pw, dw, sw);
            if (oh < 1 || ow < 1) {
                continue;
            }
            long macs = (long) n * g * ocpg * oh * ow * icpg * fh * fw;
            long touched = (long) n * g * (icpg + ocpg) * ih * iw;
            if (macs > maxMacs || touched > 8 * maxMacs) {
                continue;
            }
            return problem(r, n, g, icpg, ocpg, ih, iw, fh, fw, p, r.nextInt(4), r.nextBoolean());
        }
    }

    private static int small(Random r) {
        int v = r.nextInt(6);
        return v < 3 ? 1 : v < 5 ? 2 : 3;
    }

    private static Problem problem(Random r, int n, int g, int icpg, int ocpg, int ih, int iw, int fh, int fw,
                                   ConvParams p, int maskKind, boolean u8) {
        p = p.withGroups(g);
        ConvShape s = ConvShape.ofForward(new long[] {n, (long) g * icpg, ih, iw}, new long[] {g, ocpg, icpg, fh, fw}, p);
        int[] palette = palette(r, u8);
        int[] rin = new int[(int) product(s.rinShape())];
        int[] rout = new int[(int) product(s.routShape())];
        int bh = 1 + r.nextInt(5);
        int bw = 1 + r.nextInt(5);
        for (int b = 0; b < n; b++) {
            for (int y = 0; y < ih; y++) {
                for (int x = 0; x < iw; x++) {
                    rin[(b * ih + y) * iw + x] = region(r, maskKind, palette, y, x, bh, bw);
                }
            }
            for (int y = 0; y < s.oh(); y++) {
                for (int x = 0; x < s.ow(); x++) {
                    int cy = y * p.strideH() - p.padH() + p.dilationH() * (fh / 2);
                    int cx = x * p.strideW() - p.padW() + p.dilationW() * (fw / 2);
                    rout[(int) ((b * s.oh() + y) * s.ow() + x)] = region(r, maskKind, palette, cy, cx, bh, bw);
                }
            }
        }
        return new Problem(s, p, randomFloats(r, (int) product(s.srcShape())), randomFloats(r, (int) product(s.filterShape())),
                randomFloats(r, (int) product(s.dstShape())), rin, rout, u8);
    }

    private static int[] palette(Random r, boolean u8) {
        int[] from = u8 ? BYTE_PALETTE : INT_PALETTE;
        int[] p = new int[2 + r.nextInt(2)];
        if (!u8 && r.nextBoolean()) { // one float, two ints
            p[0] = 16777216;
            p[1] = 16777217;
            p[p.length - 1] = from[r.nextInt(from.length)];
            return p;
        }
        for (int i = 0; i < p.length; i++) {
            p[i] = from[r.nextInt(from.length)];
        }
        return p;
    }

    /** A region id: 0 random, 1 blocks (with a little noise), 2 one region, 3 vertical stripes. */
    private static int region(Random r, int kind, int[] palette, int y, int x, int bh, int bw) {
        return switch (kind) {
            case 0 -> palette[r.nextInt(palette.length)];
            case 1 -> r.nextInt(20) == 0 ? palette[r.nextInt(palette.length)]
                    : palette[Math.floorMod(Math.floorDiv(y, bh) + Math.floorDiv(x, bw), palette.length)];
            case 2 -> palette[0];
            default -> palette[Math.floorMod(x, palette.length)];
        };
    }

    private static float[] randomFloats(Random r, int count) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = (float) (r.nextGaussian());
        }
        return v;
    }

    /** Which src, diff and filter elements any non-skipped tap reads: {@code {src, diff, filter}}. */
    private static boolean[][] usage(ConvShape s, ConvParams p, int[] rin, int[] rout) {
        boolean[] src = new boolean[(int) product(s.srcShape())];
        boolean[] diff = new boolean[(int) product(s.dstShape())];
        boolean[] filter = new boolean[(int) product(s.filterShape())];
        OracleAdapter.forEachTap(s, p, rin, rout, (si, fi, di) -> {
            src[si] = true;
            filter[fi] = true;
            diff[di] = true;
        });
        return new boolean[][] {src, diff, filter};
    }

    /** The channels-last rows, forced, never read what no active tap reads: NaN and infinities there stay out. */
    @Test
    void channelsLastRowsNeverReadSkippedTaps() {
        float[] poison = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
        for (Direction d : Direction.values()) {
            JavaBackend row = new JavaBackend("java_" + d.id() + "_nhwc" + (vector ? "_vector" : ""));
            int poisoned = 0;
            for (int seed = 0; seed < 20; seed++) {
                Random r = new Random(seed * 131L + 5);
                Problem base = randomProblem(r, seed % 5, 20_000, 12, 2);
                boolean[][] used = usage(base.s(), base.p(), base.rin(), base.rout());
                float[][] data = {base.src().clone(), base.diff().clone(), base.filter().clone()};
                for (int k = 0; k < 3; k++) {
                    for (int i = 0; i < data[k].length; i++) {
                        if (!used[k][i]) {
                            data[k][i] = poison[i % 3];
                            poisoned++;
                        }
                    }
                }
                Problem pr = new Problem(base.s(), base.p(), data[0], data[2], data[1], base.rin(), base.rout(),
                        base.u8());
                checkDirection(row, d, pr, r, new int[] {1, 3}, true);
            }
            assertTrue(poisoned > 0, "the test should poison something");
        }
    }

    /**
     * The channels-last rows compute float16 and bfloat16 data as float32 (widened as they read, exact) and round
     * each result once: bit for bit the float32 result rounded to the type, every direction, NHWC activations.
     */
    @Test
    void channelsLastRowsRoundHalfDataOnce() {
        for (DType half : new DType[] {DType.FLOAT16, DType.BFLOAT16}) {
            for (int seed = 0; seed < 10; seed++) {
                Random r = new Random(seed * 31L + half.ordinal());
                Problem base = randomProblem(r, seed % 5, 20_000, 10, 2);
                Problem pr = new Problem(base.s(), base.p(), representable(base.src(), half),
                        representable(base.filter(), half), representable(base.diff(), half), base.rin(), base.rout(),
                        base.u8());
                for (Direction d : Direction.values()) {
                    JavaBackend row = new JavaBackend("java_" + d.id() + "_nhwc" + (vector ? "_vector" : ""));
                    float[] want = runChannelsLast(row, d, pr, DType.FLOAT32);
                    float[] got = runChannelsLast(row, d, pr, half);
                    for (int i = 0; i < want.length; i++) {
                        float rounded = HalfFloats.toFloat(half, HalfFloats.fromFloat(half, want[i]));
                        if (Float.floatToIntBits(rounded) != Float.floatToIntBits(got[i])) {
                            fail(half + " " + d.id() + ": element " + i + " is " + got[i] + ", expected " + rounded
                                    + " (" + want[i] + " rounded) in " + pr);
                        }
                    }
                }
            }
        }
    }

    private static float[] representable(float[] v, DType type) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = HalfFloats.toFloat(type, HalfFloats.fromFloat(type, v[i]));
        }
        return out;
    }

    /** One direction with data of {@code type}, 4-D tensors dense channels-last, 2 threads; the result widened. */
    private static float[] runChannelsLast(ConvBackend backend, Direction d, Problem pr, DType type) {
        Backends.setThreads(2);
        ConvShape s = pr.s();
        Tensor src = channelsLast(s.srcShape(), type, pr.src());
        Tensor filter = channelsLast(s.filterShape(), type, pr.filter());
        Tensor diff = channelsLast(s.dstShape(), type, pr.diff());
        Tensor rin = fill(Tensor.ofInts(new int[(int) product(s.rinShape())], s.rinShape()), pr.rin());
        Tensor rout = fill(Tensor.ofInts(new int[(int) product(s.routShape())], s.routShape()), pr.rout());
        Tensor out = switch (d) {
            case FORWARD -> channelsLast(s.dstShape(), type, null);
            case BACKWARD_DATA -> channelsLast(s.srcShape(), type, null);
            case BACKWARD_FILTER -> channelsLast(s.filterShape(), type, null);
        };
        switch (d) {
            case FORWARD -> backend.forward(s, pr.p(), src, filter, rin, rout, out);
            case BACKWARD_DATA -> backend.backwardData(s, pr.p(), filter, diff, rin, rout, out);
            case BACKWARD_FILTER -> backend.backwardFilter(s, pr.p(), src, diff, rin, rout, out);
        }
        return out.toFloatArray();
    }

    /** A heap tensor of a data type, channels-last if 4-D, filled with {@code data} (logical order) or NaN. */
    private static Tensor channelsLast(long[] shape, DType type, float[] data) {
        int count = (int) product(shape);
        long[] stored = shape.length == 4 ? new long[] {shape[0], shape[2], shape[3], shape[1]} : shape;
        Tensor t = type == DType.FLOAT32 ? Tensor.ofFloats(new float[count], stored)
                : Tensor.ofShorts(new short[count], type, stored);
        if (shape.length == 4) {
            t = t.permute(0, 3, 1, 2);
        }
        return data == null ? fillNaN(t) : fill(t, data);
    }

    @Test
    void helpersRoundTrip() {
        // The layout helpers themselves: every layout reads back what was written.
        Random r = new Random(1);
        long[] shape = {2, 3, 4, 5};
        float[] data = randomFloats(r, 120);
        try (Arena confined = Arena.ofConfined(); Arena shared = Arena.ofShared()) {
            for (int layout = 0; layout < LAYOUTS; layout++) {
                assertArrayEquals(data, floats(data, shape, layout, r, confined, shared).toFloatArray());
            }
        }
    }
}
