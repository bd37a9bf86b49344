package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The backward directions are the gradients of the forward one, checked through the backends only (no
 * oracle): the adjoint identity {@code <fwd(x, w), dy> = <x, bwdData(w, dy)> = <w, bwdFilter(x, dy)>} on
 * random float data, and central finite differences of {@code L = <fwd(x, w), dy>} against single entries
 * of both gradients.
 */
class GradientTest {
    static final long SEED = 0xAD301L;

    /**
     * A small random problem.
     *
     * @param seed its seed (printed in assertion messages)
     * @param g sizes and parameters
     * @param maskType int32 or uint8
     */
    record Case(long seed, Oracle.Geometry g, DType maskType) {
        static Case random(long seed) {
            Random r = new Random(RandomConfigTest.Config.mix(seed));
            while (true) {
                int groups = 1 + r.nextInt(3);
                int fh = 1 + r.nextInt(4);
                int fw = 1 + r.nextInt(4);
                Oracle.Geometry g = new Oracle.Geometry(1 + r.nextInt(2), groups, 1 + r.nextInt(3), 1 + r.nextInt(3),
                        3 + r.nextInt(7), 3 + r.nextInt(7), fh, fw, 1 + r.nextInt(3), 1 + r.nextInt(3), r.nextInt(3),
                        r.nextInt(3), 1 + r.nextInt(2), 1 + r.nextInt(2), r.nextBoolean());
                if (g.oh() >= 1 && g.ow() >= 1) {
                    return new Case(seed, g, r.nextBoolean() ? DType.INT32 : DType.UINT8);
                }
            }
        }

        @Override
        public String toString() {
            return "seed=" + seed + " " + g + " " + maskType;
        }
    }

    static Stream<Arguments> cases(int count, long salt) {
        List<Arguments> out = new ArrayList<>();
        for (Backend b : new Backend[] {Backend.NATIVE, Backend.JAVA}) { // AUTO is NATIVE here
            for (int i = 0; i < count; i++) {
                out.add(Arguments.of(b, Case.random(SEED + salt + i)));
            }
        }
        return out.stream();
    }

    static Stream<Arguments> adjointCases() {
        return cases(40, 0);
    }

    static Stream<Arguments> finiteDifferenceCases() {
        return cases(16, 1000);
    }

    /** Tensors of one case. */
    private static final class Problem {
        final Case c;
        final RegionConv conv;
        final ConvParams p;
        final Tensor rin;
        final Tensor rout;

        Problem(Backend backend, Case c, Random r) {
            this.c = c;
            this.conv = RegionConv.of(backend);
            this.p = c.g().params();
            int[] rinV = new int[c.g().rinSize()];
            int[] routV = new int[c.g().routSize()];
            for (int i = 0; i < rinV.length; i++) {
                rinV[i] = r.nextInt(3);
            }
            for (int i = 0; i < routV.length; i++) {
                routV[i] = r.nextInt(3);
            }
            this.rin = masks(rinV, c.g().rinShape());
            this.rout = masks(routV, c.g().routShape());
        }

        private Tensor masks(int[] v, long[] shape) {
            if (c.maskType() == DType.INT32) {
                return Tensor.ofInts(v, shape);
            }
            byte[] b = new byte[v.length];
            for (int i = 0; i < v.length; i++) {
                b[i] = (byte) (v[i] * 100 + 27); // 27, 127, 227: uint8 ids above 127
            }
            return Tensor.ofBytes(b, shape);
        }

        double[] forward(double[] x, double[] w, Arena arena) {
            return TestTensors.toDoubles(conv.forward(TestTensors.heapFloats(x, c.g().srcShape()),
                    TestTensors.heapFloats(w, c.g().filterShape5()), rin, rout, p, arena));
        }

        double[] backwardData(double[] w, double[] dy, Arena arena) {
            return TestTensors.toDoubles(conv.backwardData(TestTensors.heapFloats(w, c.g().filterShape5()),
                    TestTensors.heapFloats(dy, c.g().dstShape()), rin, rout, p, arena));
        }

        double[] backwardFilter(double[] x, double[] dy, Arena arena) {
            return TestTensors.toDoubles(conv.backwardFilter(TestTensors.heapFloats(x, c.g().srcShape()),
                    TestTensors.heapFloats(dy, c.g().dstShape()), rin, rout, p, c.g().fh(), c.g().fw(), arena));
        }
    }

