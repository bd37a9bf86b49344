package dev.rrconv;

import java.util.Objects;

/**
 * The memory order of a 4-D activation tensor (src, dst, diff, grad src). Whatever the layout, a
 * {@link Tensor} is indexed in the logical order {@code (N, C, H, W)}; the layout only says how its
 * strides place the elements in memory.
 *
 * <p>A channels-last tensor is an {@code (N, H, W, C)} array viewed as {@code (N, C, H, W)}, e.g.
 * {@code Tensor.of(segment, DType.FLOAT32, n, h, w, c).permute(0, 3, 1, 2)}, or one allocated with
 * {@link Tensor#allocate(java.lang.foreign.Arena, DType, Layout, long, long, long, long)}.
 *
 * {@snippet :
 * Tensor src = Tensor.allocate(arena, DType.FLOAT32, Layout.NHWC, 1, 64, 128, 128); // logical (N, C, H, W)
 * Layout.of(src);                                                                   // NHWC
 * Tensor dst = conv.forward(src, filter, rin, rout, params, arena);                  // channels-last too
 * }
 */
public enum Layout {
    /** Channels-first: W varies fastest, then H, then C, then N (dense C order of the logical shape). */
    NCHW,
    /** Channels-last: C varies fastest, then W, then H, then N. */
    NHWC;

    /**
     * The dense strides, in elements, of a tensor of logical shape {@code (N, C, H, W)} in this layout.
     *
     * @param n batch
     * @param c channels
     * @param h height
     * @param w width
     * @return the strides of the dimensions N, C, H, W
     */
    public long[] denseStrides(long n, long c, long h, long w) {
        return switch (this) {
            case NCHW -> Tensor.denseStrides(n, c, h, w);
            case NHWC -> {
                long[] st = Tensor.denseStrides(n, h, w, c); // strides of N, H, W, C
                yield new long[] {st[0], st[3], st[1], st[2]};
            }
        };
    }

    /**
     * The layout of a 4-D tensor, read from its strides: {@link #NHWC} if the channel dimension has a
     * smaller stride than the innermost spatial dimension of size above 1 (W, else H), {@link #NCHW}
     * otherwise. Dimensions of size 1 do not count, so a tensor with one channel or a 1x1 image, whose
     * memory is the same in both orders, is NCHW, and so is any strided view that is not channels-last.
     *
     * @param t a tensor of rank 4, indexed (N, C, H, W)
     * @return its layout
     * @throws IllegalArgumentException if t does not have rank 4
     */
    public static Layout of(Tensor t) {
        Objects.requireNonNull(t, "tensor");
        if (t.rank() != 4) {
            throw new IllegalArgumentException("a layout is defined for rank-4 (N, C, H, W) tensors, got " + t);
        }
        if (t.dim(1) <= 1) {
            return NCHW;
        }
        int spatial = t.dim(3) > 1 ? 3 : t.dim(2) > 1 ? 2 : -1;
        return spatial >= 0 && t.stride(1) < t.stride(spatial) ? NHWC : NCHW;
    }

    /**
     * The command-line name.
     *
     * @return {@code nchw} or {@code nhwc}
     */
    public String cliName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * Parses a command-line name, {@code nchw} or {@code nhwc}.
     *
     * @param name the name
     * @return the layout
     * @throws IllegalArgumentException if the name is neither
     */
    public static Layout parse(String name) {
        for (Layout l : values()) {
            if (l.cliName().equals(name)) {
                return l;
            }
        }
        throw new IllegalArgumentException("layout must be nchw or nhwc, got '" + name + "'");
    }
}
