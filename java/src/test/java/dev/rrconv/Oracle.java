package dev.rrconv;

/**
 * An independent, brute-force reference of region-restricted convolution, written straight from the
 * definition (see {@code native/include/rrconv.h}) over plain Java arrays in double precision. It shares
 * no code with the library: no {@link Tensor}, no {@link ConvShape}, no backend.
 *
 * <p>The operator is a sum over <em>taps</em>: a tap is one tuple {@code (n, g, ocg, icg, oh, ow, kh, kw)}
 * whose input pixel {@code ih = oh*sh - ph + kh*dh, iw = ow*sw - pw + kw*dw} lies inside the image and whose
 * regions are equal, {@code rin[n, ih, iw] == rout[n, oh, ow]} (compared as ints). Each tap contributes the
 * product {@code src[n, g*ICPG+icg, ih, iw] * filter[g, ocg, icg, kh', kw'] * diff[n, g*OCPG+ocg, oh, ow]}
 * to the scalar {@code <forward(src, filter), diff>}, with {@code kh' = kh} (cross-correlation) or
 * {@code FH-1-kh} (convolution). The three directions are the three partial sums of that product:
 * forward sums {@code src*filter} per dst element, backward data sums {@code filter*diff} per src element,
 * backward filter sums {@code src*diff} per (stored, un-flipped) filter element. Skipped taps are never read,
 * so a NaN at a skipped position cannot reach any result.
 *
 * <p>This is the test tree's one Java statement of the operator: the other tests reach it directly or
 * through {@code dev.rrconv.internal.OracleAdapter} (library shapes, float arrays).
 *
 * <p>All arrays are dense C order: src (N, IC, IH, IW), filter (G, OCPG, ICPG, FH, FW), dst/diff
 * (N, OC, OH, OW), rin (N, IH, IW), rout (N, OH, OW). Masks are int arrays (uint8 masks as 0..255).
 */
public final class Oracle {
    private Oracle() {}

    /**
     * Sizes and parameters of one problem.
     *
     * @param n batch
     * @param groups G
     * @param icpg input channels per group
     * @param ocpg output channels per group
     * @param ih input height
     * @param iw input width
     * @param fh filter height
     * @param fw filter width
     * @param sh vertical stride
     * @param sw horizontal stride
     * @param ph vertical padding (each side)
     * @param pw horizontal padding (each side)
     * @param dh vertical dilation
     * @param dw horizontal dilation
     * @param convolution true: flipped filter (convolution); false: cross-correlation
     */
    public record Geometry(int n, int groups, int icpg, int ocpg, int ih, int iw, int fh, int fw,
                    int sh, int sw, int ph, int pw, int dh, int dw, boolean convolution) {
        public Geometry {
            if (n < 1 || groups < 1 || icpg < 1 || ocpg < 1 || ih < 1 || iw < 1 || fh < 1 || fw < 1
                    || sh < 1 || sw < 1 || ph < 0 || pw < 0 || dh < 1 || dw < 1) {
                throw new IllegalArgumentException("invalid geometry " + this);
            }
        }

        /** Output height from the definition: floor((IH + 2ph - dh(FH-1) - 1) / sh) + 1, at least 0. */
        public int oh() {
            return Math.max(0, Math.floorDiv(ih + 2 * ph - dh * (fh - 1) - 1, sh) + 1);
        }

        /** Output width, as {@link #oh()}. */
        public int ow() {
            return Math.max(0, Math.floorDiv(iw + 2 * pw - dw * (fw - 1) - 1, sw) + 1);
        }

        int ic() {
            return groups * icpg;
        }

        int oc() {
            return groups * ocpg;
        }

        int srcSize() {
            return n * ic() * ih * iw;
        }

        int dstSize() {
            return n * oc() * oh() * ow();
        }

        int filterSize() {
            return groups * ocpg * icpg * fh * fw;
        }

        int rinSize() {
            return n * ih * iw;
        }

        int routSize() {
            return n * oh() * ow();
        }

        long[] srcShape() {
            return new long[] {n, ic(), ih, iw};
        }

        long[] dstShape() {
            return new long[] {n, oc(), oh(), ow()};
        }

        long[] filterShape5() {
            return new long[] {groups, ocpg, icpg, fh, fw};
        }

        long[] filterShape4() {
            return new long[] {(long) groups * ocpg, icpg, fh, fw};
        }

        long[] rinShape() {
            return new long[] {n, ih, iw};
        }

        long[] routShape() {
            return new long[] {n, oh(), ow()};
        }

        /** @return the parameters of the library under test that describe this geometry */
        ConvParams params() {
            return new ConvParams(sh, sw, ph, pw, dh, dw, groups,
                    convolution ? Mode.CONVOLUTION : Mode.CROSS_CORRELATION);
        }
    }

