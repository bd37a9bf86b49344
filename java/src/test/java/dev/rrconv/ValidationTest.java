package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every argument check of RegionConv, ConvShape, Tensor and ConvParams: the exception type
 * (IllegalArgumentException; IllegalStateException for closed or other-thread segments;
 * NullPointerException for nulls), message fragments naming the tensor and the expected and actual
 * shape or dtype, and, for every rejected call, the caller's outputs left byte-for-byte untouched.
 *
 * <p>The base problem, valid as is: N=2, groups=2, ICPG=2, OCPG=3, 5x6 input, 3x3 filter, padding 1:
 * src [2, 4, 5, 6], filter [2, 3, 2, 3, 3] (4-D [6, 2, 3, 3]), rin [2, 5, 6], rout [2, 5, 6],
 * diff/dst [2, 6, 5, 6], grad src [2, 4, 5, 6], grad filter [2, 3, 2, 3, 3].
 */
class ValidationTest {
    static final long[] SRC = {2, 4, 5, 6};
    static final long[] FILTER = {2, 3, 2, 3, 3};
    static final long[] FILTER4 = {6, 2, 3, 3};
    static final long[] RIN = {2, 5, 6};
    static final long[] ROUT = {2, 5, 6};
    static final long[] DST = {2, 6, 5, 6};
    static final ConvParams P = ConvParams.DEFAULT.withGroups(2).withPadding(1, 1);

    Arena arena;
    Tensor src;
    Tensor filter;
    Tensor rin;
    Tensor rout;
    Tensor diff;
    Tensor dst;
    Tensor gradSrc;
    Tensor gradFilter;
    byte[][] outputSnapshots;

    @BeforeEach
    void setUp() {
        arena = Arena.ofConfined();
        src = filled(f32(SRC), 1);
        filter = filled(f32(FILTER), 1);
        rin = i32(RIN);
        rout = i32(ROUT);
        diff = filled(f32(DST), 1);
        dst = f32(DST);
        gradSrc = f32(SRC);
        gradFilter = f32(FILTER);
        for (Tensor t : new Tensor[] {dst, gradSrc, gradFilter}) {
            t.segment().fill((byte) 0x7F); // sentinel
        }
        outputSnapshots = new byte[][] {snap(dst), snap(gradSrc), snap(gradFilter)};
    }

    @AfterEach
    void tearDown() {
        arena.close();
    }

    // ---- helpers --------------------------------------------------------------------------------

    Tensor f32(long... shape) {
        return Tensor.allocate(arena, DType.FLOAT32, shape);
    }

    Tensor i32(long... shape) {
        return Tensor.allocate(arena, DType.INT32, shape);
    }

    Tensor u8(long... shape) {
        return Tensor.allocate(arena, DType.UINT8, shape);
    }

    static Tensor filled(Tensor t, float v) {
        for (long i = 0; i < t.elementCount(); i++) {
            t.segment().setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
        }
        return t;
    }

    static byte[] snap(Tensor t) {
        return t.segment().toArray(ValueLayout.JAVA_BYTE);
    }

    void assertOutputsUntouched(String context) {
        assertArrayEquals(outputSnapshots[0], snap(dst), context + ": dst was modified");
        assertArrayEquals(outputSnapshots[1], snap(gradSrc), context + ": gradSrc was modified");
        assertArrayEquals(outputSnapshots[2], snap(gradFilter), context + ": gradFilter was modified");
    }

    /** Asserts the call throws {@code type} with every fragment in its message, and touched no output. */
    <T extends Throwable> T rejects(Class<T> type, Executable call, String... fragments) {
        T e = assertThrows(type, call);
        String m = e.getMessage();
        for (String f : fragments) {
            assertTrue(m != null && m.contains(f), "message '" + m + "' should contain '" + f + "'");
        }
        assertOutputsUntouched(String.valueOf(m));
        return e;
    }

    static String s(long... shape) {
        return java.util.Arrays.toString(shape);
    }

    /** A tensor whose segment is confined to another (finished) thread; that arena stays open. */
    static Tensor fromOtherThread(DType t, long... shape) throws InterruptedException {
        AtomicReference<Tensor> ref = new AtomicReference<>();
        Thread th = new Thread(() -> ref.set(Tensor.allocate(Arena.ofConfined(), t, shape)));
        th.start();
        th.join();
        return ref.get();
    }

    /** A dense tensor over native memory one byte past a 64-byte boundary. */
    Tensor misaligned(DType t, long... shape) {
        long bytes = t.byteSize();
        for (long d : shape) {
            bytes *= d;
        }
        MemorySegment seg = arena.allocate(bytes + 8, 64).asSlice(1, bytes);
        return Tensor.of(seg, t, shape);
    }

    // ---- the base problem is valid ----------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Backend.class)
    void baseProblemIsAccepted(Backend b) {
        RegionConv c = RegionConv.of(b);
        c.forward(src, filter, rin, rout, P, dst);
        c.backwardData(filter, diff, rin, rout, P, gradSrc);
        c.backwardFilter(src, diff, rin, rout, P, gradFilter);
        c.forward(src, filter.reshape(FILTER4), rin, rout, P, dst);
        c.backwardFilter(src, diff, rin, rout, P, f32(FILTER4));
        assertEquals(18f, dst.getFloat(0, 0, 2, 2), "all ones, one region, centre pixel: 2*3*3 taps");
        assertEquals(3 * 9f, gradSrc.getFloat(0, 0, 2, 2), "centre: OCPG 3 * 9 taps");
    }

