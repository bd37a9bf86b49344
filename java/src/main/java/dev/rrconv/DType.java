package dev.rrconv;

import java.lang.foreign.ValueLayout;

/** Element types of rrconv tensors: float32 data, int32 or uint8 region masks. */
public enum DType {
    /** 32-bit IEEE float: src, filter, dst, diff and gradients. */
    FLOAT32(4, "<f4", ValueLayout.JAVA_FLOAT_UNALIGNED),
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
     * @return bytes per element: 4 or 1
     */
    public int byteSize() {
        return byteSize;
    }

    /**
     * The NumPy {@code descr} string of this type.
     *
     * @return {@code "<f4"}, {@code "<i4"} or {@code "|u1"}
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

    /** Lower-case name as used in messages and on the command line: float32, int32, uint8. */
    @Override
    public String toString() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
