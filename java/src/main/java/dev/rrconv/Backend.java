package dev.rrconv;

/** Which implementation computes the convolution. Both give the same results up to float rounding. */
public enum Backend {
    /** The C library through {@code java.lang.foreign} downcalls (SIMD, threads). */
    NATIVE("native"),
    /**
     * A pure-Java implementation; needs no native library. It runs its Vector API loops when the JVM
     * has the incubating module {@code jdk.incubator.vector} ({@code --add-modules jdk.incubator.vector}),
     * else its scalar loops: {@link RegionConv#javaImplementation()} says which and why.
     */
    JAVA("java"),
    /**
     * The pure-Java implementation's scalar loops, even where the Vector API is available (to compare the
     * two, or to rule the Vector API out).
     */
    JAVA_SCALAR("java-scalar");

    private final String cliName;

    Backend(String cliName) {
        this.cliName = cliName;
    }

    /**
     * The name used on the command line.
     *
     * @return {@code native}, {@code java} or {@code java-scalar}
     */
    public String cliName() {
        return cliName;
    }

    /**
     * Parses a command-line name.
     *
     * @param name {@code native}, {@code java} or {@code java-scalar}
     * @return the backend
     * @throws IllegalArgumentException for any other name
     */
    public static Backend parse(String name) {
        for (Backend b : values()) {
            if (b.cliName.equals(name)) {
                return b;
            }
        }
        throw new IllegalArgumentException("backend must be native, java or java-scalar, got '" + name + "'");
    }
}
