package dev.rrconv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.rrconv.Tensor;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The CLI's files under attack (issue 16): targets that are not regular files, symbolic links, long
 * names, names Java cannot represent, permissions, temporary files on a signal, inputs that are FIFOs
 * or change while in use, and the messages of unreadable headers.
 */
class CliFilesTest {
    @TempDir
    Path dir;

    private static final float[] SRC = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    private static final float[] DST = {4, 14, 18, 5, 9, 0, 13, 9, 50};

    private void inputs() throws IOException {
        Npy.write(dir.resolve("src.npy"), Tensor.ofFloats(SRC, 1, 1, 4, 4));
        Npy.write(dir.resolve("filter.npy"), Tensor.ofFloats(new float[] {1, 1, 1, 1}, 1, 1, 1, 2, 2));
        Npy.write(dir.resolve("rin.npy"), Tensor.ofInts(DemoCommand.RIN_B, 1, 4, 4));
        Npy.write(dir.resolve("rout.npy"), Tensor.ofInts(DemoCommand.ROUT_B, 1, 3, 3));
    }

    private String f(String name) {
        return dir.resolve(name).toString();
    }

    /** rrconv run --op forward on the files of {@link #inputs} (src may be absent), writing out. */
    private CliTest.Result forward(String out) {
        return CliTest.cli("run", "--op", "forward", "--src", f("src.npy"), "--filter", f("filter.npy"), "--rin",
                f("rin.npy"), "--rout", f("rout.npy"), "--out", out);
    }

    private static void assertError(CliTest.Result r, int code, String... fragments) {
        assertEquals(code, r.code(), () -> "exit code; stderr: " + r.err());
        assertEquals(1, r.errLines().size(), r.err());
        for (String s : fragments) {
            assertTrue(r.err().contains(s), () -> "'" + s + "' not in: " + r.err());
        }
    }

