package dev.rrconv.internal;

import dev.rrconv.KernelInfo;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The C library librrconv: finds and opens it once, and holds one downcall handle per public C
 * function (no logic beyond marshalling).
 *
 * <p>Where it is loaded from, in order:
 * <ol>
 * <li>the system property {@value #PATH_PROPERTY}: a path to a librrconv the user built;</li>
 * <li>the copy bundled in the jar at {@code dev/rrconv/native/<os>-<arch>/} (see {@link #platform()}; the
 * jar carries {@link #bundledPlatforms()}), opened in place when the classes are a folder, else extracted to a
 * temporary file that is deleted once opened.</li>
 * </ol>
 */
public final class NativeLibrary {
    /** System property naming a librrconv to load instead of the bundled one. */
    public static final String PATH_PROPERTY = "rrconv.library.path";

    private static final String LIB = System.mapLibraryName("rrconv");
    /** The resource folder of the bundled libraries, one subfolder per platform. */
    private static final String ROOT = "/dev/rrconv/native/";
    /** Platforms a jar may carry, with their library's file name (checked by {@link #bundledPlatforms}). */
    private static final Map<String, String> KNOWN_PLATFORMS = knownPlatforms();
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

    /** The C struct {@code rrconv_kernel_info}: six strings, then two int32. */
    static final StructLayout KERNEL_INFO = MemoryLayout.structLayout(
            ValueLayout.ADDRESS.withName("name"),
            ValueLayout.ADDRESS.withName("direction"),
            ValueLayout.ADDRESS.withName("isa"),
            ValueLayout.ADDRESS.withName("dtype"),
            ValueLayout.ADDRESS.withName("layout"),
            ValueLayout.ADDRESS.withName("applies"),
            ValueLayout.JAVA_INT.withName("available"),
            ValueLayout.JAVA_INT.withName("reserved"));
    /** int32_t rrconv_kernel_count(void). */
    private static final FunctionDescriptor KERNEL_COUNT = FunctionDescriptor.of(ValueLayout.JAVA_INT);
    /** rrconv_status rrconv_kernel_get(int32_t, rrconv_kernel_info*). */
    private static final FunctionDescriptor KERNEL_GET = FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ADDR);

    /**
     * rrconv_status f(const rrconv_conv_desc*, int32_t dtype, int32_t out_dtype, (const void*, const int64_t*)
     * x 5): the typed entry points rrconv_forward, rrconv_backward_data, rrconv_backward_filter.
     */
    private static final FunctionDescriptor CONV = FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ADDR, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
            ADDR, ADDR, ADDR, ADDR, ADDR, ADDR, ADDR, ADDR, ADDR, ADDR);
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
    private final SymbolLookup lookup;
    /** The kernel table, read on first use; empty if the library has none (an older build). */
    private volatile Optional<List<KernelInfo>> kernels;
    private final String why;

    private NativeLibrary(SymbolLookup lookup, String loadedFrom, String why) {
        this.loadedFrom = loadedFrom;
        this.lookup = lookup;
        this.why = why;
        Linker linker = Linker.nativeLinker();
        forward = bind(linker, lookup, "rrconv_forward", CONV);
        backwardData = bind(linker, lookup, "rrconv_backward_data", CONV);
        backwardFilter = bind(linker, lookup, "rrconv_backward_filter", CONV);
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

    /**
     * Why this library was the one loaded.
     *
     * @return {@code -Drrconv.library.path}, or {@code bundled for <platform>}
     */
    public String why() {
        return why;
    }

    /** @return the C library's version string */
    public String version() {
        return string(version);
    }

    /** @return the instruction set the fast kernels use: avx512, avx2, portable or scalar */
    public String activeIsa() {
        return string(activeIsa);
    }

    /**
     * The C library's kernel table ({@code rrconv_kernel_count}, {@code rrconv_kernel_get}), bound and read
     * on first use.
     *
     * @return the rows in table order, or empty if the library lacks those functions (an older build, e.g.
     *         through {@value #PATH_PROPERTY})
     */
    public Optional<List<KernelInfo>> kernels() {
        Optional<List<KernelInfo>> k = kernels;
        if (k == null) {
            k = readKernels(lookup);
            kernels = k;
        }
        return k;
    }

    /**
     * Reads the kernel table through {@code lookup} (tests pass one without the symbols).
     *
     * @param lookup where to find {@code rrconv_kernel_count} and {@code rrconv_kernel_get}
     * @return the rows, or empty if either symbol is missing
     */
    Optional<List<KernelInfo>> readKernels(SymbolLookup lookup) {
        Optional<MemorySegment> countSym = lookup.find("rrconv_kernel_count");
        Optional<MemorySegment> getSym = lookup.find("rrconv_kernel_get");
        if (countSym.isEmpty() || getSym.isEmpty()) {
            return Optional.empty();
        }
        Linker linker = Linker.nativeLinker();
        MethodHandle count = linker.downcallHandle(countSym.get(), KERNEL_COUNT);
        MethodHandle get = linker.downcallHandle(getSym.get(), KERNEL_GET);
        List<KernelInfo> rows = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = arena.allocate(KERNEL_INFO);
            int n = (int) count.invokeExact();
            for (int i = 0; i < n; i++) {
                check((int) get.invokeExact(i, info), "rrconv_kernel_get");
                rows.add(new KernelInfo(field(info, "name"), field(info, "direction"), field(info, "isa"),
                        field(info, "dtype"), field(info, "layout"), field(info, "applies"),
                        (int) KERNEL_AVAILABLE.get(info, 0L) != 0));
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return Optional.of(List.copyOf(rows));
    }

    private static final VarHandle KERNEL_AVAILABLE = KERNEL_INFO.varHandle(PathElement.groupElement("available"));

    /** A string field of a {@code rrconv_kernel_info}; "" for NULL. */
    private static String field(MemorySegment info, String name) {
        MemorySegment p = (MemorySegment) KERNEL_INFO.varHandle(PathElement.groupElement(name)).get(info, 0L);
        return p.equals(MemorySegment.NULL) ? "" : p.reinterpret(4096).getString(0);
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
        if (status == 2) { // RRCONV_UNSUPPORTED, e.g. an RRCONV_KERNEL row that does not apply to the problem
            throw new UnsupportedOperationException(text);
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

    private static Map<String, String> knownPlatforms() {
        Map<String, String> m = new LinkedHashMap<>();
        for (String arch : List.of("x86_64", "aarch64", "riscv64", "ppc64le", "s390x")) {
            m.put("linux-" + arch, "librrconv.so");
        }
        m.put("darwin-aarch64", "librrconv.dylib");
        m.put("darwin-x86_64", "librrconv.dylib");
        m.put("windows-x86_64", "rrconv.dll");
        m.put("windows-aarch64", "rrconv.dll");
        return Collections.unmodifiableMap(m);
    }

    /**
     * The platforms whose library this jar (or classes folder) carries.
     *
     * @return {@code <os>-<arch>} names, e.g. {@code [linux-x86_64, linux-aarch64]}; empty if none
     */
    public static List<String> bundledPlatforms() {
        List<String> found = new ArrayList<>();
        KNOWN_PLATFORMS.forEach((platform, file) -> {
            if (NativeLibrary.class.getResource(ROOT + platform + "/" + file) != null) {
                found.add(platform);
            }
        });
        String own = platform();
        if (!found.contains(own) && NativeLibrary.class.getResource(ROOT + own + "/" + LIB) != null) {
            found.add(own);
        }
        return found;
    }

    /**
     * Whether the library is to come from {@value #PATH_PROPERTY} rather than the jar.
     *
     * @return true if the property is set to a non-empty path
     */
    public static boolean overridden() {
        String override = System.getProperty(PATH_PROPERTY);
        return override != null && !override.isEmpty();
    }

    /**
     * The platform this JVM runs on, as the jar's library folders are named.
     *
     * @return {@code <os>-<arch>} as CMake names the folder, e.g. {@code linux-x86_64}
     */
    public static String platform() {
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
        if (overridden()) {
            Path p = Path.of(override).toAbsolutePath();
            if (!Files.isRegularFile(p)) {
                throw new UnsatisfiedLinkError("-D" + PATH_PROPERTY + "=" + override + ": no such file");
            }
            return new NativeLibrary(open(p), p.toString(), "-D" + PATH_PROPERTY);
        }
        String platform = platform();
        String resource = ROOT + platform + "/" + LIB;
        URL url = NativeLibrary.class.getResource(resource);
        if (url == null) {
            List<String> carried = bundledPlatforms();
            throw new UnsatisfiedLinkError("no librrconv for platform " + platform + " (os.name "
                    + System.getProperty("os.name") + ", os.arch " + System.getProperty("os.arch") + ") in this jar, which carries "
                    + (carried.isEmpty() ? "none" : String.join(", ", carried)) + "; build librrconv with CMake and pass -D"
                    + PATH_PROPERTY + "=/path/to/" + LIB + ", or use Backend.JAVA or Backend.AUTO");
        }
        String why = "bundled for " + platform;
        try {
            if ("file".equals(url.getProtocol())) {
                Path p = Path.of(url.toURI());
                return new NativeLibrary(open(p), p.toString(), why);
            }
            Path dir = Files.createTempDirectory("rrconv-");
            Path file = dir.resolve(LIB);
            try {
                try (InputStream in = url.openStream()) {
                    Files.copy(in, file);
                }
                return new NativeLibrary(open(file, url + " (extracted to " + file + ")"), url.toString(), why);
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
        return open(p, p.toString());
    }

    /** Opens p; {@code name} says what it is in an error message. */
    private static SymbolLookup open(Path p, String name) {
        try {
            return SymbolLookup.libraryLookup(p, Arena.global());
        } catch (IllegalCallerException e) {
            Module m = NativeLibrary.class.getModule();
            throw new IllegalCallerException("native access is not enabled: run java with --enable-native-access="
                    + (m.isNamed() ? m.getName() : "ALL-UNNAMED") + ", or use Backend.JAVA", e);
        } catch (IllegalArgumentException e) {
            UnsatisfiedLinkError err = new UnsatisfiedLinkError("cannot open " + name + ": " + e.getMessage());
            err.initCause(e);
            throw err;
        }
    }
}
