package dev.rrconv.internal.javaimpl;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.DType;
import dev.rrconv.Mode;
import dev.rrconv.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The straightforward loops, and the library's one statement of the operator: {@link #walkForward},
 * {@link #walkBackwardData} and {@link #walkBackwardFilter} enumerate the taps of each result element in a
 * fixed order, and both the reference loops below (one output element at a time, straight from the strided
 * tensors, in float) and {@code rrconv explain} follow them. Slow, but free of any size limit: the last row
 * of each direction of the Java kernel table.
 *
 * <p>A tap is one tuple {@code (n, g, ocg, icg, oh, ow, kh, kw)}: it reads input pixel
 * {@code ih = oh*strideH - padH + kh*dilationH}, {@code iw = ow*strideW - padW + kw*dilationW} and the filter
 * element {@code (kh', kw')} (flipped for convolution), and counts only when that pixel is inside the image
 * and {@code rin[n, ih, iw] == rout[n, oh, ow]}.
 */
public final class ReferenceLoops {
    private ReferenceLoops() {}


    /** Why a tap does not count. */
    public enum Skip {
        /** It counts. */
        NONE,
        /** Its input pixel lies in the padding. */
        PADDING,
        /** Its input and output pixels are in different regions. */
        REGION
    }

    /**
     * One tap, as a cursor: a walk hands the same object, updated, to each {@link TapVisitor#tap} call (no
     * allocation per tap), so read it there and do not keep it.
     */
    public static final class Tap {
        private long n;
        private long g;
        private long ocg;
        private long icg;
        private long oc;
        private long ic;
        private long oh;
        private long ow;
        private long ih;
        private long iw;
        private long fkh;
        private long fkw;
        private Skip skip;
        private int inRegion;
        private int outRegion;

        private Tap() {}

        private Tap at(long n, long g, long ocg, long icg, long oc, long ic, long oh, long ow, long ih, long iw,
                       long fkh, long fkw, Skip skip, int inRegion, int outRegion) {
            this.n = n;
            this.g = g;
            this.ocg = ocg;
            this.icg = icg;
            this.oc = oc;
            this.ic = ic;
            this.oh = oh;
            this.ow = ow;
            this.ih = ih;
            this.iw = iw;
            this.fkh = fkh;
            this.fkw = fkw;
            this.skip = skip;
            this.inRegion = inRegion;
            this.outRegion = outRegion;
            return this;
        }

        /** @return the image */
        public long n() {
            return n;
        }

        /** @return the group */
        public long g() {
            return g;
        }

        /** @return the output channel within the group */
        public long ocg() {
            return ocg;
        }

        /** @return the input channel within the group */
        public long icg() {
            return icg;
        }

        /** @return the output channel, {@code g*OCPG + ocg} */
        public long oc() {
            return oc;
        }

        /** @return the input channel, {@code g*ICPG + icg} */
        public long ic() {
            return ic;
        }

        /** @return the output row */
        public long oh() {
            return oh;
        }

        /** @return the output column */
        public long ow() {
            return ow;
        }

        /** @return the input row (outside {@code [0, IH)} in the padding) */
        public long ih() {
            return ih;
        }

        /** @return the input column (outside {@code [0, IW)} in the padding) */
        public long iw() {
            return iw;
        }

        /** @return the stored filter row it multiplies (flip applied) */
        public long fkh() {
            return fkh;
        }

        /** @return the stored filter column it multiplies (flip applied) */
        public long fkw() {
            return fkw;
        }

        /** @return whether and why it does not count */
        public Skip skip() {
            return skip;
        }

        /** @return {@code rin[n, ih, iw]} (0 in the padding) */
        public int inRegion() {
            return inRegion;
        }

        /** @return {@code rout[n, oh, ow]} */
        public int outRegion() {
            return outRegion;
        }
    }

    /** Receives the taps of one direction, grouped by the result element they add to. */
    public interface TapVisitor {
        /**
         * The taps of one result element follow.
         *
         * @param index its indices: dst or grad src {@code (n, c, h, w)}, grad filter {@code (g, ocg, icg, kh, kw)}
         */
        void begin(long... index);

        /**
         * One tap of the current element, in the order the reference loops add them.
         *
         * @param t the tap
         */
        void tap(Tap t);

        /** The current element has no more taps. */
        void end();
    }

    private static int mask(Tensor m, long n, long h, long w) {
        long off = n * m.stride(0) + h * m.stride(1) + w * m.stride(2);
        return m.dtype() == DType.INT32 ? m.segment().get(ValueLayout.JAVA_INT_UNALIGNED, off * 4)
                : Byte.toUnsignedInt(m.segment().get(ValueLayout.JAVA_BYTE, off));
    }

    private static float get(Tensor t, long a, long b, long c, long d) {
        return Packing.getFloat(t.segment(), t.dtype(),
                a * t.stride(0) + b * t.stride(1) + c * t.stride(2) + d * t.stride(3));
    }

    private static long off5(Tensor t, long a, long b, long c, long d, long e) {
        return a * t.stride(0) + b * t.stride(1) + c * t.stride(2) + d * t.stride(3) + e * t.stride(4);
    }

    private static float filter(Tensor f, Tap t) {
        return Packing.getFloat(f.segment(), f.dtype(), off5(f, t.g(), t.ocg(), t.icg(), t.fkh(), t.fkw()));
    }

    /**
     * The forward taps: per dst element {@code (n, oc, oh, ow)} in that order, its taps in
     * {@code (icg, kh, kw)} order.
     *
     * @param s the problem
     * @param p its parameters
     * @param rin input regions
     * @param rout output regions
     * @param v the visitor
     */
    public static void walkForward(ConvShape s, ConvParams p, Tensor rin, Tensor rout, TapVisitor v) {
        Tap cursor = new Tap();
        boolean flip = p.mode() == Mode.CONVOLUTION;
        for (long n = 0; n < s.n(); n++) {
            for (long g = 0; g < s.groups(); g++) {
                for (long ocg = 0; ocg < s.ocpg(); ocg++) {
                    long oc = g * s.ocpg() + ocg;
                    for (long oh = 0; oh < s.oh(); oh++) {
                        for (long ow = 0; ow < s.ow(); ow++) {
                            int region = mask(rout, n, oh, ow);
                            v.begin(n, oc, oh, ow);
                            for (long icg = 0; icg < s.icpg(); icg++) {
                                long ic = g * s.icpg() + icg;
                                for (long kh = 0; kh < s.fh(); kh++) {
                                    long ih = oh * p.strideH() - p.padH() + kh * p.dilationH();
                                    long fkh = flip ? s.fh() - 1 - kh : kh;
                                    for (long kw = 0; kw < s.fw(); kw++) {
                                        long iw = ow * p.strideW() - p.padW() + kw * p.dilationW();
                                        long fkw = flip ? s.fw() - 1 - kw : kw;
                                        v.tap(tap(cursor, s, rin, n, g, ocg, icg, oc, ic, oh, ow, ih, iw, fkh, fkw, region));
                                    }
                                }
                            }
                            v.end();
                        }
                    }
                }
            }
        }
    }

    /**
     * The backward-data taps: per grad src element {@code (n, ic, ih, iw)} in that order, its taps in
     * {@code (ocg, kh, kw)} order; only taps that some output pixel reaches (none lies in the padding).
     *
     * @param s the problem
     * @param p its parameters
     * @param rin input regions
     * @param rout output regions
     * @param v the visitor
     */
    public static void walkBackwardData(ConvShape s, ConvParams p, Tensor rin, Tensor rout, TapVisitor v) {
        Tap cursor = new Tap();
        boolean flip = p.mode() == Mode.CONVOLUTION;
        for (long n = 0; n < s.n(); n++) {
            for (long g = 0; g < s.groups(); g++) {
                for (long icg = 0; icg < s.icpg(); icg++) {
                    long ic = g * s.icpg() + icg;
                    for (long ih = 0; ih < s.ih(); ih++) {
                        for (long iw = 0; iw < s.iw(); iw++) {
                            int region = mask(rin, n, ih, iw);
                            v.begin(n, ic, ih, iw);
                            for (long ocg = 0; ocg < s.ocpg(); ocg++) {
                                long oc = g * s.ocpg() + ocg;
                                for (long kh = 0; kh < s.fh(); kh++) {
                                    long th = ih + p.padH() - kh * p.dilationH();
                                    if (th < 0 || th % p.strideH() != 0 || th / p.strideH() >= s.oh()) {
                                        continue; // no output row reaches this input row with this kh
                                    }
                                    long oh = th / p.strideH();
                                    long fkh = flip ? s.fh() - 1 - kh : kh;
                                    for (long kw = 0; kw < s.fw(); kw++) {
                                        long tw = iw + p.padW() - kw * p.dilationW();
                                        if (tw < 0 || tw % p.strideW() != 0 || tw / p.strideW() >= s.ow()) {
                                            continue;
                                        }
                                        long ow = tw / p.strideW();
                                        int out = mask(rout, n, oh, ow);
                                        v.tap(cursor.at(n, g, ocg, icg, oc, ic, oh, ow, ih, iw, fkh,
                                                flip ? s.fw() - 1 - kw : kw, out == region ? Skip.NONE : Skip.REGION,
                                                region, out));
                                    }
                                }
                            }
                            v.end();
                        }
                    }
                }
            }
        }
    }

    /**
     * The backward-filter taps: per grad filter element {@code (g, ocg, icg, kh', kw')} in that (stored) order,
     * its taps in {@code (n, oh, ow)} order.
     *
     * @param s the problem
     * @param p its parameters
     * @param rin input regions
     * @param rout output regions
     * @param v the visitor
     */
    public static void walkBackwardFilter(ConvShape s, ConvParams p, Tensor rin, Tensor rout, TapVisitor v) {
        Tap cursor = new Tap();
        boolean flip = p.mode() == Mode.CONVOLUTION;
        for (long g = 0; g < s.groups(); g++) {
            for (long ocg = 0; ocg < s.ocpg(); ocg++) {
                long oc = g * s.ocpg() + ocg;
                for (long icg = 0; icg < s.icpg(); icg++) {
                    long ic = g * s.icpg() + icg;
                    for (long fkh = 0; fkh < s.fh(); fkh++) {
                        long kh = flip ? s.fh() - 1 - fkh : fkh;
                        for (long fkw = 0; fkw < s.fw(); fkw++) {
                            long kw = flip ? s.fw() - 1 - fkw : fkw;
                            v.begin(g, ocg, icg, fkh, fkw);
                            for (long n = 0; n < s.n(); n++) {
                                for (long oh = 0; oh < s.oh(); oh++) {
                                    long ih = oh * p.strideH() - p.padH() + kh * p.dilationH();
                                    for (long ow = 0; ow < s.ow(); ow++) {
                                        long iw = ow * p.strideW() - p.padW() + kw * p.dilationW();
                                        v.tap(tap(cursor, s, rin, n, g, ocg, icg, oc, ic, oh, ow, ih, iw, fkh, fkw,
                                                mask(rout, n, oh, ow)));
                                    }
                                }
                            }
                            v.end();
                        }
                    }
                }
            }
        }
    }

    /** A forward or backward-filter tap: in the padding, or compared with the output pixel's region. */
    private static Tap tap(Tap cursor, ConvShape s, Tensor rin, long n, long g, long ocg, long icg, long oc, long ic,
                           long oh, long ow, long ih, long iw, long fkh, long fkw, int region) {
        if (ih < 0 || ih >= s.ih() || iw < 0 || iw >= s.iw()) {
            return cursor.at(n, g, ocg, icg, oc, ic, oh, ow, ih, iw, fkh, fkw, Skip.PADDING, 0, region);
        }
        int in = mask(rin, n, ih, iw);
        return cursor.at(n, g, ocg, icg, oc, ic, oh, ow, ih, iw, fkh, fkw, in == region ? Skip.NONE : Skip.REGION,
                in, region);
    }

    /** Sums the counting taps of each element in float, in the walk's order, and stores the sum. */
    private static final class FloatSums implements TapVisitor {
        /** The product of the two factors of a tap. */
        private final ToFloat term;
        /** Stores an element's sum. */
        private final Store store;
        private float acc;
        private long[] at;

        @FunctionalInterface
        private interface ToFloat {
            float of(Tap t);
        }

        @FunctionalInterface
        private interface Store {
            void put(long[] index, float sum);
        }

        FloatSums(ToFloat term, Store store) {
            this.term = term;
            this.store = store;
        }

        @Override
        public void begin(long... index) {
            acc = 0f;
            at = index;
        }

        @Override
        public void tap(Tap t) {
            if (t.skip() == Skip.NONE) {
                acc += term.of(t);
            }
        }

        @Override
        public void end() {
            store.put(at, acc);
        }
    }

    /** As {@code ConvBackend}. */
    public static void forward(ConvShape s, ConvParams p, Tensor src, Tensor filter, Tensor rin, Tensor rout, Tensor dst) {
        walkForward(s, p, rin, rout, new FloatSums(t -> get(src, t.n(), t.ic(), t.ih(), t.iw()) * filter(filter, t),
                (i, sum) -> dst.setFloat(sum, i)));
    }

    /** As {@code ConvBackend}. */
    public static void backwardData(ConvShape s, ConvParams p, Tensor filter, Tensor diff, Tensor rin, Tensor rout,
                                    Tensor gradSrc) {
        walkBackwardData(s, p, rin, rout, new FloatSums(
                t -> get(diff, t.n(), t.oc(), t.oh(), t.ow()) * filter(filter, t), (i, sum) -> gradSrc.setFloat(sum, i)));
    }

    /** As {@code ConvBackend}. */
    public static void backwardFilter(ConvShape s, ConvParams p, Tensor src, Tensor diff, Tensor rin, Tensor rout,
                                      Tensor gradFilter) {
        MemorySegment gs = gradFilter.segment();
        walkBackwardFilter(s, p, rin, rout, new FloatSums(
                t -> get(src, t.n(), t.ic(), t.ih(), t.iw()) * get(diff, t.n(), t.oc(), t.oh(), t.ow()),
                (i, sum) -> Packing.setFloat(gs, gradFilter.dtype(), off5(gradFilter, i[0], i[1], i[2], i[3], i[4]), sum)));
    }
}
