package dev.rrconv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.DType;
import dev.rrconv.RegionConv;
import dev.rrconv.Tensor;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

class BenchCommandTest {
    @TempDir
    Path dir;

    record Result(int code, String out, String err) {}

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

    private static final Set<String> KEYS = Set.of("shape", "op", "mask", "layout", "dtype", "backend", "threads", "ms",
            "gflops", "active_fraction");

    // ---- a real (tiny) run ----------------------------------------------------------------------

    @Test
    void tinyRunPrintsTableAndWritesJsonAndSvg() throws Exception {
        Path json = dir.resolve("bench.json");
        Path svg = dir.resolve("bench.svg");
        int threadsBefore = RegionConv.threads();
        Result r = cli("bench", "--shapes", "DW-K3", "--backends", "native,java,reference", "--reps", "1",
                "--warmup", "0", "--json", json.toString(), "--plot", svg.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(threadsBefore, RegionConv.threads(), "bench restores the thread count");

        // progress on stderr: one line per measurement, numbered
        List<String> progress = r.err().lines().filter(l -> l.startsWith("[")).toList();
        assertEquals(9, progress.size(), r.err());
        assertTrue(progress.get(0).startsWith("[1/9] DW-K3 forward native t=1 ..."), progress.get(0));
        assertTrue(progress.get(8).startsWith("[9/9] DW-K3 backward-filter reference t=1 ..."), progress.get(8));

        // the table: a header and 9 rows; every row of the same op has a speed-up, the reference 1.0x
        List<String> rows = r.out().lines().filter(l -> l.startsWith("DW-K3 ")).toList();
        assertEquals(9, rows.size(), r.out());
        assertTrue(r.out().contains("median ms") && r.out().contains("GFLOP/s") && r.out().contains("vs reference"));
        for (String row : rows) {
            assertTrue(row.matches(".*\\d+\\.\\dx$"), "speed-up column: " + row);
            if (row.contains(" reference ")) {
                assertTrue(row.endsWith(" 1.0x"), row);
            }
        }

        // JSON: 9 objects with exactly the documented keys and consistent values
        List<Map<String, Object>> results = parseJsonArray(Files.readString(json));
        assertEquals(9, results.size());
        double flops = BenchShape.named("DW-K3").flops();
        Set<String> combos = new TreeSet<>();
        for (Map<String, Object> o : results) {
            assertEquals(KEYS, o.keySet());
            assertEquals("DW-K3", o.get("shape"));
            assertEquals("random", o.get("mask"));
            assertEquals("nchw", o.get("layout"));
            assertEquals("float32", o.get("dtype"));
            assertEquals(1.0, (Double) o.get("threads"));
            double ms = (Double) o.get("ms");
            double gflops = (Double) o.get("gflops");
            assertTrue(ms > 0, "ms " + ms);
            assertEquals(flops / ms / 1e6, gflops, 1e-3 * gflops + 1e-4, "gflops = flops / time");
            double active = (Double) o.get("active_fraction");
            assertTrue(active > 0.30 && active < 0.42, "random ids in {1,2,3}: about a third active, got " + active);
            combos.add(o.get("op") + " " + o.get("backend"));
        }
        Set<String> expected = new TreeSet<>();
        for (String op : List.of("forward", "backward-data", "backward-filter")) {
            for (String b : List.of("native", "java", "reference")) {
                expected.add(op + " " + b);
            }
        }
        assertEquals(expected, combos);

        // SVG: well-formed XML, a panel title per direction, one bar (with a tooltip) per result
        Document doc = parseXml(Files.readAllBytes(svg));
        Element root = doc.getDocumentElement();
        assertEquals("svg", root.getTagName());
        assertEquals("http://www.w3.org/2000/svg", root.getNamespaceURI());
        List<String> texts = texts(doc);
        for (String panel : List.of("forward", "backward data", "backward filter")) {
            assertTrue(texts.contains(panel), "panel " + panel + " in " + texts);
        }
        assertEquals(9, bars(doc).size());
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(Set.of(json, svg), new HashSet<>(files.toList()), "no temporary files left");
        }
    }

