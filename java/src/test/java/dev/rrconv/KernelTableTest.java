package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rrconv.internal.NativeLibrary;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * {@link RegionConv#kernels()}: the Java backend's table, and the native one read through
 * {@code rrconv_kernel_count} / {@code rrconv_kernel_get} (skipped while the loaded library predates the
 * table; the test of the one-line answer for such a library runs then instead).
 */
class KernelTableTest {
    private static final List<String> DIRECTIONS = List.of("forward", "backward_data", "backward_filter");

    @Test
    void javaTableHasEveryDirectionFastestFirstReferenceLast() {
        List<KernelInfo> rows = RegionConv.of(Backend.JAVA).kernels();
        checkTable(rows, Set.of("java"));
        for (String d : DIRECTIONS) {
            List<KernelInfo> mine = rows.stream().filter(k -> k.direction().equals(d)).toList();
            assertTrue(mine.size() >= 2, d + ": fast loops and the reference");
            assertEquals("java_" + d + "_reference", mine.getLast().name());
            mine.forEach(k -> assertTrue(k.name().startsWith("java_" + d + "_"), k.name()));
            mine.forEach(k -> assertTrue(k.available(), k.name()));
        }
        assertThrows(UnsupportedOperationException.class, () -> rows.add(rows.getFirst()), "unmodifiable");
    }

    @Test
    void nativeTableListsEveryKernelReferenceLast() {
        Optional<List<KernelInfo>> table = NativeLibrary.get().kernels();
        assertTrue(table.isPresent(), "the bundled librrconv has a kernel table (rrconv_kernel_count)");
        List<KernelInfo> rows = RegionConv.of(Backend.NATIVE).kernels();
        assertEquals(table.get(), rows);
        checkTable(rows, Set.of("avx512", "avx2", "portable", "scalar"));
        for (String d : DIRECTIONS) {
            List<KernelInfo> mine = rows.stream().filter(k -> k.direction().equals(d)).toList();
            assertFalse(mine.isEmpty(), d);
            assertEquals("scalar", mine.getLast().isa(), d + ": the reference loops are the last row");
            assertTrue(mine.getLast().available(), d + ": the reference loops run everywhere");
        }
        String isa = NativeLibrary.get().activeIsa();
        assertTrue(isa.equals("scalar") || rows.stream().anyMatch(k -> k.isa().equals(isa) && k.available()),
                "a row of the active ISA " + isa + " can run");
    }

    private static void checkTable(List<KernelInfo> rows, Set<String> isas) {
        Set<String> names = new HashSet<>();
        for (KernelInfo k : rows) {
            assertTrue(names.add(k.name()), "duplicate name " + k.name());
            assertTrue(DIRECTIONS.contains(k.direction()), k.toString());
            assertTrue(isas.contains(k.isa()), k.toString());
            assertTrue(Set.of("f32", "f16", "bf16").contains(k.dtype()), k.name() + ": dtype " + k.dtype());
            assertTrue(Set.of("nchw", "nhwc").contains(k.layout()), k.name() + ": layout " + k.layout());
            assertFalse(k.applies().isBlank(), k.name());
        }
    }
}
