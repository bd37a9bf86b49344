package dev.rrconv;

import dev.rrconv.internal.HalfFloats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A strided view of a {@link MemorySegment}: element type, shape and per-dimension strides (counted
 * in elements). Any segment works: one from an {@link Arena}, a mapped file, a slice, or a heap array.
 * Nothing is copied; the tensor is valid as long as its segment is.
 *
 * <p>Element {@code [i0, i1, ...]} lives at byte offset {@code (i0*strides[0] + i1*strides[1] + ...) *
 * dtype.byteSize()} of the segment. The factories check that every element lies inside the segment,
 * that sizes and strides are non-negative, and that offsets cannot overflow.
 *
 * {@snippet :
 * try (Arena arena = Arena.ofConfined()) {
 *     Tensor src = Tensor.allocate(arena, DType.FLOAT32, 1, 3, 32, 32);   // dense, zero-filled
 *     Tensor view = src.permute(0, 1, 3, 2);                                // transposed view, no copy
 *     Tensor nhwc = Tensor.allocate(arena, DType.FLOAT32, Layout.NHWC, 1, 3, 32, 32); // channels-last
 * }
 * }
 */
public final class Tensor {
    private static final long[] NO_LONGS = new long[0];

    /*
     * Large allocations start at one of PAGE / PHASE_STEP offsets within a 4 KiB page, taken in turn.
     * Separate large allocations are otherwise page-aligned alike, so the planes of an input and an
     * output share their addresses modulo 4 KiB, and a kernel's output stores then look to the CPU as
     * if they might overlap the input loads it issues next (the loads wait): DW-K3 forward 0.26 ms
     * with the tensors in phase, 0.22-0.23 ms with them 256 B or more apart (rrconv_bench
     * --out-offset). The counter is the one piece of shared state this needs: which phase a tensor
     * gets changes where it sits, never a result.
     */
    private static final long STAGGER_MIN_BYTES = 64 * 1024;
    private static final long PAGE = 4096;
    private static final long PHASE_STEP = 256;
    private static final AtomicInteger NEXT_PHASE = new AtomicInteger();

    private final MemorySegment segment;
    private final DType dtype;
    private final long[] shape;
    private final long[] strides;
    private final long elementCount;
    private final long spanBytes;

    private Tensor(MemorySegment segment, DType dtype, long[] shape, long[] strides) {
        this.segment = Objects.requireNonNull(segment, "segment");
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(strides, "strides");
        if (shape.length != strides.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has rank " + shape.length
                    + " but strides " + Arrays.toString(strides) + " have " + strides.length);
        }
        this.shape = shape.clone();
        this.strides = strides.clone();
        long count = 1;
        long maxOffset = 0;
        try {
            for (int i = 0; i < shape.length; i++) {
                if (shape[i] < 0) {
                    throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has a negative size");
                }
                if (strides[i] < 0) {
                    throw new IllegalArgumentException("strides " + Arrays.toString(strides)
                            + " contain a negative stride (not supported)");
                }
                count = Math.multiplyExact(count, shape[i]);
            }
            if (count > 0) {
                for (int i = 0; i < shape.length; i++) {
                    maxOffset = Math.addExact(maxOffset, Math.multiplyExact(shape[i] - 1, strides[i]));
                }
            }
            this.spanBytes = count == 0 ? 0 : Math.multiplyExact(Math.addExact(maxOffset, 1), (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " with strides "
                    + Arrays.toString(strides) + " overflows 64-bit offsets", e);
        }
        this.elementCount = count;
        if (spanBytes > segment.byteSize()) {
            throw new IllegalArgumentException("segment of " + segment.byteSize() + " bytes is too small for "
                    + dtype + Arrays.toString(shape) + " with strides " + Arrays.toString(strides) + ": needs "
                    + spanBytes + " bytes");
        }
        if (segment.isNative() && segment.address() % dtype.byteSize() != 0) {
            throw new IllegalArgumentException("segment address 0x" + Long.toHexString(segment.address())
                    + " is not aligned to " + dtype.byteSize() + " bytes (" + dtype + ")");
        }
    }

