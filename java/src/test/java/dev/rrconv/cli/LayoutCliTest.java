package dev.rrconv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rrconv.DType;
import dev.rrconv.Layout;
import dev.rrconv.RegionConv;
import dev.rrconv.Tensor;
import dev.rrconv.cli.CliTest.Result;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code --layout nhwc} on {@code run}, {@code explain} and {@code bench}: channels-last files give the NCHW
 * results transposed (the test transposes with its own index arithmetic), the filter, masks and the
 * backward-filter result are unchanged, and bad shapes are reported with the layout named.
 */
class LayoutCliTest {
    @TempDir
    Path dir;

    @AfterEach
    void restoreThreads() {
        RegionConv.setThreads(0);
    }

    // N=2, G=2, ICPG=2, OCPG=3, 5x6 input, 2x3 kernel, stride 2,1, padding 1,0, dilation 1,2, convolution
    private static final long N = 2;
    private static final long IC = 4;
    private static final long OC = 6;
    private static final long IH = 5;
    private static final long IW = 6;
    private static final long OH = 3; // (5 + 2 - 1*(2-1) - 1) / 2 + 1
    private static final long OW = 2; // (6 + 0 - 2*(3-1) - 1) / 1 + 1
    private static final String[] PARAMS = {"--stride", "2,1", "--padding", "1,0", "--dilation", "1,2", "--mode",
        "convolution", "--groups", "2"};

    /** Small integers: every sum is exact, so both layouts must give the same bits. */
    private static float[] values(long count, int seed) {
        float[] v = new float[Math.toIntExact(count)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((i * 37L + seed * 11L) % 7 - 3);
        }
        return v;
    }

    /** (N, C, H, W) C-order values to (N, H, W, C) C order, by index arithmetic. */
    private static float[] toNhwc(float[] nchw, long n, long c, long h, long w) {
        float[] out = new float[nchw.length];
        for (long in = 0; in < n; in++) {
            for (long ic = 0; ic < c; ic++) {
                for (long y = 0; y < h; y++) {
                    for (long x = 0; x < w; x++) {
                        out[(int) (((in * h + y) * w + x) * c + ic)] = nchw[(int) (((in * c + ic) * h + y) * w + x)];
                    }
                }
            }
        }
        return out;
    }

    private String save(String name, Tensor t) throws IOException {
        Path p = dir.resolve(name);
        Npy.write(p, t);
        return p.toString();
    }

    private static Tensor read(Path p, Arena arena) throws IOException {
        return Npy.read(p, arena);
    }

    private static void assertOk(Result r) {
        assertEquals(0, r.code(), () -> "exit code; stderr: " + r.err());
        assertEquals("", r.err());
    }

    private String[] files() throws IOException {
        float[] src = values(N * IC * IH * IW, 1);
        float[] diff = values(N * OC * OH * OW, 3);
        int[] rin = new int[(int) (N * IH * IW)];
        int[] rout = new int[(int) (N * OH * OW)];
        for (int i = 0; i < rin.length; i++) {
            rin[i] = (i * 5 + 1) % 3 % 2;
        }
        for (int i = 0; i < rout.length; i++) {
            rout[i] = (i * 7 + 2) % 3 % 2;
        }
        return new String[] {
            save("src.npy", Tensor.ofFloats(src, N, IC, IH, IW)),
            save("src_nhwc.npy", Tensor.ofFloats(toNhwc(src, N, IC, IH, IW), N, IH, IW, IC)),
            save("filter.npy", Tensor.ofFloats(values(OC * 2 * 2 * 3, 2), 2, 3, 2, 2, 3)),
            save("diff.npy", Tensor.ofFloats(diff, N, OC, OH, OW)),
            save("diff_nhwc.npy", Tensor.ofFloats(toNhwc(diff, N, OC, OH, OW), N, OH, OW, OC)),
            save("rin.npy", Tensor.ofBytes(bytes(rin), N, IH, IW)),
            save("rout.npy", Tensor.ofBytes(bytes(rout), N, OH, OW)),
        };
    }

    private static byte[] bytes(int[] v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return b;
    }

    private Result run(String backend, String layout, String... rest) {
        List<String> a = new ArrayList<>(List.of("run", "--backend", backend, "--layout", layout, "--rin",
                dir.resolve("rin.npy").toString(), "--rout", dir.resolve("rout.npy").toString(), "--threads", "2"));
        a.addAll(List.of(PARAMS));
        a.addAll(List.of(rest));
        return CliTest.cli(a.toArray(String[]::new));
    }

