package dev.rrconv.internal;

import static dev.rrconv.internal.BackendTestData.fill;
import static dev.rrconv.internal.BackendTestData.fillNaN;
import static dev.rrconv.internal.BackendTestData.inverse;
import static dev.rrconv.internal.BackendTestData.permuted;
import static dev.rrconv.internal.BackendTestData.product;
import static dev.rrconv.internal.BackendTestData.randomPermutation;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.DType;
import dev.rrconv.Mode;
import dev.rrconv.Tensor;
import dev.rrconv.internal.BackendTestData.Problem;
import dev.rrconv.internal.javaimpl.DepthwiseLoops;
import java.lang.foreign.Arena;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The channels-last depthwise loops ({@link DepthwiseLoops}) on seeded random depthwise problems: 1 to 40
 * channels (the backend uses the path only for many channels; the loops themselves take any count), images 1 to 40
 * wide, kernels up to 7x7, strides and dilations 1 to 3, padding from none to beyond the dilated kernel
 * (outputs with no tap, taps never inside), both modes, int32 and uint8 masks of several kinds.
 *
 * <p>The loops promise a fixed summation order (double sums of float products; taps in ascending
 * {@code (kh, kw)} order for forward and backward data, pixels in ascending {@code (n, oh, ow)} order for
 * backward filter), so they are compared bit for bit with plain loops that sum in exactly that order, for
 * 1, 2, 3 and 7 threads, and within rounding with the double-precision {@link OracleAdapter}. Elements that
 * no tap reads hold NaN or infinity, which must not reach any output; some problems also put infinities
 * into weights and inputs that are read, which must come out exactly as the plain loops produce them.
 */
