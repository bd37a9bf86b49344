package dev.rrconv.internal.vector;

import dev.rrconv.DType;
import dev.rrconv.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * How one image plane ({@code height x width}) is laid out in a Java array: its columns split by
 * phase ({@code x = c*phases + phase}), each phase a block of {@code height} rows of {@code pitch}
 * elements, with {@code pad} spare elements before and after. Element {@code (y, x)} is at
 * {@link #index}{@code (y, x % phases, x / phases)}.
 *
 * <p>The pads let a kernel load a whole vector at a column shifted left or right of the image, or past
 * its last column, without a bounds check: the lanes that fall outside the image are masked out,
 * whatever they read (a neighbouring row or phase, or the zeroed pad).
 */
record Plane(int height, int width, int phases, int pitch, int pad) {

    /** Largest array this layout may need (a little under the VM's array limit). */
    static final long MAX_LENGTH = Integer.MAX_VALUE - 64;

    /**
     * @return the layout, or null if its array would be too long for Java
     */
    static Plane of(long height, long width, long phases, long pitch, long pad) {
        long length = 2 * pad + phases * height * pitch;
        if (height > MAX_LENGTH || width > MAX_LENGTH || pitch > MAX_LENGTH || pad > MAX_LENGTH
                || length > MAX_LENGTH) {
            return null;
        }
        return new Plane((int) height, (int) width, (int) phases, (int) pitch, (int) pad);
    }

    /** @return the array length */
    int length() {
        return 2 * pad + phases * height * pitch;
    }

    /** @return the index of element {@code (y, phase + c*phases)} */
    int index(int y, int phase, int c) {
        return pad + (phase * height + y) * pitch + c;
    }

    /** @return how many columns {@code x < width} have {@code x % phases == phase} */
    int columns(int phase) {
        return Math.max(0, (width - phase + phases - 1) / phases);
    }

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /**
     * @return true if a tensor plane with these row and column strides (in elements) is laid out exactly
     *     as this layout's rows: one phase, rows of {@code pitch == width} elements, back to back
     */
    private boolean contiguous(long rowStride, long colStride) {
        return phases == 1 && pitch == width && (width <= 1 || colStride == 1) && (height <= 1 || rowStride == width);
    }
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT_UNALIGNED;

    /**
     * Packs plane {@code [i0, i1, :, :]} of a 4-D float tensor into {@code dst} (length {@link #length}),
     * zeroing nothing: the pads and the slack after each row are left as they are (they are only ever
     * read into masked-out lanes).
     */
    void packFloats(Tensor t, long i0, long i1, float[] dst, float[] row) {
        MemorySegment seg = t.segment();
        long base = 4 * (i0 * t.stride(0) + i1 * t.stride(1));
        long rowStep = 4 * t.stride(2);
        long colStep = 4 * t.stride(3);
        if (contiguous(t.stride(2), t.stride(3))) {
            MemorySegment.copy(seg, F, base, dst, index(0, 0, 0), height * width);
            return;
        }
        for (int y = 0; y < height; y++) {
            long b = base + y * rowStep;
            if (phases == 1) {
                int at = index(y, 0, 0);
                if (colStep == 4 || width == 1) {
                    MemorySegment.copy(seg, F, b, dst, at, width);
                } else {
                    for (int x = 0; x < width; x++) {
                        dst[at + x] = seg.get(F, b + x * colStep);
                    }
                }
            } else {
                if (colStep == 4 || width == 1) {
                    MemorySegment.copy(seg, F, b, row, 0, width);
                } else {
                    for (int x = 0; x < width; x++) {
                        row[x] = seg.get(F, b + x * colStep);
                    }
                }
                for (int ph = 0; ph < phases; ph++) {
                    int at = index(y, ph, 0);
                    for (int x = ph, c = 0; x < width; x += phases, c++) {
                        dst[at + c] = row[x];
                    }
                }
            }
        }
    }

    /** Zeroes the elements after each row's {@code columns(phase)} up to its {@code pitch} (the row slack). */
    void zeroSlack(float[] a) {
        for (int ph = 0; ph < phases; ph++) {
            for (int y = 0; y < height; y++) {
                java.util.Arrays.fill(a, index(y, ph, columns(ph)), index(y, ph, pitch), 0f);
            }
        }
    }

    /** Packs image {@code n} of a 3-D int32 or uint8 mask into {@code dst}, as {@link #packFloats}. */
    void packMask(Tensor t, long n, int[] dst, int[] row) {
        MemorySegment seg = t.segment();
        boolean i32 = t.dtype() == DType.INT32;
        long rowStep = t.stride(1);
        long colStep = t.stride(2);
        for (int y = 0; y < height; y++) {
            long off = n * t.stride(0) + y * rowStep;
            int[] to = phases == 1 ? dst : row;
            int at = phases == 1 ? index(y, 0, 0) : 0;
            if (i32 && (colStep == 1 || width == 1)) {
                MemorySegment.copy(seg, I, 4 * off, to, at, width);
            } else if (i32) {
                for (int x = 0; x < width; x++) {
                    to[at + x] = seg.get(I, 4 * (off + x * colStep));
                }
            } else {
                for (int x = 0; x < width; x++) {
                    to[at + x] = Byte.toUnsignedInt(seg.get(ValueLayout.JAVA_BYTE, off + x * colStep));
                }
            }
            if (phases != 1) {
                for (int ph = 0; ph < phases; ph++) {
                    int a = index(y, ph, 0);
                    for (int x = ph, c = 0; x < width; x += phases, c++) {
                        dst[a + c] = row[x];
                    }
                }
            }
        }
    }

    /** Writes {@code src} (laid out as this plane) to plane {@code [i0, i1, :, :]} of a 4-D float tensor. */
    void unpackFloats(float[] src, Tensor t, long i0, long i1) {
        MemorySegment seg = t.segment();
        long base = 4 * (i0 * t.stride(0) + i1 * t.stride(1));
        long rowStep = 4 * t.stride(2);
        long colStep = 4 * t.stride(3);
        if (contiguous(t.stride(2), t.stride(3))) {
            MemorySegment.copy(src, index(0, 0, 0), seg, F, base, height * width);
            return;
        }
        for (int y = 0; y < height; y++) {
            long b = base + y * rowStep;
            if (phases == 1 && (colStep == 4 || width == 1)) {
                MemorySegment.copy(src, index(y, 0, 0), seg, F, b, width);
            } else {
                for (int ph = 0; ph < phases; ph++) {
                    int at = index(y, ph, 0);
                    for (int x = ph, c = 0; x < width; x += phases, c++) {
                        seg.set(F, b + x * colStep, src[at + c]);
                    }
                }
            }
        }
    }
}
