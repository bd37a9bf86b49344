package dev.rrconv;

/** Which implementation computes the convolution. Both give the same results up to float rounding. */
public enum Backend {
    /** The C library through {@code java.lang.foreign} downcalls (SIMD, threads). */
    NATIVE("native"),
    /** A pure-Java implementation; needs no native library. */
    JAVA("java");

    private final String cliName;

    Backend(String cliName) {
        this.cliName = cliName;
    }

    /**
     * The name used on the command line.
     *
     * @return {@code native} or {@code java}
     */
    public String cliName() {
        return cliName;
    }

    /**
     * Parses a command-line name.
     *
     * @param name {@code native} or {@code java}
     * @return the backend
     * @throws IllegalArgumentException for any other name
     */
    public static Backend parse(String name) {
        for (Backend b : values()) {
            if (b.cliName.equals(name)) {
                return b;
            }
        }
        throw new IllegalArgumentException("backend must be native or java, got '" + name + "'");
    }
}
