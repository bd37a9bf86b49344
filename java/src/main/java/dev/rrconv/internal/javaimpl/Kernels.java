package dev.rrconv.internal.javaimpl;

/**
 * The innermost loops, written so that HotSpot's C2 compiler auto-vectorizes them.
 *
 * <p>C2 (up to at least JDK 25) vectorizes a loop over float arrays only when it can prove the
 * stores do not overlap the loads of other iterations; for arrays passed in as parameters it can
 * prove that only when every array is indexed with the very same expression. So every loop here
 * indexes all its float arrays with the plain loop variable {@code i}; shifted input windows are
 * first moved into a 0-based scratch row with {@link System#arraycopy} (itself a vectorized stub).
 * Int-array loads may use other offsets (ints and floats never alias).
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

    /** {@code p[i] = p[i] + (x[i] * m[i]) * d[i]} for {@code i < len}. */
    static void maskedProductAccumulate(float[] p, float[] x, float[] m, float[] d, int len) {
        for (int i = 0; i < len; i++) {
            p[i] = p[i] + (x[i] * m[i]) * d[i];
        }
    }

    /** {@code chk[i] = chk[i] + x[i] * 0f}: chk[i] becomes NaN once any x[i] is NaN or infinite. */
    static void accumulateNonFinite(float[] chk, float[] x, int len) {
        for (int i = 0; i < len; i++) {
            chk[i] = chk[i] + x[i] * 0f;
        }
    }

    /**
     * Sums {@code p[0, len)} in a fixed order that depends only on {@code len}: repeatedly folds the
     * upper half onto the lower half (vectorized, through {@code tmp}), then adds the last few
     * elements in sequence. Destroys {@code p}.
     */
    static float foldSum(float[] p, float[] tmp, int len) {
        while (len > 16) {
            int h = len >>> 1;
            System.arraycopy(p, len - h, tmp, 0, h);
            for (int i = 0; i < h; i++) {
                p[i] = p[i] + tmp[i];
            }
            len -= h;
        }
        float s = 0f;
        for (int i = 0; i < len; i++) {
            s += p[i];
        }
        return s;
    }
}
