package dev.rrconv.internal.javaimpl;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.Tensor;

/** Forward: packs src, masks and filter, then runs one {@link GatherConv} over the source planes. */
public final class ForwardLoops {
    private ForwardLoops() {}

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
        return limits.fit("a packed source plane", plan.planeLength())
                .fit("the source planes (N*IC)", Limits.product(s.n(), s.ic()))
                .fit("the output grid (OH*pitch)", Limits.product(s.oh(), plan.pitch()))
                .fit("the filter (OC*ICPG*FH*FW)", Limits.product(s.oc(), s.icpg(), s.fh(), s.fw()))
                .fit("the output planes (N*OC)", Limits.product(s.n(), s.oc()))
                .fit("the row tasks (N*OH)", Limits.product(s.n(), s.oh()) + Limits.TASK_SLACK)
                .why();
    }

    /**
     * dst = rrconv(src, filter); arguments as in {@code ConvBackend.forward}. Only for problems
     * {@link #whyNot} accepts.
     *
     * @param threads thread count
     */
    public static void run(ConvShape s, ConvParams p, Tensor src, Tensor filter, Tensor rin, Tensor rout, Tensor dst,
                           int threads) {
        Gather geo = Gather.forward(s, p);
        PlaneLayout layout = geo.layout;
        int n = Math.toIntExact(s.n());
        int g = Math.toIntExact(s.groups());
        int icpg = Math.toIntExact(s.icpg());
        int ocpg = Math.toIntExact(s.ocpg());
        int ic = Math.multiplyExact(g, icpg);
        int planes = Math.multiplyExact(n, ic);
        int outLen = Math.multiplyExact(geo.rows, geo.pitch);
        float[][] in = Workspace.get().rows(Workspace.IMAGES, planes, layout.length);
        boolean[] finite = new boolean[planes];
        int[][] inMask = new int[n][];
        int[][][] outMask = new int[1][n][];
        boolean shared = Packing.sharable(src) && Packing.sharable(rin) && Packing.sharable(rout);
        Parallel.forEach(planes + n, shared ? threads : 1, i -> {
            Workspace ws = Workspace.get();
            if (i < planes) {
                finite[i] = Packing.packPlane(src, i / ic, i % ic, layout, in[i], ws);
            } else {
                int img = i - planes;
                inMask[img] = new int[layout.length];
                Packing.packMask(rin, img, layout, inMask[img], ws);
                outMask[0][img] = new int[outLen];
                Packing.packMaskGrid(rout, img, 0, 1, geo.rows, 0, 1, geo.cols, geo.pitch, outMask[0][img]);
            }
        });
        boolean[] groupFinite = groupFinite(finite, n, g, icpg);
        float[] f = Packing.readFilter(filter, Workspace.get());
        int fhw = Math.toIntExact(s.fh() * s.fw());
        int taps = geo.taps;
        float[] w = new float[Math.multiplyExact(g * ocpg * icpg, taps)];
        boolean[] wFinite = new boolean[g * ocpg];
        for (int oc = 0; oc < g * ocpg; oc++) {
            boolean ok = true;
            for (int ci = 0; ci < icpg; ci++) {
                int src0 = (oc * icpg + ci) * fhw;
                int dst0 = (oc * icpg + ci) * taps;
                for (int k = 0; k < taps; k++) {
                    float v = f[src0 + geo.filterTap[k]];
                    w[dst0 + k] = v;
                    ok &= Float.isFinite(v);
                }
            }
            wFinite[oc] = ok;
        }
        Output out = Output.of(dst, false, threads);
        new GatherConv(new Gather[] {geo}, n, g, icpg, ocpg, new float[][] {w}, new boolean[][] {wFinite}, in,
                groupFinite, inMask, outMask, out, threads).run(threads);
        out.flush(threads);
    }

    /** {@code [n*groups + g]}: true if the planes {@code [(n*groups + g)*per + i]} are all finite. */
    static boolean[] groupFinite(boolean[] finite, int n, int groups, int per) {
        boolean[] out = new boolean[n * groups];
        for (int i = 0; i < out.length; i++) {
            boolean ok = true;
            for (int c = 0; c < per; c++) {
                ok &= finite[i * per + c];
            }
            out[i] = ok;
        }
        return out;
    }
}
