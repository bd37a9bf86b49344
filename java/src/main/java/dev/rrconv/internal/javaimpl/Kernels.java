package dev.rrconv.internal.javaimpl;

/**
 * The innermost loops, written so that HotSpot's C2 compiler auto-vectorizes them.
 *
 * <p>C2 (up to at least JDK 25) vectorizes a loop only when it can prove that its stores do not
 * overlap the loads of other iterations. For arrays passed in as parameters it proves that only
 * when the stored array and every loaded array of the same element type are indexed with the very
 * same expression; arrays of different element types never alias. So the loops either index every
 * float array with the plain loop variable {@code i} (shifted input windows are first moved into a
 * 0-based scratch row with {@link System#arraycopy}, itself a vectorized stub), or store into a
 * {@code double[]} accumulator, which frees the float loads to use any offsets and also gives the
 * long per-pixel sums of the depthwise-like paths double precision.
 *
 * <p>Masked taps are applied as a multiplication by an exact 0/1 mask <em>on the input value</em>,
 * before the weight: {@code w * (x * m)}. For finite {@code x} and {@code w} a masked tap then adds an
 * exact {@code +-0}, which leaves any running sum that starts at {@code +0} bit-for-bit unchanged, so
 * the result equals that of skipping the tap. A non-finite {@code x} or {@code w} at a masked tap would
 * produce NaN instead; callers detect that case and recompute the affected outputs exactly.
 */
final class Kernels {
    private Kernels() {}

    /**
     * {@code m[i] = (a[aOff+i] == b[bOff+i]) ? 1f : 0f} for {@code i < len}, branch-free.
     */
    static void equalMask(float[] m, int[] a, int aOff, int[] b, int bOff, int len) {
        for (int i = 0; i < len; i++) {
            int d = a[aOff + i] ^ b[bOff + i];
            m[i] = (float) (1 - ((d | -d) >>> 31));
        }
    }

    /** {@code acc[i] = acc[i] + w * (x[i] * m[i])} for {@code lo <= i < hi}. */
    static void maskedAxpy(float[] acc, float[] x, float[] m, float w, int lo, int hi) {
        for (int i = lo; i < hi; i++) {
            acc[i] = acc[i] + w * (x[i] * m[i]);
        }
    }

    /** {@code acc[i] += (double) (w * (x[off+i] * m[i]))} for {@code lo <= i < hi}. */
    static void maskedAxpy(double[] acc, float[] x, int off, float[] m, float w, int lo, int hi) {
        for (int i = lo; i < hi; i++) {
            acc[i] = acc[i] + (double) (w * (x[off + i] * m[i]));
        }
    }

    /**
     * Two taps in one pass: {@code acc[i] = (acc[i] + w0*(x[off0+i]*m0[i])) + w1*(x[off1+i]*m1[i])},
     * each product rounded to float, the sums in double. (C2 vectorizes two such terms; four it does not.)
     */
    static void maskedAxpy2(double[] acc, float[] x, int off0, float[] m0, float w0, int off1, float[] m1, float w1,
                            int lo, int hi) {
        for (int i = lo; i < hi; i++) {
            acc[i] = acc[i] + (double) (w0 * (x[off0 + i] * m0[i])) + (double) (w1 * (x[off1 + i] * m1[i]));
        }
    }

    /** {@code out[i] = (float) acc[i]} for {@code i < len}. */
    static void toFloat(float[] out, double[] acc, int len) {
        for (int i = 0; i < len; i++) {
            out[i] = (float) acc[i];
        }
    }

    /** {@code x[i] = x[i] * m[i]} for {@code lo <= i < hi}. */
    static void multiply(float[] x, float[] m, int lo, int hi) {
        for (int i = lo; i < hi; i++) {
            x[i] = x[i] * m[i];
        }
    }

    /** {@code acc[i] = acc[i] + w0*x0[i]} for {@code i < len}. */
    static void axpy1(float[] acc, float[] x0, float w0, int len) {
        for (int i = 0; i < len; i++) {
            acc[i] = acc[i] + w0 * x0[i];
        }
    }

    /** {@code acc[i] = (((acc[i] + w0*x0[i]) + w1*x1[i]) + w2*x2[i]) + w3*x3[i]} for {@code i < len}. */
    static void axpy4(float[] acc, float[] x0, float[] x1, float[] x2, float[] x3, float w0, float w1, float w2,
                      float w3, int len) {
        for (int i = 0; i < len; i++) {
            acc[i] = acc[i] + w0 * x0[i] + w1 * x1[i] + w2 * x2[i] + w3 * x3[i];
        }
    }

    /** {@link #axpy4} for two accumulator rows sharing the four inputs. */
    static void axpy4x2(float[] a0, float[] a1, float[] x0, float[] x1, float[] x2, float[] x3, float w0, float w1,
                        float w2, float w3, float v0, float v1, float v2, float v3, int len) {
        for (int i = 0; i < len; i++) {
            float y0 = x0[i];
            float y1 = x1[i];
            float y2 = x2[i];
            float y3 = x3[i];
            a0[i] = a0[i] + w0 * y0 + w1 * y1 + w2 * y2 + w3 * y3;
            a1[i] = a1[i] + v0 * y0 + v1 * y1 + v2 * y2 + v3 * y3;
        }
    }

