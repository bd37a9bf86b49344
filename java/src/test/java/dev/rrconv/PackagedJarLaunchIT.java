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
        assertEquals("NATIVE " + expected + "\nJAVA " + expected + "\nJAVA_SCALAR " + expected + "\n", r.out());
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
