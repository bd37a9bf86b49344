package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rrconv.internal.NativeLibrary;
import java.lang.foreign.Arena;
import java.net.URL;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Run by failsafe against the packaged jar (not target/classes): the library must be found inside the
 * jar, extracted and opened, and a forward call must work through it.
 */
class NativeLoadingIT {

    @Test
    void libraryIsLoadedFromTheJar() {
        URL classes = RegionConv.class.getProtectionDomain().getCodeSource().getLocation();
        assertTrue(classes.getPath().endsWith(".jar"), "RegionConv was loaded from " + classes + ", not a jar");
        assertNull(System.getProperty(NativeLibrary.PATH_PROPERTY),
                "-D" + NativeLibrary.PATH_PROPERTY + " would bypass the bundled library");

        NativeLibrary lib = NativeLibrary.get();
        assertTrue(lib.loadedFrom().startsWith("jar:"), "loaded from " + lib.loadedFrom());
        assertTrue(lib.loadedFrom().contains(".jar!/dev/rrconv/native/"), "loaded from " + lib.loadedFrom());
        assertTrue(!lib.version().isEmpty(), "version");
        assertTrue(Set.of("avx512", "avx2", "portable", "scalar").contains(lib.activeIsa()), "isa " + lib.activeIsa());

        // worked example (a): forward, dense, through the bundled library
        Tensor src = Tensor.ofFloats(new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 1, 1, 4, 4);
        Tensor filter = Tensor.ofFloats(new float[] {1, 1, 1, 1}, 1, 1, 1, 2, 2);
        Tensor rin = Tensor.ofInts(new int[] {1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1}, 1, 4, 4);
        Tensor rout = Tensor.ofInts(new int[] {0, 1, 1, 1, 0, 0, 1, 0, 1}, 1, 3, 3);
        try (Arena arena = Arena.ofConfined()) {
            Tensor dst = RegionConv.of(Backend.NATIVE).forward(src, filter, rin, rout, ConvParams.DEFAULT, arena);
            assertArrayEquals(new float[] {4, 14, 18, 5, 9, 0, 13, 9, 50}, dst.toFloatArray());
        }
    }
}
