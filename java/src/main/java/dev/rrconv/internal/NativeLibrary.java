package dev.rrconv.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The C library librrconv: finds and opens it once, and holds one downcall handle per public C
 * function (no logic beyond marshalling).
 *
 * <p>Where it is loaded from, in order:
 * <ol>
 * <li>the system property {@value #PATH_PROPERTY}: a path to a librrconv the user built;</li>
 * <li>the copy bundled in the jar at {@code dev/rrconv/native/<os>-<arch>/}, opened in place when the
 * classes are a folder, else extracted to a temporary file that is deleted once opened.</li>
 * </ol>
 */
public final class NativeLibrary {
    /** System property naming a librrconv to load instead of the bundled one. */
    public static final String PATH_PROPERTY = "rrconv.library.path";

    private static final String LIB = System.mapLibraryName("rrconv");
    private static volatile NativeLibrary instance;

    /** The C struct {@code rrconv_conv_desc}: 16 int64 then 4 int32, no padding. */
    static final StructLayout DESC = MemoryLayout.structLayout(
            ValueLayout.JAVA_LONG.withName("n"),
            ValueLayout.JAVA_LONG.withName("groups"),
            ValueLayout.JAVA_LONG.withName("icpg"),
            ValueLayout.JAVA_LONG.withName("ocpg"),
            ValueLayout.JAVA_LONG.withName("ih"),
            ValueLayout.JAVA_LONG.withName("iw"),
            ValueLayout.JAVA_LONG.withName("oh"),
            ValueLayout.JAVA_LONG.withName("ow"),
            ValueLayout.JAVA_LONG.withName("fh"),
            ValueLayout.JAVA_LONG.withName("fw"),
            ValueLayout.JAVA_LONG.withName("stride_h"),
            ValueLayout.JAVA_LONG.withName("stride_w"),
            ValueLayout.JAVA_LONG.withName("pad_h"),
            ValueLayout.JAVA_LONG.withName("pad_w"),
            ValueLayout.JAVA_LONG.withName("dil_h"),
            ValueLayout.JAVA_LONG.withName("dil_w"),
            ValueLayout.JAVA_INT.withName("mode"),
            ValueLayout.JAVA_INT.withName("mask_type"),
            ValueLayout.JAVA_INT.withName("algorithm"),
            ValueLayout.JAVA_INT.withName("reserved"));

    private static final ValueLayout ADDR = ValueLayout.ADDRESS;

    /** rrconv_status f(const rrconv_conv_desc*, (const void*, const int64_t*) x 5). */
    private static final FunctionDescriptor CONV = FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ADDR, ADDR, ADDR, ADDR, ADDR, ADDR, ADDR, ADDR, ADDR, ADDR, ADDR);
    /** const char* f(void). */
    private static final FunctionDescriptor STRING = FunctionDescriptor.of(ADDR);
    /** rrconv_status rrconv_set_num_threads(int32_t). */
    private static final FunctionDescriptor SET_THREADS = FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT);
    /** int32_t rrconv_get_num_threads(void). */
    private static final FunctionDescriptor GET_THREADS = FunctionDescriptor.of(ValueLayout.JAVA_INT);
    /** const char* rrconv_status_name(rrconv_status). */
    private static final FunctionDescriptor STATUS_NAME = FunctionDescriptor.of(ADDR, ValueLayout.JAVA_INT);

    final MethodHandle forward;
    final MethodHandle backwardData;
    final MethodHandle backwardFilter;
    private final MethodHandle lastError;
    private final MethodHandle statusName;
    private final MethodHandle version;
    private final MethodHandle activeIsa;
    private final MethodHandle setNumThreads;
    private final MethodHandle getNumThreads;
    private final String loadedFrom;

    private NativeLibrary(SymbolLookup lookup, String loadedFrom) {
        this.loadedFrom = loadedFrom;
        Linker linker = Linker.nativeLinker();
        forward = bind(linker, lookup, "rrconv_forward_f32", CONV);
        backwardData = bind(linker, lookup, "rrconv_backward_data_f32", CONV);
        backwardFilter = bind(linker, lookup, "rrconv_backward_filter_f32", CONV);
        lastError = bind(linker, lookup, "rrconv_last_error", STRING);
        statusName = bind(linker, lookup, "rrconv_status_name", STATUS_NAME);
        version = bind(linker, lookup, "rrconv_version", STRING);
        activeIsa = bind(linker, lookup, "rrconv_active_isa", STRING);
        setNumThreads = bind(linker, lookup, "rrconv_set_num_threads", SET_THREADS);
        getNumThreads = bind(linker, lookup, "rrconv_get_num_threads", GET_THREADS);
    }

    private static MethodHandle bind(Linker linker, SymbolLookup lookup, String name, FunctionDescriptor fd) {
        MemorySegment symbol = lookup.find(name).orElseThrow(() -> new UnsatisfiedLinkError(
                "librrconv has no symbol " + name + ": is it an older build? Rebuild it or unset -D" + PATH_PROPERTY));
        return linker.downcallHandle(symbol, fd);
    }

    /**
     * The library, loaded on first use.
     *
     * @return the loaded library
     * @throws UnsatisfiedLinkError if it cannot be found or opened
     */
    public static NativeLibrary get() {
        NativeLibrary lib = instance;
        if (lib == null) {
            synchronized (NativeLibrary.class) {
                lib = instance;
                if (lib == null) {
                    lib = load();
                    int threads = Backends.configuredThreads();
                    if (threads > 0) {
                        lib.setNumThreads(threads);
                    }
                    instance = lib;
                }
            }
        }
        return lib;
    }

    /** @return true once the library has been loaded */
    public static boolean isLoaded() {
        return instance != null;
    }

    /** @return where the library was loaded from (a path, or the jar resource it was extracted from) */
    public String loadedFrom() {
        return loadedFrom;
    }

    /** @return the C library's version string */
    public String version() {
        return string(version);
    }

    /** @return the instruction set the fast kernels use: avx512, avx2, portable or scalar */
    public String activeIsa() {
        return string(activeIsa);
    }

    /** @return the thread count native calls use */
    public int numThreads() {
        try {
            return (int) getNumThreads.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Sets the thread count of native calls.
     *
     * @param n threads, 0 for the default
     */
    public void setNumThreads(int n) {
        int status;
        try {
            status = (int) setNumThreads.invokeExact(n);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        check(status, "rrconv_set_num_threads");
    }

    /**
     * Turns a non-zero status into an exception carrying the C library's message.
     *
     * @param status the returned status
     * @param function the C function's name
     */
    void check(int status, String function) {
        if (status == 0) {
            return;
        }
        String name;
        String message;
        try {
            name = ((MemorySegment) statusName.invokeExact(status)).reinterpret(256).getString(0);
            message = ((MemorySegment) lastError.invokeExact()).reinterpret(4096).getString(0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        String text = function + " returned " + name + ": " + message;
        if (status == 1) {
            throw new IllegalArgumentException(text);
        }
        if (status == 3) {
            throw new OutOfMemoryError(text);
        }
        throw new IllegalStateException(text);
    }

    private static String string(MethodHandle h) {
        try {
            return ((MemorySegment) h.invokeExact()).reinterpret(4096).getString(0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** @return {@code <os>-<arch>} as CMake names the folder, e.g. {@code linux-x86_64} */
    static String platform() {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
        if (os.startsWith("linux")) {
            os = "linux";
        } else if (os.startsWith("mac")) {
            os = "darwin";
        } else if (os.startsWith("windows")) {
            os = "windows";
        }
        arch = switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch;
        };
        return os + "-" + arch;
    }

    private static NativeLibrary load() {
        String override = System.getProperty(PATH_PROPERTY);
        if (override != null && !override.isEmpty()) {
            Path p = Path.of(override).toAbsolutePath();
            if (!Files.isRegularFile(p)) {
                throw new UnsatisfiedLinkError("-D" + PATH_PROPERTY + "=" + override + ": no such file");
            }
            return new NativeLibrary(open(p), p.toString());
        }
        String resource = "/dev/rrconv/native/" + platform() + "/" + LIB;
        URL url = NativeLibrary.class.getResource(resource);
        if (url == null) {
            throw new UnsatisfiedLinkError("no " + resource + " in the jar for this platform; build librrconv with CMake"
                    + " and pass -D" + PATH_PROPERTY + "=/path/to/" + LIB + ", or use Backend.JAVA");
        }
        try {
            if ("file".equals(url.getProtocol())) {
                Path p = Path.of(url.toURI());
                return new NativeLibrary(open(p), p.toString());
            }
            Path dir = Files.createTempDirectory("rrconv-");
            Path file = dir.resolve(LIB);
            try {
                try (InputStream in = url.openStream()) {
                    Files.copy(in, file);
                }
                return new NativeLibrary(open(file), url.toString());
            } finally {
                // the mapping stays valid after unlinking on Linux and macOS; Windows locks a loaded DLL
                try {
                    Files.deleteIfExists(file);
                    Files.deleteIfExists(dir);
                } catch (IOException e) {
                    file.toFile().deleteOnExit();
                    dir.toFile().deleteOnExit();
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract " + resource, e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static SymbolLookup open(Path p) {
        try {
            return SymbolLookup.libraryLookup(p, Arena.global());
        } catch (IllegalCallerException e) {
            Module m = NativeLibrary.class.getModule();
            throw new IllegalCallerException("native access is not enabled: run java with --enable-native-access="
                    + (m.isNamed() ? m.getName() : "ALL-UNNAMED") + ", or use Backend.JAVA", e);
        } catch (IllegalArgumentException e) {
            UnsatisfiedLinkError err = new UnsatisfiedLinkError("cannot open " + p + ": " + e.getMessage());
            err.initCause(e);
            throw err;
        }
    }
}
