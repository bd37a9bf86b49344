package dev.rrconv.internal.javaimpl;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.DType;
import dev.rrconv.Mode;
import dev.rrconv.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The straightforward loops: one output element at a time, straight from the strided tensors, in
 * float. Slow, but free of any size limit; the fast loops fall back to these when a packed plane
 * would not fit in a Java array.
 */
public final class ReferenceLoops {
    private ReferenceLoops() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private static int mask(Tensor m, long n, long h, long w) {
        long off = n * m.stride(0) + h * m.stride(1) + w * m.stride(2);
        return m.dtype() == DType.INT32 ? m.segment().get(ValueLayout.JAVA_INT_UNALIGNED, off * 4)
                : Byte.toUnsignedInt(m.segment().get(ValueLayout.JAVA_BYTE, off));
    }

    private static float get(Tensor t, long a, long b, long c, long d) {
        return t.segment().get(F, 4 * (a * t.stride(0) + b * t.stride(1) + c * t.stride(2) + d * t.stride(3)));
    }

    private static long off5(Tensor t, long a, long b, long c, long d, long e) {
        return 4 * (a * t.stride(0) + b * t.stride(1) + c * t.stride(2) + d * t.stride(3) + e * t.stride(4));
    }

    /** As {@code ConvBackend}. */
    public static void forward(ConvShape s, ConvParams p, Tensor src, Tensor filter, Tensor rin, Tensor rout, Tensor dst) {
        boolean flip = p.mode() == Mode.CONVOLUTION;
        MemorySegment fs = filter.segment();
        for (long n = 0; n < s.n(); n++) {
            for (long g = 0; g < s.groups(); g++) {
                for (long ocg = 0; ocg < s.ocpg(); ocg++) {
                    long oc = g * s.ocpg() + ocg;
                    for (long oh = 0; oh < s.oh(); oh++) {
                        for (long ow = 0; ow < s.ow(); ow++) {
                            int region = mask(rout, n, oh, ow);
                            float acc = 0f;
                            for (long icg = 0; icg < s.icpg(); icg++) {
                                long ic = g * s.icpg() + icg;
                                for (long kh = 0; kh < s.fh(); kh++) {
                                    long ih = oh * p.strideH() - p.padH() + kh * p.dilationH();
                                    if (ih < 0 || ih >= s.ih()) {
                                        continue;
                                    }
                                    for (long kw = 0; kw < s.fw(); kw++) {
                                        long iw = ow * p.strideW() - p.padW() + kw * p.dilationW();
                                        if (iw < 0 || iw >= s.iw() || mask(rin, n, ih, iw) != region) {
                                            continue;
                                        }
                                        long fkh = flip ? s.fh() - 1 - kh : kh;
                                        long fkw = flip ? s.fw() - 1 - kw : kw;
                                        acc += get(src, n, ic, ih, iw) * fs.get(F, off5(filter, g, ocg, icg, fkh, fkw));
                                    }
                                }
                            }
                            dst.setFloat(acc, n, oc, oh, ow);
                        }
                    }
                }
            }
        }
    }

    /** As {@code ConvBackend}. */
    public static void backwardData(ConvShape s, ConvParams p, Tensor filter, Tensor diff, Tensor rin, Tensor rout,
                             Tensor gradSrc) {
        boolean flip = p.mode() == Mode.CONVOLUTION;
        MemorySegment fs = filter.segment();
        for (long n = 0; n < s.n(); n++) {
            for (long g = 0; g < s.groups(); g++) {
                for (long icg = 0; icg < s.icpg(); icg++) {
                    long ic = g * s.icpg() + icg;
                    for (long ih = 0; ih < s.ih(); ih++) {
                        for (long iw = 0; iw < s.iw(); iw++) {
                            int region = mask(rin, n, ih, iw);
                            float acc = 0f;
                            for (long ocg = 0; ocg < s.ocpg(); ocg++) {
                                long oc = g * s.ocpg() + ocg;
                                for (long kh = 0; kh < s.fh(); kh++) {
                                    long th = ih + p.padH() - kh * p.dilationH();
                                    if (th < 0 || th % p.strideH() != 0 || th / p.strideH() >= s.oh()) {
                                        continue;
                                    }
                                    long oh = th / p.strideH();
                                    for (long kw = 0; kw < s.fw(); kw++) {
                                        long tw = iw + p.padW() - kw * p.dilationW();
                                        if (tw < 0 || tw % p.strideW() != 0 || tw / p.strideW() >= s.ow()) {
                                            continue;
                                        }
                                        long ow = tw / p.strideW();
                                        if (mask(rout, n, oh, ow) != region) {
                                            continue;
                                        }
                                        long fkh = flip ? s.fh() - 1 - kh : kh;
                                        long fkw = flip ? s.fw() - 1 - kw : kw;
                                        acc += get(diff, n, oc, oh, ow) * fs.get(F, off5(filter, g, ocg, icg, fkh, fkw));
                                    }
                                }
                            }
                            gradSrc.setFloat(acc, n, ic, ih, iw);
                        }
                    }
                }
            }
        }
    }

    /** As {@code ConvBackend}. */
    public static void backwardFilter(ConvShape s, ConvParams p, Tensor src, Tensor diff, Tensor rin, Tensor rout,
                               Tensor gradFilter) {
        boolean flip = p.mode() == Mode.CONVOLUTION;
        MemorySegment gs = gradFilter.segment();
        for (long g = 0; g < s.groups(); g++) {
            for (long ocg = 0; ocg < s.ocpg(); ocg++) {
                long oc = g * s.ocpg() + ocg;
                for (long icg = 0; icg < s.icpg(); icg++) {
                    long ic = g * s.icpg() + icg;
                    for (long kh = 0; kh < s.fh(); kh++) {
                        for (long kw = 0; kw < s.fw(); kw++) {
                            float acc = 0f;
                            for (long n = 0; n < s.n(); n++) {
                                for (long oh = 0; oh < s.oh(); oh++) {
                                    long ih = oh * p.strideH() - p.padH() + kh * p.dilationH();
                                    if (ih < 0 || ih >= s.ih()) {
                                        continue;
                                    }
                                    for (long ow = 0; ow < s.ow(); ow++) {
                                        long iw = ow * p.strideW() - p.padW() + kw * p.dilationW();
                                        if (iw < 0 || iw >= s.iw() || mask(rin, n, ih, iw) != mask(rout, n, oh, ow)) {
                                            continue;
                                        }
                                        acc += get(src, n, ic, ih, iw) * get(diff, n, oc, oh, ow);
                                    }
                                }
                            }
                            long fkh = flip ? s.fh() - 1 - kh : kh;
                            long fkw = flip ? s.fw() - 1 - kw : kw;
                            gs.set(F, off5(gradFilter, g, ocg, icg, fkh, fkw), acc);
                        }
                    }
                }
            }
        }
    }
}
