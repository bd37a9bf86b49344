package dev.rrconv;

import java.util.Objects;

/**
 * The hyper-parameters of a region-restricted convolution: stride, zero padding (the same on both
 * sides of an axis), dilation, groups and mode. Immutable; start from {@link #DEFAULT} and derive
 * with the {@code with...} methods:
 *
 * {@snippet :
 * ConvParams p = ConvParams.DEFAULT.withStride(2, 2).withPadding(1, 1).withGroups(4);
 * }
 *
 * <p>Values are checked when a convolution runs (so that the message can name the tensors too);
 * the constructor only rejects values that can never be valid.
 *
 * @param strideH vertical stride, {@code >= 1}
 * @param strideW horizontal stride, {@code >= 1}
 * @param padH zero rows added above and below, {@code >= 0}
 * @param padW zero columns added left and right, {@code >= 0}
 * @param dilationH vertical filter dilation, {@code >= 1}
 * @param dilationW horizontal filter dilation, {@code >= 1}
 * @param groups number of channel groups, {@code >= 1}
 * @param mode cross-correlation or convolution
 */
public record ConvParams(int strideH, int strideW, int padH, int padW, int dilationH, int dilationW,
                         int groups, Mode mode) {

    /** Stride 1, no padding, no dilation, one group, cross-correlation. */
    public static final ConvParams DEFAULT = new ConvParams(1, 1, 0, 0, 1, 1, 1, Mode.CROSS_CORRELATION);

    /**
     * Checks each value on its own.
     *
     * @throws IllegalArgumentException naming the first parameter out of range
     * @throws NullPointerException if mode is null
     */
    public ConvParams {
        positive("stride", strideH, strideW);
        positive("dilation", dilationH, dilationW);
        if (padH < 0 || padW < 0) {
            throw new IllegalArgumentException("padding must be >= 0, got (" + padH + ", " + padW + ")");
        }
        if (groups < 1) {
            throw new IllegalArgumentException("groups must be >= 1, got " + groups);
        }
        Objects.requireNonNull(mode, "mode");
    }

    private static void positive(String what, int h, int w) {
        if (h < 1 || w < 1) {
            throw new IllegalArgumentException(what + " must be >= 1, got (" + h + ", " + w + ")");
        }
    }

    /**
     * Returns a copy with another stride.
     *
     * @param h vertical stride
     * @param w horizontal stride
     * @return a copy with this stride
     */
    public ConvParams withStride(int h, int w) {
        return new ConvParams(h, w, padH, padW, dilationH, dilationW, groups, mode);
    }

    /**
     * Returns a copy with another padding.
     *
     * @param h rows of zeros on top and bottom
     * @param w columns on left and right
     * @return a copy with this padding
     */
    public ConvParams withPadding(int h, int w) {
        return new ConvParams(strideH, strideW, h, w, dilationH, dilationW, groups, mode);
    }

    /**
     * Returns a copy with another dilation.
     *
     * @param h vertical dilation
     * @param w horizontal dilation
     * @return a copy with this dilation
     */
    public ConvParams withDilation(int h, int w) {
        return new ConvParams(strideH, strideW, padH, padW, h, w, groups, mode);
    }

    /**
     * Returns a copy with another group count.
     *
     * @param g number of groups
     * @return a copy with this group count
     */
    public ConvParams withGroups(int g) {
        return new ConvParams(strideH, strideW, padH, padW, dilationH, dilationW, g, mode);
    }

    /**
     * Returns a copy with another mode.
     *
     * @param m the mode
     * @return a copy with this mode
     */
    public ConvParams withMode(Mode m) {
        return new ConvParams(strideH, strideW, padH, padW, dilationH, dilationW, groups, m);
    }

    /**
     * The output size along one axis: {@code floor((in + 2*pad - dilation*(k-1) - 1) / stride) + 1}.
     *
     * @param in input size
     * @param k filter size
     * @param pad padding on each side
     * @param dilation dilation
     * @param stride stride
     * @return the output size; {@code <= 0} when the dilated filter does not fit in the padded input
     */
    public static long outputSize(long in, long k, long pad, long dilation, long stride) {
        // Exact arithmetic: a dilated extent or padded size that overflows a long means "empty".
        try {
            long extent = Math.addExact(Math.multiplyExact(dilation, Math.subtractExact(k, 1)), 1);
            long padded = Math.addExact(in, Math.multiplyExact(2, pad));
            long span = padded - extent;
            return span < 0 ? 0 : span / stride + 1;
        } catch (ArithmeticException overflow) {
            return 0;
        }
    }

    @Override
    public String toString() {
        return "stride=(" + strideH + "," + strideW + ") padding=(" + padH + "," + padW + ") dilation=("
                + dilationH + "," + dilationW + ") groups=" + groups + " mode=" + mode.cliName();
    }
}
