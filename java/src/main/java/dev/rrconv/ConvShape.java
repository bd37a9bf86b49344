package dev.rrconv;

import java.math.BigInteger;
import java.util.Arrays;

/**
 * The resolved sizes of one convolution problem: every tensor's shape follows from these.
 * Built (and checked) by the {@code of...} factories from the shapes of the tensors a direction
 * takes; each factory throws {@link IllegalArgumentException} naming the tensor, the expected and
 * the actual shape when the shapes do not fit together.
 *
 * <ul>
 * <li>src, grad src: {@code (n, groups*icpg, ih, iw)}</li>
 * <li>filter, grad filter: {@code (groups, ocpg, icpg, fh, fw)} (or 4-D {@code (groups*ocpg, icpg, fh, fw)})</li>
 * <li>dst, diff: {@code (n, groups*ocpg, oh, ow)}</li>
 * <li>rin: {@code (n, ih, iw)}; rout: {@code (n, oh, ow)}</li>
 * </ul>
 *
 * @param n batch size
 * @param groups channel groups
 * @param icpg input channels per group
 * @param ocpg output channels per group
 * @param ih input height
 * @param iw input width
 * @param oh output height
 * @param ow output width
 * @param fh filter height
 * @param fw filter width
 */
public record ConvShape(long n, long groups, long icpg, long ocpg, long ih, long iw, long oh, long ow,
                        long fh, long fw) {

    /**
     * The number of input channels.
     *
     * @return {@code groups * icpg}
     */
    public long ic() {
        return groups * icpg;
    }

    /**
     * The number of output channels.
     *
     * @return {@code groups * ocpg}
     */
    public long oc() {
        return groups * ocpg;
    }

    /**
     * The shape of src and grad src.
     *
     * @return {@code (n, ic, ih, iw)}
     */
    public long[] srcShape() {
        return new long[] {n, ic(), ih, iw};
    }

    /**
     * The shape of dst and diff.
     *
     * @return {@code (n, oc, oh, ow)}
     */
    public long[] dstShape() {
        return new long[] {n, oc(), oh, ow};
    }

    /**
     * The 5-D shape of the filter and its gradient.
     *
     * @return {@code (groups, ocpg, icpg, fh, fw)}
     */
    public long[] filterShape() {
        return new long[] {groups, ocpg, icpg, fh, fw};
    }

    /**
     * The shape of the input region mask rin.
     *
     * @return {@code (n, ih, iw)}
     */
    public long[] rinShape() {
        return new long[] {n, ih, iw};
    }

    /**
     * The shape of the output region mask rout.
     *
     * @return {@code (n, oh, ow)}
     */
    public long[] routShape() {
        return new long[] {n, oh, ow};
    }

    /**
     * The floating-point operations of an unmasked convolution of this shape (two per multiply-add), the
     * same for every direction.
     *
     * @return {@code 2*N*OC*OH*OW*ICPG*FH*FW}
     */
    public double flops() {
        return 2.0 * n * oc() * oh * ow * icpg * fh * fw;
    }

    /**
     * Resolves the shape of a forward problem.
     *
     * @param src shape of src, (N, IC, IH, IW)
     * @param filter shape of the filter, 5-D (G, OCPG, ICPG, FH, FW) or 4-D (OC, ICPG, FH, FW)
     * @param p parameters (groups must match a 5-D filter's first dimension)
     * @return the problem's sizes
     * @throws IllegalArgumentException if the shapes do not fit together or the output would be empty
     */
    public static ConvShape ofForward(long[] src, long[] filter, ConvParams p) {
        requireRank("src", src, 4, "(N, IC, IH, IW)");
        long[] f = filter5("filter", filter, p);
        long icpg = f[2];
        if (src[1] != p.groups() * icpg) {
            throw new IllegalArgumentException("src has " + src[1] + " channels (shape " + Arrays.toString(src)
                    + ") but filter " + Arrays.toString(filter) + " with groups=" + p.groups()
                    + " expects groups*icpg = " + p.groups() * icpg);
        }
        requirePositive("src", src);
        return resolve(src[0], f, src[2], src[3], p);
    }

    /**
     * Resolves the shape of a backward-data problem.
     *
     * @param filter shape of the filter, 5-D or 4-D
     * @param diff shape of diff, (N, OC, OH, OW)
     * @param rin shape of rin, (N, IH, IW): it gives the size of src
     * @param p parameters
     * @return the problem's sizes
     * @throws IllegalArgumentException if the shapes do not fit together
     */
    public static ConvShape ofBackwardData(long[] filter, long[] diff, long[] rin, ConvParams p) {
        long[] f = filter5("filter", filter, p);
        requireRank("diff", diff, 4, "(N, OC, OH, OW)");
        requireRank("rin", rin, 3, "(N, IH, IW)");
        requirePositive("diff", diff);
        requirePositive("rin", rin);
        ConvShape s = resolve(diff[0], f, rin[1], rin[2], p);
        requireShape("diff", s.dstShape(), diff);
        return s;
    }

    /**
     * Resolves the shape of a backward-filter problem.
     *
     * @param src shape of src, (N, IC, IH, IW)
     * @param diff shape of diff, (N, OC, OH, OW)
     * @param fh filter height
     * @param fw filter width
     * @param p parameters
     * @return the problem's sizes
     * @throws IllegalArgumentException if the shapes do not fit together
     */
    public static ConvShape ofBackwardFilter(long[] src, long[] diff, long fh, long fw, ConvParams p) {
        requireRank("src", src, 4, "(N, IC, IH, IW)");
        requireRank("diff", diff, 4, "(N, OC, OH, OW)");
        requirePositive("src", src);
        requirePositive("diff", diff);
        if (fh < 1 || fw < 1) {
            throw new IllegalArgumentException("kernel size must be >= 1, got (" + fh + ", " + fw + ")");
        }
        long g = p.groups();
        if (src[1] % g != 0) {
            throw new IllegalArgumentException("src has " + src[1] + " channels (shape " + Arrays.toString(src)
                    + "), not a multiple of groups=" + g);
        }
        if (diff[1] % g != 0) {
            throw new IllegalArgumentException("diff has " + diff[1] + " channels (shape " + Arrays.toString(diff)
                    + "), not a multiple of groups=" + g);
        }
        ConvShape s = resolve(src[0], new long[] {g, diff[1] / g, src[1] / g, fh, fw}, src[2], src[3], p);
        requireShape("diff", s.dstShape(), diff);
        return s;
    }

    /** The 5-D view of a 4-D or 5-D filter shape, checked against the groups parameter. */
    static long[] filter5(String name, long[] filter, ConvParams p) {
        if (filter == null || (filter.length != 4 && filter.length != 5)) {
            throw new IllegalArgumentException(name + " must have rank 5 (G, OCPG, ICPG, FH, FW) or 4 (OC, ICPG, FH, FW), got shape "
                    + Arrays.toString(filter));
        }
        requirePositive(name, filter);
        if (filter.length == 5) {
            if (filter[0] != p.groups()) {
                throw new IllegalArgumentException(name + " shape " + Arrays.toString(filter) + " has " + filter[0]
                        + " groups but groups=" + p.groups());
            }
            return filter.clone();
        }
        if (filter[0] % p.groups() != 0) {
            throw new IllegalArgumentException(name + " shape " + Arrays.toString(filter) + " has " + filter[0]
                    + " output channels, not a multiple of groups=" + p.groups());
        }
        return new long[] {p.groups(), filter[0] / p.groups(), filter[1], filter[2], filter[3]};
    }

    private static ConvShape resolve(long n, long[] f, long ih, long iw, ConvParams p) {
        long oh = ConvParams.outputSize(ih, f[3], p.padH(), p.dilationH(), p.strideH());
        long ow = ConvParams.outputSize(iw, f[4], p.padW(), p.dilationW(), p.strideW());
        if (oh < 1 || ow < 1) {
            throw new IllegalArgumentException("output would be empty: input " + ih + "x" + iw + " with padding ("
                    + p.padH() + ", " + p.padW() + ") is smaller than the dilated filter "
                    + (p.dilationH() * (f[3] - 1) + 1) + "x" + (p.dilationW() * (f[4] - 1) + 1));
        }
        ConvShape s = new ConvShape(n, f[0], f[2], f[1], ih, iw, oh, ow, f[3], f[4]);
        s.checkSizes();
        return s;
    }

    /**
     * Rejects problems with a tensor of more than 2^60 index positions (its sizes multiplied), whatever
     * its strides: a broadcast (stride-0) input of one distinct element counts all its positions (the
     * C API alone accepts up to 2^63).
     */
    private void checkSizes() {
        long limit = 1L << 60;
        String[] names = {"src (or grad src)", "dst (or diff)", "filter (or grad filter)"};
        long[][] shapes = {srcShape(), dstShape(), filterShape()};
        for (int t = 0; t < shapes.length; t++) {
            BigInteger c = BigInteger.ONE;
            for (long d : shapes[t]) {
                c = c.multiply(BigInteger.valueOf(d));
            }
            if (c.compareTo(BigInteger.valueOf(limit)) > 0) {
                throw new IllegalArgumentException("problem too large: " + names[t] + " " + Arrays.toString(shapes[t])
                        + " has " + c + " index positions (its sizes multiplied, whatever its strides: a broadcast"
                        + " input counts all its positions), more than the 2^60 = " + limit
                        + " rrconv accepts per tensor; problem " + this);
            }
        }
    }

    static void requireRank(String name, long[] shape, int rank, String layout) {
        if (shape == null || shape.length != rank) {
            throw new IllegalArgumentException(name + " must have rank " + rank + " " + layout + ", got shape "
                    + Arrays.toString(shape));
        }
    }

    static void requirePositive(String name, long[] shape) {
        for (long d : shape) {
            if (d < 1) {
                throw new IllegalArgumentException(name + " has shape " + Arrays.toString(shape)
                        + ": every size must be >= 1");
            }
        }
    }

    static void requireShape(String name, long[] expected, long[] actual) {
        if (!Arrays.equals(expected, actual)) {
            throw new IllegalArgumentException(name + " must have shape " + Arrays.toString(expected) + ", got "
                    + Arrays.toString(actual));
        }
    }
}
