package dev.rrconv.internal.vector;

import dev.rrconv.internal.javaimpl.NhwcLoops;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The channels-last loops' arithmetic ({@link NhwcLoops}) on the Vector API: vectors run along the
 * contiguous channels (depthwise), output channels of a group (grouped forward and backward data: one input
 * value broadcast into fused multiply-adds with the filter repacked {@code [g][r][tap][m]}), or output
 * channels of a group against input channels held in four accumulators (grouped backward filter). Channel
 * tails take masked loads and stores; up to four vectors of sums (depthwise: eight, so that a pixel's tap list
 * is walked once per 128 channels on 16-lane vectors) stay in registers over a tap list. Sums are
 * in float, fused multiply-adds in the list's order, so each result's bits do not depend on its vector or
 * lane.
 */
final class NhwcKernel implements NhwcLoops.Arithmetic<float[]> {
    /** The one instance. */
    static final NhwcKernel INSTANCE = new NhwcKernel();

    private static final VectorSpecies<Float> F = VectorBackend.FLOATS;
    private static final int L = F.length();

    /** This thread's backward-filter sums. */
    private static final ThreadLocal<float[]> ACC = ThreadLocal.withInitial(() -> new float[0]);

    private NhwcKernel() {}

    @Override
    public void depthwise(int[] list, int from, int to, float[] w, float[] x, float[] out, int o, int channels) {
        int c = 0;
        for (; c + 8 * L <= channels; c += 8 * L) {
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            FloatVector a4 = a0;
            FloatVector a5 = a0;
            FloatVector a6 = a0;
            FloatVector a7 = a0;
            for (int i = from; i < to; i += 2) {
                int wo = list[i] + c;
                int xo = list[i + 1] + c;
                a0 = FloatVector.fromArray(F, w, wo).fma(FloatVector.fromArray(F, x, xo), a0);
                a1 = FloatVector.fromArray(F, w, wo + L).fma(FloatVector.fromArray(F, x, xo + L), a1);
                a2 = FloatVector.fromArray(F, w, wo + 2 * L).fma(FloatVector.fromArray(F, x, xo + 2 * L), a2);
                a3 = FloatVector.fromArray(F, w, wo + 3 * L).fma(FloatVector.fromArray(F, x, xo + 3 * L), a3);
                a4 = FloatVector.fromArray(F, w, wo + 4 * L).fma(FloatVector.fromArray(F, x, xo + 4 * L), a4);
                a5 = FloatVector.fromArray(F, w, wo + 5 * L).fma(FloatVector.fromArray(F, x, xo + 5 * L), a5);
                a6 = FloatVector.fromArray(F, w, wo + 6 * L).fma(FloatVector.fromArray(F, x, xo + 6 * L), a6);
                a7 = FloatVector.fromArray(F, w, wo + 7 * L).fma(FloatVector.fromArray(F, x, xo + 7 * L), a7);
            }
            a0.intoArray(out, o + c);
            a1.intoArray(out, o + c + L);
            a2.intoArray(out, o + c + 2 * L);
            a3.intoArray(out, o + c + 3 * L);
            a4.intoArray(out, o + c + 4 * L);
            a5.intoArray(out, o + c + 5 * L);
            a6.intoArray(out, o + c + 6 * L);
            a7.intoArray(out, o + c + 7 * L);
        }
        for (; c + 4 * L <= channels; c += 4 * L) {
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            for (int i = from; i < to; i += 2) {
                int wo = list[i] + c;
                int xo = list[i + 1] + c;
                a0 = FloatVector.fromArray(F, w, wo).fma(FloatVector.fromArray(F, x, xo), a0);
                a1 = FloatVector.fromArray(F, w, wo + L).fma(FloatVector.fromArray(F, x, xo + L), a1);
                a2 = FloatVector.fromArray(F, w, wo + 2 * L).fma(FloatVector.fromArray(F, x, xo + 2 * L), a2);
                a3 = FloatVector.fromArray(F, w, wo + 3 * L).fma(FloatVector.fromArray(F, x, xo + 3 * L), a3);
            }
            a0.intoArray(out, o + c);
            a1.intoArray(out, o + c + L);
            a2.intoArray(out, o + c + 2 * L);
            a3.intoArray(out, o + c + 3 * L);
        }
        for (; c + L <= channels; c += L) {
            FloatVector a = FloatVector.zero(F);
            for (int i = from; i < to; i += 2) {
                a = FloatVector.fromArray(F, w, list[i] + c).fma(FloatVector.fromArray(F, x, list[i + 1] + c), a);
            }
            a.intoArray(out, o + c);
        }
        if (c < channels) {
            VectorMask<Float> m = F.indexInRange(c, channels);
            FloatVector a = FloatVector.zero(F);
            for (int i = from; i < to; i += 2) {
                a = FloatVector.fromArray(F, w, list[i] + c, m).fma(FloatVector.fromArray(F, x, list[i + 1] + c, m), a);
            }
            a.intoArray(out, o + c, m);
        }
    }