    @ParameterizedTest
    @CsvSource({"java,forward", "java,backward-data", "java,backward-filter", "native,forward",
        "native,backward-data", "native,backward-filter"})
    void runNhwcIsNchwTransposed(String backend, String op) throws IOException {
        files();
        String f = dir.resolve("filter.npy").toString();
        Path outNchw = dir.resolve("out.npy");
        Path outNhwc = dir.resolve("out_nhwc.npy");
        String[] nchwArgs = switch (op) {
            case "forward" -> new String[] {"--op", op, "--src", dir.resolve("src.npy").toString(), "--filter", f};
            case "backward-data" -> new String[] {"--op", op, "--diff", dir.resolve("diff.npy").toString(), "--filter", f};
            default -> new String[] {"--op", op, "--src", dir.resolve("src.npy").toString(), "--diff",
                dir.resolve("diff.npy").toString(), "--kernel", "2,3"};
        };
        String[] nhwcArgs = Arrays.stream(nchwArgs).map(s -> s.replace("src.npy", "src_nhwc.npy")
                .replace("diff.npy", "diff_nhwc.npy")).toArray(String[]::new);
        assertOk(run(backend, "nchw", concat(nchwArgs, "--out", outNchw.toString())));
        Result r = run(backend, "nhwc", concat(nhwcArgs, "--out", outNhwc.toString()));
        assertOk(r);
        try (Arena arena = Arena.ofConfined()) {
            Tensor a = read(outNchw, arena);
            Tensor b = read(outNhwc, arena);
            float[] expected = switch (op) {
                case "forward" -> {
                    assertArrayEquals(new long[] {N, OH, OW, OC}, b.shape());
                    yield toNhwc(a.toFloatArray(), N, OC, OH, OW);
                }
                case "backward-data" -> {
                    assertArrayEquals(new long[] {N, IH, IW, IC}, b.shape());
                    yield toNhwc(a.toFloatArray(), N, IC, IH, IW);
                }
                default -> {
                    assertArrayEquals(new long[] {2, 3, 2, 2, 3}, b.shape(), "the filter gradient keeps its layout");
                    yield a.toFloatArray();
                }
            };
            assertArrayEquals(expected, b.toFloatArray());
            assertFalse(Arrays.equals(new float[expected.length], expected), "a non-trivial result");
            assertTrue(r.out().contains(Npy.tuple(b.shape())), r.out());
        }
    }

    @Test
    void runNhwcBadShapesNameTheLayout() throws IOException {
        files();
        save("src3.npy", Tensor.ofFloats(new float[(int) (IH * IW * IC)], IH, IW, IC));
        String f = dir.resolve("filter.npy").toString();
        Path out = dir.resolve("bad.npy");
        // rank: a 3-D src
        Result r = run("java", "nhwc", "--op", "forward", "--src", dir.resolve("src3.npy").toString(), "--filter", f,
                "--out", out.toString());
        assertError(r, 1, "with --layout nhwc, src must be 4-D (N, IH, IW, IC), got shape (5, 6, 4)");
        // an NCHW file given as NHWC: (2, 4, 5, 6) read as C = 6, but the filter wants 4 channels
        r = run("native", "nhwc", "--op", "forward", "--src", dir.resolve("src.npy").toString(), "--filter", f,
                "--out", out.toString());
        assertError(r, 1, "--layout nhwc");
        assertTrue(r.err().contains("6 channels"), r.err());
        // diff of the wrong rank for backward data
        r = run("java", "nhwc", "--op", "backward-data", "--diff", dir.resolve("src3.npy").toString(), "--filter", f,
                "--out", out.toString());
        assertError(r, 1, "with --layout nhwc, diff must be 4-D (N, OH, OW, OC)");
        // an unknown layout is a usage error
        r = run("java", "nwhc", "--op", "forward", "--src", dir.resolve("src.npy").toString(), "--filter", f,
                "--out", out.toString());
        assertError(r, 2, "layout must be nchw or nhwc, got 'nwhc'");
        assertFalse(Files.exists(out), "nothing written");
    }

    private static void assertError(Result r, int code, String fragment) {
        assertEquals(code, r.code(), () -> "exit code; stderr: " + r.err());
        assertEquals(1, r.errLines().size(), () -> "one line on stderr: " + r.err());
        assertTrue(r.err().contains(fragment), () -> "'" + fragment + "' not in: " + r.err());
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    // ---- explain ----------------------------------------------------------------------------------

    private static final Pattern ACTIVATION = Pattern.compile(
            "\\b(src|dst|diff|grad)\\[(-?\\d+)\\]\\[(-?\\d+)\\]\\[(-?\\d+)\\]\\[(-?\\d+)\\](?!\\[)");

    /** Rewrites every 4-D activation index of a trace line from (n, c, h, w) to (n, h, w, c). */
    private static String transposeIndices(String line) {
        Matcher m = ACTIVATION.matcher(line);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(sb, m.group(1) + "[" + m.group(2) + "][" + m.group(4) + "][" + m.group(5) + "]["
                    + m.group(3) + "]");
        }
        return m.appendTail(sb).toString();
    }

    private static List<String> traceLines(String out) {
        return out.lines().filter(l -> l.contains(" accumulates ") || l.contains(" skips ")).toList();
    }