    /**
     * A result and, per element, the sum of the absolute values of the terms that were added (the scale of
     * the rounding error a float32 implementation may make) and how many terms there were.
     *
     * @param value the exact-in-double result
     * @param absSum sum of |term| per element
     * @param terms number of terms per element
     */
    public record Result(double[] value, double[] absSum, int[] terms) {
        Result(int size) {
            this(new double[size], new double[size], new int[size]);
        }

        void add(int i, double term) {
            value[i] += term;
            absSum[i] += Math.abs(term);
            terms[i]++;
        }
    }

    /** Receives one tap as flat indices into src, filter (stored layout, flip applied) and dst/diff. */
    @FunctionalInterface
    public interface TapVisitor {
        void tap(int srcIndex, int filterIndex, int dstIndex);
    }

    /** Visits every tap of the problem, in a fixed order. */
    public static void forEachTap(Geometry g, int[] rin, int[] rout, TapVisitor visitor) {
        int oh = g.oh();
        int ow = g.ow();
        require(rin.length == g.rinSize(), "rin length");
        require(rout.length == g.routSize(), "rout length");
        for (int n = 0; n < g.n(); n++) {
            for (int grp = 0; grp < g.groups(); grp++) {
                for (int ocg = 0; ocg < g.ocpg(); ocg++) {
                    int oc = grp * g.ocpg() + ocg;
                    for (int y = 0; y < oh; y++) {
                        for (int x = 0; x < ow; x++) {
                            int dstIndex = ((n * g.oc() + oc) * oh + y) * ow + x;
                            int region = rout[(n * oh + y) * ow + x];
                            for (int icg = 0; icg < g.icpg(); icg++) {
                                int ic = grp * g.icpg() + icg;
                                for (int kh = 0; kh < g.fh(); kh++) {
                                    int iy = y * g.sh() - g.ph() + kh * g.dh();
                                    for (int kw = 0; kw < g.fw(); kw++) {
                                        int ix = x * g.sw() - g.pw() + kw * g.dw();
                                        if (iy < 0 || iy >= g.ih() || ix < 0 || ix >= g.iw()) {
                                            continue; // padding: skipped
                                        }
                                        if (rin[(n * g.ih() + iy) * g.iw() + ix] != region) {
                                            continue; // other region: skipped
                                        }
                                        int fy = g.convolution() ? g.fh() - 1 - kh : kh;
                                        int fx = g.convolution() ? g.fw() - 1 - kw : kw;
                                        int srcIndex = ((n * g.ic() + ic) * g.ih() + iy) * g.iw() + ix;
                                        int filterIndex = (((grp * g.ocpg() + ocg) * g.icpg() + icg) * g.fh() + fy)
                                                * g.fw() + fx;
                                        visitor.tap(srcIndex, filterIndex, dstIndex);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /** dst (N, OC, OH, OW) = sum over taps of src * filter. */
    public static Result forward(Geometry g, double[] src, double[] filter, int[] rin, int[] rout) {
        require(src.length == g.srcSize(), "src length");
        require(filter.length == g.filterSize(), "filter length");
        Result r = new Result(g.dstSize());
        forEachTap(g, rin, rout, (s, f, d) -> r.add(d, src[s] * filter[f]));
        return r;
    }

    /** grad src (N, IC, IH, IW) = sum over taps of filter * diff. */
    public static Result backwardData(Geometry g, double[] filter, double[] diff, int[] rin, int[] rout) {
        require(filter.length == g.filterSize(), "filter length");
        require(diff.length == g.dstSize(), "diff length");
        Result r = new Result(g.srcSize());
        forEachTap(g, rin, rout, (s, f, d) -> r.add(s, filter[f] * diff[d]));
        return r;
    }

    /** grad filter (G, OCPG, ICPG, FH, FW), stored layout = sum over taps of src * diff. */
    public static Result backwardFilter(Geometry g, double[] src, double[] diff, int[] rin, int[] rout) {
        require(src.length == g.srcSize(), "src length");
        require(diff.length == g.dstSize(), "diff length");
        Result r = new Result(g.filterSize());
        forEachTap(g, rin, rout, (s, f, d) -> r.add(f, src[s] * diff[d]));
        return r;
    }

    /** The dot product of two arrays in double. */
    public static double dot(double[] a, double[] b) {
        require(a.length == b.length, "dot lengths");
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    private static void require(boolean ok, String what) {
        if (!ok) {
            throw new IllegalArgumentException("Oracle: wrong " + what);
        }
    }
}
