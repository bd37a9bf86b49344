package dev.rrconv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rrconv.DType;
import dev.rrconv.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyTest {
    @TempDir
    Path dir;

    // ---- files as numpy writes them (built by hand here) ----------------------------------------

    /** numpy's layout: magic, version, header length, the dict padded with spaces and '\n' to a 64-byte boundary. */
    static byte[] npy(int major, String dict, byte[] data) {
        int prelude = major == 1 ? 10 : 12;
        int total = 128;
        while (total < prelude + dict.length() + 1) {
            total += 64;
        }
        int hlen = total - prelude;
        ByteBuffer b = ByteBuffer.allocate(total + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
        if (major == 1) {
            b.putShort((short) hlen);
        } else {
            b.putInt(hlen);
        }
        byte[] d = dict.getBytes(major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        b.put(d);
        for (int i = d.length; i < hlen - 1; i++) {
            b.put((byte) ' ');
        }
        b.put((byte) '\n');
        b.put(data);
        return b.array();
    }

    static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    static byte[] ints(int... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int i : v) {
            b.putInt(i);
        }
        return b.array();
    }

    private Path file(String name, byte[] content) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, content);
        return p;
    }

    private static float[] iota(int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = i;
        }
        return f;
    }

    // ---- reading numpy's files ------------------------------------------------------------------

    @Test
    void readsFloat32AsNumpyWritesIt() throws IOException {
        Path p = file("a.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 4, 4), }", floats(iota(16))));
        assertEquals(128 + 64, Files.size(p));
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Npy.read(p, arena);
            assertEquals(DType.FLOAT32, t.dtype());
            assertArrayEquals(new long[] {1, 1, 4, 4}, t.shape());
            assertArrayEquals(iota(16), t.toFloatArray());
            assertTrue(t.segment().isNative(), "off-heap");
        }
    }

    @Test
    void readsInt32AndUint8() throws IOException {
        Path i = file("i.npy", npy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", ints(-1, 7, 1 << 30)));
        Path u = file("u.npy", npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }",
                new byte[] {0, 1, 2, (byte) 200, (byte) 255, 5}));
        Path u2 = file("u2.npy", npy(1, "{'descr': '<u1', 'fortran_order': False, 'shape': (2,), }", new byte[] {9, (byte) 128}));
        try (Arena arena = Arena.ofConfined()) {
            Tensor ti = Npy.read(i, arena);
            assertEquals(DType.INT32, ti.dtype());
            assertArrayEquals(new int[] {-1, 7, 1 << 30}, ti.toIntArray());
            Tensor tu = Npy.read(u, arena);
            assertEquals(DType.UINT8, tu.dtype());
            assertArrayEquals(new long[] {2, 3}, tu.shape());
            assertArrayEquals(new int[] {0, 1, 2, 200, 255, 5}, tu.toIntArray());
            assertArrayEquals(new int[] {9, 128}, Npy.read(u2, arena).toIntArray());
        }
    }

    @Test
    void readsVersions2And3() throws IOException {
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
        Path v2 = file("v2.npy", npy(2, dict, floats(1, 2, 3)));
        Path v3 = file("v3.npy", npy(3, dict, floats(4, 5, 6)));
        try (Arena arena = Arena.ofConfined()) {
            assertArrayEquals(new float[] {1, 2, 3}, Npy.read(v2, arena).toFloatArray());
            assertArrayEquals(new float[] {4, 5, 6}, Npy.read(v3, arena).toFloatArray());
        }
    }

    @Test
    void readsScalarsEmptyArraysAndOddHeaders() throws IOException {
        Path scalar = file("s.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", floats(3.5f)));
        Path empty = file("e.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", new byte[0]));
        // not padded to 64 and the data at an odd offset (not what numpy writes, but valid): read by copying
        byte[] h = "{\"shape\":(2,),\"fortran_order\":False,\"descr\":\"<i4\"}\n".getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(10 + h.length + 8).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) h.length).put(h).putInt(11).putInt(-12);
        assertTrue((10 + h.length) % 4 != 0);
        Path odd = file("odd.npy", b.array());
        Path py2 = file("py2.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1L, 2L), }", floats(1, 2)));
        try (Arena arena = Arena.ofConfined()) {
            Tensor s = Npy.read(scalar, arena);
            assertEquals(0, s.rank());
            assertEquals(3.5f, s.getFloat());
            Tensor e = Npy.read(empty, arena);
            assertArrayEquals(new long[] {0, 3}, e.shape());
            assertEquals(0, e.elementCount());
            Tensor o = Npy.read(odd, arena);
            assertArrayEquals(new int[] {11, -12}, o.toIntArray());
            assertEquals(0, o.segment().address() % 4, "aligned copy");
            assertArrayEquals(new float[] {1, 2}, Npy.read(py2, arena).toFloatArray());
        }
    }

    // ---- writing --------------------------------------------------------------------------------

    @Test
    void writesExactlyWhatNumpyWrites() throws IOException {
        Path p = dir.resolve("out.npy");
        Npy.write(p, Tensor.ofFloats(iota(16), 1, 1, 4, 4));
        assertArrayEquals(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 4, 4), }", floats(iota(16))),
                Files.readAllBytes(p));
        Npy.write(p, Tensor.ofInts(new int[] {-1, 7, 1 << 30}, 3));
        assertArrayEquals(npy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", ints(-1, 7, 1 << 30)),
                Files.readAllBytes(p));
        Npy.write(p, Tensor.ofBytes(new byte[] {0, 1, 2, (byte) 200, (byte) 255, 5}, 2, 3));
        assertArrayEquals(npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }",
                new byte[] {0, 1, 2, (byte) 200, (byte) 255, 5}), Files.readAllBytes(p));
        Npy.write(p, Tensor.ofFloats(new float[] {2.5f}));
        assertArrayEquals(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", floats(2.5f)),
                Files.readAllBytes(p));
        Npy.write(p, Tensor.ofFloats(new float[0], 0, 3));
        assertArrayEquals(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", new byte[0]),
                Files.readAllBytes(p));
    }

    @Test
    void roundTripsEveryDtypeThroughNativeMemory() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Tensor f = Tensor.allocate(arena, DType.FLOAT32, 2, 3, 4);
            Tensor i = Tensor.allocate(arena, DType.INT32, 5, 7);
            Tensor u = Tensor.allocate(arena, DType.UINT8, 3, 1, 9);
            for (int k = 0; k < 24; k++) {
                f.setFloat(k * 0.25f - 3, k / 12, k / 4 % 3, k % 4);
            }
            for (int k = 0; k < 35; k++) {
                i.setInt(k * 1_000_003 - 17, k / 7, k % 7);
            }
            for (int k = 0; k < 27; k++) {
                u.setInt(k * 10, k / 9, 0, k % 9);
            }
            for (Tensor t : List.of(f, i, u)) {
                Path p = dir.resolve(t.dtype() + ".npy");
                Npy.write(p, t);
                Tensor back = Npy.read(p, arena);
                assertEquals(t.dtype(), back.dtype());
                assertArrayEquals(t.shape(), back.shape());
                if (t.dtype() == DType.FLOAT32) {
                    assertArrayEquals(t.toFloatArray(), back.toFloatArray());
                } else {
                    assertArrayEquals(t.toIntArray(), back.toIntArray());
                }
                // a second write of the read-back tensor gives the same bytes
                Path p2 = dir.resolve(t.dtype() + "-2.npy");
                Npy.write(p2, back);
                assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(p2));
            }
        }
    }

    @Test
    void writesStridedViewsInCOrder() throws IOException {
        Tensor t = Tensor.ofFloats(iota(6), 2, 3).permute(1, 0); // (3, 2): 0 3 / 1 4 / 2 5
        Path p = dir.resolve("t.npy");
        Npy.write(p, t);
        try (Arena arena = Arena.ofConfined()) {
            Tensor back = Npy.read(p, arena);
            assertArrayEquals(new long[] {3, 2}, back.shape());
            assertArrayEquals(new float[] {0, 3, 1, 4, 2, 5}, back.toFloatArray());
        }
    }

    @Test
    void writeReplacesAnExistingFile() throws IOException {
        Path p = file("x.npy", "old content".getBytes(StandardCharsets.UTF_8));
        Npy.write(p, Tensor.ofFloats(new float[] {1, 2}, 2));
        assertEquals(128 + 8, Files.size(p));
        assertEquals(List.of(p), listDir());
    }

    @Test
    void failedWriteLeavesNoFileAndKeepsAnExistingOne() throws IOException {
        Path p = file("x.npy", "old content".getBytes(StandardCharsets.UTF_8));
        Path fresh = dir.resolve("fresh.npy");
        Tensor dead;
        try (Arena arena = Arena.ofConfined()) {
            dead = Tensor.allocate(arena, DType.FLOAT32, 4, 4);
        }
        // the header is written, then reading the closed arena's memory fails mid-way
        assertThrows(IllegalStateException.class, () -> Npy.write(p, dead));
        assertThrows(IllegalStateException.class, () -> Npy.write(fresh, dead));
        assertEquals("old content", Files.readString(p));
        assertFalse(Files.exists(fresh));
        assertEquals(List.of(p), listDir(), "no temporary file left behind");

        IOException e = assertThrows(IOException.class,
                () -> Npy.write(dir.resolve("missing/y.npy"), Tensor.ofFloats(new float[] {1}, 1)));
        assertTrue(e.getMessage().contains("missing/y.npy") && e.getMessage().contains("does not exist"), e.getMessage());
        Files.createDirectory(dir.resolve("d.npy"));
        e = assertThrows(IOException.class, () -> Npy.write(dir.resolve("d.npy"), Tensor.ofFloats(new float[] {1}, 1)));
        assertTrue(e.getMessage().contains("is a directory"), e.getMessage());
    }

    private List<Path> listDir() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isRegularFile).sorted().toList();
        }
    }

    @Test
    void headerMatchesNumpyForLongShapes() {
        // numpy adds 21 - len(str(shape[0])) spaces so the first dimension can grow in place
        byte[] h = Npy.header(DType.FLOAT32, new long[] {123456789012L, 1});
        assertEquals(0, h.length % 64);
        String text = new String(h, 10, h.length - 10, StandardCharsets.ISO_8859_1);
        assertTrue(text.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (123456789012, 1), }"));
        assertTrue(text.endsWith(" \n"));
    }

    // ---- malformed files ------------------------------------------------------------------------

    private void assertBad(String name, byte[] content, String... fragments) throws IOException {
        Path p = file(name, content);
        try (Arena arena = Arena.ofConfined()) {
            NpyFormatException e = assertThrows(NpyFormatException.class, () -> Npy.read(p, arena));
            assertTrue(e.getMessage().startsWith(p.toString() + ": "), e.getMessage());
            for (String f : fragments) {
                assertTrue(e.getMessage().contains(f), "'" + f + "' not in: " + e.getMessage());
            }
            assertEquals(p, e.file());
        }
    }

    @Test
    void rejectsBadMagic() throws IOException {
        assertBad("magic.npy", "PK\u0003\u0004 this is a zip".getBytes(StandardCharsets.ISO_8859_1), "not a .npy file");
        assertBad("empty.npy", new byte[0], "not a .npy file", "0 bytes");
        assertBad("short.npy", new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1}, "truncated");
    }

    @Test
    void rejectsUnsupportedVersions() throws IOException {
        byte[] b = npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", floats(1));
        b[6] = 4;
        assertBad("v4.npy", b, "version 4.0");
        b[6] = 1;
        b[7] = 1;
        assertBad("v11.npy", b, "version 1.1");
    }

    @Test
    void rejectsOtherDtypes() throws IOException {
        // (big-endian, Fortran order, float64 and integer masks are read: NpyFormsTest)
        // (float16 '<f2' is read since the CLI's --dtype: HalfCliTest)
        assertBad("f16.npy", npy(1, "{'descr': '<f16', 'fortran_order': False, 'shape': (1,), }", new byte[16]),
                "unsupported dtype '<f16' (float128)", "a.astype(np.float32) for data or a.astype(np.int32) for a region mask");
        assertBad("c8.npy", npy(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", new byte[8]), "complex64");
        assertBad("o.npy", npy(1, "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", new byte[8]), "object");
        assertBad("pipe4.npy", npy(1, "{'descr': '|f4', 'fortran_order': False, 'shape': (1,), }", new byte[4]), "'|f4'");
        assertBad("rec.npy", npy(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new byte[4]),
                "structured");
    }

    @Test
    void rejectsTruncatedData() throws IOException {
        assertBad("trunc.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", floats(1, 2, 3)),
                "truncated data", "24 bytes", "12");
        // a header whose length field claims more than the file holds
        byte[] b = npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", floats(1));
        b[8] = (byte) 0xff;
        b[9] = (byte) 0x7f;
        assertBad("hlen.npy", b, "truncated .npy header");
        assertBad("cut.npy", java.util.Arrays.copyOf(b, 60), "truncated");
    }

    @Test
    void rejectsHugeShapes() throws IOException {
        assertBad("overflow.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }",
                new byte[0]), "overflows");
        assertBad("overflow2.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3037000500, 3037000500), }",
                new byte[0]), "overflows");
        assertBad("big.npy", npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1000000, 1000000), }",
                new byte[16]), "truncated data");
        assertBad("digits.npy", npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
                new byte[0]), "too large");
    }

    @Test
    void rejectsMalformedHeaders() throws IOException {
        assertBad("nokey.npy", npy(1, "{'descr': '<f4', 'shape': (1,), }", floats(1)), "no 'fortran_order' key");
        assertBad("extra.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1, }", floats(1)),
                "unexpected key");
        assertBad("garbage.npy", npy(1, "hello", floats(1)), "malformed .npy header");
        assertBad("unclosed.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,", floats(1)),
                "malformed");
        assertBad("neg.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", floats(1)),
                "malformed");
        assertBad("shape.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': 3, }", floats(1)),
                "not a tuple");
        assertBad("dup.npy", npy(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
                floats(1)), "twice");
        byte[] bad3 = npy(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", floats(1));
        bad3[20] = (byte) 0xff;
        assertBad("utf8.npy", bad3, "UTF-8");
    }

    @Test
    void missingFileOrDirectory() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            assertThrows(NoSuchFileException.class, () -> Npy.read(dir.resolve("nope.npy"), arena));
            NpyFormatException e = assertThrows(NpyFormatException.class, () -> Npy.read(dir, arena));
            assertTrue(e.getMessage().contains("is a directory"));
        }
    }

    @Test
    void bytesOfHelperMatchNumpySizes() {
        // sanity check of the hand-built layout: numpy's 1.0 files of small arrays have a 128-byte header
        assertEquals(128, npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 4, 4), }", new byte[0]).length);
        assertEquals(128, npy(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", new byte[0]).length);
    }
}
