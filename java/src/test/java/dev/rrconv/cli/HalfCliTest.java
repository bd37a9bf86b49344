package dev.rrconv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rrconv.Backend;
import dev.rrconv.ConvParams;
import dev.rrconv.DType;
import dev.rrconv.Mode;
import dev.rrconv.RegionConv;
import dev.rrconv.Tensor;
import dev.rrconv.internal.HalfFloats;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI's half-precision data types (issue 13, item 2): {@code --dtype} and {@code --out-dtype} on
 * {@code rrconv run} over float16 {@code '<f2'} and bfloat16-as-{@code '<u2'} files, each direction on
 * both backends equal to the library's result on the same tensors; the rounding of wider files; the
 * errors. The files are written from Java bytes.
 */
class HalfCliTest {
    @TempDir
    Path dir;

    // src (2, 4, 5, 6), 2 groups of 2 -> 3 channels, 3x3 kernel, padding 1: dst (2, 6, 5, 6)
    private static final long[] SRC = {2, 4, 5, 6};
    private static final long[] FILTER = {2, 3, 2, 3, 3};
    private static final long[] DIFF = {2, 6, 5, 6};
    private static final long[] MASK = {2, 5, 6};
    private static final ConvParams PARAMS = new ConvParams(1, 1, 1, 1, 1, 1, 2, Mode.CROSS_CORRELATION);

    private String f(String name) {
        return dir.resolve(name).toString();
    }

    private static short[] halves(DType type, long count, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        short[] s = new short[(int) count];
        for (int i = 0; i < s.length; i++) {
            s[i] = HalfFloats.fromFloat(type, (float) (r.nextDouble() * 4 - 2));
        }
        return s;
    }

    private static long count(long[] shape) {
        long c = 1;
        for (long d : shape) {
            c *= d;
        }
        return c;
    }

    private static Tensor random(DType type, long[] shape, long seed) {
        return Tensor.ofShorts(halves(type, count(shape), seed), type, shape);
    }

