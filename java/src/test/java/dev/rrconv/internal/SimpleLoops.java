package dev.rrconv.internal;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.Mode;

/**
 * The straightforward loops of the first Java backend, in double precision over dense C-order
 * arrays: src (N, IC, IH, IW), filter (G, OCPG, ICPG, FH, FW), dst/diff (N, OC, OH, OW), rin (N, IH, IW),
 * rout (N, OH, OW). Masked and out-of-image taps are skipped (never read). Each method returns
 * {@code {values, sums of |terms|}}; the second array bounds the rounding error of a float sum.
 */
final class SimpleLoops {
    private SimpleLoops() {}

    static double[][] forward(ConvShape s, ConvParams p, float[] src, float[] filter, int[] rin, int[] rout) {
        int n = (int) s.n(), g = (int) s.groups(), icpg = (int) s.icpg(), ocpg = (int) s.ocpg();
        int ih = (int) s.ih(), iw = (int) s.iw(), oh = (int) s.oh(), ow = (int) s.ow(), fh = (int) s.fh(), fw = (int) s.fw();
        boolean flip = p.mode() == Mode.CONVOLUTION;
        double[] out = new double[n * g * ocpg * oh * ow];
        double[] abs = new double[out.length];
        for (int b = 0; b < n; b++) {
            for (int gi = 0; gi < g; gi++) {
                for (int ocg = 0; ocg < ocpg; ocg++) {
                    int oc = gi * ocpg + ocg;
                    for (int y = 0; y < oh; y++) {
                        for (int x = 0; x < ow; x++) {
                            int region = rout[(b * oh + y) * ow + x];
                            double acc = 0, a = 0;
                            for (int icg = 0; icg < icpg; icg++) {
                                int ic = gi * icpg + icg;
                                for (int kh = 0; kh < fh; kh++) {
                                    long yy = (long) y * p.strideH() - p.padH() + (long) kh * p.dilationH();
                                    if (yy < 0 || yy >= ih) {
                                        continue;
                                    }
                                    for (int kw = 0; kw < fw; kw++) {
                                        long xx = (long) x * p.strideW() - p.padW() + (long) kw * p.dilationW();
                                        if (xx < 0 || xx >= iw || rin[(int) ((b * ih + yy) * iw + xx)] != region) {
                                            continue;
                                        }
                                        int fkh = flip ? fh - 1 - kh : kh, fkw = flip ? fw - 1 - kw : kw;
                                        double v = (double) src[(int) (((long) (b * g * icpg + ic) * ih + yy) * iw + xx)]
                                                * filter[(((gi * ocpg + ocg) * icpg + icg) * fh + fkh) * fw + fkw];
                                        acc += v;
                                        a += Math.abs(v);
                                    }
                                }
                            }
                            int o = ((b * g * ocpg + oc) * oh + y) * ow + x;
                            out[o] = acc;
                            abs[o] = a;
                        }
                    }
                }
            }
        }
        return new double[][] {out, abs};
    }

