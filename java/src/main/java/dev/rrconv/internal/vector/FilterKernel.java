package dev.rrconv.internal.vector;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * Backward filter for one output channel {@code (g, co)}, every input channel and tap:
 * {@code gw[((g*cout + co)*cin + ci)*taps + t] = sum over n, oh and the lanes TapRows selects of
 * x[n][g*cin + ci][off + q] * d[n][g*cout + co][oh, q]}. Each lane keeps its own float sum over
 * {@code (n, oh, chunk)} in that order; the lanes are then added in lane order. The order depends only
 * on the shape and the vector length, never on the thread count. Four taps run side by side, sharing
 * each load of {@code d}.
 */
final class FilterKernel {
    private static final VectorSpecies<Float> F = VectorBackend.FLOATS;
    private static final int L = F.length();

    private FilterKernel() {}

    /**
     * @param x input planes {@code [n*IC + c]} laid out as {@code geo.x}
     * @param d diff planes {@code [n*OC + c]} laid out as {@code geo.y}
     * @param gw the gradient, {@code [((g*cout + co)*cin + ci)*taps + t]}
     */
    static void channel(Geometry geo, TapRows tr, int g, int co, float[][] x, float[][] d, float[] gw) {
        int cin = geo.icpg();
        int cout = geo.ocpg();
        int taps = tr.taps;
        float[] lanes = new float[L];
        for (int ci = 0; ci < cin; ci++) {
            int out = ((g * cout + co) * cin + ci) * taps;
            int t = 0;
            for (; t + 4 <= taps; t += 4) {
                four(geo, tr, t, x, g * cin + ci, d, g * cout + co, gw, out, lanes);
            }
            for (; t < taps; t++) {
                one(geo, tr, t, x, g * cin + ci, d, g * cout + co, gw, out, lanes);
            }
        }
    }

    /**
     * Eight output channels {@code co0 .. co0+7} of group {@code g} with fused multiply-adds: each input
     * vector is masked once (lanes that skip the tap set to +0) and feeds eight {@code fma}s. A skipped
     * lane adds {@code d * 0}, an exact zero for finite {@code d}, so the caller takes this path only when
     * every diff value is finite. Per lane the same order of terms as {@link #channel}.
     */
    static void channels8(Geometry geo, TapRows tr, int g, int co0, float[][] x, float[][] d, float[] gw) {
        int cin = geo.icpg();
        int cout = geo.ocpg();
        int taps = tr.taps;
        int chunks = tr.chunks;
        int ic = geo.groups() * cin;
        int oc = geo.groups() * cout;
        int dc = g * cout + co0;
        float[] lanes = new float[L];
        FloatVector zero = FloatVector.zero(F);
        for (int ci = 0; ci < cin; ci++) {
            int xc = g * cin + ci;
            for (int t = 0; t < taps; t++) {
                FloatVector a0 = zero;
                FloatVector a1 = zero;
                FloatVector a2 = zero;
                FloatVector a3 = zero;
                FloatVector a4 = zero;
                FloatVector a5 = zero;
                FloatVector a6 = zero;
                FloatVector a7 = zero;
                for (int n = 0; n < geo.n(); n++) {
                    float[] xs = x[n * ic + xc];
                    float[] d0 = d[n * oc + dc + 0];
                    float[] d1 = d[n * oc + dc + 1];
                    float[] d2 = d[n * oc + dc + 2];
                    float[] d3 = d[n * oc + dc + 3];
                    float[] d4 = d[n * oc + dc + 4];
                    float[] d5 = d[n * oc + dc + 5];
                    float[] d6 = d[n * oc + dc + 6];
                    float[] d7 = d[n * oc + dc + 7];
                    for (int oh = 0; oh < geo.oh(); oh++) {
                        int rt = (n * geo.oh() + oh) * taps + t;
                        int dRow = geo.y().index(oh, 0, 0);
                        int o = tr.off[rt];
                        for (int j = 0; j < chunks; j++) {
                            long b = tr.bits[rt * chunks + j];
                            if (b != 0) {
                                int q = j * L;
                                FloatVector xv = zero.blend(FloatVector.fromArray(F, xs, o + q), VectorMask.fromLong(F, b));
                                a0 = FloatVector.fromArray(F, d0, dRow + q).fma(xv, a0);
                                a1 = FloatVector.fromArray(F, d1, dRow + q).fma(xv, a1);
                                a2 = FloatVector.fromArray(F, d2, dRow + q).fma(xv, a2);
                                a3 = FloatVector.fromArray(F, d3, dRow + q).fma(xv, a3);
                                a4 = FloatVector.fromArray(F, d4, dRow + q).fma(xv, a4);
                                a5 = FloatVector.fromArray(F, d5, dRow + q).fma(xv, a5);
                                a6 = FloatVector.fromArray(F, d6, dRow + q).fma(xv, a6);
                                a7 = FloatVector.fromArray(F, d7, dRow + q).fma(xv, a7);
                            }
                        }
                    }
                }
                int out = ((g * cout + co0) * cin + ci) * taps + t;
                int step = cin * taps;
                gw[out + 0 * step] = sum(a0, lanes);
                gw[out + 1 * step] = sum(a1, lanes);
                gw[out + 2 * step] = sum(a2, lanes);
                gw[out + 3 * step] = sum(a3, lanes);
                gw[out + 4 * step] = sum(a4, lanes);
                gw[out + 5 * step] = sum(a5, lanes);
                gw[out + 6 * step] = sum(a6, lanes);
                gw[out + 7 * step] = sum(a7, lanes);
            }
        }
    }

