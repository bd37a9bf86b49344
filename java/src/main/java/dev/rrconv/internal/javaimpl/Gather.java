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
     * The sizes of the forward gather in long arithmetic, before anything is narrowed to int: what the size
     * checks of the loops ({@link Limits}) read. Needs every dimension of {@code s} to fit in an int.
     *
     * @param pitch the row pitch of the packed planes and of the output grid
     * @param lead zero elements before each packed sub-plane
     * @param subLen elements of one packed sub-plane (lead included)
     * @param planeLength elements of one packed plane ({@code strideH * strideW * subLen})
     * @param minShift the smallest {@code shift[k]}
     * @param maxShift the largest {@code shift[k]}
     * @param taps the taps (phase, rel, rowLo, rowHi, colLo, colHi, filterTap)
     */
    record ForwardPlan(long pitch, long lead, long subLen, long planeLength, long minShift, long maxShift,
                       List<long[]> taps) {}

    /** The forward gather's sizes, in long arithmetic; see {@link ForwardPlan}. */
    static ForwardPlan forwardPlan(ConvShape s, ConvParams p) {
        int ih = (int) s.ih();
        int iw = (int) s.iw();
        int oh = (int) s.oh();
        int ow = (int) s.ow();
        int fh = (int) s.fh();
        int fw = (int) s.fw();
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
        long lead = -minRel;
        long subLen = lead + maxEnd;
        long minShift = Long.MAX_VALUE;
        long maxShift = Long.MIN_VALUE;
        for (long[] tp : raw) {
            long shift = tp[0] * subLen + lead + tp[1];
            minShift = Math.min(minShift, shift);
            maxShift = Math.max(maxShift, shift);
        }
        return new ForwardPlan(pitch, lead, subLen, Limits.product(sh, sw, subLen), minShift, maxShift, raw);
    }

    /**
     * The forward gather: output grid OH x OW, input the source planes split by stride phase. The caller has
     * checked the sizes ({@code ForwardLoops.whyNot}): an {@link ArithmeticException} here is a bug.
     */
    static Gather forward(ConvShape s, ConvParams p) {
        ForwardPlan plan = forwardPlan(s, p);
        int pitch = Math.toIntExact(plan.pitch());
        PlaneLayout layout = new PlaneLayout(Math.toIntExact(s.ih()), Math.toIntExact(s.iw()), p.strideH(),
                p.strideW(), pitch, Math.toIntExact(plan.lead()), Math.toIntExact(plan.subLen()));
        return new Gather(layout, Math.toIntExact(s.oh()), Math.toIntExact(s.ow()), pitch, toInts(plan.taps()),
                0, 1, 0, 1);
    }

    /**
     * The sizes of the backward-data gathers in long arithmetic, before anything is narrowed to int (what
     * {@code BackwardDataLoops.whyNot} checks). Needs every dimension of {@code s} to fit in an int.
     *
     * @param pitch the row pitch of the packed diff planes and of the result grids
     * @param lead zero elements before each packed diff plane
     * @param planeLength elements of one packed diff plane (lead included)
     * @param classes per stride phase: {rh, rw, rows, cols}
     * @param taps per stride phase, its taps (0, rel, rowLo, rowHi, colLo, colHi, filterTap)
     */
    record BackwardDataPlan(long pitch, long lead, long planeLength, List<int[]> classes, List<List<long[]>> taps) {}

    /** The backward-data gathers' sizes, in long arithmetic; see {@link BackwardDataPlan}. */
    static BackwardDataPlan backwardDataPlan(ConvShape s, ConvParams p) {
        int ih = (int) s.ih();
        int iw = (int) s.iw();
        int oh = (int) s.oh();
        int ow = (int) s.ow();
        int fh = (int) s.fh();
        int fw = (int) s.fw();
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
        return new BackwardDataPlan(pitch, -minRel, maxEnd - minRel, classes, perClass);
    }

    /**
     * The backward-data gathers, one per stride phase {@code (rh, rw)} of grad src that contains at
     * least one pixel; all read diff planes packed with the same layout. The caller has checked the sizes
     * ({@code BackwardDataLoops.whyNot}): an {@link ArithmeticException} here is a bug.
     */
    static Gather[] backwardData(ConvShape s, ConvParams p) {
        BackwardDataPlan plan = backwardDataPlan(s, p);
        int pitch = Math.toIntExact(plan.pitch());
        PlaneLayout layout = new PlaneLayout(Math.toIntExact(s.oh()), Math.toIntExact(s.ow()), 1, 1, pitch,
                Math.toIntExact(plan.lead()), Math.toIntExact(plan.planeLength()));
        Gather[] out = new Gather[plan.classes().size()];
        for (int c = 0; c < out.length; c++) {
            int[] cl = plan.classes().get(c);
            out[c] = new Gather(layout, cl[2], cl[3], pitch, toInts(plan.taps().get(c)), cl[0], p.strideH(), cl[1],
                    p.strideW());
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
