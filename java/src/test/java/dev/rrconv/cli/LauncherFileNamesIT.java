package dev.rrconv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rrconv.RegionConv;
import dev.rrconv.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * File names through the {@code ./rrconv} launcher and the packaged jar, under the C locale and a UTF-8
 * one: a UTF-8 name round-trips byte for byte, a name that is not valid UTF-8 is refused naming its option
 * (never written under another name). The names are made by the shell, so this JVM's own locale plays no
 * part.
 */
class LauncherFileNamesIT {
    @TempDir
    Path dir;

    private record Result(int code, String out) {}

    /** Runs script with sh in dir; $ROOT is the project folder, the launcher uses the packaged jar. */
    private Result sh(Map<String, String> env, String script) throws Exception {
        Path jar = Path.of(RegionConv.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assertTrue(jar.toString().endsWith(".jar"), "not run against the packaged jar: " + jar);
        Path root = Path.of(System.getProperty("user.dir"));
        assertTrue(Files.isRegularFile(root.resolve("rrconv")), "no launcher in " + root);
        Path log = Files.createTempFile("rrconv-launcher", ".txt");
        ProcessBuilder pb = new ProcessBuilder("sh", "-c", script).directory(dir.toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().remove("LANG");
        pb.environment().remove("LC_CTYPE");
        pb.environment().remove("LC_ALL");
        pb.environment().put("ROOT", root.toString());
        pb.environment().put("RRCONV_JAR", jar.toString());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().putAll(env);
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + script);
        }
        try {
            return new Result(p.exitValue(), Files.readString(log, StandardCharsets.ISO_8859_1));
        } finally {
            Files.delete(log);
        }
    }

    private void inputs() throws IOException {
        Npy.write(dir.resolve("src.npy"), Tensor.ofFloats(new float[] {1, 2, 3, 4}, 1, 1, 2, 2));
        Npy.write(dir.resolve("filter.npy"), Tensor.ofFloats(new float[] {1}, 1, 1, 1, 1, 1));
        Npy.write(dir.resolve("rin.npy"), Tensor.ofInts(new int[] {0, 0, 0, 0}, 1, 2, 2));
        Npy.write(dir.resolve("rout.npy"), Tensor.ofInts(new int[] {0, 0, 0, 0}, 1, 2, 2));
    }

    private static final String RUN = "\"$ROOT/rrconv\" run --op forward --src src.npy --filter filter.npy"
            + " --rin rin.npy --rout rout.npy";

    @Test
    void aUtf8NameRoundTripsUnderTheCLocale() throws Exception {
        inputs();
        for (String locale : List.of("C", "POSIX", "C.UTF-8")) {
            Result r = sh(Map.of("LC_ALL", locale), "o=$(printf 'y\\303\\266.npy'); " + RUN + " --out \"$o\""
                    + " && test -f \"$o\" && " + RUN.replace("src.npy", "\"$o\"") + " --out z.npy && rm \"$o\" z.npy");
            assertEquals(0, r.code(), () -> locale + ": " + r.out());
        }
    }

    @Test
    void aNameThatIsNotUtf8IsRefusedNamingTheOption() throws Exception {
        inputs();
        Result r = sh(Map.of("LC_ALL", "C.UTF-8"), RUN + " --out \"$(printf 'o\\377.npy')\"; echo \"exit $?\"; ls");
        assertTrue(r.out().contains("exit 2"), r.out());
        assertTrue(r.out().contains("--out"), r.out());
        assertEquals(List.of("filter.npy", "rin.npy", "rout.npy", "src.npy"),
                r.out().lines().filter(l -> !l.startsWith("rrconv") && !l.startsWith("exit")
                        && !l.startsWith("WARNING: Using incubator modules")).sorted().toList(), // the launcher adds the module
                r.out());
    }
}
