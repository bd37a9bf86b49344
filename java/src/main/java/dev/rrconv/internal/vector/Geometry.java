package dev.rrconv.internal.vector;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;

/**
 * The sizes of one call, as ints, and the array layouts of its two sides: {@code x}, the side the
 * gather reads at shifted columns (src and rin forward, diff and rout backward data), and {@code y},
 * the side read or written at the row's own columns (dst, rout and diff forward; gradSrc and rin
 * backward data). A row of {@code y} has {@code chunks} vectors.
 */
record Geometry(int n, int groups, int icpg, int ocpg, int ih, int iw, int oh, int ow, int sh, int sw, int ph, int pw,
                int dh, int dw, int fh, int fw, int taps, int chunks, Plane x, Plane y) {

    /** Most longs of lane masks a call may build (128 MiB); larger calls run on the scalar loops. */
    static final long MAX_MASK_WORDS = 1L << 24;

    private static final int L = VectorBackend.FLOATS.length();

    /** @return the forward / backward-filter geometry, or null if an array would be too large */
    static Geometry forward(ConvShape s, ConvParams p) {
        long chunks = (s.ow() + L - 1) / L;
        long pad = (long) p.padW() + (s.fw() - 1) * p.dilationW() + (chunks + 1) * L;
        Plane x = Plane.of(s.ih(), s.iw(), p.strideW(), (s.iw() + p.strideW() - 1) / p.strideW(), pad);
        Plane y = Plane.of(s.oh(), s.ow(), 1, chunks * L, L);
        return of(s, p, chunks, x, y, s.n() * s.oh());
    }

    /** @return the backward-data geometry, or null if an array would be too large */
    static Geometry backwardData(ConvShape s, ConvParams p) {
        long cols = (s.iw() + p.strideW() - 1) / p.strideW();
        long chunks = (cols + L - 1) / L;
        long pad = (long) p.padW() + (s.fw() - 1) * p.dilationW() + p.strideW() + (chunks + 1) * L;
        Plane x = Plane.of(s.oh(), s.ow(), 1, s.ow(), pad);
        Plane y = Plane.of(s.ih(), s.iw(), p.strideW(), chunks * L, L);
        return of(s, p, chunks, x, y, s.n() * s.ih() * p.strideW());
    }

    private static Geometry of(ConvShape s, ConvParams p, long chunks, Plane x, Plane y, long rows) {
        long taps = s.fh() * s.fw();
        long limit = Plane.MAX_LENGTH;
        if (x == null || y == null || L > 64 || taps > limit || rows * taps > limit
                || rows * taps * chunks > MAX_MASK_WORDS || s.n() * s.ic() > limit || s.n() * s.oc() > limit
                || s.groups() * s.ocpg() * s.icpg() * taps > limit || s.n() > limit || s.ih() > limit
                || s.oh() > limit) {
            return null;
        }
        return new Geometry((int) s.n(), (int) s.groups(), (int) s.icpg(), (int) s.ocpg(), (int) s.ih(), (int) s.iw(),
                (int) s.oh(), (int) s.ow(), p.strideH(), p.strideW(), p.padH(), p.padW(), p.dilationH(),
                p.dilationW(), (int) s.fh(), (int) s.fw(), (int) taps, (int) chunks, x, y);
    }
}
