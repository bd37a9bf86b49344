package dev.rrconv.internal.javaimpl;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.Mode;
import dev.rrconv.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Depthwise convolutions (one input and one output channel per group) in channels-last order.
 *
 * <p>The region masks are the same for every channel, so each image is packed to
 * {@code [H][W][C]} (channel fastest; here C = groups) and every (pixel, tap) pair is decided once
 * for all channels: a tap that is outside the image or whose regions differ is skipped entirely,
 * and an active tap is one contiguous, auto-vectorized loop over the channels. Skipped taps are never
 * read, so NaN or infinity there cannot reach a result.
 *
 * <p>Sums are in double over float products ({@code acc += (double) (w * x)}), in a fixed order: forward
 * and backward data add the taps of an output element in ascending {@code (kh, kw)} order; backward
 * filter adds the pixels of a tap in ascending {@code (n, oh, ow)} order. Threads split only over
 * disjoint outputs (rows of pixels, or filter rows and channel blocks), so results are bitwise the
 * same for every thread count.
 */
public final class DepthwiseLoops {
    /** Doubles of the backward-filter accumulator of one task (filter row x channel block). */
    private static final int FILTER_ACC = 4096;
    /** Most channels per pass of the forward and backward-data loops. */
    private static final int CHANNEL_BLOCK = 512;
    /** Channels per packing task. */
    private static final int PACK_BLOCK = 16;

    private final int n;
    private final int c;
    private final int ih;
    private final int iw;
    private final int oh;
    private final int ow;
    private final int fh;
    private final int fw;
    private final int sh;
    private final int sw;
    private final int ph;
    private final int pw;
    private final int dh;
    private final int dw;
    private final boolean flip;
    private final int inLen;
    private final int outLen;
    /** Ints of one row's list of active taps ({@link #gatherRow}). */
    private final int listLen;

    private DepthwiseLoops(ConvShape s, ConvParams p) {
        n = Math.toIntExact(s.n());
        c = Math.toIntExact(s.groups());
        ih = Math.toIntExact(s.ih());
        iw = Math.toIntExact(s.iw());
        oh = Math.toIntExact(s.oh());
        ow = Math.toIntExact(s.ow());
        fh = Math.toIntExact(s.fh());
        fw = Math.toIntExact(s.fw());
        sh = p.strideH();
        sw = p.strideW();
        ph = p.padH();
        pw = p.padW();
        dh = p.dilationH();
        dw = p.dilationW();
        flip = p.mode() == Mode.CONVOLUTION;
        inLen = Math.multiplyExact(Math.multiplyExact(ih, iw), c);
        outLen = Math.multiplyExact(Math.multiplyExact(oh, ow), c);
        int taps = Math.multiplyExact(fh, fw);
        Math.multiplyExact(taps, c);
        listLen = Math.addExact(Math.multiplyExact(Math.max(ow, iw), Math.addExact(Math.multiplyExact(2, taps), 1)), 1);
    }

    /**
     * Whether forward and backward data should take this path rather than the planar loops. Channels-last
     * costs two transpositions per call and does about a third of the tap work under random masks, so it
     * pays for large kernels with many channels (measured, one thread: DW-K3 planar, DW-K7 and larger here).
     *
     * @param s the problem
     * @param p its parameters
     * @return true if the problem is depthwise with enough channels and taps
     */
    public static boolean appliesForward(ConvShape s, ConvParams p) {
        long taps = s.fh() * s.fw();
        return depthwise(s) && (taps >= 49 && s.groups() >= 256 || taps >= 121 && s.groups() >= 64);
    }

    /**
     * Whether backward filter should take this path (it wins from smaller kernels on than the other
     * directions, the planar backward filter being costlier).
     *
     * @param s the problem
     * @param p its parameters
     * @return true if the problem is depthwise with enough channels and taps
     */
    public static boolean appliesBackwardFilter(ConvShape s, ConvParams p) {
        return depthwise(s) && s.fh() * s.fw() >= 9 && s.groups() >= 64;
    }

    private static boolean depthwise(ConvShape s) {
        return s.icpg() == 1 && s.ocpg() == 1;
    }

