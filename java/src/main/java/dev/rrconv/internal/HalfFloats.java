package dev.rrconv.internal;

import dev.rrconv.DType;
import dev.rrconv.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Conversions between float32 and the 16-bit data types, one rounding to nearest even each way down:
 * <ul>
 * <li>float16 (IEEE binary16) through the JDK's {@link Float#float16ToFloat} / {@link Float#floatToFloat16};</li>
 * <li>bfloat16 (the upper 16 bits of a float32) by bit arithmetic: widening appends 16 zero bits (exact),
 * narrowing adds {@code 0x7FFF} plus the kept part's lowest bit and drops the low 16 bits (ties to even),
 * which rounds the largest finite values to infinity as IEEE says and handles denormals like any other
 * value.</li>
 * </ul>
 * A NaN narrows to a quiet NaN of the same sign (never to an infinity, never signalling).
 */
public final class HalfFloats {
    /** The quiet bit of a float16 NaN (the top fraction bit). */
    private static final short F16_QUIET = 0x0200;
    /** The quiet bit of a bfloat16 NaN (the top fraction bit). */
    private static final int BF16_QUIET = 0x0040;

    private HalfFloats() {}

    /**
     * Widens a bfloat16 bit pattern (exact).
     *
     * @param bits the pattern
     * @return the float32 value
     */
    public static float bfloat16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /**
     * Narrows to bfloat16, rounding to nearest even; NaN stays a quiet NaN of the same sign.
     *
     * @param value the float32 value
     * @return the bfloat16 bit pattern
     */
    public static short floatToBfloat16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) {
            return (short) ((bits >>> 16) | BF16_QUIET);
        }
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /**
     * Widens a float16 bit pattern (exact).
     *
     * @param bits the pattern
     * @return the float32 value
     */
    public static float float16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    /**
     * Narrows to float16, rounding to nearest even; NaN stays a quiet NaN of the same sign.
     *
     * @param value the float32 value
     * @return the float16 bit pattern
     */
    public static short floatToFloat16(float value) {
        short h = Float.floatToFloat16(value);
        return Float.isNaN(value) ? (short) (h | F16_QUIET) : h;
    }

    /**
     * Widens a 16-bit pattern of a half type.
     *
     * @param type {@link DType#FLOAT16} or {@link DType#BFLOAT16}
     * @param bits the pattern
     * @return the float32 value
     */
    public static float toFloat(DType type, short bits) {
        return type == DType.BFLOAT16 ? bfloat16ToFloat(bits) : float16ToFloat(bits);
    }

    /**
     * Narrows to a half type, rounding to nearest even.
     *
     * @param type {@link DType#FLOAT16} or {@link DType#BFLOAT16}
     * @param value the float32 value
     * @return the bit pattern
     */
    public static short fromFloat(DType type, float value) {
        return type == DType.BFLOAT16 ? floatToBfloat16(value) : floatToFloat16(value);
    }

    /**
     * Whether a type is one of the 16-bit data types.
     *
     * @param type a type
     * @return true for float16 and bfloat16
     */
    public static boolean isHalf(DType type) {
        return type == DType.FLOAT16 || type == DType.BFLOAT16;
    }

    /**
     * Copies every element of one data tensor into another of the same shape (any strides), converting
     * between float32, float16 and bfloat16: widening is exact, narrowing rounds each value once.
     *
     * @param from the source
     * @param to the target
     * @throws IllegalArgumentException if the shapes differ or a tensor is not a data tensor
     */
    public static void convert(Tensor from, Tensor to) {
        if (!from.dtype().isFloating() || !to.dtype().isFloating() || !Arrays.equals(from.shape(), to.shape())) {
            throw new IllegalArgumentException("cannot convert " + from + " into " + to);
        }
        int rank = from.rank();
        if (from.elementCount() == 0) {
            return;
        }
        if (rank == 0) {
            to.setFloat(from.getFloat());
            return;
        }
        long cols = from.dim(rank - 1);
        long rows = from.elementCount() / cols;
        long[] idx = new long[rank - 1];
        MemorySegment src = from.segment();
        MemorySegment dst = to.segment();
        for (long r = 0; r < rows; r++) {
            long a = 0;
            long b = 0;
            for (int d = 0; d < rank - 1; d++) {
                a += idx[d] * from.stride(d);
                b += idx[d] * to.stride(d);
            }
            for (long c = 0; c < cols; c++) {
                set(dst, to.dtype(), b + c * to.stride(rank - 1), get(src, from.dtype(), a + c * from.stride(rank - 1)));
            }
            for (int d = rank - 2; d >= 0; d--) {
                if (++idx[d] < from.dim(d)) {
                    break;
                }
                idx[d] = 0;
            }
        }
    }

    private static float get(MemorySegment seg, DType type, long element) {
        return type == DType.FLOAT32 ? seg.get(ValueLayout.JAVA_FLOAT_UNALIGNED, 4 * element)
                : toFloat(type, seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2 * element));
    }

    private static void set(MemorySegment seg, DType type, long element, float value) {
        if (type == DType.FLOAT32) {
            seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED, 4 * element, value);
        } else {
            seg.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2 * element, fromFloat(type, value));
        }
    }
}
