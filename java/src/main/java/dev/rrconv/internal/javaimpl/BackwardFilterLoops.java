package dev.rrconv.internal.javaimpl;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Backward filter: {@code grad[g, co, ci, k] = sum over n, t of src[n, g*cin+ci][t + shift[k]] *
 * diff[n, g*cout+co][t]} over the taps the mask lets through, on the forward {@link Gather} grid.
 *
 * <p>The data is cut into units (image, segment of output rows) and the units into chunks, both
 * fixed by the problem shape alone. Each chunk yields a partial gradient (double); partial gradients
 * are added in chunk order at the end, so results do not depend on the thread count. Tasks are (chunk, block of
 * output channels); a task builds the tap masks of each unit once for all its channels.
 * <ul>
 * <li>lane path (few channels per group, e.g. depthwise): per (channel, ci, tap) a segment-long double
 *     row of lane sums {@code P += (x * m) * d}, accumulated over the chunk and folded once at its end;</li>
 * <li>GEMM path (many output channels): per block of pixels, rows {@code XT[t][ci*taps + k]} of masked
 *     inputs, then {@code C[co][:] += d0*XT[t0] + d1*XT[t1] + ...} vectorized over (ci, tap).</li>
 * </ul>
 * Partial sums that turned NaN (possibly from a non-finite value at a masked tap) are recomputed
 * exactly by skipping masked taps.
 */
public final class BackwardFilterLoops {
    /** Target pixels per unit (segment of rows). */
    private static final int SEGMENT = 256;
    /** Minimum units per chunk, so that folding lane rows stays cheap. */
    private static final int MIN_UNITS = 8;
    /** Cap on the floats held by all partial gradients together. */
    private static final long PARTIAL_BUDGET = 1L << 22;
    /** Cap on the doubles of lane rows one task holds. */
    private static final long LANE_BUDGET = 1L << 19;
    /** Cap on the mask floats of the units one task holds at once. */
    private static final long MASK_BUDGET = 1L << 18;
    /** Pixels per GEMM step. */
    private static final int PIXEL_BLOCK = 64;

    private final Gather geo;
    private final int images;
    private final int groups;
    private final int cin;
    private final int cout;
    private final float[][] src;
    private final float[][] diff;
    private final int[][] inMask;
    private final int[][] outMask;
    private final int segRows;
    private final int segsPerImage;
    private final int units;
    private final int unitsPerChunk;
    private final int chunks;
    private final int blocks;
    private final boolean gemm;
    private final int filterSize;
    private final double[][] partial;

    private BackwardFilterLoops(Gather geo, int images, int groups, int cin, int cout, float[][] src, float[][] diff,
                                int[][] inMask, int[][] outMask, int threads) {
        this.geo = geo;
        this.images = images;
        this.groups = groups;
        this.cin = cin;
        this.cout = cout;
        this.src = src;
        this.diff = diff;
        this.inMask = inMask;
        this.outMask = outMask;
        int taps = geo.taps;
        segRows = Math.max(1, Math.min(geo.rows, SEGMENT / geo.pitch));
        segsPerImage = Gather.ceilDiv(geo.rows, segRows);
        units = Math.multiplyExact(images, segsPerImage);
        filterSize = Math.multiplyExact(Math.multiplyExact(groups * cout, cin), taps);
        long byBudget = Gather.ceilDiv((long) units * filterSize, PARTIAL_BUDGET);
        unitsPerChunk = (int) Math.min(units, Math.max(MIN_UNITS, byBudget));
        chunks = Gather.ceilDiv(units, unitsPerChunk);
        gemm = cout >= 4 && (long) cin * taps >= 32;
        int total = groups * cout;
        long minBlocks = 1;
        if (!gemm) {
            long perOutput = (long) cin * taps * segRows * geo.pitch;
            minBlocks = Gather.ceilDiv(total * perOutput, LANE_BUDGET);
        }
        long wanted = threads <= 1 ? 1 : Gather.ceilDiv((gemm ? 2L : 4L) * threads, chunks);
        blocks = (int) Math.max(1, Math.min(total, Math.max(minBlocks, wanted)));
        partial = new double[chunks][];
    }