    private static Tensor mask(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] v = new int[(int) count(MASK)];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextInt(3);
        }
        return Tensor.ofInts(v, MASK);
    }

    /** The library's result of a direction on these tensors. */
    private static Tensor library(Backend backend, String op, Tensor src, Tensor filter, Tensor diff, Tensor rin,
                                  Tensor rout, DType out, Arena arena) {
        RegionConv conv = RegionConv.of(backend);
        return switch (op) {
            case "forward" -> conv.forward(src, filter, rin, rout, PARAMS, out, arena);
            case "backward-data" -> conv.backwardData(filter, diff, rin, rout, PARAMS, out, arena);
            default -> conv.backwardFilter(src, diff, rin, rout, PARAMS, 3, 3, out, arena);
        };
    }

    private static List<String> inputs(String op) {
        return switch (op) {
            case "forward" -> List.of("--src", "--filter");
            case "backward-data" -> List.of("--filter", "--diff");
            default -> List.of("--src", "--diff", "--kernel", "3");
        };
    }

    private CliTest.Result run(String op, Backend backend, String out, String... extra) {
        List<String> args = new ArrayList<>(List.of("run", "--op", op, "--groups", "2", "--padding", "1",
                "--backend", backend.cliName(), "--rin", f("rin.npy"), "--rout", f("rout.npy"), "--out", f(out)));
        for (String a : inputs(op)) {
            args.add(a);
            if (a.startsWith("--") && !a.equals("--kernel")) {
                args.add(f(a.substring(2) + ".npy"));
            }
        }
        args.addAll(List.of(extra));
        return CliTest.cli(args.toArray(String[]::new));
    }

    @Test
    void everyDirectionOnHalfFilesEqualsTheLibraryOnBothBackends() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Tensor rin = mask(1);
            Tensor rout = mask(2);
            Npy.write(dir.resolve("rin.npy"), rin);
            Npy.write(dir.resolve("rout.npy"), rout);
            for (DType type : new DType[] {DType.FLOAT16, DType.BFLOAT16}) {
                Tensor src = random(type, SRC, 3);
                Tensor filter = random(type, FILTER, 4);
                Tensor diff = random(type, DIFF, 5);
                Npy.write(dir.resolve("src.npy"), src);
                Npy.write(dir.resolve("filter.npy"), filter);
                Npy.write(dir.resolve("diff.npy"), diff);
                String[] dtype = type == DType.BFLOAT16 ? new String[] {"--dtype", "bfloat16"} : new String[0];
                for (String op : RunCommand.OPS) {
                    for (Backend backend : new Backend[] {Backend.NATIVE, Backend.JAVA}) {
                        String what = type + " " + op + " " + backend.cliName();
                        Tensor want = library(backend, op, src, filter, diff, rin, rout, type, arena);
                        CliTest.Result r = run(op, backend, "y.npy", dtype);
                        assertEquals(0, r.code(), what + ": " + r.err());
                        assertEquals("", r.err(), what);
                        assertTrue(r.out().startsWith("wrote " + f("y.npy") + ": " + type + " "), r.out());
                        Npy.Loaded got = Npy.load(dir.resolve("y.npy"), arena, type);
                        assertEquals(type.npyDescr(), got.fileDescr(), what);
                        assertEquals(type, got.tensor().dtype(), what);
                        assertArrayEquals(want.shape(), got.tensor().shape(), what);
                        assertArrayEquals(want.toShortArray(), got.tensor().toShortArray(), what);

                        // --out-dtype float32: the library's float32 result of the same half inputs
                        Tensor want32 = library(backend, op, src, filter, diff, rin, rout, DType.FLOAT32, arena);
                        String[] out32 = type == DType.BFLOAT16
                                ? new String[] {"--dtype", "bfloat16", "--out-dtype", "float32"}
                                : new String[] {"--out-dtype", "float32"};
                        r = run(op, backend, "y32.npy", out32);
                        assertEquals(0, r.code(), what + " float32 out: " + r.err());
                        Npy.Loaded got32 = Npy.load(dir.resolve("y32.npy"), arena);
                        assertEquals("<f4", got32.fileDescr(), what);
                        assertArrayEquals(want32.toFloatArray(), got32.tensor().toFloatArray(), what);
                    }
                }
            }
        }
    }

    @Test
    void aBfloat16OutputIsWrittenAsUint16BitPatterns() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            // forward, 1x1 filter of 1.0: dst = src where the regions match, else 0
            short[] bits = {0x3F80, (short) 0xC040, 0x7F80, 0x0001}; // 1, -3, +inf, the smallest denormal
            Npy.write(dir.resolve("src.npy"), Tensor.ofShorts(bits, DType.BFLOAT16, 1, 1, 2, 2));
            Npy.write(dir.resolve("w.npy"), Tensor.ofShorts(new short[] {0x3F80}, DType.BFLOAT16, 1, 1, 1, 1));
            Npy.write(dir.resolve("rin.npy"), Tensor.ofInts(new int[] {1, 1, 1, 2}, 1, 2, 2));
            Npy.write(dir.resolve("rout.npy"), Tensor.ofInts(new int[] {1, 1, 1, 1}, 1, 2, 2));
            byte[] src = Files.readAllBytes(dir.resolve("src.npy"));
            assertTrue(new String(src, java.nio.charset.StandardCharsets.ISO_8859_1)
                    .contains("'descr': '<u2', 'fortran_order': False, 'shape': (1, 1, 2, 2), }"));
            CliTest.Result r = CliTest.cli("run", "--op", "forward", "--dtype", "bfloat16", "--src", f("src.npy"),
                    "--filter", f("w.npy"), "--rin", f("rin.npy"), "--rout", f("rout.npy"), "--out", f("y.npy"));
            assertEquals(0, r.code(), r.err());
            byte[] header = Npy.header(DType.BFLOAT16, new long[] {1, 1, 2, 2});
            ByteBuffer want = ByteBuffer.allocate(header.length + 8).order(ByteOrder.LITTLE_ENDIAN);
            want.put(header).putShort((short) 0x3F80).putShort((short) 0xC040).putShort((short) 0x7F80).putShort((short) 0);
            assertArrayEquals(want.array(), Files.readAllBytes(dir.resolve("y.npy")));
        }
    }

    /** A .npy file of raw bytes. */
    private Path file(String name, String descr, long[] shape, byte[] data) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, NpyTest.npy(1, "{'descr': '" + descr + "', 'fortran_order': False, 'shape': "
                + Npy.tuple(shape) + ", }", data));
        return p;
    }

    @Test
    void widerFilesAreRoundedOnceWithANoteAndBigEndianHalvesRead() throws IOException {
        float[] v = {1.0f, 1.0f + 0x1p-11f + 0x1p-20f, -2.5f, 70000f}; // above a float16 tie; float16 overflow
        ByteBuffer f4 = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer be = ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN);
        short[] h = new short[4];
        for (int i = 0; i < 4; i++) {
            f4.putFloat(v[i]);
            h[i] = Float.floatToFloat16(v[i]);
            be.putShort(h[i]);
        }
        assertEquals(0x3C01, h[1]);
        assertEquals(0x7C00, h[3]);
        long[] shape = {1, 1, 2, 2};
        file("src4.npy", "<f4", shape, f4.array());
        file("srcbe.npy", ">f2", shape, be.array());
        Npy.write(dir.resolve("src2.npy"), Tensor.ofShorts(h, DType.FLOAT16, shape));
        Npy.write(dir.resolve("w.npy"), Tensor.ofShorts(new short[] {0x3C00}, DType.FLOAT16, 1, 1, 1, 1));
        Npy.write(dir.resolve("w4.npy"), Tensor.ofFloats(new float[] {1}, 1, 1, 1, 1));
        Npy.write(dir.resolve("rin.npy"), Tensor.ofInts(new int[4], 1, 2, 2));
        Npy.write(dir.resolve("rout.npy"), Tensor.ofInts(new int[4], 1, 2, 2));
        CliTest.Result plain = CliTest.cli("run", "--op", "forward", "--src", f("src2.npy"), "--filter", f("w.npy"),
                "--rin", f("rin.npy"), "--rout", f("rout.npy"), "--out", f("plain.npy"));
        assertEquals(0, plain.code(), plain.err());
        byte[] want = Files.readAllBytes(dir.resolve("plain.npy"));
        assertTrue(new String(want, java.nio.charset.StandardCharsets.ISO_8859_1).contains("'<f2'"));

        CliTest.Result r = CliTest.cli("run", "--op", "forward", "--src", f("srcbe.npy"), "--filter", f("w.npy"),
                "--rin", f("rin.npy"), "--rout", f("rout.npy"), "--out", f("y.npy"));
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
        assertArrayEquals(want, Files.readAllBytes(dir.resolve("y.npy")), ">f2");

        r = CliTest.cli("run", "--op", "forward", "--dtype", "float16", "--src", f("src4.npy"), "--filter",
                f("w4.npy"), "--rin", f("rin.npy"), "--rout", f("rout.npy"), "--out", f("y.npy"));
        assertEquals(0, r.code(), r.err());
        assertEquals("rrconv: note: --src " + f("src4.npy") + ": float32 ('<f4') data rounded to float16\n"
                + "rrconv: note: --filter " + f("w4.npy") + ": float32 ('<f4') data rounded to float16\n", r.err());
        assertArrayEquals(want, Files.readAllBytes(dir.resolve("y.npy")), "<f4 with --dtype float16");

        // float16 files read as float32 lose nothing: no note
        r = CliTest.cli("run", "--op", "forward", "--dtype", "float32", "--src", f("src2.npy"), "--filter",
                f("w.npy"), "--rin", f("rin.npy"), "--rout", f("rout.npy"), "--out", f("y.npy"));
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
    }

    @Test
    void float64IsRoundedOnceNotTwice() throws IOException {
        // just above a tie of the 16-bit type but below float32's precision: through float32 it would
        // become the tie and round to even (down); once, it rounds up
        assertEquals(0x3C01, Npy.roundToHalf(1 + 0x1p-11 + 0x1p-40, DType.FLOAT16));
        assertEquals(0x3F81, Npy.roundToHalf(1 + 0x1p-8 + 0x1p-40, DType.BFLOAT16));
        assertEquals(0x3C00, Npy.roundToHalf(1 + 0x1p-11, DType.FLOAT16)); // a tie: to even
        assertEquals((short) 0xBF82, Npy.roundToHalf(-(1 + 0x1p-7 + 0x1p-8), DType.BFLOAT16)); // a tie: to even
        assertEquals(0x7BFF, Npy.roundToHalf(65519.99, DType.FLOAT16));
        assertEquals(0x7C00, Npy.roundToHalf(65520, DType.FLOAT16));
        assertEquals(0x0001, Npy.roundToHalf(0x1p-24 * 0.75, DType.FLOAT16)); // a denormal
        assertEquals(0x0000, Npy.roundToHalf(0x1p-25, DType.FLOAT16)); // the tie with 0: to even
        assertEquals((short) 0x8000, Npy.roundToHalf(-0.0, DType.BFLOAT16));
        assertEquals(0x7F80, Npy.roundToHalf(0x1p128, DType.BFLOAT16));
        assertEquals(0x7F7F, Npy.roundToHalf(0x1p127 * (2 - 0x1p-8 - 0x1p-30), DType.BFLOAT16)); // below the tie
        assertEquals(0x7F80, Npy.roundToHalf(Float.MAX_VALUE, DType.BFLOAT16)); // above it: infinity
        assertTrue(Float.isNaN(HalfFloats.bfloat16ToFloat(Npy.roundToHalf(Double.NaN, DType.BFLOAT16))));

        long[] shape = {1, 1, 1, 2};
        ByteBuffer f8 = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        f8.putDouble(1 + 0x1p-8 + 0x1p-40).putDouble(-3);
        file("src8.npy", "<f8", shape, f8.array());
        try (Arena arena = Arena.ofConfined()) {
            Npy.Loaded l = Npy.load(dir.resolve("src8.npy"), arena, DType.BFLOAT16);
            assertEquals(DType.BFLOAT16, l.tensor().dtype());
            assertTrue(l.rounded());
            assertArrayEquals(new short[] {0x3F81, (short) 0xC040}, l.tensor().toShortArray());
        }
        Npy.write(dir.resolve("w.npy"), Tensor.ofShorts(new short[] {0x3F80}, DType.BFLOAT16, 1, 1, 1, 1));
        Npy.write(dir.resolve("rin.npy"), Tensor.ofInts(new int[2], 1, 1, 2));
        Npy.write(dir.resolve("rout.npy"), Tensor.ofInts(new int[2], 1, 1, 2));
        CliTest.Result r = CliTest.cli("run", "--op", "forward", "--dtype", "bfloat16", "--src", f("src8.npy"),
                "--filter", f("w.npy"), "--rin", f("rin.npy"), "--rout", f("rout.npy"), "--out", f("y.npy"));
        assertEquals(0, r.code(), r.err());
        assertEquals("rrconv: note: --src " + f("src8.npy") + ": float64 ('<f8') data rounded to bfloat16\n", r.err());
        try (Arena arena = Arena.ofConfined()) {
            assertArrayEquals(new short[] {0x3F81, (short) 0xC040},
                    Npy.load(dir.resolve("y.npy"), arena, DType.BFLOAT16).tensor().toShortArray());
        }
    }

    // ---- errors: one line naming the option, the file, expected and actual ------------------------

    private static void assertError(CliTest.Result r, int code, String... fragments) {
        assertEquals(code, r.code(), () -> "exit code; stderr: " + r.err());
        assertEquals(1, r.errLines().size(), () -> "one line on stderr: " + r.err());
        assertTrue(r.err().startsWith("rrconv: error: "), r.err());
        for (String fragment : fragments) {
            assertTrue(r.err().contains(fragment), () -> "'" + fragment + "' not in: " + r.err());
        }
    }

    private CliTest.Result forward(String src, String filter, String... extra) {
        List<String> args = new ArrayList<>(List.of("run", "--op", "forward", "--src", f(src), "--filter", f(filter),
                "--rin", f("rin.npy"), "--rout", f("rout.npy"), "--out", f("y.npy")));
        args.addAll(List.of(extra));
        return CliTest.cli(args.toArray(String[]::new));
    }

    @Test
    void badInputIsOneClearErrorAndNoOutput() throws IOException {
        Npy.write(dir.resolve("s16.npy"), Tensor.ofShorts(new short[4], DType.FLOAT16, 1, 1, 2, 2));
        Npy.write(dir.resolve("sbf.npy"), Tensor.ofShorts(new short[4], DType.BFLOAT16, 1, 1, 2, 2));
        Npy.write(dir.resolve("w16.npy"), Tensor.ofShorts(new short[1], DType.FLOAT16, 1, 1, 1, 1));
        Npy.write(dir.resolve("wbf.npy"), Tensor.ofShorts(new short[1], DType.BFLOAT16, 1, 1, 1, 1));
        Npy.write(dir.resolve("w32.npy"), Tensor.ofFloats(new float[1], 1, 1, 1, 1));
        Npy.write(dir.resolve("rin.npy"), Tensor.ofInts(new int[4], 1, 2, 2));
        Npy.write(dir.resolve("rout.npy"), Tensor.ofInts(new int[4], 1, 2, 2));
        Npy.write(dir.resolve("m16.npy"), Tensor.ofShorts(new short[4], DType.FLOAT16, 1, 2, 2));

        // mixed dtypes without --dtype
        assertError(forward("s16.npy", "w32.npy"), 1, "--filter " + f("w32.npy"), "float32 ('<f4')",
                "--src " + f("s16.npy") + " is float16 ('<f2')", "share one dtype", "expected float16");
        // '<u2' data without --dtype bfloat16
        assertError(forward("sbf.npy", "wbf.npy"), 1, "--src " + f("sbf.npy"), "uint16 ('<u2')",
                "pass --dtype bfloat16 if it holds bfloat16 bits");
        assertError(forward("sbf.npy", "wbf.npy", "--dtype", "float16"), 1, "--src " + f("sbf.npy"),
                "uint16 ('<u2')", "only as bfloat16 bit patterns, with --dtype bfloat16", "got --dtype float16");
        // bad names
        assertError(forward("s16.npy", "w16.npy", "--dtype", "float64"), 2, "--dtype 'float64'",
                "expected float32, float16 or bfloat16");
        assertError(forward("s16.npy", "w16.npy", "--out-dtype", "half"), 2, "--out-dtype 'half'");
        // an output type that is neither the inputs' nor float32
        assertError(forward("sbf.npy", "wbf.npy", "--dtype", "bfloat16", "--out-dtype", "float16"), 2,
                "--out-dtype float16", "bfloat16 inputs", "expected bfloat16 or float32");
        assertError(forward("s16.npy", "w16.npy", "--out-dtype", "bfloat16"), 2, "--out-dtype bfloat16",
                "float16 inputs (the data files' dtype)", "expected float16 or float32");
        // a float16 region mask
        assertError(CliTest.cli("run", "--op", "forward", "--src", f("s16.npy"), "--filter", f("w16.npy"),
                "--rin", f("m16.npy"), "--rout", f("rout.npy"), "--out", f("y.npy")), 1, "--rin " + f("m16.npy"),
                "region masks must be integers", "float16 ('<f2')");
        assertFalse(Files.exists(dir.resolve("y.npy")));
    }

    @Test
    void benchDtypeAllocatesThatTypeAndReportsIt() throws IOException {
        Path json = dir.resolve("b.json");
        BenchCommandTest.Result r = BenchCommandTest.cli("bench", "--shapes", "DW-K3", "--ops", "forward",
                "--backends", "native,java", "--reps", "1", "--warmup", "0", "--dtype", "bfloat16", "--json",
                json.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("dtype bfloat16"), r.out());
        List<String> rows = r.out().lines().filter(l -> l.startsWith("DW-K3 ")).toList();
        assertEquals(2, rows.size(), r.out());
        for (String row : rows) {
            assertTrue(row.matches("DW-K3\\s+forward\\s+random\\s+nchw\\s+bfloat16\\s+.*"), row);
        }
        String text = Files.readString(json);
        assertEquals(2, text.split("\"layout\": \"nchw\", \"dtype\": \"bfloat16\",", -1).length - 1, text);
        BenchCommandTest.Result bad = BenchCommandTest.cli("bench", "--dtype", "fp16");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("bench: unknown --dtype 'fp16'; expected float32, float16 or bfloat16"), bad.err());
        try (Arena arena = Arena.ofConfined()) {
            BenchProblem p = new BenchProblem(BenchShape.named("DW-K3"), BenchProblem.Masks.RANDOM, DType.INT32,
                    dev.rrconv.Layout.NCHW, DType.FLOAT16, 1, arena);
            assertEquals(DType.FLOAT16, p.dtype());
            for (BenchProblem.Op op : BenchProblem.Op.values()) {
                assertEquals(DType.FLOAT16, p.output(op).dtype(), op.cliName());
            }
        }
    }
}
