package dev.rrconv.internal;

import dev.rrconv.Backend;
import java.io.UncheckedIOException;

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
        static final JavaBackend INSTANCE = new JavaBackend((VectorConv) null);
    }

    /**
     * The backend a request resolves to.
     *
     * @param backend {@link Backend#NATIVE}, {@link Backend#JAVA} or {@link Backend#JAVA_SCALAR}, never
     *     {@link Backend#AUTO}
     * @param impl its implementation
     * @param reason why it is this one, for users
     */
    public record Choice(Backend backend, ConvBackend impl, String reason) {}

    /** {@link Backend#AUTO}'s choice, made once (the first use of AUTO loads the C library). */
    private static final class AutoHolder {
        static final Choice INSTANCE = chooseAuto();
    }

    /**
     * The implementation of a backend.
     *
     * @param backend which one; {@link Backend#AUTO} is resolved (see {@link #choose})
     * @return its single instance
     * @throws UnsatisfiedLinkError if {@code backend} is {@link Backend#NATIVE} and the library cannot be loaded
     */
    public static ConvBackend get(Backend backend) {
        return choose(backend).impl();
    }

    /**
     * Resolves a backend request: NATIVE loads the library (or throws), JAVA is itself, AUTO is NATIVE
     * where the library loads and JAVA otherwise.
     *
     * @param backend the request
     * @return what computes the calls, and why
     * @throws UnsatisfiedLinkError if {@code backend} is {@link Backend#NATIVE} and the library cannot be loaded
     */
    public static Choice choose(Backend backend) {
        return switch (backend) {
            case NATIVE -> new Choice(Backend.NATIVE, nativeBackend(), "asked for the native backend");
            case JAVA -> new Choice(Backend.JAVA, JavaHolder.INSTANCE, "asked for the java backend");
            case AUTO -> AutoHolder.INSTANCE;
            case JAVA_SCALAR -> new Choice(Backend.JAVA_SCALAR, JavaScalarHolder.INSTANCE,
                    "asked for the java backend's scalar loops");
        };
    }

    /** The native backend; loads the library first, so that a failure is its UnsatisfiedLinkError each time. */
    private static ConvBackend nativeBackend() {
        NativeLibrary.get();
        return NativeHolder.INSTANCE;
    }

    private static Choice chooseAuto() {
        try {
            ConvBackend impl = nativeBackend();
            NativeLibrary lib = NativeLibrary.get();
            return new Choice(Backend.NATIVE, impl, "auto: the native library loaded (" + lib.why() + ", from "
                    + lib.loadedFrom() + ")");
        } catch (UnsatisfiedLinkError | IllegalCallerException | UncheckedIOException e) {
            String reason = "auto: the native library did not load: " + e.getMessage();
            if (NativeLibrary.overridden()) {
                System.err.println("rrconv: warning: -D" + NativeLibrary.PATH_PROPERTY + " did not load, using the java backend: "
                        + e.getMessage());
            } else if ("1".equals(System.getenv("RRCONV_VERBOSE"))) {
                System.err.println("rrconv: using the java backend (" + reason + ")");
            }
            return new Choice(Backend.JAVA, JavaHolder.INSTANCE, reason);
        }
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
