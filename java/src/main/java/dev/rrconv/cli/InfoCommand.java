package dev.rrconv.cli;

import dev.rrconv.Backend;
import dev.rrconv.KernelInfo;
import dev.rrconv.RegionConv;
import dev.rrconv.internal.NativeLibrary;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
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
                usage: rrconv info [--kernels]

                Prints the rrconv version, the Java runtime (version, vendor, java.home), the OS and
                architecture, the platform (<os>-<arch>) and the platforms whose library the jar
                carries, which loops the java backend runs (java_vector: the Vector API, when the
                JVM has jdk.incubator.vector, as under ./rrconv; else its scalar loops, with the
                reason), and the native library: where it was loaded from and why (bundled for the
                platform, or -Drrconv.library.path), its version, the instruction set its kernels use
                and its thread count, or the reason it could not be loaded; then the backend that
                --backend auto (the default) uses and why. Exit code 0 either way.
                The library is the copy bundled in the jar unless -Drrconv.library.path=/path/to/librrconv.so
                is given to java (in the launcher: RRCONV_JAVA_OPTS).

                  --kernels   also list the kernel tables, native then java: per direction the
                              loops a call may run, fastest first (a call runs the first that
                              applies): name, direction, ISA, dtype, layout, whether it can run
                              here, and when it applies. RRCONV_KERNEL=<name> forces a native row,
                              RRCONV_JAVA_KERNEL=<name> a java one.
                """;
    }

    @Override
    public int run(String[] argv, PrintStream out, PrintStream err) {
        Args a = Args.parse(name(), argv, Set.of(), Set.of("kernels"));
        out.println("rrconv " + Main.version());
        out.println("java:    " + System.getProperty("java.version") + " (" + System.getProperty("java.vendor")
                + ", " + System.getProperty("java.vm.name") + ")");
        out.println("home:    " + System.getProperty("java.home"));
        out.println("os:      " + System.getProperty("os.name") + " " + System.getProperty("os.version") + " ("
                + System.getProperty("os.arch") + "), " + Runtime.getRuntime().availableProcessors() + " processors");
        out.println("threads: " + RegionConv.threads() + " per call");
        List<String> carried = NativeLibrary.bundledPlatforms();
        out.println("platform: " + NativeLibrary.platform() + " (the jar carries librrconv for "
                + (carried.isEmpty() ? "no platform" : String.join(", ", carried)) + ")");
        NativeLibrary lib = null;
        out.println("java backend: " + RegionConv.javaImplementation());
        try {
            lib = NativeLibrary.get();
            out.println("native:  librrconv " + lib.version());
            out.println("  loaded from: " + lib.loadedFrom());
            out.println("  why:         " + lib.why());
            out.println("  isa:         " + lib.activeIsa());
            out.println("  threads:     " + lib.numThreads());
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            out.println("native:  not available: " + e.getMessage());
            out.println("  (the java backend works without it: --backend java)");
        }
        RegionConv auto = RegionConv.of(Backend.AUTO);
        out.println("backend: " + auto.backend().cliName() + " (" + auto.backendReason() + ")");
        if (a.flag("kernels")) {
            out.println();
            if (lib == null) {
                out.println("native kernels: none (the library is not available)");
            } else {
                Optional<List<KernelInfo>> table = lib.kernels();
                if (table.isPresent()) {
                    out.println("native kernels (RRCONV_KERNEL=<name> forces one):");
                    table(out, table.get());
                } else {
                    out.println("native kernels: this librrconv has no kernel table (rrconv_kernel_count): an older build");
                }
            }
            out.println();
            out.println("java kernels (RRCONV_JAVA_KERNEL=<name> or -Drrconv.javaKernel=<name> forces one):");
            table(out, RegionConv.of(Backend.JAVA).kernels());
        }
        return 0;
    }

    /** Prints rows as aligned columns, "applies" last. */
    static void table(PrintStream out, List<KernelInfo> rows) {
        String[] head = {"name", "direction", "isa", "dtype", "layout", "runs here", "applies"};
        List<String[]> lines = new ArrayList<>();
        lines.add(head);
        for (KernelInfo k : rows) {
            lines.add(new String[] {k.name(), k.direction(), k.isa(), k.dtype(), k.layout(),
                    k.available() ? "yes" : "no", k.applies()});
        }
        int[] width = new int[head.length];
        for (String[] l : lines) {
            for (int i = 0; i < l.length; i++) {
                width[i] = Math.max(width[i], l[i].length());
            }
        }
        for (String[] l : lines) {
            StringBuilder sb = new StringBuilder(" ");
            for (int i = 0; i < l.length; i++) {
                sb.append(' ').append(l[i]);
                if (i < l.length - 1) {
                    sb.append(" ".repeat(width[i] - l[i].length() + 1));
                }
            }
            out.println(sb);
        }
    }
}
