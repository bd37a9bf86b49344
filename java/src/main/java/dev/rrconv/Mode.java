package dev.rrconv;

/** Whether the filter is applied as is (cross-correlation) or spatially flipped (convolution). */
public enum Mode {
    /** {@code dst[oh,ow] += src[oh*s - p + kh*d, ...] * filter[kh, kw]}: the deep-learning convention. */
    CROSS_CORRELATION("cross-correlation"),
    /** As cross-correlation with {@code filter[FH-1-kh, FW-1-kw]}: the textbook convolution. */
    CONVOLUTION("convolution");

    private final String cliName;

    Mode(String cliName) {
        this.cliName = cliName;
    }

    /**
     * The name used on the command line.
     *
     * @return {@code cross-correlation} or {@code convolution}
     */
    public String cliName() {
        return cliName;
    }

    /**
     * Parses a command-line name ({@code cross-correlation} or {@code convolution}).
     *
     * @param name the name
     * @return the mode
     * @throws IllegalArgumentException if the name is neither
     */
    public static Mode parse(String name) {
        for (Mode m : values()) {
            if (m.cliName.equals(name)) {
                return m;
            }
        }
        throw new IllegalArgumentException("mode must be cross-correlation or convolution, got '" + name + "'");
    }
}
