package dev.rrconv.internal.javaimpl;

import java.util.Arrays;

/**
 * The compute engine shared by forward and backward data: a grouped "gather" convolution
 * {@code out[n, g*cout+co, t] = sum over ci, k of w[g, co, ci, k] * in[n, g*cin+ci][t + shift[k]]},
 * restricted to taps inside the image whose input region equals the output region, over one or more
 * {@link Gather} grids (backward data has one per stride phase).
 *
 * <p>Work is split into tasks (image, band of output rows, block of output channels). A task first
 * builds, once for all its channels, one 0/1 mask row per tap over its band (the mask does not
 * depend on the channel), then for each output channel accumulates a band-long row:
 * <ul>
 * <li>direct path (one output channel per group): per (input channel, pair of taps)
 *     {@code acc += w0 * (x0 * m0) + w1 * (x1 * m1)} straight from the packed plane, with float
 *     products and a double accumulator;</li>
 * <li>GEMM path (several output channels per group): per block of (input channel, tap) pairs build
 *     masked input rows {@code X[j] = x * m} once, then update every output channel's row with
 *     register-blocked {@code acc += w0*X[j] + w1*X[j+1] + ...}.</li>
 * </ul>
 * Every output element is computed by one task as a sum over (ci, k) in increasing order, whatever the
 * blocking, so results do not depend on the thread count (the GEMM path's float sums even equal plain
 * sequential float sums bit for bit; the direct path's equal sequential double sums of float products).
 * Outputs that may have met a non-finite value at a masked tap are checked for NaN and recomputed
 * exactly (see {@link Kernels}).
 */
final class GatherConv {
    /** Rows of masked inputs built per GEMM step. */
    private static final int X_BLOCK = 16;

    private final Gather[] geos;
    private final int images;
    private final int groups;
    private final int cin;
    private final int cout;
    private final float[][] weights;
    private final boolean[][] weightFinite;
    private final float[][] in;
    private final boolean[] groupFinite;
    private final int[][] inMask;
    private final int[][][] outMask;
    private final Output out;
    private final boolean gemm;
    private final int[] bandRows;
    private final int[] bands;
    private final int blocks;
    private final int[] taskStart;

    /**
     * @param geos the grids (all reading planes packed with {@code geos[0].layout})
     * @param images N
     * @param groups G
     * @param cin input channels per group
     * @param cout output channels per group
     * @param weights per grid: {@code [((g*cout + co)*cin + ci)*taps + k]}
     * @param weightFinite per grid: {@code [g*cout + co]}, false if a weight of that channel is not finite
     * @param in packed input planes {@code [(n*groups + g)*cin + ci]}
     * @param groupFinite {@code [n*groups + g]}: false if an input plane of that group is not finite
     * @param inMask per image, the input regions packed like the input planes
     * @param outMask per grid and image, the output regions at {@code [p*pitch + q]}
     * @param out the destination; row p of grid c lands at row {@code outRowOff + p*outRowStep}
     * @param threads thread count (only used to size the partition, never the arithmetic)
     */
    GatherConv(Gather[] geos, int images, int groups, int cin, int cout, float[][] weights, boolean[][] weightFinite,
               float[][] in, boolean[] groupFinite, int[][] inMask, int[][][] outMask, Output out, int threads) {
        this.geos = geos;
        this.images = images;
        this.groups = groups;
        this.cin = cin;
        this.cout = cout;
        this.weights = weights;
        this.weightFinite = weightFinite;
        this.in = in;
        this.groupFinite = groupFinite;
        this.inMask = inMask;
        this.outMask = outMask;
        this.out = out;
        this.gemm = cout >= 2;
        bandRows = new int[geos.length];
        bands = new int[geos.length];
        long base = 0;
        for (int c = 0; c < geos.length; c++) {
            Gather g = geos[c];
            int target;
            if (gemm) {
                target = clamp(131072 / (cout + X_BLOCK + g.taps), 256, 2048);
            } else {
                target = clamp(65536 / Math.max(1, g.taps), 512, 4096);
            }
            bandRows[c] = clamp(target / g.pitch, 1, g.rows);
            bands[c] = Gather.ceilDiv(g.rows, bandRows[c]);
            base += (long) images * bands[c];
        }
        long wanted = threads <= 1 ? 1 : 4L * threads;
        blocks = (int) Math.max(1, Math.min((long) groups * cout, (wanted + base - 1) / base));
        taskStart = new int[geos.length + 1];
        for (int c = 0; c < geos.length; c++) {
            taskStart[c + 1] = Math.addExact(taskStart[c], Math.multiplyExact(images * bands[c], blocks));
        }
    }

