package dev.rrconv.internal.javaimpl;

import dev.rrconv.DType;
import dev.rrconv.Tensor;
import dev.rrconv.internal.HalfFloats;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.lang.foreign.ValueLayout;

/**
 * Copies between strided tensors (any segment: heap arrays of any element type, off-heap, mapped) and
 * the dense Java arrays the loops run on. Contiguous rows move with one bulk copy; other rows element
 * by element. All accesses are unaligned-safe.
 *
 * <p>Data tensors may be float32, float16 or bfloat16: reads widen the 16-bit types to float32 (exact),
 * writes round float32 results to the output's type, once, to nearest even. The loops themselves only ever
 * see float arrays, so they compute every type in float32.
 */
final class Packing {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfShort S = ValueLayout.JAVA_SHORT_UNALIGNED;
    /** Elements of a contiguous float16/bfloat16 run converted per bulk copy. */
    private static final int HALF_CHUNK = 4096;

    /** An unstarted thread: a segment accessible by it is accessible by every thread (not confined). */
    private static final Thread OTHER = new Thread(() -> { }, "rrconv-probe");

    private Packing() {}

    /**
     * @param t a tensor
     * @return true if its segment may be accessed from the worker threads (heap, global, auto or shared)
     */
    static boolean sharable(Tensor t) {
        return t.segment().isAccessibleBy(OTHER);
    }

    /**
     * Reads one row of a data tensor of the given type: {@code count} elements from byte offset {@code base},
     * element stride {@code stride} (in elements), into {@code dst[at, at+count)}, widened to float.
     */
    static void readFloats(MemorySegment seg, DType type, long base, long stride, float[] dst, int at, int count) {
        if (type == DType.FLOAT32 && (stride == 1 || count == 1)) {
            MemorySegment.copy(seg, F, base, dst, at, count);
        } else if (type == DType.FLOAT32) {
            long step = 4 * stride;
            for (int i = 0; i < count; i++) {
                dst[at + i] = seg.get(F, base + i * step);
            }
        } else {
            HalfFloats.widen(type, seg, base, stride, dst, at, count, Workspace.get().shorts(HALF_CHUNK));
        }
    }

    /**
     * Writes {@code src[at, at+count)} to a data tensor of the given type from byte offset {@code base}, element
     * stride {@code stride} (in elements), each value rounded once to the type.
     */
    static void writeFloats(MemorySegment seg, DType type, long base, long stride, float[] src, int at, int count) {
        if (type == DType.FLOAT32 && stride == 1) {
            MemorySegment.copy(src, at, seg, F, base, count);
        } else if (type == DType.FLOAT32) {
            long step = 4 * stride;
            for (int q = 0; q < count; q++) {
                seg.set(F, base + q * step, src[at + q]);
            }
        } else {
            HalfFloats.narrow(type, src, at, count, seg, base, stride, Workspace.get().shorts(HALF_CHUNK));
        }
    }

    /**
     * Reads one element of a data tensor's memory, widened to float.
     *
     * @param element the element's offset, in elements
     */
    static float getFloat(MemorySegment seg, DType type, long element) {
        return type == DType.FLOAT32 ? seg.get(F, 4 * element) : HalfFloats.toFloat(type, seg.get(S, 2 * element));
    }

    /**
     * Writes one element of a data tensor's memory, rounded once to its type.
     *
     * @param element the element's offset, in elements
     */
    static void setFloat(MemorySegment seg, DType type, long element, float value) {
        if (type == DType.FLOAT32) {
            seg.set(F, 4 * element, value);
        } else {
            seg.set(S, 2 * element, HalfFloats.fromFloat(type, value));
        }
    }

