package dev.rrconv.internal.javaimpl;

import java.lang.ref.SoftReference;

/**
 * Per-thread scratch arrays, reused across tasks and calls (softly referenced, so a large workspace
 * left on an idle thread can be reclaimed). Contents are undefined on return: callers initialise what
 * they read.
 */
final class Workspace {
    /** Slot numbers of the float rows; each slot is an independent array of rows. */
    static final int ACC = 0;
    static final int TMP = 1;
    static final int MASK = 2;
    static final int X = 3;
    static final int ROW = 4;
    static final int DIFF = 5;
    static final int LANE = 6;
    static final int CHECK = 7;
    /** Whole packed images (used by the calling thread, shared with its helpers for one call). */
    static final int IMAGES = 8;
    static final int RESULTS = 9;
    private static final int SLOTS = 10;

    private static final ThreadLocal<SoftReference<Workspace>> LOCAL = new ThreadLocal<>();

    private final float[][][] rows = new float[SLOTS][][];
    private final double[][][] doubleRows = new double[SLOTS][][];
    private short[] shorts = new short[0];
    private int[] ints = new int[0];
    private byte[] bytes = new byte[0];

    private Workspace() {}

    /** @return this thread's workspace */
    static Workspace get() {
        SoftReference<Workspace> ref = LOCAL.get();
        Workspace ws = ref == null ? null : ref.get();
        if (ws == null) {
            ws = new Workspace();
            LOCAL.set(new SoftReference<>(ws));
        }
        return ws;
    }

    /**
     * At least {@code count} rows of at least {@code length} floats each, all distinct arrays.
     *
     * @param slot which slot ({@link #ACC}, ...)
     * @param count number of rows
     * @param length minimum row length
     * @return the rows (possibly more than asked)
     */
    float[][] rows(int slot, int count, int length) {
        float[][] r = rows[slot];
        if (r == null || r.length < count) {
            float[][] grown = new float[Math.max(count, r == null ? 0 : r.length)][];
            if (r != null) {
                System.arraycopy(r, 0, grown, 0, r.length);
            }
            r = grown;
            rows[slot] = r;
        }
        for (int i = 0; i < count; i++) {
            if (r[i] == null || r[i].length < length) {
                r[i] = new float[length];
            }
        }
        return r;
    }

    /**
     * At least {@code count} rows of at least {@code length} doubles each, all distinct arrays.
     *
     * @param slot which slot ({@link #ACC}, ...), independent of the float slots
     * @param count number of rows
     * @param length minimum row length
     * @return the rows (possibly more than asked)
     */
    double[][] doubleRows(int slot, int count, int length) {
        double[][] r = doubleRows[slot];
        if (r == null || r.length < count) {
            double[][] grown = new double[Math.max(count, r == null ? 0 : r.length)][];
            if (r != null) {
                System.arraycopy(r, 0, grown, 0, r.length);
            }
            r = grown;
            doubleRows[slot] = r;
        }
        for (int i = 0; i < count; i++) {
            if (r[i] == null || r[i].length < length) {
                r[i] = new double[length];
            }
        }
        return r;
    }

    /**
     * One row of at least {@code length} floats.
     *
     * @param slot which slot
     * @param length minimum length
     * @return the row
     */
    float[] row(int slot, int length) {
        return rows(slot, 1, length)[0];
    }

    /**
     * A short array of at least {@code length} elements (16-bit patterns of float16/bfloat16 rows).
     *
     * @param length minimum length
     * @return the array
     */
    short[] shorts(int length) {
        if (shorts.length < length) {
            shorts = new short[length];
        }
        return shorts;
    }

    /**
     * An int array of at least {@code length} elements.
     *
     * @param length minimum length
     * @return the array
     */
    int[] ints(int length) {
        if (ints.length < length) {
            ints = new int[length];
        }
        return ints;
    }

    /**
     * A byte array of at least {@code length} elements.
     *
     * @param length minimum length
     * @return the array
     */
    byte[] bytes(int length) {
        if (bytes.length < length) {
            bytes = new byte[length];
        }
        return bytes;
    }
}