    /**
     * Whether these loops can take the problem at all (what {@link #appliesForward} and
     * {@link #appliesBackwardFilter} add is only whether they pay): depthwise, every array and int count fits.
     *
     * @param s the problem
     * @param p its parameters
     * @return null if the problem is depthwise and fits, else why not, in words
     */
    public static String whyNot(ConvShape s, ConvParams p) {
        if (!depthwise(s)) {
            return "not depthwise (ICPG " + s.icpg() + ", OCPG " + s.ocpg() + "; needs 1 and 1)";
        }
        Limits limits = Limits.dims(s);
        if (limits.why() != null) {
            return limits.why();
        }
        long taps = s.fh() * s.fw();
        return limits.fit("a packed image (IH*IW*G)", Limits.product(s.ih(), s.iw(), s.groups()))
                .fit("a packed result (OH*OW*G)", Limits.product(s.oh(), s.ow(), s.groups()))
                .fit("the filter (FH*FW*G)", Limits.product(taps, s.groups()))
                .fit("a row's tap list", Limits.product(Math.max(s.ow(), s.iw()), 2 * taps + 1) + 1)
                .fit("the row tasks (N*OH, N*IH)", Limits.product(s.n(), Math.max(s.oh(), s.ih())))
                .fit("the diff columns (IW*FW)", Limits.product(s.iw(), s.fw()))
                .why();
    }

    /**
     * dst = rrconv(src, filter) for a depthwise problem; arguments as in {@code ConvBackend.forward}.
     *
     * @param threads thread count (only for problems {@link #whyNot} accepts)
     */
    public static void forward(ConvShape s, ConvParams p, Tensor src, Tensor filter, Tensor rin, Tensor rout,
                               Tensor dst, int threads) {
        DepthwiseLoops d = new DepthwiseLoops(s, p);
        boolean shared = Packing.sharable(src) && Packing.sharable(rin) && Packing.sharable(rout);
        float[][] x = d.pack(src, d.ih, d.iw, Workspace.IMAGES, shared ? threads : 1);
        int[][] inMask = d.masks(rin, d.ih, d.iw);
        int[][] outMask = d.masks(rout, d.oh, d.ow);
        float[] w = d.weights(filter);
        float[][] y = Workspace.get().rows(Workspace.RESULTS, d.n, d.outLen);
        Parallel.forEach(d.n * d.oh, threads, t -> d.forwardRow(t % d.oh, x[t / d.oh], w, inMask[t / d.oh],
                outMask[t / d.oh], y[t / d.oh]));
        d.unpack(y, d.oh, d.ow, dst, threads);
    }

    /**
     * gradSrc = transposed rrconv of diff for a depthwise problem; arguments as in
     * {@code ConvBackend.backwardData}.
     *
     * @param threads thread count (only for problems {@link #whyNot} accepts)
     */
    public static void backwardData(ConvShape s, ConvParams p, Tensor filter, Tensor diff, Tensor rin, Tensor rout,
                                    Tensor gradSrc, int threads) {
        DepthwiseLoops d = new DepthwiseLoops(s, p);
        boolean shared = Packing.sharable(diff) && Packing.sharable(rin) && Packing.sharable(rout);
        float[][] x = d.pack(diff, d.oh, d.ow, Workspace.IMAGES, shared ? threads : 1);
        int[][] inMask = d.masks(rin, d.ih, d.iw);
        int[][] outMask = d.masks(rout, d.oh, d.ow);
        float[] w = d.weights(filter);
        float[][] y = Workspace.get().rows(Workspace.RESULTS, d.n, d.inLen);
        int[] cols = d.diffColumns();
        Parallel.forEach(d.n * d.ih, threads, t -> d.backwardDataRow(t % d.ih, x[t / d.ih], w,
                inMask[t / d.ih], outMask[t / d.ih], cols, y[t / d.ih]));
        d.unpack(y, d.ih, d.iw, gradSrc, threads);
    }