    /**
     * Packs plane {@code (i0, i1)} of a 4-D float tensor into {@code dst} according to {@code layout},
     * zeroing the first {@code layout.length} elements of {@code dst} first: the kernels read (and mask)
     * the margins around the image, and {@code dst} is a reused workspace row, not a fresh array.
     *
     * @return true if every value of the plane is finite
     */
    static boolean packPlane(Tensor t, long i0, long i1, PlaneLayout layout, float[] dst, Workspace ws) {
        Arrays.fill(dst, 0, layout.length, 0f);
        int h = layout.height;
        int w = layout.width;
        MemorySegment seg = t.segment();
        DType type = t.dtype();
        long base = type.byteSize() * (i0 * t.stride(0) + i1 * t.stride(1));
        double[] chk = ws.doubleRows(Workspace.CHECK, 1, 256)[0];
        if (layout.phasesH == 1 && layout.phasesW == 1 && layout.pitch == w && (h == 1 || t.stride(2) == w)
                && (w == 1 || t.stride(3) == 1)) {
            // the whole plane is one contiguous run, in the tensor and in the packed array
            int at = layout.index(0, 0);
            readFloats(seg, type, base, 1, dst, at, h * w);
            return Kernels.allFinite(dst, at, h * w, chk);
        }
        float[] row = ws.row(Workspace.ROW, w);
        long rowStep = type.byteSize() * t.stride(2);
        long colStride = t.stride(3);
        int pw = layout.phasesW;
        boolean finite = true;
        for (int y = 0; y < h; y++) {
            if (pw == 1) {
                int at = layout.index(y, 0);
                readFloats(seg, type, base + y * rowStep, colStride, dst, at, w);
                finite &= Kernels.allFinite(dst, at, w, chk);
            } else {
                readFloats(seg, type, base + y * rowStep, colStride, row, 0, w);
                finite &= Kernels.allFinite(row, 0, w, chk);
                for (int phi = 0; phi < pw && phi < w; phi++) {
                    int at = layout.index(y, phi);
                    for (int x = phi, c = 0; x < w; x += pw, c++) {
                        dst[at + c] = row[x];
                    }
                }
            }
        }
        return finite;
    }

