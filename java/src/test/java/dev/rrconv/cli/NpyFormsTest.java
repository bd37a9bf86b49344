package dev.rrconv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rrconv.DType;
import dev.rrconv.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The arrays np.save writes besides float32/int32/uint8 C-order ones (issue 13, item 2, NumPy part):
 * float64, big-endian, Fortran order, int8/int16/int64/uint16/uint32/uint64/bool masks, each read to the
 * same tensor as the plain file and through {@code rrconv run} to the same output. The files are built
 * from bytes here, as NumPy lays them out.
 */
class NpyFormsTest {
    @TempDir
    Path dir;

    /** An array's bytes: {@code put(buffer, i)} writes the i-th value in file order. */
    private static byte[] data(int count, int size, ByteOrder order, BiConsumer<ByteBuffer, Integer> put) {
        ByteBuffer b = ByteBuffer.allocate(count * size).order(order);
        for (int i = 0; i < count; i++) {
            put.accept(b, i);
        }
        return b.array();
    }

    /** The C-order index of the i-th element of a Fortran-order array of this shape. */
    private static int cIndex(long[] shape, int i) {
        int[] idx = new int[shape.length];
        int rest = i;
        for (int k = 0; k < shape.length; k++) {
            idx[k] = (int) (rest % shape[k]);
            rest /= (int) shape[k];
        }
        int c = 0;
        for (int k = 0; k < shape.length; k++) {
            c = c * (int) shape[k] + idx[k];
        }
        return c;
    }