    static double[] random(Random r, int n, boolean integers) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = integers ? r.nextInt(7) - 3 : (float) (r.nextFloat() * 2 - 1);
        }
        return v;
    }

    static double[] abs(double[] v) {
        double[] a = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            a[i] = Math.abs(v[i]);
        }
        return a;
    }

    /**
     * {@code <fwd(x, w), dy> = <x, bwdData(w, dy)> = <w, bwdFilter(x, dy)>}, all three being the sum over
     * taps of x*w*dy. Each side is a float32 computation followed by an exact-enough double dot product, so
     * they agree to about (taps per element) * 2^-24 * S, S = sum over taps of |x*w*dy| =
     * {@code <fwd(|x|, |w|), |dy|>}; we accept 1e-4 * S.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("adjointCases")
    void adjointIdentity(Backend backend, Case c) {
        Random r = new Random(RandomConfigTest.Config.mix(c.seed() + 1));
        Problem pr = new Problem(backend, c, r);
        Oracle.Geometry g = c.g();
        double[] x = random(r, g.srcSize(), false);
        double[] w = random(r, g.filterSize(), false);
        double[] dy = random(r, g.dstSize(), false);
        try (Arena arena = Arena.ofConfined()) {
            double lhs = Oracle.dot(pr.forward(x, w, arena), dy);
            double viaData = Oracle.dot(x, pr.backwardData(w, dy, arena));
            double viaFilter = Oracle.dot(w, pr.backwardFilter(x, dy, arena));
            double scale = Oracle.dot(pr.forward(abs(x), abs(w), arena), abs(dy));
            double tol = 1e-4 * scale + 1e-30;
            assertEquals(lhs, viaData, tol, "<fwd(x,w),dy> vs <x,bwdData(w,dy)>, " + c);
            assertEquals(lhs, viaFilter, tol, "<fwd(x,w),dy> vs <w,bwdFilter(x,dy)>, " + c);
        }
    }

    /**
     * Central differences of L(x, w) = <fwd(x, w), dy> against single gradient entries. Inputs are integers
     * in {-3..3} and eps = 2^-6, so x +- eps, every product and every partial sum are exact in float32
     * (magnitudes < 2^12, resolution 2^-6); forward is linear in each argument, hence the difference quotient
     * equals the gradient up to nothing. We still allow 1e-6 * (1 + |g|).
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("finiteDifferenceCases")
    void finiteDifferences(Backend backend, Case c) {
        Random r = new Random(RandomConfigTest.Config.mix(c.seed() + 2));
        Problem pr = new Problem(backend, c, r);
        Oracle.Geometry g = c.g();
        double[] x = random(r, g.srcSize(), true);
        double[] w = random(r, g.filterSize(), true);
        double[] dy = random(r, g.dstSize(), true);
        double eps = 1.0 / 64;
        try (Arena arena = Arena.ofConfined()) {
            double[] gx = pr.backwardData(w, dy, arena);
            double[] gw = pr.backwardFilter(x, dy, arena);
            for (int k = 0; k < 8; k++) {
                // odd k: an entry whose gradient is not zero (if any), so that the check is not vacuous
                int i = k % 2 == 1 ? pickNonZero(r, gx) : r.nextInt(x.length);
                double keep = x[i];
                x[i] = keep + eps;
                double plus = Oracle.dot(pr.forward(x, w, arena), dy);
                x[i] = keep - eps;
                double minus = Oracle.dot(pr.forward(x, w, arena), dy);
                x[i] = keep;
                double fd = (plus - minus) / (2 * eps);
                assertEquals(gx[i], fd, 1e-6 * (1 + Math.abs(gx[i])), "dL/dsrc[" + i + "], " + c);

                int j = k % 2 == 1 ? pickNonZero(r, gw) : r.nextInt(w.length);
                keep = w[j];
                w[j] = keep + eps;
                plus = Oracle.dot(pr.forward(x, w, arena), dy);
                w[j] = keep - eps;
                minus = Oracle.dot(pr.forward(x, w, arena), dy);
                w[j] = keep;
                fd = (plus - minus) / (2 * eps);
                assertEquals(gw[j], fd, 1e-6 * (1 + Math.abs(gw[j])), "dL/dfilter[" + j + "] (stored layout), " + c);
            }
        }
    }

    /** A random index whose value is not zero, or any random index if all are zero. */
    static int pickNonZero(Random r, double[] v) {
        int[] nz = java.util.stream.IntStream.range(0, v.length).filter(i -> v[i] != 0).toArray();
        return nz.length == 0 ? r.nextInt(v.length) : nz[r.nextInt(nz.length)];
    }
}