    /**
     * A dense, C-order (row-major) tensor over a segment.
     *
     * @param segment the memory; element 0 at its offset 0
     * @param dtype element type
     * @param shape sizes, outermost first
     * @return the tensor
     * @throws IllegalArgumentException if a size is negative, the segment is too small, or a native segment's
     *     address is not a multiple of the dtype's size
     */
    public static Tensor of(MemorySegment segment, DType dtype, long... shape) {
        return new Tensor(segment, dtype, shape, denseStrides(shape));
    }

    /**
     * A tensor with explicit strides (in elements, not bytes) over a segment.
     *
     * @param segment the memory; element {@code [0, ..., 0]} at its offset 0
     * @param dtype element type
     * @param shape sizes, outermost first
     * @param strides element strides, one per dimension, each {@code >= 0}
     * @return the tensor
     * @throws IllegalArgumentException on a negative size or stride, a rank mismatch, an offset
     *     overflow, a segment too small for the largest offset, or a native segment whose address is not a
     *     multiple of the dtype's size
     */
    public static Tensor ofStrided(MemorySegment segment, DType dtype, long[] shape, long[] strides) {
        return new Tensor(segment, dtype, shape, strides);
    }

    /**
     * Allocates a dense, zero-filled tensor in an arena, aligned to 64 bytes.
     *
     * <p>Tensors of 64 KiB and more start at rotating multiples of 256 bytes within a 4 KiB page
     * (successive allocations get different offsets), so that an input and an output allocated
     * one after the other are not in the same 4 KiB phase, which slows convolutions that load one
     * while storing the other (by up to 15 % on small depthwise layers). Such a tensor takes up to
     * 4 KiB more of the arena than its data.
     *
     * @param arena owner of the memory
     * @param dtype element type
     * @param shape sizes
     * @return the tensor
     * @throws IllegalArgumentException if a size is negative or the byte size overflows
     */
    public static Tensor allocate(Arena arena, DType dtype, long... shape) {
        long bytes;
        try {
            bytes = Math.multiplyExact(checkedCount(shape), (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " overflows 64-bit byte sizes", e);
        }
        MemorySegment seg;
        if (bytes >= STAGGER_MIN_BYTES && bytes <= Long.MAX_VALUE - PAGE) {
            long phase = (NEXT_PHASE.getAndIncrement() & (PAGE / PHASE_STEP - 1)) * PHASE_STEP;
            seg = arena.allocate(bytes + PAGE, PAGE).asSlice(phase, bytes);
        } else {
            seg = arena.allocate(Math.max(bytes, 1), 64).asSlice(0, bytes);
        }
        return of(seg, dtype, shape);
    }

    /**
     * Allocates a dense, zero-filled 4-D tensor of logical shape {@code (N, C, H, W)} in the given memory
     * order, like {@link #allocate(Arena, DType, long...)}. With {@link Layout#NHWC} the memory holds an
     * {@code (N, H, W, C)} array and the tensor views it permuted to {@code (N, C, H, W)}, so that
     * {@link Layout#of(Tensor)} of the result is NHWC (when C and W or H are above 1).
     *
     * @param arena owner of the memory
     * @param dtype element type
     * @param layout memory order
     * @param n batch
     * @param c channels
     * @param h height
     * @param w width
     * @return the tensor, indexed (N, C, H, W)
     * @throws IllegalArgumentException if a size is negative or the byte size overflows
     */
    public static Tensor allocate(Arena arena, DType dtype, Layout layout, long n, long c, long h, long w) {
        Objects.requireNonNull(layout, "layout");
        return switch (layout) {
            case NCHW -> allocate(arena, dtype, n, c, h, w);
            case NHWC -> allocate(arena, dtype, n, h, w, c).permute(0, 3, 1, 2);
        };
    }

    /**
     * A float32 tensor over a Java array (a heap segment; no copy).
     *
     * @param data the values in C order
     * @param shape sizes; their product must equal {@code data.length}
     * @return the tensor
     */
    public static Tensor ofFloats(float[] data, long... shape) {
        requireLength(data.length, shape);
        return of(MemorySegment.ofArray(data), DType.FLOAT32, shape);
    }

    /**
     * A float16 or bfloat16 tensor over a Java array of bit patterns (a heap segment; no copy). Read and
     * write its values as floats with {@link #getFloat} and {@link #setFloat}, which convert.
     *
     * {@snippet :
     * Tensor t = Tensor.ofShorts(new short[6], DType.BFLOAT16, 2, 3);
     * t.setFloat(1.5f, 0, 1);   // stores 0x3FC0
     * }
     *
     * @param data the bit patterns in C order
     * @param dtype {@link DType#FLOAT16} or {@link DType#BFLOAT16}
     * @param shape sizes; their product must equal {@code data.length}
     * @return the tensor
     * @throws IllegalArgumentException if dtype is not a 16-bit type or the counts differ
     */
    public static Tensor ofShorts(short[] data, DType dtype, long... shape) {
        if (!HalfFloats.isHalf(dtype)) {
            throw new IllegalArgumentException("ofShorts needs dtype float16 or bfloat16, got " + dtype);
        }
        requireLength(data.length, shape);
        return of(MemorySegment.ofArray(data), dtype, shape);
    }

    /**
     * An int32 tensor over a Java array (a heap segment; no copy).
     *
     * @param data the values in C order
     * @param shape sizes; their product must equal {@code data.length}
     * @return the tensor
     */
    public static Tensor ofInts(int[] data, long... shape) {
        requireLength(data.length, shape);
        return of(MemorySegment.ofArray(data), DType.INT32, shape);
    }

    /**
     * A uint8 tensor over a Java array (a heap segment; no copy). Bytes are read as unsigned 0..255.
     *
     * @param data the values in C order
     * @param shape sizes; their product must equal {@code data.length}
     * @return the tensor
     */
    public static Tensor ofBytes(byte[] data, long... shape) {
        requireLength(data.length, shape);
        return of(MemorySegment.ofArray(data), DType.UINT8, shape);
    }

    private static void requireLength(int length, long[] shape) {
        long count = checkedCount(shape);
        if (count != length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has " + count
                    + " elements but the array has " + length);
        }
    }

