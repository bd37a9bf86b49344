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
 * each load of {@code d} (the blocks of eight channels and the depthwise loops: see there).
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
            for (int t = 0; t < taps; t += 4) {
                four(geo, tr, t, Math.min(4, taps - t), x, g * cin + ci, d, g * cout + co, gw, out, lanes);
            }
        }
    }

    /**
     * Eight output channels {@code co0 .. co0+7} of group {@code g} with fused multiply-adds: each input
     * vector is masked once (lanes that skip the tap set to +0) and feeds eight {@code fma}s. A skipped
     * lane adds {@code d * 0}, an exact zero for finite {@code d}, so the caller takes this path only when
     * every diff value is finite. Per lane the same order of terms as {@link #channel}.
     *
     * <p>The rows {@code (n, oh)} run in tiles of about 16 KiB of diff (eight channels' rows), and every
     * input channel and tap runs over a tile before the next tile: the tile stays in the L1 cache while
     * the {@code cin * taps} passes read it (one pass over all rows per tap streamed the whole diff block
     * from memory each time). The per-lane sums of every {@code (ci, t, channel)} wait in {@code acc}
     * between tiles; storing and reloading a sum changes nothing, so the order of terms is the untiled one.
     * The taps run in threes ({@link #triple}: 24 sums in registers, each diff load feeding three fused
     * multiply-adds; 20 % less time than pairs on GRP), the last one or two in a {@link #pair}.
     */
    static void channels8(Geometry geo, TapRows tr, int g, int co0, float[][] x, float[][] d, float[] gw) {
        int cin = geo.icpg();
        int cout = geo.ocpg();
        int taps = tr.taps;
        int chunks = tr.chunks;
        int ic = geo.groups() * cin;
        int oc = geo.groups() * cout;
        int dc = g * cout + co0;
        int oh = geo.oh();
        int tile = Math.max(1, 512 / (chunks * L));
        float[] acc = new float[cin * taps * 8 * L];
        for (int n = 0; n < geo.n(); n++) {
            float[] d0 = d[n * oc + dc];
            float[] d1 = d[n * oc + dc + 1];
            float[] d2 = d[n * oc + dc + 2];
            float[] d3 = d[n * oc + dc + 3];
            float[] d4 = d[n * oc + dc + 4];
            float[] d5 = d[n * oc + dc + 5];
            float[] d6 = d[n * oc + dc + 6];
            float[] d7 = d[n * oc + dc + 7];
            for (int h0 = 0; h0 < oh; h0 += tile) {
                int h1 = Math.min(oh, h0 + tile);
                for (int ci = 0; ci < cin; ci++) {
                    float[] xs = x[n * ic + g * cin + ci];
                    int t = 0;
                    for (; t + 2 < taps; t += 3) { // taps t, t+1 and t+2 side by side
                        triple(tr, n * oh, h0, h1, geo.y(), xs, t, d0, d1, d2, d3, d4, d5, d6, d7, acc,
                                (ci * taps + t) * 8 * L);
                    }
                    for (; t < taps; t += 2) {
                        // taps t and u side by side (u = t for an odd last tap: the same sums twice)
                        int u = Math.min(t + 1, taps - 1);
                        pair(tr, n * oh, h0, h1, geo.y(), xs, t, u, d0, d1, d2, d3, d4, d5, d6, d7, acc,
                                (ci * taps + t) * 8 * L, (ci * taps + u) * 8 * L);
                    }
                }
            }
        }
        int step = cin * taps;
        for (int ci = 0; ci < cin; ci++) {
            for (int t = 0; t < taps; t++) {
                int out = ((g * cout + co0) * cin + ci) * taps + t;
                for (int c = 0; c < 8; c++) {
                    gw[out + c * step] = sum(acc, (ci * taps + t) * 8 * L + c * L);
                }
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

    /**
     * Rows {@code [h0, h1)} of one image (TapRows rows {@code r0 + h}) for taps {@code t} and {@code u} of
     * one input channel {@code xs} and eight diff channels: each diff load feeds two fused multiply-adds,
     * each masked input load eight. The sums continue from and return to {@code acc[at ..]} and
     * {@code acc[au ..]}, eight vectors each.
     */
    private static void pair(TapRows tr, int r0, int h0, int h1, Plane yp, float[] xs, int t, int u, float[] d0,
                             float[] d1, float[] d2, float[] d3, float[] d4, float[] d5, float[] d6, float[] d7,
                             float[] acc, int at, int au) {
        int taps = tr.taps;
        int chunks = tr.chunks;
        FloatVector a0 = FloatVector.fromArray(F, acc, at);
        FloatVector a1 = FloatVector.fromArray(F, acc, at + L);
        FloatVector a2 = FloatVector.fromArray(F, acc, at + 2 * L);
        FloatVector a3 = FloatVector.fromArray(F, acc, at + 3 * L);
        FloatVector a4 = FloatVector.fromArray(F, acc, at + 4 * L);
        FloatVector a5 = FloatVector.fromArray(F, acc, at + 5 * L);
        FloatVector a6 = FloatVector.fromArray(F, acc, at + 6 * L);
        FloatVector a7 = FloatVector.fromArray(F, acc, at + 7 * L);
        FloatVector b0 = FloatVector.fromArray(F, acc, au);
        FloatVector b1 = FloatVector.fromArray(F, acc, au + L);
        FloatVector b2 = FloatVector.fromArray(F, acc, au + 2 * L);
        FloatVector b3 = FloatVector.fromArray(F, acc, au + 3 * L);
        FloatVector b4 = FloatVector.fromArray(F, acc, au + 4 * L);
        FloatVector b5 = FloatVector.fromArray(F, acc, au + 5 * L);
        FloatVector b6 = FloatVector.fromArray(F, acc, au + 6 * L);
        FloatVector b7 = FloatVector.fromArray(F, acc, au + 7 * L);
        for (int h = h0; h < h1; h++) {
            int rt = (r0 + h) * taps + t;
            int ru = (r0 + h) * taps + u;
            int dRow = yp.index(h, 0, 0);
            int ot = tr.off[rt];
            int ou = tr.off[ru];
            for (int j = 0; j < chunks; j++) {
                int q = j * L;
                FloatVector xt = FloatVector.fromArray(F, xs, ot + q, VectorMask.fromLong(F, tr.bits[rt * chunks + j]));
                FloatVector xu = FloatVector.fromArray(F, xs, ou + q, VectorMask.fromLong(F, tr.bits[ru * chunks + j]));
                FloatVector v = FloatVector.fromArray(F, d0, dRow + q);
                a0 = v.fma(xt, a0);
                b0 = v.fma(xu, b0);
                v = FloatVector.fromArray(F, d1, dRow + q);
                a1 = v.fma(xt, a1);
                b1 = v.fma(xu, b1);
                v = FloatVector.fromArray(F, d2, dRow + q);
                a2 = v.fma(xt, a2);
                b2 = v.fma(xu, b2);
                v = FloatVector.fromArray(F, d3, dRow + q);
                a3 = v.fma(xt, a3);
                b3 = v.fma(xu, b3);
                v = FloatVector.fromArray(F, d4, dRow + q);
                a4 = v.fma(xt, a4);
                b4 = v.fma(xu, b4);
                v = FloatVector.fromArray(F, d5, dRow + q);
                a5 = v.fma(xt, a5);
                b5 = v.fma(xu, b5);
                v = FloatVector.fromArray(F, d6, dRow + q);
                a6 = v.fma(xt, a6);
                b6 = v.fma(xu, b6);
                v = FloatVector.fromArray(F, d7, dRow + q);
                a7 = v.fma(xt, a7);
                b7 = v.fma(xu, b7);
            }
        }
        a0.intoArray(acc, at);
        a1.intoArray(acc, at + L);
        a2.intoArray(acc, at + 2 * L);
        a3.intoArray(acc, at + 3 * L);
        a4.intoArray(acc, at + 4 * L);
        a5.intoArray(acc, at + 5 * L);
        a6.intoArray(acc, at + 6 * L);
        a7.intoArray(acc, at + 7 * L);
        b0.intoArray(acc, au);
        b1.intoArray(acc, au + L);
        b2.intoArray(acc, au + 2 * L);
        b3.intoArray(acc, au + 3 * L);
        b4.intoArray(acc, au + 4 * L);
        b5.intoArray(acc, au + 5 * L);
        b6.intoArray(acc, au + 6 * L);
        b7.intoArray(acc, au + 7 * L);
    }

    /**
     * As {@link #pair}, for the three taps {@code t, t+1, t+2}, their sums at {@code at}, {@code at + 8L}
     * and {@code at + 16L}: each diff load feeds three fused multiply-adds (24 sums in registers).
     */
    private static void triple(TapRows tr, int r0, int h0, int h1, Plane yp, float[] xs, int t, float[] d0,
                               float[] d1, float[] d2, float[] d3, float[] d4, float[] d5, float[] d6, float[] d7,
                               float[] acc, int at) {
        int taps = tr.taps;
        int chunks = tr.chunks;
        FloatVector a0 = FloatVector.fromArray(F, acc, at);
        FloatVector a1 = FloatVector.fromArray(F, acc, at + 1 * L);
        FloatVector a2 = FloatVector.fromArray(F, acc, at + 2 * L);
        FloatVector a3 = FloatVector.fromArray(F, acc, at + 3 * L);
        FloatVector a4 = FloatVector.fromArray(F, acc, at + 4 * L);
        FloatVector a5 = FloatVector.fromArray(F, acc, at + 5 * L);
        FloatVector a6 = FloatVector.fromArray(F, acc, at + 6 * L);
        FloatVector a7 = FloatVector.fromArray(F, acc, at + 7 * L);
        FloatVector b0 = FloatVector.fromArray(F, acc, at + 8 * L);
        FloatVector b1 = FloatVector.fromArray(F, acc, at + 9 * L);
        FloatVector b2 = FloatVector.fromArray(F, acc, at + 10 * L);
        FloatVector b3 = FloatVector.fromArray(F, acc, at + 11 * L);
        FloatVector b4 = FloatVector.fromArray(F, acc, at + 12 * L);
        FloatVector b5 = FloatVector.fromArray(F, acc, at + 13 * L);
        FloatVector b6 = FloatVector.fromArray(F, acc, at + 14 * L);
        FloatVector b7 = FloatVector.fromArray(F, acc, at + 15 * L);
        FloatVector c0 = FloatVector.fromArray(F, acc, at + 16 * L);
        FloatVector c1 = FloatVector.fromArray(F, acc, at + 17 * L);
        FloatVector c2 = FloatVector.fromArray(F, acc, at + 18 * L);
        FloatVector c3 = FloatVector.fromArray(F, acc, at + 19 * L);
        FloatVector c4 = FloatVector.fromArray(F, acc, at + 20 * L);
        FloatVector c5 = FloatVector.fromArray(F, acc, at + 21 * L);
        FloatVector c6 = FloatVector.fromArray(F, acc, at + 22 * L);
        FloatVector c7 = FloatVector.fromArray(F, acc, at + 23 * L);
        long[] bits = tr.bits;
        for (int h = h0; h < h1; h++) {
            int rt = (r0 + h) * taps + t;
            int dRow = yp.index(h, 0, 0);
            int ot = tr.off[rt];
            int ou = tr.off[rt + 1];
            int ov = tr.off[rt + 2];
            int bt = rt * chunks;
            for (int j = 0; j < chunks; j++) {
                int q = j * L;
                FloatVector xt = FloatVector.fromArray(F, xs, ot + q, VectorMask.fromLong(F, bits[bt + j]));
                FloatVector xu = FloatVector.fromArray(F, xs, ou + q, VectorMask.fromLong(F, bits[bt + chunks + j]));
                FloatVector xv = FloatVector.fromArray(F, xs, ov + q, VectorMask.fromLong(F, bits[bt + 2 * chunks + j]));
                FloatVector v0 = FloatVector.fromArray(F, d0, dRow + q);
                a0 = v0.fma(xt, a0);
                b0 = v0.fma(xu, b0);
                c0 = v0.fma(xv, c0);
                FloatVector v1 = FloatVector.fromArray(F, d1, dRow + q);
                a1 = v1.fma(xt, a1);
                b1 = v1.fma(xu, b1);
                c1 = v1.fma(xv, c1);
                FloatVector v2 = FloatVector.fromArray(F, d2, dRow + q);
                a2 = v2.fma(xt, a2);
                b2 = v2.fma(xu, b2);
                c2 = v2.fma(xv, c2);
                FloatVector v3 = FloatVector.fromArray(F, d3, dRow + q);
                a3 = v3.fma(xt, a3);
                b3 = v3.fma(xu, b3);
                c3 = v3.fma(xv, c3);
                FloatVector v4 = FloatVector.fromArray(F, d4, dRow + q);
                a4 = v4.fma(xt, a4);
                b4 = v4.fma(xu, b4);
                c4 = v4.fma(xv, c4);
                FloatVector v5 = FloatVector.fromArray(F, d5, dRow + q);
                a5 = v5.fma(xt, a5);
                b5 = v5.fma(xu, b5);
                c5 = v5.fma(xv, c5);
                FloatVector v6 = FloatVector.fromArray(F, d6, dRow + q);
                a6 = v6.fma(xt, a6);
                b6 = v6.fma(xu, b6);
                c6 = v6.fma(xv, c6);
                FloatVector v7 = FloatVector.fromArray(F, d7, dRow + q);
                a7 = v7.fma(xt, a7);
                b7 = v7.fma(xu, b7);
                c7 = v7.fma(xv, c7);
            }
        }
        a0.intoArray(acc, at);
        a1.intoArray(acc, at + 1 * L);
        a2.intoArray(acc, at + 2 * L);
        a3.intoArray(acc, at + 3 * L);
        a4.intoArray(acc, at + 4 * L);
        a5.intoArray(acc, at + 5 * L);
        a6.intoArray(acc, at + 6 * L);
        a7.intoArray(acc, at + 7 * L);
        b0.intoArray(acc, at + 8 * L);
        b1.intoArray(acc, at + 9 * L);
        b2.intoArray(acc, at + 10 * L);
        b3.intoArray(acc, at + 11 * L);
        b4.intoArray(acc, at + 12 * L);
        b5.intoArray(acc, at + 13 * L);
        b6.intoArray(acc, at + 14 * L);
        b7.intoArray(acc, at + 15 * L);
        c0.intoArray(acc, at + 16 * L);
        c1.intoArray(acc, at + 17 * L);
        c2.intoArray(acc, at + 18 * L);
        c3.intoArray(acc, at + 19 * L);
        c4.intoArray(acc, at + 20 * L);
        c5.intoArray(acc, at + 21 * L);
        c6.intoArray(acc, at + 22 * L);
        c7.intoArray(acc, at + 23 * L);
    }

    /**
     * Depthwise (one channel per group): image {@code n} of four channels side by side, every tap. Per
     * tap one sum per lane and channel, continued from and returned to {@code acc[(c*taps + t)*L ..]}:
     * over the rows {@code oh} whose input row lies inside the image (the others take no lane), then
     * the chunks, the product of the diff row and the tap's shifted input row, rounded to float and
     * added under the tap's lane mask (so a value in a skipped lane, NaN included, changes nothing).
     * Each lane mask and offset is loaded once for the four channels, and the taps of a filter row run in
     * fours ({@link #tapQuad}), then a pair and a single one, each diff load feeding all taps of the group.
     * The order of terms of a lane is {@code (n, chunk, oh)} for the taps in fours and {@code (n, oh, chunk)}
     * for the others, whatever the thread count.
     *
     * @param tr the lane masks, laid out {@link TapRows#forwardByTap by tap}
     * @param x the four channels' input planes of image {@code n}, laid out as {@code geo.x()} (a block of
     *     fewer channels repeats its last one; those sums are not read)
     * @param d their diff planes, laid out as {@code geo.y()}
     */
    static void depthwise(Geometry geo, TapRows tr, int n, float[][] x, float[][] d, float[] acc) {
        int taps = tr.taps;
        int chunks = tr.chunks;
        int oh = geo.oh();
        int sh = geo.sh();
        int d0 = geo.y().index(0, 0, 0);
        int pitch = geo.y().pitch();
        int xstep = sh * geo.x().pitch();
        float[] x0 = x[0];
        float[] x1 = x[1];
        float[] x2 = x[2];
        float[] x3 = x[3];
        float[] e0 = d[0];
        float[] e1 = d[1];
        float[] e2 = d[2];
        float[] e3 = d[3];
        for (int kh = 0; kh < geo.fh(); kh++) {
            // the rows whose input row oh*SH - PH + kh*DH lies in [0, IH)
            int base = kh * geo.dh() - geo.ph();
            int lo = Math.max(0, Math.floorDiv(-base + sh - 1, sh));
            int hi = Math.min(oh, Math.floorDiv(geo.ih() - 1 - base, sh) + 1);
            int kw = 0;
            for (; kw + 3 < geo.fw() && lo < hi; kw += 4) { // four taps side by side, sharing each diff load
                int t = kh * geo.fw() + kw;
                tapQuad(tr, tr.at(n * oh, t), tr.at(n * oh, t + 1), tr.at(n * oh, t + 2), tr.at(n * oh, t + 3), lo,
                        hi, chunks, d0, pitch, xstep, x0, x1, x2, x3, e0, e1, e2, e3, acc, t * L, taps * L);
            }
            for (; kw + 1 < geo.fw() && lo < hi; kw += 2) { // two taps side by side, sharing each diff load
                int t = kh * geo.fw() + kw;
                tapPair(tr, tr.at(n * oh, t), tr.at(n * oh, t + 1), lo, hi, chunks, d0, pitch, x0, x1, x2, x3, e0,
                        e1, e2, e3, acc, t * L, taps * L);
            }
            if (kw < geo.fw() && lo < hi) {
                int t = kh * geo.fw() + kw;
                tap(tr, tr.at(n * oh, t), lo, hi, chunks, d0, pitch, x0, x1, x2, x3, e0, e1, e2, e3, acc, t * L,
                        taps * L);
            }
        }
    }

    /**
     * One filter row {@code kh} of {@link #depthwise} for a filter 3 wide: its three taps for two channels
     * (a and b) of image {@code n}, chunks {@code j} and {@code j+1} of the rows whose input row lies in
     * the image (there every tap has its offset; lanes outside the image have no mask bits). The six sums
     * stay in registers over the rows, each diff vector is loaded once for the three taps and each tap's
     * offset and lane masks serve both channels, with no per-tap branch or loop (the general loop loads
     * the sums per pair of taps and tests every chunk's mask). Per lane the same terms in the same order
     * ({@code (n, oh, chunk)}) as {@link #depthwise}: bitwise its sums. Compute only, DW-K3's 96 blocks
     * x 4 images: 1.18 ms there, 0.74 with all nine taps in one method, which is too large for C1 (its
     * register allocator gives up, and the method then never reached C2 in a real call).
     *
     * @param tr the lane masks, laid out {@link TapRows#forwardByTap by tap}
     * @param aa where channel a's sums are in {@code acc} ({@code L} floats per tap)
     * @param ab channel b's
     */
    static void depthwise3(Geometry geo, TapRows tr, int n, int j, int kh, float[] xa, float[] xb, float[] da,
                           float[] db, float[] acc, int aa, int ab) {
        int chunks = tr.chunks;
        int rows = tr.rows;
        int oh = geo.oh();
        int sh = geo.sh();
        int base = kh * geo.dh() - geo.ph();
        int lo = Math.max(0, Math.floorDiv(-base + sh - 1, sh)); // the rows whose input row oh*SH + base is in [0, IH)
        int hi = Math.min(oh, Math.floorDiv(geo.ih() - 1 - base, sh) + 1);
        int d0 = geo.y().index(0, 0, 0);
        int pitch = geo.y().pitch();
        long[] bits = tr.bits;
        int[] off = tr.off;
        int q = j * L;
        int t0 = kh * 3;
        FloatVector a0 = FloatVector.fromArray(F, acc, aa + (t0 + 0) * L);
        FloatVector b0 = FloatVector.fromArray(F, acc, ab + (t0 + 0) * L);
        FloatVector a1 = FloatVector.fromArray(F, acc, aa + (t0 + 1) * L);
        FloatVector b1 = FloatVector.fromArray(F, acc, ab + (t0 + 1) * L);
        FloatVector a2 = FloatVector.fromArray(F, acc, aa + (t0 + 2) * L);
        FloatVector b2 = FloatVector.fromArray(F, acc, ab + (t0 + 2) * L);
        for (int h = lo; h < hi; h++) {
            int e = t0 * rows + n * oh + h; // the row's entry of tap t0 + t is at e + t*rows
            int dr = d0 + h * pitch + q;
            FloatVector va = FloatVector.fromArray(F, da, dr);
            FloatVector vb = FloatVector.fromArray(F, db, dr);
            FloatVector wa = FloatVector.fromArray(F, da, dr + L);
            FloatVector wb = FloatVector.fromArray(F, db, dr + L);
            int i0 = e + 0 * rows;
            int o0 = off[i0] + q;
            VectorMask<Float> m0 = VectorMask.fromLong(F, bits[i0 * chunks + j]);
            VectorMask<Float> k0 = VectorMask.fromLong(F, bits[i0 * chunks + j + 1]);
            a0 = a0.add(FloatVector.fromArray(F, xa, o0).mul(va), m0);
            b0 = b0.add(FloatVector.fromArray(F, xb, o0).mul(vb), m0);
            a0 = a0.add(FloatVector.fromArray(F, xa, o0 + L).mul(wa), k0);
            b0 = b0.add(FloatVector.fromArray(F, xb, o0 + L).mul(wb), k0);
            int i1 = e + 1 * rows;
            int o1 = off[i1] + q;
            VectorMask<Float> m1 = VectorMask.fromLong(F, bits[i1 * chunks + j]);
            VectorMask<Float> k1 = VectorMask.fromLong(F, bits[i1 * chunks + j + 1]);
            a1 = a1.add(FloatVector.fromArray(F, xa, o1).mul(va), m1);
            b1 = b1.add(FloatVector.fromArray(F, xb, o1).mul(vb), m1);
            a1 = a1.add(FloatVector.fromArray(F, xa, o1 + L).mul(wa), k1);
            b1 = b1.add(FloatVector.fromArray(F, xb, o1 + L).mul(wb), k1);
            int i2 = e + 2 * rows;
            int o2 = off[i2] + q;
            VectorMask<Float> m2 = VectorMask.fromLong(F, bits[i2 * chunks + j]);
            VectorMask<Float> k2 = VectorMask.fromLong(F, bits[i2 * chunks + j + 1]);
            a2 = a2.add(FloatVector.fromArray(F, xa, o2).mul(va), m2);
            b2 = b2.add(FloatVector.fromArray(F, xb, o2).mul(vb), m2);
            a2 = a2.add(FloatVector.fromArray(F, xa, o2 + L).mul(wa), k2);
            b2 = b2.add(FloatVector.fromArray(F, xb, o2 + L).mul(wb), k2);
        }
        a0.intoArray(acc, aa + (t0 + 0) * L);
        b0.intoArray(acc, ab + (t0 + 0) * L);
        a1.intoArray(acc, aa + (t0 + 1) * L);
        b1.intoArray(acc, ab + (t0 + 1) * L);
        a2.intoArray(acc, aa + (t0 + 2) * L);
        b2.intoArray(acc, ab + (t0 + 2) * L);
    }

    /**
     * Four taps of {@link #depthwise}, {@code t .. t+3} (their {@link TapRows#forwardByTap} entries
     * {@code r0 + h .. r3 + h}, their sums at {@code at .. at + 3L}), as {@link #tap}: each diff load
     * feeds four taps. Chunk by chunk, the rows inside: for {@code h} in {@code [lo, hi)} every tap's
     * input row lies in the image, {@code xstep} elements further each row, so every index is linear in
     * {@code h}, which lets C2 hoist bounds checks out of the row loop (with {@link #tapPair}'s order, rows
     * outside and chunks inside, the fours took about 5 % less time than pairs on DW-K31, in this order
     * 10 %; thread CPU time, 1 thread, busy host).
     */
    private static void tapQuad(TapRows tr, int r0, int r1, int r2, int r3, int lo, int hi, int chunks, int d0,
                                int pitch, int xstep, float[] x0, float[] x1, float[] x2, float[] x3, float[] e0,
                                float[] e1, float[] e2, float[] e3, float[] acc, int at, int step) {
        FloatVector a0 = FloatVector.fromArray(F, acc, at);
        FloatVector a1 = FloatVector.fromArray(F, acc, at + step);
        FloatVector a2 = FloatVector.fromArray(F, acc, at + 2 * step);
        FloatVector a3 = FloatVector.fromArray(F, acc, at + 3 * step);
        FloatVector b0 = FloatVector.fromArray(F, acc, at + 1 * L);
        FloatVector b1 = FloatVector.fromArray(F, acc, at + step + 1 * L);
        FloatVector b2 = FloatVector.fromArray(F, acc, at + 2 * step + 1 * L);
        FloatVector b3 = FloatVector.fromArray(F, acc, at + 3 * step + 1 * L);
        FloatVector c0 = FloatVector.fromArray(F, acc, at + 2 * L);
        FloatVector c1 = FloatVector.fromArray(F, acc, at + step + 2 * L);
        FloatVector c2 = FloatVector.fromArray(F, acc, at + 2 * step + 2 * L);
        FloatVector c3 = FloatVector.fromArray(F, acc, at + 3 * step + 2 * L);
        FloatVector f0 = FloatVector.fromArray(F, acc, at + 3 * L);
        FloatVector f1 = FloatVector.fromArray(F, acc, at + step + 3 * L);
        FloatVector f2 = FloatVector.fromArray(F, acc, at + 2 * step + 3 * L);
        FloatVector f3 = FloatVector.fromArray(F, acc, at + 3 * step + 3 * L);
        long[] bits = tr.bits;
        for (int j = 0; j < chunks; j++) {
            int q = j * L;
            int oa = tr.off[r0 + lo] - lo * xstep + q;
            int ob = tr.off[r1 + lo] - lo * xstep + q;
            int oc = tr.off[r2 + lo] - lo * xstep + q;
            int of = tr.off[r3 + lo] - lo * xstep + q;
            int dq = d0 + q;
            for (int h = lo; h < hi; h++) {
                VectorMask<Float> ma = VectorMask.fromLong(F, bits[(r0 + h) * chunks + j]);
                VectorMask<Float> mb = VectorMask.fromLong(F, bits[(r1 + h) * chunks + j]);
                VectorMask<Float> mc = VectorMask.fromLong(F, bits[(r2 + h) * chunks + j]);
                VectorMask<Float> mf = VectorMask.fromLong(F, bits[(r3 + h) * chunks + j]);
                int dr = dq + h * pitch;
                int xr = h * xstep;
                FloatVector v0 = FloatVector.fromArray(F, e0, dr);
                a0 = a0.add(FloatVector.fromArray(F, x0, oa + xr).mul(v0), ma);
                b0 = b0.add(FloatVector.fromArray(F, x0, ob + xr).mul(v0), mb);
                c0 = c0.add(FloatVector.fromArray(F, x0, oc + xr).mul(v0), mc);
                f0 = f0.add(FloatVector.fromArray(F, x0, of + xr).mul(v0), mf);
                FloatVector v1 = FloatVector.fromArray(F, e1, dr);
                a1 = a1.add(FloatVector.fromArray(F, x1, oa + xr).mul(v1), ma);
                b1 = b1.add(FloatVector.fromArray(F, x1, ob + xr).mul(v1), mb);
                c1 = c1.add(FloatVector.fromArray(F, x1, oc + xr).mul(v1), mc);
                f1 = f1.add(FloatVector.fromArray(F, x1, of + xr).mul(v1), mf);
                FloatVector v2 = FloatVector.fromArray(F, e2, dr);
                a2 = a2.add(FloatVector.fromArray(F, x2, oa + xr).mul(v2), ma);
                b2 = b2.add(FloatVector.fromArray(F, x2, ob + xr).mul(v2), mb);
                c2 = c2.add(FloatVector.fromArray(F, x2, oc + xr).mul(v2), mc);
                f2 = f2.add(FloatVector.fromArray(F, x2, of + xr).mul(v2), mf);
                FloatVector v3 = FloatVector.fromArray(F, e3, dr);
                a3 = a3.add(FloatVector.fromArray(F, x3, oa + xr).mul(v3), ma);
                b3 = b3.add(FloatVector.fromArray(F, x3, ob + xr).mul(v3), mb);
                c3 = c3.add(FloatVector.fromArray(F, x3, oc + xr).mul(v3), mc);
                f3 = f3.add(FloatVector.fromArray(F, x3, of + xr).mul(v3), mf);
            }
        }
        a0.intoArray(acc, at);
        a1.intoArray(acc, at + step);
        a2.intoArray(acc, at + 2 * step);
        a3.intoArray(acc, at + 3 * step);
        b0.intoArray(acc, at + 1 * L);
        b1.intoArray(acc, at + step + 1 * L);
        b2.intoArray(acc, at + 2 * step + 1 * L);
        b3.intoArray(acc, at + 3 * step + 1 * L);
        c0.intoArray(acc, at + 2 * L);
        c1.intoArray(acc, at + step + 2 * L);
        c2.intoArray(acc, at + 2 * step + 2 * L);
        c3.intoArray(acc, at + 3 * step + 2 * L);
        f0.intoArray(acc, at + 3 * L);
        f1.intoArray(acc, at + step + 3 * L);
        f2.intoArray(acc, at + 2 * step + 3 * L);
        f3.intoArray(acc, at + 3 * step + 3 * L);
    }

    /**
     * Two taps of {@link #depthwise}, {@code t} and {@code t+1} (their {@link TapRows#forwardByTap} entries
     * {@code r0 + h} and {@code s0 + h}, their sums at {@code at} and {@code at + L}), as {@link #tap}: each
     * diff load feeds both.
     */
    private static void tapPair(TapRows tr, int r0, int s0, int lo, int hi, int chunks, int d0, int pitch,
                                float[] x0, float[] x1, float[] x2, float[] x3, float[] e0, float[] e1, float[] e2,
                                float[] e3, float[] acc, int at, int step) {
        FloatVector a0 = FloatVector.fromArray(F, acc, at);
        FloatVector a1 = FloatVector.fromArray(F, acc, at + step);
        FloatVector a2 = FloatVector.fromArray(F, acc, at + 2 * step);
        FloatVector a3 = FloatVector.fromArray(F, acc, at + 3 * step);
        FloatVector b0 = FloatVector.fromArray(F, acc, at + L);
        FloatVector b1 = FloatVector.fromArray(F, acc, at + step + L);
        FloatVector b2 = FloatVector.fromArray(F, acc, at + 2 * step + L);
        FloatVector b3 = FloatVector.fromArray(F, acc, at + 3 * step + L);
        for (int h = lo; h < hi; h++) {
            int rt = r0 + h;
            int su = s0 + h;
            int o = tr.off[rt];
            int p = tr.off[su];
            int dr = d0 + h * pitch;
            int bb = rt * chunks;
            int cb = su * chunks;
            for (int j = 0; j < chunks; j++) {
                VectorMask<Float> m = VectorMask.fromLong(F, tr.bits[bb + j]);
                VectorMask<Float> k = VectorMask.fromLong(F, tr.bits[cb + j]);
                int q = j * L;
                FloatVector v = FloatVector.fromArray(F, e0, dr + q);
                a0 = a0.add(FloatVector.fromArray(F, x0, o + q).mul(v), m);
                b0 = b0.add(FloatVector.fromArray(F, x0, p + q).mul(v), k);
                v = FloatVector.fromArray(F, e1, dr + q);
                a1 = a1.add(FloatVector.fromArray(F, x1, o + q).mul(v), m);
                b1 = b1.add(FloatVector.fromArray(F, x1, p + q).mul(v), k);
                v = FloatVector.fromArray(F, e2, dr + q);
                a2 = a2.add(FloatVector.fromArray(F, x2, o + q).mul(v), m);
                b2 = b2.add(FloatVector.fromArray(F, x2, p + q).mul(v), k);
                v = FloatVector.fromArray(F, e3, dr + q);
                a3 = a3.add(FloatVector.fromArray(F, x3, o + q).mul(v), m);
                b3 = b3.add(FloatVector.fromArray(F, x3, p + q).mul(v), k);
            }
        }
        a0.intoArray(acc, at);
        a1.intoArray(acc, at + step);
        a2.intoArray(acc, at + 2 * step);
        a3.intoArray(acc, at + 3 * step);
        b0.intoArray(acc, at + L);
        b1.intoArray(acc, at + step + L);
        b2.intoArray(acc, at + 2 * step + L);
        b3.intoArray(acc, at + 3 * step + L);
    }

    /**
     * One tap of {@link #depthwise}, rows {@code [lo, hi)} ({@link TapRows#forwardByTap} entries
     * {@code r0 + h}): each product rounded and added under the lane mask.
     */
    private static void tap(TapRows tr, int r0, int lo, int hi, int chunks, int d0, int pitch, float[] x0,
                            float[] x1, float[] x2, float[] x3, float[] e0, float[] e1, float[] e2, float[] e3,
                            float[] acc, int at, int step) {
        FloatVector a0 = FloatVector.fromArray(F, acc, at);
        FloatVector a1 = FloatVector.fromArray(F, acc, at + step);
        FloatVector a2 = FloatVector.fromArray(F, acc, at + 2 * step);
        FloatVector a3 = FloatVector.fromArray(F, acc, at + 3 * step);
        for (int h = lo; h < hi; h++) {
            int rt = r0 + h;
            int o = tr.off[rt];
            int dr = d0 + h * pitch;
            int bb = rt * chunks;
            for (int j = 0; j < chunks; j++) {
                long b = tr.bits[bb + j];
                if (b == 0) {
                    continue;
                }
                VectorMask<Float> m = VectorMask.fromLong(F, b);
                int q = j * L;
                a0 = a0.add(FloatVector.fromArray(F, x0, o + q).mul(FloatVector.fromArray(F, e0, dr + q)), m);
                a1 = a1.add(FloatVector.fromArray(F, x1, o + q).mul(FloatVector.fromArray(F, e1, dr + q)), m);
                a2 = a2.add(FloatVector.fromArray(F, x2, o + q).mul(FloatVector.fromArray(F, e2, dr + q)), m);
                a3 = a3.add(FloatVector.fromArray(F, x3, o + q).mul(FloatVector.fromArray(F, e3, dr + q)), m);
            }
        }
        a0.intoArray(acc, at);
        a1.intoArray(acc, at + step);
        a2.intoArray(acc, at + 2 * step);
        a3.intoArray(acc, at + 3 * step);
    }

    /** @return the {@code L} lanes at {@code acc[at ..]} added in lane order */
    static float sum(float[] acc, int at) {
        float s = 0f;
        for (int l = 0; l < L; l++) {
            s += acc[at + l];
        }
        return s;
    }

    private static float sum(FloatVector acc, float[] lanes) {
        acc.intoArray(lanes, 0);
        float s = 0f;
        for (int l = 0; l < L; l++) {
            s += lanes[l];
        }
        return s;
    }

    /**
     * Taps {@code t .. t+k-1} ({@code k} from 1 to 4) of one input and one output channel side by side,
     * sharing each diff load; missing taps have no lanes (their sums stay zero and are not stored).
     */
    private static void four(Geometry geo, TapRows tr, int t, int k, float[][] x, int xc, float[][] d, int dc,
                             float[] gw, int out, float[] lanes) {
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
                int o1 = tr.off[rt + Math.min(1, k - 1)];
                int o2 = tr.off[rt + Math.min(2, k - 1)];
                int o3 = tr.off[rt + Math.min(3, k - 1)];
                int b0 = rt * chunks;
                for (int j = 0; j < chunks; j++) {
                    long m0 = tr.bits[b0 + j];
                    long m1 = k > 1 ? tr.bits[b0 + chunks + j] : 0;
                    long m2 = k > 2 ? tr.bits[b0 + 2 * chunks + j] : 0;
                    long m3 = k > 3 ? tr.bits[b0 + 3 * chunks + j] : 0;
                    if ((m0 | m1 | m2 | m3) == 0) {
                        continue;
                    }
                    int q = j * L;
                    FloatVector dv = FloatVector.fromArray(F, ds, dRow + q);
                    a0 = tap(a0, xs, o0 + q, dv, m0);
                    a1 = tap(a1, xs, o1 + q, dv, m1);
                    a2 = tap(a2, xs, o2 + q, dv, m2);
                    a3 = tap(a3, xs, o3 + q, dv, m3);
                }
            }
        }
        gw[out + t] = sum(a0, lanes);
        if (k > 1) {
            gw[out + t + 1] = sum(a1, lanes);
        }
        if (k > 2) {
            gw[out + t + 2] = sum(a2, lanes);
        }
        if (k > 3) {
            gw[out + t + 3] = sum(a3, lanes);
        }
    }

    /** {@code acc} plus {@code x[o ..] * dv}, each product rounded to float, on the lanes of {@code m} (if any). */
    private static FloatVector tap(FloatVector acc, float[] x, int o, FloatVector dv, long m) {
        if (m == 0) {
            return acc;
        }
        return acc.add(FloatVector.fromArray(F, x, o).mul(dv), VectorMask.fromLong(F, m));
    }
}
