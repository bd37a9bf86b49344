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
    private static final ValueLayout.OfShort S = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** Elements converted per bulk copy in {@link #convert}. */
    private static final int CHUNK = 4096;

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
     * Widens {@code count} float16/bfloat16 elements of a segment, from byte offset {@code base} with element
     * stride {@code stride}, into {@code dst[at, at+count)}. A contiguous run moves by bulk copies through
     * {@code scratch} (any length above 0), then a conversion loop over plain arrays.
     *
     * @param type {@link DType#FLOAT16} or {@link DType#BFLOAT16}
     * @param seg the memory
     * @param base byte offset of the first element
     * @param stride element stride, in elements
     * @param dst the floats
     * @param at first index written in dst
     * @param count number of elements
     * @param scratch reusable space for bit patterns
     */
    public static void widen(DType type, MemorySegment seg, long base, long stride, float[] dst, int at, int count,
                             short[] scratch) {
        if (stride != 1 && count > 1) {
            long step = 2 * stride;
            for (int i = 0; i < count; i++) {
                dst[at + i] = toFloat(type, seg.get(S, base + i * step));
            }
            return;
        }
        for (int done = 0; done < count; done += scratch.length) {
            int n = Math.min(scratch.length, count - done);
            MemorySegment.copy(seg, S, base + 2L * done, scratch, 0, n);
            int to = at + done;
            if (type == DType.BFLOAT16) {
                for (int i = 0; i < n; i++) {
                    dst[to + i] = bfloat16ToFloat(scratch[i]);
                }
            } else {
                for (int i = 0; i < n; i++) {
                    dst[to + i] = float16ToFloat(scratch[i]);
                }
            }
        }
    }

    /**
     * Narrows {@code src[at, at+count)} into float16/bfloat16 elements of a segment, from byte offset
     * {@code base} with element stride {@code stride}, rounding each once. A contiguous run moves by bulk copies
     * through {@code scratch} (any length above 0).
     *
     * @param type {@link DType#FLOAT16} or {@link DType#BFLOAT16}
     * @param src the floats
     * @param at first index read in src
     * @param count number of elements
     * @param seg the memory
     * @param base byte offset of the first element
     * @param stride element stride, in elements
     * @param scratch reusable space for bit patterns
     */
    public static void narrow(DType type, float[] src, int at, int count, MemorySegment seg, long base, long stride,
                              short[] scratch) {
        if (stride != 1 && count > 1) {
            long step = 2 * stride;
            for (int q = 0; q < count; q++) {
                seg.set(S, base + q * step, fromFloat(type, src[at + q]));
            }
            return;
        }
        for (int done = 0; done < count; done += scratch.length) {
            int n = Math.min(scratch.length, count - done);
            int from = at + done;
            if (type == DType.BFLOAT16) {
                for (int i = 0; i < n; i++) {
                    scratch[i] = floatToBfloat16(src[from + i]);
                }
            } else {
                for (int i = 0; i < n; i++) {
                    scratch[i] = floatToFloat16(src[from + i]);
                }
            }
            MemorySegment.copy(scratch, 0, seg, S, base + 2L * done, n);
        }
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
        int last = rank - 1;
        long cols = from.dim(last);
        long rows = from.elementCount() / cols;
        int chunk = (int) Math.min(cols, CHUNK);
        float[] buf = new float[chunk];
        short[] scratch = new short[chunk];
        long[] idx = new long[last];
        for (long r = 0; r < rows; r++) {
            long a = 0;
            long b = 0;
            for (int d = 0; d < last; d++) {
                a += idx[d] * from.stride(d);
                b += idx[d] * to.stride(d);
            }
            for (long c = 0; c < cols; c += chunk) {
                int n = (int) Math.min(chunk, cols - c);
                long fromBase = (a + c * from.stride(last)) * from.dtype().byteSize();
                long toBase = (b + c * to.stride(last)) * to.dtype().byteSize();
                if (from.dtype() == DType.FLOAT32) {
                    for (int i = 0; i < n; i++) {
                        buf[i] = from.segment().get(F, fromBase + 4 * i * from.stride(last));
                    }
                } else {
                    widen(from.dtype(), from.segment(), fromBase, from.stride(last), buf, 0, n, scratch);
                }
                if (to.dtype() == DType.FLOAT32) {
                    for (int i = 0; i < n; i++) {
                        to.segment().set(F, toBase + 4 * i * to.stride(last), buf[i]);
                    }
                } else {
                    narrow(to.dtype(), buf, 0, n, to.segment(), toBase, to.stride(last), scratch);
                }
            }
            for (int d = last - 1; d >= 0; d--) {
                if (++idx[d] < from.dim(d)) {
                    break;
                }
                idx[d] = 0;
            }
        }
    }
}