    private static long checkedCount(long[] shape) {
        long count = 1;
        for (long s : shape) {
            if (s < 0) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has a negative size");
            }
            try {
                count = Math.multiplyExact(count, s);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " overflows 64-bit sizes", e);
            }
        }
        return count;
    }

    /**
     * The C-order (row-major) strides of a shape, in elements.
     *
     * @param shape sizes
     * @return strides with the last dimension 1
     */
    public static long[] denseStrides(long... shape) {
        long[] st = shape.length == 0 ? NO_LONGS : new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = s;
            s *= Math.max(shape[i], 1);
        }
        return st;
    }

    /**
     * The memory this tensor views.
     *
     * @return the underlying segment (element {@code [0, ..., 0]} at offset 0)
     */
    public MemorySegment segment() {
        return segment;
    }

    /**
     * The element type.
     *
     * @return the dtype
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * The sizes of the dimensions, outermost first.
     *
     * @return a copy of the shape
     */
    public long[] shape() {
        return shape.clone();
    }

    /**
     * The strides of the dimensions, in elements (not bytes).
     *
     * @return a copy of the strides
     */
    public long[] strides() {
        return strides.clone();
    }

    /**
     * The number of dimensions.
     *
     * @return the rank
     */
    public int rank() {
        return shape.length;
    }

    /**
     * The size of one dimension.
     *
     * @param i dimension index
     * @return its size
     */
    public long dim(int i) {
        return shape[i];
    }

    /**
     * The stride of one dimension, in elements.
     *
     * @param i dimension index
     * @return its stride
     */
    public long stride(int i) {
        return strides[i];
    }

    /**
     * The number of elements.
     *
     * @return the product of the shape
     */
    public long elementCount() {
        return elementCount;
    }

    /**
     * The bytes of the segment this view can reach.
     *
     * @return bytes from the first to one past the last element it can reach (0 if empty)
     */
    public long spanBytes() {
        return spanBytes;
    }

    /**
     * Whether the elements are dense and in C order.
     *
     * @return true if the strides are the dense C-order strides (sizes-1 dimensions ignored)
     */
    public boolean isContiguous() {
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != expected) {
                return false;
            }
            expected *= shape[i];
        }
        return true;
    }

    /**
     * The byte offset of an element.
     *
     * @param index one index per dimension
     * @return its offset in the segment
     * @throws IndexOutOfBoundsException if an index is out of range
     */
    public long byteOffset(long... index) {
        if (index.length != shape.length) {
            throw new IllegalArgumentException("index " + Arrays.toString(index) + " has rank " + index.length
                    + ", tensor has rank " + shape.length);
        }
        long off = 0;
        for (int i = 0; i < index.length; i++) {
            Objects.checkIndex(index[i], shape[i]);
            off += index[i] * strides[i];
        }
        return off * dtype.byteSize();
    }

    /**
     * Reads an element of a float32, float16 or bfloat16 tensor as a float (the 16-bit types widen exactly).
     *
     * @param index one index per dimension
     * @return the value
     * @throws IllegalArgumentException on a mask tensor (int32, uint8)
     */
    public float getFloat(long... index) {
        requireFloating("getFloat");
        return readFloat(byteOffset(index));
    }

    /**
     * Writes an element of a float32, float16 or bfloat16 tensor; the 16-bit types round the value to
     * nearest even (overflowing to infinity; NaN stays NaN).
     *
     * @param value the value
     * @param index one index per dimension
     * @throws IllegalArgumentException on a mask tensor (int32, uint8)
     */
    public void setFloat(float value, long... index) {
        requireFloating("setFloat");
        long off = byteOffset(index);
        if (dtype == DType.FLOAT32) {
            segment.set(ValueLayout.JAVA_FLOAT_UNALIGNED, off, value);
        } else {
            segment.set(ValueLayout.JAVA_SHORT_UNALIGNED, off, HalfFloats.fromFloat(dtype, value));
        }
    }

    private float readFloat(long off) {
        return dtype == DType.FLOAT32 ? segment.get(ValueLayout.JAVA_FLOAT_UNALIGNED, off)
                : HalfFloats.toFloat(dtype, segment.get(ValueLayout.JAVA_SHORT_UNALIGNED, off));
    }

    private void requireFloating(String what) {
        if (!dtype.isFloating()) {
            throw new IllegalArgumentException(what + " needs a float32, float16 or bfloat16 tensor, got " + this);
        }
    }

    /**
     * Reads an integer element: int32 as is, uint8 as 0..255.
     *
     * @param index one index per dimension
     * @return the value
     */
    public int getInt(long... index) {
        long off = byteOffset(index);
        return switch (dtype) {
            case INT32 -> segment.get(ValueLayout.JAVA_INT_UNALIGNED, off);
            case UINT8 -> Byte.toUnsignedInt(segment.get(ValueLayout.JAVA_BYTE, off));
            case FLOAT32, FLOAT16, BFLOAT16 -> throw new IllegalArgumentException("getInt on a " + dtype + " tensor");
        };
    }

    /**
     * Writes an integer element (int32, or uint8 from its low 8 bits).
     *
     * @param value the value
     * @param index one index per dimension
     */
    public void setInt(int value, long... index) {
        long off = byteOffset(index);
        switch (dtype) {
            case INT32 -> segment.set(ValueLayout.JAVA_INT_UNALIGNED, off, value);
            case UINT8 -> segment.set(ValueLayout.JAVA_BYTE, off, (byte) value);
            case FLOAT32, FLOAT16, BFLOAT16 -> throw new IllegalArgumentException("setInt on a " + dtype + " tensor");
        }
    }

    /**
     * Copies the elements of a float32, float16 or bfloat16 tensor into a new array (the 16-bit types widen
     * exactly).
     *
     * @return the elements in C order
     */
    public float[] toFloatArray() {
        requireFloating("toFloatArray");
        float[] out = new float[Math.toIntExact(elementCount)];
        long[] idx = new long[shape.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = readFloat(offsetOf(idx));
            increment(idx);
        }
        return out;
    }

    /**
     * Copies the bit patterns of a float16 or bfloat16 tensor into a new array.
     *
     * @return the elements in C order
     */
    public short[] toShortArray() {
        if (!HalfFloats.isHalf(dtype)) {
            throw new IllegalArgumentException("toShortArray needs a float16 or bfloat16 tensor, got " + this);
        }
        short[] out = new short[Math.toIntExact(elementCount)];
        long[] idx = new long[shape.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = segment.get(ValueLayout.JAVA_SHORT_UNALIGNED, offsetOf(idx));
            increment(idx);
        }
        return out;
    }

    /**
     * Copies the int32 or uint8 elements into a new array (uint8 as 0..255).
     *
     * @return the elements in C order
     */
    public int[] toIntArray() {
        if (dtype.isFloating()) {
            throw new IllegalArgumentException("toIntArray on a " + dtype + " tensor");
        }
        int[] out = new int[Math.toIntExact(elementCount)];
        long[] idx = new long[shape.length];
        for (int i = 0; i < out.length; i++) {
            long off = offsetOf(idx);
            out[i] = dtype == DType.INT32 ? segment.get(ValueLayout.JAVA_INT_UNALIGNED, off)
                    : Byte.toUnsignedInt(segment.get(ValueLayout.JAVA_BYTE, off));
            increment(idx);
        }
        return out;
    }

    private long offsetOf(long[] idx) {
        long off = 0;
        for (int d = 0; d < idx.length; d++) {
            off += idx[d] * strides[d];
        }
        return off * dtype.byteSize();
    }

    private void increment(long[] idx) {
        for (int d = idx.length - 1; d >= 0; d--) {
            if (++idx[d] < shape[d]) {
                return;
            }
            idx[d] = 0;
        }
    }

    /**
     * Copies every element of {@code source} (same dtype and shape, any strides) into this tensor.
     *
     * @param source the values
     * @throws IllegalArgumentException on a dtype or shape mismatch
     */
    public void copyFrom(Tensor source) {
        if (source.dtype != dtype || !Arrays.equals(source.shape, shape)) {
            throw new IllegalArgumentException("cannot copy " + source + " into " + this);
        }
        if (isContiguous() && source.isContiguous()) {
            MemorySegment.copy(source.segment, 0, segment, 0, elementCount * dtype.byteSize());
            return;
        }
        int bs = dtype.byteSize();
        long[] idx = new long[shape.length];
        for (long i = 0; i < elementCount; i++) {
            MemorySegment.copy(source.segment, source.offsetOf(idx), segment, offsetOf(idx), bs);
            increment(idx);
        }
    }

    /**
     * A dense copy in the given arena, or this tensor itself if it is already contiguous.
     *
     * @param arena where a copy is allocated
     * @return a contiguous tensor with the same values
     */
    public Tensor contiguous(Arena arena) {
        if (isContiguous()) {
            return this;
        }
        Tensor t = allocate(arena, dtype, shape);
        t.copyFrom(this);
        return t;
    }

    /**
     * A view with the dimensions reordered (no copy): dimension {@code i} of the result is
     * dimension {@code order[i]} of this tensor.
     *
     * @param order a permutation of {@code 0..rank-1}
     * @return the view
     */
    public Tensor permute(int... order) {
        if (order.length != shape.length) {
            throw new IllegalArgumentException("permutation " + Arrays.toString(order) + " for rank " + shape.length);
        }
        long[] sh = new long[order.length];
        long[] st = new long[order.length];
        boolean[] seen = new boolean[order.length];
        for (int i = 0; i < order.length; i++) {
            int o = order[i];
            if (o < 0 || o >= order.length || seen[o]) {
                throw new IllegalArgumentException("not a permutation: " + Arrays.toString(order));
            }
            seen[o] = true;
            sh[i] = shape[o];
            st[i] = strides[o];
        }
        return new Tensor(segment, dtype, sh, st);
    }

    /**
     * A view of a contiguous tensor with another shape of the same element count (no copy).
     *
     * @param newShape the shape
     * @return the view
     * @throws IllegalArgumentException if this tensor is not contiguous or the counts differ
     */
    public Tensor reshape(long... newShape) {
        if (!isContiguous()) {
            throw new IllegalArgumentException("reshape needs a contiguous tensor, got strides " + Arrays.toString(strides));
        }
        if (checkedCount(newShape) != elementCount) {
            throw new IllegalArgumentException("cannot reshape " + this + " to " + Arrays.toString(newShape));
        }
        return of(segment, dtype, newShape);
    }

    /**
     * A short description: dtype, shape, and the strides when not contiguous.
     *
     * @return e.g. {@code float32[1, 1, 4, 4]}
     */
    @Override
    public String toString() {
        return dtype + Arrays.toString(shape) + (isContiguous() ? "" : " strides " + Arrays.toString(strides));
    }
}