    private static int clamp(int v, int lo, int hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    /** Runs all tasks. */
    void run(int threads) {
        Parallel.forEach(taskStart[geos.length], threads, this::task);
    }

    private void task(int t) {
        int c = 0;
        while (t >= taskStart[c + 1]) {
            c++;
        }
        int local = t - taskStart[c];
        int blk = local % blocks;
        local /= blocks;
        int band = local % bands[c];
        int n = local / bands[c];
        Gather geo = geos[c];
        int p0 = band * bandRows[c];
        int p1 = Math.min(geo.rows, p0 + bandRows[c]);
        int total = groups * cout;
        int oc0 = (int) ((long) blk * total / blocks);
        int oc1 = (int) ((long) (blk + 1) * total / blocks);
        if (oc0 >= oc1) {
            return;
        }
        Workspace ws = Workspace.get();
        int len = (p1 - p0) * geo.pitch;
        float[][] m = ws.rows(Workspace.MASK, Math.max(1, geo.taps), len);
        boolean[] active = new boolean[geo.taps];
        buildMasks(geo, inMask[n], outMask[c][n], p0, p1, m, active);
        if (gemm) {
            for (int g = oc0 / cout; g * cout < oc1; g++) {
                int c0 = Math.max(oc0, g * cout) - g * cout;
                int c1 = Math.min(oc1, (g + 1) * cout) - g * cout;
                gemmGroup(c, n, g, c0, c1, p0, p1, m, active, ws);
            }
        } else {
            for (int oc = oc0; oc < oc1; oc++) {
                direct(c, n, oc / cout, oc % cout, p0, p1, m, active, ws);
            }
        }
    }

    /**
     * Fills {@code m[k][0, len)} with the 0/1 predicate of tap k over output rows {@code [p0, p1)}:
     * regions equal and the tap inside the image. Taps with no valid pixel in the band are marked
     * inactive and left unfilled.
     */
    private static void buildMasks(Gather geo, int[] inM, int[] outM, int p0, int p1, float[][] m, boolean[] active) {
        int pitch = geo.pitch;
        int t0 = p0 * pitch;
        int len = (p1 - p0) * pitch;
        for (int k = 0; k < geo.taps; k++) {
            active[k] = geo.active(k, p0, p1);
            if (!active[k]) {
                continue;
            }
            float[] mk = m[k];
            Kernels.equalMask(mk, inM, t0 + geo.shift[k], outM, t0, len);
            for (int p = p0; p < p1; p++) {
                int off = (p - p0) * pitch;
                if (p < geo.rowLo[k] || p >= geo.rowHi[k]) {
                    Arrays.fill(mk, off, off + pitch, 0f);
                } else {
                    Arrays.fill(mk, off, off + geo.colLo[k], 0f);
                    Arrays.fill(mk, off + geo.colHi[k], off + pitch, 0f);
                }
            }
        }
    }

    /** First index of the band row range where tap k can be valid. */
    private static int lo(Gather geo, int k, int p0) {
        return (Math.max(p0, geo.rowLo[k]) - p0) * geo.pitch + geo.colLo[k];
    }

    /** One past the last index of the band row range where tap k can be valid. */
    private static int hi(Gather geo, int k, int p0, int p1) {
        return (Math.min(p1, geo.rowHi[k]) - 1 - p0) * geo.pitch + geo.colHi[k];
    }

    private void direct(int c, int n, int g, int co, int p0, int p1, float[][] m, boolean[] active, Workspace ws) {
        Gather geo = geos[c];
        int len = (p1 - p0) * geo.pitch;
        int t0 = p0 * geo.pitch;
        double[] acc = ws.doubleRows(Workspace.ACC, 1, len)[0];
        Arrays.fill(acc, 0, len, 0.0);
        float[] w = weights[c];
        for (int ci = 0; ci < cin; ci++) {
            float[] plane = in[(n * groups + g) * cin + ci];
            int wb = ((g * cout + co) * cin + ci) * geo.taps;
            int pending = -1;
            for (int k = 0; k < geo.taps; k++) {
                if (!active[k]) {
                    continue;
                }
                if (pending < 0) {
                    pending = k;
                    continue;
                }
                int a = pending;
                pending = -1;
                Kernels.maskedAxpy2(acc, plane, t0 + geo.shift[a], m[a], w[wb + a], t0 + geo.shift[k], m[k], w[wb + k],
                        Math.min(lo(geo, a, p0), lo(geo, k, p0)), Math.max(hi(geo, a, p0, p1), hi(geo, k, p0, p1)));
            }
            if (pending >= 0) {
                Kernels.maskedAxpy(acc, plane, t0 + geo.shift[pending], m[pending], w[wb + pending], lo(geo, pending, p0),
                        hi(geo, pending, p0, p1));
            }
        }
        if (!groupFinite[n * groups + g] || !weightFinite[c][g * cout + co]) {
            for (int p = p0; p < p1; p++) {
                for (int q = 0; q < geo.cols; q++) {
                    int i = (p - p0) * geo.pitch + q;
                    if (acc[i] != acc[i]) {
                        acc[i] = exactDouble(c, n, g, co, p0, i, m, active);
                    }
                }
            }
        }
        float[] row = ws.row(Workspace.TMP, len);
        Kernels.toFloat(row, acc, len);
        store(c, n, g * cout + co, p0, p1, row);
    }

    private void gemmGroup(int c, int n, int g, int c0, int c1, int p0, int p1, float[][] m, boolean[] active,
                           Workspace ws) {
        Gather geo = geos[c];
        int len = (p1 - p0) * geo.pitch;
        int t0 = p0 * geo.pitch;
        int nco = c1 - c0;
        float[][] acc = ws.rows(Workspace.ACC, nco, len);
        for (int i = 0; i < nco; i++) {
            Arrays.fill(acc[i], 0, len, 0f);
        }
        float[][] x = ws.rows(Workspace.X, X_BLOCK, len);
        float[] w = weights[c];
        int taps = geo.taps;
        int[] jci = new int[X_BLOCK];
        int[] jk = new int[X_BLOCK];
        int filled = 0;
        for (int ci = 0; ci < cin; ci++) {
            float[] plane = in[(n * groups + g) * cin + ci];
            for (int k = 0; k < taps; k++) {
                if (!active[k]) {
                    continue;
                }
                int lo = lo(geo, k, p0);
                int hi = hi(geo, k, p0, p1);
                float[] xr = x[filled];
                Arrays.fill(xr, 0, lo, 0f);
                System.arraycopy(plane, t0 + geo.shift[k] + lo, xr, lo, hi - lo);
                Kernels.multiply(xr, m[k], lo, hi);
                Arrays.fill(xr, hi, len, 0f);
                jci[filled] = ci;
                jk[filled] = k;
                if (++filled == X_BLOCK) {
                    gemmStep(w, taps, g, c0, c1, acc, x, jci, jk, filled, len);
                    filled = 0;
                }
            }
        }
        if (filled > 0) {
            gemmStep(w, taps, g, c0, c1, acc, x, jci, jk, filled, len);
        }
        for (int co = c0; co < c1; co++) {
            float[] a = acc[co - c0];
            if (!groupFinite[n * groups + g] || !weightFinite[c][g * cout + co]) {
                for (int p = p0; p < p1; p++) {
                    for (int q = 0; q < geo.cols; q++) {
                        int i = (p - p0) * geo.pitch + q;
                        if (a[i] != a[i]) {
                            a[i] = exactFloat(c, n, g, co, p0, i, m, active);
                        }
                    }
                }
            }
            store(c, n, g * cout + co, p0, p1, a);
        }
    }

    /** acc[co] += sum over the filled X rows j of w[g, co, jci[j], jk[j]] * X[j], j in increasing order. */
    private void gemmStep(float[] w, int taps, int g, int c0, int c1, float[][] acc, float[][] x, int[] jci, int[] jk,
                          int filled, int len) {
        int co = c0;
        for (; co + 2 <= c1; co += 2) {
            int wa = (g * cout + co) * cin * taps;
            int wb = wa + cin * taps;
            float[] a0 = acc[co - c0];
            float[] a1 = acc[co + 1 - c0];
            int j = 0;
            for (; j + 4 <= filled; j += 4) {
                int o0 = jci[j] * taps + jk[j];
                int o1 = jci[j + 1] * taps + jk[j + 1];
                int o2 = jci[j + 2] * taps + jk[j + 2];
                int o3 = jci[j + 3] * taps + jk[j + 3];
                Kernels.axpy4x2(a0, a1, x[j], x[j + 1], x[j + 2], x[j + 3], w[wa + o0], w[wa + o1], w[wa + o2],
                        w[wa + o3], w[wb + o0], w[wb + o1], w[wb + o2], w[wb + o3], len);
            }
            for (; j < filled; j++) {
                int o = jci[j] * taps + jk[j];
                Kernels.axpy1(a0, x[j], w[wa + o], len);
                Kernels.axpy1(a1, x[j], w[wb + o], len);
            }
        }
        for (; co < c1; co++) {
            int wa = (g * cout + co) * cin * taps;
            float[] a0 = acc[co - c0];
            int j = 0;
            for (; j + 4 <= filled; j += 4) {
                Kernels.axpy4(a0, x[j], x[j + 1], x[j + 2], x[j + 3], w[wa + jci[j] * taps + jk[j]],
                        w[wa + jci[j + 1] * taps + jk[j + 1]], w[wa + jci[j + 2] * taps + jk[j + 2]],
                        w[wa + jci[j + 3] * taps + jk[j + 3]], len);
            }
            for (; j < filled; j++) {
                Kernels.axpy1(a0, x[j], w[wa + jci[j] * taps + jk[j]], len);
            }
        }
    }

    /** Stores the band's rows of output channel {@code oc}. */
    private void store(int c, int n, int oc, int p0, int p1, float[] row) {
        Gather geo = geos[c];
        out.putRows(n, oc, geo.outRowOff + p0 * geo.outRowStep, geo.outRowStep, geo.outColOff, geo.outColStep, row,
                geo.pitch, p1 - p0, geo.cols);
    }

    /**
     * Output element i of the band as the GEMM path sums it (float, (ci, k) in increasing order) but
     * skipping masked taps instead of multiplying them by zero.
     */
    private float exactFloat(int c, int n, int g, int co, int p0, int i, float[][] m, boolean[] active) {
        Gather geo = geos[c];
        int t = p0 * geo.pitch + i;
        float[] w = weights[c];
        float s = 0f;
        for (int ci = 0; ci < cin; ci++) {
            float[] plane = in[(n * groups + g) * cin + ci];
            int wb = ((g * cout + co) * cin + ci) * geo.taps;
            for (int k = 0; k < geo.taps; k++) {
                if (active[k] && m[k][i] != 0f) {
                    s += w[wb + k] * plane[t + geo.shift[k]];
                }
            }
        }
        return s;
    }

    /** As {@link #exactFloat}, summed like the direct path: float products, double sums. */
    private double exactDouble(int c, int n, int g, int co, int p0, int i, float[][] m, boolean[] active) {
        Gather geo = geos[c];
        int t = p0 * geo.pitch + i;
        float[] w = weights[c];
        double s = 0;
        for (int ci = 0; ci < cin; ci++) {
            float[] plane = in[(n * groups + g) * cin + ci];
            int wb = ((g * cout + co) * cin + ci) * geo.taps;
            for (int k = 0; k < geo.taps; k++) {
                if (active[k] && m[k][i] != 0f) {
                    s += (double) (w[wb + k] * plane[t + geo.shift[k]]);
                }
            }
        }
        return s;
    }
}
