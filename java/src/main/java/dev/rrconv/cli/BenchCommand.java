package dev.rrconv.cli;

import dev.rrconv.Backend;
import dev.rrconv.DType;
import dev.rrconv.Layout;
import dev.rrconv.RegionConv;
import dev.rrconv.internal.NativeLibrary;
import dev.rrconv.internal.VectorProvider;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;

/**
 * {@code rrconv bench}: times the benchmark shapes of issue 3 ({@link BenchShape}) in every
 * direction on the chosen backends and thread counts, and prints a table (median ms, GFLOP/s,
 * speed-up over the C reference loop); optionally writes the results as JSON and as an SVG chart.
 */
final class BenchCommand implements Command {
    static final int DEFAULT_WARMUP = 2;
    static final int DEFAULT_REPS = 5;
    /** The reference loops run 100x slower than the kernels: at most this many timed runs. */
    static final int REFERENCE_MAX_REPS = 3;
    /** ... and at most this many warm-up runs. */
    static final int REFERENCE_MAX_WARMUP = 1;
    /**
     * The Java backend's loops need the JIT: when there is a warm-up at all, it lasts at least this long on
     * that backend (a few calls are not enough for C2 to compile them).
     */
    static final long JAVA_MIN_WARMUP_NANOS = 1_000_000_000L;
    /** ... but at most this many calls. */
    static final int JAVA_MAX_WARMUP_CALLS = 200;
    /**
     * On the native backend a warm-up lasts at least this long: the JVM's JIT compiler threads are busy in
     * the first seconds of a run, on the cores the kernels use, and make the first native lines up to 1.5x
     * slower than a settled run (measured on DW-K3 forward: 0.34-0.45 ms against 0.285 ms).
     */
    static final long NATIVE_MIN_WARMUP_NANOS = 300_000_000L;
    /** ... but at most this many calls. */
    static final int NATIVE_MAX_WARMUP_CALLS = 5_000;

    private static final Set<String> OPTIONS = Set.of("shapes", "ops", "backends", "threads", "mask", "mask-dtype",
            "warmup", "reps", "json", "plot", "seed", "layout", "dtype");

    @Override
    public String name() {
        return "bench";
    }

    @Override
    public String summary() {
        return "time the benchmark shapes: table, JSON and an SVG chart of GFLOP/s";
    }