    private static float[] read(Path p) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            return Npy.read(p, arena).toFloatArray();
        }
    }

    private List<String> names() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static void mkfifo(Path p) throws IOException, InterruptedException {
        Process mk = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
        assertTrue(mk.waitFor(30, TimeUnit.SECONDS) && mk.exitValue() == 0, "mkfifo failed");
    }

    // ---- finding 1: --out only ever a regular file ---------------------------------------------

    @Test
    void outThatIsAFifoSocketOrDirectoryIsRefusedBeforeAnyWork() throws Exception {
        // no src.npy: an error about --out shows the target was checked before any input was read
        Path fifo = dir.resolve("p");
        mkfifo(fifo);
        assertError(forward(fifo.toString()), 1, "--out " + fifo, "FIFO", "regular file");
        assertTrue(Files.exists(fifo) && !Files.isRegularFile(fifo), "the FIFO is still a FIFO");

        Path sock = dir.resolve("s");
        try (ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.bind(UnixDomainSocketAddress.of(sock));
            assertError(forward(sock.toString()), 1, "--out " + sock, "socket");
            assertFalse(Files.isRegularFile(sock));
        }
        Files.createDirectory(dir.resolve("d.npy"));
        assertError(forward(f("d.npy")), 1, "--out " + f("d.npy"), "directory");
    }

    @Test
    void outThatLinksToADeviceIsRefused() throws Exception {
        // a symbolic link to a device is resolved and refused the same way (never replacing the device)
        Path link = dir.resolve("null.npy");
        Files.createSymbolicLink(link, Path.of("/dev/null"));
        assertError(forward(link.toString()), 1, "--out " + link, "character device", "/dev/null");
        assertTrue(Files.isSymbolicLink(link));
        assertFalse(Files.isRegularFile(Path.of("/dev/null")));
    }

    @Test
    void danglingLinkOrMissingFolderIsRefusedBeforeAnyWork() throws IOException {
        Path link = dir.resolve("out.npy");
        Files.createSymbolicLink(link, dir.resolve("nowhere/x.npy"));
        assertError(forward(link.toString()), 1, "--out " + link, "symbolic link", "does not lead to an existing file");
        assertError(forward(f("missing/y.npy")), 1, "--out " + f("missing/y.npy"), "does not exist");
        assertEquals(List.of("out.npy"), names());
    }

    @Test
    void aLinkToARegularFileIsFollowedOnceAndStaysALink() throws IOException {
        inputs();
        Files.createDirectory(dir.resolve("real"));
        Path real = dir.resolve("real/y.npy");
        Files.writeString(real, "old");
        Path link = dir.resolve("y.npy");
        Files.createSymbolicLink(link, Path.of("real/y.npy"));
        CliTest.Result r = forward(link.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isSymbolicLink(link));
        assertArrayEquals(DST, read(real));
    }

    // ---- finding 5: long names, permissions, names Java cannot represent -----------------------

    @Test
    void anOutputNameOf255BytesCanBeWritten() throws IOException {
        inputs();
        String name = "o".repeat(251) + ".npy";
        CliTest.Result r = forward(f(name));
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(DST, read(dir.resolve(name)));
        assertFalse(names().stream().anyMatch(n -> n.endsWith(".tmp")), names().toString());
    }

    @Test
    void aReplacedOutputKeepsItsPermissions() throws IOException {
        inputs();
        Path out = dir.resolve("y.npy");
        for (String mode : List.of("rw-------", "r--r-----", "rw-rw-r--")) {
            Files.writeString(out, "old");
            Files.setPosixFilePermissions(out, PosixFilePermissions.fromString(mode));
            CliTest.Result r = forward(out.toString());
            assertEquals(0, r.code(), r.err());
            assertEquals(mode, PosixFilePermissions.toString(Files.getPosixFilePermissions(out)));
            assertArrayEquals(DST, read(out));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"out", "src", "rin"})
    void aNameJavaCannotRepresentIsRefusedNamingTheOption(String option) throws IOException {
        // a command-line byte the locale's charset cannot decode reaches Java as U+FFFD: writing
        // "o\uFFFD.npy" would create another file than the one named
        inputs();
        String bad = f("o\uFFFD.npy");
        String[] a = {"run", "--op", "forward", "--src", f("src.npy"), "--filter", f("filter.npy"), "--rin",
                f("rin.npy"), "--rout", f("rout.npy"), "--out", f("y.npy")};
        for (int i = 0; i < a.length; i++) {
            if (a[i].equals("--" + option)) {
                a[i + 1] = bad;
            }
        }
        assertError(CliTest.cli(a), 2, "--" + option + " '" + bad + "'", "not valid");
        assertFalse(names().contains("o\uFFFD.npy"));
        assertFalse(names().contains("y.npy"));
    }

    // ---- finding 3: no temporary file survives a signal ----------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"TERM", "INT"})
    void aSignalDuringAWriteLeavesNoTemporaryFile(String signal) throws Exception {
        Path out = dir.resolve("big.npy");
        Path log = Files.createTempFile("rrconv-child", ".log");
        Process p = ChildJvm.start(Map.of(), log, "write-loop", out.toString());
        try {
            // wait (bounded) until a temporary file exists: the child is in the middle of a write
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (names().stream().noneMatch(n -> n.endsWith(".tmp"))) {
                assertTrue(p.isAlive(), () -> "child exited: " + readLog(log));
                assertTrue(System.nanoTime() < deadline, "no temporary file appeared in 60 s");
                Thread.sleep(5);
            }
            Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).start();
            assertTrue(kill.waitFor(30, TimeUnit.SECONDS) && kill.exitValue() == 0);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child did not exit on SIG" + signal);
            assertEquals(128 + (signal.equals("TERM") ? 15 : 2), p.exitValue(), () -> readLog(log));
            List<String> left = names();
            assertTrue(left.isEmpty() || left.equals(List.of("big.npy")), "debris: " + left);
        } finally {
            p.destroyForcibly();
            Files.deleteIfExists(log);
        }
    }

    private static String readLog(Path log) {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return e.toString();
        }
    }

    // ---- findings 2 and 4: inputs that change, FIFOs ------------------------------------------

    @Test
    void anInputTruncatedDuringANativeCallCannotCrashTheJvm() throws Exception {
        int h = 1024;
        int w = 1024;
        float[] v = new float[h * w];
        for (int i = 0; i < v.length; i++) {
            v[i] = i % 13;
        }
        Path src = dir.resolve("src.npy");
        Npy.write(src, Tensor.ofFloats(v, 1, 1, h, w));
        // the expected sums, from the same data in this JVM (rin == rout == 0: every tap counts)
        double expected = 0;
        for (int oh = 0; oh < h - 2; oh++) {
            for (int ow = 0; ow < w - 2; ow++) {
                for (int k = 0; k < 9; k++) {
                    expected += (k + 1) * v[(oh + k / 3) * w + ow + k % 3];
                }
            }
        }
        Path log = Files.createTempFile("rrconv-child", ".log");
        Process p = ChildJvm.start(Map.of(), log, "truncate-during-call", src.toString());
        try {
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child timed out");
            String text = readLog(log);
            assertEquals(0, p.exitValue(), text); // a mapped input died here with SIGBUS (exit 134)
            assertEquals(128, Files.size(src), "the file was truncated");
            String[] sums = text.strip().substring(text.strip().lastIndexOf("sums ") + 5).split(" ");
            assertEquals(expected, Double.parseDouble(sums[0]), 1e-6 * expected, text);
            assertEquals(expected, Double.parseDouble(sums[1]), 1e-6 * expected, text);
        } finally {
            p.destroyForcibly();
            Files.deleteIfExists(log);
        }
    }

    @Test
    void aFileTruncatedWhileBeingReadIsOneErrorNamingIt() throws Exception {
        // another thread truncates and restores the file while this one reads it: every read either
        // returns the whole data or fails with a message naming the file, never anything else
        float[] v = new float[1 << 20];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        Path p = dir.resolve("x.npy");
        Npy.write(p, Tensor.ofFloats(v, v.length));
        byte[] whole = Files.readAllBytes(p);
        AtomicBoolean stop = new AtomicBoolean();
        Thread t = new Thread(() -> {
            try {
                while (!stop.get()) {
                    try (var ch = java.nio.channels.FileChannel.open(p, java.nio.file.StandardOpenOption.WRITE)) {
                        ch.truncate(200);
                        Thread.sleep(1);
                        ch.write(java.nio.ByteBuffer.wrap(whole), 0);
                    }
                }
            } catch (IOException | InterruptedException e) {
                throw new RuntimeException(e);
            }
        });
        t.start();
        int ok = 0;
        int failed = 0;
        try {
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
            while (System.nanoTime() < end) {
                try (Arena arena = Arena.ofConfined()) {
                    float[] back = Npy.read(p, arena).toFloatArray();
                    assertEquals(v.length, back.length);
                    ok++;
                } catch (NpyFormatException e) {
                    assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
                    failed++;
                }
            }
        } finally {
            stop.set(true);
            t.join(10_000);
        }
        assertTrue(ok + failed > 0);
    }

    @Test
    void aRunWhoseInputIsTruncatedMeanwhileFailsCleanlyOrSucceedsAndNeverTouchesTheOutputOnFailure()
            throws Exception {
        // another thread truncates and restores --src while rrconv run reads it again and again: each run
        // either writes the right output or fails with one line naming --src and leaves the output as it was
        inputs();
        float[] v = new float[1 << 20];
        for (int i = 0; i < v.length; i++) {
            v[i] = i % 7;
        }
        Path src = dir.resolve("big.npy");
        Npy.write(src, Tensor.ofFloats(v, 1, 1, 1024, 1024));
        byte[] whole = Files.readAllBytes(src);
        Npy.write(dir.resolve("one.npy"), Tensor.ofFloats(new float[] {2}, 1, 1, 1, 1, 1));
        Npy.write(dir.resolve("rin1k.npy"), Tensor.ofInts(new int[1 << 20], 1, 1024, 1024));
        Path out = dir.resolve("y.npy");
        String[] args = {"run", "--op", "forward", "--src", src.toString(), "--filter", f("one.npy"), "--rin",
                f("rin1k.npy"), "--rout", f("rin1k.npy"), "--out", out.toString()};
        assertEquals(0, CliTest.cli(args).code());
        byte[] expected = Files.readAllBytes(out);
        AtomicBoolean stop = new AtomicBoolean();
        Thread t = new Thread(() -> {
            try (var ch = java.nio.channels.FileChannel.open(src, java.nio.file.StandardOpenOption.WRITE)) {
                while (!stop.get()) {
                    ch.truncate(100 + (whole.length / 3));
                    Thread.sleep(2);
                    ch.write(java.nio.ByteBuffer.wrap(whole), 0);
                    Thread.sleep(2);
                }
            } catch (IOException | InterruptedException e) {
                throw new RuntimeException(e);
            }
        });
        t.start();
        int failed = 0;
        try {
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2000);
            while (System.nanoTime() < end) {
                Files.writeString(out, "keep me");
                CliTest.Result r = CliTest.cli(args);
                if (r.code() == 0) {
                    assertArrayEquals(expected, Files.readAllBytes(out));
                } else {
                    failed++;
                    assertError(r, 1, "--src " + src + ": ");
                    assertEquals("keep me", Files.readString(out));
                }
                assertFalse(names().stream().anyMatch(n -> n.endsWith(".tmp")), names().toString());
            }
        } finally {
            stop.set(true);
            t.join(10_000);
        }
        assertTrue(failed > 0, "no run saw a truncated file: the test proved nothing");
    }

    @Test
    void aFifoInputIsRefusedAtOnce() throws Exception {
        inputs();
        Path fifo = dir.resolve("fifo.npy");
        mkfifo(fifo);
        CliTest.Result[] r = new CliTest.Result[1];
        Thread t = new Thread(() -> r[0] = CliTest.cli("run", "--op", "forward", "--src", fifo.toString(), "--filter",
                f("filter.npy"), "--rin", f("rin.npy"), "--rout", f("rout.npy"), "--out", f("y.npy")));
        t.start();
        t.join(30_000);
        if (t.isAlive()) {
            try (OutputStream unblock = Files.newOutputStream(fifo)) {
                unblock.flush(); // a writer lets the blocked open return; then fail
            }
            t.join(30_000);
            fail("reading --src from a FIFO with no writer hung");
        }
        assertError(r[0], 1, "--src " + fifo + ": is a FIFO", "regular file");
        assertFalse(Files.exists(dir.resolve("y.npy")));
    }

    // ---- finding 6: messages name the file -----------------------------------------------------

    @Test
    void aDeeplyNestedShapeIsAnErrorNamingTheFile() throws IOException {
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + "(".repeat(500_000) + "}";
        Path p = dir.resolve("deep.npy");
        Files.write(p, NpyTest.npy(2, dict, new byte[0]));
        try (Arena arena = Arena.ofConfined()) {
            NpyFormatException e = assertThrows(NpyFormatException.class, () -> Npy.read(p, arena));
            assertTrue(e.getMessage().startsWith(p + ": ") && e.getMessage().contains("nested more than"),
                    e.getMessage());
        }
    }

    @Test
    void aNulInTheDtypeIsShown() throws IOException {
        Path p = dir.resolve("nul.npy");
        Files.write(p, NpyTest.npy(1, "{'descr': '<f4\u0000', 'fortran_order': False, 'shape': (1,), }",
                NpyTest.floats(1)));
        try (Arena arena = Arena.ofConfined()) {
            NpyFormatException e = assertThrows(NpyFormatException.class, () -> Npy.read(p, arena));
            assertTrue(e.getMessage().contains("'<f4\\x00'"), e.getMessage());
        }
    }

    @Test
    void anInputThatCannotBeOpenedNamesTheOptionFileAndReason() throws IOException {
        Path loop = dir.resolve("loop.npy");
        Files.createSymbolicLink(loop, loop);
        for (String bad : List.of(loop.toString(), f("n".repeat(300) + ".npy"))) {
            CliTest.Result r = CliTest.cli("run", "--op", "forward", "--src", bad, "--filter", f("filter.npy"), "--rin",
                    f("rin.npy"), "--rout", f("rout.npy"), "--out", f("y.npy"));
            assertError(r, 1, "--src " + bad + ": cannot read it: ",
                    bad.equals(loop.toString()) ? "symbolic links" : "too long");
        }
    }
}
