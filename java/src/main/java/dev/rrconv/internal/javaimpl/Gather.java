package dev.rrconv.internal.javaimpl;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.Mode;
import java.util.ArrayList;
import java.util.List;

/**
 * The index tables of one "gather" convolution: every output pixel {@code t = p*pitch + q} of a
 * {@code rows x cols} grid sums, over taps {@code k}, the input element at array index
 * {@code t + shift[k]} of a plane packed with {@link #layout}. Tap {@code k} is inside the image
 * only for {@code rowLo[k] <= p < rowHi[k]} and {@code colLo[k] <= q < colHi[k]}; elsewhere it is
 * skipped. For every {@code t} in {@code [0, rows*pitch)} and every tap, {@code t + shift[k]} is a
 * valid index of the packed plane, so a whole band of rows is read with one contiguous copy.
 *
 * <p>Forward is one gather over the source; backward data is one gather over diff per stride phase
 * {@code (ih mod strideH, iw mod strideW)} of the result (only the taps that hit that phase take part).
 * Output pixel {@code (p, q)} lands at row {@code outRowOff + p*outRowStep}, column
 * {@code outColOff + q*outColStep} of the result.
 */
final class Gather {
    final PlaneLayout layout;
    final int rows;
    final int cols;
    final int pitch;
    final int taps;
    final int[] shift;
    final int[] rowLo;
    final int[] rowHi;
    final int[] colLo;
    final int[] colHi;
    /** Index {@code fkh*FW + fkw} of tap k in the stored filter (flip applied). */
    final int[] filterTap;
    final int outRowOff;
    final int outRowStep;
    final int outColOff;
    final int outColStep;

    private Gather(PlaneLayout layout, int rows, int cols, int pitch, List<int[]> tapList, int outRowOff,
                   int outRowStep, int outColOff, int outColStep) {
        this.layout = layout;
        this.rows = rows;
        this.cols = cols;
        this.pitch = pitch;
        this.taps = tapList.size();
        shift = new int[taps];
        rowLo = new int[taps];
        rowHi = new int[taps];
        colLo = new int[taps];
        colHi = new int[taps];
        filterTap = new int[taps];
        for (int k = 0; k < taps; k++) {
            int[] tp = tapList.get(k);
            // tp: phase, rel, rowLo, rowHi, colLo, colHi, filterTap
            shift[k] = Math.toIntExact((long) tp[0] * layout.subLen + layout.lead + tp[1]);
            rowLo[k] = tp[2];
            rowHi[k] = tp[3];
            colLo[k] = tp[4];
            colHi[k] = tp[5];
            filterTap[k] = tp[6];
        }
        this.outRowOff = outRowOff;
        this.outRowStep = outRowStep;
        this.outColOff = outColOff;
        this.outColStep = outColStep;
    }

    /** @return true if tap k has at least one valid pixel in output rows {@code [p0, p1)} */
    boolean active(int k, int p0, int p1) {
        return colLo[k] < colHi[k] && Math.max(p0, rowLo[k]) < Math.min(p1, rowHi[k]);
    }

    /**
     * The forward gather: output grid OH x OW, input the source planes split by stride phase.
     *
     * @throws ArithmeticException if a packed plane would not fit in a Java array
     */
    static Gather forward(ConvShape s, ConvParams p) {
        int ih = Math.toIntExact(s.ih());
        int iw = Math.toIntExact(s.iw());
        int oh = Math.toIntExact(s.oh());
        int ow = Math.toIntExact(s.ow());
        int fh = Math.toIntExact(s.fh());
        int fw = Math.toIntExact(s.fw());
        int sh = p.strideH();
        int sw = p.strideW();
        boolean flip = p.mode() == Mode.CONVOLUTION;
        int pitch = Math.max(ow, ceilDiv(iw, sw));
        List<long[]> raw = new ArrayList<>();
        long minRel = 0;
        long maxEnd = (long) ceilDiv(ih, sh) * pitch;
        for (int kh = 0; kh < fh; kh++) {
            long offH = (long) kh * p.dilationH() - p.padH();
            long rs = Math.floorDiv(offH, sh);
            int rho = Math.floorMod(offH, sh);
            int pLo = (int) Math.min(oh, Math.max(0, ceilDiv(-offH, sh)));
            int pHi = (int) Math.max(pLo, Math.min(oh, Math.floorDiv(ih - 1 - offH, sh) + 1));
            for (int kw = 0; kw < fw; kw++) {
                long offW = (long) kw * p.dilationW() - p.padW();
                long cs = Math.floorDiv(offW, sw);
                int phi = Math.floorMod(offW, sw);
                int qLo = (int) Math.min(ow, Math.max(0, ceilDiv(-offW, sw)));
                int qHi = (int) Math.max(qLo, Math.min(ow, Math.floorDiv(iw - 1 - offW, sw) + 1));
                long rel = rs * pitch + cs;
                minRel = Math.min(minRel, rel);
                maxEnd = Math.max(maxEnd, rel + (long) oh * pitch);
                int ft = (flip ? fh - 1 - kh : kh) * fw + (flip ? fw - 1 - kw : kw);
                raw.add(new long[] {rho * sw + phi, rel, pLo, pHi, qLo, qHi, ft});
            }
        }
        int lead = Math.toIntExact(-minRel);
        int subLen = Math.toIntExact(lead + maxEnd);
        PlaneLayout layout = new PlaneLayout(ih, iw, sh, sw, pitch, lead, subLen);
        return new Gather(layout, oh, ow, pitch, toInts(raw), 0, 1, 0, 1);
    }