    static double[][] backwardData(ConvShape s, ConvParams p, float[] filter, float[] diff, int[] rin, int[] rout) {
        int n = (int) s.n(), g = (int) s.groups(), icpg = (int) s.icpg(), ocpg = (int) s.ocpg();
        int ih = (int) s.ih(), iw = (int) s.iw(), oh = (int) s.oh(), ow = (int) s.ow(), fh = (int) s.fh(), fw = (int) s.fw();
        boolean flip = p.mode() == Mode.CONVOLUTION;
        double[] out = new double[n * g * icpg * ih * iw];
        double[] abs = new double[out.length];
        for (int b = 0; b < n; b++) {
            for (int gi = 0; gi < g; gi++) {
                for (int icg = 0; icg < icpg; icg++) {
                    int ic = gi * icpg + icg;
                    for (int y = 0; y < ih; y++) {
                        for (int x = 0; x < iw; x++) {
                            int region = rin[(b * ih + y) * iw + x];
                            double acc = 0, a = 0;
                            for (int ocg = 0; ocg < ocpg; ocg++) {
                                int oc = gi * ocpg + ocg;
                                for (int kh = 0; kh < fh; kh++) {
                                    long th = (long) y + p.padH() - (long) kh * p.dilationH();
                                    if (th < 0 || th % p.strideH() != 0 || th / p.strideH() >= oh) {
                                        continue;
                                    }
                                    int yy = (int) (th / p.strideH());
                                    for (int kw = 0; kw < fw; kw++) {
                                        long tw = (long) x + p.padW() - (long) kw * p.dilationW();
                                        if (tw < 0 || tw % p.strideW() != 0 || tw / p.strideW() >= ow) {
                                            continue;
                                        }
                                        int xx = (int) (tw / p.strideW());
                                        if (rout[(b * oh + yy) * ow + xx] != region) {
                                            continue;
                                        }
                                        int fkh = flip ? fh - 1 - kh : kh, fkw = flip ? fw - 1 - kw : kw;
                                        double v = (double) diff[((b * g * ocpg + oc) * oh + yy) * ow + xx]
                                                * filter[(((gi * ocpg + ocg) * icpg + icg) * fh + fkh) * fw + fkw];
                                        acc += v;
                                        a += Math.abs(v);
                                    }
                                }
                            }
                            int o = ((b * g * icpg + ic) * ih + y) * iw + x;
                            out[o] = acc;
                            abs[o] = a;
                        }
                    }
                }
            }
        }
        return new double[][] {out, abs};
    }

    static double[][] backwardFilter(ConvShape s, ConvParams p, float[] src, float[] diff, int[] rin, int[] rout) {
        int n = (int) s.n(), g = (int) s.groups(), icpg = (int) s.icpg(), ocpg = (int) s.ocpg();
        int ih = (int) s.ih(), iw = (int) s.iw(), oh = (int) s.oh(), ow = (int) s.ow(), fh = (int) s.fh(), fw = (int) s.fw();
        boolean flip = p.mode() == Mode.CONVOLUTION;
        double[] out = new double[g * ocpg * icpg * fh * fw];
        double[] abs = new double[out.length];
        for (int gi = 0; gi < g; gi++) {
            for (int ocg = 0; ocg < ocpg; ocg++) {
                int oc = gi * ocpg + ocg;
                for (int icg = 0; icg < icpg; icg++) {
                    int ic = gi * icpg + icg;
                    for (int kh = 0; kh < fh; kh++) {
                        for (int kw = 0; kw < fw; kw++) {
                            double acc = 0, a = 0;
                            for (int b = 0; b < n; b++) {
                                for (int y = 0; y < oh; y++) {
                                    long yy = (long) y * p.strideH() - p.padH() + (long) kh * p.dilationH();
                                    if (yy < 0 || yy >= ih) {
                                        continue;
                                    }
                                    for (int x = 0; x < ow; x++) {
                                        long xx = (long) x * p.strideW() - p.padW() + (long) kw * p.dilationW();
                                        if (xx < 0 || xx >= iw
                                                || rin[(int) ((b * ih + yy) * iw + xx)] != rout[(b * oh + y) * ow + x]) {
                                            continue;
                                        }
                                        double v = (double) src[(int) (((long) (b * g * icpg + ic) * ih + yy) * iw + xx)]
                                                * diff[((b * g * ocpg + oc) * oh + y) * ow + x];
                                        acc += v;
                                        a += Math.abs(v);
                                    }
                                }
                            }
                            int fkh = flip ? fh - 1 - kh : kh, fkw = flip ? fw - 1 - kw : kw;
                            int o = (((gi * ocpg + ocg) * icpg + icg) * fh + fkh) * fw + fkw;
                            out[o] = acc;
                            abs[o] = a;
                        }
                    }
                }
            }
        }
        return new double[][] {out, abs};
    }
}
