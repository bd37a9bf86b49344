package dev.rrconv.cli;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import java.util.List;

/**
 * One of the named benchmark problems of {@code rrconv bench} and the JMH benchmarks (issue 3):
 * <ul>
 *   <li>{@code DW-K3}, {@code DW-K7}, {@code DW-K13}, {@code DW-K31}: depthwise, N=4, C=384, 32x32,
 *       KxK, padding K/2, stride 1;</li>
 *   <li>{@code GRP}: N=8, IC=OC=64, G=4, 56x56, 3x3, padding 1;</li>
 *   <li>{@code DENSE}: the same with G=1;</li>
 *   <li>{@code DENSE-S2D2}: DENSE with stride 2, dilation 2, padding 2.</li>
 * </ul>
 * Public (in a package the module does not export) so that the JMH sources can use it.
 *
 * @param name the name used on the command line and in results, e.g. {@code DW-K7}
 * @param n batch size
 * @param ic input channels
 * @param oc output channels
 * @param h input height
 * @param w input width
 * @param k kernel size (square)
 * @param params stride, padding, dilation and groups
 */
public record BenchShape(String name, long n, long ic, long oc, long h, long w, long k, ConvParams params) {

    /** Every shape, in the order tables and charts list them. */
    public static final List<BenchShape> ALL = List.of(
            depthwise(3), depthwise(7), depthwise(13), depthwise(31),
            new BenchShape("GRP", 8, 64, 64, 56, 56, 3, ConvParams.DEFAULT.withPadding(1, 1).withGroups(4)),
            new BenchShape("DENSE", 8, 64, 64, 56, 56, 3, ConvParams.DEFAULT.withPadding(1, 1)),
            new BenchShape("DENSE-S2D2", 8, 64, 64, 56, 56, 3,
                    ConvParams.DEFAULT.withStride(2, 2).withDilation(2, 2).withPadding(2, 2)));

    private static BenchShape depthwise(int k) {
        return new BenchShape("DW-K" + k, 4, 384, 384, 32, 32, k,
                ConvParams.DEFAULT.withPadding(k / 2, k / 2).withGroups(384));
    }

    /**
     * Looks a shape up by name.
     *
     * @param name e.g. {@code DENSE}
     * @return the shape, or null if there is none of that name
     */
    public static BenchShape named(String name) {
        for (BenchShape s : ALL) {
            if (s.name.equals(name)) {
                return s;
            }
        }
        return null;
    }

    /** @return the names of all shapes, comma-separated */
    public static String names() {
        return String.join(",", ALL.stream().map(BenchShape::name).toList());
    }

    /** @return the resolved sizes (output size, per-group channels) of the problem */
    public ConvShape convShape() {
        long g = params.groups();
        return ConvShape.ofForward(new long[] {n, ic, h, w}, new long[] {g, oc / g, ic / g, k, k}, params);
    }

    /** @return {@code 2*N*OC*OH*OW*ICPG*FH*FW}, the flop count used for GFLOP/s in every direction */
    public double flops() {
        return convShape().flops();
    }
}
