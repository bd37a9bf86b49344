package dev.rrconv.bench;

/** Result checks the benchmarks run in their setup, so that a wrong result never yields a timing. */
final class Check {
    private Check() {}

    /**
     * Fails unless two results of the same problem agree up to float rounding of different summation
     * orders: {@code |a - b| <= 1e-3 * (max |b| + 1)} element-wise, and neither is all zeros.
     *
     * @param what the problem, for the message
     * @param a one backend's result
     * @param b the other's
     */
    static void close(String what, float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalStateException(what + ": result sizes differ: " + a.length + " vs " + b.length);
        }
        double scale = 0;
        for (float v : b) {
            scale = Math.max(scale, Math.abs(v));
        }
        if (scale == 0) {
            throw new IllegalStateException(what + ": the result is all zeros");
        }
        double tol = 1e-3 * (scale + 1);
        for (int i = 0; i < a.length; i++) {
            if (!(Math.abs(a[i] - b[i]) <= tol)) {
                throw new IllegalStateException(what + ": element " + i + " is " + a[i] + " on one backend and " + b[i]
                        + " on the other (tolerance " + tol + ")");
            }
        }
    }

    /**
     * Fails unless a result equals the expected values exactly.
     *
     * @param what the problem, for the message
     * @param expected the exact values
     * @param got the result
     */
    static void exact(String what, float[] expected, float[] got) {
        if (!java.util.Arrays.equals(expected, got)) {
            throw new IllegalStateException(what + ": expected " + java.util.Arrays.toString(expected) + ", got "
                    + java.util.Arrays.toString(got));
        }
    }
}
