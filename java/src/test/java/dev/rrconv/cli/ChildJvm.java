package dev.rrconv.cli;

import dev.rrconv.Backend;
import dev.rrconv.ConvParams;
import dev.rrconv.DType;
import dev.rrconv.RegionConv;
import dev.rrconv.Tensor;
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Work for a child JVM, which a test can kill with a signal or which may crash without taking the test
 * JVM with it: {@link #start} launches {@link #main} with this JVM's classes and the given scenario.
 */
final class ChildJvm {
    private ChildJvm() {}

    /**
     * Starts a JVM running {@code main(args)} with the test's class and module path as a class path.
     *
     * @param env extra environment variables
     * @param out file for its stdout and stderr together; its folder is the working directory
     * @param args the scenario and its arguments
     * @return the process
     */
    static Process start(Map<String, String> env, Path out, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-Xmx256m");
        String lib = System.getProperty("rrconv.library.path");
        if (lib != null) {
            cmd.add("-Drrconv.library.path=" + lib);
        }
        List<String> cp = new ArrayList<>();
        for (String prop : List.of("jdk.module.path", "java.class.path")) {
            String v = System.getProperty(prop);
            if (v != null && !v.isEmpty()) {
                cp.addAll(Arrays.asList(v.split(File.pathSeparator)));
            }
        }
        cmd.add("-cp");
        cmd.add(String.join(File.pathSeparator, cp));
        cmd.add(ChildJvm.class.getName());
        cmd.addAll(List.of(args));
        // in out's folder, so that a crash's hs_err file does not land in the working tree
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile())
                .directory(out.toAbsolutePath().getParent().toFile());
        pb.environment().putAll(env);
        return pb.start();
    }

    /**
     * The scenarios: {@code cli ARGS...} runs {@link Main#main}; {@code write-loop OUT} writes a 32 MB
     * tensor to OUT again and again until killed; {@code truncate-during-call SRC} reads SRC (a float32
     * (1, 1, H, W) .npy file), truncates it to 128 bytes from another thread while a native forward call
     * runs and calls again after, and prints the two sums of the outputs.
     */
    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "cli" -> Main.main(Arrays.copyOfRange(args, 1, args.length));
            case "write-loop" -> {
                float[] data = new float[8 << 20];
                Arrays.fill(data, 1.5f);
                Tensor t = Tensor.ofFloats(data, 8, 1 << 20);
                System.out.println("writing");
                for (;;) {
                    Npy.write(Path.of(args[1]), t);
                }
            }
            case "truncate-during-call" -> truncateDuringCall(Path.of(args[1]));
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    private static void truncateDuringCall(Path src) throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            Tensor s = Npy.read(src, arena);
            long h = s.dim(2);
            long w = s.dim(3);
            Tensor filter = Tensor.ofFloats(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 1, 3, 3);
            Tensor rin = Tensor.allocate(arena, DType.INT32, 1, h, w);
            Tensor rout = Tensor.allocate(arena, DType.INT32, 1, h - 2, w - 2);
            RegionConv conv = RegionConv.of(Backend.NATIVE);
            Thread truncator = new Thread(() -> {
                try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "rw")) {
                    Thread.sleep(20);
                    f.setLength(128);
                } catch (IOException | InterruptedException e) {
                    throw new RuntimeException(e);
                }
            });
            truncator.start();
            Tensor d1 = conv.forward(s, filter, rin, rout, ConvParams.DEFAULT, arena);
            truncator.join();
            Tensor d2 = conv.forward(s, filter, rin, rout, ConvParams.DEFAULT, arena);
            System.out.println("sums " + sum(d1) + " " + sum(d2));
        }
    }

    static double sum(Tensor t) {
        double sum = 0;
        for (float v : t.toFloatArray()) {
            sum += v;
        }
        return sum;
    }
}