class DepthwiseLoopsTest {
    private static final int[] THREADS = {1, 2, 3, 7};
    private static final float[] POISON = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};

    @AfterEach
    void resetThreads() {
        Backends.setThreads(0);
    }

    static IntStream seeds() {
        return IntStream.range(0, 300);
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void randomProblemsMatchTheOrderedLoopsBitForBit(int seed) {
        Random r = new Random(seed * 0x9E3779B97F4A7C15L + 101);
        Problem pr = randomProblem(r);
        int poison = r.nextInt(3); // 0 none, 1 poison what no tap reads, 2 also infinities that are read
        if (poison > 0) {
            pr = poisoned(pr, r, poison == 2);
        }
        check(pr, r.nextInt(3));
    }

    @Test
    void benchmarkLikeShapeThroughTheBackend() {
        // A small DW-K7: 256 channels, 12x11, 7x7 pad 3, random {1,2,3} masks; the backend picks this path.
        Random r = new Random(3);
        ConvParams p = ConvParams.DEFAULT.withPadding(3, 3).withGroups(256);
        ConvShape s = ConvShape.ofForward(new long[] {1, 256, 12, 11}, new long[] {256, 1, 1, 7, 7}, p);
        assertTrue(DepthwiseLoops.appliesForward(s, p));
        assertTrue(DepthwiseLoops.appliesBackwardFilter(s, p));
        Problem pr = problem(r, s, p, 0, false);
        JavaBackend backend = new JavaBackend();
        for (int t : THREADS) {
            Backends.setThreads(t);
            Tensor dst = out(s.dstShape());
            backend.forward(s, p, Tensor.ofFloats(pr.src(), s.srcShape()), Tensor.ofFloats(pr.filter(), s.filterShape()),
                    Tensor.ofInts(pr.rin(), s.rinShape()), Tensor.ofInts(pr.rout(), s.routShape()), dst);
            assertBitwise("backend forward, " + t + " threads", pr, orderedForward(pr), dst.toFloatArray());
            Tensor gs = out(s.srcShape());
            backend.backwardData(s, p, Tensor.ofFloats(pr.filter(), s.filterShape()), Tensor.ofFloats(pr.diff(), s.dstShape()),
                    Tensor.ofInts(pr.rin(), s.rinShape()), Tensor.ofInts(pr.rout(), s.routShape()), gs);
            assertBitwise("backend backward data, " + t + " threads", pr, orderedBackwardData(pr), gs.toFloatArray());
            Tensor gf = out(s.filterShape());
            backend.backwardFilter(s, p, Tensor.ofFloats(pr.src(), s.srcShape()), Tensor.ofFloats(pr.diff(), s.dstShape()),
                    Tensor.ofInts(pr.rin(), s.rinShape()), Tensor.ofInts(pr.rout(), s.routShape()), gf);
            assertBitwise("backend backward filter, " + t + " threads", pr, orderedBackwardFilter(pr), gf.toFloatArray());
        }
    }

    @Test
    void wideChannelCountsRunInSeveralBlocks() {
        // More channels than one pass of the forward/backward-data loops takes (512), and than one
        // backward-filter block; strided and dilated, with poison where no tap reads.
        Random r = new Random(11);
        for (int c : new int[] {513, 700}) {
            ConvParams p = new ConvParams(2, 1, 2, 1, 2, 1, c, Mode.CONVOLUTION);
            ConvShape s = ConvShape.ofForward(new long[] {2, c, 7, 6}, new long[] {c, 1, 1, 3, 4}, p);
            check(poisoned(problem(r, s, p, 0, false), r, false), c % 3);
        }
    }

    @Test
    void onlyDepthwiseProblemsWithEnoughChannelsAndTapsSelectThePath() {
        // forward and backward data: 7x7 from 256 channels, 11x11 from 64
        assertTrue(forward(256, 1, 1, 7, 7));
        assertTrue(!forward(255, 1, 1, 7, 7));
        assertTrue(!forward(384, 1, 1, 7, 6));
        assertTrue(forward(64, 1, 1, 11, 11));
        assertTrue(!forward(63, 1, 1, 11, 11));
        assertTrue(!forward(384, 1, 1, 3, 3));
        // backward filter: 3x3 from 64 channels
        assertTrue(filter(64, 1, 1, 3, 3));
        assertTrue(!filter(63, 1, 1, 3, 3));
        assertTrue(!filter(384, 1, 1, 2, 4));
        // never with several channels per group
        assertTrue(!forward(256, 1, 2, 7, 7));
        assertTrue(!forward(256, 2, 1, 7, 7));
        assertTrue(!filter(256, 1, 2, 7, 7));
        assertTrue(!filter(256, 2, 1, 7, 7));
    }

    private static boolean forward(int groups, int icpg, int ocpg, int fh, int fw) {
        ConvParams p = ConvParams.DEFAULT.withGroups(groups);
        return DepthwiseLoops.appliesForward(shape(p, groups, icpg, ocpg, fh, fw), p);
    }

    private static boolean filter(int groups, int icpg, int ocpg, int fh, int fw) {
        ConvParams p = ConvParams.DEFAULT.withGroups(groups);
        return DepthwiseLoops.appliesBackwardFilter(shape(p, groups, icpg, ocpg, fh, fw), p);
    }

    private static ConvShape shape(ConvParams p, int groups, int icpg, int ocpg, int fh, int fw) {
        return ConvShape.ofForward(new long[] {1, (long) groups * icpg, 12, 12}, new long[] {groups, ocpg, icpg, fh, fw}, p);
    }

    // ---- checking ---------------------------------------------------------------------------------

    private static void check(Problem pr, int layout) {
        ConvShape s = pr.s();
        float[] wantF = orderedForward(pr);
        float[] wantD = orderedBackwardData(pr);
        float[] wantW = orderedBackwardFilter(pr);
        assertNear("forward", pr, wantF, OracleAdapter.forward(s, pr.p(), pr.src(), pr.filter(), pr.rin(), pr.rout()));
        assertNear("backward data", pr, wantD,
                OracleAdapter.backwardData(s, pr.p(), pr.filter(), pr.diff(), pr.rin(), pr.rout()));
        assertNear("backward filter", pr, wantW,
                OracleAdapter.backwardFilter(s, pr.p(), pr.src(), pr.diff(), pr.rin(), pr.rout()));
        for (int t : THREADS) {
            try (Arena confined = Arena.ofConfined()) {
                Random r = new Random(t * 31L + layout);
                Tensor src = floats(pr.src(), s.srcShape(), layout, r, confined);
                Tensor filter = floats(pr.filter(), s.filterShape(), layout, r, confined);
                Tensor diff = floats(pr.diff(), s.dstShape(), layout, r, confined);
                Tensor rin = mask(pr.rin(), s.rinShape(), pr.u8(), layout, r, confined);
                Tensor rout = mask(pr.rout(), s.routShape(), pr.u8(), layout, r, confined);
                Tensor dst = output(s.dstShape(), layout, r, confined);
                Tensor gradSrc = output(s.srcShape(), layout, r, confined);
                Tensor gradFilter = output(s.filterShape(), layout, r, confined);
                DepthwiseLoops.forward(s, pr.p(), src, filter, rin, rout, dst, t);
                DepthwiseLoops.backwardData(s, pr.p(), filter, diff, rin, rout, gradSrc, t);
                DepthwiseLoops.backwardFilter(s, pr.p(), src, diff, rin, rout, gradFilter, t);
                assertBitwise("forward, " + t + " threads, layout " + layout, pr, wantF, dst.toFloatArray());
                assertBitwise("backward data, " + t + " threads, layout " + layout, pr, wantD, gradSrc.toFloatArray());
                assertBitwise("backward filter, " + t + " threads, layout " + layout, pr, wantW,
                        gradFilter.toFloatArray());
                assertArrayEqualsBits(pr.src(), src.toFloatArray(), "src modified");
                assertArrayEqualsBits(pr.diff(), diff.toFloatArray(), "diff modified");
            }
        }
    }

    private static void assertBitwise(String what, Problem pr, float[] want, float[] got) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToIntBits(want[i]) != Float.floatToIntBits(got[i])) {
                fail(what + ": element " + i + " is " + got[i] + ", expected exactly " + want[i] + " in " + pr);
            }
        }
    }

    private static void assertArrayEqualsBits(float[] want, float[] got, String what) {
        for (int i = 0; i < want.length; i++) {
            assertEquals(Float.floatToIntBits(want[i]), Float.floatToIntBits(got[i]), what + " at " + i);
        }
    }

    /** The ordered loops against the double-precision loops (finite expectations only). */
    private static void assertNear(String what, Problem pr, float[] got, double[][] want) {
        for (int i = 0; i < got.length; i++) {
            double w = want[0][i];
            if (!Double.isFinite(w) || !Double.isFinite(want[1][i])) {
                assertEquals(Double.isNaN(w), Float.isNaN(got[i]), what + " NaN pattern at " + i + " in " + pr);
                continue;
            }
            double tol = 1e-6 * want[1][i] + 1e-30;
            if (Math.abs(got[i] - w) > tol + Math.ulp((float) w)) {
                fail(what + ": element " + i + " is " + got[i] + ", expected " + w + " in " + pr);
            }
        }
    }

    // ---- the loops in the promised order ----------------------------------------------------------

    // The oracle's tap walk visits the taps of a dst element in (kh, kw) order and those of a filter element
    // in (n, oh, ow) order; the taps of a grad src element are put in (kh, kw) order here.

    private static float[] orderedForward(Problem pr) {
        double[] acc = new double[(int) product(pr.s().dstShape())];
        OracleAdapter.forEachTap(pr.s(), pr.p(), pr.rin(), pr.rout(),
                (si, fi, di) -> acc[di] += (double) (pr.filter()[fi] * pr.src()[si]));
        return floats(acc);
    }

    private static float[] orderedBackwardData(Problem pr) {
        ConvShape s = pr.s();
        int taps = (int) (s.fh() * s.fw());
        boolean flip = pr.p().mode() == Mode.CONVOLUTION;
        int srcLen = (int) product(s.srcShape());
        float[] term = new float[srcLen * taps];
        boolean[] has = new boolean[srcLen * taps];
        OracleAdapter.forEachTap(s, pr.p(), pr.rin(), pr.rout(), (si, fi, di) -> {
            int stored = fi % taps;
            int k = flip ? taps - 1 - stored : stored; // (kh, kw) of the tap, from the flipped stored element
            term[si * taps + k] = pr.filter()[fi] * pr.diff()[di];
            has[si * taps + k] = true;
        });
        double[] acc = new double[srcLen];
        for (int i = 0; i < srcLen; i++) {
            for (int k = 0; k < taps; k++) {
                if (has[i * taps + k]) {
                    acc[i] += (double) term[i * taps + k];
                }
            }
        }
        return floats(acc);
    }

    private static float[] orderedBackwardFilter(Problem pr) {
        double[] acc = new double[(int) product(pr.s().filterShape())];
        OracleAdapter.forEachTap(pr.s(), pr.p(), pr.rin(), pr.rout(),
                (si, fi, di) -> acc[fi] += (double) (pr.src()[si] * pr.diff()[di]));
        return floats(acc);
    }

    private static float[] floats(double[] v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) v[i];
        }
        return out;
    }

    // ---- random problems ----------------------------------------------------------------------------

    private static Problem randomProblem(Random r) {
        while (true) {
            int c = 1 + r.nextInt(40);
            int n = 1 + r.nextInt(3);
            int fh = 1 + r.nextInt(7);
            int fw = r.nextInt(3) == 0 ? fh : 1 + r.nextInt(7);
            int sh = 1 + (r.nextInt(3) == 0 ? r.nextInt(3) : 0);
            int sw = 1 + (r.nextInt(3) == 0 ? r.nextInt(3) : 0);
            int dh = 1 + (r.nextInt(3) == 0 ? r.nextInt(3) : 0);
            int dw = 1 + (r.nextInt(3) == 0 ? r.nextInt(3) : 0);
            int extH = dh * (fh - 1) + 1;
            int extW = dw * (fw - 1) + 1;
            int ph = r.nextInt(8) == 0 ? extH + r.nextInt(2) : r.nextInt(extH / 2 + 2);
            int pw = r.nextInt(8) == 0 ? extW + r.nextInt(2) : r.nextInt(extW / 2 + 2);
            int ih = 1 + r.nextInt(40);
            int iw = 1 + r.nextInt(40);
            long oh = ConvParams.outputSize(ih, fh, ph, dh, sh);
            long ow = ConvParams.outputSize(iw, fw, pw, dw, sw);
            if (oh < 1 || ow < 1) {
                continue;
            }
            long macs = (long) n * c * Math.max(oh * ow, (long) ih * iw) * fh * fw;
            if (macs > 150_000) {
                continue;
            }
            ConvParams p = new ConvParams(sh, sw, ph, pw, dh, dw, c, r.nextBoolean() ? Mode.CONVOLUTION
                    : Mode.CROSS_CORRELATION);
            ConvShape s = ConvShape.ofForward(new long[] {n, c, ih, iw}, new long[] {c, 1, 1, fh, fw}, p);
            return problem(r, s, p, r.nextInt(4), r.nextBoolean());
        }
    }

    /** Data and masks: kind 0 random {1,2,3}, 1 blocks, 2 one region, 3 extreme int32 / uint8 ids. */
    private static Problem problem(Random r, ConvShape s, ConvParams p, int maskKind, boolean u8) {
        int[] rin = new int[(int) product(s.rinShape())];
        int[] rout = new int[(int) product(s.routShape())];
        int[] palette = maskKind == 3 ? (u8 ? new int[] {0, 255, 128} : new int[] {Integer.MIN_VALUE, Integer.MAX_VALUE, 16777216, 16777217})
                : new int[] {1, 2, 3};
        int bh = 1 + r.nextInt(6);
        int bw = 1 + r.nextInt(6);
        int ih = (int) s.ih(), iw = (int) s.iw(), oh = (int) s.oh(), ow = (int) s.ow();
        for (int b = 0; b < s.n(); b++) {
            for (int y = 0; y < ih; y++) {
                for (int x = 0; x < iw; x++) {
                    rin[(b * ih + y) * iw + x] = region(r, maskKind, palette, y, x, bh, bw);
                }
            }
            for (int y = 0; y < oh; y++) {
                for (int x = 0; x < ow; x++) {
                    int cy = y * p.strideH() - p.padH() + p.dilationH() * (int) (s.fh() / 2);
                    int cx = x * p.strideW() - p.padW() + p.dilationW() * (int) (s.fw() / 2);
                    rout[(b * oh + y) * ow + x] = region(r, maskKind, palette, cy, cx, bh, bw);
                }
            }
        }
        return new Problem(s, p, gaussians(r, product(s.srcShape())), gaussians(r, product(s.filterShape())),
                gaussians(r, product(s.dstShape())), rin, rout, u8);
    }

    private static int region(Random r, int kind, int[] palette, int y, int x, int bh, int bw) {
        return switch (kind) {
            case 1 -> palette[Math.floorMod(Math.floorDiv(y, bh) + Math.floorDiv(x, bw), palette.length)];
            case 2 -> palette[0];
            default -> palette[r.nextInt(palette.length)];
        };
    }

    /**
     * NaN or infinity in every src, diff and filter element no tap reads; with {@code live}, also an
     * infinity in a few elements that are read.
     */
    private static Problem poisoned(Problem pr, Random r, boolean live) {
        ConvShape s = pr.s();
        ConvParams p = pr.p();
        int n = (int) s.n(), c = (int) s.groups(), ih = (int) s.ih(), iw = (int) s.iw(), oh = (int) s.oh(), ow = (int) s.ow();
        int fh = (int) s.fh(), fw = (int) s.fw();
        boolean[] usedSrc = new boolean[ih * iw * n];
        boolean[] usedDiff = new boolean[oh * ow * n];
        boolean[] usedTap = new boolean[fh * fw];
        OracleAdapter.forEachTap(s, p, pr.rin(), pr.rout(), (si, fi, di) -> {
            usedSrc[si / (c * ih * iw) * ih * iw + si % (ih * iw)] = true;
            usedDiff[di / (c * oh * ow) * oh * ow + di % (oh * ow)] = true;
            usedTap[fi % (fh * fw)] = true;
        });
        float[] src = pr.src().clone();
        float[] diff = pr.diff().clone();
        float[] filter = pr.filter().clone();
        for (int i = 0; i < src.length; i++) {
            int b = i / (c * ih * iw);
            if (!usedSrc[b * ih * iw + i % (ih * iw)]) {
                src[i] = POISON[r.nextInt(3)];
            } else if (live && r.nextInt(50) == 0) {
                src[i] = r.nextBoolean() ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
            }
        }
        for (int i = 0; i < diff.length; i++) {
            int b = i / (c * oh * ow);
            if (!usedDiff[b * oh * ow + i % (oh * ow)]) {
                diff[i] = POISON[r.nextInt(3)];
            }
        }
        for (int i = 0; i < filter.length; i++) {
            if (!usedTap[i % (fh * fw)]) {
                filter[i] = POISON[r.nextInt(3)];
            } else if (live && r.nextInt(20) == 0) {
                filter[i] = r.nextBoolean() ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
            }
        }
        return new Problem(s, p, src, filter, diff, pr.rin(), pr.rout(), pr.u8());
    }

    private static float[] gaussians(Random r, long count) {
        float[] v = new float[(int) count];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    // ---- tensors: 0 heap, 1 confined off-heap (worker threads cannot touch it), 2 permuted views -----

    private static Tensor storage(long[] shape, DType type, int layout, Random r, Arena confined) {
        int rank = shape.length;
        if (layout == 1) {
            return Tensor.allocate(confined, type, shape);
        }
        if (layout == 2) {
            int[] perm = randomPermutation(rank, r);
            return Tensor.allocate(Arena.ofAuto(), type, permuted(shape, perm)).permute(inverse(perm));
        }
        return Tensor.allocate(Arena.ofAuto(), type, shape);
    }

    private static Tensor floats(float[] data, long[] shape, int layout, Random r, Arena confined) {
        return fill(storage(shape, DType.FLOAT32, layout, r, confined), data);
    }

    private static Tensor mask(int[] data, long[] shape, boolean u8, int layout, Random r, Arena confined) {
        return fill(storage(shape, u8 ? DType.UINT8 : DType.INT32, layout, r, confined), data);
    }

    private static Tensor output(long[] shape, int layout, Random r, Arena confined) {
        return fillNaN(storage(shape, DType.FLOAT32, layout, r, confined));
    }

    private static Tensor out(long[] shape) {
        float[] v = new float[(int) product(shape)];
        java.util.Arrays.fill(v, Float.NaN);
        return Tensor.ofFloats(v, shape);
    }
}