    /** rin of a (1, 3, 6) image; rout is one region (0) everywhere. */
    private static final String RIN = "0,1,1,0,1,0,0,1,1,1,0,0,1,0,1,1,0,1";

    @ParameterizedTest
    @ValueSource(strings = {"forward", "backward-data", "backward-filter"})
    void explainNhwcIsNchwTransposed(String op) {
        Result nchw = CliTest.cli(concat(new String[] {"explain", "--op", op, "--src-shape", "1,4,3,6", "--kernel", "2,3",
            "--out-channels", "6", "--rin", RIN, "--verbose"}, PARAMS));
        Result nhwc = CliTest.cli(concat(new String[] {"explain", "--op", op, "--src-shape", "1,3,6,4", "--kernel", "2,3",
            "--out-channels", "6", "--rin", RIN, "--verbose", "--layout", "nhwc"}, PARAMS));
        assertOk(nchw);
        assertOk(nhwc);
        List<String> expected = new ArrayList<>(traceLines(nchw.out()).stream().map(LayoutCliTest::transposeIndices)
                .toList());
        List<String> got = traceLines(nhwc.out());
        assertTrue(got.size() > 10, nhwc.out());
        if (op.equals("backward-filter")) {
            assertEquals(expected, got, "grad filter: the same elements in the same order, activations transposed");
        } else {
            // the result elements are listed in the C order of their (n, h, w, c) index
            List<long[]> order = got.stream().map(l -> index(l.substring(0, l.indexOf(' ')))).toList();
            for (int i = 1; i < order.size(); i++) {
                assertTrue(Arrays.compare(order.get(i - 1), order.get(i)) <= 0, got.get(i - 1) + " before " + got.get(i));
            }
            List<String> sortedExpected = new ArrayList<>(expected);
            List<String> sortedGot = new ArrayList<>(got);
            sortedExpected.sort(null);
            sortedGot.sort(null);
            assertEquals(sortedExpected, sortedGot);
        }
        assertTrue(nhwc.out().contains("channels-last"), nhwc.out());
        assertTrue(nhwc.out().contains("src (1, 3, 6, 4)"), nhwc.out());
        assertTrue(nhwc.out().contains("diff (1, 2, 2, 6)") || op.equals("forward"), nhwc.out());
    }

    private static long[] index(String element) {
        return Arrays.stream(element.substring(element.indexOf('[') + 1, element.length() - 1).split("\\]\\["))
                .mapToLong(Long::parseLong).toArray();
    }

    // ---- bench ------------------------------------------------------------------------------------

    @Test
    void benchNhwcAllocatesChannelsLastAndSaysSo() throws IOException {
        Path json = dir.resolve("b.json");
        Result r = CliTest.cli("bench", "--shapes", "DW-K3", "--backends", "java,native", "--reps", "1", "--warmup",
                "0", "--layout", "nhwc", "--json", json.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("layout nhwc"), r.out());
        List<String> rows = r.out().lines().filter(l -> l.startsWith("DW-K3 ")).toList();
        assertEquals(6, rows.size(), r.out());
        for (String row : rows) {
            assertTrue(row.matches("DW-K3\\s+\\S+\\s+random\\s+nhwc\\s+.*"), row);
        }
        String text = Files.readString(json);
        assertEquals(6, text.split("\"layout\": \"nhwc\"", -1).length - 1, text);

        r = CliTest.cli("bench", "--shapes", "DW-K3", "--ops", "forward", "--backends", "java", "--reps", "1",
                "--warmup", "0", "--json", json.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.readString(json).contains("\"mask\": \"random\", \"layout\": \"nchw\","));

        r = CliTest.cli("bench", "--layout", "chwn");
        assertError(r, 2, "layout must be nchw or nhwc, got 'chwn'");
    }

    @Test
    void benchProblemAllocatesActivationsInTheLayout() {
        try (Arena arena = Arena.ofConfined()) {
            BenchShape shape = BenchShape.named("GRP");
            BenchProblem p = new BenchProblem(shape, BenchProblem.Masks.RANDOM, DType.INT32, Layout.NHWC, 1, arena);
            for (BenchProblem.Op op : List.of(BenchProblem.Op.FORWARD, BenchProblem.Op.BACKWARD_DATA)) {
                Tensor out = p.output(op);
                long c = out.dim(1);
                assertEquals(1, out.stride(1), op + " channels innermost: " + out);
                assertEquals(c, out.stride(3), op + ": " + out);
                assertEquals(Layout.NHWC, Layout.of(out));
            }
            Tensor gf = p.output(BenchProblem.Op.BACKWARD_FILTER);
            assertTrue(gf.isContiguous() && gf.rank() == 5, gf.toString());
            BenchProblem q = new BenchProblem(shape, BenchProblem.Masks.RANDOM, DType.INT32, 1, arena);
            assertEquals(Layout.NCHW, Layout.of(q.output(BenchProblem.Op.FORWARD)));
        }
    }
}