    /** {@code p[i] += (double) ((x[xOff+i] * m[i]) * d[dOff+i])} for {@code lo <= i < hi}. */
    static void maskedProductAccumulate(double[] p, float[] x, int xOff, float[] m, float[] d, int dOff, int lo,
                                        int hi) {
        for (int i = lo; i < hi; i++) {
            p[i] = p[i] + (double) ((x[xOff + i] * m[i]) * d[dOff + i]);
        }
    }

    /**
     * @return true if every element of {@code x[off, off+len)} is finite. Adds {@code x * 0} (NaN for
     *     NaN or infinite x, else zero) into lanes of {@code chk}, vectorized, then inspects the lanes.
     */
    static boolean allFinite(float[] x, int off, int len, double[] chk) {
        int lanes = Math.min(len, chk.length);
        java.util.Arrays.fill(chk, 0, lanes, 0.0);
        for (int s = 0; s < len; s += lanes) {
            int n = Math.min(lanes, len - s);
            int o = off + s;
            for (int i = 0; i < n; i++) {
                chk[i] = chk[i] + (double) (x[o + i] * 0f);
            }
        }
        for (int i = 0; i < lanes; i++) {
            if (chk[i] != 0.0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Sums {@code p[0, len)} in a fixed order that depends only on {@code len}: repeatedly folds the
     * upper half onto the lower half (vectorized, through {@code tmp}), then adds the last few
     * elements in sequence. Destroys {@code p}.
     */
    static double foldSum(double[] p, double[] tmp, int len) {
        while (len > 16) {
            int h = len >>> 1;
            System.arraycopy(p, len - h, tmp, 0, h);
            for (int i = 0; i < h; i++) {
                p[i] = p[i] + tmp[i];
            }
            len -= h;
        }
        double s = 0;
        for (int i = 0; i < len; i++) {
            s += p[i];
        }
        return s;
    }

    /** {@code acc[i] = acc[i] + (double) (w[wo+i] * x[xo+i])} for {@code i < len}. */
    static void axpy(double[] acc, float[] w, int wo, float[] x, int xo, int len) {
        for (int i = 0; i < len; i++) {
            acc[i] = acc[i] + (double) (w[wo + i] * x[xo + i]);
        }
    }

    /**
     * Two taps in one pass: {@code acc[i] = (acc[i] + (double) (w0[wo0+i] * x0[xo0+i])) + (double) (w1[wo1+i] *
     * x1[xo1+i])} for {@code i < len}: the same sums as two {@link #axpy} calls in sequence.
     */
    static void axpy2(double[] acc, float[] w0, int wo0, float[] x0, int xo0, float[] w1, int wo1, float[] x1, int xo1,
                      int len) {
        for (int i = 0; i < len; i++) {
            acc[i] = acc[i] + (double) (w0[wo0 + i] * x0[xo0 + i]) + (double) (w1[wo1 + i] * x1[xo1 + i]);
        }
    }

    /**
     * {@link #axpy2} into a zero accumulator without reading it: {@code acc[i] = (0.0 + (double) (w0[wo0+i] *
     * x0[xo0+i])) + (double) (w1[wo1+i] * x1[xo1+i])}, the same bits as zeroing acc and calling axpy2.
     */
    static void axpy2From0(double[] acc, float[] w0, int wo0, float[] x0, int xo0, float[] w1, int wo1, float[] x1,
                           int xo1, int len) {
        for (int i = 0; i < len; i++) {
            acc[i] = 0.0 + (double) (w0[wo0 + i] * x0[xo0 + i]) + (double) (w1[wo1 + i] * x1[xo1 + i]);
        }
    }

    /** {@code out[off+i] = (float) acc[i]} for {@code i < len}. */
    static void toFloat(float[] out, int off, double[] acc, int len) {
        for (int i = 0; i < len; i++) {
            out[off + i] = (float) acc[i];
        }
    }

    /** {@code acc[ao+i] = acc[ao+i] + (double) (x[xo+i] * d[dOff+i])} for {@code i < len}. */
    static void productAccumulate(double[] acc, int ao, float[] x, int xo, float[] d, int dOff, int len) {
        for (int i = 0; i < len; i++) {
            acc[ao + i] = acc[ao + i] + (double) (x[xo + i] * d[dOff + i]);
        }
    }

    /**
     * Two pixels in one pass: {@code acc[ao+i] = (acc[ao+i] + (double) (x[xo0+i] * d[do0+i])) + (double) (x[xo1+i] *
     * d[do1+i])} for {@code i < len}: the same sums as two {@link #productAccumulate} calls in sequence.
     */
    static void productAccumulate2(double[] acc, int ao, float[] x, int xo0, float[] d, int do0, int xo1, int do1,
                                   int len) {
        for (int i = 0; i < len; i++) {
            acc[ao + i] = acc[ao + i] + (double) (x[xo0 + i] * d[do0 + i]) + (double) (x[xo1 + i] * d[do1 + i]);
        }
    }
}
