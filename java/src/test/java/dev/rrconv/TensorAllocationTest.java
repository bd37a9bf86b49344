package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Tensor.allocate: the exact byte size, zero fill and 64-byte alignment at every size, and the 4 KiB
 * phase staggering of large tensors (successive ones start at different offsets within a page; see
 * the javadoc), which keeps an input and the output allocated after it apart.
 */
class TensorAllocationTest {
    static final long PAGE = 4096;

    static long phase(Tensor t) {
        return t.segment().address() % PAGE;
    }

    static void assertDenseZeroed(Tensor t, long bytes) {
        MemorySegment s = t.segment();
        assertEquals(bytes, s.byteSize(), "segment size of " + t);
        assertEquals(0, s.address() % 64, "64-byte alignment of " + t);
        for (long i = 0; i < bytes; i++) {
            if (s.get(ValueLayout.JAVA_BYTE, i) != 0) {
                throw new AssertionError("byte " + i + " of " + t + " is not zero");
            }
        }
    }

    @Test
    void smallTensorsAreExactAlignedAndZeroed() {
        try (Arena arena = Arena.ofConfined()) {
            assertDenseZeroed(Tensor.allocate(arena, DType.FLOAT32, 1, 1, 4, 4), 64);
            assertDenseZeroed(Tensor.allocate(arena, DType.UINT8, 3, 5), 15);
            assertDenseZeroed(Tensor.allocate(arena, DType.INT32, 0, 7), 0);
            assertDenseZeroed(Tensor.allocate(arena, DType.FLOAT32, 16383), 65532); // just under the threshold
        }
    }

    @Test
    void largeTensorsStartInDifferentPagePhases() {
        try (Arena arena = Arena.ofConfined()) {
            Set<Long> phases = new HashSet<>();
            long previous = -1;
            for (int i = 0; i < 16; i++) {
                // DW-K3's src / dst size (6 MiB), and the smallest staggered size
                Tensor t = i % 2 == 0 ? Tensor.allocate(arena, DType.FLOAT32, 4, 384, 32, 32)
                        : Tensor.allocate(arena, DType.INT32, 16384);
                assertDenseZeroed(t, t.elementCount() * 4);
                long p = phase(t);
                assertEquals(0, p % 256, "phases are multiples of 256 B: " + p);
                // other test threads may allocate in between, but never 15 tensors in a row here
                assertNotEquals(previous, p, "allocation " + i + " in the phase of the one before it");
                previous = p;
                phases.add(p);
            }
            assertTrue(phases.size() >= 8, "16 large allocations took only the phases " + phases);
        }
    }

    @Test
    void staggeredTensorsAreUsableEndToEnd() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.allocate(arena, DType.FLOAT32, 2, 3, 64, 64);
            long last = t.elementCount() - 1;
            t.segment().setAtIndex(ValueLayout.JAVA_FLOAT, last, 7f);
            assertEquals(7f, t.getFloat(1, 2, 63, 63));
            assertEquals(0f, t.getFloat(0, 0, 0, 0));
        }
    }
}
