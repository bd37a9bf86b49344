package dev.rrconv.internal.javaimpl;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.Tensor;

/**
 * Backward data: grad src is a gather over diff, done separately for each stride phase
 * {@code (ih mod strideH, iw mod strideW)} of grad src, so that each phase is a dense stride-1
 * gather with only the taps that reach it.
 */
public final class BackwardDataLoops {
    private BackwardDataLoops() {}

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
        Gather.BackwardDataPlan plan = Gather.backwardDataPlan(s, p);
        return limits.fit("a packed diff plane", plan.planeLength())
                .fit("the diff planes (N*OC)", Limits.product(s.n(), s.oc()))
                .fit("a result grid (rows*pitch)", Limits.product(Gather.ceilDiv(s.ih(), p.strideH()), plan.pitch()))
                .fit("the filter (OC*ICPG*FH*FW)", Limits.product(s.oc(), s.icpg(), s.fh(), s.fw()))
                .fit("the grad src planes (N*IC)", Limits.product(s.n(), s.ic()))
                .fit("a grad src plane (IH*IW)", Limits.product(s.ih(), s.iw()))
                .fit("the row tasks (N*IH*SW)", Limits.product(s.n(), s.ih(), p.strideW()) + Limits.TASK_SLACK)
                .why();
    }

    /**
     * gradSrc = transposed rrconv of diff; arguments as in {@code ConvBackend.backwardData}. Only for problems
     * {@link #whyNot} accepts.
     *
     * @param threads thread count
     */
    public static void run(ConvShape s, ConvParams p, Tensor filter, Tensor diff, Tensor rin, Tensor rout,
                           Tensor gradSrc, int threads) {
        Gather[] geos = Gather.backwardData(s, p);
        PlaneLayout layout = geos[0].layout;
        int n = Math.toIntExact(s.n());
        int g = Math.toIntExact(s.groups());
        int icpg = Math.toIntExact(s.icpg());
        int ocpg = Math.toIntExact(s.ocpg());
        int oc = Math.multiplyExact(g, ocpg);
        int planes = Math.multiplyExact(n, oc);
        float[][] in = Workspace.get().rows(Workspace.IMAGES, planes, layout.length);
        boolean[] finite = new boolean[planes];
        int[][] inMask = new int[n][];
        int[][][] outMask = new int[geos.length][n][];
        boolean shared = Packing.sharable(diff) && Packing.sharable(rin) && Packing.sharable(rout);
        Parallel.forEach(planes + n, shared ? threads : 1, i -> {
            Workspace ws = Workspace.get();
            if (i < planes) {
                finite[i] = Packing.packPlane(diff, i / oc, i % oc, layout, in[i], ws);
            } else {
                int img = i - planes;
                inMask[img] = new int[layout.length];
                Packing.packMask(rout, img, layout, inMask[img], ws);
                for (int c = 0; c < geos.length; c++) {
                    Gather geo = geos[c];
                    outMask[c][img] = new int[Math.multiplyExact(geo.rows, geo.pitch)];
                    Packing.packMaskGrid(rin, img, geo.outRowOff, geo.outRowStep, geo.rows, geo.outColOff,
                            geo.outColStep, geo.cols, geo.pitch, outMask[c][img]);
                }
            }
        });
        boolean[] groupFinite = ForwardLoops.groupFinite(finite, n, g, ocpg);
        float[] f = Packing.readFilter(filter, Workspace.get());
        int fhw = Math.toIntExact(s.fh() * s.fw());
        float[][] w = new float[geos.length][];
        boolean[][] wFinite = new boolean[geos.length][];
        for (int c = 0; c < geos.length; c++) {
            Gather geo = geos[c];
            int taps = geo.taps;
            w[c] = new float[Math.multiplyExact(g * ocpg * icpg, taps)];
            wFinite[c] = new boolean[g * icpg];
            for (int gi = 0; gi < g; gi++) {
                for (int icg = 0; icg < icpg; icg++) {
                    boolean ok = true;
                    for (int ocg = 0; ocg < ocpg; ocg++) {
                        int src0 = ((gi * ocpg + ocg) * icpg + icg) * fhw;
                        int dst0 = ((gi * icpg + icg) * ocpg + ocg) * taps;
                        for (int k = 0; k < taps; k++) {
                            float v = f[src0 + geo.filterTap[k]];
                            w[c][dst0 + k] = v;
                            ok &= Float.isFinite(v);
                        }
                    }
                    wFinite[c][gi * icpg + icg] = ok;
                }
            }
        }
        Output out = Output.of(gradSrc, p.strideW() > 1, threads);
        new GatherConv(geos, n, g, ocpg, icpg, w, wFinite, in, groupFinite, inMask, outMask, out, threads).run(threads);
        out.flush(threads);
    }
}
