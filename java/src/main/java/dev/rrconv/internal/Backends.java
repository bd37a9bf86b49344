package dev.rrconv.internal;

import dev.rrconv.Backend;

/** Creates each backend once, on first use (the native one loads the C library then). */
public final class Backends {
    private static volatile int threads = 0; // 0: default

    private Backends() {}

    private static final class NativeHolder {
        static final NativeBackend INSTANCE = new NativeBackend(NativeLibrary.get());
    }

    private static final class JavaHolder {
        static final JavaBackend INSTANCE = new JavaBackend(VectorProvider.get().conv().orElse(null));
    }

    private static final class JavaScalarHolder {
        static final JavaBackend INSTANCE = new JavaBackend(null);
    }

    /**
     * The implementation of a backend.
     *
     * @param backend which one
     * @return its single instance
     */
    public static ConvBackend get(Backend backend) {
        return switch (backend) {
            case NATIVE -> NativeHolder.INSTANCE;
            case JAVA -> JavaHolder.INSTANCE;
            case JAVA_SCALAR -> JavaScalarHolder.INSTANCE;
        };
    }

    /**
     * Which loops {@link Backend#JAVA} runs, and why: {@code java_vector (<vectors>)} when the Vector API
     * loops run, else {@code java scalar loops (<why not>)}.
     *
     * @return one line
     */
    public static String javaImplementation() {
        VectorProvider v = VectorProvider.get();
        return v.conv().isPresent() ? "java_vector (" + v.reason() + ")" : "java scalar loops (" + v.reason() + ")";
    }

    /**
     * Sets the thread count of both backends.
     *
     * @param n threads, 0 for the default
     */
    public static void setThreads(int n) {
        if (n < 0 || n > 1024) {
            throw new IllegalArgumentException("threads must be in 0..1024 (0 = default), got " + n);
        }
        threads = n;
        if (NativeLibrary.isLoaded()) {
            NativeLibrary.get().setNumThreads(n);
        }
    }

    /** @return the thread count calls use */
    public static int threads() {
        int t = threads;
        return t > 0 ? t : Runtime.getRuntime().availableProcessors();
    }

    /** @return the configured count, 0 meaning the default */
    static int configuredThreads() {
        return threads;
    }
}