    /**
     * {@inheritDoc} Here the sum runs over the pairs (outer) and the group's input channels (inner: a longer
     * loop than the short tap lists), with fused multiply-adds; blocks of four output vectors keep one sum each,
     * a single vector four partial sums (input channel mod 4) added at the end. One fixed order per output.
     */
    @Override
    public void grouped(int[] list, int from, int to, float[] w, int rStride, float[] x, float[] out, int o,
                        int groups, int reduce, int per) {
        for (int g = 0; g < groups; g++) {
            int xg = g * reduce;
            int wg = xg * rStride;
            int og = o + g * per;
            int m = 0;
            for (; m + 4 * L <= per; m += 4 * L) {
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = a0;
                FloatVector a2 = a0;
                FloatVector a3 = a0;
                for (int i = from; i < to; i += 2) {
                    int xo = list[i + 1] + xg;
                    int wo = wg + list[i] + m;
                    for (int r = 0; r < reduce; r++, wo += rStride) {
                        FloatVector v = FloatVector.broadcast(F, x[xo + r]);
                        a0 = FloatVector.fromArray(F, w, wo).fma(v, a0);
                        a1 = FloatVector.fromArray(F, w, wo + L).fma(v, a1);
                        a2 = FloatVector.fromArray(F, w, wo + 2 * L).fma(v, a2);
                        a3 = FloatVector.fromArray(F, w, wo + 3 * L).fma(v, a3);
                    }
                }
                a0.intoArray(out, og + m);
                a1.intoArray(out, og + m + L);
                a2.intoArray(out, og + m + 2 * L);
                a3.intoArray(out, og + m + 3 * L);
            }
            for (; m < per; m += L) {
                // one vector of outputs: four partial sums over the input channels (r mod 4, then the rest into
                // the first), added at the end, so that four independent fma chains hide the latency
                VectorMask<Float> mask = F.indexInRange(m, per);
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = a0;
                FloatVector a2 = a0;
                FloatVector a3 = a0;
                for (int i = from; i < to; i += 2) {
                    int xo = list[i + 1] + xg;
                    int wo = wg + list[i] + m;
                    int r = 0;
                    for (; r + 4 <= reduce; r += 4, wo += 4 * rStride) {
                        a0 = FloatVector.fromArray(F, w, wo, mask).fma(FloatVector.broadcast(F, x[xo + r]), a0);
                        a1 = FloatVector.fromArray(F, w, wo + rStride, mask)
                                .fma(FloatVector.broadcast(F, x[xo + r + 1]), a1);
                        a2 = FloatVector.fromArray(F, w, wo + 2 * rStride, mask)
                                .fma(FloatVector.broadcast(F, x[xo + r + 2]), a2);
                        a3 = FloatVector.fromArray(F, w, wo + 3 * rStride, mask)
                                .fma(FloatVector.broadcast(F, x[xo + r + 3]), a3);
                    }
                    for (; r < reduce; r++, wo += rStride) {
                        a0 = FloatVector.fromArray(F, w, wo, mask).fma(FloatVector.broadcast(F, x[xo + r]), a0);
                    }
                }
                a0.add(a1).add(a2.add(a3)).intoArray(out, og + m, mask);
            }
        }
    }

