package dev.rrconv.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rrconv.DType;
import dev.rrconv.HalfRounding;
import dev.rrconv.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The float32 &lt;-&gt; float16/bfloat16 conversions, checked against {@link HalfRounding} (the test tree's own
 * double-precision statement of the types) on every 16-bit pattern, the edge cases, and a million random
 * floats.
 */
class HalfFloatsTest {

    private static boolean isNaN16(DType t, short bits) {
        return Double.isNaN(HalfRounding.value(t, bits));
    }

    /** The quiet bit: the top fraction bit of each type. */
    private static int quietBit(DType t) {
        return t == DType.FLOAT16 ? 0x0200 : 0x0040;
    }

    @Test
    void everyPatternRoundTrips() {
        for (DType t : new DType[] {DType.FLOAT16, DType.BFLOAT16}) {
            for (int i = 0; i < 65536; i++) {
                short bits = (short) i;
                float f = HalfFloats.toFloat(t, bits);
                assertEquals(Double.doubleToRawLongBits(HalfRounding.value(t, bits)),
                        Double.doubleToRawLongBits(f), t + " widening of 0x" + Integer.toHexString(i));
                short back = HalfFloats.fromFloat(t, f);
                if (isNaN16(t, bits)) {
                    // a NaN comes back a quiet NaN of the same sign (a signalling one gains the quiet bit)
                    assertTrue(isNaN16(t, back), t + " NaN 0x" + Integer.toHexString(i));
                    assertEquals(bits & 0x8000, back & 0x8000, t + " NaN sign 0x" + Integer.toHexString(i));
                    assertEquals(quietBit(t), back & quietBit(t), t + " NaN quiet 0x" + Integer.toHexString(i));
                } else {
                    assertEquals(bits, back, t + " round trip of 0x" + Integer.toHexString(i) + " = " + f);
                }
            }
        }
    }

    /** Narrowing equals the independent double-precision rounding of the same float (one rounding, ties even). */
    private static void assertNarrowsLikeOracle(DType t, float f) {
        short got = HalfFloats.fromFloat(t, f);
        double expected = HalfRounding.round(t, f);
        double gotValue = HalfRounding.value(t, got);
        if (Float.isNaN(f)) {
            assertTrue(Double.isNaN(gotValue), t + " of NaN " + Integer.toHexString(Float.floatToRawIntBits(f)));
            assertEquals(quietBit(t), got & quietBit(t), t + " NaN is quiet");
            return;
        }
        assertEquals(Double.doubleToRawLongBits(expected), Double.doubleToRawLongBits(gotValue),
                t + " of " + f + " (0x" + Integer.toHexString(Float.floatToRawIntBits(f)) + "): got 0x"
                        + Integer.toHexString(got & 0xFFFF));
    }

    @Test
    void randomFloatsNarrowLikeTheOracle() {
        Random r = new Random(1313);
        for (int i = 0; i < 1_000_000; i++) {
            float f = Float.intBitsToFloat(r.nextInt());
            assertNarrowsLikeOracle(DType.BFLOAT16, f);
            assertNarrowsLikeOracle(DType.FLOAT16, f);
            // values in the half types' own ranges, where the rounding is interesting
            float g = (float) ((r.nextDouble() * 2 - 1) * Math.scalb(1.0, r.nextInt(36) - 26));
            assertNarrowsLikeOracle(DType.FLOAT16, g);
            assertNarrowsLikeOracle(DType.BFLOAT16, g);
        }
    }