    @Override
    public String help() {
        return """
                usage: rrconv bench [--shapes LIST] [--ops LIST] [--backends LIST] [--threads LIST]
                                    [--mask random|blocky|superpixel] [--mask-dtype int32|uint8] [--warmup N] [--reps N]
                                    [--layout nchw|nhwc] [--dtype float32|float16|bfloat16] [--seed S]
                                    [--json FILE] [--plot FILE.svg]

                Times each direction of each benchmark shape on each backend and thread count: the tensors
                are allocated off-heap once per shape (64-byte aligned) and every call writes into a
                preallocated output; after the warm-up calls, the median of the timed calls is reported.
                Prints a table (median ms, GFLOP/s = 2*N*OC*OH*OW*ICPG*FH*FW / time for every direction,
                speed-up over the reference loop at the same thread count) on stdout, progress on stderr.

                shapes (N, channels, image, kernel):
                  DW-K3, DW-K7, DW-K13, DW-K31   depthwise, N=4, C=384, 32x32, KxK, padding K/2
                  GRP                            N=8, IC=OC=64, 4 groups, 56x56, 3x3, padding 1
                  DENSE                          the same with 1 group
                  DENSE-S2D2                     DENSE with stride 2, dilation 2, padding 2

                options (LIST: comma-separated):
                  --shapes LIST      shape names (default: all)
                  --ops LIST         forward,backward-data,backward-filter (default: all three)
                  --backends LIST    native,java,reference (default: all three); also java-scalar (the
                                     java backend's scalar loops) and java-vector (java, refused unless
                                     it runs its Vector API loops: java is the vector loops when the
                                     JVM has jdk.incubator.vector, as under ./rrconv, else the scalar
                                     ones). reference is the C library's plain reference loop: slow,
                                     so it runs at most 1 warm-up and 3 timed calls
                  --threads LIST     threads per call, each 1..1024 (default: 1); applies to all backends
                  --mask KIND        random (default): each pixel uniformly in {1,2,3};
                                     blocky: a few rectangles per image;
                                     superpixel: Voronoi regions, one seed placed at random
                                     in each 8x8-pixel cell, id = the cell's index (uint8:
                                     modulo 256). rout is rin at each output pixel's centre
                                     tap. The table's "active" column is the share of the
                                     in-image taps that the masks leave active
                  --mask-dtype T     int32 (default) | uint8
                  --layout L         nchw (default) | nhwc: src, dst, diff and grad src are
                                     allocated channels-last (the filter and masks are unchanged);
                                     the table's "layout" column says which
                  --dtype T          float32 (default) | float16 | bfloat16: the type of src, filter,
                                     diff and the outputs (products and sums in float32 whatever T);
                                     the table's "dtype" column says which
                  --warmup N         untimed calls before timing, >= 0 (default: 2); if N > 0, at
                                     least 1 s of them on the java backend (its JIT needs it) and
                                     0.3 s on native, then a wait (at most 3 s) until the
                                     JVM's JIT compiler has been idle for 0.1 s, then 0.05 s of
                                     calls again (java and native) to wake the worker threads
                  --reps N           timed calls, >= 1 (default: 5); the median is reported
                  --seed S           seed of the data and masks (default: 1)
                  --json FILE        also write the results as a JSON array of objects
                                     {"shape","op","mask","layout","dtype","backend","threads","ms",
                                     "gflops","active_fraction"}
                  --plot FILE.svg    also write a chart of GFLOP/s (self-contained SVG)
                Output files are written atomically once every measurement is done.

                examples:
                  rrconv bench --shapes DW-K7,DENSE --backends native,java --threads 1,2
                  rrconv bench --backends native,java,java-scalar --threads 1 --reps 5
                  rrconv bench --json bench.json --plot bench.svg
                  rrconv bench --shapes DW-K3,DW-K7 --dtype bfloat16 --backends native,java
                """;
    }

    /** Everything the command line asks for, checked. */
    record Plan(List<BenchShape> shapes, List<BenchProblem.Op> ops, List<BenchProblem.Target> targets,
                List<Integer> threads, BenchProblem.Masks masks, DType maskType, Layout layout, DType dtype, int warmup,
                int reps,
                long seed, Path json, Path plot) {

        int runs() {
            return shapes.size() * ops.size() * targets.size() * threads.size();
        }

        boolean needsNative() {
            return targets.contains(BenchProblem.Target.NATIVE) || targets.contains(BenchProblem.Target.REFERENCE);
        }

        boolean needsJava() {
            return targets.stream().anyMatch(BenchProblem.Target::isJava);
        }

        int warmupOf(BenchProblem.Target t) {
            return t == BenchProblem.Target.REFERENCE ? Math.min(warmup, REFERENCE_MAX_WARMUP) : warmup;
        }

        long warmupNanosOf(BenchProblem.Target t) {
            if (warmup <= 0) {
                return 0;
            }
            return switch (t) {
                case JAVA, JAVA_VECTOR, JAVA_SCALAR -> JAVA_MIN_WARMUP_NANOS;
                case NATIVE -> NATIVE_MIN_WARMUP_NANOS;
                case REFERENCE -> 0;
            };
        }

        int maxWarmupCallsOf(BenchProblem.Target t) {
            return t == BenchProblem.Target.NATIVE ? NATIVE_MAX_WARMUP_CALLS : JAVA_MAX_WARMUP_CALLS;
        }

        int repsOf(BenchProblem.Target t) {
            return t == BenchProblem.Target.REFERENCE ? Math.min(reps, REFERENCE_MAX_REPS) : reps;
        }
    }