    /** {@inheritDoc} Here each weight vector loaded feeds both results' sums (the same fma order as {@link #grouped}). */
    @Override
    public void groupedPair(int[] list, int from, int to, int xDelta, int from1, float[] w, int rStride, float[] x,
                            float[] out, int o0, int o1, int groups, int reduce, int per) {
        for (int g = 0; g < groups; g++) {
            int xg = g * reduce;
            int wg = xg * rStride;
            int og0 = o0 + g * per;
            int og1 = o1 + g * per;
            int m = 0;
            for (; m + 4 * L <= per; m += 4 * L) {
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = a0;
                FloatVector a2 = a0;
                FloatVector a3 = a0;
                FloatVector b0 = a0;
                FloatVector b1 = a0;
                FloatVector b2 = a0;
                FloatVector b3 = a0;
                for (int i = from; i < to; i += 2) {
                    int xo = list[i + 1] + xg;
                    int wo = wg + list[i] + m;
                    for (int r = 0; r < reduce; r++, wo += rStride) {
                        FloatVector v = FloatVector.broadcast(F, x[xo + r]);
                        FloatVector u = FloatVector.broadcast(F, x[xo + xDelta + r]);
                        FloatVector w0 = FloatVector.fromArray(F, w, wo);
                        FloatVector w1 = FloatVector.fromArray(F, w, wo + L);
                        FloatVector w2 = FloatVector.fromArray(F, w, wo + 2 * L);
                        FloatVector w3 = FloatVector.fromArray(F, w, wo + 3 * L);
                        a0 = w0.fma(v, a0);
                        a1 = w1.fma(v, a1);
                        a2 = w2.fma(v, a2);
                        a3 = w3.fma(v, a3);
                        b0 = w0.fma(u, b0);
                        b1 = w1.fma(u, b1);
                        b2 = w2.fma(u, b2);
                        b3 = w3.fma(u, b3);
                    }
                }
                a0.intoArray(out, og0 + m);
                a1.intoArray(out, og0 + m + L);
                a2.intoArray(out, og0 + m + 2 * L);
                a3.intoArray(out, og0 + m + 3 * L);
                b0.intoArray(out, og1 + m);
                b1.intoArray(out, og1 + m + L);
                b2.intoArray(out, og1 + m + 2 * L);
                b3.intoArray(out, og1 + m + 3 * L);
            }
            for (; m < per; m += L) {
                VectorMask<Float> mask = F.indexInRange(m, per);
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = a0;
                FloatVector a2 = a0;
                FloatVector a3 = a0;
                FloatVector b0 = a0;
                FloatVector b1 = a0;
                FloatVector b2 = a0;
                FloatVector b3 = a0;
                for (int i = from; i < to; i += 2) {
                    int xo = list[i + 1] + xg;
                    int xo1 = xo + xDelta;
                    int wo = wg + list[i] + m;
                    int r = 0;
                    for (; r + 4 <= reduce; r += 4, wo += 4 * rStride) {
                        FloatVector w0 = FloatVector.fromArray(F, w, wo, mask);
                        FloatVector w1 = FloatVector.fromArray(F, w, wo + rStride, mask);
                        FloatVector w2 = FloatVector.fromArray(F, w, wo + 2 * rStride, mask);
                        FloatVector w3 = FloatVector.fromArray(F, w, wo + 3 * rStride, mask);
                        a0 = w0.fma(FloatVector.broadcast(F, x[xo + r]), a0);
                        a1 = w1.fma(FloatVector.broadcast(F, x[xo + r + 1]), a1);
                        a2 = w2.fma(FloatVector.broadcast(F, x[xo + r + 2]), a2);
                        a3 = w3.fma(FloatVector.broadcast(F, x[xo + r + 3]), a3);
                        b0 = w0.fma(FloatVector.broadcast(F, x[xo1 + r]), b0);
                        b1 = w1.fma(FloatVector.broadcast(F, x[xo1 + r + 1]), b1);
                        b2 = w2.fma(FloatVector.broadcast(F, x[xo1 + r + 2]), b2);
                        b3 = w3.fma(FloatVector.broadcast(F, x[xo1 + r + 3]), b3);
                    }
                    for (; r < reduce; r++, wo += rStride) {
                        FloatVector w0 = FloatVector.fromArray(F, w, wo, mask);
                        a0 = w0.fma(FloatVector.broadcast(F, x[xo + r]), a0);
                        b0 = w0.fma(FloatVector.broadcast(F, x[xo1 + r]), b0);
                    }
                }
                a0.add(a1).add(a2.add(a3)).intoArray(out, og0 + m, mask);
                b0.add(b1).add(b2.add(b3)).intoArray(out, og1 + m, mask);
            }
        }
    }

    @Override
    public float[] accumulator(int length) {
        float[] acc = ACC.get();
        if (acc.length < length) {
            acc = new float[length];
            ACC.set(acc);
        } else {
            java.util.Arrays.fill(acc, 0, length, 0f);
        }
        return acc;
    }

