package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.module.ModuleDescriptor;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Run by failsafe: launches the packaged jar in fresh JVMs, on the module path and on the class path,
 * and compiles small client modules against it, so that the jar is checked the way users run it.
 */
class PackagedJarLaunchIT {
    private static Path jar;
    private static Path javaHome;

    @TempDir
    Path dir;

    record Result(int code, String out, String err) {}

    @BeforeAll
    static void locate() throws URISyntaxException {
        jar = Path.of(RegionConv.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assertTrue(jar.toString().endsWith(".jar"), "not run against the packaged jar: " + jar);
        javaHome = Path.of(System.getProperty("java.home"));
    }

    private Result launch(String tool, List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(javaHome.resolve("bin").resolve(tool).toString());
        cmd.addAll(args);
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + cmd);
        }
        return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    private Result java(String... args) throws IOException, InterruptedException {
        return launch("java", List.of(args));
    }

    private static void assertOk(Result r) {
        assertEquals(0, r.code(), () -> "exit code; stdout:\n" + r.out() + "\nstderr:\n" + r.err());
        assertFalse(r.err().contains("WARNING"), () -> "warnings on stderr:\n" + r.err());
    }

    /** {@code rrconv info} output of a run that loaded the native library out of the jar. */
    private static void assertInfoLoadedFromJar(Result r) {
        assertOk(r);
        assertTrue(r.out().startsWith("rrconv 0."), r.out());
        assertFalse(r.out().contains("development build"), r.out());
        assertTrue(r.out().contains("loaded from: jar:"), r.out());
        assertTrue(r.out().contains(".jar!/dev/rrconv/native/"), r.out());
    }

    @Test
    void jarIsAModuleExportingOnlyThePublicApi() throws IOException {
        try (JarFile jf = new JarFile(jar.toFile())) {
            ModuleDescriptor d = ModuleDescriptor.read(jf.getInputStream(jf.getEntry("module-info.class")));
            assertEquals("dev.rrconv", d.name());
            assertEquals(Set.of("dev.rrconv"), d.exports().stream().map(ModuleDescriptor.Exports::source)
                    .collect(java.util.stream.Collectors.toSet()));
            assertTrue(d.opens().isEmpty(), "opens " + d.opens());
            assertEquals("dev.rrconv.cli.Main", d.mainClass().orElse(null));
            assertTrue(d.packages().containsAll(Set.of("dev.rrconv", "dev.rrconv.internal", "dev.rrconv.cli")),
                    "packages " + d.packages());
            assertEquals("ALL-UNNAMED", jf.getManifest().getMainAttributes().getValue("Enable-Native-Access"));
        }
    }

    @Test
    void cliOnTheModulePath() throws Exception {
        assertInfoLoadedFromJar(java("--enable-native-access=dev.rrconv", "-p", jar.toString(),
                "-m", "dev.rrconv/dev.rrconv.cli.Main", "info"));
        // the module's main class is recorded in its descriptor: -m dev.rrconv alone works too
        Result demo = java("--enable-native-access=dev.rrconv", "-p", jar.toString(), "-m", "dev.rrconv", "demo");
        assertOk(demo);
        assertTrue(demo.out().contains("native backend"), demo.out());
    }

    @Test
    void cliWithJavaDashJar() throws Exception {
        // no --enable-native-access: the manifest's Enable-Native-Access: ALL-UNNAMED grants it
        assertInfoLoadedFromJar(java("-jar", jar.toString(), "info"));
    }

    @Test
    void cliOnTheClassPath() throws Exception {
        assertInfoLoadedFromJar(java("--enable-native-access=ALL-UNNAMED", "-cp", jar.toString(),
                "dev.rrconv.cli.Main", "info"));
    }