    @Override
    public int run(String[] argv, PrintStream out, PrintStream err) throws Exception {
        Plan plan = plan(Args.parse(name(), argv, OPTIONS, Set.of()));
        if (plan.json() != null) {
            checkOutputPath("json", plan.json());
        }
        if (plan.plot() != null) {
            checkOutputPath("plot", plan.plot());
        }
        if (plan.needsNative()) {
            RunCommand.conv(Backend.NATIVE); // a clear one-line error if the C library cannot be loaded
        }
        String machine = machine(plan);
        out.println("rrconv bench: " + machine);
        List<String> notes = new ArrayList<>();
        if (plan.warmup() > 0) {
            notes.add("timed once the JIT has compiled nothing for 0.1 s");
            if (plan.targets().contains(BenchProblem.Target.NATIVE) || plan.needsJava()) {
                notes.add("java and native: 0.05 s of calls again after that wait");
            }
        }
        if (plan.warmupNanosOf(BenchProblem.Target.NATIVE) > 0 && plan.targets().contains(BenchProblem.Target.NATIVE)) {
            notes.add("native: warm-up of at least 0.3 s, while the JVM's JIT threads settle");
        }
        if (plan.warmupNanosOf(BenchProblem.Target.JAVA) > 0 && plan.needsJava()) {
            notes.add("java: warm-up of at least 1 s, for its JIT");
        }
        BenchProblem.Target ref = BenchProblem.Target.REFERENCE;
        if (plan.targets().contains(ref) && (plan.repsOf(ref) < plan.reps() || plan.warmupOf(ref) < plan.warmup())) {
            notes.add(String.format(Locale.ROOT, "reference, which is slow: %d + %d", plan.warmupOf(ref), plan.repsOf(ref)));
        }
        out.printf(Locale.ROOT, "mask %s (%s), layout %s, dtype %s, seed %d; %d warm-up + %d timed calls per line,"
                        + " median%s%n",
                plan.masks().cliName(), plan.maskType(), plan.layout().cliName(), plan.dtype(), plan.seed(),
                plan.warmup(), plan.reps(),
                notes.isEmpty() ? "" : " (" + String.join("; ", notes) + ")");
        out.flush();

        List<BenchResult> results = measure(plan, err);

        out.println();
        out.print(table(results));
        out.flush();
        if (plan.json() != null) {
            writeAtomically(plan.json(), json(results));
            out.println("wrote " + plan.json());
        }
        if (plan.plot() != null) {
            String title = "rrconv bench: GFLOP/s by shape and direction (mask " + plan.masks().cliName() + ", "
                    + plan.maskType() + ", " + plan.layout().cliName() + ", " + plan.dtype() + ")";
            int refReps = plan.repsOf(BenchProblem.Target.REFERENCE);
            String reps = "median of " + plan.reps() + (plan.reps() == 1 ? " call" : " calls")
                    + (plan.targets().contains(BenchProblem.Target.REFERENCE) && refReps < plan.reps()
                            ? " (reference: " + refReps + ")" : "");
            writeAtomically(plan.plot(), BenchChart.svg(results, title, machine + " · " + reps + " · "
                    + LocalDate.now(ZoneOffset.UTC)));
            out.println("wrote " + plan.plot());
        }
        return 0;
    }

    private static List<BenchResult> measure(Plan plan, PrintStream err) {
        List<BenchResult> results = new ArrayList<>();
        int total = plan.runs();
        int done = 0;
        int threadsBefore = RegionConv.threads();
        try {
            for (BenchShape shape : plan.shapes()) {
                double flops = shape.flops();
                // shared, like ConvBench: the Java backend's helper threads may then read and write the
                // tensors themselves (a confined arena keeps its packing and stores on the calling thread)
                try (Arena arena = Arena.ofShared()) {
                    BenchProblem problem = new BenchProblem(shape, plan.masks(), plan.maskType(), plan.layout(),
                            plan.dtype(), plan.seed(), arena);
                    for (BenchProblem.Op op : plan.ops()) {
                        for (int threads : plan.threads()) {
                            RegionConv.setThreads(threads);
                            for (BenchProblem.Target target : plan.targets()) {
                                done++;
                                err.printf(Locale.ROOT, "[%d/%d] %s %s %s t=%d ...", done, total, shape.name(),
                                        op.cliName(), target.cliName(), threads);
                                err.flush();
                                double ms;
                                try {
                                    ms = medianMillis(problem.call(op, target), plan.warmupOf(target),
                                            plan.warmupNanosOf(target), plan.maxWarmupCallsOf(target),
                                            plan.repsOf(target));
                                } catch (RuntimeException | Error e) {
                                    err.println(" failed"); // end the progress line before the error message
                                    throw e;
                                }
                                double gflops = flops / ms / 1e6;
                                err.printf(Locale.ROOT, " %s ms, %s GFLOP/s%n", ms(ms), gflops(gflops));
                                err.flush();
                                results.add(new BenchResult(shape.name(), op.cliName(), plan.masks().cliName(),
                                        plan.layout().cliName(), plan.dtype().toString(), target.cliName(), threads,
                                        ms, gflops, problem.activeFraction()));
                            }
                        }
                    }
                }
            }
        } finally {
            RegionConv.setThreads(threadsBefore);
        }
        return results;
    }