    @Override
    public float get(float[] acc, int i) {
        return acc[i];
    }

    @Override
    public void depthwiseFilter(int[] list, int from, int to, float[] x, float[] d, float[] acc, int a,
                                int channels) {
        int c = 0;
        for (; c + 4 * L <= channels; c += 4 * L) {
            int at = a + c;
            FloatVector a0 = FloatVector.fromArray(F, acc, at);
            FloatVector a1 = FloatVector.fromArray(F, acc, at + L);
            FloatVector a2 = FloatVector.fromArray(F, acc, at + 2 * L);
            FloatVector a3 = FloatVector.fromArray(F, acc, at + 3 * L);
            for (int i = from; i < to; i += 2) {
                int xo = list[i] + c;
                int dOff = list[i + 1] + c;
                a0 = FloatVector.fromArray(F, x, xo).fma(FloatVector.fromArray(F, d, dOff), a0);
                a1 = FloatVector.fromArray(F, x, xo + L).fma(FloatVector.fromArray(F, d, dOff + L), a1);
                a2 = FloatVector.fromArray(F, x, xo + 2 * L).fma(FloatVector.fromArray(F, d, dOff + 2 * L), a2);
                a3 = FloatVector.fromArray(F, x, xo + 3 * L).fma(FloatVector.fromArray(F, d, dOff + 3 * L), a3);
            }
            a0.intoArray(acc, at);
            a1.intoArray(acc, at + L);
            a2.intoArray(acc, at + 2 * L);
            a3.intoArray(acc, at + 3 * L);
        }
        for (; c < channels; c += L) {
            VectorMask<Float> m = F.indexInRange(c, channels);
            FloatVector s = FloatVector.fromArray(F, acc, a + c, m);
            for (int i = from; i < to; i += 2) {
                s = FloatVector.fromArray(F, x, list[i] + c, m).fma(FloatVector.fromArray(F, d, list[i + 1] + c, m), s);
            }
            s.intoArray(acc, a + c, m);
        }
    }

    @Override
    public void groupedFilter(int[] list, int from, int to, float[] x, float[] d, float[] acc, int a, int u0, int u1,
                              int reduce, int per) {
        for (int u = u0; u < u1; ) {
            int g = u / reduce;
            int end = Math.min(u1, (g + 1) * reduce); // the input channels of group g in the block
            int dg = g * per;
            for (int m = 0; m < per; m += L) {
                VectorMask<Float> mask = F.indexInRange(m, per);
                int v = u;
                // four input channels at a time: one load of the diff vector feeds four sums
                for (; v + 4 <= end; v += 4) {
                    int at = a + (v - u0) * per + m;
                    FloatVector s0 = FloatVector.fromArray(F, acc, at, mask);
                    FloatVector s1 = FloatVector.fromArray(F, acc, at + per, mask);
                    FloatVector s2 = FloatVector.fromArray(F, acc, at + 2 * per, mask);
                    FloatVector s3 = FloatVector.fromArray(F, acc, at + 3 * per, mask);
                    for (int i = from; i < to; i += 2) {
                        int xo = list[i] + v;
                        FloatVector dv = FloatVector.fromArray(F, d, list[i + 1] + dg + m, mask);
                        s0 = dv.fma(FloatVector.broadcast(F, x[xo]), s0);
                        s1 = dv.fma(FloatVector.broadcast(F, x[xo + 1]), s1);
                        s2 = dv.fma(FloatVector.broadcast(F, x[xo + 2]), s2);
                        s3 = dv.fma(FloatVector.broadcast(F, x[xo + 3]), s3);
                    }
                    s0.intoArray(acc, at, mask);
                    s1.intoArray(acc, at + per, mask);
                    s2.intoArray(acc, at + 2 * per, mask);
                    s3.intoArray(acc, at + 3 * per, mask);
                }
                for (; v < end; v++) {
                    int at = a + (v - u0) * per + m;
                    FloatVector s = FloatVector.fromArray(F, acc, at, mask);
                    for (int i = from; i < to; i += 2) {
                        s = FloatVector.fromArray(F, d, list[i + 1] + dg + m, mask)
                                .fma(FloatVector.broadcast(F, x[list[i] + v]), s);
                    }
                    s.intoArray(acc, at, mask);
                }
            }
            u = end;
        }
    }
}