    /**
     * gradFilter = d(forward)/d(filter) applied to diff for a depthwise problem; arguments as in
     * {@code ConvBackend.backwardFilter}.
     *
     * @param threads thread count (only for problems {@link #whyNot} accepts)
     */
    public static void backwardFilter(ConvShape s, ConvParams p, Tensor src, Tensor diff, Tensor rin, Tensor rout,
                                      Tensor gradFilter, int threads) {
        DepthwiseLoops d = new DepthwiseLoops(s, p);
        boolean shared = Packing.sharable(src) && Packing.sharable(diff) && Packing.sharable(rin)
                && Packing.sharable(rout);
        float[][] x = d.pack(src, d.ih, d.iw, Workspace.IMAGES, shared ? threads : 1);
        float[][] dy = d.pack(diff, d.oh, d.ow, Workspace.RESULTS, shared ? threads : 1);
        int[][] inMask = d.masks(rin, d.ih, d.iw);
        int[][] outMask = d.masks(rout, d.oh, d.ow);
        // Tasks: (filter row, channel block); each owns its outputs and sums pixels in (n, oh, ow) order.
        int block = Math.min(d.c, Math.max(16, FILTER_ACC / d.fw / 16 * 16));
        int blocks = Gather.ceilDiv(d.c, block);
        if (threads > 1 && d.fh * blocks < 4 * threads) {
            blocks = Math.min(Gather.ceilDiv(d.c, 8), Gather.ceilDiv(4 * threads, d.fh));
            block = Gather.ceilDiv(d.c, blocks);
            blocks = Gather.ceilDiv(d.c, block);
        }
        float[] g = new float[Math.multiplyExact(d.fh * d.fw, d.c)];
        int cb = block;
        int nb = blocks;
        Parallel.forEach(d.fh * nb, threads, t -> {
            int c0 = (t % nb) * cb;
            d.backwardFilterRow(t / nb, c0, Math.min(d.c, c0 + cb), x, dy, inMask, outMask, g);
        });
        d.storeFilter(g, gradFilter);
    }

    // ---- the loops --------------------------------------------------------------------------------

    /** Output row {@code y} of one image: {@code out[y, x, :]} for every column. */
    private void forwardRow(int y, float[] in, float[] w, int[] inMask, int[] outMask, float[] out) {
        int[] list = Workspace.get().ints(listLen);
        int at = ow + 1;
        int khLo = clampTap(ph - y * sh, dh, fh);
        int khHi = tapEnd(ih - 1 + ph - y * sh, dh, fh);
        for (int x = 0; x < ow; x++) {
            list[x] = at;
            int region = outMask[y * ow + x];
            int kwLo = clampTap(pw - x * sw, dw, fw);
            int kwHi = tapEnd(iw - 1 + pw - x * sw, dw, fw);
            for (int kh = khLo; kh < khHi; kh++) {
                int row = (y * sh - ph + kh * dh) * iw;
                for (int kw = kwLo; kw < kwHi; kw++) {
                    int pix = row + x * sw - pw + kw * dw;
                    // branch-free append (region matches are data-dependent, a branch mispredicts often)
                    list[at] = (kh * fw + kw) * c;
                    list[at + 1] = pix * c;
                    at += inMask[pix] == region ? 2 : 0;
                }
            }
        }
        list[ow] = at;
        gatherRow(list, ow, w, in, out, y * ow * c);
    }

    /**
     * For each column {@code x} of grad src and tap column {@code kw}, the diff column {@code ox} that
     * reaches it ({@code ox*sw - pw + kw*dw == x}), or -1: {@code [x*fw + kw]}.
     */
    private int[] diffColumns() {
        int[] cols = new int[Math.multiplyExact(iw, fw)];
        for (int x = 0; x < iw; x++) {
            for (int kw = 0; kw < fw; kw++) {
                int tw = x + pw - kw * dw;
                cols[x * fw + kw] = tw >= 0 && tw % sw == 0 && tw / sw < ow ? tw / sw : -1;
            }
        }
        return cols;
    }