    @Test
    void threadsMaskKindAndMaskDtype() throws Exception {
        Path json = dir.resolve("b.json");
        Result r = cli("bench", "--shapes", "DW-K3", "--ops", "forward", "--backends", "java,native", "--threads", "1,2",
                "--mask", "blocky", "--mask-dtype", "uint8", "--reps", "1", "--warmup", "0", "--json", json.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("mask blocky (uint8)"), r.out());
        List<Map<String, Object>> results = parseJsonArray(Files.readString(json));
        List<String> seen = new ArrayList<>();
        for (Map<String, Object> o : results) {
            assertEquals("blocky", o.get("mask"));
            assertEquals("forward", o.get("op"));
            seen.add(o.get("backend") + " t=" + ((Double) o.get("threads")).intValue());
        }
        assertEquals(List.of("java t=1", "native t=1", "java t=2", "native t=2"), seen);
        // no reference run: the speed-up column stays empty
        r.out().lines().filter(l -> l.startsWith("DW-K3 ")).forEach(l -> assertFalse(l.endsWith("x"), l));
    }

    @Test
    void javaVectorAndJavaScalarSideBySide() throws Exception {
        // the tests run with --add-modules jdk.incubator.vector: java is the vector loops, java-vector is accepted
        Path json = dir.resolve("j.json");
        Result r = cli("bench", "--shapes", "DW-K3", "--ops", "forward", "--backends", "native,java,java-vector,java-scalar",
                "--reps", "1", "--warmup", "0", "--json", json.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains(" · java backend: java_vector (jdk.incubator.vector, "), r.out());
        List<String> seen = new ArrayList<>();
        for (Map<String, Object> o : parseJsonArray(Files.readString(json))) {
            seen.add((String) o.get("backend"));
        }
        assertEquals(List.of("native", "java", "java-vector", "java-scalar"), seen);
        Result info = cli("info");
        assertTrue(info.out().contains("\njava backend: java_vector (jdk.incubator.vector, "), info.out());
    }

    // ---- bad command lines: exit 2, one line, nothing written ------------------------------------