    /** Things that look odd but are valid: zero-stride inputs, zero stride on an extent-1 output dim, odd uint8. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void unusualButValidArgumentsAreAccepted(Backend b) {
        RegionConv c = RegionConv.of(b);
        // src broadcast over N and C (stride 0): one 5x6 plane
        Tensor bsrc = Tensor.ofStrided(filled(f32(5, 6), 1).segment(), DType.FLOAT32, SRC, new long[] {0, 0, 6, 1});
        // rin broadcast over N
        Tensor brin = Tensor.ofStrided(i32(5, 6).segment(), DType.INT32, RIN, new long[] {0, 6, 1});
        c.forward(bsrc, filter, brin, rout, P, dst);
        assertEquals(18f, dst.getFloat(1, 5, 2, 2));
        // an output of extent 1 in N with stride 0 there
        Tensor one = Tensor.ofStrided(f32(6, 5, 6).segment(), DType.FLOAT32, new long[] {1, 6, 5, 6},
                new long[] {0, 30, 6, 1});
        c.forward(f32(1, 4, 5, 6), filter, i32(1, 5, 6), i32(1, 5, 6), P, one);
        // uint8 masks need no alignment: odd native addresses are fine
        Tensor rin8 = misaligned(DType.UINT8, RIN);
        Tensor rout8 = misaligned(DType.UINT8, ROUT);
        c.forward(src, filter, rin8, rout8, P, dst);
        assertEquals(18f, dst.getFloat(1, 5, 2, 2));
        // read-only inputs
        Tensor roSrc = Tensor.of(src.segment().asReadOnly(), DType.FLOAT32, SRC);
        Tensor roRin = Tensor.of(rin.segment().asReadOnly(), DType.INT32, RIN);
        c.forward(roSrc, filter, roRin, rout, P, dst);
        c.backwardFilter(roSrc, Tensor.of(diff.segment().asReadOnly(), DType.FLOAT32, DST), roRin, rout, P, gradFilter);
        assertEquals(18f, dst.getFloat(1, 5, 2, 2));
    }

    // ---- ranks ------------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Backend.class)
    void wrongRanks(Backend b) {
        RegionConv c = RegionConv.of(b);
        rejects(IllegalArgumentException.class, () -> c.forward(f32(2, 4, 30), filter, rin, rout, P, dst),
                "src", "rank 4", "[2, 4, 30]");
        rejects(IllegalArgumentException.class, () -> c.forward(src, f32(6, 2, 9), rin, rout, P, dst),
                "filter", "rank 5", "or 4", "[6, 2, 9]");
        rejects(IllegalArgumentException.class, () -> c.forward(src, f32(1, 2, 3, 2, 3, 3), rin, rout, P, dst),
                "filter", "[1, 2, 3, 2, 3, 3]");
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, i32(2, 1, 5, 6), rout, P, dst),
                "rin", s(RIN), "[2, 1, 5, 6]");
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, i32(10, 6), P, dst),
                "rout", s(ROUT), "[10, 6]");
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, rout, P, f32(12, 5, 6)),
                "dst", s(DST), "[12, 5, 6]");
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, f32(2, 6, 30), rin, rout, P, gradSrc),
                "diff", "rank 4", "[2, 6, 30]");
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, diff, i32(10, 6), rout, P, gradSrc),
                "rin", "rank 3", "[10, 6]");
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, diff, rin, rout, P, f32(2, 4, 30)),
                "gradSrc", s(SRC), "[2, 4, 30]");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(f32(1, 2, 4, 5, 6), diff, rin, rout, P,
                gradFilter), "src", "rank 4", "[1, 2, 4, 5, 6]");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, f32(2, 6, 5, 6, 1), rin, rout, P,
                gradFilter), "diff", "rank 4", "[2, 6, 5, 6, 1]");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P, f32(6, 18)),
                "gradFilter", "rank 5", "[6, 18]");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, i32(2, 30), P, gradFilter),
                "rout", s(ROUT), "[2, 30]");
    }

    // ---- dtypes -----------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Backend.class)
    void wrongDtypes(Backend b) {
        RegionConv c = RegionConv.of(b);
        rejects(IllegalArgumentException.class, () -> c.forward(i32(SRC), filter, rin, rout, P, dst),
                "src", "float32", "int32");
        rejects(IllegalArgumentException.class, () -> c.forward(src, u8(FILTER), rin, rout, P, dst),
                "filter", "float32", "uint8");
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, f32(RIN), f32(ROUT), P, dst),
                "rin", "int32 or uint8", "float32");
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, f32(ROUT), P, dst),
                "rout", "int32", "float32");
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, u8(ROUT), P, dst),
                "rin", "rout", "int32", "uint8");
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, u8(RIN), rout, P, dst),
                "rin", "rout", "uint8", "int32");
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, rout, P, i32(DST)),
                "dst", "float32", "int32");
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, i32(DST), rin, rout, P, gradSrc),
                "diff", "float32", "int32");
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, diff, f32(RIN), rout, P, gradSrc),
                "rin", "int32 or uint8", "float32");
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, diff, rin, rout, P, u8(SRC)),
                "gradSrc", "float32", "uint8");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, u8(RIN), rout, P, gradFilter),
                "rin", "rout", "uint8", "int32");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P, i32(FILTER)),
                "gradFilter", "float32", "int32");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(u8(SRC), diff, rin, rout, P, 3, 3, arena),
                "src", "float32", "uint8");
    }

    // ---- channels and groups ---------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Backend.class)
    void channelsVersusGroups(Backend b) {
        RegionConv c = RegionConv.of(b);
        rejects(IllegalArgumentException.class, () -> c.forward(f32(2, 5, 5, 6), filter, rin, rout, P, dst),
                "src", "5 channels", "[2, 5, 5, 6]", "groups=2", "4");
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, rout, P.withGroups(1), dst),
                "filter", s(FILTER), "2 groups", "groups=1");
        rejects(IllegalArgumentException.class, () -> c.forward(src, f32(6, 1, 3, 3), rin, rout, P.withGroups(4), dst),
                "filter", "[6, 1, 3, 3]", "6 output channels", "groups=4");
        rejects(IllegalArgumentException.class, () -> c.forward(src, f32(6, 2, 3, 3), rin, rout, P.withGroups(1), dst),
                "src", "4 channels", "2");
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, f32(2, 5, 5, 6), rin, rout, P, gradSrc),
                "diff", s(DST), "[2, 5, 5, 6]");
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, diff, rin, rout, P, f32(2, 3, 5, 6)),
                "gradSrc", s(SRC), "[2, 3, 5, 6]");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P.withGroups(3),
                f32(3, 2, 1, 3, 3)), "src", "4 channels", "groups=3");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, f32(2, 5, 5, 6), rin, rout, P,
                gradFilter), "diff", "5 channels", "groups=2");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P, f32(2, 2, 2, 3, 3)),
                "gradFilter", s(FILTER), "[2, 2, 2, 3, 3]");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P, f32(6, 1, 3, 3)),
                "gradFilter", "[6, 2, 3, 3]", "[6, 1, 3, 3]");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P, f32(3, 3, 2, 3, 3)),
                "gradFilter", s(FILTER), "[3, 3, 2, 3, 3]");
    }

    // ---- batch ------------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Backend.class)
    void batchMismatch(Backend b) {
        RegionConv c = RegionConv.of(b);
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, i32(1, 5, 6), rout, P, dst),
                "rin", s(RIN), "[1, 5, 6]");
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, i32(3, 5, 6), P, dst),
                "rout", s(ROUT), "[3, 5, 6]");
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, rout, P, f32(1, 6, 5, 6)),
                "dst", s(DST), "[1, 6, 5, 6]");
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, f32(1, 6, 5, 6), rin, rout, P, gradSrc),
                "[1, 5, 6]", "[2, 5, 6]"); // N comes from diff: rin is then the odd one
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, diff, rin, rout, P, f32(3, 4, 5, 6)),
                "gradSrc", s(SRC), "[3, 4, 5, 6]");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, f32(1, 6, 5, 6), rin, rout, P,
                gradFilter), "diff", s(DST), "[1, 6, 5, 6]");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, i32(1, 5, 6), P,
                gradFilter), "rout", s(ROUT), "[1, 5, 6]");
    }

    // ---- spatial sizes ------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Backend.class)
    void spatialMismatch(Backend b) {
        RegionConv c = RegionConv.of(b);
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, i32(2, 5, 7), rout, P, dst),
                "rin", s(RIN), "[2, 5, 7]");
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, i32(2, 4, 6), P, dst),
                "rout", s(ROUT), "[2, 4, 6]");
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, rout, P, f32(2, 6, 5, 7)),
                "dst", s(DST), "[2, 6, 5, 7]");
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, rout, P.withStride(2, 1), dst),
                "rout", "[2, 3, 6]", s(ROUT));
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, f32(2, 6, 5, 5), rin, rout, P, gradSrc),
                "diff", s(DST), "[2, 6, 5, 5]");
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, diff, rin, i32(2, 6, 5), P, gradSrc),
                "rout", s(ROUT), "[2, 6, 5]");
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, diff, rin, rout, P, f32(2, 4, 6, 6)),
                "gradSrc", s(SRC), "[2, 4, 6, 6]");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, f32(2, 6, 4, 6), rin, rout, P,
                gradFilter), "diff", s(DST), "[2, 6, 4, 6]");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, i32(2, 6, 6), rout, P,
                gradFilter), "rin", s(RIN), "[2, 6, 6]");
        // the kernel size comes from gradFilter: 3x2 gives 5x7 outputs, diff is 5x6
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P, f32(2, 3, 2, 3, 2)),
                "diff", "[2, 6, 5, 7]", s(DST));
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P, 3, 4, arena),
                "diff", "[2, 6, 5, 5]", s(DST));
    }

    // ---- empty outputs ------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Backend.class)
    void outputWouldBeEmpty(Backend b) {
        RegionConv c = RegionConv.of(b);
        ConvParams noPad = ConvParams.DEFAULT.withGroups(2);
        rejects(IllegalArgumentException.class, () -> c.forward(f32(2, 4, 2, 6), filter, i32(2, 2, 6), i32(2, 1, 4),
                noPad, dst), "empty", "2x6", "3x3");
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, rout, noPad.withDilation(3, 1), dst),
                "empty", "5x6", "(0, 0)", "7x3");
        rejects(IllegalArgumentException.class, () -> c.forward(src, f32(2, 3, 2, 9, 1), rin, rout, P, dst),
                "empty", "(1, 1)", "9x1");
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, rout, noPad.withDilation(1, 4), arena),
                "empty", "3x9");
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, f32(2, 6, 1, 1), i32(2, 2, 2),
                i32(2, 1, 1), noPad, gradSrc), "empty", "2x2", "3x3");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P, 9, 9, arena),
                "empty", "9x9");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P, f32(2, 3, 2, 8, 3)),
                "empty", "8x3");
    }

    // ---- zero and negative sizes ----------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Backend.class)
    void zeroAndNegativeSizes(Backend b) {
        RegionConv c = RegionConv.of(b);
        rejects(IllegalArgumentException.class, () -> c.forward(f32(0, 4, 5, 6), filter, i32(0, 5, 6), i32(0, 5, 6),
                P, f32(0, 6, 5, 6)), "src", "[0, 4, 5, 6]", ">= 1");
        rejects(IllegalArgumentException.class, () -> c.forward(src, f32(2, 0, 2, 3, 3), rin, rout, P, dst),
                "filter", "[2, 0, 2, 3, 3]", ">= 1");
        rejects(IllegalArgumentException.class, () -> c.forward(f32(2, 4, 0, 6), filter, i32(2, 0, 6), rout, P, dst),
                "src", "[2, 4, 0, 6]", ">= 1");
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, f32(2, 6, 0, 6), rin, rout, P, gradSrc),
                "diff", "[2, 6, 0, 6]", ">= 1");
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, diff, i32(2, 5, 0), rout, P, gradSrc),
                "rin", "[2, 5, 0]", ">= 1");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, f32(2, 0, 5, 6), rin, rout, P,
                gradFilter), "diff", "[2, 0, 5, 6]");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P, 0, 3, arena),
                "kernel", "(0, 3)");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P, 3, -1, arena),
                "kernel", "(3, -1)");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P, f32(2, 3, 2, 0, 3)),
                "gradFilter", "[2, 3, 2, 0, 3]");
        // negative sizes never make a tensor
        rejects(IllegalArgumentException.class, () -> Tensor.allocate(arena, DType.FLOAT32, 2, -4, 5, 6),
                "[2, -4, 5, 6]", "negative");
        rejects(IllegalArgumentException.class, () -> Tensor.of(src.segment(), DType.FLOAT32, 2, 4, -5, 6),
                "[2, 4, -5, 6]", "negative");
        rejects(IllegalArgumentException.class, () -> Tensor.ofStrided(src.segment(), DType.FLOAT32,
                new long[] {2, -1}, new long[] {1, 1}), "[2, -1]", "negative");
    }

    // ---- ConvParams ---------------------------------------------------------------------------------------

    @Test
    void convParamsRanges() {
        rejects(IllegalArgumentException.class, () -> new ConvParams(0, 1, 0, 0, 1, 1, 1, Mode.CROSS_CORRELATION),
                "stride", ">= 1", "(0, 1)");
        rejects(IllegalArgumentException.class, () -> ConvParams.DEFAULT.withStride(1, -2), "stride", "(1, -2)");
        rejects(IllegalArgumentException.class, () -> ConvParams.DEFAULT.withPadding(-1, 0), "padding", ">= 0",
                "(-1, 0)");
        rejects(IllegalArgumentException.class, () -> ConvParams.DEFAULT.withPadding(0, Integer.MIN_VALUE), "padding",
                String.valueOf(Integer.MIN_VALUE));
        rejects(IllegalArgumentException.class, () -> ConvParams.DEFAULT.withDilation(0, 1), "dilation", ">= 1",
                "(0, 1)");
        rejects(IllegalArgumentException.class, () -> ConvParams.DEFAULT.withDilation(2, -3), "dilation", "(2, -3)");
        rejects(IllegalArgumentException.class, () -> ConvParams.DEFAULT.withGroups(0), "groups", ">= 1", "0");
        rejects(IllegalArgumentException.class, () -> ConvParams.DEFAULT.withGroups(-3), "groups", "-3");
        rejects(NullPointerException.class, () -> ConvParams.DEFAULT.withMode(null), "mode");
        rejects(IllegalArgumentException.class, () -> Mode.parse("xcorr"), "xcorr");
        rejects(IllegalArgumentException.class, () -> Backend.parse("gpu"), "gpu");
        assertEquals(Mode.CONVOLUTION, Mode.parse("convolution"));
        assertEquals(Backend.JAVA, Backend.parse("java"));
        assertEquals(Backend.AUTO, Backend.parse("auto"));
        // the output-size formula
        assertEquals(3, ConvParams.outputSize(4, 2, 0, 1, 1));
        assertEquals(2, ConvParams.outputSize(5, 3, 1, 2, 2)); // (5+2-4-1)/2+1
        assertEquals(1, ConvParams.outputSize(5, 7, 1, 1, 3));
        assertEquals(0, ConvParams.outputSize(5, 8, 1, 1, 1));
        assertEquals(0, ConvParams.outputSize(1, 2, 0, 1, 3), "floor((1-1-1)/3) = -1: empty (truncation would give 1)");
    }

    // ---- segments too small, bad strides, overflow -------------------------------------------------------------

    @Test
    void tensorSegmentAndStrideChecks() {
        MemorySegment sixty = arena.allocate(60, 4);
        rejects(IllegalArgumentException.class, () -> Tensor.of(sixty, DType.FLOAT32, 1, 1, 4, 4),
                "60 bytes", "float32[1, 1, 4, 4]", "64");
        MemorySegment s64 = arena.allocate(64, 4);
        rejects(IllegalArgumentException.class, () -> Tensor.ofStrided(s64, DType.FLOAT32, new long[] {4, 4},
                new long[] {8, 1}), "64 bytes", "[4, 4]", "[8, 1]", "112");
        rejects(IllegalArgumentException.class, () -> Tensor.ofStrided(s64, DType.INT32, new long[] {4, 4},
                new long[] {4, -1}), "[4, -1]", "negative");
        rejects(IllegalArgumentException.class, () -> Tensor.ofStrided(s64, DType.INT32, new long[] {4, 4},
                new long[] {4}), "[4, 4]", "[4]");
        rejects(IllegalArgumentException.class, () -> Tensor.ofFloats(new float[15], 1, 1, 4, 4), "16", "15");
        rejects(IllegalArgumentException.class, () -> Tensor.ofInts(new int[3], 2, 2), "4", "3");
        rejects(IllegalArgumentException.class, () -> Tensor.ofBytes(new byte[5], 2, 2), "4", "5");
        rejects(NullPointerException.class, () -> Tensor.of(null, DType.FLOAT32, 1));
        rejects(NullPointerException.class, () -> Tensor.of(s64, null, 1));
        rejects(NullPointerException.class, () -> Tensor.ofFloats(null, 1));
        // huge shapes on a tiny segment
        rejects(IllegalArgumentException.class, () -> Tensor.ofStrided(s64, DType.FLOAT32,
                new long[] {1L << 40, 1L << 40}, new long[] {1L << 40, 1}), "overflow");
        rejects(IllegalArgumentException.class, () -> Tensor.ofStrided(s64, DType.FLOAT32,
                new long[] {1L << 40, 1L << 40}, new long[] {0, 0}), "overflow");
        rejects(IllegalArgumentException.class, () -> Tensor.of(s64, DType.FLOAT32, Long.MAX_VALUE, 2), "overflow");
        rejects(IllegalArgumentException.class, () -> Tensor.of(s64, DType.FLOAT32, 1L << 30, 1L << 30),
                "too small");
        rejects(IllegalArgumentException.class, () -> Tensor.of(s64, DType.FLOAT32, 1L << 31, 1L << 31),
                "overflow");
        rejects(IllegalArgumentException.class, () -> Tensor.allocate(arena, DType.FLOAT32, 1L << 62, 4), "overflow");
        rejects(IllegalArgumentException.class, () -> Tensor.ofStrided(s64, DType.FLOAT32, new long[] {2},
                new long[] {Long.MAX_VALUE}), "overflow");
        // accessors
        Tensor t = Tensor.of(s64, DType.FLOAT32, 4, 4);
        rejects(IndexOutOfBoundsException.class, () -> t.getFloat(4, 0));
        rejects(IllegalArgumentException.class, () -> t.getFloat(1), "rank");
        rejects(IllegalArgumentException.class, () -> t.getInt(0, 0), "float32");
        rejects(IllegalArgumentException.class, () -> Tensor.of(s64, DType.INT32, 4, 4).getFloat(0, 0), "float32",
                "int32");
        rejects(IllegalArgumentException.class, () -> t.permute(0, 0), "[0, 0]");
        rejects(IllegalArgumentException.class, () -> t.permute(1, 0).reshape(16), "contiguous");
        rejects(IllegalArgumentException.class, () -> t.reshape(3, 5), "[3, 5]");
        rejects(IllegalArgumentException.class, () -> t.copyFrom(Tensor.of(s64, DType.FLOAT32, 2, 8)), "[2, 8]",
                "[4, 4]");
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void problemTooLarge(Backend b) {
        RegionConv c = RegionConv.of(b);
        // zero strides make huge, valid tensors over a few bytes; the problem itself overflows the size limits
        long n = 1L << 21;
        long h = 1L << 20;
        long w = 1L << 21;
        Tensor hugeSrc = Tensor.ofStrided(src.segment(), DType.FLOAT32, new long[] {n, 1, h, w}, new long[4]);
        Tensor hugeRin = Tensor.ofStrided(rin.segment(), DType.INT32, new long[] {n, h, w}, new long[3]);
        Tensor one = Tensor.ofStrided(filter.segment(), DType.FLOAT32, new long[] {1, 1, 1, 1, 1}, new long[5]);
        rejects(IllegalArgumentException.class, () -> c.forward(hugeSrc, one, hugeRin, hugeRin,
                ConvParams.DEFAULT, arena), "too large");
        rejects(IllegalArgumentException.class, () -> c.backwardData(one, hugeSrc, hugeRin, hugeRin,
                ConvParams.DEFAULT, arena), "too large");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(hugeSrc, hugeSrc, hugeRin, hugeRin,
                ConvParams.DEFAULT, 1, 1, arena), "too large");
        // channels: groups * icpg would wrap around 2^64 to the 2 channels of src
        long icpg = Long.divideUnsigned(-1L, 3) + 1; // (2^64 + 2) / 3 = 6148914691236517206
        assertEquals(2L, 3 * icpg, "the product wraps");
        assertThrows(IllegalArgumentException.class, () -> ConvShape.ofForward(new long[] {1, 2, 1, 1},
                new long[] {3, 1, icpg, 1, 1}, ConvParams.DEFAULT.withGroups(3)));
        assertThrows(IllegalArgumentException.class, () -> ConvShape.ofForward(new long[] {1, 2, 1, 1},
                new long[] {3, icpg, 1, 1}, ConvParams.DEFAULT.withGroups(3)));
        assertOutputsUntouched("problemTooLarge");
    }

    /**
     * The dilated extent dilation*(FH-1)+1 must not wrap around: with dilation 32 and FH = 2^59+1 it is
     * 2^64+1, far larger than any input, so the output is empty; computed in wrapping long arithmetic it is 1
     * and the problem looks like an ordinary 8x8 -> 8x8 one with a 2^59-tap filter (a zero-stride filter
     * tensor of 4 bytes has that shape), which a backend then tries to run.
     */
    @Test
    void dilatedExtentOverflowIsRejected() {
        long fh = (1L << 59) + 1;
        ConvParams p = ConvParams.DEFAULT.withDilation(32, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ConvShape.ofForward(new long[] {1, 1, 8, 8}, new long[] {1, 1, 1, fh, 1}, p),
                "ConvShape accepted a 2^59+1-tap filter with dilation 32 on an 8x8 input");
        assertTrue(e.getMessage().contains("empty") || e.getMessage().contains("too large"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> ConvShape.ofBackwardFilter(new long[] {1, 1, 8, 8}, new long[] {1, 1, 8, 8}, fh, 1, p));
        assertThrows(IllegalArgumentException.class,
                () -> ConvShape.ofBackwardData(new long[] {1, 1, 1, fh, 1}, new long[] {1, 1, 8, 8},
                        new long[] {1, 8, 8}, p));
        // the public formula itself: no output may come out of a filter that does not fit
        assertTrue(ConvParams.outputSize(8, fh, 0, 32, 1) <= 0, "outputSize(8, 2^59+1, 0, 32, 1) = "
                + ConvParams.outputSize(8, fh, 0, 32, 1));
    }

    // ---- outputs: overlapping strides, read-only, aliasing ------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Backend.class)
    void overlappingOutputStrides(Backend b) {
        RegionConv c = RegionConv.of(b);
        MemorySegment seg = dst.segment();
        Tensor zero = Tensor.ofStrided(seg, DType.FLOAT32, DST, new long[] {180, 30, 6, 0});
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, rout, P, zero),
                "dst", "overlapping", "[180, 30, 6, 0]", s(DST));
        Tensor interleaved = Tensor.ofStrided(seg, DType.FLOAT32, DST, new long[] {180, 29, 6, 1});
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, rout, P, interleaved),
                "dst", "overlapping", "[180, 29, 6, 1]");
        Tensor gs = Tensor.ofStrided(gradSrc.segment(), DType.FLOAT32, SRC, new long[] {0, 30, 6, 1});
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, diff, rin, rout, P, gs),
                "gradSrc", "overlapping", "[0, 30, 6, 1]");
        Tensor gf = Tensor.ofStrided(gradFilter.segment(), DType.FLOAT32, FILTER, new long[] {54, 18, 9, 3, 0});
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P, gf),
                "gradFilter", "overlapping", "[54, 18, 9, 3, 0]");
        Tensor gf4 = Tensor.ofStrided(gradFilter.segment(), DType.FLOAT32, FILTER4, new long[] {9, 9, 3, 1});
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P, gf4),
                "gradFilter", "overlapping", "[9, 9, 3, 1]");
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void readOnlyOutputs(Backend b) {
        RegionConv c = RegionConv.of(b);
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, rout, P,
                Tensor.of(dst.segment().asReadOnly(), DType.FLOAT32, DST)), "dst", "read-only");
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, diff, rin, rout, P,
                Tensor.of(gradSrc.segment().asReadOnly(), DType.FLOAT32, SRC)), "gradSrc", "read-only");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P,
                Tensor.of(gradFilter.segment().asReadOnly(), DType.FLOAT32, FILTER)), "gradFilter", "read-only");
        float[] heap = new float[360];
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter, rin, rout, P,
                Tensor.of(MemorySegment.ofArray(heap).asReadOnly(), DType.FLOAT32, DST)), "dst", "read-only");
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void outputsMustNotAliasInputs(Backend b) {
        RegionConv c = RegionConv.of(b);
        // one native buffer: src at float 0..239, dst starting at float 100
        MemorySegment big = arena.allocate(4 * 500, 64);
        Tensor s1 = Tensor.of(big, DType.FLOAT32, SRC);
        Tensor d1 = Tensor.of(big.asSlice(400), DType.FLOAT32, DST);
        rejects(IllegalArgumentException.class, () -> c.forward(s1, filter, rin, rout, P, d1),
                "dst", "overlaps", "float32[2, 4, 5, 6]");
        // exactly in place (1x1, same shapes)
        Tensor sq = f32(2, 4, 5, 6);
        ConvParams p1 = ConvParams.DEFAULT.withGroups(2);
        rejects(IllegalArgumentException.class, () -> c.forward(sq, f32(2, 2, 2, 1, 1), rin, rout, p1, sq),
                "dst", "overlaps");
        // dst over the memory of a mask (other dtype) or of the filter
        Tensor maskMem = i32(2, 6, 5, 6);
        rejects(IllegalArgumentException.class, () -> c.forward(src, filter,
                Tensor.of(maskMem.segment(), DType.INT32, RIN), rout, P,
                Tensor.of(maskMem.segment(), DType.FLOAT32, DST)), "dst", "overlaps", "int32");
        Tensor fMem = f32(500); // filter at float 0..107, dst from float 50
        rejects(IllegalArgumentException.class, () -> c.forward(src, Tensor.of(fMem.segment(), DType.FLOAT32, FILTER),
                rin, rout, P, Tensor.of(fMem.segment().asSlice(4 * 50), DType.FLOAT32, DST)), "dst", "overlaps",
                s(FILTER));
        // gradSrc inside diff's memory
        Tensor gsOverDiff = Tensor.of(diff.segment().asSlice(4 * 10, 4 * 240), DType.FLOAT32, SRC);
        rejects(IllegalArgumentException.class, () -> c.backwardData(filter, diff, rin, rout, P, gsOverDiff),
                "gradSrc", "overlaps");
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin, rout, P,
                Tensor.of(src.segment(), DType.FLOAT32, FILTER)), "gradFilter", "overlaps");
        Tensor shared = i32(200); // rout (int32) at 0..59, gradFilter (float32) over 0..107
        rejects(IllegalArgumentException.class, () -> c.backwardFilter(src, diff, rin,
                Tensor.of(shared.segment(), DType.INT32, ROUT), P, Tensor.of(shared.segment(), DType.FLOAT32, FILTER)),
                "gradFilter", "overlaps", "int32[2, 5, 6]");
        // heap arrays alias too
        float[] heap = new float[600];
        Tensor hs = Tensor.of(MemorySegment.ofArray(heap), DType.FLOAT32, SRC);
        Tensor hd = Tensor.of(MemorySegment.ofArray(heap).asSlice(4 * 200), DType.FLOAT32, DST);
        rejects(IllegalArgumentException.class, () -> c.forward(hs, filter, rin, rout, P, hd), "dst", "overlaps");
        // adjacent, not overlapping: fine
        Tensor hd2 = Tensor.of(MemorySegment.ofArray(heap).asSlice(4 * 240), DType.FLOAT32, DST);
        assertDoesNotThrow(() -> c.forward(hs, filter, rin, rout, P, hd2));
    }

    // ---- alignment, closed arenas, other threads, nulls -------------------------------------------------------

    /** A misaligned float32 or int32 segment is rejected when the tensor is built, not first by a call. */
    @Test
    void misalignedNativeSegments() {
        for (DType t : List.of(DType.FLOAT32, DType.INT32)) {
            for (long off = 1; off < 4; off++) {
                MemorySegment seg = arena.allocate(4 * 30 + 8, 64).asSlice(off, 4 * 30);
                String addr = "0x" + Long.toHexString(seg.address());
                rejects(IllegalArgumentException.class, () -> Tensor.of(seg, t, 5, 6), "segment address " + addr,
                        "not aligned to 4 bytes", t.toString());
                rejects(IllegalArgumentException.class, () -> Tensor.ofStrided(seg, t, new long[] {5, 6},
                        new long[] {6, 1}), "not aligned to 4 bytes", t.toString());
            }
        }
        // uint8 needs no alignment
        Tensor.of(arena.allocate(31, 64).asSlice(1, 30), DType.UINT8, 5, 6);
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void closedArenas(Backend b) {
        RegionConv c = RegionConv.of(b);
        Arena other = Arena.ofConfined();
        Tensor closedSrc = Tensor.allocate(other, DType.FLOAT32, SRC);
        Tensor closedRout = Tensor.allocate(other, DType.INT32, ROUT);
        Tensor closedDst = Tensor.allocate(other, DType.FLOAT32, DST);
        Tensor closedFilter = Tensor.allocate(other, DType.FLOAT32, FILTER);
        other.close();
        rejects(IllegalStateException.class, () -> c.forward(closedSrc, filter, rin, rout, P, dst), "src", "closed");
        rejects(IllegalStateException.class, () -> c.forward(src, filter, rin, closedRout, P, dst), "rout", "closed");
        rejects(IllegalStateException.class, () -> c.forward(src, filter, rin, rout, P, closedDst), "dst", "closed");
        rejects(IllegalStateException.class, () -> c.backwardData(closedFilter, diff, rin, rout, P, gradSrc),
                "filter", "closed");
        rejects(IllegalStateException.class, () -> c.backwardFilter(closedSrc, diff, rin, rout, P, gradFilter),
                "src", "closed");
        rejects(IllegalStateException.class, () -> c.backwardFilter(src, diff, rin, rout, P, closedFilter),
                "gradFilter", "closed");
        // a closed arena for the result
        rejects(IllegalStateException.class, () -> c.forward(src, filter, rin, rout, P, other));
        rejects(IllegalStateException.class, () -> c.backwardData(filter, diff, rin, rout, P, other));
        rejects(IllegalStateException.class, () -> c.backwardFilter(src, diff, rin, rout, P, 3, 3, other));
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void segmentsConfinedToAnotherThread(Backend b) throws InterruptedException {
        RegionConv c = RegionConv.of(b);
        Tensor foreignSrc = fromOtherThread(DType.FLOAT32, SRC);
        Tensor foreignRin = fromOtherThread(DType.UINT8, RIN);
        Tensor foreignDst = fromOtherThread(DType.FLOAT32, DST);
        Tensor foreignDiff = fromOtherThread(DType.FLOAT32, DST);
        rejects(IllegalStateException.class, () -> c.forward(foreignSrc, filter, rin, rout, P, dst), "src", "thread");
        rejects(IllegalStateException.class, () -> c.forward(src, filter, foreignRin, u8(ROUT), P, dst), "rin",
                "thread");
        rejects(IllegalStateException.class, () -> c.forward(src, filter, rin, rout, P, foreignDst), "dst", "thread");
        rejects(IllegalStateException.class, () -> c.backwardData(filter, foreignDiff, rin, rout, P, gradSrc), "diff",
                "thread");
        rejects(IllegalStateException.class, () -> c.backwardFilter(src, foreignDiff, rin, rout, P, gradFilter),
                "diff", "thread");
        rejects(IllegalStateException.class, () -> c.backwardData(filter, diff, rin, rout, P,
                Tensor.of(foreignSrc.segment(), DType.FLOAT32, SRC)), "gradSrc", "thread");
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void nullArguments(Backend b) {
        RegionConv c = RegionConv.of(b);
        rejects(NullPointerException.class, () -> c.forward(null, filter, rin, rout, P, dst), "src");
        rejects(NullPointerException.class, () -> c.forward(src, null, rin, rout, P, dst), "filter");
        rejects(NullPointerException.class, () -> c.forward(src, filter, null, rout, P, dst), "rin");
        rejects(NullPointerException.class, () -> c.forward(src, filter, rin, null, P, dst), "rout");
        rejects(NullPointerException.class, () -> c.forward(src, filter, rin, rout, null, dst), "params");
        rejects(NullPointerException.class, () -> c.forward(src, filter, rin, rout, P, (Tensor) null), "dst");
        rejects(NullPointerException.class, () -> c.forward(src, filter, rin, rout, P, (Arena) null), "arena");
        rejects(NullPointerException.class, () -> c.backwardData(null, diff, rin, rout, P, gradSrc), "filter");
        rejects(NullPointerException.class, () -> c.backwardData(filter, null, rin, rout, P, gradSrc), "diff");
        rejects(NullPointerException.class, () -> c.backwardData(filter, diff, null, rout, P, gradSrc), "rin");
        rejects(NullPointerException.class, () -> c.backwardData(filter, diff, rin, null, P, gradSrc), "rout");
        rejects(NullPointerException.class, () -> c.backwardData(filter, diff, rin, rout, null, gradSrc), "params");
        rejects(NullPointerException.class, () -> c.backwardData(filter, diff, rin, rout, P, (Tensor) null),
                "gradSrc");
        rejects(NullPointerException.class, () -> c.backwardData(filter, diff, rin, rout, P, (Arena) null), "arena");
        rejects(NullPointerException.class, () -> c.backwardFilter(null, diff, rin, rout, P, gradFilter), "src");
        rejects(NullPointerException.class, () -> c.backwardFilter(src, null, rin, rout, P, gradFilter), "diff");
        rejects(NullPointerException.class, () -> c.backwardFilter(src, diff, null, rout, P, gradFilter), "rin");
        rejects(NullPointerException.class, () -> c.backwardFilter(src, diff, rin, null, P, gradFilter), "rout");
        rejects(NullPointerException.class, () -> c.backwardFilter(src, diff, rin, rout, null, gradFilter), "params");
        rejects(NullPointerException.class, () -> c.backwardFilter(src, diff, rin, rout, P, (Tensor) null),
                "gradFilter");
        rejects(NullPointerException.class, () -> c.backwardFilter(src, diff, rin, rout, P, 3, 3, null), "arena");
        rejects(NullPointerException.class, () -> RegionConv.of(null), "backend");
    }
}