    /** Row {@code y} of one image of grad src; {@code cols} from {@link #diffColumns}. */
    private void backwardDataRow(int y, float[] diff, float[] w, int[] inMask, int[] outMask, int[] cols, float[] out) {
        int[] rows = new int[fh];
        for (int kh = 0; kh < fh; kh++) {
            int th = y + ph - kh * dh;
            rows[kh] = th >= 0 && th % sh == 0 && th / sh < oh ? th / sh * ow : -1;
        }
        int[] list = Workspace.get().ints(listLen);
        int at = iw + 1;
        for (int x = 0; x < iw; x++) {
            list[x] = at;
            int region = inMask[y * iw + x];
            for (int kh = 0; kh < fh; kh++) {
                int row = rows[kh];
                if (row < 0) {
                    continue;
                }
                for (int kw = 0, cx = x * fw; kw < fw; kw++, cx++) {
                    int ox = cols[cx];
                    if (ox < 0) {
                        continue;
                    }
                    list[at] = (kh * fw + kw) * c; // branch-free append, as in forwardRow
                    list[at + 1] = (row + ox) * c;
                    at += outMask[row + ox] == region ? 2 : 0;
                }
            }
        }
        list[iw] = at;
        gatherRow(list, iw, w, diff, out, y * iw * c);
    }

    /**
     * One row of {@code cols} results: result {@code x} is {@code sum (double) (w[wo+ch] * in[xo+ch])} over the
     * (wo, xo) pairs {@code list[list[x] .. list[x+1])} in order, stored at {@code out[base + x*c + ch]}. Runs
     * by blocks of channels, so that a block's weights and inputs stay in cache across the row.
     */
    private void gatherRow(int[] list, int cols, float[] w, float[] in, float[] out, int base) {
        int blocks = Gather.ceilDiv(c, CHANNEL_BLOCK);
        int step = Gather.ceilDiv(c, blocks);
        double[] acc = Workspace.get().doubleRows(Workspace.ACC, 1, step)[0];
        for (int c0 = 0; c0 < c; c0 += step) {
            int cb = Math.min(step, c - c0);
            for (int x = 0; x < cols; x++) {
                int i = list[x];
                int end = list[x + 1];
                if (i + 4 <= end) { // the first pair sets acc: one pass less than zeroing it first
                    Kernels.axpy2From0(acc, w, list[i] + c0, in, list[i + 1] + c0, w, list[i + 2] + c0, in,
                            list[i + 3] + c0, cb);
                    i += 4;
                } else {
                    Arrays.fill(acc, 0, cb, 0.0);
                }
                for (; i + 4 <= end; i += 4) {
                    Kernels.axpy2(acc, w, list[i] + c0, in, list[i + 1] + c0, w, list[i + 2] + c0, in, list[i + 3] + c0,
                            cb);
                }
                if (i < end) {
                    Kernels.axpy(acc, w, list[i] + c0, in, list[i + 1] + c0, cb);
                }
                Kernels.toFloat(out, base + x * c + c0, acc, cb);
            }
        }
    }

    /**
     * Gradient of filter row {@code kh}, channels {@code [c0, c1)}, into {@code g[(kh*fw + kw)*c + ch]}: for each
     * tap, the pixels where it is active in ascending {@code (n, oh, ow)} order, two at a time.
     */
    private void backwardFilterRow(int kh, int c0, int c1, float[][] src, float[][] diff, int[][] inMask,
                                   int[][] outMask, float[] g) {
        int cb = c1 - c0;
        double[] acc = Workspace.get().doubleRows(Workspace.ACC, 1, fw * cb)[0];
        Arrays.fill(acc, 0, fw * cb, 0.0);
        for (int img = 0; img < n; img++) {
            float[] x = src[img];
            float[] d = diff[img];
            int[] im = inMask[img];
            int[] om = outMask[img];
            for (int y = 0; y < oh; y++) {
                int yy = y * sh - ph + kh * dh;
                if (yy < 0 || yy >= ih) {
                    continue;
                }
                for (int kw = 0; kw < fw; kw++) {
                    int shift = kw * dw - pw;
                    int qLo = clampTap(-shift, sw, ow);
                    int qHi = tapEnd(iw - 1 - shift, sw, ow);
                    int pendX = -1;
                    int pendD = 0;
                    for (int q = qLo; q < qHi; q++) {
                        int pix = yy * iw + q * sw + shift;
                        int out = y * ow + q;
                        if (im[pix] != om[out]) {
                            continue;
                        }
                        int xo = pix * c + c0;
                        int dOff = out * c + c0;
                        if (pendX < 0) {
                            pendX = xo;
                            pendD = dOff;
                        } else {
                            Kernels.productAccumulate2(acc, kw * cb, x, pendX, d, pendD, xo, dOff, cb);
                            pendX = -1;
                        }
                    }
                    if (pendX >= 0) {
                        Kernels.productAccumulate(acc, kw * cb, x, pendX, d, pendD, cb);
                    }
                }
            }
        }
        for (int kw = 0; kw < fw; kw++) {
            int at = (kh * fw + kw) * c + c0;
            for (int i = 0; i < cb; i++) {
                g[at + i] = (float) acc[kw * cb + i];
            }
        }
    }