    @Test
    void badOptionsAreUsageErrorsAndWriteNothing() throws IOException {
        String json = dir.resolve("out.json").toString();
        String svg = dir.resolve("out.svg").toString();
        String[][] bad = {
            {"--shapes", "DW-K5"},
            {"--shapes", "DW-K3,,GRP"},
            {"--ops", "sideways"},
            {"--backends", "cuda"},
            {"--threads", "0"},
            {"--threads", "two"},
            {"--threads", "2000"},
            {"--mask", "stripes"},
            {"--mask-dtype", "int16"},
            {"--warmup", "-1"},
            {"--reps", "0"},
            {"--reps", "many"},
            {"--seed", "abc"},
            {"--verbose"},
            {"positional"},
        };
        for (String[] b : bad) {
            List<String> args = new ArrayList<>(List.of("bench", "--json", json, "--plot", svg));
            args.addAll(List.of(b));
            Result r = cli(args.toArray(String[]::new));
            assertEquals(2, r.code(), String.join(" ", b) + ": " + r.err());
            assertEquals(1, r.err().lines().count(), r.err());
            assertTrue(r.err().startsWith("rrconv: error: "), r.err());
            assertEquals("", r.out(), "nothing measured for " + String.join(" ", b));
        }
        Result png = cli("bench", "--plot", dir.resolve("chart.png").toString());
        assertEquals(2, png.code());
        assertTrue(png.err().contains(".svg"), png.err());
        Result same = cli("bench", "--json", svg, "--plot", svg);
        assertEquals(2, same.code());
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(0, files.count(), "no output files");
        }
    }

    @Test
    void missingOutputDirectoryFailsBeforeMeasuring() {
        Result r = cli("bench", "--shapes", "DENSE", "--json", dir.resolve("no/such/dir/x.json").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("does not exist"), r.err());
        assertFalse(r.err().contains("[1/"), "nothing ran: " + r.err());
        Path svgDir = dir.resolve("x.svg");
        assertTrue(svgDir.toFile().mkdir());
        Result d = cli("bench", "--shapes", "DENSE", "--plot", svgDir.toString());
        assertEquals(1, d.code(), d.err());
        assertTrue(d.err().contains("is a directory"), d.err());
    }

    @Test
    void helpAndUsageListBench() {
        Result top = cli("--help");
        assertTrue(top.out().contains("bench"), top.out());
        Result help = cli("bench", "--help");
        assertEquals(0, help.code());
        for (String o : List.of("--shapes", "--ops", "--backends", "--threads", "--mask", "--mask-dtype", "--warmup",
                "--reps", "--seed", "--json", "--plot", "DW-K31", "DENSE-S2D2")) {
            assertTrue(help.out().contains(o), o);
        }
    }

    // ---- info and run --threads -------------------------------------------------------------------

    @Test
    void infoShowsIsaAndThreads() {
        Result r = cli("info");
        assertEquals(0, r.code());
        assertTrue(r.out().matches("(?s).*\\n\\s*isa:\\s+(avx512|avx2|portable|scalar)\\n.*"), r.out());
        assertTrue(r.out().matches("(?s).*\\n\\s*threads:\\s+\\d+\\n.*"), r.out());
        assertTrue(r.out().contains("threads: " + RegionConv.threads() + " per call"), r.out());
    }

    @Test
    void runAcceptsThreads() {
        Result help = cli("run", "--help");
        assertTrue(help.out().contains("--threads"), help.out());
        Result bad = cli("run", "--op", "forward", "--src", "a", "--filter", "b", "--rin", "c", "--rout", "d", "--out",
                dir.resolve("o.npy").toString(), "--threads", "-3");
        assertEquals(2, bad.code(), bad.err());
    }

    // ---- pieces --------------------------------------------------------------------------------

    @Test
    void shapesAreThoseOfTheIssue() {
        assertEquals("DW-K3,DW-K7,DW-K13,DW-K31,GRP,DENSE,DENSE-S2D2", BenchShape.names());
        var k31 = BenchShape.named("DW-K31").convShape();
        assertEquals(List.of(4L, 384L, 1L, 1L, 32L, 32L, 31L, 31L),
                List.of(k31.n(), k31.groups(), k31.icpg(), k31.ocpg(), k31.oh(), k31.ow(), k31.fh(), k31.fw()));
        var grp = BenchShape.named("GRP").convShape();
        assertEquals(List.of(8L, 4L, 16L, 16L, 56L, 56L), List.of(grp.n(), grp.groups(), grp.icpg(), grp.ocpg(), grp.oh(),
                grp.ow()));
        var s2d2 = BenchShape.named("DENSE-S2D2").convShape();
        // OH = (56 + 2*2 - 2*(3-1) - 1) / 2 + 1 = 28
        assertEquals(List.of(1L, 64L, 28L, 28L), List.of(s2d2.groups(), s2d2.icpg(), s2d2.oh(), s2d2.ow()));
        assertEquals(2.0 * 8 * 64 * 28 * 28 * 64 * 9, BenchShape.named("DENSE-S2D2").flops());
    }

    @Test
    void masksAreRandomOrBlockyAndRoutFollowsRin() {
        try (Arena arena = Arena.ofConfined()) {
            BenchProblem random = new BenchProblem(BenchShape.named("DW-K3"), BenchProblem.Masks.RANDOM, DType.INT32, 7,
                    arena);
            Tensor rin = maskOf(random, true);
            int[] counts = new int[4];
            for (int v : rin.toIntArray()) {
                assertTrue(v >= 1 && v <= 3, "random mask value " + v);
                counts[v]++;
            }
            int n = rin.toIntArray().length;
            for (int v = 1; v <= 3; v++) {
                assertTrue(Math.abs(counts[v] - n / 3.0) < n * 0.03, "roughly uniform: " + counts[v] + " of " + n);
            }
            // stride 1, padding K/2: rout is rin
            assertTrue(java.util.Arrays.equals(rin.toIntArray(), maskOf(random, false).toIntArray()));

            BenchProblem blocky = new BenchProblem(BenchShape.named("DENSE-S2D2"), BenchProblem.Masks.BLOCKY, DType.UINT8,
                    7, arena);
            Tensor bin = maskOf(blocky, true);
            assertEquals(DType.UINT8, bin.dtype());
            Set<Integer> values = new HashSet<>();
            for (int v : bin.toIntArray()) {
                values.add(v);
            }
            assertTrue(values.size() >= 3, "a few rectangles: " + values);
            // stride 2, dilation 2, padding 2: rout[oh, ow] = rin[2*oh, 2*ow]
            Tensor bout = maskOf(blocky, false);
            for (long oh = 0; oh < 28; oh += 5) {
                for (long ow = 0; ow < 28; ow += 3) {
                    assertEquals(bin.getInt(1, 2 * oh, 2 * ow), bout.getInt(1, oh, ow));
                }
            }
        }
    }

    @Test
    void superpixelsAreVoronoiCellsOfOneSeedPerCell() {
        // 61x45: cells cut on the right and bottom edges; the ids checked against a search over all seeds
        int h = 61;
        int w = 45;
        int c = BenchProblem.SUPERPIXEL_CELL;
        int across = (w + c - 1) / c;
        int cells = across * ((h + c - 1) / c);
        for (long seed = 1; seed <= 8; seed++) {
            int[] ids = BenchProblem.superpixelPlane(h, w, new SplittableRandom(seed));
            // the seeds from the same draws; the nearest-seed rule must hold against every seed
            SplittableRandom again = new SplittableRandom(seed);
            int[] sy = new int[cells];
            int[] sx = new int[cells];
            for (int k = 0; k < cells; k++) {
                int cy = k / across;
                int cx = k % across;
                sy[k] = cy * c + again.nextInt(Math.min(c, h - cy * c));
                sx[k] = cx * c + again.nextInt(Math.min(c, w - cx * c));
                assertEquals(k, ids[sy[k] * w + sx[k]], "a seed's pixel is in its own region");
            }
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int best = 0;
                    long bestD = Long.MAX_VALUE;
                    for (int k = 0; k < cells; k++) {
                        long d = (long) (sy[k] - y) * (sy[k] - y) + (long) (sx[k] - x) * (sx[k] - x);
                        if (d < bestD) {
                            bestD = d;
                            best = k;
                        }
                    }
                    assertEquals(best, ids[y * w + x], "seed " + seed + ": nearest seed of (" + y + ", " + x + ")");
                }
            }
        }
    }

    @Test
    void activeFractionCountsInImageTapsOfTheOutputPixelsRegion() {
        // 1 image 3x3, 3x3 filter, padding 1: rin is a left column of 1s and the rest 2
        int[] rin = {1, 2, 2, 1, 2, 2, 1, 2, 2};
        ConvShape s = ConvShape.ofForward(new long[] {1, 1, 3, 3}, new long[] {1, 1, 1, 3, 3},
                ConvParams.DEFAULT.withPadding(1, 1));
        long[] counts = BenchProblem.activeTaps(rin, 3, 3, rin, s, ConvParams.DEFAULT.withPadding(1, 1));
        // in-image taps: corners 4 each, edges 6 each, centre 9 -> 4*4 + 4*6 + 9 = 49
        // active: left column pixels (id 1) see the 1s of the column: (0,0): 2, (1,0): 3, (2,0): 2 -> 7;
        // the other six pixels see the 2s: (0,1): 4, (0,2): 4, (1,1): 6, (1,2): 6, (2,1): 4, (2,2): 4 -> 28
        assertEquals(49, counts[1]);
        assertEquals(35, counts[0]);
    }

    @Test
    void superpixelBenchMasksLeaveFewerTapsActiveForLargerFilters() {
        // the issue's measured fractions: 0.87 for 3x3, 0.68 for 7x7, 0.43 for 13x13, 0.125 for 31x31
        double[][] expect = {{3, 0.80, 0.93}, {7, 0.60, 0.75}, {13, 0.36, 0.50}, {31, 0.10, 0.16}};
        try (Arena arena = Arena.ofConfined()) {
            for (double[] e : expect) {
                BenchProblem p = new BenchProblem(BenchShape.named("DW-K" + (int) e[0]), BenchProblem.Masks.SUPERPIXEL,
                        DType.INT32, 1, arena);
                assertTrue(p.activeFraction() > e[1] && p.activeFraction() < e[2],
                        "DW-K" + (int) e[0] + ": " + p.activeFraction());
                // stride 1 "same": rout is rin, and the ids are cell indices of the 4x4 cells of a 32x32 image
                assertTrue(java.util.Arrays.equals(p.rin().toIntArray(), p.rout().toIntArray()));
                for (int v : p.rin().toIntArray()) {
                    assertTrue(v >= 0 && v < 16, "cell index " + v);
                }
            }
            // uint8 masks keep the id modulo 256: DENSE's 56x56 images have 49 cells, all below 256
            BenchProblem u8 = new BenchProblem(BenchShape.named("DENSE"), BenchProblem.Masks.SUPERPIXEL, DType.UINT8,
                    1, arena);
            BenchProblem i32 = new BenchProblem(BenchShape.named("DENSE"), BenchProblem.Masks.SUPERPIXEL, DType.INT32,
                    1, arena);
            assertTrue(java.util.Arrays.equals(u8.rin().toIntArray(), i32.rin().toIntArray()));
            assertEquals(i32.activeFraction(), u8.activeFraction());
        }
    }

    private static Tensor maskOf(BenchProblem p, boolean in) {
        return in ? p.rin() : p.rout();
    }

    @Test
    void medianOfTimedCallsAfterWarmup() {
        int[] calls = {0};
        double ms = BenchCommand.medianMillis(() -> calls[0]++, 2, 0, 100, 5);
        assertEquals(7, calls[0]);
        assertTrue(ms >= 0);
        // a timed warm-up keeps calling (up to the cap) until the time has passed, and calls again for
        // REWARM_NANOS after the wait for a quiet JIT
        int[] slow = {0};
        long t0 = System.nanoTime();
        BenchCommand.medianMillis(() -> {
            slow[0]++;
            long until = System.nanoTime() + 1_000_000;
            while (System.nanoTime() < until) {
                Thread.onSpinWait();
            }
        }, 1, 30_000_000L, 200, 1);
        assertTrue(System.nanoTime() - t0 >= 30_000_000L + BenchCommand.REWARM_NANOS);
        assertTrue(slow[0] >= 3 && slow[0] <= 2 * 200 + 1, "calls: " + slow[0]);
        // ... and both stop at the cap of calls even if the time has not passed
        int[] capped = {0};
        BenchCommand.medianMillis(() -> capped[0]++, 1, 60_000_000_000L, 50, 3);
        assertEquals(50 + 50 + 3, capped[0]);
    }

    @Test
    void tableComputesSpeedupPerThreadCount() {
        List<BenchResult> rs = List.of(
                new BenchResult("GRP", "forward", "random", "native", 1, 2.0, 100, 0.5),
                new BenchResult("GRP", "forward", "random", "reference", 1, 200.0, 1, 0.5),
                new BenchResult("GRP", "forward", "random", "native", 2, 1.0, 200, 0.5),
                new BenchResult("GRP", "forward", "random", "java", 1, 20.0, 10, 0.5));
        List<String> lines = BenchCommand.table(rs).lines().toList();
        assertTrue(lines.get(2).endsWith("100.0x"), lines.get(2));
        assertTrue(lines.get(3).endsWith("1.0x"), lines.get(3));
        assertFalse(lines.get(4).endsWith("x"), "no reference at 2 threads: " + lines.get(4));
        assertTrue(lines.get(5).endsWith("10.0x"), lines.get(5));
    }

    @Test
    void chartBarsGrowWithGflopsOnALogScale() throws Exception {
        List<BenchResult> rs = List.of(
                new BenchResult("DW-K7", "backward-filter", "random", "native", 1, 1, 200, 0.5),
                new BenchResult("DW-K7", "backward-filter", "random", "java", 1, 10, 20, 0.5),
                new BenchResult("DW-K7", "backward-filter", "random", "reference", 1, 100, 2, 0.5),
                new BenchResult("DENSE", "backward-filter", "random", "native", 2, 1, 0.5, 0.5));
        Document doc = parseXml(BenchChart.svg(rs, "t <&> \"quoted\"", "sub").getBytes(StandardCharsets.UTF_8));
        List<Element> bars = bars(doc);
        assertEquals(4, bars.size());
        double h200 = height(bars, "ms, 200.0 GFLOP/s");
        double h20 = height(bars, "ms, 20.0 GFLOP/s");
        double h2 = height(bars, "ms, 2.00 GFLOP/s");
        assertEquals(h200 - h20, h20 - h2, 0.5, "equal ratios, equal steps: a log scale");
        assertTrue(h20 - h2 > 20, "a decade is visible: " + (h20 - h2));
        assertTrue(h2 > height(bars, "ms, 0.50 GFLOP/s"));
        List<String> texts = texts(doc);
        assertTrue(texts.contains("t <&> \"quoted\""), "title escaped and read back: " + texts);
        assertTrue(texts.contains("native 100× reference"), texts.toString());
        assertTrue(texts.contains("backward filter") && !texts.contains("forward"), texts.toString());
    }

    private static double height(List<Element> bars, String tooltipPart) {
        for (Element b : bars) {
            if (b.getTextContent().contains(tooltipPart)) {
                return Double.parseDouble(b.getAttribute("height"));
            }
        }
        throw new AssertionError("no bar with " + tooltipPart);
    }

    // ---- helpers: XML and a minimal JSON reader ----------------------------------------------------

    private static Document parseXml(byte[] bytes) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        return f.newDocumentBuilder().parse(new ByteArrayInputStream(bytes));
    }

    private static List<String> texts(Document doc) {
        NodeList nl = doc.getElementsByTagNameNS("*", "text");
        List<String> out = new ArrayList<>();
        for (int i = 0; i < nl.getLength(); i++) {
            out.add(nl.item(i).getTextContent());
        }
        return out;
    }

    /** The bars: rect elements with a title child (the tooltip). */
    private static List<Element> bars(Document doc) {
        NodeList nl = doc.getElementsByTagNameNS("*", "rect");
        List<Element> out = new ArrayList<>();
        for (int i = 0; i < nl.getLength(); i++) {
            Element e = (Element) nl.item(i);
            if (e.getElementsByTagNameNS("*", "title").getLength() == 1) {
                out.add(e);
            }
        }
        return out;
    }

    /** Parses a JSON array of flat objects (string and number values), failing on anything else. */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> parseJsonArray(String text) {
        Json p = new Json(text);
        Object v = p.value();
        p.skipWs();
        assertEquals(text.length(), p.i, "trailing characters after the JSON value");
        assertTrue(v instanceof List, "top level must be an array");
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object o : (List<Object>) v) {
            assertTrue(o instanceof Map, "array elements must be objects");
            out.add((Map<String, Object>) o);
        }
        return out;
    }

    private static final class Json {
        final String s;
        int i;

        Json(String s) {
            this.s = s;
        }

        void skipWs() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        void expect(char c) {
            skipWs();
            assertTrue(i < s.length() && s.charAt(i) == c, "expected '" + c + "' at " + i);
            i++;
        }

        Object value() {
            skipWs();
            assertTrue(i < s.length(), "unexpected end");
            char c = s.charAt(i);
            if (c == '[') {
                i++;
                List<Object> list = new ArrayList<>();
                skipWs();
                if (s.charAt(i) == ']') {
                    i++;
                    return list;
                }
                while (true) {
                    list.add(value());
                    skipWs();
                    if (s.charAt(i) == ',') {
                        i++;
                        continue;
                    }
                    expect(']');
                    return list;
                }
            }
            if (c == '{') {
                i++;
                Map<String, Object> map = new LinkedHashMap<>();
                while (true) {
                    skipWs();
                    Object k = value();
                    assertTrue(k instanceof String, "object keys are strings");
                    expect(':');
                    assertTrue(map.put((String) k, value()) == null, "duplicate key " + k);
                    skipWs();
                    if (s.charAt(i) == ',') {
                        i++;
                        continue;
                    }
                    expect('}');
                    return map;
                }
            }
            if (c == '"') {
                int end = s.indexOf('"', i + 1);
                assertTrue(end > i, "unterminated string");
                String str = s.substring(i + 1, end);
                assertFalse(str.contains("\\"), "no escapes expected");
                i = end + 1;
                return str;
            }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                i++;
            }
            String num = s.substring(start, i);
            assertTrue(num.matches("-?(0|[1-9]\\d*)(\\.\\d+)?([eE][+-]?\\d+)?"), "JSON number: '" + num + "' at " + start);
            return Double.valueOf(num);
        }
    }

    @Test
    void jsonReaderRejectsGarbage() {
        assertNotNull(parseJsonArray("[]"));
        boolean failed;
        try {
            parseJsonArray("[{\"a\": 01}]");
            failed = false;
        } catch (AssertionError e) {
            failed = true;
        }
        assertTrue(failed, "leading zero is not JSON");
    }
}
