package dev.rrconv.cli;

import dev.rrconv.RegionConv;
import dev.rrconv.internal.NativeLibrary;
import java.io.PrintStream;
import java.util.Set;

/** {@code rrconv info}: versions, the Java runtime, and the native library in use (or why there is none). */
final class InfoCommand implements Command {
    @Override
    public String name() {
        return "info";
    }

    @Override
    public String summary() {
        return "show the version, the Java runtime and the native library in use";
    }

    @Override
    public String help() {
        return """
                usage: rrconv info

                Prints the rrconv version, the Java runtime (version, vendor, java.home), the OS and
                architecture, which loops the java backend runs (java_vector: the Vector API, when the
                JVM has jdk.incubator.vector, as under ./rrconv; else its scalar loops, with the
                reason), and the native library: where it was loaded from, its version, the
                instruction set its kernels use and its thread count, or the reason it could not be
                loaded (the java backend works without it). Exit code 0 either way.
                The library is the copy bundled in the jar unless -Drrconv.library.path=/path/to/librrconv.so
                is given to java (in the launcher: RRCONV_JAVA_OPTS).
                """;
    }

    @Override
    public int run(String[] argv, PrintStream out, PrintStream err) {
        Args.parse(name(), argv, Set.of(), Set.of());
        out.println("rrconv " + Main.version());
        out.println("java:    " + System.getProperty("java.version") + " (" + System.getProperty("java.vendor")
                + ", " + System.getProperty("java.vm.name") + ")");
        out.println("home:    " + System.getProperty("java.home"));
        out.println("os:      " + System.getProperty("os.name") + " " + System.getProperty("os.version") + " ("
                + System.getProperty("os.arch") + "), " + Runtime.getRuntime().availableProcessors() + " processors");
        out.println("threads: " + RegionConv.threads() + " per call");
        out.println("java backend: " + RegionConv.javaImplementation());
        try {
            NativeLibrary lib = NativeLibrary.get();
            out.println("native:  librrconv " + lib.version());
            out.println("  loaded from: " + lib.loadedFrom());
            out.println("  isa:         " + lib.activeIsa());
            out.println("  threads:     " + lib.numThreads());
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            out.println("native:  not available: " + e.getMessage());
            out.println("  (the java backend works without it: --backend java)");
        }
        return 0;
    }
}
