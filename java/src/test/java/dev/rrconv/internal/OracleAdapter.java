package dev.rrconv.internal;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.Mode;
import dev.rrconv.Oracle;

/**
 * The test tree's one oracle ({@link Oracle}, double precision, written from the definition) for the tests of
 * this package, which hold problems as the library's {@link ConvShape} and float arrays: dense C-order
 * src (N, IC, IH, IW), filter (G, OCPG, ICPG, FH, FW), dst/diff (N, OC, OH, OW), rin (N, IH, IW),
 * rout (N, OH, OW). Each method returns {@code {values, sums of |terms|}}; the second array bounds the
 * rounding error of a float sum.
 */
final class OracleAdapter {
    private OracleAdapter() {}

    static double[][] forward(ConvShape s, ConvParams p, float[] src, float[] filter, int[] rin, int[] rout) {
        return pair(Oracle.forward(geometry(s, p), doubles(src), doubles(filter), rin, rout));
    }

    static double[][] backwardData(ConvShape s, ConvParams p, float[] filter, float[] diff, int[] rin, int[] rout) {
        return pair(Oracle.backwardData(geometry(s, p), doubles(filter), doubles(diff), rin, rout));
    }

    static double[][] backwardFilter(ConvShape s, ConvParams p, float[] src, float[] diff, int[] rin, int[] rout) {
        return pair(Oracle.backwardFilter(geometry(s, p), doubles(src), doubles(diff), rin, rout));
    }

    /** Visits every tap of the problem (see {@link Oracle#forEachTap}). */
    static void forEachTap(ConvShape s, ConvParams p, int[] rin, int[] rout, Oracle.TapVisitor visitor) {
        Oracle.forEachTap(geometry(s, p), rin, rout, visitor);
    }

    /** The oracle's description of a problem; its output size (from the definition) must match the library's. */
    static Oracle.Geometry geometry(ConvShape s, ConvParams p) {
        Oracle.Geometry g = new Oracle.Geometry((int) s.n(), (int) s.groups(), (int) s.icpg(), (int) s.ocpg(),
                (int) s.ih(), (int) s.iw(), (int) s.fh(), (int) s.fw(), p.strideH(), p.strideW(), p.padH(), p.padW(),
                p.dilationH(), p.dilationW(), p.mode() == Mode.CONVOLUTION);
        if (g.oh() != s.oh() || g.ow() != s.ow()) {
            throw new IllegalArgumentException("the oracle's output " + g.oh() + "x" + g.ow() + " is not the library's "
                    + s.oh() + "x" + s.ow() + " for " + s);
        }
        return g;
    }

    private static double[] doubles(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    private static double[][] pair(Oracle.Result r) {
        return new double[][] {r.value(), r.absSum()};
    }
}