    /**
     * The size check of {@link #run}: whether every array and int count it uses fits.
     *
     * @param s the problem
     * @param p its parameters
     * @return null if {@link #run} can take the problem, else why not, in words
     */
    public static String whyNot(ConvShape s, ConvParams p) {
        Limits limits = Limits.dims(s);
        if (limits.why() != null) {
            return limits.why();
        }
        Gather.ForwardPlan plan = Gather.forwardPlan(s, p);
        long segLen = Math.max(1, Math.min(s.oh(), SEGMENT / plan.pitch())) * plan.pitch();
        return limits.fit("a packed source plane", plan.planeLength())
                .fit("the source planes (N*IC)", Limits.product(s.n(), s.ic()))
                .fit("the diff planes (N*OC)", Limits.product(s.n(), s.oc()))
                .fit("the output grid (OH*pitch)", Limits.product(s.oh(), plan.pitch()))
                .fit("the filter (OC*ICPG*FH*FW)", Limits.product(s.oc(), s.icpg(), s.fh(), s.fw()))
                .fit("the units (N*OH)", Limits.product(s.n(), s.oh()))
                .fit("a staged segment (span*ICPG)",
                        Limits.product(segLen + plan.maxShift() - plan.minShift(), s.icpg()))
                .why();
    }

    /**
     * gradFilter = d(forward)/d(filter) applied to diff; arguments as in {@code ConvBackend.backwardFilter}.
     * Only for problems {@link #whyNot} accepts.
     *
     * @param threads thread count
     */
    public static void run(ConvShape s, ConvParams p, Tensor srcT, Tensor diffT, Tensor rin, Tensor rout,
                           Tensor gradFilter, int threads) {
        Gather geo = Gather.forward(s, p);
        PlaneLayout layout = geo.layout;
        int n = Math.toIntExact(s.n());
        int g = Math.toIntExact(s.groups());
        int icpg = Math.toIntExact(s.icpg());
        int ocpg = Math.toIntExact(s.ocpg());
        int ic = Math.multiplyExact(g, icpg);
        int oc = Math.multiplyExact(g, ocpg);
        int srcPlanes = Math.multiplyExact(n, ic);
        int diffPlanes = Math.multiplyExact(n, oc);
        int outLen = Math.multiplyExact(geo.rows, geo.pitch);
        PlaneLayout diffLayout = new PlaneLayout(geo.rows, geo.cols, 1, 1, geo.pitch, 0, outLen);
        float[][] src = Workspace.get().rows(Workspace.IMAGES, srcPlanes, layout.length);
        float[][] diff = Workspace.get().rows(Workspace.RESULTS, diffPlanes, outLen);
        int[][] inMask = new int[n][];
        int[][] outMask = new int[n][];
        boolean shared = Packing.sharable(srcT) && Packing.sharable(diffT) && Packing.sharable(rin)
                && Packing.sharable(rout);
        Parallel.forEach(srcPlanes + diffPlanes + n, shared ? threads : 1, i -> {
            Workspace ws = Workspace.get();
            if (i < srcPlanes) {
                Packing.packPlane(srcT, i / ic, i % ic, layout, src[i], ws);
            } else if (i < srcPlanes + diffPlanes) {
                int j = i - srcPlanes;
                Packing.packPlane(diffT, j / oc, j % oc, diffLayout, diff[j], ws);
            } else {
                int img = i - srcPlanes - diffPlanes;
                inMask[img] = new int[layout.length];
                Packing.packMask(rin, img, layout, inMask[img], ws);
                outMask[img] = new int[outLen];
                Packing.packMaskGrid(rout, img, 0, 1, geo.rows, 0, 1, geo.cols, geo.pitch, outMask[img]);
            }
        });
        BackwardFilterLoops bf = new BackwardFilterLoops(geo, n, g, icpg, ocpg, src, diff, inMask, outMask, threads);
        for (int c = 0; c < bf.chunks; c++) {
            bf.partial[c] = new double[bf.filterSize];
        }
        Parallel.forEach(bf.chunks * bf.blocks, threads, bf::task);
        double[] total = bf.reduce(threads);
        bf.store(total, gradFilter, s);
    }

    private void task(int t) {
        int chunk = t / blocks;
        int blk = t % blocks;
        int total = groups * cout;
        int oc0 = (int) ((long) blk * total / blocks);
        int oc1 = (int) ((long) (blk + 1) * total / blocks);
        if (oc0 >= oc1) {
            return;
        }
        int u0 = chunk * unitsPerChunk;
        int u1 = Math.min(units, u0 + unitsPerChunk);
        if (gemm) {
            for (int g = oc0 / cout; g * cout < oc1; g++) {
                int c0 = Math.max(oc0, g * cout) - g * cout;
                int c1 = Math.min(oc1, (g + 1) * cout) - g * cout;
                gemmTask(chunk, u0, u1, g, c0, c1);
            }
        } else {
            laneTask(chunk, u0, u1, oc0, oc1);
        }
        repair(chunk, u0, u1, oc0, oc1);
    }