    private Path file(String name, String descr, boolean fortran, long[] shape, byte[] data) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, NpyTest.npy(1, "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False")
                + ", 'shape': " + Npy.tuple(shape) + ", }", data));
        return p;
    }

    private static final long[] SHAPE = {1, 2, 3, 4};
    private static final float[] VALUES = new float[24];
    private static final int[] LABELS = new int[24];

    static {
        for (int i = 0; i < 24; i++) {
            VALUES[i] = i * 0.75f - 5;
            LABELS[i] = (i * 7) % 5 - 1;
        }
    }

    private Path floatForm(String name, String descr, boolean fortran) throws IOException {
        ByteOrder order = descr.charAt(0) == '>' ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        boolean f8 = descr.endsWith("f8");
        return file(name, descr, fortran, SHAPE, data(24, f8 ? 8 : 4, order, (b, i) -> {
            float v = VALUES[fortran ? cIndex(SHAPE, i) : i];
            if (f8) {
                b.putDouble(v);
            } else {
                b.putFloat(v);
            }
        }));
    }

    private Path intForm(String name, String descr, boolean fortran, long[] shape, int[] values) throws IOException {
        ByteOrder order = descr.charAt(0) == '>' ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        int size = Integer.parseInt(descr.substring(2));
        return file(name, descr, fortran, shape, data(values.length, size, order, (b, i) -> {
            int v = values[fortran ? cIndex(shape, i) : i];
            switch (size) {
                case 1 -> b.put((byte) v);
                case 2 -> b.putShort((short) v);
                case 4 -> b.putInt(v);
                default -> b.putLong(v);
            }
        }));
    }

    @Test
    void floatFormsReadAsTheFloat32File() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            for (String descr : new String[] {"<f4", ">f4", "<f8", ">f8"}) {
                for (boolean fortran : new boolean[] {false, true}) {
                    Npy.Loaded l = Npy.load(floatForm("x.npy", descr, fortran), arena);
                    String what = descr + (fortran ? " Fortran" : "");
                    assertEquals(DType.FLOAT32, l.tensor().dtype(), what);
                    assertArrayEquals(SHAPE, l.tensor().shape(), what);
                    assertArrayEquals(VALUES, l.tensor().toFloatArray(), what);
                    assertEquals(descr, l.fileDescr());
                    assertEquals(descr.endsWith("f8"), l.rounded(), what);
                }
            }
            // float64 values are rounded to nearest float32
            Path p = file("r.npy", "<f8", false, new long[] {2}, data(2, 8, ByteOrder.LITTLE_ENDIAN,
                    (b, i) -> b.putDouble(i == 0 ? 0.1 : 1e300)));
            assertArrayEquals(new float[] {0.1f, Float.POSITIVE_INFINITY}, Npy.read(p, arena).toFloatArray());
        }
    }

    @Test
    void integerAndBoolMasksReadAsInt32() throws IOException {
        long[] shape = {2, 3, 4};
        int[] bools = new int[24];
        int[] small = new int[24];
        for (int i = 0; i < 24; i++) {
            bools[i] = LABELS[i] > 0 ? 1 : 0;
            small[i] = Math.abs(LABELS[i]);
        }
        try (Arena arena = Arena.ofConfined()) {
            for (String descr : new String[] {"<i8", ">i8", "<i2", ">i2", "|i1", "<i4", ">i4", "|b1", "<u2", ">u4",
                    "<u8"}) {
                int[] want = descr.contains("b") ? bools : descr.contains("u") ? small : LABELS;
                for (boolean fortran : new boolean[] {false, true}) {
                    Tensor t = Npy.read(intForm("m.npy", descr, fortran, shape, want), arena);
                    String what = descr + (fortran ? " Fortran" : "");
                    assertEquals(DType.INT32, t.dtype(), what);
                    assertArrayEquals(shape, t.shape(), what);
                    assertArrayEquals(want, t.toIntArray(), what);
                }
            }
        }
    }

    @Test
    void anIntegerThatDoesNotFitInt32IsAnErrorNamingFileIndexAndValue() throws IOException {
        long[] shape = {2, 3};
        Path p = file("big.npy", "<i8", false, shape, data(6, 8, ByteOrder.LITTLE_ENDIAN,
                (b, i) -> b.putLong(i == 4 ? 1L << 33 : i)));
        Path f = file("bigf.npy", "<i8", true, shape, data(6, 8, ByteOrder.LITTLE_ENDIAN,
                (b, i) -> b.putLong(i == 3 ? -(1L << 40) : i))); // file position 3 = index (1, 1)
        Path u = file("bigu.npy", "<u8", false, new long[] {2}, data(2, 8, ByteOrder.LITTLE_ENDIAN,
                (b, i) -> b.putLong(-1L)));
        try (Arena arena = Arena.ofConfined()) {
            for (Object[] c : new Object[][] {{p, "value 8589934592 at index (1, 1) does not fit int32"},
                    {f, "value -1099511627776 at index (1, 1) does not fit int32"},
                    {u, "value 18446744073709551615 at index (0,) does not fit int32"}}) {
                NpyFormatException e = assertThrows(NpyFormatException.class, () -> Npy.read((Path) c[0], arena));
                assertTrue(e.getMessage().startsWith(c[0] + ": ") && e.getMessage().contains((String) c[1]),
                        e.getMessage());
            }
        }
    }

    // ---- through rrconv run --------------------------------------------------------------------

    private String f(String name) {
        return dir.resolve(name).toString();
    }

    @Test
    void everyFormGivesTheSameOutputAsThePlainFiles() throws IOException {
        // forward on (1, 2, 3, 4) with a 2x2 filter (1 group, 2 output channels): plain files first
        long[] fshape = {2, 2, 2, 2};
        float[] w = new float[16];
        for (int i = 0; i < 16; i++) {
            w[i] = (i % 5) - 2;
        }
        long[] mshape = {1, 3, 4};
        int[] rin = new int[12];
        int[] rout = new int[6];
        for (int i = 0; i < 12; i++) {
            rin[i] = i % 3;
        }
        for (int i = 0; i < 6; i++) {
            rout[i] = i % 2;
        }
        Npy.write(dir.resolve("src.npy"), Tensor.ofFloats(VALUES, SHAPE));
        Npy.write(dir.resolve("w.npy"), Tensor.ofFloats(w, fshape));
        Npy.write(dir.resolve("rin.npy"), Tensor.ofInts(rin, mshape));
        Npy.write(dir.resolve("rout.npy"), Tensor.ofInts(rout, 1, 2, 3));
        CliTest.Result plain = CliTest.cli("run", "--op", "forward", "--src", f("src.npy"), "--filter", f("w.npy"),
                "--rin", f("rin.npy"), "--rout", f("rout.npy"), "--out", f("plain.npy"));
        assertEquals(0, plain.code(), plain.err());
        byte[] want = Files.readAllBytes(dir.resolve("plain.npy"));

        for (String[] form : new String[][] {{"<f8", "<i8"}, {">f4", ">i2"}, {">f8", "|b1"}, {"<f4", "<u2"}}) {
            for (boolean fortran : new boolean[] {false, true}) {
                floatForm("src2.npy", form[0], fortran);
                int[] rin2 = rin;
                int[] rout2 = rout;
                if (form[1].equals("|b1")) { // masks of 0 and 1 only: compare with those as int32
                    rin2 = rin.clone();
                    for (int i = 0; i < rin2.length; i++) {
                        rin2[i] = rin2[i] == 0 ? 0 : 1;
                    }
                    Npy.write(dir.resolve("rin01.npy"), Tensor.ofInts(rin2, mshape));
                }
                intForm("rin2.npy", form[1], fortran, mshape, rin2);
                intForm("rout2.npy", form[1], fortran, new long[] {1, 2, 3}, rout2);
                CliTest.Result r = CliTest.cli("run", "--op", "forward", "--src", f("src2.npy"), "--filter", f("w.npy"),
                        "--rin", f("rin2.npy"), "--rout", f("rout2.npy"), "--out", f("y.npy"));
                String what = form[0] + " " + form[1] + (fortran ? " Fortran" : "");
                assertEquals(0, r.code(), what + ": " + r.err());
                byte[] expect = want;
                if (form[1].equals("|b1")) {
                    CliTest.Result p01 = CliTest.cli("run", "--op", "forward", "--src", f("src.npy"), "--filter",
                            f("w.npy"), "--rin", f("rin01.npy"), "--rout", f("rout.npy"), "--out", f("plain01.npy"));
                    assertEquals(0, p01.code(), p01.err());
                    expect = Files.readAllBytes(dir.resolve("plain01.npy"));
                }
                assertArrayEquals(expect, Files.readAllBytes(dir.resolve("y.npy")), what);
                if (form[0].endsWith("f8")) {
                    assertEquals("rrconv: note: --src " + f("src2.npy") + ": float64 ('" + form[0]
                            + "') data rounded to float32\n", r.err(), what);
                } else {
                    assertEquals("", r.err(), what);
                }
            }
        }
    }

    @Test
    void aMaskValueThatDoesNotFitIsOneErrorAndAFloatMaskGetsTheRightHint() throws IOException {
        Npy.write(dir.resolve("src.npy"), Tensor.ofFloats(new float[] {1, 2, 3, 4}, 1, 1, 2, 2));
        Npy.write(dir.resolve("w.npy"), Tensor.ofFloats(new float[] {1}, 1, 1, 1, 1));
        Npy.write(dir.resolve("rout.npy"), Tensor.ofInts(new int[] {0, 0, 0, 0}, 1, 2, 2));
        Path rin = file("rin.npy", "<i8", false, new long[] {1, 2, 2}, data(4, 8, ByteOrder.LITTLE_ENDIAN,
                (b, i) -> b.putLong(i == 2 ? 3_000_000_000L : 0)));
        CliTest.Result r = CliTest.cli("run", "--op", "forward", "--src", f("src.npy"), "--filter", f("w.npy"),
                "--rin", rin.toString(), "--rout", f("rout.npy"), "--out", f("y.npy"));
        assertEquals(1, r.code());
        assertEquals("rrconv: error: --rin " + rin + ": value 3000000000 at index (0, 1, 0) does not fit int32;", r.err()
                .substring(0, r.err().indexOf(';') + 1));
        assertEquals(1, r.errLines().size(), r.err());
        assertTrue(!Files.exists(dir.resolve("y.npy")));

        floatForm("fmask.npy", "<f8", false);
        r = CliTest.cli("run", "--op", "forward", "--src", f("src.npy"), "--filter", f("w.npy"),
                "--rin", f("fmask.npy"), "--rout", f("rout.npy"), "--out", f("y.npy"));
        assertEquals(1, r.code());
        assertTrue(r.err().contains("got float64 ('<f8'); convert with a.astype(np.int32)"), r.err());
        assertTrue(!r.err().contains("np.float32"), r.err());
        assertEquals(1, r.errLines().size(), r.err());
    }
}
