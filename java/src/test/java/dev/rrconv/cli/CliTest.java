package dev.rrconv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rrconv.Backend;
import dev.rrconv.ConvParams;
import dev.rrconv.DType;
import dev.rrconv.KernelInfo;
import dev.rrconv.Mode;
import dev.rrconv.RegionConv;
import dev.rrconv.Tensor;
import dev.rrconv.internal.NativeLibrary;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CliTest {
    @TempDir
    Path dir;

    record Result(int code, String out, String err) {
        List<String> errLines() {
            return err.isEmpty() ? List.of() : Arrays.asList(err.split("\n"));
        }
    }

    static Result cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            code = Main.run(args, o, e);
        }
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private String save(String name, Tensor t) throws IOException {
        Path p = dir.resolve(name);
        Npy.write(p, t);
        return p.toString();
    }

    private static float[] read(Path p) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            return Npy.read(p, arena).toFloatArray();
        }
    }

    private static long[] shapeOf(Path p) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            return Npy.read(p, arena).shape();
        }
    }

    private static String[] args(String... a) {
        return a;
    }

    // ---- the worked examples through .npy files, on both backends -------------------------------

    private static final float[] SRC_A = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    private static final float[] DST_A = {4, 14, 18, 5, 9, 0, 13, 9, 50};
    private static final float[] DIFF_B = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    /** Backward filter of src (a) and diff (b) with the same masks (computed independently with NumPy). */
    private static final float[] GRAD_FILTER_AB = {170, 132, 203, 259};

    /** Writes the inputs of examples (a)/(b); masks as int32 or uint8. */
    private void exampleFiles(boolean uint8) throws IOException {
        save("src.npy", Tensor.ofFloats(SRC_A, 1, 1, 4, 4));
        save("filter.npy", Tensor.ofFloats(new float[] {1, 1, 1, 1}, 1, 1, 1, 2, 2));
        save("filter4.npy", Tensor.ofFloats(new float[] {1, 1, 1, 1}, 1, 1, 2, 2));
        save("diff.npy", Tensor.ofFloats(DIFF_B, 1, 1, 3, 3));
        if (uint8) {
            save("rin.npy", Tensor.ofBytes(bytes(DemoCommand.RIN_B), 1, 4, 4));
            save("rout.npy", Tensor.ofBytes(bytes(DemoCommand.ROUT_B), 1, 3, 3));
        } else {
            save("rin.npy", Tensor.ofInts(DemoCommand.RIN_B, 1, 4, 4));
            save("rout.npy", Tensor.ofInts(DemoCommand.ROUT_B, 1, 3, 3));
        }
    }

    private static byte[] bytes(int[] v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return b;
    }

    private String f(String name) {
        return dir.resolve(name).toString();
    }

    private void assertOk(Result r) {
        assertEquals(0, r.code, () -> "exit code; stderr: " + r.err);
        assertEquals("", r.err);
    }

    @ParameterizedTest
    @ValueSource(strings = {"java", "native"})
    void forwardExampleA(String backend) throws IOException {
        for (boolean uint8 : new boolean[] {false, true}) {
            exampleFiles(uint8);
            Path out = dir.resolve("dst.npy");
            Result r = cli("run", "--op", "forward", "--src", f("src.npy"), "--filter", f("filter.npy"), "--rin",
                    f("rin.npy"), "--rout", f("rout.npy"), "--backend", backend, "--out", out.toString());
            assertOk(r);
            assertTrue(r.out.startsWith("wrote " + out + ": float32 (1, 1, 3, 3) (forward, " + backend + " backend"), r.out);
            assertArrayEquals(new long[] {1, 1, 3, 3}, shapeOf(out));
            assertArrayEquals(DST_A, read(out));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"java", "native"})
    void backwardDataExampleB(String backend) throws IOException {
        exampleFiles(false);
        for (String filter : List.of("filter.npy", "filter4.npy")) {
            Path out = dir.resolve("grad.npy");
            assertOk(cli("run", "--op", "backward-data", "--filter", f(filter), "--diff", f("diff.npy"), "--rin",
                    f("rin.npy"), "--rout", f("rout.npy"), "--backend", backend, "--kernel", "2", "--out", out.toString()));
            assertArrayEquals(new long[] {1, 1, 4, 4}, shapeOf(out));
            assertArrayEquals(DemoCommand.GRAD_B, read(out));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"java", "native"})
    void backwardDataGroupedExampleC(String backend) throws IOException {
        float[] w = {1, 2, 3, 4, 5, 6, 7, 8};
        save("f5.npy", Tensor.ofFloats(w, 2, 1, 1, 2, 2));
        save("f4.npy", Tensor.ofFloats(w, 2, 1, 2, 2));
        save("diff.npy", Tensor.ofFloats(new float[] {1, 2}, 1, 2, 1, 1));
        save("rin.npy", Tensor.ofInts(new int[] {1, 1, 1, 1}, 1, 2, 2));
        save("rout.npy", Tensor.ofInts(new int[] {1}, 1, 1, 1));
        Path out = dir.resolve("grad.npy");
        // 5-D filter: groups from its first dimension; 4-D filter: --groups 2
        for (String[] extra : List.of(args("--filter", f("f5.npy")), args("--filter", f("f5.npy"), "--groups", "2"),
                args("--filter", f("f4.npy"), "--groups", "2"))) {
            List<String> a = new ArrayList<>(List.of("run", "--op", "backward-data", "--diff", f("diff.npy"), "--rin",
                    f("rin.npy"), "--rout", f("rout.npy"), "--backend", backend, "--out", out.toString()));
            a.addAll(List.of(extra));
            assertOk(cli(a.toArray(String[]::new)));
            assertArrayEquals(new long[] {1, 2, 2, 2}, shapeOf(out));
            assertArrayEquals(DemoCommand.GRAD_C, read(out));
        }
        // a 4-D filter without --groups means one group: 2 output channels, 1 input channel
        assertOk(cli("run", "--op", "backward-data", "--filter", f("f4.npy"), "--diff", f("diff.npy"), "--rin",
                f("rin.npy"), "--rout", f("rout.npy"), "--backend", backend, "--out", out.toString()));
        assertArrayEquals(new long[] {1, 1, 2, 2}, shapeOf(out));
        assertArrayEquals(new float[] {11, 14, 17, 20}, read(out));
    }

    @ParameterizedTest
    @ValueSource(strings = {"java", "native"})
    void backwardFilterWritesA5dGradient(String backend) throws IOException {
        exampleFiles(true);
        Path out = dir.resolve("gf.npy");
        assertOk(cli("run", "--op", "backward-filter", "--src", f("src.npy"), "--diff", f("diff.npy"), "--kernel", "2,2",
                "--rin", f("rin.npy"), "--rout", f("rout.npy"), "--backend", backend, "--out", out.toString()));
        assertArrayEquals(new long[] {1, 1, 1, 2, 2}, shapeOf(out));
        assertArrayEquals(GRAD_FILTER_AB, read(out));
    }

    @Test
    void nativeLibraryLoads() {
        // the native tests above must fail, not skip, when the C library is missing
        NativeLibrary lib = NativeLibrary.get();
        assertFalse(lib.version().isEmpty());
    }

    // ---- every parameter reaches the library --------------------------------------------------

    private static Tensor filled(Arena arena, DType dtype, int seed, long... shape) {
        Tensor t = Tensor.allocate(arena, dtype, shape);
        MemoryFill.fill(t, seed);
        return t;
    }

    /** Small integers, so that every sum is exact in float32 whatever the order. */
    static final class MemoryFill {
        static void fill(Tensor t, int seed) {
            long n = t.elementCount();
            Tensor flat = t.reshape(n);
            for (long i = 0; i < n; i++) {
                int v = (int) ((i * 37 + seed * 11) % 7);
                if (t.dtype() == DType.FLOAT32) {
                    flat.setFloat(v - 3, i);
                } else {
                    flat.setInt(v % 2, i);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"java", "native"})
    void optionsReachTheLibrary(String backend) throws IOException {
        // N=2, G=2, ICPG=2, OCPG=3, 5x6 input, 2x3 kernel, stride 2,1, padding 1,0, dilation 1,2, convolution
        ConvParams p = new ConvParams(2, 1, 1, 0, 1, 2, 2, Mode.CONVOLUTION);
        try (Arena arena = Arena.ofConfined()) {
            Tensor src = filled(arena, DType.FLOAT32, 1, 2, 4, 5, 6);
            Tensor filter = filled(arena, DType.FLOAT32, 2, 2, 3, 2, 2, 3);
            long oh = ConvParams.outputSize(5, 2, 1, 1, 2);
            long ow = ConvParams.outputSize(6, 3, 0, 2, 1);
            Tensor diff = filled(arena, DType.FLOAT32, 3, 2, 6, oh, ow);
            Tensor rin = filled(arena, DType.UINT8, 4, 2, 5, 6);
            Tensor rout = filled(arena, DType.UINT8, 5, 2, oh, ow);
            RegionConv java = RegionConv.of(Backend.JAVA);
            Tensor dst = java.forward(src, filter, rin, rout, p, arena);
            Tensor gsrc = java.backwardData(filter, diff, rin, rout, p, arena);
            Tensor gf = java.backwardFilter(src, diff, rin, rout, p, 2, 3, arena);
            String[] common = {"--rin", save("rin.npy", rin), "--rout", save("rout.npy", rout), "--stride", "2,1",
                "--padding", "1,0", "--dilation", "1,2", "--mode", "convolution", "--backend", backend, "--threads", "2"};
            save("src.npy", src);
            save("filter.npy", filter);
            save("filter4.npy", filter.reshape(6, 2, 2, 3));
            save("diff.npy", diff);

            Path out = dir.resolve("out.npy");
            run(common, "--op", "forward", "--src", f("src.npy"), "--filter", f("filter.npy"), "--out", out.toString());
            assertArrayEquals(dst.shape(), shapeOf(out));
            assertArrayEquals(dst.toFloatArray(), read(out));
            run(common, "--op", "forward", "--src", f("src.npy"), "--filter", f("filter4.npy"), "--groups", "2",
                    "--kernel", "2,3", "--out", out.toString());
            assertArrayEquals(dst.toFloatArray(), read(out));
            run(common, "--op", "backward-data", "--filter", f("filter.npy"), "--diff", f("diff.npy"), "--out", out.toString());
            assertArrayEquals(gsrc.shape(), shapeOf(out));
            assertArrayEquals(gsrc.toFloatArray(), read(out));
            run(common, "--op", "backward-filter", "--src", f("src.npy"), "--diff", f("diff.npy"), "--kernel", "2,3",
                    "--groups", "2", "--out", out.toString());
            assertArrayEquals(new long[] {2, 3, 2, 2, 3}, shapeOf(out));
            assertArrayEquals(gf.toFloatArray(), read(out));
        } finally {
            RegionConv.setThreads(0);
        }
    }

    private static void run(String[] common, String... rest) {
        List<String> a = new ArrayList<>(List.of("run"));
        a.addAll(List.of(rest));
        a.addAll(List.of(common));
        Result r = cli(a.toArray(String[]::new));
        assertEquals(0, r.code, () -> String.join(" ", a) + " -> " + r.err);
    }

    @Test
    void singleNumbersAndEqualsSyntax() throws IOException {
        exampleFiles(false);
        Path out = dir.resolve("dst.npy");
        assertOk(cli("run", "--op=forward", "--src", f("src.npy"), "--filter", f("filter.npy"), "--rin", f("rin.npy"),
                "--rout", f("rout.npy"), "--stride", "1", "--padding=0", "--dilation", "1", "--kernel", "2",
                "--backend", "java", "--out", out.toString()));
        assertArrayEquals(DST_A, read(out));
    }

    // ---- help, usage, demo, explain, info -------------------------------------------------------

    @Test
    void helpForEveryCommand() {
        for (String c : List.of("run", "demo", "explain", "info")) {
            for (String h : List.of("--help", "-h")) {
                Result r = cli(c, h);
                assertOk(r);
                assertTrue(r.out.startsWith("usage: rrconv " + c), r.out);
            }
            assertEquals(cli(c, "--help").out, cli("help", c).out);
        }
        // help wins over anything else on the line
        assertTrue(cli("run", "--op", "nonsense", "--help").out.startsWith("usage: rrconv run"));
        Result top = cli("--help");
        assertOk(top);
        for (String c : List.of("run", "demo", "explain", "info")) {
            assertTrue(top.out.contains("\n  " + c + " "), c);
        }
        assertTrue(cli("-h").out.startsWith("usage: rrconv <command>"));
        assertTrue(cli("--version").out.startsWith("rrconv "));
        String run = cli("run", "--help").out;
        for (String o : List.of("--op", "--src", "--filter", "--diff", "--rin", "--rout", "--stride", "--padding",
                "--dilation", "--groups", "--mode", "--kernel", "--backend", "--threads", "--out")) {
            assertTrue(run.contains(o + " "), o);
        }
    }

    @Test
    void noArgumentsPrintsUsageWithExitCode2() {
        Result r = cli();
        assertEquals(2, r.code);
        assertTrue(r.err.startsWith("usage: rrconv <command>"), r.err);
        assertEquals("", r.out);
    }

    @ParameterizedTest
    @ValueSource(strings = {"java", "native"})
    void demoPrintsBothExamples(String backend) {
        Result r = cli("demo", "--backend", backend);
        assertOk(r);
        assertTrue(r.out.contains(backend + " backend"), r.out);
        List<String> lines = r.out.lines().map(String::strip).toList();
        for (String row : List.of("0 2 5 3", "1 6 5 3", "0 13 9 9", "0 7 9 9", "1 2", "3 4", "10 12", "14 16")) {
            assertTrue(lines.contains(row), () -> "no row '" + row + "' in\n" + r.out);
        }
        assertTrue(r.out.contains("grad src, flat: 0 2 5 3 1 6 5 3 0 13 9 9 0 7 9 9\n"), r.out);
        assertTrue(r.out.contains("grad src, flat: 1 2 3 4 10 12 14 16\n"), r.out);
        assertTrue(r.out.contains("Example (b)") && r.out.contains("Example (c)"));
        assertFalse(r.out.contains("MISMATCH"));
        assertEquals(r.out, cli("demo", "--backend", backend).out, "deterministic apart from nothing");
    }

    @Test
    void demoDefaultsToNative() {
        Result r = cli("demo");
        assertOk(r);
        assertTrue(r.out.startsWith("rrconv demo: backward data (the gradient w.r.t. src), native backend\n"), r.out);
    }

    @Test
    void explainExampleB() {
        Result r = cli("explain");
        assertOk(r);
        assertTrue(r.out.contains("\ngrad[0][0][1][2] accumulates filter[0][0][0][1][0] * diff[0][0][0][2]\n"), r.out);
        assertTrue(r.out.contains("\ngrad[0][0][1][2] accumulates filter[0][0][0][1][1] * diff[0][0][0][1]\n"), r.out);
        assertTrue(r.out.contains("\ngrad[0][0][0][0] accumulates nothing\n"), r.out);
        assertTrue(r.out.contains("\ngrad[0][0][3][3] accumulates filter[0][0][0][1][1] * diff[0][0][2][2]\n"), r.out);
        assertFalse(r.out.contains(" skips "));
        assertTrue(r.out.contains("16 grad elements, 17 products accumulated, 19 taps skipped by region, 0 by padding"), r.out);
        // the same with --op and the shape spelled out
        Result same = cli("explain", "--op", "backward-data", "--input", "4,4", "--kernel", "2", "--rin",
                "1,1,1,1,0,1,1,1,0,0,1,1,0,1,1,1", "--rout", "0,1,1,1,0,0,1,0,1");
        String note = "  rin and rout not given: the masks of example (b)\n";
        assertTrue(r.out.contains(note), r.out);
        assertEquals(r.out.replace(note, ""), same.out);

        Result v = cli("explain", "--verbose");
        assertOk(v);
        assertTrue(v.out.contains("\ngrad[0][0][1][2] skips filter[0][0][0][0][0] * diff[0][0][1][2] (region 1 != 0)\n"), v.out);
        assertTrue(v.out.contains("\ngrad[0][0][1][0] skips filter[0][0][0][0][0] * diff[0][0][1][0] (region 0 != 1)\n"), v.out);
    }

    @Test
    void explainedTermsSumToTheResults() {
        // example (b): filter of ones, diff 1..9
        assertArrayEquals(DemoCommand.GRAD_B, sum(cli("explain").out, new long[] {1, 1, 4, 4},
                (a, i) -> a.equals("diff") ? DIFF_B[(int) i] : 1, "grad"));
        // example (a), forward: src 0..15, filter of ones
        assertArrayEquals(DST_A, sum(cli("explain", "--op", "forward").out, new long[] {1, 1, 3, 3},
                (a, i) -> a.equals("src") ? SRC_A[(int) i] : 1, "dst"));
        assertArrayEquals(GRAD_FILTER_AB, sum(cli("explain", "--op", "backward-filter").out, new long[] {1, 1, 1, 2, 2},
                (a, i) -> a.equals("src") ? SRC_A[(int) i] : DIFF_B[(int) i], "grad"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"forward", "backward-data", "backward-filter"})
    void explainAgreesWithTheLibrary(String op) throws IOException {
        ConvParams p = new ConvParams(2, 1, 1, 1, 1, 2, 2, Mode.CONVOLUTION);
        long[] srcShape = {2, 4, 5, 6};
        long[] filterShape = {2, 3, 2, 2, 3};
        try (Arena arena = Arena.ofConfined()) {
            long oh = ConvParams.outputSize(5, 2, 1, 1, 2);
            long ow = ConvParams.outputSize(6, 3, 1, 2, 1);
            Tensor src = filled(arena, DType.FLOAT32, 1, srcShape);
            Tensor filter = filled(arena, DType.FLOAT32, 2, filterShape);
            Tensor diff = filled(arena, DType.FLOAT32, 3, 2, 6, oh, ow);
            Tensor rin = filled(arena, DType.INT32, 4, 2, 5, 6);
            Tensor rout = filled(arena, DType.INT32, 5, 2, oh, ow);
            String rinFile = save("rin.npy", rin);
            RegionConv conv = RegionConv.of(Backend.JAVA);
            Tensor expected = switch (op) {
                case "forward" -> conv.forward(src, filter, rin, rout, p, arena);
                case "backward-data" -> conv.backwardData(filter, diff, rin, rout, p, arena);
                default -> conv.backwardFilter(src, diff, rin, rout, p, 2, 3, arena);
            };
            String routValues = String.join(",", Arrays.stream(rout.toIntArray()).mapToObj(Integer::toString).toList());
            // N, IH, IW from the rin file; rout inline
            Result r = cli("explain", "--op", op, "--filter-shape", "6,2,2,3", "--groups", "2", "--stride", "2,1",
                    "--padding", "1", "--dilation", "1,2", "--mode", "convolution", "--rin", rinFile, "--rout", routValues);
            assertOk(r);
            float[] got = sum(r.out, expected.shape(), (a, i) -> switch (a) {
                case "src" -> src.toFloatArray()[(int) i];
                case "filter" -> filter.toFloatArray()[(int) i];
                default -> diff.toFloatArray()[(int) i];
            }, op.equals("forward") ? "dst" : "grad");
            assertArrayEquals(expected.toFloatArray(), got);
            Result v = cli("explain", "--op", op, "--src-shape", "2,4,5,6", "--filter-shape", "2,3,2,2,3", "--stride", "2,1",
                    "--padding", "1", "--dilation", "1,2", "--mode", "convolution", "--rin", rinFile, "--rout", routValues,
                    "--verbose");
            assertOk(v);
            if (!op.equals("backward-data")) {
                assertTrue(v.out.contains(" (padding)\n"), "padding taps listed");
            }
            assertTrue(v.out.contains(" (region 0 != 1)\n"));
        }
    }

    interface Values {
        float of(String array, long flatIndex);
    }

    private static final Pattern TERM = Pattern.compile(
            "^(\\w+)((?:\\[\\d+\\])+) accumulates (\\w+)((?:\\[\\d+\\])+) \\* (\\w+)((?:\\[\\d+\\])+)$");

    /** Evaluates an explain trace: sums value(a) * value(b) into the result element of each line. */
    private static float[] sum(String trace, long[] resultShape, Values values, String resultName) {
        long[] dims = resultShape;
        float[] acc = new float[(int) Arrays.stream(dims).reduce(1, (x, y) -> x * y)];
        int matched = 0;
        for (String line : trace.lines().toList()) {
            Matcher m = TERM.matcher(line);
            if (!m.matches()) {
                continue;
            }
            matched++;
            assertEquals(resultName, m.group(1));
            long out = flat(m.group(2), dims);
            float a = values.of(m.group(3), flatOf(trace, m.group(3), m.group(4)));
            float b = values.of(m.group(5), flatOf(trace, m.group(5), m.group(6)));
            acc[(int) out] += a * b;
        }
        assertTrue(matched > 0, "no trace lines");
        return acc;
    }

    /** The shape of an array as the explain header gives it ("... filter (2, 3, 2, 2, 3) ..."). */
    private static long flatOf(String trace, String array, String index) {
        Matcher m = Pattern.compile("\\b" + array + " \\(([0-9, ]+)\\)").matcher(trace.lines().findFirst().orElseThrow());
        assertTrue(m.find(), "shape of " + array + " in the header");
        long[] dims = Arrays.stream(m.group(1).split(", ")).mapToLong(Long::parseLong).toArray();
        return flat(index, dims);
    }

    private static long flat(String index, long[] dims) {
        long[] idx = Arrays.stream(index.substring(1, index.length() - 1).split("\\]\\[")).mapToLong(Long::parseLong).toArray();
        assertEquals(dims.length, idx.length, index);
        long f = 0;
        for (int i = 0; i < dims.length; i++) {
            assertTrue(idx[i] >= 0 && idx[i] < dims[i], index);
            f = f * dims[i] + idx[i];
        }
        return f;
    }

    @Test
    void explainRefusesLargeProblemsAndBadMasks() {
        Result r = cli("explain", "--input", "200,200", "--kernel", "3");
        assertError(r, 1, "too large");
        r = cli("explain", "--rin", "1,2,3");
        assertError(r, 1, "--rin: 3 values given");
        r = cli("explain", "--src-shape", "1,1,4,4", "--input", "4,4");
        assertError(r, 2, "not both");
        r = cli("explain", "--op", "sideways");
        assertError(r, 2, "unknown --op 'sideways'");
        r = cli("explain", "--filter-shape", "1,1,1,2,2", "--kernel", "3");
        assertError(r, 1, "does not match");
        // one value for all pixels: a single region, nothing is skipped
        r = cli("explain", "--input", "3", "--rin", "7", "--rout", "7");
        assertOk(r);
        assertTrue(r.out.contains(", 0 taps skipped by region"), r.out);
    }

    @Test
    void infoShowsRuntimeAndNativeLibrary() {
        Result r = cli("info");
        assertOk(r);
        assertTrue(r.out.startsWith("rrconv "), r.out);
        assertTrue(r.out.contains(System.getProperty("java.version")));
        assertTrue(r.out.contains(System.getProperty("java.home")));
        assertTrue(r.out.contains(System.getProperty("os.arch")));
        assertTrue(r.out.contains("native:  librrconv " + NativeLibrary.get().version()), r.out);
        assertTrue(r.out.contains("loaded from: " + NativeLibrary.get().loadedFrom()), r.out);
        assertTrue(r.out.contains("isa:         " + NativeLibrary.get().activeIsa()), r.out);
        // which platform's library, and why: the tests run on target/classes with the bundled library
        String platform = "linux-" + ("amd64".equals(System.getProperty("os.arch")) ? "x86_64" : System.getProperty("os.arch"));
        assertTrue(r.out.contains("platform: " + platform + " (the jar carries librrconv for linux-x86_64"), r.out);
        assertTrue(r.out.contains("why:         bundled for " + platform + "\n"), r.out);
        assertTrue(r.out.contains("backend: native (auto: the native library loaded (bundled for " + platform + ", from "
                + NativeLibrary.get().loadedFrom() + "))\n"), r.out);
        assertError(cli("info", "--verbose"), 2, "unknown option --verbose");
        assertFalse(r.out.contains("java_forward_planar"), "the tables only with --kernels");
    }

    @Test
    void infoKernelsListsBothTables() {
        Result r = cli("info", "--kernels");
        assertOk(r);
        List<String> lines = r.out.lines().toList();
        int java = lines.indexOf("java kernels (RRCONV_JAVA_KERNEL=<name> or -Drrconv.javaKernel=<name> forces one):");
        assertTrue(java > 0, r.out);
        assertTrue(lines.get(java + 1).matches(" +name +direction +isa +dtype +layout +runs here +applies"), r.out);
        for (KernelInfo k : RegionConv.of(Backend.JAVA).kernels()) {
            assertTrue(lines.stream().anyMatch(l -> l.matches(" +" + k.name() + " +" + k.direction()
                    + " +java +f32 +" + k.layout() + " +yes +" + Pattern.quote(k.applies()))), k.name() + " in\n" + r.out);
        }
        Optional<List<KernelInfo>> nat = NativeLibrary.get().kernels();
        if (nat.isEmpty()) { // a library from before the kernel table: one line says so
            assertTrue(r.out.contains("native kernels: this librrconv has no kernel table (rrconv_kernel_count):"
                    + " an older build\n"), r.out);
        } else {
            for (KernelInfo k : nat.get()) {
                assertTrue(lines.stream().anyMatch(l -> l.matches(" +" + Pattern.quote(k.name()) + " +" + k.direction()
                        + " +" + k.isa() + " +.*")), k.name() + " in\n" + r.out);
            }
        }
    }

    // ---- errors: one line, exit code, no output file --------------------------------------------

    private static void assertError(Result r, int code, String fragment) {
        assertEquals(code, r.code, () -> "exit code; stderr: " + r.err + " stdout: " + r.out);
        assertEquals(1, r.errLines().size(), () -> "one line on stderr: " + r.err);
        assertTrue(r.err.startsWith("rrconv: error: "), r.err);
        assertTrue(r.err.contains(fragment), () -> "'" + fragment + "' not in: " + r.err);
        assertFalse(r.err.contains("\tat "), "no stack trace");
    }

    /** Runs a failing command twice: with no output file, and with an existing one that must survive. */
    private void assertFails(int code, String fragment, String... runArgs) throws IOException {
        Path out = dir.resolve("result.npy");
        Files.deleteIfExists(out);
        List<String> a = new ArrayList<>(List.of(runArgs));
        a.addAll(List.of("--out", out.toString()));
        Result r = cli(a.toArray(String[]::new));
        assertError(r, code, fragment);
        assertFalse(Files.exists(out), "no output file");
        Files.writeString(out, "keep me");
        r = cli(a.toArray(String[]::new));
        assertError(r, code, fragment);
        assertEquals("keep me", Files.readString(out), "existing output untouched");
        Files.delete(out);
        assertNoTemporaryFiles();
    }

    private void assertNoTemporaryFiles() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> tmp = s.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
            assertEquals(List.of(), tmp);
        }
    }

    @Test
    void badCommandLines() throws IOException {
        exampleFiles(false);
        String[] fwd = {"run", "--op", "forward", "--src", f("src.npy"), "--filter", f("filter.npy"), "--rin", f("rin.npy"),
            "--rout", f("rout.npy"), "--backend", "java"};
        assertFails(2, "missing option --src", "run", "--op", "forward", "--filter", f("filter.npy"), "--rin", f("rin.npy"),
                "--rout", f("rout.npy"));
        assertFails(2, "missing option --op", "run", "--src", f("src.npy"));
        assertFails(2, "missing option --kernel", "run", "--op", "backward-filter", "--src", f("src.npy"), "--diff",
                f("diff.npy"), "--rin", f("rin.npy"), "--rout", f("rout.npy"));
        assertFails(2, "unknown option --strides (did you mean --stride?)", concat(fwd, "--strides", "2"));
        assertFails(2, "unknown --op 'sideways'", "run", "--op", "sideways");
        assertFails(2, "option --diff is not used by --op forward", concat(fwd, "--diff", f("diff.npy")));
        assertFails(2, "option --filter is not used by --op backward-filter", "run", "--op", "backward-filter", "--src",
                f("src.npy"), "--diff", f("diff.npy"), "--kernel", "2", "--filter", f("filter.npy"), "--rin", f("rin.npy"),
                "--rout", f("rout.npy"));
        assertFails(2, "option --stride given twice", concat(fwd, "--stride", "1", "--stride", "2"));
        assertFails(2, "--stride: expected an integer or two", concat(fwd, "--stride", "1,x"));
        assertFails(2, "--stride: expected an integer or two", concat(fwd, "--stride", "1,2,3"));
        assertFails(2, "stride must be >= 1", concat(fwd, "--stride", "0"));
        assertFails(2, "padding must be >= 0", concat(fwd, "--padding", "-1"));
        assertFails(2, "mode must be cross-correlation or convolution", concat(fwd, "--mode", "flip"));
        assertFails(2, "backend must be auto, native, java or java-scalar", replace(fwd, "java", "gpu"));
        assertFails(2, "threads must be in 0..1024", concat(fwd, "--threads", "5000"));
        assertFails(2, "unexpected argument 'extra'", concat(fwd, "extra"));
        assertFails(2, "option --rin needs a value", "run", "--op", "forward", "--rin");

        Result r = cli("frobnicate");
        assertError(r, 2, "unknown command 'frobnicate'");
        r = cli("--frobnicate");
        assertError(r, 2, "unknown option '--frobnicate'");
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @ParameterizedTest
    @ValueSource(strings = {"java", "native"})
    void badInputs(String backend) throws IOException {
        exampleFiles(false);
        String[] fwd = {"run", "--op", "forward", "--src", f("src.npy"), "--filter", f("filter.npy"), "--rin", f("rin.npy"),
            "--backend", backend};
        // shape mismatch: the library's message reaches stderr
        assertFails(1, "rout must have shape [1, 3, 3], got [1, 4, 4]", concat(fwd, "--rout", f("rin.npy")));
        assertFails(1, "--groups 2 does not match --filter", concat(fwd, "--rout", f("rout.npy"), "--groups", "2"));
        assertFails(1, "--kernel 3,3 does not match --filter", concat(fwd, "--rout", f("rout.npy"), "--kernel", "3"));
        assertFails(1, "output would be empty", concat(fwd, "--rout", f("rout.npy"), "--dilation", "5"));
        // wrong dtypes
        assertFails(1, "src must be float data (float32 '<f4', float16 '<f2' or float64 '<f8'), got int32 ('<i4')", "run", "--op", "forward", "--src", f("rin.npy"), "--filter", f("filter.npy"),
                "--rin", f("rin.npy"), "--rout", f("rout.npy"), "--backend", backend);
        assertFails(1, "region masks must be integers (int32, uint8, int64, ... or bool), got float32 ('<f4');"
                + " convert with a.astype(np.int32)", concat(fwd, "--rout", f("diff.npy")));
        save("rout8.npy", Tensor.ofBytes(bytes(DemoCommand.ROUT_B), 1, 3, 3));
        assertFails(1, "rin and rout must have the same dtype", concat(fwd, "--rout", f("rout8.npy")));
        // bad .npy files name the file
        Files.write(dir.resolve("be.npy"), NpyTest.npy(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (1, 1, 3, 3), }",
                new byte[72]));
        assertFails(1, f("be.npy") + ": unsupported dtype '<c8' (complex64)", replace(concat(fwd, "--rout", f("rout.npy")), f("src.npy"),
                f("be.npy")));
        Files.write(dir.resolve("short.npy"), Arrays.copyOf(Files.readAllBytes(dir.resolve("src.npy")), 150));
        assertFails(1, f("short.npy") + ": truncated data", replace(concat(fwd, "--rout", f("rout.npy")), f("src.npy"),
                f("short.npy")));
        Files.writeString(dir.resolve("text.npy"), "hello");
        assertFails(1, "not a .npy file", replace(concat(fwd, "--rout", f("rout.npy")), f("rin.npy"), f("text.npy")));
        assertFails(1, "--src " + f("none.npy") + ": no such file", replace(concat(fwd, "--rout", f("rout.npy")), f("src.npy"),
                f("none.npy")));
    }

    private static String[] replace(String[] a, String from, String to) {
        String[] r = a.clone();
        for (int i = 0; i < r.length; i++) {
            if (r[i].equals(from)) {
                r[i] = to;
                break;
            }
        }
        return r;
    }

    @Test
    void outputDirectoryMissingOrOutputIsADirectory() throws IOException {
        exampleFiles(false);
        String[] fwd = {"run", "--op", "forward", "--src", f("src.npy"), "--filter", f("filter.npy"), "--rin", f("rin.npy"),
            "--rout", f("rout.npy"), "--backend", "java"};
        Result r = cli(concat(fwd, "--out", f("missing/dst.npy")));
        assertError(r, 1, "does not exist");
        assertFalse(Files.exists(dir.resolve("missing")));
        Files.createDirectory(dir.resolve("d.npy"));
        r = cli(concat(fwd, "--out", f("d.npy")));
        assertError(r, 1, "is a directory");
        assertTrue(Files.isDirectory(dir.resolve("d.npy")));
        assertNoTemporaryFiles();
    }

    @Test
    void inputMayBeOverwrittenByTheOutput() throws IOException {
        exampleFiles(false);
        // the input is mapped while the result replaces it: the rename keeps the mapping valid
        Path diff = dir.resolve("diff.npy");
        Files.copy(diff, dir.resolve("grad.npy"));
        assertOk(cli("run", "--op", "backward-data", "--filter", f("filter.npy"), "--diff", f("grad.npy"), "--rin",
                f("rin.npy"), "--rout", f("rout.npy"), "--backend", "java", "--out", f("grad.npy")));
        assertArrayEquals(DemoCommand.GRAD_B, read(dir.resolve("grad.npy")));
        assertNotEquals(0, Files.size(diff));
    }
}