    @Test
    void bfloat16EdgeCases() {
        // ties go to even: 1 + 2^-8 lies halfway between 1 (even) and 1 + 2^-7 (odd)
        assertEquals((short) 0x3F80, HalfFloats.floatToBfloat16(1f + 0x1p-8f));
        // 1 + 3*2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even)
        assertEquals((short) 0x3F82, HalfFloats.floatToBfloat16(1f + 3 * 0x1p-8f));
        // just above a tie rounds up, just below rounds down
        assertEquals((short) 0x3F81, HalfFloats.floatToBfloat16(Math.nextUp(1f + 0x1p-8f)));
        assertEquals((short) 0x3F80, HalfFloats.floatToBfloat16(Math.nextDown(1f + 0x1p-8f)));
        assertEquals((short) 0xBF80, HalfFloats.floatToBfloat16(-1f - 0x1p-8f));
        // infinities, signed zeros
        assertEquals((short) 0x7F80, HalfFloats.floatToBfloat16(Float.POSITIVE_INFINITY));
        assertEquals((short) 0xFF80, HalfFloats.floatToBfloat16(Float.NEGATIVE_INFINITY));
        assertEquals((short) 0x0000, HalfFloats.floatToBfloat16(0f));
        assertEquals((short) 0x8000, HalfFloats.floatToBfloat16(-0f));
        // overflow: the largest float rounds to infinity; the largest bfloat16 stays
        assertEquals((short) 0x7F80, HalfFloats.floatToBfloat16(Float.MAX_VALUE));
        assertEquals((short) 0x7F7F, HalfFloats.floatToBfloat16(Float.intBitsToFloat(0x7F7F0000)));
        assertEquals((short) 0x7F7F, HalfFloats.floatToBfloat16(Float.intBitsToFloat(0x7F7F7FFF)));
        assertEquals((short) 0x7F80, HalfFloats.floatToBfloat16(Float.intBitsToFloat(0x7F7F8000)));
        // denormals: kept, rounded like any other value; the smallest rounds to zero (tie, even)
        assertEquals((short) 0x0001, HalfFloats.floatToBfloat16(Float.intBitsToFloat(0x00010000)));
        assertEquals((short) 0x0000, HalfFloats.floatToBfloat16(Float.MIN_VALUE));
        assertEquals((short) 0x0001, HalfFloats.floatToBfloat16(Float.intBitsToFloat(0x00008001)));
        assertEquals((short) 0x0080, HalfFloats.floatToBfloat16(Float.intBitsToFloat(0x007FFFFF))); // to MIN_NORMAL
        assertEquals(Float.intBitsToFloat(0x00010000), HalfFloats.bfloat16ToFloat((short) 0x0001));
        // NaN: quiet, sign kept, never infinity (a payload only in the dropped bits too)
        assertEquals((short) 0x7FC0, HalfFloats.floatToBfloat16(Float.NaN));
        assertEquals((short) 0xFFC0, HalfFloats.floatToBfloat16(Float.intBitsToFloat(0xFFC00000)));
        assertEquals((short) 0x7FC0, HalfFloats.floatToBfloat16(Float.intBitsToFloat(0x7F800001)));
        assertEquals((short) 0x7FC0, HalfFloats.floatToBfloat16(Float.intBitsToFloat(0x7FBFFFFF)) & 0xFFC0);
    }

    @Test
    void float16EdgeCases() {
        assertEquals((short) 0x3C00, HalfFloats.floatToFloat16(1f + 0x1p-11f)); // tie to even (down)
        assertEquals((short) 0x3C02, HalfFloats.floatToFloat16(1f + 3 * 0x1p-11f)); // tie to even (up)
        assertEquals((short) 0x7BFF, HalfFloats.floatToFloat16(65504f)); // largest finite
        assertEquals((short) 0x7BFF, HalfFloats.floatToFloat16(Math.nextDown(65520f)));
        assertEquals((short) 0x7C00, HalfFloats.floatToFloat16(65520f)); // halfway to 2^16: overflows
        assertEquals((short) 0xFC00, HalfFloats.floatToFloat16(-1e10f));
        assertEquals((short) 0x0001, HalfFloats.floatToFloat16(0x1p-24f)); // smallest denormal
        assertEquals((short) 0x0000, HalfFloats.floatToFloat16(0x1p-25f)); // tie to even: zero
        assertEquals((short) 0x0001, HalfFloats.floatToFloat16(Math.nextUp(0x1p-25f)));
        assertEquals((short) 0x8000, HalfFloats.floatToFloat16(-0x1p-26f));
        assertEquals((short) 0x7E00, HalfFloats.floatToFloat16(Float.NaN));
        assertEquals((short) 0x0200, HalfFloats.floatToFloat16(Float.intBitsToFloat(0x7F800001)) & 0x0200);
        assertEquals((short) 0xFE00, HalfFloats.floatToFloat16(Float.intBitsToFloat(0xFFC00000)));
    }

