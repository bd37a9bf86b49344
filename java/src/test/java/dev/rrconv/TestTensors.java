package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;

/**
 * Test-side construction of tensors in many memory layouts, with reads and writes done through the
 * strides this class computed itself (not through {@link Tensor}'s accessors), and a check that a call
 * wrote nothing outside its output view.
 */
final class TestTensors {
    private TestTensors() {}

    /** Where and how a tensor's elements live. */
    enum Layout {
        /** Dense C order over a Java array (heap segment). */
        HEAP_DENSE,
        /** Dense C order in an arena (off-heap). */
        OFFHEAP_DENSE,
        /** Dense in a random physical dimension order, viewed back in logical order; heap. */
        HEAP_PERMUTED,
        /** As HEAP_PERMUTED, off-heap. */
        OFFHEAP_PERMUTED,
        /** Inside a larger buffer: every dimension padded, random physical order, non-zero start offset; heap. */
        HEAP_STRIDED,
        /** As HEAP_STRIDED, off-heap. */
        OFFHEAP_STRIDED,
        /** Dense over a byte[] starting one byte in: a heap segment at an odd address (allowed on the heap). */
        HEAP_UNALIGNED,
        /** Dense off-heap, read-only segment (inputs only). */
        OFFHEAP_READONLY,
        /** Off-heap with stride 0 on dimension 0 (inputs only; the data must be equal along dimension 0). */
        BROADCAST0,
        /** Outputs only: the library allocates the result (arena-returning method). */
        ARENA;

        boolean heap() {
            return this == HEAP_DENSE || this == HEAP_PERMUTED || this == HEAP_STRIDED || this == HEAP_UNALIGNED;
        }
    }

    /**
     * A tensor and the whole buffer it lives in.
     *
     * @param tensor the view under test
     * @param whole the entire allocation (view plus gaps)
     * @param baseBytes byte offset of element [0,...,0] in whole
     * @param strides element strides of the view, as computed here
     * @param layout how it was made
     */
    record Buf(Tensor tensor, MemorySegment whole, long baseBytes, long[] strides, Layout layout) {

        DType dtype() {
            return tensor.dtype();
        }

        long[] shape() {
            return tensor.shape();
        }

        int count() {
            return Math.toIntExact(tensor.elementCount());
        }

        /** Byte offset in whole of the i-th element in C order of the logical shape. */
        long offsetOfLinear(int linear) {
            long[] shape = tensor.shape();
            long off = 0;
            long rest = linear;
            for (int d = shape.length - 1; d >= 0; d--) {
                long idx = rest % shape[d];
                rest /= shape[d];
                off += idx * strides[d];
            }
            return baseBytes + off * dtype().byteSize();
        }

        /** Writes data values; for float16/bfloat16 each must be exact in the type (see {@link HalfRounding}). */
        void writeDoubles(double[] values) {
            assertEquals(count(), values.length, "values for " + tensor);
            for (int i = 0; i < values.length; i++) {
                if (dtype() == DType.FLOAT32) {
                    whole.set(ValueLayout.JAVA_FLOAT_UNALIGNED, offsetOfLinear(i), (float) values[i]);
                } else {
                    whole.set(ValueLayout.JAVA_SHORT_UNALIGNED, offsetOfLinear(i), HalfRounding.bits(dtype(), values[i]));
                }
            }
        }

        void writeInts(int[] values) {
            assertEquals(count(), values.length, "values for " + tensor);
            for (int i = 0; i < values.length; i++) {
                long off = offsetOfLinear(i);
                if (dtype() == DType.INT32) {
                    whole.set(ValueLayout.JAVA_INT_UNALIGNED, off, values[i]);
                } else {
                    whole.set(ValueLayout.JAVA_BYTE, off, (byte) values[i]);
                }
            }
        }

        double[] readDoubles() {
            double[] out = new double[count()];
            for (int i = 0; i < out.length; i++) {
                out[i] = dtype() == DType.FLOAT32 ? whole.get(ValueLayout.JAVA_FLOAT_UNALIGNED, offsetOfLinear(i))
                        : HalfRounding.value(dtype(), whole.get(ValueLayout.JAVA_SHORT_UNALIGNED, offsetOfLinear(i)));
            }
            return out;
        }

        float[] readFloats() {
            float[] out = new float[count()];
            for (int i = 0; i < out.length; i++) {
                out[i] = whole.get(ValueLayout.JAVA_FLOAT_UNALIGNED, offsetOfLinear(i));
            }
            return out;
        }

        /** @return a copy of every byte of the whole buffer */
        byte[] snapshot() {
            return whole.toArray(ValueLayout.JAVA_BYTE);
        }

        /** Fails unless every byte outside the view's elements equals the snapshot taken before a call. */
        void assertGapsUntouched(byte[] before, String context) {
            byte[] after = snapshot();
            boolean[] covered = new boolean[after.length];
            int bs = dtype().byteSize();
            for (int i = 0; i < count(); i++) {
                long off = offsetOfLinear(i);
                for (int b = 0; b < bs; b++) {
                    covered[Math.toIntExact(off + b)] = true;
                }
            }
            for (int i = 0; i < after.length; i++) {
                if (!covered[i] && after[i] != before[i]) {
                    fail(context + ": wrote byte " + i + " outside the output view " + tensor + " (layout " + layout
                            + ", base " + baseBytes + ")");
                }
            }
        }