    /** Builds the tap masks of one unit (see {@code GatherConv.buildMasks}); returns the active flags. */
    private boolean[] masks(int n, int p0, int p1, float[][] m) {
        boolean[] active = new boolean[geo.taps];
        int pitch = geo.pitch;
        int t0 = p0 * pitch;
        int len = (p1 - p0) * pitch;
        for (int k = 0; k < geo.taps; k++) {
            active[k] = geo.active(k, p0, p1);
            if (!active[k]) {
                continue;
            }
            float[] mk = m[k];
            Kernels.equalMask(mk, inMask[n], t0 + geo.shift[k], outMask[n], t0, len);
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
        return active;
    }

    /**
     * The lane path for output channels {@code [oc0, oc1)}: lane row (oc, ci, k) holds one double per
     * pixel position of a unit; each unit adds its masked products there, and
     * the row is folded into the partial gradient once, at the end of the chunk.
     */
    private void laneTask(int chunk, int u0, int u1, int oc0, int oc1) {
        Workspace ws = Workspace.get();
        int taps = geo.taps;
        int pitch = geo.pitch;
        int segLen = segRows * pitch;
        int laneRows = (oc1 - oc0) * cin * taps;
        double[][] lanes = ws.doubleRows(Workspace.LANE, laneRows, segLen);
        for (int r = 0; r < laneRows; r++) {
            Arrays.fill(lanes[r], 0, segLen, 0.0);
        }
        int window = (int) Math.max(1, Math.min(u1 - u0, MASK_BUDGET / ((long) Math.max(1, taps) * segLen)));
        float[][] m = ws.rows(Workspace.MASK, window * Math.max(1, taps), segLen);
        float[][] mu = new float[Math.max(1, taps)][];
        boolean[][] active = new boolean[window][];
        for (int w0 = u0; w0 < u1; w0 += window) {
            int w1 = Math.min(u1, w0 + window);
            for (int u = w0; u < w1; u++) {
                System.arraycopy(m, (u - w0) * taps, mu, 0, taps);
                int p0 = (u % segsPerImage) * segRows;
                active[u - w0] = masks(u / segsPerImage, p0, Math.min(geo.rows, p0 + segRows), mu);
            }
            for (int oc = oc0; oc < oc1; oc++) {
                int g = oc / cout;
                for (int ci = 0; ci < cin; ci++) {
                    int lr = ((oc - oc0) * cin + ci) * taps;
                    for (int k = 0; k < taps; k++) {
                        double[] lane = lanes[lr + k];
                        for (int u = w0; u < w1; u++) {
                            if (active[u - w0][k]) {
                                accumulate(lane, u, w0, oc, g, ci, k, m);
                            }
                        }
                    }
                }
            }
        }
        double[] part = partial[chunk];
        double[] scratch = ws.doubleRows(Workspace.X, 1, segLen)[0];
        for (int oc = oc0; oc < oc1; oc++) {
            for (int ci = 0; ci < cin; ci++) {
                int lr = ((oc - oc0) * cin + ci) * taps;
                int f = (oc * cin + ci) * taps;
                for (int k = 0; k < taps; k++) {
                    part[f + k] = Kernels.foldSum(lanes[lr + k], scratch, segLen);
                }
            }
        }
    }

    /** Adds unit u of the current mask window, tap k, into a lane row. */
    private void accumulate(double[] lane, int u, int w0, int oc, int g, int ci, int k, float[][] m) {
        int n = u / segsPerImage;
        int p0 = (u % segsPerImage) * segRows;
        int t0 = p0 * geo.pitch;
        Kernels.maskedProductAccumulate(lane, src[(n * groups + g) * cin + ci], t0 + geo.shift[k],
                m[(u - w0) * geo.taps + k], diff[n * groups * cout + oc], t0, lo(k, p0),
                hi(k, p0, Math.min(geo.rows, p0 + segRows)));
    }

    /** First index of unit rows {@code [p0, ...)} where tap k can be valid. */
    private int lo(int k, int p0) {
        return (Math.max(p0, geo.rowLo[k]) - p0) * geo.pitch + geo.colLo[k];
    }

    /** One past the last index of unit rows {@code [p0, p1)} where tap k can be valid. */
    private int hi(int k, int p0, int p1) {
        return (Math.min(p1, geo.rowHi[k]) - 1 - p0) * geo.pitch + geo.colHi[k];
    }

    /**
     * The GEMM path for output channels {@code [c0, c1)} of group g: per unit, the group's input planes
     * are transposed to pixel-major rows ({@code st[t][ci]}); for each pixel the row of masked inputs
     * {@code xt[k*cin + ci]} is then a copy of one transposed row per tap (or zeros where the tap is
     * masked: skipped taps contribute exact zeros), and blocks of such rows update every channel's
     * gradient row with {@code acc[co][:] += d0*xt0 + d1*xt1 + d2*xt2 + d3*xt3}.
     */
    private void gemmTask(int chunk, int u0, int u1, int g, int c0, int c1) {
        Workspace ws = Workspace.get();
        int taps = geo.taps;
        int pitch = geo.pitch;
        int segLen = segRows * pitch;
        int jn = cin * taps;
        int nco = c1 - c0;
        float[][] acc = ws.rows(Workspace.ACC, nco, jn);
        for (int i = 0; i < nco; i++) {
            Arrays.fill(acc[i], 0, jn, 0f);
        }
        float[][] xt = ws.rows(Workspace.X, PIXEL_BLOCK, jn);
        float[][] dv = ws.rows(Workspace.DIFF, nco, PIXEL_BLOCK);
        float[][] m = ws.rows(Workspace.MASK, Math.max(1, taps), segLen);
        int[] shift = geo.shift;
        int minShift = Integer.MAX_VALUE;
        int maxShift = Integer.MIN_VALUE;
        for (int k = 0; k < taps; k++) {
            minShift = Math.min(minShift, shift[k]);
            maxShift = Math.max(maxShift, shift[k]);
        }
        int span = segLen + maxShift - minShift;
        float[] st = ws.row(Workspace.TMP, Math.multiplyExact(span, cin));
        for (int u = u0; u < u1; u++) {
            int n = u / segsPerImage;
            int p0 = (u % segsPerImage) * segRows;
            int p1 = Math.min(geo.rows, p0 + segRows);
            int t0 = p0 * pitch;
            boolean[] active = masks(n, p0, p1, m);
            int srcBase = (n * groups + g) * cin;
            int diffBase = (n * groups + g) * cout + c0;
            int base = t0 + minShift;
            int rows = (p1 - p0) * pitch + maxShift - minShift;
            for (int ci = 0; ci < cin; ci++) {
                float[] plane = src[srcBase + ci];
                for (int r = 0, at = ci; r < rows; r++, at += cin) {
                    st[at] = plane[base + r];
                }
            }
            int filled = 0;
            for (int p = p0; p < p1; p++) {
                for (int q = 0; q < geo.cols; q++) {
                    int t = p * pitch + q;
                    int i = t - t0;
                    float[] row = xt[filled];
                    for (int k = 0; k < taps; k++) {
                        if (active[k] && m[k][i] != 0f) {
                            int from = (t + shift[k] - base) * cin;
                            if (cin >= 16) {
                                System.arraycopy(st, from, row, k * cin, cin);
                            } else {
                                for (int c = 0; c < cin; c++) {
                                    row[k * cin + c] = st[from + c];
                                }
                            }
                        } else {
                            Arrays.fill(row, k * cin, (k + 1) * cin, 0f);
                        }
                    }
                    for (int co = 0; co < nco; co++) {
                        dv[co][filled] = diff[diffBase + co][t];
                    }
                    if (++filled == PIXEL_BLOCK) {
                        gemmStep(acc, xt, dv, nco, filled, jn);
                        filled = 0;
                    }
                }
            }
            if (filled > 0) {
                gemmStep(acc, xt, dv, nco, filled, jn);
            }
        }
        double[] part = partial[chunk];
        for (int co = 0; co < nco; co++) {
            int f = (g * cout + c0 + co) * cin * taps;
            float[] a = acc[co];
            for (int ci = 0; ci < cin; ci++) {
                for (int k = 0; k < taps; k++) {
                    part[f + ci * taps + k] = a[k * cin + ci];
                }
            }
        }
    }

    /** acc[co] += sum over pixels j of dv[co][j] * xt[j], j in increasing order. */
    private static void gemmStep(float[][] acc, float[][] xt, float[][] dv, int nco, int filled, int jn) {
        int co = 0;
        for (; co + 2 <= nco; co += 2) {
            float[] a0 = acc[co];
            float[] a1 = acc[co + 1];
            float[] d = dv[co];
            float[] e = dv[co + 1];
            int j = 0;
            for (; j + 4 <= filled; j += 4) {
                Kernels.axpy4x2(a0, a1, xt[j], xt[j + 1], xt[j + 2], xt[j + 3], d[j], d[j + 1], d[j + 2], d[j + 3],
                        e[j], e[j + 1], e[j + 2], e[j + 3], jn);
            }
            for (; j < filled; j++) {
                Kernels.axpy1(a0, xt[j], d[j], jn);
                Kernels.axpy1(a1, xt[j], e[j], jn);
            }
        }
        for (; co < nco; co++) {
            float[] a = acc[co];
            float[] d = dv[co];
            int j = 0;
            for (; j + 4 <= filled; j += 4) {
                Kernels.axpy4(a, xt[j], xt[j + 1], xt[j + 2], xt[j + 3], d[j], d[j + 1], d[j + 2], d[j + 3], jn);
            }
            for (; j < filled; j++) {
                Kernels.axpy1(a, xt[j], d[j], jn);
            }
        }
    }

    /** Recomputes, skipping masked taps, every partial sum of the task that came out NaN. */
    private void repair(int chunk, int u0, int u1, int oc0, int oc1) {
        double[] part = partial[chunk];
        int taps = geo.taps;
        for (int oc = oc0; oc < oc1; oc++) {
            int g = oc / cout;
            for (int ci = 0; ci < cin; ci++) {
                int f = (oc * cin + ci) * taps;
                for (int k = 0; k < taps; k++) {
                    if (part[f + k] != part[f + k]) {
                        part[f + k] = exact(u0, u1, g, oc, ci, k);
                    }
                }
            }
        }
    }

    private double exact(int u0, int u1, int g, int oc, int ci, int k) {
        double s = 0;
        int pitch = geo.pitch;
        int sh = geo.shift[k];
        for (int u = u0; u < u1; u++) {
            int n = u / segsPerImage;
            int p0 = (u % segsPerImage) * segRows;
            int p1 = Math.min(geo.rows, p0 + segRows);
            float[] plane = src[(n * groups + g) * cin + ci];
            float[] d = diff[n * groups * cout + oc];
            int[] im = inMask[n];
            int[] om = outMask[n];
            for (int p = Math.max(p0, geo.rowLo[k]); p < Math.min(p1, geo.rowHi[k]); p++) {
                for (int q = geo.colLo[k]; q < geo.colHi[k]; q++) {
                    int t = p * pitch + q;
                    if (im[t + sh] == om[t]) {
                        s += (double) (plane[t + sh] * d[t]);
                    }
                }
            }
        }
        return s;
    }

    /** Sums the partial gradients in chunk order. */
    private double[] reduce(int threads) {
        double[] total = partial[0];
        if (chunks == 1) {
            return total;
        }
        int pieces = Math.max(1, Math.min(threads * 4, filterSize / 4096));
        Parallel.forEach(pieces, threads, piece -> {
            int lo = (int) ((long) piece * filterSize / pieces);
            int hi = (int) ((long) (piece + 1) * filterSize / pieces);
            for (int c = 1; c < chunks; c++) {
                double[] part = partial[c];
                for (int i = lo; i < hi; i++) {
                    total[i] = total[i] + part[i];
                }
            }
        });
        return total;
    }

    /** Writes the gradient, tap k going to its stored (un-flipped) filter position. */
    private void store(double[] total, Tensor gradFilter, ConvShape s) {
        MemorySegment seg = gradFilter.segment();
        int fw = Math.toIntExact(s.fw());
        int taps = geo.taps;
        for (int g = 0; g < groups; g++) {
            for (int co = 0; co < cout; co++) {
                for (int ci = 0; ci < cin; ci++) {
                    int f = ((g * cout + co) * cin + ci) * taps;
                    for (int k = 0; k < taps; k++) {
                        int ft = geo.filterTap[k];
                        long off = g * gradFilter.stride(0) + co * gradFilter.stride(1) + ci * gradFilter.stride(2)
                                + (ft / fw) * gradFilter.stride(3) + (ft % fw) * gradFilter.stride(4);
                        Packing.setFloat(seg, gradFilter.dtype(), off, (float) total[f + k]);
                    }
                }
            }
        }
    }
}
