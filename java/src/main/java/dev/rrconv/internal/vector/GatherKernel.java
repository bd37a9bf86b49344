package dev.rrconv.internal.vector;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * One output row of the forward or backward-data gather, every channel:
 * {@code y[g*cout + co][row, j] = sum over ci, t of w[((g*cout + co)*cin + ci)*taps + t] * x[g*cin + ci][off[t] + j]}
 * over the lanes {@link TapRows} selects, in the order {@code ci} then {@code t}, each product rounded
 * to float and added to a float sum that starts at +0: the very arithmetic of the reference loops, so
 * results are bitwise those of {@code ReferenceLoops} whatever the thread count; except that blocks of
 * eight output channels of a group use fused multiply-adds when every weight is finite ({@code dense8}).
 *
 * <p>A tap a lane does not take is skipped with a masked add ({@code acc.add(x*w, m)} keeps the lane),
 * so a non-finite value there changes nothing, as in the reference. Register blocking: eight output
 * channels of one group share each masked input load, two chunks at a time ({@code dense8x2}, fused
 * multiply-adds), or four with the exact masked adds. Depthwise (one channel per group, {@link #depthwise})
 * runs four channels side by side, two chunks at a time, so that eight independent sums hide the add
 * latency and each tap's offset, lane masks and weights are loaded once for eight vectors; a 3x3 filter
 * runs two channels with their weights in registers and the taps written out ({@link #depthwise3x3}).
 */
final class GatherKernel {
    private static final VectorSpecies<Float> F = VectorBackend.FLOATS;
    private static final int L = F.length();

    private GatherKernel() {}

    /**
     * @param x input planes, {@code x[xBase + g*cin + ci]}
     * @param y output planes, {@code y[yBase + g*cout + co]}, the row starting at {@code yAt}
     */
    static void row(Geometry geo, TapRows tr, int r, float[][] x, int xBase, float[] w, boolean fma, int cin,
                    int cout, float[][] y, int yBase, int yAt) {
        int taps = tr.taps;
        int chunks = tr.chunks;
        int t0 = r * taps;
        int groups = geo.groups();
        for (int g = 0; g < groups; g++) {
            int xg = xBase + g * cin;
            int co = 0;
            if (fma) {
                for (; co + 8 <= cout; co += 8) {
                    int wb = (g * cout + co) * cin * taps;
                    for (int j = 0; j < chunks; j += 2) {
                        dense8(tr, t0, j, j + 1 < chunks, x, xg, cin, w, wb, cin * taps, y, yBase + g * cout + co,
                                yAt);
                    }
                }
            }
            for (; co < cout; co += 4) {
                int wb = (g * cout + co) * cin * taps;
                for (int j = 0; j < chunks; j++) {
                    dense4(tr, t0, j, Math.min(4, cout - co), x, xg, cin, w, wb, cin * taps, y,
                            yBase + g * cout + co, yAt);
                }
            }
        }
    }

    /**
     * {@code k} (1 to 4) output channels of one group, sharing every input load; chunk {@code j}. With
     * {@code k < 4} the missing channels repeat channel {@code k-1}'s sums, which are not stored.
     */
    private static void dense4(TapRows tr, int t0, int j, int k, float[][] x, int xg, int cin, float[] w, int wb,
                               int ws, float[][] y, int y0, int yAt) {
        int taps = tr.taps;
        int chunks = tr.chunks;
        int q = j * L;
        int s1 = Math.min(1, k - 1) * ws;
        int s2 = Math.min(2, k - 1) * ws;
        int s3 = Math.min(3, k - 1) * ws;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        for (int ci = 0; ci < cin; ci++) {
            float[] xs = x[xg + ci];
            int wc = wb + ci * taps;
            for (int t = 0; t < taps; t++) {
                long b = tr.bits[(t0 + t) * chunks + j];
                if (b != 0) {
                    VectorMask<Float> m = VectorMask.fromLong(F, b);
                    FloatVector v = FloatVector.fromArray(F, xs, tr.off[t0 + t] + q);
                    int kk = wc + t;
                    a0 = a0.add(v.mul(w[kk]), m);
                    a1 = a1.add(v.mul(w[kk + s1]), m);
                    a2 = a2.add(v.mul(w[kk + s2]), m);
                    a3 = a3.add(v.mul(w[kk + s3]), m);
                }
            }
        }
        a0.intoArray(y[y0], yAt + q);
        if (k > 1) {
            a1.intoArray(y[y0 + 1], yAt + q);
        }
        if (k > 2) {
            a2.intoArray(y[y0 + 2], yAt + q);
        }
        if (k > 3) {
            a3.intoArray(y[y0 + 3], yAt + q);
        }
    }

    /**
     * Eight output channels of one group with fused multiply-adds, chunks {@code j} and, if {@code two},
     * {@code j+1}: each input vector is masked once (lanes that skip the tap read +0) and then feeds eight
     * {@code fma}s, one instruction each instead of a multiply and a masked add, and each weight broadcast
     * feeds two. A skipped lane then adds {@code 0 * w}, an exact zero for finite {@code w}, so the caller
     * takes this path only when every weight is finite; the sums differ from the reference loops' only by
     * the rounding the fused products save. Without {@code two} the second chunk's lanes are all skipped
     * (its loads stay inside the plane's pad) and its sums are not stored.
     */
    private static void dense8(TapRows tr, int t0, int j, boolean two, float[][] x, int xg, int cin, float[] w,
                               int wb, int ws, float[][] y, int y0, int yAt) {
        int taps = tr.taps;
        int chunks = tr.chunks;
        int q = j * L;
        FloatVector zero = FloatVector.zero(F);
        FloatVector a0 = zero;
        FloatVector c0 = zero;
        FloatVector a1 = zero;
        FloatVector c1 = zero;
        FloatVector a2 = zero;
        FloatVector c2 = zero;
        FloatVector a3 = zero;
        FloatVector c3 = zero;
        FloatVector a4 = zero;
        FloatVector c4 = zero;
        FloatVector a5 = zero;
        FloatVector c5 = zero;
        FloatVector a6 = zero;
        FloatVector c6 = zero;
        FloatVector a7 = zero;
        FloatVector c7 = zero;
        for (int ci = 0; ci < cin; ci++) {
            float[] xs = x[xg + ci];
            int wc = wb + ci * taps;
            for (int t = 0; t < taps; t++) {
                int bi = (t0 + t) * chunks + j;
                long ba = tr.bits[bi];
                long bb = two ? tr.bits[bi + 1] : 0;
                if ((ba | bb) != 0) {
                    int o = tr.off[t0 + t] + q;
                    FloatVector v = FloatVector.fromArray(F, xs, o, VectorMask.fromLong(F, ba));
                    FloatVector u = FloatVector.fromArray(F, xs, o + L, VectorMask.fromLong(F, bb));
                    int k = wc + t;
                    FloatVector w0 = FloatVector.broadcast(F, w[k]);
                    a0 = v.fma(w0, a0);
                    c0 = u.fma(w0, c0);
                    FloatVector w1 = FloatVector.broadcast(F, w[k + ws]);
                    a1 = v.fma(w1, a1);
                    c1 = u.fma(w1, c1);
                    FloatVector w2 = FloatVector.broadcast(F, w[k + 2 * ws]);
                    a2 = v.fma(w2, a2);
                    c2 = u.fma(w2, c2);
                    FloatVector w3 = FloatVector.broadcast(F, w[k + 3 * ws]);
                    a3 = v.fma(w3, a3);
                    c3 = u.fma(w3, c3);
                    FloatVector w4 = FloatVector.broadcast(F, w[k + 4 * ws]);
                    a4 = v.fma(w4, a4);
                    c4 = u.fma(w4, c4);
                    FloatVector w5 = FloatVector.broadcast(F, w[k + 5 * ws]);
                    a5 = v.fma(w5, a5);
                    c5 = u.fma(w5, c5);
                    FloatVector w6 = FloatVector.broadcast(F, w[k + 6 * ws]);
                    a6 = v.fma(w6, a6);
                    c6 = u.fma(w6, c6);
                    FloatVector w7 = FloatVector.broadcast(F, w[k + 7 * ws]);
                    a7 = v.fma(w7, a7);
                    c7 = u.fma(w7, c7);
                }
            }
        }
        int at = yAt + q;
        store(a0, c0, two, y[y0], at);
        store(a1, c1, two, y[y0 + 1], at);
        store(a2, c2, two, y[y0 + 2], at);
        store(a3, c3, two, y[y0 + 3], at);
        store(a4, c4, two, y[y0 + 4], at);
        store(a5, c5, two, y[y0 + 5], at);
        store(a6, c6, two, y[y0 + 6], at);
        store(a7, c7, two, y[y0 + 7], at);
    }

    /** Stores {@code a} at {@code y[at ..]} and, if {@code two}, {@code c} after it. */
    private static void store(FloatVector a, FloatVector c, boolean two, float[] y, int at) {
        a.intoArray(y, at);
        if (two) {
            c.intoArray(y, at + L);
        }
    }

    /**
     * One output row of four depthwise channels side by side (one channel per group): channel {@code c}
     * reads plane {@code x[c]} and weights {@code w[wb + c*taps ..]} and writes its row at {@code yAt} of
     * {@code y[c]}. Chunks run two at a time, so each tap's offset, lane masks and weights are loaded once
     * for eight vectors (eight independent sums hide the add latency); an odd last chunk runs alone (the
     * same loop with its second half switched off). A
     * block of {@code k < 4} channels computes channels {@code k..3} with channel {@code k-1}'s weights
     * from whatever {@code x[k..3]} hold, into {@code y[k..3]}, which the caller ignores. Each product is
     * rounded to float and added with a masked add ({@link #tap}): bitwise the reference loops' sums.
     */
    static void depthwise(TapRows tr, int r, float[][] x, float[] w, int wb, int k, float[][] y, int yAt) {
        int taps = tr.taps;
        int chunks = tr.chunks;
        int t0 = r * taps;
        int k1 = wb + Math.min(1, k - 1) * taps;
        int k2 = wb + Math.min(2, k - 1) * taps;
        int k3 = wb + Math.min(3, k - 1) * taps;
        float[] xs0 = x[0];
        float[] xs1 = x[1];
        float[] xs2 = x[2];
        float[] xs3 = x[3];
        for (int j = 0; j < chunks; j += 2) {
            boolean two = j + 1 < chunks;
            int q = j * L;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            FloatVector b0 = a0;
            FloatVector b1 = a0;
            FloatVector b2 = a0;
            FloatVector b3 = a0;
            for (int t = 0; t < taps; t++) {
                int bi = (t0 + t) * chunks + j;
                long ba = tr.bits[bi];
                long bb = two ? tr.bits[bi + 1] : 0;
                if ((ba | bb) != 0) {
                    VectorMask<Float> m = VectorMask.fromLong(F, ba);
                    int o = tr.off[t0 + t] + q;
                    FloatVector w0 = FloatVector.broadcast(F, w[wb + t]);
                    FloatVector w1 = FloatVector.broadcast(F, w[k1 + t]);
                    FloatVector w2 = FloatVector.broadcast(F, w[k2 + t]);
                    FloatVector w3 = FloatVector.broadcast(F, w[k3 + t]);
                    a0 = tap(a0, xs0, o, w0, m);
                    a1 = tap(a1, xs1, o, w1, m);
                    a2 = tap(a2, xs2, o, w2, m);
                    a3 = tap(a3, xs3, o, w3, m);
                    if (two) {
                        VectorMask<Float> n = VectorMask.fromLong(F, bb);
                        b0 = tap(b0, xs0, o + L, w0, n);
                        b1 = tap(b1, xs1, o + L, w1, n);
                        b2 = tap(b2, xs2, o + L, w2, n);
                        b3 = tap(b3, xs3, o + L, w3, n);
                    }
                }
            }
            int at = yAt + q;
            store(a0, b0, two, y[0], at);
            store(a1, b1, two, y[1], at);
            store(a2, b2, two, y[2], at);
            store(a3, b3, two, y[3], at);
        }
    }

    /**
     * {@link #depthwise} for a 3x3 filter, two channels (a and b) at a time, chunks {@code j} and
     * {@code j+1} of rows {@code [r0, r0 + rows)}: the 18 weights stay in registers for all the rows and
     * the nine taps are written out, so a tap costs its four loads, products and masked adds and no loop
     * or weight bookkeeping (that bookkeeping, not the arithmetic, bounded the general loop: this one
     * took 0.54 against 0.94 ms for DW-K3's rows, compute only). Each row's sums are {@link #depthwise}'s,
     * term by term: bitwise the reference loops'. Row {@code r0 + i} is written at {@code at[i]} of
     * {@code ya} and {@code yb}. (A loop over the chunks in here, or a helper method per tap, made C2
     * compile the whole method several times slower.)
     */
    static void depthwise3x3(TapRows tr, int r0, int rows, int j, float[] xa, float[] xb, float[] w, int wa, int wb,
                             float[] ya, float[] yb, int[] at) {
        int chunks = tr.chunks;
        long[] bits = tr.bits;
        int[] off = tr.off;
        int q = j * L;
        FloatVector u0 = FloatVector.broadcast(F, w[wa + 0]);
        FloatVector v0 = FloatVector.broadcast(F, w[wb + 0]);
        FloatVector u1 = FloatVector.broadcast(F, w[wa + 1]);
        FloatVector v1 = FloatVector.broadcast(F, w[wb + 1]);
        FloatVector u2 = FloatVector.broadcast(F, w[wa + 2]);
        FloatVector v2 = FloatVector.broadcast(F, w[wb + 2]);
        FloatVector u3 = FloatVector.broadcast(F, w[wa + 3]);
        FloatVector v3 = FloatVector.broadcast(F, w[wb + 3]);
        FloatVector u4 = FloatVector.broadcast(F, w[wa + 4]);
        FloatVector v4 = FloatVector.broadcast(F, w[wb + 4]);
        FloatVector u5 = FloatVector.broadcast(F, w[wa + 5]);
        FloatVector v5 = FloatVector.broadcast(F, w[wb + 5]);
        FloatVector u6 = FloatVector.broadcast(F, w[wa + 6]);
        FloatVector v6 = FloatVector.broadcast(F, w[wb + 6]);
        FloatVector u7 = FloatVector.broadcast(F, w[wa + 7]);
        FloatVector v7 = FloatVector.broadcast(F, w[wb + 7]);
        FloatVector u8 = FloatVector.broadcast(F, w[wa + 8]);
        FloatVector v8 = FloatVector.broadcast(F, w[wb + 8]);
        for (int i = 0; i < rows; i++) {
            int e = (r0 + i) * 9;
            int b = e * chunks + j; // tap t's lane masks of chunks j and j+1 are at b + t*chunks
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = a0;
            FloatVector b0 = a0;
            FloatVector b1 = a0;
            long m0 = bits[b];
            long n0 = bits[b + 1];
            if ((m0 | n0) != 0) {
                int o = off[e + 0] + q;
                VectorMask<Float> m = VectorMask.fromLong(F, m0);
                VectorMask<Float> n = VectorMask.fromLong(F, n0);
                a0 = a0.add(FloatVector.fromArray(F, xa, o).mul(u0), m);
                a1 = a1.add(FloatVector.fromArray(F, xa, o + L).mul(u0), n);
                b0 = b0.add(FloatVector.fromArray(F, xb, o).mul(v0), m);
                b1 = b1.add(FloatVector.fromArray(F, xb, o + L).mul(v0), n);
            }
            long m1 = bits[b + chunks];
            long n1 = bits[b + chunks + 1];
            if ((m1 | n1) != 0) {
                int o = off[e + 1] + q;
                VectorMask<Float> m = VectorMask.fromLong(F, m1);
                VectorMask<Float> n = VectorMask.fromLong(F, n1);
                a0 = a0.add(FloatVector.fromArray(F, xa, o).mul(u1), m);
                a1 = a1.add(FloatVector.fromArray(F, xa, o + L).mul(u1), n);
                b0 = b0.add(FloatVector.fromArray(F, xb, o).mul(v1), m);
                b1 = b1.add(FloatVector.fromArray(F, xb, o + L).mul(v1), n);
            }
            long m2 = bits[b + 2 * chunks];
            long n2 = bits[b + 2 * chunks + 1];
            if ((m2 | n2) != 0) {
                int o = off[e + 2] + q;
                VectorMask<Float> m = VectorMask.fromLong(F, m2);
                VectorMask<Float> n = VectorMask.fromLong(F, n2);
                a0 = a0.add(FloatVector.fromArray(F, xa, o).mul(u2), m);
                a1 = a1.add(FloatVector.fromArray(F, xa, o + L).mul(u2), n);
                b0 = b0.add(FloatVector.fromArray(F, xb, o).mul(v2), m);
                b1 = b1.add(FloatVector.fromArray(F, xb, o + L).mul(v2), n);
            }
            long m3 = bits[b + 3 * chunks];
            long n3 = bits[b + 3 * chunks + 1];
            if ((m3 | n3) != 0) {
                int o = off[e + 3] + q;
                VectorMask<Float> m = VectorMask.fromLong(F, m3);
                VectorMask<Float> n = VectorMask.fromLong(F, n3);
                a0 = a0.add(FloatVector.fromArray(F, xa, o).mul(u3), m);
                a1 = a1.add(FloatVector.fromArray(F, xa, o + L).mul(u3), n);
                b0 = b0.add(FloatVector.fromArray(F, xb, o).mul(v3), m);
                b1 = b1.add(FloatVector.fromArray(F, xb, o + L).mul(v3), n);
            }
            long m4 = bits[b + 4 * chunks];
            long n4 = bits[b + 4 * chunks + 1];
            if ((m4 | n4) != 0) {
                int o = off[e + 4] + q;
                VectorMask<Float> m = VectorMask.fromLong(F, m4);
                VectorMask<Float> n = VectorMask.fromLong(F, n4);
                a0 = a0.add(FloatVector.fromArray(F, xa, o).mul(u4), m);
                a1 = a1.add(FloatVector.fromArray(F, xa, o + L).mul(u4), n);
                b0 = b0.add(FloatVector.fromArray(F, xb, o).mul(v4), m);
                b1 = b1.add(FloatVector.fromArray(F, xb, o + L).mul(v4), n);
            }
            long m5 = bits[b + 5 * chunks];
            long n5 = bits[b + 5 * chunks + 1];
            if ((m5 | n5) != 0) {
                int o = off[e + 5] + q;
                VectorMask<Float> m = VectorMask.fromLong(F, m5);
                VectorMask<Float> n = VectorMask.fromLong(F, n5);
                a0 = a0.add(FloatVector.fromArray(F, xa, o).mul(u5), m);
                a1 = a1.add(FloatVector.fromArray(F, xa, o + L).mul(u5), n);
                b0 = b0.add(FloatVector.fromArray(F, xb, o).mul(v5), m);
                b1 = b1.add(FloatVector.fromArray(F, xb, o + L).mul(v5), n);
            }
            long m6 = bits[b + 6 * chunks];
            long n6 = bits[b + 6 * chunks + 1];
            if ((m6 | n6) != 0) {
                int o = off[e + 6] + q;
                VectorMask<Float> m = VectorMask.fromLong(F, m6);
                VectorMask<Float> n = VectorMask.fromLong(F, n6);
                a0 = a0.add(FloatVector.fromArray(F, xa, o).mul(u6), m);
                a1 = a1.add(FloatVector.fromArray(F, xa, o + L).mul(u6), n);
                b0 = b0.add(FloatVector.fromArray(F, xb, o).mul(v6), m);
                b1 = b1.add(FloatVector.fromArray(F, xb, o + L).mul(v6), n);
            }
            long m7 = bits[b + 7 * chunks];
            long n7 = bits[b + 7 * chunks + 1];
            if ((m7 | n7) != 0) {
                int o = off[e + 7] + q;
                VectorMask<Float> m = VectorMask.fromLong(F, m7);
                VectorMask<Float> n = VectorMask.fromLong(F, n7);
                a0 = a0.add(FloatVector.fromArray(F, xa, o).mul(u7), m);
                a1 = a1.add(FloatVector.fromArray(F, xa, o + L).mul(u7), n);
                b0 = b0.add(FloatVector.fromArray(F, xb, o).mul(v7), m);
                b1 = b1.add(FloatVector.fromArray(F, xb, o + L).mul(v7), n);
            }
            long m8 = bits[b + 8 * chunks];
            long n8 = bits[b + 8 * chunks + 1];
            if ((m8 | n8) != 0) {
                int o = off[e + 8] + q;
                VectorMask<Float> m = VectorMask.fromLong(F, m8);
                VectorMask<Float> n = VectorMask.fromLong(F, n8);
                a0 = a0.add(FloatVector.fromArray(F, xa, o).mul(u8), m);
                a1 = a1.add(FloatVector.fromArray(F, xa, o + L).mul(u8), n);
                b0 = b0.add(FloatVector.fromArray(F, xb, o).mul(v8), m);
                b1 = b1.add(FloatVector.fromArray(F, xb, o + L).mul(v8), n);
            }
            int y = at[i] + q;
            a0.intoArray(ya, y);
            a1.intoArray(ya, y + L);
            b0.intoArray(yb, y);
            b1.intoArray(yb, y + L);
        }
    }

    /** {@code acc} plus the products {@code x[o ..] * w}, each rounded to float, on the lanes {@code m} takes. */
    private static FloatVector tap(FloatVector acc, float[] x, int o, FloatVector w, VectorMask<Float> m) {
        return acc.add(FloatVector.fromArray(F, x, o).mul(w), m);
    }
}
