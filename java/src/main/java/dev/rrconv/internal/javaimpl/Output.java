package dev.rrconv.internal.javaimpl;

import dev.rrconv.Tensor;

/**
 * Where the loops put result rows: straight into the output tensor, or, when its segment is
 * confined to the calling thread and helper threads compute rows (or the rows are scattered with a
 * column step), into dense Java planes that {@link #flush} then writes out.
 */
final class Output {
    private final Tensor tensor;
    private final int channels;
    private final int width;
    private final float[][] planes;

    /**
     * @param tensor the 4-D output (N, C, H, W)
     * @param buffered true to collect the result in Java arrays first
     */
    Output(Tensor tensor, boolean buffered) {
        this.tensor = tensor;
        this.channels = Math.toIntExact(tensor.dim(1));
        this.width = Math.toIntExact(tensor.dim(3));
        if (buffered) {
            int count = Math.multiplyExact(Math.toIntExact(tensor.dim(0)), channels);
            int size = Math.multiplyExact(Math.toIntExact(tensor.dim(2)), width);
            planes = new float[count][];
            for (int i = 0; i < count; i++) {
                planes[i] = new float[size];
            }
        } else {
            planes = null;
        }
    }

    /**
     * Chooses buffering: needed for a confined segment when other threads put rows, preferred for
     * scattered columns.
     *
     * @param threads the thread count of the loops that will {@link #put} (1: only the calling thread)
     */
    static Output of(Tensor tensor, boolean scattered, int threads) {
        return new Output(tensor, scattered || threads > 1 && !Packing.sharable(tensor));
    }

    /**
     * Stores {@code src[off, off+count)} at {@code [n, c, row, col0 + q*colStep]}, {@code q < count}.
     * Thread-safe for disjoint destinations.
     */
    void put(int n, int c, int row, int col0, int colStep, float[] src, int off, int count) {
        if (planes == null) {
            Packing.writeRow(tensor, n, c, row, col0, colStep, src, off, count);
            return;
        }
        float[] plane = planes[n * channels + c];
        int at = row * width + col0;
        if (colStep == 1) {
            System.arraycopy(src, off, plane, at, count);
        } else {
            for (int q = 0; q < count; q++) {
                plane[at + q * colStep] = src[off + q];
            }
        }
    }

    /**
     * Stores {@code rows} rows of {@code count} values, row r taken from {@code src[r*pitch, ...)} and
     * put at row {@code row0 + r*rowStep} as in {@link #put}; one bulk copy where the destination rows
     * are contiguous.
     */
    void putRows(int n, int c, int row0, int rowStep, int col0, int colStep, float[] src, int pitch, int rows,
                 int count) {
        if (planes == null && rowStep == 1 && colStep == 1 && pitch == count && count == width
                && (rows == 1 || tensor.stride(2) == width) && (width == 1 || tensor.stride(3) == 1)) {
            Packing.writeContiguous(tensor, n, c, row0, src, 0, rows * count);
            return;
        }
        for (int r = 0; r < rows; r++) {
            put(n, c, row0 + r * rowStep, col0, colStep, src, r * pitch, count);
        }
    }

    /** Writes buffered planes to the tensor (on several threads where the segment allows). */
    void flush(int threads) {
        if (planes == null) {
            return;
        }
        int height = Math.toIntExact(tensor.dim(2));
        Parallel.forEach(planes.length, Packing.sharable(tensor) ? threads : 1, i -> {
            float[] plane = planes[i];
            if ((height == 1 || tensor.stride(2) == width) && (width == 1 || tensor.stride(3) == 1)) {
                Packing.writeContiguous(tensor, i / channels, i % channels, 0, plane, 0, height * width);
                return;
            }
            for (int y = 0; y < height; y++) {
                Packing.writeRow(tensor, i / channels, i % channels, y, 0, 1, plane, y * width, width);
            }
        });
    }
}
