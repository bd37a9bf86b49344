package dev.rrconv.internal.vector;

import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Which taps each output row takes, as lane masks: for row {@code r} and tap {@code t}
 * ({@code t = kh*FW + kw}), {@code off[r*taps + t]} is where the tap's input window starts in the
 * input-side arrays and {@code bits[(r*taps + t)*chunks + j]} has bit {@code l} set when output
 * {@code j*L + l} of the row takes the tap: the tap lies inside the image and the input region equals
 * the output region (the C kernels' lane masks, computed once per row and shared by every channel).
 * A tap whose row is outside the image has no bits set.
 *
 * <p>Forward and backward filter number rows {@code n*OH + oh}; backward data numbers them
 * {@code (n*IH + ih)*SW + phase}, one row per column phase of a strided input row.
 *
 * <p>Built {@link #forwardByTap by tap} (for the depthwise filter gradient, which runs each tap over
 * the rows), the entries of row {@code r} and tap {@code t} are at {@code t*rows + r} instead of
 * {@code r*taps + t}, so that a tap's rows follow one another in memory.
 */
final class TapRows {
    private static final VectorSpecies<Integer> I = VectorBackend.INTS;
    private static final int L = I.length();

    final int taps;
    final int chunks;
    final int rows;
    final boolean byTap;
    final int[] off;
    final long[] bits;

    private TapRows(int rows, int taps, int chunks, boolean byTap, Scratch scratch) {
        this.taps = taps;
        this.chunks = chunks;
        this.rows = rows;
        this.byTap = byTap;
        this.off = scratch.off(rows * taps);
        this.bits = scratch.bits(rows * taps * chunks);
    }

    /** Clears row {@code r}'s lane masks (the arrays are reused: a tap left unset must take no lane). */
    private void clear(int r) {
        if (!byTap) {
            java.util.Arrays.fill(bits, r * taps * chunks, (r + 1) * taps * chunks, 0L);
            return;
        }
        for (int t = 0; t < taps; t++) {
            java.util.Arrays.fill(bits, (t * rows + r) * chunks, (t * rows + r + 1) * chunks, 0L);
        }
    }

    /** @return the index of row {@code r}, tap {@code t} in {@link #off} (times {@code chunks}: in {@link #bits}) */
    int at(int r, int t) {
        return byTap ? t * rows + r : r * taps + t;
    }

    /** Lanes {@code [lo, hi)} of chunk {@code j}, as bits. */
    static long range(int lo, int hi, int j) {
        int a = Math.max(lo - j * L, 0);
        int b = Math.min(hi - j * L, L);
        if (a >= b) {
            return 0;
        }
        long upTo = b == 64 ? -1L : (1L << b) - 1;
        return upTo & -(1L << a);
    }

    /**
     * Sets row {@code r}'s tap {@code t}: input window at {@code o} in {@code xm}, output regions at
     * {@code ro} in {@code ym}, taking outputs {@code [lo, hi)} of the row where the regions agree.
     */
    private void set(int r, int t, int[] xm, int o, int[] ym, int ro, int lo, int hi) {
        int rt = at(r, t);
        off[rt] = o;
        int b0 = rt * chunks;
        for (int j = 0; j < chunks; j++) {
            long v = range(lo, hi, j);
            if (v != 0) {
                int q = j * L;
                IntVector a = IntVector.fromArray(I, xm, o + q);
                IntVector b = IntVector.fromArray(I, ym, ro + q);
                v &= a.compare(VectorOperators.EQ, b).toLong();
            }
            bits[b0 + j] = v;
        }
    }

    /**
     * The rows of the forward (and backward filter) gather: output {@code (oh, ow)} takes input
     * {@code (oh*SH - PH + kh*DH, ow*SW - PW + kw*DW)}.
     *
     * @param rin per image, the input regions packed as {@code geo.x()}
     * @param rout per image, the output regions packed as {@code geo.y()}
     */
    static TapRows forward(Geometry geo, int[][] rin, int[][] rout, Scratch scratch, int threads) {
        return forward(geo, rin, rout, scratch, threads, false);
    }

    /** {@link #forward}, laid out by tap. */
    static TapRows forwardByTap(Geometry geo, int[][] rin, int[][] rout, Scratch scratch, int threads) {
        return forward(geo, rin, rout, scratch, threads, true);
    }

    private static TapRows forward(Geometry geo, int[][] rin, int[][] rout, Scratch scratch, int threads,
                                   boolean byTap) {
        int rows = geo.n() * geo.oh();
        TapRows tr = new TapRows(rows, geo.taps(), geo.chunks(), byTap, scratch);
        Plane x = geo.x();
        dev.rrconv.internal.javaimpl.Parallel.forEach(rows, threads, r -> {
            tr.clear(r);
            int n = r / geo.oh();
            int oh = r % geo.oh();
            int ro = geo.y().index(oh, 0, 0);
            for (int kh = 0; kh < geo.fh(); kh++) {
                int ih = oh * geo.sh() - geo.ph() + kh * geo.dh();
                if (ih < 0 || ih >= geo.ih()) {
                    continue;
                }
                for (int kw = 0; kw < geo.fw(); kw++) {
                    int t0 = kw * geo.dw() - geo.pw();
                    int phase = Math.floorMod(t0, geo.sw());
                    int shift = Math.floorDiv(t0, geo.sw());
                    int lo = Math.max(0, -shift);
                    int hi = Math.min(geo.ow(), x.columns(phase) - shift);
                    tr.set(r, kh * geo.fw() + kw, rin[n], x.index(ih, phase, 0) + shift, rout[n], ro, lo, hi);
                }
            }
        });
        return tr;
    }

    /**
     * The rows of the backward-data gather: input {@code (ih, q*SW + phase)} takes output
     * {@code ((ih + PH - kh*DH) / SH, (q*SW + phase + PW - kw*DW) / SW)} where both divisions are exact.
     *
     * @param rout per image, the output regions packed as {@code geo.x()} (the diff side)
     * @param rin per image, the input regions packed as {@code geo.y()} (the gradient side)
     */
    static TapRows backwardData(Geometry geo, int[][] rout, int[][] rin, Scratch scratch, int threads) {
        int rows = geo.n() * geo.ih() * geo.sw();
        TapRows tr = new TapRows(rows, geo.taps(), geo.chunks(), false, scratch);
        Plane x = geo.x();
        dev.rrconv.internal.javaimpl.Parallel.forEach(rows, threads, r -> {
            tr.clear(r);
            int phase = r % geo.sw();
            int ih = (r / geo.sw()) % geo.ih();
            int n = r / geo.sw() / geo.ih();
            int ro = geo.y().index(ih, phase, 0);
            int cols = geo.y().columns(phase);
            for (int kh = 0; kh < geo.fh(); kh++) {
                int th = ih + geo.ph() - kh * geo.dh();
                if (th < 0 || th % geo.sh() != 0 || th / geo.sh() >= geo.oh()) {
                    continue;
                }
                int oh = th / geo.sh();
                for (int kw = 0; kw < geo.fw(); kw++) {
                    int tw = phase + geo.pw() - kw * geo.dw();
                    if (Math.floorMod(tw, geo.sw()) != 0) {
                        continue;
                    }
                    int shift = Math.floorDiv(tw, geo.sw());
                    int lo = Math.max(0, -shift);
                    int hi = Math.min(cols, geo.ow() - shift);
                    tr.set(r, kh * geo.fw() + kw, rout[n], x.index(oh, 0, 0) + shift, rin[n], ro, lo, hi);
                }
            }
        });
        return tr;
    }
}
