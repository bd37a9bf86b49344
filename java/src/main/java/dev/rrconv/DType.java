package dev.rrconv;

import java.lang.foreign.ValueLayout;

/**
 * Element types of rrconv tensors: float32, float16 or bfloat16 data; int32 or uint8 region masks.
 *
 * <p>The two half-precision types are stored as 16-bit patterns ({@code short}); {@link Tensor#getFloat} and
 * {@link Tensor#setFloat} convert to and from float32 (rounding to nearest even). Convolutions compute their
 * products and sums in float32 and round each output element once.
 */
public enum DType {
    /** 32-bit IEEE float: src, filter, dst, diff and gradients. */
    FLOAT32(4, "<f4", ValueLayout.JAVA_FLOAT_UNALIGNED),
    /** 16-bit IEEE binary16 float (1 sign, 5 exponent, 10 fraction bits): data tensors. */
    FLOAT16(2, "<f2", ValueLayout.JAVA_SHORT_UNALIGNED),
    /**
     * 16-bit brain float (1 sign, 8 exponent, 7 fraction bits: the upper half of a float32): data tensors.
     * NumPy has no such type; its {@link #npyDescr} is that of the bit patterns, {@code "<u2"}.
     */
    BFLOAT16(2, "<u2", ValueLayout.JAVA_SHORT_UNALIGNED),
    /** 32-bit signed integer region ids. */
    INT32(4, "<i4", ValueLayout.JAVA_INT_UNALIGNED),
    /** 8-bit unsigned integer region ids (0..255). */
    UINT8(1, "|u1", ValueLayout.JAVA_BYTE);

    private final int byteSize;
    private final String npyDescr;
    private final ValueLayout layout;

    DType(int byteSize, String npyDescr, ValueLayout layout) {
        this.byteSize = byteSize;
        this.npyDescr = npyDescr;
        this.layout = layout;
    }

    /**
     * The size of one element.
     *
     * @return bytes per element: 4, 2 or 1
     */
    public int byteSize() {
        return byteSize;
    }

    /**
     * The NumPy {@code descr} string of this type.
     *
     * @return {@code "<f4"}, {@code "<f2"}, {@code "<u2"} (bfloat16 bit patterns), {@code "<i4"} or {@code "|u1"}
     */
    public String npyDescr() {
        return npyDescr;
    }

    /**
     * The (unaligned) value layout used to access elements of this type.
     *
     * @return the layout
     */
    public ValueLayout layout() {
        return layout;
    }

    /**
     * Whether this is a type of data tensors (src, filter, diff and the results) rather than of region masks.
     *
     * @return true for float32, float16 and bfloat16
     */
    public boolean isFloating() {
        return this == FLOAT32 || this == FLOAT16 || this == BFLOAT16;
    }

    /** Lower-case name as used in messages and on the command line: float32, float16, bfloat16, int32, uint8. */
    @Override
    public String toString() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
