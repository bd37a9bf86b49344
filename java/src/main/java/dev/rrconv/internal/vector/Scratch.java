package dev.rrconv.internal.vector;

import java.lang.ref.SoftReference;

/**
 * The calling thread's arrays, reused from call to call (softly referenced, so an idle thread's can be
 * reclaimed): a call's packed planes, region masks, lane masks and output planes are as large as its
 * tensors, and allocating (and zeroing) them anew each call costs as much as packing them. Contents
 * are left over from earlier calls; every reader only looks at what the call wrote, or at lanes it
 * masks out.
 */
final class Scratch {
    /** Slots of the float and int plane arrays. */
    static final int X = 0;
    static final int Y = 1;
    static final int D = 2;
    private static final int SLOTS = 3;

    private static final ThreadLocal<SoftReference<Scratch>> LOCAL = new ThreadLocal<>();

    private final float[][][] floats = new float[SLOTS][][];
    private final int[][][] ints = new int[SLOTS][][];
    private int[] off = new int[0];
    private long[] bits = new long[0];

    private Scratch() {}

    /** @return this thread's scratch arrays */
    static Scratch get() {
        SoftReference<Scratch> ref = LOCAL.get();
        Scratch s = ref == null ? null : ref.get();
        if (s == null) {
            s = new Scratch();
            LOCAL.set(new SoftReference<>(s));
        }
        return s;
    }

    /** @return at least {@code count} distinct float arrays of at least {@code length} elements */
    float[][] floats(int slot, int count, int length) {
        float[][] a = floats[slot];
        if (a == null || a.length < count) {
            float[][] grown = new float[count][];
            if (a != null) {
                System.arraycopy(a, 0, grown, 0, a.length);
            }
            floats[slot] = a = grown;
        }
        for (int i = 0; i < count; i++) {
            if (a[i] == null || a[i].length < length) {
                a[i] = new float[length];
            }
        }
        return a;
    }

    /** @return at least {@code count} distinct int arrays of at least {@code length} elements */
    int[][] ints(int slot, int count, int length) {
        int[][] a = ints[slot];
        if (a == null || a.length < count) {
            int[][] grown = new int[count][];
            if (a != null) {
                System.arraycopy(a, 0, grown, 0, a.length);
            }
            ints[slot] = a = grown;
        }
        for (int i = 0; i < count; i++) {
            if (a[i] == null || a[i].length < length) {
                a[i] = new int[length];
            }
        }
        return a;
    }

    /** @return an int array of at least {@code length} elements (the tap offsets) */
    int[] off(int length) {
        if (off.length < length) {
            off = new int[length];
        }
        return off;
    }

    /** @return a long array of at least {@code length} elements (the lane masks) */
    long[] bits(int length) {
        if (bits.length < length) {
            bits = new long[length];
        }
        return bits;
    }
}
