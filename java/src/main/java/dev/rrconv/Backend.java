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
    JAVA_SCALAR("java-scalar"),
    /**
     * {@link #NATIVE} where the C library loads (the jar's copy for this platform, or the one named by
     * {@code -Drrconv.library.path}), else {@link #JAVA}; chosen once per JVM. The default of
     * {@link RegionConv#of()}, {@link RegionConvLayer} and the command line. {@link RegionConv#backend()} says
     * which one it became and {@link RegionConv#backendReason()} why; with the environment variable
     * {@code RRCONV_VERBOSE=1} a fallback to Java is reported in one line on stderr, and a
     * {@code -Drrconv.library.path} that does not load always is.
     */
    AUTO("auto");

    private final String cliName;

    Backend(String cliName) {
        this.cliName = cliName;
    }

    /**
     * The name used on the command line.
     *
     * @return {@code native}, {@code java}, {@code java-scalar} or {@code auto}
     */
    public String cliName() {
        return cliName;
    }

    /**
     * Parses a command-line name.
     *
     * @param name {@code auto}, {@code native}, {@code java} or {@code java-scalar}
     * @return the backend
     * @throws IllegalArgumentException for any other name
     */
    public static Backend parse(String name) {
        for (Backend b : values()) {
            if (b.cliName.equals(name)) {
                return b;
            }
        }
        throw new IllegalArgumentException("backend must be auto, native, java or java-scalar, got '" + name + "'");
    }
}