    @Test
    void convertCopiesAnyStridesBetweenTypes() {
        float[] values = {1f, -2.5f, 1f / 3, 65520f, Float.NaN, 0x1p-30f};
        Tensor f32 = Tensor.ofFloats(values, 2, 3);
        for (DType t : new DType[] {DType.FLOAT16, DType.BFLOAT16}) {
            Tensor half = Tensor.ofShorts(new short[6], t, 3, 2).permute(1, 0); // (2, 3), transposed memory
            HalfFloats.convert(f32, half);
            Tensor back = Tensor.ofFloats(new float[6], 2, 3);
            HalfFloats.convert(half, back);
            for (int i = 0; i < 6; i++) {
                double expected = HalfRounding.round(t, values[i]);
                assertEquals(expected, back.toFloatArray()[i], 0.0, t + " element " + i);
                assertEquals(expected, half.getFloat(i / 3, i % 3), 0.0, t + " element " + i + " through getFloat");
            }
        }
        assertThrows(IllegalArgumentException.class, () -> HalfFloats.convert(f32, Tensor.ofFloats(new float[6], 3, 2)));
        assertThrows(IllegalArgumentException.class, () -> HalfFloats.convert(f32, Tensor.ofInts(new int[6], 2, 3)));
    }

    /** Rows longer than the scratch space (several bulk copies), contiguous and strided, at odd byte offsets. */
    @Test
    void widenAndNarrowRowsInChunks() {
        Random r = new Random(7);
        for (DType t : new DType[] {DType.FLOAT16, DType.BFLOAT16}) {
            for (long stride : new long[] {1, 3}) {
                int count = 100;
                float[] values = new float[count];
                for (int i = 0; i < count; i++) {
                    values[i] = (float) HalfRounding.round(t, r.nextGaussian() * 100);
                }
                MemorySegment seg = MemorySegment.ofArray(new byte[(int) (1 + 2 * stride * count)]);
                HalfFloats.narrow(t, values, 0, count, seg, 1, stride, new short[7]);
                for (int i = 0; i < count; i++) {
                    short bits = seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, 1 + 2 * stride * i);
                    assertEquals(values[i], HalfRounding.value(t, bits), 0.0, t + " stride " + stride + " element " + i);
                }
                float[] back = new float[count + 2];
                HalfFloats.widen(t, seg, 1, stride, back, 2, count, new short[7]);
                for (int i = 0; i < count; i++) {
                    assertEquals(values[i], back[2 + i], 0.0, t + " stride " + stride + " widened element " + i);
                }
            }
            // convert: a last dimension longer than its 4096-element chunks, dense and transposed
            int n = 10_001;
            float[] big = new float[2 * n];
            for (int i = 0; i < big.length; i++) {
                big[i] = r.nextFloat() * 1000 - 500;
            }
            Tensor src = Tensor.ofFloats(big, 2, n);
            Tensor dense = Tensor.ofShorts(new short[2 * n], t, 2, n);
            Tensor transposed = Tensor.ofShorts(new short[2 * n], t, n, 2).permute(1, 0);
            HalfFloats.convert(src, dense);
            HalfFloats.convert(dense, transposed);
            float[] wide = new float[2 * n];
            HalfFloats.convert(transposed, Tensor.ofFloats(wide, 2, n));
            for (int i = 0; i < big.length; i++) {
                assertEquals(HalfRounding.round(t, big[i]), wide[i], 0.0, t + " convert element " + i);
            }
        }
    }
}