    /**
     * Calls {@code call} {@code warmup} times, and on until {@code warmupNanos} have passed (at most
     * {@code maxWarmupCalls} calls), then times {@code reps} calls.
     *
     * @return the median time of the timed calls in milliseconds (the mean of the middle two for an even count)
     */
    static double medianMillis(Runnable call, int warmup, long warmupNanos, int maxWarmupCalls, int reps) {
        long start = System.nanoTime();
        for (int i = 0; i < warmup || (i < maxWarmupCalls && System.nanoTime() - start < warmupNanos); i++) {
            call.run();
        }
        if (warmup > 0) {
            awaitQuietJit();
        }
        if (warmupNanos > 0) {
            // the wait let the pool's workers and their cores go idle: warm them up again
            long rewarm = System.nanoTime();
            for (int i = 0; i < maxWarmupCalls && System.nanoTime() - rewarm < REWARM_NANOS; i++) {
                call.run();
            }
        }
        long[] ns = new long[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            call.run();
            ns[i] = System.nanoTime() - t0;
        }
        Arrays.sort(ns);
        double median = reps % 2 == 1 ? ns[reps / 2] : (ns[reps / 2 - 1] + ns[reps / 2]) / 2.0;
        return median / 1e6;
    }

    /**
     * After the JIT wait, calls run this long again before the timed ones (lines with a time-based
     * warm-up only, so not the slow reference loop). During the wait the library's worker threads stop
     * spinning and sleep, and the virtual machine's idle vCPU with them; the first calls after it pay for
     * waking them: DW-K3 forward at 2 threads measured 1.4-1.7x faster than at 1 thread over 15 calls
     * straight after a pause, 1.9-2.0x in a steady stream.
     */
    static final long REWARM_NANOS = 50_000_000L;

    /** How long the JIT must have compiled nothing before a line is timed. */
    static final long JIT_QUIET_NANOS = 100_000_000L;
    /** ... waiting at most this long. */
    static final long JIT_QUIET_MAX_WAIT_NANOS = 3_000_000_000L;