    /**
     * Packs image {@code n} of a 3-D int32 or uint8 mask into {@code dst} according to {@code layout}.
     */
    static void packMask(Tensor t, long n, PlaneLayout layout, int[] dst, Workspace ws) {
        int h = layout.height;
        int w = layout.width;
        int[] row = ws.ints(w);
        MemorySegment seg = t.segment();
        boolean i32 = t.dtype() == DType.INT32;
        long base = n * t.stride(0);
        long rowStep = t.stride(1);
        long colStride = t.stride(2);
        byte[] bytes = i32 ? null : ws.bytes(w);
        int pw = layout.phasesW;
        if (i32 && layout.phasesH == 1 && pw == 1 && layout.pitch == w && (h == 1 || rowStep == w)
                && (w == 1 || colStride == 1)) {
            MemorySegment.copy(seg, I, 4 * base, dst, layout.index(0, 0), h * w);
            return;
        }
        for (int y = 0; y < h; y++) {
            long off = base + y * rowStep;
            if (i32) {
                if (colStride == 1) {
                    MemorySegment.copy(seg, I, 4 * off, row, 0, w);
                } else {
                    for (int x = 0; x < w; x++) {
                        row[x] = seg.get(I, 4 * (off + x * colStride));
                    }
                }
            } else {
                if (colStride == 1) {
                    MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, off, bytes, 0, w);
                    for (int x = 0; x < w; x++) {
                        row[x] = bytes[x] & 0xFF;
                    }
                } else {
                    for (int x = 0; x < w; x++) {
                        row[x] = seg.get(ValueLayout.JAVA_BYTE, off + x * colStride) & 0xFF;
                    }
                }
            }
            if (pw == 1) {
                System.arraycopy(row, 0, dst, layout.index(y, 0), w);
            } else {
                for (int phi = 0; phi < pw && phi < w; phi++) {
                    int at = layout.index(y, phi);
                    for (int x = phi, c = 0; x < w; x += pw, c++) {
                        dst[at + c] = row[x];
                    }
                }
            }
        }
    }

    /**
     * Packs the sub-grid {@code (rowOff + p*rowStep, colOff + q*colStep)} of image {@code n} of a mask
     * into {@code dst[p*pitch + q]} for {@code p < rows, q < cols}.
     */
    static void packMaskGrid(Tensor t, long n, int rowOff, int rowStep, int rows, int colOff, int colStep, int cols,
                             int pitch, int[] dst) {
        MemorySegment seg = t.segment();
        boolean i32 = t.dtype() == DType.INT32;
        if (i32 && rowStep == 1 && colStep == 1 && pitch == cols && cols == t.dim(2) && (rows == 1 || t.stride(1) == cols)
                && (cols == 1 || t.stride(2) == 1)) {
            long off = n * t.stride(0) + (long) rowOff * t.stride(1) + colOff * t.stride(2);
            MemorySegment.copy(seg, I, 4 * off, dst, 0, rows * cols);
            return;
        }
        for (int p = 0; p < rows; p++) {
            long off = n * t.stride(0) + (rowOff + (long) p * rowStep) * t.stride(1) + colOff * t.stride(2);
            long step = colStep * t.stride(2);
            int at = p * pitch;
            if (i32) {
                if (step == 1) {
                    MemorySegment.copy(seg, I, 4 * off, dst, at, cols);
                } else {
                    for (int q = 0; q < cols; q++) {
                        dst[at + q] = seg.get(I, 4 * (off + q * step));
                    }
                }
            } else {
                for (int q = 0; q < cols; q++) {
                    dst[at + q] = seg.get(ValueLayout.JAVA_BYTE, off + q * step) & 0xFF;
                }
            }
        }
    }

    /**
     * Writes {@code count} floats to consecutive elements of a 4-D data tensor's memory, starting at
     * element {@code [i0, i1, row, 0]} (the caller has checked that the destination is contiguous).
     */
    static void writeContiguous(Tensor t, long i0, long i1, long row, float[] src, int srcOff, int count) {
        long base = t.dtype().byteSize() * (i0 * t.stride(0) + i1 * t.stride(1) + row * t.stride(2));
        writeFloats(t.segment(), t.dtype(), base, 1, src, srcOff, count);
    }

    /**
     * Writes {@code count} floats {@code src[srcOff, srcOff+count)} to a 4-D data tensor at
     * {@code [i0, i1, row, col0 + q*colStep]}.
     */
    static void writeRow(Tensor t, long i0, long i1, long row, long col0, long colStep, float[] src, int srcOff,
                         int count) {
        long base = t.dtype().byteSize() * (i0 * t.stride(0) + i1 * t.stride(1) + row * t.stride(2) + col0 * t.stride(3));
        writeFloats(t.segment(), t.dtype(), base, colStep * t.stride(3), src, srcOff, count);
    }

    /**
     * Reads a 5-D data filter (G, OCPG, ICPG, FH, FW), any strides, into a dense C-order float array.
     */
    static float[] readFilter(Tensor f, Workspace ws) {
        int g = Math.toIntExact(f.dim(0));
        int ocpg = Math.toIntExact(f.dim(1));
        int icpg = Math.toIntExact(f.dim(2));
        int fh = Math.toIntExact(f.dim(3));
        int fw = Math.toIntExact(f.dim(4));
        float[] out = new float[Math.multiplyExact(Math.multiplyExact(g * ocpg, icpg), fh * fw)];
        float[] row = ws.row(Workspace.ROW, fw);
        MemorySegment seg = f.segment();
        int at = 0;
        for (int a = 0; a < g; a++) {
            for (int b = 0; b < ocpg; b++) {
                for (int c = 0; c < icpg; c++) {
                    for (int d = 0; d < fh; d++) {
                        long base = f.dtype().byteSize()
                                * (a * f.stride(0) + b * f.stride(1) + c * f.stride(2) + d * f.stride(3));
                        readFloats(seg, f.dtype(), base, f.stride(4), row, 0, fw);
                        System.arraycopy(row, 0, out, at, fw);
                        at += fw;
                    }
                }
            }
        }
        return out;
    }
}
