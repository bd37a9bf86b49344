package dev.rrconv.internal;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.Tensor;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * What the backend tests of this package share: a problem with dense C-order data, and the small
 * helpers that lay its arrays out in tensors of any layout (element by element, in index order).
 */
final class BackendTestData {
    private BackendTestData() {
    }

    /** One problem: sizes, parameters and dense C-order data. */
    record Problem(ConvShape s, ConvParams p, float[] src, float[] filter, float[] diff, int[] rin, int[] rout,
                   boolean u8) {
        @Override
        public String toString() {
            return s + " " + p + (u8 ? " uint8" : " int32");
        }
    }

    /** A random permutation of 0 .. rank-1. */
    static int[] randomPermutation(int rank, Random r) {
        int[] perm = IntStream.range(0, rank).toArray();
        for (int i = rank - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        return perm;
    }

    /** shape[perm[i]] for each i: the stored shape of a view permuted by perm. */
    static long[] permuted(long[] shape, int[] perm) {
        long[] stored = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            stored[i] = shape[perm[i]];
        }
        return stored;
    }

    /** The permutation that undoes perm. */
    static int[] inverse(int[] perm) {
        int[] inverse = new int[perm.length];
        for (int i = 0; i < perm.length; i++) {
            inverse[perm[i]] = i;
        }
        return inverse;
    }

    /** Writes data into t in index order; returns t. */
    static Tensor fill(Tensor t, float[] data) {
        long[] shape = t.shape();
        long[] idx = new long[shape.length];
        for (float v : data) {
            t.setFloat(v, idx);
            increment(idx, shape);
        }
        return t;
    }

    /** Writes data into t in index order; returns t. */
    static Tensor fill(Tensor t, int[] data) {
        long[] shape = t.shape();
        long[] idx = new long[shape.length];
        for (int v : data) {
            t.setInt(v, idx);
            increment(idx, shape);
        }
        return t;
    }

    /** Sets every element of t to NaN (an element a backend fails to write shows); returns t. */
    static Tensor fillNaN(Tensor t) {
        long[] shape = t.shape();
        long[] idx = new long[shape.length];
        for (long i = 0; i < product(shape); i++) {
            t.setFloat(Float.NaN, idx);
            increment(idx, shape);
        }
        return t;
    }

    /** The next index in C order (wraps to zeros after the last). */
    static void increment(long[] idx, long[] shape) {
        for (int d = idx.length - 1; d >= 0; d--) {
            if (++idx[d] < shape[d]) {
                return;
            }
            idx[d] = 0;
        }
    }

    static long product(long[] shape) {
        long c = 1;
        for (long d : shape) {
            c *= d;
        }
        return c;
    }
}
