package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Broadcast (stride-0) inputs over heap arrays (issue 16, findings 6 and 7): the native backend passes
 * their strides through instead of densifying them, and a problem too large is reported naming the
 * tensor and its count, not as a 64-bit overflow.
 */
class BroadcastInputTest {
    private static final long SIDE = 1L << 20;

    /**
     * One float broadcast to (1, 1, 2^20, 2^20) (4 TiB if densified), read with a stride of 2^20: a 1x1
     * output. Densifying asked for the 4 TiB (OutOfMemoryError); the java backend never did.
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void aHeapBroadcastInputIsNotDensified(Backend backend) {
        Tensor src = Tensor.ofStrided(MemorySegment.ofArray(new float[] {2}), DType.FLOAT32,
                new long[] {1, 1, SIDE, SIDE}, new long[4]);
        Tensor rin = Tensor.ofStrided(MemorySegment.ofArray(new int[] {5}), DType.INT32,
                new long[] {1, SIDE, SIDE}, new long[3]);
        Tensor filter = Tensor.ofFloats(new float[] {3, 4}, 2, 1, 1, 1);
        Tensor rout = Tensor.ofInts(new int[] {5}, 1, 1, 1);
        ConvParams p = ConvParams.DEFAULT.withStride((int) SIDE, (int) SIDE);
        try (Arena arena = Arena.ofConfined()) {
            Tensor dst = RegionConv.of(backend).forward(src, filter, rin, rout, p, arena);
            assertEquals(6f, dst.getFloat(0, 0, 0, 0));
            assertEquals(8f, dst.getFloat(0, 1, 0, 0));
            // heap output, heap inputs with gaps: still right
            Tensor out = Tensor.ofFloats(new float[2], 1, 2, 1, 1);
            RegionConv.of(backend).forward(src, filter, rin, rout, p, out);
            assertEquals(6f, out.getFloat(0, 0, 0, 0));
            assertEquals(8f, out.getFloat(0, 1, 0, 0));
        }
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void aBroadcastProblemTooLargeNamesTheTensorAndItsCount(Backend backend) {
        long side = (1L << 31) - 1;
        Tensor src = Tensor.ofStrided(MemorySegment.ofArray(new float[] {2}), DType.FLOAT32,
                new long[] {1, 1, side, side}, new long[4]);
        Tensor rin = Tensor.ofStrided(MemorySegment.ofArray(new int[] {5}), DType.INT32,
                new long[] {1, side, side}, new long[3]);
        Tensor filter = Tensor.ofFloats(new float[] {3}, 1, 1, 1, 1);
        Tensor rout = Tensor.ofInts(new int[] {5}, 1, 1, 1);
        ConvParams p = ConvParams.DEFAULT.withStride(1 << 30, 1 << 30);
        try (Arena arena = Arena.ofConfined()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> RegionConv.of(backend).forward(src, filter, rin, rout, p, arena));
            String m = e.getMessage();
            assertTrue(m.contains("src") && m.contains("4611686014132420609 index positions"), m);
            assertFalse(m.contains("overflow"), m); // (2^31-1)^2 < 2^63: nothing overflows
        }
    }
}