    /**
     * Four output channels {@code co0 .. co0+3} of group {@code g} side by side, every input channel and
     * tap: each input load and lane mask feeds four products (the same sums, in the same order, as
     * {@link #channel} for each channel).
     */
    static void channels4(Geometry geo, TapRows tr, int g, int co0, float[][] x, float[][] d, float[] gw) {
        int cin = geo.icpg();
        int cout = geo.ocpg();
        int taps = tr.taps;
        int chunks = tr.chunks;
        int ic = geo.groups() * cin;
        int oc = geo.groups() * cout;
        int dc = g * cout + co0;
        float[] lanes = new float[L];
        for (int ci = 0; ci < cin; ci++) {
            int xc = g * cin + ci;
            for (int t = 0; t < taps; t++) {
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = a0;
                FloatVector a2 = a0;
                FloatVector a3 = a0;
                for (int n = 0; n < geo.n(); n++) {
                    float[] xs = x[n * ic + xc];
                    float[] d0 = d[n * oc + dc];
                    float[] d1 = d[n * oc + dc + 1];
                    float[] d2 = d[n * oc + dc + 2];
                    float[] d3 = d[n * oc + dc + 3];
                    for (int oh = 0; oh < geo.oh(); oh++) {
                        int rt = (n * geo.oh() + oh) * taps + t;
                        int dRow = geo.y().index(oh, 0, 0);
                        int o = tr.off[rt];
                        for (int j = 0; j < chunks; j++) {
                            long b = tr.bits[rt * chunks + j];
                            if (b != 0) {
                                int q = j * L;
                                VectorMask<Float> m = VectorMask.fromLong(F, b);
                                FloatVector xv = FloatVector.fromArray(F, xs, o + q);
                                a0 = a0.add(xv.mul(FloatVector.fromArray(F, d0, dRow + q)), m);
                                a1 = a1.add(xv.mul(FloatVector.fromArray(F, d1, dRow + q)), m);
                                a2 = a2.add(xv.mul(FloatVector.fromArray(F, d2, dRow + q)), m);
                                a3 = a3.add(xv.mul(FloatVector.fromArray(F, d3, dRow + q)), m);
                            }
                        }
                    }
                }
                int out = ((g * cout + co0) * cin + ci) * taps + t;
                int step = cin * taps;
                gw[out] = sum(a0, lanes);
                gw[out + step] = sum(a1, lanes);
                gw[out + 2 * step] = sum(a2, lanes);
                gw[out + 3 * step] = sum(a3, lanes);
            }
        }
    }