    /** First index {@code k} with {@code k*dil >= need}, clamped to {@code [0, taps]}. */
    private static int clampTap(int need, int dil, int taps) {
        if (need <= 0) {
            return 0;
        }
        return Math.min(taps, (need + dil - 1) / dil);
    }

    /** One past the last index {@code k} with {@code k*dil <= room}, clamped to {@code [0, taps]}. */
    private static int tapEnd(int room, int dil, int taps) {
        if (room < 0) {
            return 0;
        }
        return Math.min(taps, room / dil + 1);
    }

    // ---- packing ----------------------------------------------------------------------------------

    /**
     * Each image of a 4-D (N, C, h, w) float tensor as a dense {@code [h][w][C]} array (the arrays come from
     * the calling thread's workspace slot {@code slot} and may be longer). Tasks are (image, block of
     * channels): whole planes are read (one bulk copy each where the plane is contiguous), then interleaved.
     */
    private float[][] pack(Tensor t, int h, int w, int slot, int threads) {
        int len = Math.multiplyExact(Math.multiplyExact(h, w), c);
        float[][] out = Workspace.get().rows(slot, n, len);
        int blocks = Gather.ceilDiv(c, PACK_BLOCK);
        int hw = h * w;
        MemorySegment seg = t.segment();
        long bytes = t.dtype().byteSize();
        boolean dense = (h == 1 || t.stride(2) == w) && (w == 1 || t.stride(3) == 1);
        Parallel.forEach(n * blocks, threads, task -> {
            int img = task / blocks;
            int c0 = (task % blocks) * PACK_BLOCK;
            int cb = Math.min(PACK_BLOCK, c - c0);
            float[][] planes = Workspace.get().rows(Workspace.ROW, PACK_BLOCK, hw);
            for (int j = 0; j < cb; j++) {
                long base = bytes * (img * t.stride(0) + (c0 + j) * t.stride(1));
                if (dense) {
                    Packing.readFloats(seg, t.dtype(), base, 1, planes[j], 0, hw);
                } else {
                    for (int y = 0; y < h; y++) {
                        Packing.readFloats(seg, t.dtype(), base + bytes * y * t.stride(2), t.stride(3), planes[j],
                                y * w, w);
                    }
                }
            }
            interleave(planes, cb, hw, out[img], c0);
        });
        return out;
    }

    /** {@code dst[pix*c + c0 + j] = planes[j][pix]} for {@code j < cb, pix < hw}, four planes per pass. */
    private void interleave(float[][] planes, int cb, int hw, float[] dst, int c0) {
        int j = 0;
        for (; j + 4 <= cb; j += 4) {
            float[] p0 = planes[j];
            float[] p1 = planes[j + 1];
            float[] p2 = planes[j + 2];
            float[] p3 = planes[j + 3];
            for (int pix = 0, at = c0 + j; pix < hw; pix++, at += c) {
                dst[at] = p0[pix];
                dst[at + 1] = p1[pix];
                dst[at + 2] = p2[pix];
                dst[at + 3] = p3[pix];
            }
        }
        for (; j < cb; j++) {
            float[] p = planes[j];
            for (int pix = 0, at = c0 + j; pix < hw; pix++, at += c) {
                dst[at] = p[pix];
            }
        }
    }

