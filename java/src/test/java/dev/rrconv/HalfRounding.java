package dev.rrconv;

/**
 * The test tree's own statement of the 16-bit data types, written from their definitions in double precision
 * and sharing no code with the library: rounding a double once, to nearest even, onto the grid of float16
 * (11 significant bits, exponents -14..15) or bfloat16 (8 significant bits, exponents -126..127), with
 * gradual underflow and overflow to infinity; the spacing (ulp) of that grid; and the bit patterns of exact
 * values. float32 is included (24 significant bits, exponents -126..127) so callers can treat the three
 * types alike.
 */
public final class HalfRounding {
    private HalfRounding() {}

    private static int significantBits(DType t) {
        return switch (t) {
            case FLOAT32 -> 24;
            case FLOAT16 -> 11;
            case BFLOAT16 -> 8;
            default -> throw new IllegalArgumentException("not a data type: " + t);
        };
    }

    private static int minExponent(DType t) {
        return t == DType.FLOAT16 ? -14 : -126;
    }

    private static int maxExponent(DType t) {
        return t == DType.FLOAT16 ? 15 : 127;
    }

    /** The largest finite value of a type. */
    public static double max(DType t) {
        return Math.scalb(2 - Math.scalb(1.0, 1 - significantBits(t)), maxExponent(t));
    }

    /** The spacing of the type's grid at x: 2^(max(exponent(x), minExponent) - (significant bits - 1)). */
    public static double ulp(DType t, double x) {
        int e = x == 0 || !Double.isFinite(x) ? minExponent(t) : Math.max(Math.getExponent(x), minExponent(t));
        return Math.scalb(1.0, e - (significantBits(t) - 1));
    }

    /**
     * x rounded once to the nearest value of the type, ties to even; beyond the largest finite value by half an
     * ulp or more: infinity. NaN and infinities stay.
     */
    public static double round(DType t, double x) {
        if (!Double.isFinite(x) || x == 0) {
            return x;
        }
        double u = ulp(t, x);
        double r = Math.rint(x / u) * u; // x / u is exact: u is a power of two; rint ties to even
        return Math.abs(r) > max(t) ? Math.copySign(Double.POSITIVE_INFINITY, x) : r;
    }

    /** The bit pattern of a float16/bfloat16 value, which must be exact in the type (or NaN/infinity). */
    public static short bits(DType t, double v) {
        if (!Double.isNaN(v) && round(t, v) != v) {
            throw new IllegalArgumentException(v + " is not exact in " + t);
        }
        float f = (float) v; // exact: both half types are subsets of float32
        return switch (t) {
            case FLOAT16 -> Float.floatToFloat16(f);
            case BFLOAT16 -> (short) ((Float.isNaN(f) ? 0x7FC0_0000 : Float.floatToRawIntBits(f)) >>> 16);
            default -> throw new IllegalArgumentException("not a 16-bit type: " + t);
        };
    }

    /** The value of a float16/bfloat16 bit pattern. */
    public static double value(DType t, short bits) {
        return switch (t) {
            case FLOAT16 -> Float.float16ToFloat(bits);
            case BFLOAT16 -> Float.intBitsToFloat((bits & 0xFFFF) << 16);
            default -> throw new IllegalArgumentException("not a 16-bit type: " + t);
        };
    }

    /** Every element rounded once to the type. */
    public static double[] round(DType t, double[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = round(t, v[i]);
        }
        return out;
    }
}