    @Test
    void nativeAccessDeniedIsAClearErrorNotACrash() throws Exception {
        Result r = java("--illegal-native-access=deny", "-p", jar.toString(), "-m", "dev.rrconv", "info");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("--enable-native-access=dev.rrconv"), r.out());
    }

    /** A client module that requires dev.rrconv, runs worked example (a) and prints it. */
    private Path clientModule(String body) throws IOException {
        Path src = dir.resolve("client-src");
        Files.createDirectories(src.resolve("client"));
        Files.writeString(src.resolve("module-info.java"), "module client { requires dev.rrconv; }\n");
        Files.writeString(src.resolve("client/Client.java"), """
                package client;
                import dev.rrconv.*;
                import java.lang.foreign.Arena;
                public class Client {
                    public static void main(String[] args) {
                %s
                    }
                }
                """.formatted(body));
        return src;
    }

    private Result javac(Path src, Path out) throws Exception {
        return launch("javac", List.of("-d", out.toString(), "-p", jar.toString(),
                src.resolve("module-info.java").toString(), src.resolve("client/Client.java").toString()));
    }

    @Test
    void clientModuleUsesThePublicApi() throws Exception {
        Path src = clientModule("""
                        Tensor src = Tensor.ofFloats(new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 1, 1, 4, 4);
                        Tensor filter = Tensor.ofFloats(new float[] {1, 1, 1, 1}, 1, 1, 1, 2, 2);
                        Tensor rin = Tensor.ofInts(new int[] {1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1}, 1, 4, 4);
                        Tensor rout = Tensor.ofInts(new int[] {0, 1, 1, 1, 0, 0, 1, 0, 1}, 1, 3, 3);
                        try (Arena arena = Arena.ofConfined()) {
                            for (Backend b : Backend.values()) {
                                Tensor dst = RegionConv.of(b).forward(src, filter, rin, rout, ConvParams.DEFAULT, arena);
                                System.out.println(b + " " + java.util.Arrays.toString(dst.toFloatArray()));
                            }
                        }
                """);
        Path classes = dir.resolve("client-classes");
        Result c = javac(src, classes);
        assertEquals(0, c.code(), c.err());
        Result r = java("--enable-native-access=dev.rrconv", "-p", jar + java.io.File.pathSeparator + classes,
                "-m", "client/client.Client");
        assertOk(r);
        String expected = "[4.0, 14.0, 18.0, 5.0, 9.0, 0.0, 13.0, 9.0, 50.0]";
        assertEquals("NATIVE " + expected + "\nJAVA " + expected + "\nJAVA_SCALAR " + expected + "\nAUTO " + expected
                + "\n", r.out());
    }

    /**
     * A client that runs a seeded random forward problem (groups, padding, stride, two regions) with AUTO
     * and with JAVA and prints what AUTO chose, why, whether the results are bitwise equal, and what an
     * explicit NATIVE says.
     */
    private Path autoClient() throws Exception {
        Path src = clientModule("""
                        java.util.Random r = new java.util.Random(14);
                        int n = 2, g = 2, icpg = 3, ocpg = 2, h = 9, w = 7;
                        ConvParams p = ConvParams.DEFAULT.withGroups(g).withPadding(1, 1).withStride(2, 1);
                        float[] x = new float[n * g * icpg * h * w];
                        float[] f = new float[g * ocpg * icpg * 3 * 3];
                        int[] rin = new int[n * h * w];
                        for (int i = 0; i < x.length; i++) x[i] = r.nextFloat() - 0.5f;
                        for (int i = 0; i < f.length; i++) f[i] = r.nextFloat() - 0.5f;
                        for (int i = 0; i < rin.length; i++) rin[i] = r.nextInt(2);
                        int oh = (int) ConvParams.outputSize(h, 3, 1, 1, 2), ow = (int) ConvParams.outputSize(w, 3, 1, 1, 1);
                        int[] rout = new int[n * oh * ow];
                        for (int i = 0; i < rout.length; i++) rout[i] = r.nextInt(2);
                        Tensor ts = Tensor.ofFloats(x, n, g * icpg, h, w);
                        Tensor tf = Tensor.ofFloats(f, g, ocpg, icpg, 3, 3);
                        Tensor ti = Tensor.ofInts(rin, n, h, w);
                        Tensor to = Tensor.ofInts(rout, n, oh, ow);
                        RegionConv auto = RegionConv.of();
                        System.out.println("backend " + auto.backend());
                        System.out.println("reason " + auto.backendReason());
                        try (Arena arena = Arena.ofConfined()) {
                            float[] a = auto.forward(ts, tf, ti, to, p, arena).toFloatArray();
                            float[] j = RegionConv.of(Backend.JAVA).forward(ts, tf, ti, to, p, arena).toFloatArray();
                            System.out.println("equal " + java.util.Arrays.equals(a, j) + " " + a.length);
                        }
                        try {
                            RegionConv.of(Backend.NATIVE);
                            System.out.println("native loaded");
                        } catch (UnsatisfiedLinkError e) {
                            System.out.println("native error " + e.getMessage());
                        }
                """);
        Path classes = dir.resolve("auto-classes");
        Result c = javac(src, classes);
        assertEquals(0, c.code(), c.err());
        return classes;
    }

    private Result runAutoClient(Path classes, String... jvmOptions) throws Exception {
        List<String> args = new ArrayList<>(List.of(jvmOptions));
        args.addAll(List.of("--enable-native-access=dev.rrconv", "-p", jar + java.io.File.pathSeparator + classes,
                "-m", "client/client.Client"));
        return launch("java", args);
    }

    @Test
    void autoUsesTheNativeLibraryWhereItLoads() throws Exception {
        Result r = runAutoClient(autoClient());
        assertOk(r);
        assertTrue(r.out().startsWith("backend NATIVE\nreason auto: the native library loaded (bundled for linux-"), r.out());
        assertTrue(r.out().contains("native loaded"), r.out());
        assertEquals("", r.err());
    }

    @Test
    void autoFallsBackToJavaWhenTheLibraryPathDoesNotLoad() throws Exception {
        Path missing = dir.resolve("nonexistent").resolve("librrconv.so");
        Result r = runAutoClient(autoClient(), "-Drrconv.library.path=" + missing);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("backend JAVA\nreason auto: the native library did not load: -Drrconv.library.path="
                + missing + ": no such file\nequal true 280\n"), r.out());
        // explicit NATIVE is an error with the same cause
        assertTrue(r.out().contains("native error -Drrconv.library.path=" + missing + ": no such file"), r.out());
        // one warning line, also without RRCONV_VERBOSE
        assertEquals("rrconv: warning: -Drrconv.library.path did not load, using the java backend: -Drrconv.library.path="
                + missing + ": no such file\n", r.err());
    }

    /** os.arch faked to aarch64 on x86-64: the loader picks the jar's linux-aarch64 library, which cannot load here. */
    @Test
    void theLoaderPicksThePlatformsFolder() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue("amd64".equals(System.getProperty("os.arch")), "x86-64 host");
        try (JarFile jf = new JarFile(jar.toFile())) {
            org.junit.jupiter.api.Assumptions.assumeTrue(jf.getEntry("dev/rrconv/native/linux-aarch64/librrconv.so") != null,
                    "the jar carries linux-aarch64 (built with the aarch64 cross compiler)");
        }
        Result info = java("-Dos.arch=aarch64", "--enable-native-access=dev.rrconv", "-jar", jar.toString(), "info");
        assertEquals(0, info.code(), info.err());
        assertTrue(info.out().contains("platform: linux-aarch64 (the jar carries librrconv for linux-x86_64, linux-aarch64)"),
                info.out());
        assertTrue(info.out().contains("native:  not available: cannot open jar:"), info.out());
        assertTrue(info.out().contains(".jar!/dev/rrconv/native/linux-aarch64/librrconv.so (extracted to "), info.out());
        assertTrue(info.out().contains("backend: java (auto: the native library did not load: cannot open jar:"), info.out());
    }

    @Test
    void autoFallsBackToJavaOnAPlatformTheJarDoesNotCarry() throws Exception {
        // os.arch faked: the jar has no linux-riscv64 library (and the loader looks for no other)
        Path classes = autoClient();
        Result r = runAutoClient(classes, "-Dos.arch=riscv64");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("backend JAVA\nreason auto: the native library did not load: no librrconv for"
                + " platform linux-riscv64 (os.name Linux, os.arch riscv64) in this jar, which carries linux-x86_64"), r.out());
        assertTrue(r.out().contains("equal true 280\n"), r.out());
        assertTrue(r.out().contains("native error no librrconv for platform linux-riscv64"), r.out());
        assertTrue(r.out().contains("use Backend.JAVA or Backend.AUTO"), r.out());
        assertEquals("", r.err(), "silent unless RRCONV_VERBOSE=1");

        // RRCONV_VERBOSE=1: one line on stderr naming the java backend and the reason
        List<String> cmd = new ArrayList<>(List.of(javaHome.resolve("bin").resolve("java").toString(), "-Dos.arch=riscv64",
                "--enable-native-access=dev.rrconv", "-p", jar + java.io.File.pathSeparator + classes,
                "-m", "client/client.Client"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(false);
        pb.environment().put("RRCONV_VERBOSE", "1");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), err);
        assertTrue(out.startsWith("backend JAVA\n"), out);
        assertTrue(err.startsWith("rrconv: using the java backend (auto: the native library did not load: no librrconv"
                + " for platform linux-riscv64"), err);
        // one line about the choice; the rest are the java backend's own verbose lines, one per call
        assertEquals(1, err.lines().filter(l -> l.startsWith("rrconv: using the java backend")).count(), err);
        assertTrue(err.lines().skip(1).allMatch(l -> l.startsWith("rrconv_verbose,exec,")), err);

        // the CLI: info says why, and run/demo work by default
        Result info = java("-Dos.arch=riscv64", "--enable-native-access=dev.rrconv", "-jar", jar.toString(), "info");
        assertEquals(0, info.code(), info.err());
        assertTrue(info.out().contains("platform: linux-riscv64 (the jar carries librrconv for linux-x86_64"), info.out());
        assertTrue(info.out().contains("native:  not available: no librrconv for platform linux-riscv64"), info.out());
        assertTrue(info.out().contains("backend: java (auto: the native library did not load: no librrconv"), info.out());
        Result demo = java("-Dos.arch=riscv64", "--enable-native-access=dev.rrconv", "-jar", jar.toString(), "demo");
        assertEquals(0, demo.code(), demo.err());
        assertTrue(demo.out().startsWith("rrconv demo: backward data (the gradient w.r.t. src), java backend (auto: the"
                + " native library did not load: no librrconv for platform linux-riscv64"), demo.out());
        Result nat = java("-Dos.arch=riscv64", "--enable-native-access=dev.rrconv", "-jar", jar.toString(), "demo",
                "--backend", "native");
        assertEquals(1, nat.code(), nat.out());
        assertTrue(nat.err().contains("no librrconv for platform linux-riscv64"), nat.err());
    }

    /**
     * The java backend's Vector API loops come with {@code --add-modules jdk.incubator.vector} only: without
     * it a client module still runs (on the scalar loops, saying why) and the JVM prints no warning; with it
     * the vector loops run, give the same result, and the JDK's one incubator warning is all on stderr.
     */
    @Test
    void javaBackendRunsScalarWithoutTheVectorModuleAndVectorWithIt() throws Exception {
        Path src = clientModule("""
                        System.out.println(RegionConv.javaImplementation());
                        Tensor src = Tensor.ofFloats(new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 1, 1, 4, 4);
                        Tensor filter = Tensor.ofFloats(new float[] {1, 1, 1, 1}, 1, 1, 1, 2, 2);
                        Tensor rin = Tensor.ofInts(new int[] {1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1}, 1, 4, 4);
                        Tensor rout = Tensor.ofInts(new int[] {0, 1, 1, 1, 0, 0, 1, 0, 1}, 1, 3, 3);
                        try (Arena arena = Arena.ofConfined()) {
                            Tensor dst = RegionConv.of(Backend.JAVA).forward(src, filter, rin, rout, ConvParams.DEFAULT, arena);
                            System.out.println(java.util.Arrays.toString(dst.toFloatArray()));
                        }
                """);
        Path classes = dir.resolve("client-classes");
        Result c = javac(src, classes);
        assertEquals(0, c.code(), c.err());
        String path = jar + java.io.File.pathSeparator + classes;
        String expected = "[4.0, 14.0, 18.0, 5.0, 9.0, 0.0, 13.0, 9.0, 50.0]\n";

        Result scalar = java("-p", path, "-m", "client/client.Client");
        assertOk(scalar);
        assertEquals("java scalar loops (jdk.incubator.vector is not in the module graph (start java with "
                + "--add-modules jdk.incubator.vector))\n" + expected, scalar.out());

        Result vector = java("--add-modules", "jdk.incubator.vector", "-p", path, "-m", "client/client.Client");
        assertEquals(0, vector.code(), vector.err());
        assertTrue(vector.out().startsWith("java_vector (jdk.incubator.vector, "), vector.out());
        assertTrue(vector.out().endsWith(")\n" + expected), vector.out());
        assertEquals("WARNING: Using incubator modules: jdk.incubator.vector", vector.err().strip());

        Result info = java("-jar", jar.toString(), "info");
        assertOk(info);
        assertTrue(info.out().contains("\njava backend: java scalar loops (jdk.incubator.vector is not in the module graph"),
                info.out());
        Result vectorInfo = java("--add-modules", "jdk.incubator.vector", "-jar", jar.toString(), "info");
        assertEquals(0, vectorInfo.code(), vectorInfo.err());
        assertTrue(vectorInfo.out().contains("\njava backend: java_vector (jdk.incubator.vector, "), vectorInfo.out());
    }

    @Test
    void internalPackagesAreNotVisibleToClients() throws Exception {
        for (String type : List.of("dev.rrconv.internal.NativeLibrary", "dev.rrconv.internal.javaimpl.Kernels",
                "dev.rrconv.cli.Main")) {
            Path src = clientModule("        System.out.println(" + type + ".class);");
            Result c = javac(src, dir.resolve("classes-" + type));
            assertEquals(1, c.code(), type + " should not compile:\n" + c.out() + c.err());
            String pkg = type.substring(0, type.lastIndexOf('.'));
            assertTrue(c.err().contains("package " + pkg + " is not visible")
                    || c.err().contains("package " + pkg + " is declared in module dev.rrconv, which does not export it"),
                    c.err());
        }
    }
}