    /** {@code planes[j][pix] = src[pix*c + c0 + j]} for {@code j < cb, pix < hw}, four planes per pass. */
    private void deinterleave(float[] src, int c0, float[][] planes, int cb, int hw) {
        int j = 0;
        for (; j + 4 <= cb; j += 4) {
            float[] p0 = planes[j];
            float[] p1 = planes[j + 1];
            float[] p2 = planes[j + 2];
            float[] p3 = planes[j + 3];
            for (int pix = 0, at = c0 + j; pix < hw; pix++, at += c) {
                p0[pix] = src[at];
                p1[pix] = src[at + 1];
                p2[pix] = src[at + 2];
                p3[pix] = src[at + 3];
            }
        }
        for (; j < cb; j++) {
            float[] p = planes[j];
            for (int pix = 0, at = c0 + j; pix < hw; pix++, at += c) {
                p[pix] = src[at];
            }
        }
    }

    /** Each image of a 3-D mask as a dense {@code [h][w]} int array. */
    private int[][] masks(Tensor m, int h, int w) {
        int[][] out = new int[n][];
        for (int i = 0; i < n; i++) {
            out[i] = new int[Math.multiplyExact(h, w)];
            Packing.packMaskGrid(m, i, 0, 1, h, 0, 1, w, w, out[i]);
        }
        return out;
    }

    /** The filter as {@code w[(kh*fw + kw)*c + ch]}, tap (kh, kw) in geometric order (flip applied). */
    private float[] weights(Tensor filter) {
        float[] f = Packing.readFilter(filter, Workspace.get());
        int fhw = fh * fw;
        float[] w = new float[fhw * c];
        for (int kh = 0; kh < fh; kh++) {
            for (int kw = 0; kw < fw; kw++) {
                int ft = (flip ? fh - 1 - kh : kh) * fw + (flip ? fw - 1 - kw : kw);
                int at = (kh * fw + kw) * c;
                for (int ch = 0; ch < c; ch++) {
                    w[at + ch] = f[ch * fhw + ft];
                }
            }
        }
        return w;
    }

    /** Writes channels-last images {@code [h][w][C]} to a 4-D (N, C, h, w) tensor; tasks as in {@link #pack}. */
    private void unpack(float[][] y, int h, int w, Tensor t, int threads) {
        Output out = Output.of(t, false, threads);
        int blocks = Gather.ceilDiv(c, PACK_BLOCK);
        int hw = h * w;
        Parallel.forEach(n * blocks, threads, task -> {
            int img = task / blocks;
            int c0 = (task % blocks) * PACK_BLOCK;
            int cb = Math.min(PACK_BLOCK, c - c0);
            float[][] planes = Workspace.get().rows(Workspace.ROW, PACK_BLOCK, hw);
            deinterleave(y[img], c0, planes, cb, hw);
            for (int j = 0; j < cb; j++) {
                out.putRows(img, c0 + j, 0, 1, 0, 1, planes[j], w, h, w);
            }
        });
        out.flush(threads);
    }

    /** Writes {@code g[(kh*fw + kw)*c + ch]} to the (G, 1, 1, FH, FW) gradient, undoing the flip. */
    private void storeFilter(float[] g, Tensor gradFilter) {
        MemorySegment seg = gradFilter.segment();
        for (int kh = 0; kh < fh; kh++) {
            for (int kw = 0; kw < fw; kw++) {
                long fkh = flip ? fh - 1 - kh : kh;
                long fkw = flip ? fw - 1 - kw : kw;
                int at = (kh * fw + kw) * c;
                for (int ch = 0; ch < c; ch++) {
                    long off = ch * gradFilter.stride(0) + fkh * gradFilter.stride(3) + fkw * gradFilter.stride(4);
                    Packing.setFloat(seg, gradFilter.dtype(), off, g[at + ch]);
                }
            }
        }
    }
}
