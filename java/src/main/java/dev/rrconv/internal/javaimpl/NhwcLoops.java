package dev.rrconv.internal.javaimpl;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.Mode;
import dev.rrconv.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Channels-last loops for every direction and channel kind, whose cost falls with the active taps: the
 * rows {@code java_<direction>_nhwc} (with {@link #SCALAR}) and {@code java_<direction>_nhwc_vector} (with the
 * Vector API's {@link Arithmetic}).
 *
 * <p>Each tensor is read once into one Java array in {@code [N][H][W][C]} order (a bulk copy per image or
 * row where the tensor is channels-last, per pixel otherwise; float16 and bfloat16 widened on the way in,
 * results rounded once on the way out). The regions are the same for every channel, so each result pixel
 * (forward: output pixel; backward data: input pixel) lists its active taps once, {@code (tap, pixel)} pairs
 * in ascending {@code (kh, kw)} order, that are inside the image and in the same region; the
 * {@link Arithmetic} then spends work only on those, over contiguous channels. Backward filter lists, per
 * filter row, tap column and output row, the active {@code (input, output)} pixel pairs in ascending
 * {@code (n, oh, ow)} order. Skipped taps are never read, so NaN or infinity there cannot reach a result.
 * Grouped and dense problems hand two neighbouring pixels with the same taps (inside a region) over together
 * ({@link Arithmetic#groupedPair}), so that the vector arithmetic loads each weight once for both.
 *
 * <p>Threads split only over disjoint results (rows of pixels; filter rows and blocks of input channels), and
 * each result is summed in one fixed order (backward filter: over pixels in {@code (n, oh, ow)} order) that
 * does not depend on the block or thread that computes it. Results are bitwise the same for every thread count.
 */
public final class NhwcLoops {
    /** Most channels per block of a depthwise backward-filter task. */
    private static final int FILTER_BLOCK = 4096;
    /** Sums of a depthwise backward-filter task (FW x block), as in DepthwiseLoops: they stay in L1. */
    private static final int FILTER_DEPTHWISE_ACC = 4096;
    /** Floats of one backward-filter task's accumulator (grouped problems: groups per block). */
    private static final int FILTER_ACC = 16384;
    /** Channels per step of the transposition of a channels-first tensor (their rows stay in cache). */
    private static final int CHANNEL_RUN = 64;

    /**
     * Sums over channel runs, as the loops call them. {@code list} holds pairs {@code list[k], list[k+1]} for
     * {@code from <= k < to}, k even, in the order to sum them.
     *
     * @param <A> the backward-filter accumulator (the scalar loops sum in double, the vector ones in float)
     */
    public interface Arithmetic<A> {
        /**
         * Depthwise forward or backward data: {@code out[o + c] = sum over the pairs of w[list[k] + c] *
         * x[list[k+1] + c]}, for {@code c < channels}.
         */
        void depthwise(int[] list, int from, int to, float[] w, float[] x, float[] out, int o, int channels);

        /**
         * Grouped forward or backward data: for {@code g < groups} and {@code m < per}, {@code out[o + g*per + m]}
         * = the sum over {@code r < reduce} and the pairs of {@code x[list[k+1] + g*reduce + r] *
         * w[(g*reduce + r)*rStride + list[k] + m]}, in an order fixed by the implementation.
         */
        void grouped(int[] list, int from, int to, float[] w, int rStride, float[] x, float[] out, int o, int groups,
                     int reduce, int per);

        /**
         * Two neighbouring results whose tap lists name the same taps, the second's inputs {@code xDelta} further
         * on: {@link #grouped} for the pairs {@code [from, to)} into {@code out[o0 ...]} and with every input
         * offset plus {@code xDelta} into {@code out[o1 ...]}, each result's bits the same as that call's (so an
         * implementation may share the weight loads). This default makes the two calls.
         */
        default void groupedPair(int[] list, int from, int to, int xDelta, int from1, float[] w, int rStride,
                                 float[] x, float[] out, int o0, int o1, int groups, int reduce, int per) {
            grouped(list, from, to, w, rStride, x, out, o0, groups, reduce, per);
            grouped(list, from1, from1 + (to - from), w, rStride, x, out, o1, groups, reduce, per);
        }

        /** @return this thread's accumulator of at least {@code length} zeros */
        A accumulator(int length);

        /** @return element {@code i} of an accumulator, rounded to float */
        float get(A acc, int i);

        /** Depthwise backward filter: {@code acc[a + c] += x[list[k] + c] * d[list[k+1] + c]}, pairs in order. */
        void depthwiseFilter(int[] list, int from, int to, float[] x, float[] d, A acc, int a, int channels);

        /**
         * Grouped backward filter, input channels {@code [u0, u1)} (of groups {@code u / reduce}): for each pair in
         * order and {@code m < per}, {@code acc[a + (u - u0)*per + m] += x[list[k] + u] * d[list[k+1] +
         * (u / reduce)*per + m]}.
         */
        void groupedFilter(int[] list, int from, int to, float[] x, float[] d, A acc, int a, int u0, int u1,
                           int reduce, int per);
    }

    /** The scalar arithmetic: float products summed in double, loops that C2 auto-vectorizes. */
    public static final Arithmetic<double[]> SCALAR = new Scalar();

    private final int n;
    private final int groups;
    private final int icpg;
    private final int ocpg;
    private final int ic;
    private final int oc;
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
    private final boolean depthwise;
    private final int listLen;

    private NhwcLoops(ConvShape s, ConvParams p) {
        n = Math.toIntExact(s.n());
        groups = Math.toIntExact(s.groups());
        icpg = Math.toIntExact(s.icpg());
        ocpg = Math.toIntExact(s.ocpg());
        ic = groups * icpg;
        oc = groups * ocpg;
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
        depthwise = icpg == 1 && ocpg == 1;
        listLen = Math.max(ow, iw) * (2 * fh * fw + 1) + 1;
    }

    /**
     * Whether these loops can take the problem: every array, index and list fits in Java arrays and ints.
     *
     * @param s the problem
     * @param p its parameters
     * @return null if it fits, else why not, in words
     */
    public static String whyNot(ConvShape s, ConvParams p) {
        Limits limits = Limits.dims(s);
        if (limits.why() != null) {
            return limits.why();
        }
        long ic = s.groups() * s.icpg();
        long oc = s.groups() * s.ocpg();
        long taps = s.fh() * s.fw();
        return limits.fit("the channels-last source (N*IH*IW*G*ICPG)", Limits.product(s.n(), s.ih(), s.iw(), ic))
                .fit("the channels-last result (N*OH*OW*G*OCPG)", Limits.product(s.n(), s.oh(), s.ow(), oc))
                .fit("the filter (G*OCPG*ICPG*FH*FW)", Limits.product(oc, s.icpg(), taps))
                .fit("a row's tap list", Limits.product(Math.max(s.ow(), s.iw()), 2 * taps + 1) + 1)
                .fit("the row tasks (N*OH, N*IH)", Limits.product(s.n(), Math.max(s.oh(), s.ih())))
                .fit("a filter task's sums (FW*4096*OCPG)", Limits.product(s.fw(), FILTER_BLOCK, s.ocpg()) + FILTER_ACC)
                .why();
    }

    /**
     * Whether dispatch should pick the scalar rows ({@link #SCALAR}) for a channels-last problem: depthwise only.
     * Their grouped and dense sums (double over float products, one short run of output channels per input
     * value) measured slower than the planar loops on the channels-last tensors (1 thread, thread CPU time,
     * random masks: GRP forward 44.8 against 11.6 ms, DENSE 73.3 against 36.5, DENSE-S2D2 backward filter 20.8
     * against 14.7), while depthwise ran 0.65-0.97x of the NCHW time.
     *
     * @param s the problem
     * @param p its parameters
     * @return true for depthwise problems
     */
    public static boolean scalarPays(ConvShape s, ConvParams p) {
        return s.icpg() == 1 && s.ocpg() == 1;
    }

    /**
     * dst = rrconv(src, filter); arguments as in {@code ConvBackend.forward}.
     *
     * @param threads thread count (only for problems {@link #whyNot} accepts)
     * @param k the arithmetic
     */
    public static void forward(ConvShape s, ConvParams p, Tensor src, Tensor filter, Tensor rin, Tensor rout,
                               Tensor dst, int threads, Arithmetic<?> k) {
        NhwcLoops d = new NhwcLoops(s, p);
        float[] x = d.read(src, d.ih, d.iw, d.ic, Workspace.IMAGES, threads);
        int[][] inMask = d.masks(rin, d.ih, d.iw);
        int[][] outMask = d.masks(rout, d.oh, d.ow);
        float[] w = d.depthwise ? d.depthwiseWeights(filter) : d.groupedWeights(filter, true);
        float[] y = Workspace.get().row(Workspace.RESULTS, d.n * d.oh * d.ow * d.oc);
        Parallel.forEach(d.n * d.oh, threads, t -> d.forwardRow(t / d.oh, t % d.oh, x, w, inMask[t / d.oh],
                outMask[t / d.oh], y, k));
        d.write(y, dst, d.oh, d.ow, d.oc, threads);
    }

    /**
     * gradSrc = transposed rrconv of diff; arguments as in {@code ConvBackend.backwardData}.
     *
     * @param threads thread count (only for problems {@link #whyNot} accepts)
     * @param k the arithmetic
     */
    public static void backwardData(ConvShape s, ConvParams p, Tensor filter, Tensor diff, Tensor rin, Tensor rout,
                                    Tensor gradSrc, int threads, Arithmetic<?> k) {
        NhwcLoops d = new NhwcLoops(s, p);
        float[] x = d.read(diff, d.oh, d.ow, d.oc, Workspace.IMAGES, threads);
        int[][] inMask = d.masks(rin, d.ih, d.iw);
        int[][] outMask = d.masks(rout, d.oh, d.ow);
        float[] w = d.depthwise ? d.depthwiseWeights(filter) : d.groupedWeights(filter, false);
        float[] y = Workspace.get().row(Workspace.RESULTS, d.n * d.ih * d.iw * d.ic);
        int[] cols = d.diffColumns();
        Parallel.forEach(d.n * d.ih, threads, t -> d.backwardDataRow(t / d.ih, t % d.ih, x, w, inMask[t / d.ih],
                outMask[t / d.ih], cols, y, k));
        d.write(y, gradSrc, d.ih, d.iw, d.ic, threads);
    }

    /**
     * gradFilter = d(forward)/d(filter) applied to diff; arguments as in {@code ConvBackend.backwardFilter}.
     *
     * @param threads thread count (only for problems {@link #whyNot} accepts)
     * @param k the arithmetic
     * @param <A> its accumulator
     */
    public static <A> void backwardFilter(ConvShape s, ConvParams p, Tensor src, Tensor diff, Tensor rin,
                                          Tensor rout, Tensor gradFilter, int threads, Arithmetic<A> k) {
        NhwcLoops d = new NhwcLoops(s, p);
        float[] x = d.read(src, d.ih, d.iw, d.ic, Workspace.IMAGES, threads);
        float[] dy = d.read(diff, d.oh, d.ow, d.oc, Workspace.RESULTS, threads);
        int[][] inMask = d.masks(rin, d.ih, d.iw);
        int[][] outMask = d.masks(rout, d.oh, d.ow);
        // Tasks: (filter row, block of input channels). A block's size depends on the thread count, but every
        // gradient element is summed over the same pixels in the same order whatever its block.
        int units = d.ic;
        int perUnit = d.ocpg;
        int block = d.depthwise
                ? Math.min(units, Math.min(FILTER_BLOCK, Math.max(16, FILTER_DEPTHWISE_ACC / d.fw / 16 * 16)))
                : Math.max(1, Math.min(units, FILTER_ACC / Math.max(1, d.fw * perUnit)));
        if (threads > 1 && d.fh * Gather.ceilDiv(units, block) < 4 * threads) {
            int want = Gather.ceilDiv(4 * threads, d.fh);
            block = Math.max(Math.min(units, 16), Gather.ceilDiv(units, want));
        }
        if (!d.depthwise && block < units) {
            block = Math.min(units, (block + 3) / 4 * 4); // whole runs of 4 input channels (NhwcKernel's blocks)
        }
        int blocks = Gather.ceilDiv(units, block);
        float[] g = new float[Math.multiplyExact(d.fh * d.fw, Math.multiplyExact(d.oc, d.icpg))];
        int ub = block;
        Parallel.forEach(d.fh * blocks, threads, t -> {
            int u0 = (t % blocks) * ub;
            d.backwardFilterRow(t / blocks, u0, Math.min(units, u0 + ub), x, dy, inMask, outMask, g, k);
        });
        d.storeFilter(g, gradFilter);
    }

    // ---- the loops ----------------------------------------------------------------------------------

    /** Output row {@code y} of image {@code img}, every column, every channel. */
    private void forwardRow(int img, int y, float[] x, float[] w, int[] inMask, int[] outMask, float[] out,
                            Arithmetic<?> k) {
        int[] list = Workspace.get().ints(listLen);
        int at = ow + 1;
        int wScale = depthwise ? ic : ocpg;
        int base = img * ih * iw;
        int khLo = clampTap(ph - y * sh, dh, fh);
        int khHi = tapEnd(ih - 1 + ph - y * sh, dh, fh);
        for (int q = 0; q < ow; q++) {
            list[q] = at;
            int region = outMask[y * ow + q];
            int kwLo = clampTap(pw - q * sw, dw, fw);
            int kwHi = tapEnd(iw - 1 + pw - q * sw, dw, fw);
            for (int kh = khLo; kh < khHi; kh++) {
                int row = (y * sh - ph + kh * dh) * iw;
                for (int kw = kwLo; kw < kwHi; kw++) {
                    int pix = row + q * sw - pw + kw * dw;
                    // branch-free append (region matches are data-dependent: a branch mispredicts often)
                    list[at] = (kh * fw + kw) * wScale;
                    list[at + 1] = (base + pix) * ic;
                    at += inMask[pix] == region ? 2 : 0;
                }
            }
        }
        list[ow] = at;
        int o = (img * oh + y) * ow * oc;
        for (int q = 0; q < ow; q++, o += oc) {
            int delta;
            if (depthwise) {
                k.depthwise(list, list[q], list[q + 1], w, x, out, o, oc);
            } else if (q + 1 < ow && (delta = sameTaps(list, q)) != 0) {
                k.groupedPair(list, list[q], list[q + 1], delta, list[q + 1], w, fh * fw * ocpg, x, out, o, o + oc,
                        groups, icpg, ocpg);
                q++;
                o += oc;
            } else {
                k.grouped(list, list[q], list[q + 1], w, fh * fw * ocpg, x, out, o, groups, icpg, ocpg);
            }
        }
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

    /** Row {@code y} of image {@code img} of grad src; {@code cols} from {@link #diffColumns}. */
    private void backwardDataRow(int img, int y, float[] diff, float[] w, int[] inMask, int[] outMask, int[] cols,
                                 float[] out, Arithmetic<?> k) {
        int[] rows = new int[fh];
        for (int kh = 0; kh < fh; kh++) {
            int th = y + ph - kh * dh;
            rows[kh] = th >= 0 && th % sh == 0 && th / sh < oh ? th / sh * ow : -1;
        }
        int[] list = Workspace.get().ints(listLen);
        int at = iw + 1;
        int wScale = depthwise ? ic : icpg;
        int base = img * oh * ow;
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
                    list[at] = (kh * fw + kw) * wScale; // branch-free append, as in forwardRow
                    list[at + 1] = (base + row + ox) * oc;
                    at += outMask[row + ox] == region ? 2 : 0;
                }
            }
        }
        list[iw] = at;
        int o = (img * ih + y) * iw * ic;
        for (int x = 0; x < iw; x++, o += ic) {
            int delta;
            if (depthwise) {
                k.depthwise(list, list[x], list[x + 1], w, diff, out, o, ic);
            } else if (x + 1 < iw && (delta = sameTaps(list, x)) != 0) {
                k.groupedPair(list, list[x], list[x + 1], delta, list[x + 1], w, fh * fw * icpg, diff, out, o, o + ic,
                        groups, ocpg, icpg);
                x++;
                o += ic;
            } else {
                k.grouped(list, list[x], list[x + 1], w, fh * fw * icpg, diff, out, o, groups, ocpg, icpg);
            }
        }
    }

    /**
     * Gradient of filter row {@code kh}, input channels {@code [u0, u1)}, into
     * {@code g[(kh*fw + kw)*G*OCPG*ICPG + ...]}: for each tap, the pixels where it is active in ascending
     * {@code (n, oh, ow)} order.
     */
    private <A> void backwardFilterRow(int kh, int u0, int u1, float[] x, float[] d, int[][] inMask,
                                       int[][] outMask, float[] g, Arithmetic<A> k) {
        int units = u1 - u0;
        int size = units * ocpg;
        A acc = k.accumulator(fw * size);
        int[] list = Workspace.get().ints(2 * ow);
        int xShift = depthwise ? u0 : 0;
        int dShift = depthwise ? u0 : 0;
        for (int img = 0; img < n; img++) {
            int[] im = inMask[img];
            int[] om = outMask[img];
            for (int y = 0; y < oh; y++) {
                int yy = y * sh - ph + kh * dh;
                if (yy < 0 || yy >= ih) {
                    continue;
                }
                int inRow = (img * ih + yy) * iw;
                int outRow = (img * oh + y) * ow;
                for (int kw = 0; kw < fw; kw++) {
                    int shift = kw * dw - pw;
                    int qLo = clampTap(-shift, sw, ow);
                    int qHi = tapEnd(iw - 1 - shift, sw, ow);
                    int len = 0;
                    for (int q = qLo; q < qHi; q++) {
                        int pix = yy * iw + q * sw + shift;
                        list[len] = (inRow + q * sw + shift) * ic + xShift;
                        list[len + 1] = (outRow + q) * oc + dShift;
                        len += im[pix] == om[y * ow + q] ? 2 : 0;
                    }
                    if (len == 0) {
                        continue;
                    }
                    if (depthwise) {
                        k.depthwiseFilter(list, 0, len, x, d, acc, kw * size, units);
                    } else {
                        k.groupedFilter(list, 0, len, x, d, acc, kw * size, u0, u1, icpg, ocpg);
                    }
                }
            }
        }
        int perTap = oc * icpg;
        for (int kw = 0; kw < fw; kw++) {
            int at = (kh * fw + kw) * perTap + u0 * ocpg;
            for (int i = 0; i < size; i++) {
                g[at + i] = k.get(acc, kw * size + i);
            }
        }
    }

    /**
     * Whether results {@code q} and {@code q+1} of a row's tap list (offsets {@code list[q]}, pairs to
     * {@code list[q+2]}) take the same taps, in the same order, the second's input offsets all one constant
     * further on (as in the inside of a region): that constant, else 0.
     */
    private static int sameTaps(int[] list, int q) {
        int a = list[q];
        int b = list[q + 1];
        int len = b - a;
        if (len == 0 || list[q + 2] - b != len) {
            return 0;
        }
        int delta = list[b + 1] - list[a + 1];
        for (int i = 0; i < len; i += 2) {
            if (list[b + i] != list[a + i] || list[b + i + 1] - list[a + i + 1] != delta) {
                return 0;
            }
        }
        return delta;
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

    // ---- reading and writing ------------------------------------------------------------------------

    /**
     * A 4-D (N, C, h, w) data tensor, any strides and data type, as one dense {@code [N][h][w][C]} float array
     * (from the calling thread's workspace slot {@code slot}; it may be longer). A channels-last tensor moves
     * with one bulk copy per image (or row, or pixel, as its strides allow). Rows are split over threads when
     * the tensor's memory may be read from them.
     */
    private float[] read(Tensor t, int h, int w, int c, int slot, int threads) {
        float[] out = Workspace.get().row(slot, n * h * w * c);
        Layouts l = new Layouts(t, h, w, c);
        if (l.planar) {
            int bands = Gather.ceilDiv(h, l.band);
            Parallel.forEach(n * bands, Packing.sharable(t) ? threads : 1, task -> {
                int img = task / bands;
                int y0 = task % bands * l.band;
                int pixels = Math.min(l.band, h - y0) * w;
                int at = (img * h + y0) * w * c;
                float[] rows = Workspace.get().row(Workspace.TMP, Math.min(c, CHANNEL_RUN) * pixels);
                for (int c0 = 0; c0 < c; c0 += CHANNEL_RUN) {
                    int cn = Math.min(CHANNEL_RUN, c - c0);
                    for (int ch = 0; ch < cn; ch++) {
                        Packing.readFloats(t.segment(), t.dtype(), l.offset(img, y0, 0) + l.channel(c0 + ch), 1, rows,
                                ch * pixels, pixels);
                    }
                    transpose(rows, 0, pixels, out, at + c0, c, cn, pixels);
                }
            });
            return out;
        }
        Parallel.forEach(l.image ? n : n * h, Packing.sharable(t) ? threads : 1, task -> {
            if (l.image) {
                Packing.readFloats(t.segment(), t.dtype(), l.offset(task, 0, 0), 1, out, task * h * w * c, h * w * c);
                return;
            }
            int img = task / h;
            int y = task % h;
            int at = task * w * c;
            if (l.row) {
                Packing.readFloats(t.segment(), t.dtype(), l.offset(img, y, 0), 1, out, at, w * c);
                return;
            }
            for (int q = 0; q < w; q++, at += c) {
                Packing.readFloats(t.segment(), t.dtype(), l.offset(img, y, q), t.stride(1), out, at, c);
            }
        });
        return out;
    }

    /** Writes a dense {@code [N][h][w][C]} array to a 4-D (N, C, h, w) tensor, as {@link #read} reads one. */
    private void write(float[] y, Tensor t, int h, int w, int c, int threads) {
        Layouts l = new Layouts(t, h, w, c);
        if (l.planar) {
            int bands = Gather.ceilDiv(h, l.band);
            Parallel.forEach(n * bands, Packing.sharable(t) ? threads : 1, task -> {
                int img = task / bands;
                int y0 = task % bands * l.band;
                int pixels = Math.min(l.band, h - y0) * w;
                int at = (img * h + y0) * w * c;
                float[] rows = Workspace.get().row(Workspace.TMP, Math.min(c, CHANNEL_RUN) * pixels);
                for (int c0 = 0; c0 < c; c0 += CHANNEL_RUN) {
                    int cn = Math.min(CHANNEL_RUN, c - c0);
                    transpose(y, at + c0, c, rows, 0, pixels, pixels, cn);
                    for (int ch = 0; ch < cn; ch++) {
                        Packing.writeFloats(t.segment(), t.dtype(), l.offset(img, y0, 0) + l.channel(c0 + ch), 1, rows,
                                ch * pixels, pixels);
                    }
                }
            });
            return;
        }
        Parallel.forEach(l.image ? n : n * h, Packing.sharable(t) ? threads : 1, task -> {
            if (l.image) {
                Packing.writeFloats(t.segment(), t.dtype(), l.offset(task, 0, 0), 1, y, task * h * w * c, h * w * c);
                return;
            }
            int img = task / h;
            int row = task % h;
            int at = task * w * c;
            if (l.row) {
                Packing.writeFloats(t.segment(), t.dtype(), l.offset(img, row, 0), 1, y, at, w * c);
                return;
            }
            for (int q = 0; q < w; q++, at += c) {
                Packing.writeFloats(t.segment(), t.dtype(), l.offset(img, row, q), t.stride(1), y, at, c);
            }
        });
    }

    /**
     * {@code to[toAt + j*toStride + i] = from[fromAt + i*fromStride + j]} for {@code i < rows}, {@code j < cols}:
     * channel runs of a planar tensor's pixels to channels-last or back. Four rows at a time, so that each step
     * stores four neighbouring floats (measured, 1.5 M floats, thread CPU time: 0.9-1.0 ms, against 1.4-1.9 ms
     * for 16 x 16 tiles and 2.0-2.4 ms one row at a time).
     */
    private static void transpose(float[] from, int fromAt, int fromStride, float[] to, int toAt, int toStride,
                                  int rows, int cols) {
        int i = 0;
        for (; i + 4 <= rows; i += 4) {
            int f = fromAt + i * fromStride;
            int o = toAt + i;
            for (int j = 0; j < cols; j++) {
                int at = o + j * toStride;
                to[at] = from[f + j];
                to[at + 1] = from[f + fromStride + j];
                to[at + 2] = from[f + 2 * fromStride + j];
                to[at + 3] = from[f + 3 * fromStride + j];
            }
        }
        for (; i < rows; i++) {
            int f = fromAt + i * fromStride;
            for (int j = 0; j < cols; j++) {
                to[toAt + j * toStride + i] = from[f + j];
            }
        }
    }

    /** How a 4-D (N, C, h, w) tensor's memory runs: whole images or rows channels-last, each channel's rows
     *  contiguous (channels-first), or neither. */
    private static final class Layouts {
        private final Tensor t;
        private final long bytes;
        /** A pixel's channels, then a row's pixels are contiguous. */
        final boolean row;
        /** And an image's rows too. */
        final boolean image;
        /** Not {@link #row}, but each channel's rows are contiguous (channels-first tensors): read and written
         *  {@link #band} rows of 64 channels at a time and transposed in cache. */
        final boolean planar;
        /** Rows per planar task: one, or about 512 floats of a channel where its rows follow each other. */
        final int band;

        Layouts(Tensor t, int h, int w, int c) {
            this.t = t;
            this.bytes = t.dtype().byteSize();
            row = (c == 1 || t.stride(1) == 1) && (w == 1 || t.stride(3) == c);
            image = row && (h == 1 || t.stride(2) == (long) w * c);
            planar = !row && (w == 1 || t.stride(3) == 1);
            band = h == 1 || t.stride(2) == w ? Math.max(1, Math.min(h, 512 / w)) : 1;
        }

        /** @return the byte offset of element {@code [img, 0, y, q]} */
        long offset(int img, int y, int q) {
            return bytes * (img * t.stride(0) + y * t.stride(2) + q * t.stride(3));
        }

        /** @return the byte offset of channel {@code ch} from channel 0 */
        long channel(int ch) {
            return bytes * ch * t.stride(1);
        }
    }

    /** Each image of a 3-D mask as a dense {@code [h][w]} int array. */
    private int[][] masks(Tensor m, int h, int w) {
        int[][] out = new int[n][];
        for (int i = 0; i < n; i++) {
            out[i] = new int[h * w];
            Packing.packMaskGrid(m, i, 0, 1, h, 0, 1, w, w, out[i]);
        }
        return out;
    }

    /** The stored filter tap (flip applied) of geometric tap {@code (kh, kw)}, as an index of FH*FW. */
    private int storedTap(int kh, int kw) {
        return (flip ? fh - 1 - kh : kh) * fw + (flip ? fw - 1 - kw : kw);
    }

    /** A depthwise filter as {@code w[(kh*fw + kw)*G + g]}, tap (kh, kw) in geometric order. */
    private float[] depthwiseWeights(Tensor filter) {
        float[] f = Packing.readFilter(filter, Workspace.get());
        int taps = fh * fw;
        float[] w = new float[taps * groups];
        for (int kh = 0; kh < fh; kh++) {
            for (int kw = 0; kw < fw; kw++) {
                int ft = storedTap(kh, kw);
                int at = (kh * fw + kw) * groups;
                for (int g = 0; g < groups; g++) {
                    w[at + g] = f[g * taps + ft];
                }
            }
        }
        return w;
    }

    /**
     * The filter for {@link Arithmetic#grouped}: forward {@code w[((g*ICPG + r)*T + t)*OCPG + m]}, backward data
     * {@code w[((g*OCPG + m)*T + t)*ICPG + r]} = filter {@code [g, m, r, stored tap of t]}.
     */
    private float[] groupedWeights(Tensor filter, boolean forward) {
        float[] f = Packing.readFilter(filter, Workspace.get());
        int taps = fh * fw;
        float[] w = new float[f.length];
        for (int g = 0; g < groups; g++) {
            for (int m = 0; m < ocpg; m++) {
                for (int r = 0; r < icpg; r++) {
                    int from = ((g * ocpg + m) * icpg + r) * taps;
                    for (int t = 0; t < taps; t++) {
                        int at = forward ? ((g * icpg + r) * taps + t) * ocpg + m : ((g * ocpg + m) * taps + t) * icpg + r;
                        w[at] = f[from + storedTap(t / fw, t % fw)];
                    }
                }
            }
        }
        return w;
    }

    /**
     * Writes {@code g[(kh*fw + kw)*G*OCPG*ICPG + ...]} (depthwise: per channel; grouped: {@code [g][r][m]}) to
     * the (G, OCPG, ICPG, FH, FW) gradient, undoing the flip.
     */
    private void storeFilter(float[] g, Tensor gradFilter) {
        MemorySegment seg = gradFilter.segment();
        int perTap = oc * icpg;
        for (int kh = 0; kh < fh; kh++) {
            for (int kw = 0; kw < fw; kw++) {
                long fkh = flip ? fh - 1 - kh : kh;
                long fkw = flip ? fw - 1 - kw : kw;
                int at = (kh * fw + kw) * perTap;
                for (int gr = 0; gr < groups; gr++) {
                    for (int r = 0; r < icpg; r++) {
                        for (int m = 0; m < ocpg; m++) {
                            long off = gr * gradFilter.stride(0) + m * gradFilter.stride(1) + r * gradFilter.stride(2)
                                    + fkh * gradFilter.stride(3) + fkw * gradFilter.stride(4);
                            Packing.setFloat(seg, gradFilter.dtype(), off, g[at + (gr * icpg + r) * ocpg + m]);
                        }
                    }
                }
            }
        }
    }

    // ---- the scalar arithmetic ------------------------------------------------------------------------

    /** Float products summed in double: loops over contiguous channels with a double[] store, which C2 vectorizes. */
    private static final class Scalar implements Arithmetic<double[]> {
        /** Most channels per pass of the depthwise sums (a block's weights and inputs stay in cache). */
        private static final int CHANNEL_BLOCK = 512;

        @Override
        public void depthwise(int[] list, int from, int to, float[] w, float[] x, float[] out, int o, int channels) {
            double[] acc = Workspace.get().doubleRows(Workspace.ACC, 1, Math.min(channels, CHANNEL_BLOCK))[0];
            for (int c0 = 0; c0 < channels; c0 += CHANNEL_BLOCK) {
                int cb = Math.min(CHANNEL_BLOCK, channels - c0);
                int i = from;
                if (i + 4 <= to) { // the first two pairs set acc: one pass less than zeroing it first
                    Kernels.axpy2From0(acc, w, list[i] + c0, x, list[i + 1] + c0, w, list[i + 2] + c0, x,
                            list[i + 3] + c0, cb);
                    i += 4;
                } else {
                    Arrays.fill(acc, 0, cb, 0.0);
                }
                for (; i + 4 <= to; i += 4) {
                    Kernels.axpy2(acc, w, list[i] + c0, x, list[i + 1] + c0, w, list[i + 2] + c0, x, list[i + 3] + c0,
                            cb);
                }
                if (i < to) {
                    Kernels.axpy(acc, w, list[i] + c0, x, list[i + 1] + c0, cb);
                }
                Kernels.toFloat(out, o + c0, acc, cb);
            }
        }

        @Override
        public void grouped(int[] list, int from, int to, float[] w, int rStride, float[] x, float[] out, int o,
                            int groups, int reduce, int per) {
            double[] acc = Workspace.get().doubleRows(Workspace.ACC, 1, per)[0];
            for (int g = 0; g < groups; g++) {
                Arrays.fill(acc, 0, per, 0.0);
                for (int r = 0; r < reduce; r++) {
                    int xr = g * reduce + r;
                    int wr = xr * rStride;
                    for (int i = from; i < to; i += 2) {
                        scaledAdd(acc, 0, x[list[i + 1] + xr], w, wr + list[i], per);
                    }
                }
                Kernels.toFloat(out, o + g * per, acc, per);
            }
        }

        @Override
        public double[] accumulator(int length) {
            double[] acc = Workspace.get().doubleRows(Workspace.LANE, 1, length)[0];
            Arrays.fill(acc, 0, length, 0.0);
            return acc;
        }

        @Override
        public float get(double[] acc, int i) {
            return (float) acc[i];
        }

        @Override
        public void depthwiseFilter(int[] list, int from, int to, float[] x, float[] d, double[] acc, int a,
                                    int channels) {
            int i = from;
            for (; i + 4 <= to; i += 4) {
                Kernels.productAccumulate2(acc, a, x, list[i], d, list[i + 1], list[i + 2], list[i + 3], channels);
            }
            if (i < to) {
                Kernels.productAccumulate(acc, a, x, list[i], d, list[i + 1], channels);
            }
        }

        @Override
        public void groupedFilter(int[] list, int from, int to, float[] x, float[] d, double[] acc, int a, int u0,
                                  int u1, int reduce, int per) {
            for (int i = from; i < to; i += 2) {
                int xi = list[i];
                int di = list[i + 1];
                for (int u = u0; u < u1; u++) {
                    scaledAdd(acc, a + (u - u0) * per, x[xi + u], d, di + u / reduce * per, per);
                }
            }
        }

        /** {@code acc[ao+i] = acc[ao+i] + (double) (v * y[yo+i])} for {@code i < len}. */
        private static void scaledAdd(double[] acc, int ao, float v, float[] y, int yo, int len) {
            for (int i = 0; i < len; i++) {
                acc[ao + i] = acc[ao + i] + (double) (v * y[yo + i]);
            }
        }
    }
}