    /**
     * Sleeps until the JIT compiler threads have compiled nothing for {@link #JIT_QUIET_NANOS} (at most
     * {@link #JIT_QUIET_MAX_WAIT_NANOS}): on a small machine they take the cores a timed call needs
     * (measured: DW-K3 forward at 2 threads 0.26 ms while they ran, 0.13 ms after). A no-op where the
     * JVM does not report its compilation time.
     */
    static void awaitQuietJit() {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        if (jit == null || !jit.isCompilationTimeMonitoringSupported()) {
            return;
        }
        long start = System.nanoTime();
        long last = jit.getTotalCompilationTime();
        long quietSince = start;
        while (System.nanoTime() - start < JIT_QUIET_MAX_WAIT_NANOS) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            long now = jit.getTotalCompilationTime();
            if (now != last) {
                last = now;
                quietSince = System.nanoTime();
            } else if (System.nanoTime() - quietSince >= JIT_QUIET_NANOS) {
                return;
            }
        }
    }

    // ---- options ------------------------------------------------------------------------------

    static Plan plan(Args a) {
        List<BenchShape> shapes = list(a, "shapes", BenchShape.names(), BenchShape::named);
        List<BenchProblem.Op> ops = list(a, "ops", "forward,backward-data,backward-filter", BenchProblem.Op::parse);
        List<BenchProblem.Target> targets = list(a, "backends", "native,java,reference", BenchProblem.Target::parse);
        if (targets.contains(BenchProblem.Target.JAVA_VECTOR) && VectorProvider.get().conv().isEmpty()) {
            throw new UsageException("bench: --backends java-vector: the java backend has no Vector API loops here: "
                    + VectorProvider.get().reason());
        }
        List<Integer> threads = list(a, "threads", "1", s -> {
            try {
                int t = Integer.parseInt(s);
                return t >= 1 && t <= 1024 ? t : null;
            } catch (NumberFormatException e) {
                return null;
            }
        });
        BenchProblem.Masks masks = BenchProblem.Masks.parse(a.get("mask", "random"));
        if (masks == null) {
            throw new UsageException("bench: --mask must be random, blocky or superpixel, got '" + a.get("mask") + "'");
        }
        DType maskType = switch (a.get("mask-dtype", "int32")) {
            case "int32" -> DType.INT32;
            case "uint8" -> DType.UINT8;
            default -> throw new UsageException("bench: --mask-dtype must be int32 or uint8, got '"
                    + a.get("mask-dtype") + "'");
        };
        Layout layout = RunCommand.parseLayout(a);
        DType dtype = a.has("dtype") ? RunCommand.dataType(a, "dtype") : DType.FLOAT32;
        int warmup = a.integer("warmup", DEFAULT_WARMUP);
        if (warmup < 0) {
            throw new UsageException("bench: --warmup must be >= 0, got " + warmup);
        }
        int reps = a.integer("reps", DEFAULT_REPS);
        if (reps < 1) {
            throw new UsageException("bench: --reps must be >= 1, got " + reps);
        }
        long seed;
        try {
            seed = Long.parseLong(a.get("seed", "1").strip());
        } catch (NumberFormatException e) {
            throw new UsageException("bench: --seed: expected an integer, got '" + a.get("seed") + "'");
        }
        Path json = a.has("json") ? path(a, "json") : null;
        Path plot = a.has("plot") ? path(a, "plot") : null;
        if (plot != null && !plot.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".svg")) {
            throw new UsageException("bench: --plot writes SVG: the file name must end in .svg, got '" + plot + "'");
        }
        if (json != null && plot != null && json.toAbsolutePath().normalize().equals(plot.toAbsolutePath().normalize())) {
            throw new UsageException("bench: --json and --plot name the same file");
        }
        return new Plan(shapes, ops, targets, threads, masks, maskType, layout, dtype, warmup, reps, seed, json, plot);
    }

    private static Path path(Args a, String key) {
        String v = a.get(key);
        if (v.isBlank()) {
            throw new UsageException("bench: --" + key + " needs a file name");
        }
        Path p = Path.of(v);
        if (p.getFileName() == null) {
            throw new UsageException("bench: --" + key + " '" + v + "' is not a file name");
        }
        return p;
    }

    /** A comma-separated list option: each item parsed (null: invalid), duplicates dropped, order kept. */
    private static <T> List<T> list(Args a, String key, String dflt, Function<String, T> parse) {
        String v = a.get(key, dflt);
        Set<T> items = new LinkedHashSet<>();
        for (String part : v.split(",", -1)) {
            String s = part.strip();
            T t = s.isEmpty() ? null : parse.apply(s);
            if (t == null) {
                throw new UsageException("bench: --" + key + ": " + (s.isEmpty() ? "empty item in '" + v + "'"
                        : "unknown value '" + s + "'") + "; expected a comma-separated list of " + expected(key));
            }
            items.add(t);
        }
        return List.copyOf(items);
    }

    private static String expected(String key) {
        return switch (key) {
            case "shapes" -> BenchShape.names();
            case "ops" -> "forward,backward-data,backward-filter";
            case "backends" -> "native,java,reference";
            default -> "thread counts 1..1024";
        };
    }

    private static void checkOutputPath(String key, Path p) {
        if (Files.isDirectory(p)) {
            throw new CliException("--" + key + " " + p + ": is a directory");
        }
        Path dir = p.toAbsolutePath().getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new CliException("--" + key + " " + p + ": directory " + dir + " does not exist");
        }
    }

    // ---- output -------------------------------------------------------------------------------

    /** One line about the machine and the library: CPU, processors, ISA, Java version. */
    static String machine(Plan plan) {
        StringBuilder sb = new StringBuilder();
        String cpu = cpuModel();
        if (cpu != null) {
            sb.append(cpu).append(", ");
        }
        sb.append(Runtime.getRuntime().availableProcessors()).append(" processors");
        if (plan.needsNative()) {
            NativeLibrary lib = NativeLibrary.get();
            sb.append(" · librrconv ").append(lib.version()).append(" (").append(lib.activeIsa()).append(")");
        }
        sb.append(" · Java ").append(System.getProperty("java.version"));
        if (plan.needsJava()) {
            sb.append(" · java backend: ").append(RegionConv.javaImplementation());
        }
        sb.append(" · threads ").append(String.join(",", plan.threads().stream().map(String::valueOf).toList()));
        return sb.toString();
    }

    /** The CPU's model name from /proc/cpuinfo, or null where there is none. */
    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"), StandardCharsets.UTF_8)) {
                if (line.startsWith("model name")) {
                    int colon = line.indexOf(':');
                    String m = colon >= 0 ? line.substring(colon + 1).strip().replaceAll("\\s+", " ") : "";
                    return m.isEmpty() ? null : m;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or not readable: leave the CPU out
        }
        return null;
    }

    /** The results as an aligned text table, with the speed-up over the reference at the same thread count. */
    static String table(List<BenchResult> results) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"shape", "op", "mask", "layout", "dtype", "active", "backend", "threads", "median ms", "GFLOP/s",
            "vs reference"});
        for (BenchResult r : results) {
            BenchResult ref = null;
            for (BenchResult q : results) {
                if (q.backend().equals("reference") && q.shape().equals(r.shape()) && q.op().equals(r.op())
                        && q.threads() == r.threads() && q.mask().equals(r.mask()) && q.layout().equals(r.layout())
                        && q.dtype().equals(r.dtype())) {
                    ref = q;
                }
            }
            String speedup = ref == null ? "" : String.format(Locale.ROOT, "%.1fx", ref.ms() / r.ms());
            rows.add(new String[] {r.shape(), r.op(), r.mask(), r.layout(), r.dtype(),
                String.format(Locale.ROOT, "%.3f", r.activeFraction()),
                r.backend(), String.valueOf(r.threads()), ms(r.ms()), gflops(r.gflops()), speedup});
        }
        int cols = rows.get(0).length;
        int[] width = new int[cols];
        for (String[] row : rows) {
            for (int c = 0; c < cols; c++) {
                width[c] = Math.max(width[c], row[c].length());
            }
        }
        boolean[] right = {false, false, false, false, false, true, false, true, true, true, true};
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < rows.size(); i++) {
            String[] row = rows.get(i);
            StringBuilder line = new StringBuilder();
            for (int c = 0; c < cols; c++) {
                String cell = row[c];
                String pad = " ".repeat(width[c] - cell.length());
                line.append(c == 0 ? "" : "  ").append(right[c] ? pad + cell : cell + pad);
            }
            sb.append(line.toString().stripTrailing()).append('\n');
            if (i == 0) {
                int len = Arrays.stream(width).sum() + 2 * (cols - 1);
                sb.append("-".repeat(len)).append('\n');
            }
        }
        return sb.toString();
    }

    static String ms(double ms) {
        return String.format(Locale.ROOT, ms < 1 ? "%.4f" : ms < 100 ? "%.3f" : "%.1f", ms);
    }

    static String gflops(double g) {
        return String.format(Locale.ROOT, g < 10 ? "%.2f" : "%.1f", g);
    }

    /** The results as a JSON array, one object per line. */
    static String json(List<BenchResult> results) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < results.size(); i++) {
            sb.append(i == 0 ? "\n  " : ",\n  ").append(results.get(i).toJson());
        }
        return sb.append(results.isEmpty() ? "]\n" : "\n]\n").toString();
    }

    /**
     * Writes a text file through a temporary file in the same folder that then replaces it: on error
     * {@code path} is untouched and no temporary file is left.
     */
    static void writeAtomically(Path path, String text) throws IOException {
        Path target = Files.isSymbolicLink(path) ? path.toRealPath() : path;
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Path tmp = dir.resolve("." + abs.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong())
                + ".tmp");
        boolean done = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                var buf = java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                ch.force(false);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
        } catch (IOException e) {
            throw new IOException(path + ": cannot write: " + Main.describe(e), e);
        } finally {
            if (!done) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort: the temporary file is hidden and named after the target
                }
            }
        }
    }
}
