package dev.rrconv.internal.vector;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.Mode;
import dev.rrconv.Tensor;
import dev.rrconv.internal.Backends;
import dev.rrconv.internal.VectorConv;
import dev.rrconv.internal.javaimpl.NhwcLoops;
import dev.rrconv.internal.javaimpl.Parallel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Java backend's loops on the Vector API ({@code jdk.incubator.vector}), for every direction,
 * parameter and mask dtype. Only {@code dev.rrconv.internal.VectorProvider} loads this class (by name),
 * and only when the module is in the module graph.
 *
 * <p>Each call packs its tensors into padded Java arrays ({@link Plane}: columns split by stride
 * phase, so that every tap reads a contiguous run), builds per output row and tap the lane masks of
 * the taps each output takes ({@link TapRows}, shared by every channel), and then vectorises along
 * the output row ({@link GatherKernel} forward and backward data, {@link FilterKernel} backward
 * filter). Depthwise forward and backward data pack no whole tensor: each task packs the planes of
 * the four channels it computes into the thread's own small arrays, which stay in cache, and unpacks
 * its outputs straight away (packing the whole input and output, as large as the tensors, cost more
 * than the arithmetic on DW-K3). Rows (forward, backward data), channel blocks (depthwise) and output
 * channels (backward filter) are split over {@link Backends#threads()} threads; each output is computed by one thread in a fixed order, so
 * results are bitwise identical for every thread count (forward and backward data: bitwise those of
 * the reference loops).
 */
public final class VectorBackend implements VectorConv {
    /** The float species: the JVM's preferred shape. */
    static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    /** The int species of the same lane count (the masks). */
    static final VectorSpecies<Integer> INTS = VectorSpecies.of(int.class, FLOATS.vectorShape());

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** An unstarted thread: a segment accessible by it is accessible by every thread (not confined). */
    private static final Thread OTHER = new Thread(() -> { }, "rrconv-probe");

    private VectorBackend() {}

    /**
     * @return the backend
     * @throws UnsupportedOperationException (with the reason) if the preferred vectors are too short to
     *     pay off or too long for the 64-bit lane masks
     */
    public static VectorConv create() {
        int lanes = FLOATS.length();
        if (lanes < 4 || lanes > 64 || INTS.length() != lanes) {
            throw new UnsupportedOperationException("the preferred vector shape " + FLOATS.vectorShape() + " holds "
                    + lanes + " floats (the vector loops need 4 to 64)");
        }
        return new VectorBackend();
    }

    @Override
    public String describe() {
        return "jdk.incubator.vector, " + FLOATS.vectorBitSize() + "-bit vectors (" + FLOATS.length() + " floats)";
    }

    @Override
    public NhwcLoops.Arithmetic<?> nhwc() {
        return NhwcKernel.INSTANCE;
    }

    @Override
    public boolean appliesForward(ConvShape s, ConvParams p) {
        return Geometry.forward(s, p) != null;
    }

    @Override
    public boolean appliesBackwardData(ConvShape s, ConvParams p) {
        return Geometry.backwardData(s, p) != null;
    }

    @Override
    public boolean appliesBackwardFilter(ConvShape s, ConvParams p) {
        return Geometry.forward(s, p) != null;
    }

    private static boolean sharable(Tensor... ts) {
        for (Tensor t : ts) {
            if (!t.segment().isAccessibleBy(OTHER)) {
                return false;
            }
        }
        return true;
    }

    private static float[][] packFloats(Tensor t, Plane plane, int n, int c, float[][] out, int threads,
                                        boolean parallel) {
        Parallel.forEach(n * c, parallel ? threads : 1,
                i -> plane.packFloats(t, i / c, i % c, out[i], new float[plane.width()]));
        return out;
    }

    private static int[][] packMasks(Tensor t, Plane plane, int n, int[][] out, int threads, boolean parallel) {
        Parallel.forEach(n, parallel ? threads : 1, i -> plane.packMask(t, i, out[i], new int[plane.width()]));
        return out;
    }

    private static void unpack(float[][] planes, int count, Plane plane, Tensor t, int c, int threads,
                               boolean parallel) {
        Parallel.forEach(count, parallel ? threads : 1, i -> plane.unpackFloats(planes[i], t, i / c, i % c));
    }

    /**
     * @return true if no element of plane {@code a} (laid out as {@code plane}, its row slack zeroed) is
     *     NaN or infinite
     */
    private static boolean finite(float[] a, Plane plane) {
        int lanes = FLOATS.length();
        int to = plane.index(0, 0, 0) + plane.phases() * plane.height() * plane.pitch();
        // v - v is +0 for every finite v and NaN for a NaN or an infinity; a NaN stays in the sum
        FloatVector s = FloatVector.zero(FLOATS);
        int c = plane.index(0, 0, 0);
        for (; c + lanes <= to; c += lanes) {
            FloatVector v = FloatVector.fromArray(FLOATS, a, c);
            s = s.add(v.sub(v));
        }
        float r = s.reduceLanes(VectorOperators.ADD);
        for (; c < to; c++) {
            r += a[c] - a[c];
        }
        return r == 0f;
    }

    /** @return true if no element is NaN or infinite */
    private static boolean allFinite(float[] a) {
        for (float v : a) {
            if (!Float.isFinite(v)) {
                return false;
            }
        }
        return true;
    }

    /**
     * The filter as {@code w[((g*cout + co)*cin + ci)*taps + kh*FW + kw]}, flipped in convolution mode;
     * {@code transposed}: {@code co} runs over the filter's input channels (backward data).
     */
    private static float[] weights(Geometry geo, ConvParams p, Tensor filter, boolean transposed) {
        int g = geo.groups();
        int cout = transposed ? geo.icpg() : geo.ocpg();
        int cin = transposed ? geo.ocpg() : geo.icpg();
        int fh = geo.fh();
        int fw = geo.fw();
        int taps = geo.taps();
        boolean flip = p.mode() == Mode.CONVOLUTION;
        float[] f = new float[g * geo.ocpg() * geo.icpg() * taps]; // the filter in C order
        if (filter.isContiguous()) {
            MemorySegment.copy(filter.segment(), F, 0, f, 0, f.length);
        } else {
            int at = 0;
            for (int a = 0; a < g; a++) {
                for (int oc = 0; oc < geo.ocpg(); oc++) {
                    for (int ic = 0; ic < geo.icpg(); ic++) {
                        for (int kh = 0; kh < fh; kh++) {
                            for (int kw = 0; kw < fw; kw++) {
                                f[at++] = filter.segment().get(F, 4 * (a * filter.stride(0) + oc * filter.stride(1)
                                        + ic * filter.stride(2) + kh * filter.stride(3) + kw * filter.stride(4)));
                            }
                        }
                    }
                }
            }
        }
        float[] w = new float[f.length];
        for (int a = 0; a < g; a++) {
            for (int co = 0; co < cout; co++) {
                for (int ci = 0; ci < cin; ci++) {
                    int oc = transposed ? ci : co;
                    int ic = transposed ? co : ci;
                    int from = ((a * geo.ocpg() + oc) * geo.icpg() + ic) * taps;
                    int to = ((a * cout + co) * cin + ci) * taps;
                    for (int t = 0; t < taps; t++) {
                        w[to + t] = f[from + (flip ? taps - 1 - t : t)];
                    }
                }
            }
        }
        return w;
    }

    /**
     * The depthwise gather (one channel per group), forward or backward data: each task takes four
     * channels of one image, packs their planes of {@code in} into the thread's own small arrays (laid out
     * as {@code geo.x()}, so they stay in cache), runs their rows ({@link GatherKernel#depthwise3x3} two
     * channels at a time for a 3x3 filter on rows of an even number of vectors, else
     * {@link GatherKernel#depthwise}) and unpacks them into {@code out}. Every output is computed by one
     * task in a fixed order, whatever the thread count.
     *
     * @param rows the gather's rows per image ({@code OH} forward, {@code IH*SW} backward data); row
     *     {@code k} of image {@code n} is {@code TapRows} row {@code n*rows + k}, written at
     *     {@code geo.y()}'s row {@code k / phases}, phase {@code k % phases}
     * @param threads the threads (1 if the tensors may only be read by this thread)
     */
    private static void depthwise(Geometry geo, TapRows tr, float[] w, Tensor in, Tensor out, int rows, int threads) {
        int groups = geo.groups();
        int blocks = (groups + 3) / 4;
        Plane xp = geo.x();
        Plane yp = geo.y();
        int taps = geo.taps();
        boolean three = geo.fh() == 3 && geo.fw() == 3 && geo.chunks() % 2 == 0;
        int[] at = new int[rows]; // where each row starts in the output planes
        for (int r = 0; r < rows; r++) {
            at[r] = yp.index(r / yp.phases(), r % yp.phases(), 0);
        }
        Parallel.forEach(geo.n() * blocks, threads, i -> {
            int n = i / blocks;
            int g0 = (i % blocks) * 4;
            int k = Math.min(4, groups - g0);
            Scratch sc = Scratch.get();
            float[][] x = sc.floats(Scratch.X, 4, xp.length());
            float[][] y = sc.floats(Scratch.Y, 4, yp.length());
            float[] row = new float[xp.width()];
            for (int c = 0; c < k; c++) {
                xp.packFloats(in, n, g0 + c, x[c], row);
            }
            if (three) {
                for (int c = 0; c < k; c += 2) {
                    int d = Math.min(c + 1, k - 1); // an odd last channel runs twice
                    for (int j = 0; j < geo.chunks(); j += 2) {
                        GatherKernel.depthwise3x3(tr, n * rows, rows, j, x[c], x[d], w, (g0 + c) * taps, (g0 + d) * taps,
                                y[c], y[d], at);
                    }
                }
            } else {
                for (int r = 0; r < rows; r++) {
                    GatherKernel.depthwise(tr, n * rows + r, x, w, g0 * taps, k, y, at[r]);
                }
            }
            for (int c = 0; c < k; c++) {
                yp.unpackFloats(y[c], out, n, g0 + c);
            }
        });
    }

    /**
     * The depthwise filter gradient: each task takes four channels and, image by image, packs their src
     * and diff planes into the thread's own small arrays (they stay in cache while every tap reads them)
     * and adds each tap's products to one sum per lane ({@link FilterKernel#depthwise}; for a filter 3
     * wide on rows of an even number of vectors {@link FilterKernel#depthwise3}, filter row by filter row,
     * the same sums); at the end the lanes are added in lane order. Every channel is computed by one task in a fixed order, whatever
     * the thread count.
     *
     * @param gw the gradient, {@code [g*taps + t]}
     * @param threads the threads (1 if the tensors may only be read by this thread)
     */
    private static void depthwiseFilter(Geometry geo, TapRows tr, Tensor src, Tensor diff, float[] gw, int threads) {
        int groups = geo.groups();
        int blocks = (groups + 3) / 4;
        Plane xp = geo.x();
        Plane yp = geo.y();
        int taps = geo.taps();
        int lanes = FLOATS.length();
        boolean three = geo.fw() == 3 && geo.chunks() % 2 == 0; // any filter height
        Parallel.forEach(blocks, threads, i -> {
            int g0 = i * 4;
            int k = Math.min(4, groups - g0);
            Scratch sc = Scratch.get();
            float[][] x = sc.floats(Scratch.X, 4, xp.length()).clone();
            float[][] d = sc.floats(Scratch.D, 4, yp.length()).clone();
            for (int c = k; c < 4; c++) { // a short block repeats its last channel
                x[c] = x[k - 1];
                d[c] = d[k - 1];
            }
            float[] acc = sc.floats(Scratch.Y, 1, 4 * taps * lanes)[0];
            java.util.Arrays.fill(acc, 0, 4 * taps * lanes, 0f);
            float[] row = new float[Math.max(xp.width(), yp.width())];
            for (int n = 0; n < geo.n(); n++) {
                for (int c = 0; c < k; c++) {
                    xp.packFloats(src, n, g0 + c, x[c], row);
                    yp.packFloats(diff, n, g0 + c, d[c], row);
                }
                if (three) {
                    for (int kh = 0; kh < geo.fh(); kh++) {
                        for (int j = 0; j < geo.chunks(); j += 2) {
                            for (int c = 0; c < 4; c += 2) {
                                FilterKernel.depthwise3(geo, tr, n, j, kh, x[c], x[c + 1], d[c], d[c + 1], acc,
                                        c * taps * lanes, (c + 1) * taps * lanes);
                            }
                        }
                    }
                } else {
                    FilterKernel.depthwise(geo, tr, n, x, d, acc);
                }
            }
            for (int c = 0; c < k; c++) {
                for (int t = 0; t < taps; t++) {
                    gw[(g0 + c) * taps + t] = FilterKernel.sum(acc, (c * taps + t) * lanes);
                }
            }
        });
    }

    @Override
    public void forward(ConvShape s, ConvParams p, Tensor src, Tensor filter, Tensor rin, Tensor rout, Tensor dst) {
        Geometry geo = Geometry.forward(s, p);
        int threads = Backends.threads();
        boolean par = sharable(src, rin, rout, dst);
        int ic = geo.groups() * geo.icpg();
        int oc = geo.groups() * geo.ocpg();
        Scratch sc = Scratch.get();
        if (geo.icpg() == 1 && geo.ocpg() == 1) {
            TapRows tr = TapRows.forward(geo,
                    packMasks(rin, geo.x(), geo.n(), sc.ints(Scratch.X, geo.n(), geo.x().length()), threads, par),
                    packMasks(rout, geo.y(), geo.n(), sc.ints(Scratch.Y, geo.n(), geo.y().length()), threads, par),
                    sc, threads);
            depthwise(geo, tr, weights(geo, p, filter, false), src, dst, geo.oh(), par ? threads : 1);
            return;
        }
        float[][] x = packFloats(src, geo.x(), geo.n(), ic, sc.floats(Scratch.X, geo.n() * ic, geo.x().length()),
                threads, par);
        TapRows tr = TapRows.forward(geo,
                packMasks(rin, geo.x(), geo.n(), sc.ints(Scratch.X, geo.n(), geo.x().length()), threads, par),
                packMasks(rout, geo.y(), geo.n(), sc.ints(Scratch.Y, geo.n(), geo.y().length()), threads, par),
                sc, threads);
        float[] w = weights(geo, p, filter, false);
        boolean fma = allFinite(w);
        float[][] y = sc.floats(Scratch.Y, geo.n() * oc, geo.y().length());
        Parallel.forEach(geo.n() * geo.oh(), threads, r -> {
            int n = r / geo.oh();
            GatherKernel.row(geo, tr, r, x, n * ic, w, fma, geo.icpg(), geo.ocpg(), y, n * oc,
                    geo.y().index(r % geo.oh(), 0, 0));
        });
        unpack(y, geo.n() * oc, geo.y(), dst, oc, threads, par);
    }

    @Override
    public void backwardData(ConvShape s, ConvParams p, Tensor filter, Tensor diff, Tensor rin, Tensor rout,
                             Tensor gradSrc) {
        Geometry geo = Geometry.backwardData(s, p);
        int threads = Backends.threads();
        boolean par = sharable(diff, rin, rout, gradSrc);
        int ic = geo.groups() * geo.icpg();
        int oc = geo.groups() * geo.ocpg();
        Scratch sc = Scratch.get();
        if (geo.icpg() == 1 && geo.ocpg() == 1) {
            TapRows tr = TapRows.backwardData(geo,
                    packMasks(rout, geo.x(), geo.n(), sc.ints(Scratch.X, geo.n(), geo.x().length()), threads, par),
                    packMasks(rin, geo.y(), geo.n(), sc.ints(Scratch.Y, geo.n(), geo.y().length()), threads, par),
                    sc, threads);
            depthwise(geo, tr, weights(geo, p, filter, true), diff, gradSrc, geo.ih() * geo.sw(), par ? threads : 1);
            return;
        }
        float[][] x = packFloats(diff, geo.x(), geo.n(), oc, sc.floats(Scratch.X, geo.n() * oc, geo.x().length()),
                threads, par);
        TapRows tr = TapRows.backwardData(geo,
                packMasks(rout, geo.x(), geo.n(), sc.ints(Scratch.X, geo.n(), geo.x().length()), threads, par),
                packMasks(rin, geo.y(), geo.n(), sc.ints(Scratch.Y, geo.n(), geo.y().length()), threads, par),
                sc, threads);
        float[] w = weights(geo, p, filter, true);
        boolean fma = allFinite(w);
        float[][] y = sc.floats(Scratch.Y, geo.n() * ic, geo.y().length());
        int sw = geo.sw();
        Parallel.forEach(geo.n() * geo.ih() * sw, threads, r -> {
            int phase = r % sw;
            int ih = (r / sw) % geo.ih();
            int n = r / sw / geo.ih();
            GatherKernel.row(geo, tr, r, x, n * oc, w, fma, geo.ocpg(), geo.icpg(), y, n * ic,
                    geo.y().index(ih, phase, 0));
        });
        unpack(y, geo.n() * ic, geo.y(), gradSrc, ic, threads, par);
    }

    @Override
    public void backwardFilter(ConvShape s, ConvParams p, Tensor src, Tensor diff, Tensor rin, Tensor rout,
                               Tensor gradFilter) {
        Geometry geo = Geometry.forward(s, p);
        int threads = Backends.threads();
        boolean par = sharable(src, diff, rin, rout);
        int ic = geo.groups() * geo.icpg();
        int oc = geo.groups() * geo.ocpg();
        Scratch sc = Scratch.get();
        if (geo.icpg() == 1 && geo.ocpg() == 1) {
            TapRows tr = TapRows.forwardByTap(geo,
                    packMasks(rin, geo.x(), geo.n(), sc.ints(Scratch.X, geo.n(), geo.x().length()), threads, par),
                    packMasks(rout, geo.y(), geo.n(), sc.ints(Scratch.Y, geo.n(), geo.y().length()), threads, par),
                    sc, threads);
            float[] gw = new float[geo.groups() * geo.taps()];
            depthwiseFilter(geo, tr, src, diff, gw, par ? threads : 1);
            storeFilter(geo, p, gw, gradFilter);
            return;
        }
        float[][] x = packFloats(src, geo.x(), geo.n(), ic, sc.floats(Scratch.X, geo.n() * ic, geo.x().length()),
                threads, par);
        // diff plane by plane: packed, its row slack zeroed (lanes past a row's end are masked by the
        // input's zeroing, so they must hold no NaN or infinity; the reused arrays may hold anything there)
        // and checked for NaN and infinities while it is in cache
        Plane yp = geo.y();
        float[][] d = sc.floats(Scratch.D, geo.n() * oc, yp.length());
        boolean[] finiteDiff = new boolean[geo.n() * oc];
        Parallel.forEach(geo.n() * oc, par ? threads : 1, i -> {
            yp.packFloats(diff, i / oc, i % oc, d[i], new float[yp.width()]);
            yp.zeroSlack(d[i]);
            finiteDiff[i] = finite(d[i], yp);
        });
        TapRows tr = TapRows.forward(geo,
                packMasks(rin, geo.x(), geo.n(), sc.ints(Scratch.X, geo.n(), geo.x().length()), threads, par),
                packMasks(rout, geo.y(), geo.n(), sc.ints(Scratch.Y, geo.n(), geo.y().length()), threads, par),
                sc, threads);
        float[] gw = new float[oc * geo.icpg() * geo.taps()];
        // blocks of eight (fused multiply-adds, when every diff value is finite) or four output channels of
        // a group share their input loads; the rest one by one
        int cout = geo.ocpg();
        boolean fma = true;
        for (boolean f : finiteDiff) {
            fma &= f;
        }
        int eights = fma ? cout / 8 : 0;
        int fours = (cout - 8 * eights) / 4;
        int ones = cout - 8 * eights - 4 * fours;
        int perGroup = eights + fours + ones;
        Parallel.forEach(geo.groups() * perGroup, threads, i -> {
            int g = i / perGroup;
            int k = i % perGroup;
            if (k < eights) {
                FilterKernel.channels8(geo, tr, g, 8 * k, x, d, gw);
            } else if (k < eights + fours) {
                FilterKernel.channels4(geo, tr, g, 8 * eights + 4 * (k - eights), x, d, gw);
            } else {
                FilterKernel.channel(geo, tr, g, 8 * eights + 4 * fours + (k - eights - fours), x, d, gw);
            }
        });
        storeFilter(geo, p, gw, gradFilter);
    }

    /** Writes {@code gw} ({@code [((g*cout + co)*cin + ci)*taps + t]}) to the gradient tensor, flipped in convolution mode. */
    private static void storeFilter(Geometry geo, ConvParams p, float[] gw, Tensor gradFilter) {
        boolean flip = p.mode() == Mode.CONVOLUTION;
        var seg = gradFilter.segment();
        int cout = geo.ocpg();
        int cin = geo.icpg();
        for (int a = 0; a < geo.groups(); a++) {
            for (int co = 0; co < cout; co++) {
                for (int ci = 0; ci < cin; ci++) {
                    for (int kh = 0; kh < geo.fh(); kh++) {
                        for (int kw = 0; kw < geo.fw(); kw++) {
                            long fkh = flip ? geo.fh() - 1 - kh : kh;
                            long fkw = flip ? geo.fw() - 1 - kw : kw;
                            long off = 4 * (a * gradFilter.stride(0) + co * gradFilter.stride(1)
                                    + ci * gradFilter.stride(2) + fkh * gradFilter.stride(3)
                                    + fkw * gradFilter.stride(4));
                            seg.set(F, off, gw[((a * cout + co) * cin + ci) * geo.taps() + kh * geo.fw() + kw]);
                        }
                    }
                }
            }
        }
    }
}