    private static float sum(FloatVector acc, float[] lanes) {
        acc.intoArray(lanes, 0);
        float s = 0f;
        for (int l = 0; l < L; l++) {
            s += lanes[l];
        }
        return s;
    }

    private static void one(Geometry geo, TapRows tr, int t, float[][] x, int xc, float[][] d, int dc, float[] gw,
                            int out, float[] lanes) {
        int taps = tr.taps;
        int chunks = tr.chunks;
        int ic = geo.groups() * geo.icpg();
        int oc = geo.groups() * geo.ocpg();
        FloatVector acc = FloatVector.zero(F);
        for (int n = 0; n < geo.n(); n++) {
            float[] xs = x[n * ic + xc];
            float[] ds = d[n * oc + dc];
            for (int oh = 0; oh < geo.oh(); oh++) {
                int rt = (n * geo.oh() + oh) * taps + t;
                int dRow = geo.y().index(oh, 0, 0);
                int o = tr.off[rt];
                for (int j = 0; j < chunks; j++) {
                    long b = tr.bits[rt * chunks + j];
                    if (b != 0) {
                        int q = j * L;
                        FloatVector dv = FloatVector.fromArray(F, ds, dRow + q);
                        acc = acc.add(FloatVector.fromArray(F, xs, o + q).mul(dv), VectorMask.fromLong(F, b));
                    }
                }
            }
        }
        gw[out + t] = sum(acc, lanes);
    }

    private static void four(Geometry geo, TapRows tr, int t, float[][] x, int xc, float[][] d, int dc, float[] gw,
                             int out, float[] lanes) {
        int taps = tr.taps;
        int chunks = tr.chunks;
        int ic = geo.groups() * geo.icpg();
        int oc = geo.groups() * geo.ocpg();
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        for (int n = 0; n < geo.n(); n++) {
            float[] xs = x[n * ic + xc];
            float[] ds = d[n * oc + dc];
            for (int oh = 0; oh < geo.oh(); oh++) {
                int rt = (n * geo.oh() + oh) * taps + t;
                int dRow = geo.y().index(oh, 0, 0);
                int o0 = tr.off[rt];
                int o1 = tr.off[rt + 1];
                int o2 = tr.off[rt + 2];
                int o3 = tr.off[rt + 3];
                int b0 = rt * chunks;
                for (int j = 0; j < chunks; j++) {
                    long m0 = tr.bits[b0 + j];
                    long m1 = tr.bits[b0 + chunks + j];
                    long m2 = tr.bits[b0 + 2 * chunks + j];
                    long m3 = tr.bits[b0 + 3 * chunks + j];
                    if ((m0 | m1 | m2 | m3) == 0) {
                        continue;
                    }
                    int q = j * L;
                    FloatVector dv = FloatVector.fromArray(F, ds, dRow + q);
                    if (m0 != 0) {
                        a0 = a0.add(FloatVector.fromArray(F, xs, o0 + q).mul(dv), VectorMask.fromLong(F, m0));
                    }
                    if (m1 != 0) {
                        a1 = a1.add(FloatVector.fromArray(F, xs, o1 + q).mul(dv), VectorMask.fromLong(F, m1));
                    }
                    if (m2 != 0) {
                        a2 = a2.add(FloatVector.fromArray(F, xs, o2 + q).mul(dv), VectorMask.fromLong(F, m2));
                    }
                    if (m3 != 0) {
                        a3 = a3.add(FloatVector.fromArray(F, xs, o3 + q).mul(dv), VectorMask.fromLong(F, m3));
                    }
                }
            }
        }
        gw[out + t] = sum(a0, lanes);
        gw[out + t + 1] = sum(a1, lanes);
        gw[out + t + 2] = sum(a2, lanes);
        gw[out + t + 3] = sum(a3, lanes);
    }
}