    /**
     * The backward-data gathers, one per stride phase {@code (rh, rw)} of grad src that contains at
     * least one pixel; all read diff planes packed with the same layout.
     *
     * @throws ArithmeticException if a packed plane would not fit in a Java array
     */
    static Gather[] backwardData(ConvShape s, ConvParams p) {
        int ih = Math.toIntExact(s.ih());
        int iw = Math.toIntExact(s.iw());
        int oh = Math.toIntExact(s.oh());
        int ow = Math.toIntExact(s.ow());
        int fh = Math.toIntExact(s.fh());
        int fw = Math.toIntExact(s.fw());
        int sh = p.strideH();
        int sw = p.strideW();
        boolean flip = p.mode() == Mode.CONVOLUTION;
        int pitch = Math.max(ow, ceilDiv(iw, sw));
        List<List<long[]>> perClass = new ArrayList<>();
        List<int[]> classes = new ArrayList<>();
        long minRel = 0;
        long maxEnd = (long) oh * pitch;
        for (int rh = 0; rh < Math.min(sh, ih); rh++) {
            int rows = ceilDiv(ih - rh, sh);
            for (int rw = 0; rw < Math.min(sw, iw); rw++) {
                int cols = ceilDiv(iw - rw, sw);
                List<long[]> raw = new ArrayList<>();
                for (int kh = 0; kh < fh; kh++) {
                    long numH = rh + (long) p.padH() - (long) kh * p.dilationH();
                    if (Math.floorMod(numH, sh) != 0) {
                        continue;
                    }
                    long rs = Math.floorDiv(numH, sh);
                    int pLo = (int) Math.min(rows, Math.max(0, -rs));
                    int pHi = (int) Math.max(pLo, Math.min(rows, oh - rs));
                    for (int kw = 0; kw < fw; kw++) {
                        long numW = rw + (long) p.padW() - (long) kw * p.dilationW();
                        if (Math.floorMod(numW, sw) != 0) {
                            continue;
                        }
                        long cs = Math.floorDiv(numW, sw);
                        int qLo = (int) Math.min(cols, Math.max(0, -cs));
                        int qHi = (int) Math.max(qLo, Math.min(cols, ow - cs));
                        long rel = rs * pitch + cs;
                        minRel = Math.min(minRel, rel);
                        maxEnd = Math.max(maxEnd, rel + (long) rows * pitch);
                        int ft = (flip ? fh - 1 - kh : kh) * fw + (flip ? fw - 1 - kw : kw);
                        raw.add(new long[] {0, rel, pLo, pHi, qLo, qHi, ft});
                    }
                }
                perClass.add(raw);
                classes.add(new int[] {rh, rw, rows, cols});
            }
        }
        int lead = Math.toIntExact(-minRel);
        int subLen = Math.toIntExact(lead + maxEnd);
        PlaneLayout layout = new PlaneLayout(oh, ow, 1, 1, pitch, lead, subLen);
        Gather[] out = new Gather[classes.size()];
        for (int c = 0; c < out.length; c++) {
            int[] cl = classes.get(c);
            out[c] = new Gather(layout, cl[2], cl[3], pitch, toInts(perClass.get(c)), cl[0], sh, cl[1], sw);
        }
        return out;
    }

    private static List<int[]> toInts(List<long[]> raw) {
        List<int[]> out = new ArrayList<>(raw.size());
        for (long[] r : raw) {
            int[] v = new int[r.length];
            for (int i = 0; i < r.length; i++) {
                v[i] = Math.toIntExact(r[i]);
            }
            out.add(v);
        }
        return out;
    }

    static int ceilDiv(int a, int b) {
        return -Math.floorDiv(-a, b);
    }

    static long ceilDiv(long a, long b) {
        return -Math.floorDiv(-a, b);
    }
}