        /** Fails unless the whole buffer equals the snapshot (nothing written at all). */
        void assertUntouched(byte[] before, String context) {
            assertArrayEquals(before, snapshot(), context + ": output " + tensor + " was modified");
        }
    }

    /**
     * Allocates a tensor of the given shape in the given layout; the whole buffer is filled with a
     * sentinel byte (0x7F: floats 3.39e38, or 0xFF: float NaN).
     */
    static Buf create(Arena arena, DType dtype, long[] shape, Layout layout, Random rnd) {
        int rank = shape.length;
        int bs = dtype.byteSize();
        int[] order = new int[rank]; // physical order, outermost first
        for (int i = 0; i < rank; i++) {
            order[i] = i;
        }
        long[] padded = shape.clone();
        long baseElems = 0;
        boolean permute = layout == Layout.HEAP_PERMUTED || layout == Layout.OFFHEAP_PERMUTED
                || layout == Layout.HEAP_STRIDED || layout == Layout.OFFHEAP_STRIDED;
        if (permute) {
            for (int i = rank - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        if (layout == Layout.HEAP_STRIDED || layout == Layout.OFFHEAP_STRIDED) {
            for (int d = 0; d < rank; d++) {
                padded[d] += rnd.nextInt(3);
            }
            padded[rank - 1 - rnd.nextInt(rank)] += 1; // at least one gap
            baseElems = 1 + rnd.nextInt(5);
        }
        long[] strides = new long[rank];
        long running = 1;
        for (int k = rank - 1; k >= 0; k--) {
            int d = order[k];
            if (layout == Layout.BROADCAST0 && d == 0) {
                continue;
            }
            strides[d] = running;
            running *= padded[d];
        }
        if (layout == Layout.BROADCAST0) {
            strides[0] = 0;
        }
        long baseBytes = baseElems * bs + (layout == Layout.HEAP_UNALIGNED ? 1 : 0);
        long wholeBytes = baseBytes + running * bs;
        MemorySegment whole;
        if (layout.heap()) {
            if (layout == Layout.HEAP_UNALIGNED || dtype == DType.UINT8) {
                whole = MemorySegment.ofArray(new byte[Math.toIntExact(wholeBytes)]);
            } else if (dtype == DType.INT32) {
                whole = MemorySegment.ofArray(new int[Math.toIntExact(wholeBytes / 4)]);
            } else if (bs == 2) {
                whole = MemorySegment.ofArray(new short[Math.toIntExact(wholeBytes / 2)]);
            } else {
                whole = MemorySegment.ofArray(new float[Math.toIntExact(wholeBytes / 4)]);
            }
        } else {
            whole = arena.allocate(wholeBytes, 64);
        }
        whole.fill(rnd.nextBoolean() ? (byte) 0x7F : (byte) 0xFF);
        MemorySegment viewSeg = whole.asSlice(baseBytes);
        Tensor t = Tensor.ofStrided(viewSeg, dtype, shape, strides);
        assertArrayEquals(strides, t.strides(), "Tensor.ofStrided keeps the strides");
        assertArrayEquals(shape, t.shape(), "Tensor.ofStrided keeps the shape");
        return new Buf(t, whole, baseBytes, strides, layout); // OFFHEAP_READONLY: see readOnly(), once written
    }

    /** A read-only view of a written input buffer (same memory). */
    static Buf readOnly(Buf b) {
        Tensor t = Tensor.ofStrided(b.tensor().segment().asReadOnly(), b.dtype(), b.shape(), b.strides());
        return new Buf(t, b.whole().asReadOnly(), b.baseBytes(), b.strides(), b.layout());
    }

    /** A float32 input filled with values. */
    static Buf floats(Arena arena, long[] shape, Layout layout, Random rnd, double[] values) {
        Buf b = create(arena, DType.FLOAT32, shape, layout, rnd);
        b.writeDoubles(values);
        return layout == Layout.OFFHEAP_READONLY ? readOnly(b) : b;
    }

    /** A float32, float16 or bfloat16 input filled with values (exact in the type). */
    static Buf data(Arena arena, DType dtype, long[] shape, Layout layout, Random rnd, double[] values) {
        Buf b = create(arena, dtype, shape, layout, rnd);
        b.writeDoubles(values);
        return layout == Layout.OFFHEAP_READONLY ? readOnly(b) : b;
    }

    /** An int32 or uint8 input filled with values. */
    static Buf ints(Arena arena, DType dtype, long[] shape, Layout layout, Random rnd, int[] values) {
        Buf b = create(arena, dtype, shape, layout, rnd);
        b.writeInts(values);
        if (layout == Layout.BROADCAST0) {
            // stride 0: every n reads the last-written n; the caller must pass equal data along dimension 0
            int per = values.length / (int) shape[0];
            for (int n = 1; n < shape[0]; n++) {
                for (int i = 0; i < per; i++) {
                    if (values[n * per + i] != values[i]) {
                        throw new IllegalArgumentException("BROADCAST0 needs equal data along dimension 0");
                    }
                }
            }
        }
        return layout == Layout.OFFHEAP_READONLY ? readOnly(b) : b;
    }

    /** Dense float32 heap tensor from doubles. */
    static Tensor heapFloats(double[] v, long... shape) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return Tensor.ofFloats(f, shape);
    }

    /** The elements of a float32, float16 or bfloat16 tensor in C order, as doubles (read through the Tensor API). */
    static double[] toDoubles(Tensor t) {
        float[] f = t.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    static String str(long[] a) {
        return Arrays.toString(a);
    }
}
