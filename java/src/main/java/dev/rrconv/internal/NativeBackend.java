package dev.rrconv.internal;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.DType;
import dev.rrconv.Mode;
import dev.rrconv.KernelInfo;
import dev.rrconv.Layout;
import dev.rrconv.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.List;

/**
 * The native backend: marshals validated tensors into the typed {@code rrconv_forward},
 * {@code rrconv_backward_data} and {@code rrconv_backward_filter} downcalls, with the inputs' data type
 * (float32, float16 or bfloat16) and the output's. Off-heap tensors of every type are passed as they are
 * (zero-copy, any strides); heap-array tensors, which a downcall cannot take, are copied to a temporary
 * off-heap buffer (the bytes an input spans, strides kept, so a broadcast stays small; an output densely,
 * and copied back).
 */
public final class NativeBackend implements ConvBackend {
    /** {@code rrconv_algorithm}: the fastest kernel available. */
    public static final int ALGO_AUTO = 0;
    /** {@code rrconv_algorithm}: the plain reference loops. */
    public static final int ALGO_REFERENCE = 1;

    private final NativeLibrary lib;
    private final int algorithm;

    NativeBackend(NativeLibrary lib) {
        this(lib, ALGO_AUTO);
    }

    private NativeBackend(NativeLibrary lib, int algorithm) {
        this.lib = lib;
        this.algorithm = algorithm;
    }

    /** @return the native backend running the C reference loops (for benchmarks and cross-checks) */
    public static NativeBackend reference() {
        return new NativeBackend(NativeLibrary.get(), ALGO_REFERENCE);
    }

    @Override
    public void forward(ConvShape s, ConvParams p, Tensor src, Tensor filter, Tensor rin, Tensor rout, Tensor dst) {
        call(lib.forward, "rrconv_forward", s, p, rin.dtype(), src, filter, rin, rout, dst);
    }

    @Override
    public void backwardData(ConvShape s, ConvParams p, Tensor filter, Tensor diff, Tensor rin, Tensor rout,
                             Tensor gradSrc) {
        call(lib.backwardData, "rrconv_backward_data", s, p, rin.dtype(), filter, diff, rin, rout, gradSrc);
    }

    @Override
    public void backwardFilter(ConvShape s, ConvParams p, Tensor src, Tensor diff, Tensor rin, Tensor rout,
                               Tensor gradFilter) {
        call(lib.backwardFilter, "rrconv_backward_filter", s, p, rin.dtype(), src, diff, rin, rout, gradFilter);
    }

    @Override
    public List<KernelInfo> kernels() {
        return lib.kernels().orElseThrow(() -> new UnsupportedOperationException("the native library "
                + lib.loadedFrom() + " has no kernel table (rrconv_kernel_count): an older build"));
    }

    /** Inputs a, b, rin, rout; output out. */
    private void call(MethodHandle h, String name, ConvShape s, ConvParams p, DType maskType,
                      Tensor a, Tensor b, Tensor rin, Tensor rout, Tensor out) {
        try (Arena arena = Arena.ofConfined()) {
            Tensor a2 = offHeap(arena, a);
            Tensor b2 = offHeap(arena, b);
            Tensor rin2 = offHeap(arena, rin);
            Tensor rout2 = offHeap(arena, rout);
            Tensor out2 = out.segment().isNative() ? out : denseLike(arena, out);
            // One allocation per call: the descriptor followed by the five stride arrays.
            long descBytes = NativeLibrary.DESC.byteSize();
            MemorySegment block = arena.allocate(descBytes + 5 * MAX_RANK * Long.BYTES, Long.BYTES);
            MemorySegment desc = descriptor(block.asSlice(0, descBytes), s, p, maskType, algorithm);
            int status;
            try {
                status = (int) h.invokeExact(desc, dtypeCode(a.dtype()), dtypeCode(out.dtype()),
                        a2.segment(), strides(block, descBytes, 0, a2),
                        b2.segment(), strides(block, descBytes, 1, b2),
                        rin2.segment(), strides(block, descBytes, 2, rin2),
                        rout2.segment(), strides(block, descBytes, 3, rout2),
                        out2.segment(), strides(block, descBytes, 4, out2));
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
            lib.check(status, name);
            if (out2 != out) {
                out.copyFrom(out2);
            }
        }
    }

    /** The C library's {@code rrconv_dtype} of a data type. */
    private static int dtypeCode(DType t) {
        return switch (t) {
            case FLOAT16 -> 1;
            case BFLOAT16 -> 2;
            default -> 0;
        };
    }

    /**
     * t itself if off-heap, else an off-heap copy of the bytes its elements span, with t's strides: a
     * broadcast (stride-0) input stays as small as its array, never densified to its shape.
     */
    private static Tensor offHeap(Arena arena, Tensor t) {
        if (t.segment().isNative()) {
            return t;
        }
        long span = t.spanBytes();
        MemorySegment copy = arena.allocate(Math.max(span, 1), 64).asSlice(0, span);
        MemorySegment.copy(t.segment(), 0, copy, 0, span);
        return Tensor.ofStrided(copy, t.dtype(), t.shape(), t.strides());
    }

    /** A dense off-heap tensor of t's shape; an activation keeps its layout, so a channels-last call stays one. */
    private static Tensor denseLike(Arena arena, Tensor t) {
        if (t.rank() == 4) {
            return Tensor.allocate(arena, t.dtype(), Layout.of(t), t.dim(0), t.dim(1), t.dim(2), t.dim(3));
        }
        return Tensor.allocate(arena, t.dtype(), t.shape());
    }

    /** The largest tensor rank (the 5-D filter). */
    private static final int MAX_RANK = 5;

    /** Writes t's strides into slot i of the stride area after the descriptor; returns that slice. */
    private static MemorySegment strides(MemorySegment block, long descBytes, int i, Tensor t) {
        long[] st = t.strides();
        MemorySegment slot = block.asSlice(descBytes + (long) i * MAX_RANK * Long.BYTES, (long) st.length * Long.BYTES);
        MemorySegment.copy(st, 0, slot, ValueLayout.JAVA_LONG, 0, st.length);
        return slot;
    }

    /** Fills d (NativeLibrary.DESC bytes, 8-byte aligned) with the descriptor, field by name; returns d. */
    private static MemorySegment descriptor(MemorySegment d, ConvShape s, ConvParams p, DType maskType, int algorithm) {
        N.set(d, 0L, s.n());
        GROUPS.set(d, 0L, s.groups());
        ICPG.set(d, 0L, s.icpg());
        OCPG.set(d, 0L, s.ocpg());
        IH.set(d, 0L, s.ih());
        IW.set(d, 0L, s.iw());
        OH.set(d, 0L, s.oh());
        OW.set(d, 0L, s.ow());
        FH.set(d, 0L, s.fh());
        FW.set(d, 0L, s.fw());
        STRIDE_H.set(d, 0L, (long) p.strideH());
        STRIDE_W.set(d, 0L, (long) p.strideW());
        PAD_H.set(d, 0L, (long) p.padH());
        PAD_W.set(d, 0L, (long) p.padW());
        DIL_H.set(d, 0L, (long) p.dilationH());
        DIL_W.set(d, 0L, (long) p.dilationW());
        MODE.set(d, 0L, p.mode() == Mode.CONVOLUTION ? 1 : 0);
        MASK_TYPE.set(d, 0L, maskType == DType.UINT8 ? 1 : 0);
        ALGORITHM.set(d, 0L, algorithm);
        RESERVED.set(d, 0L, 0);
        return d;
    }

    private static final VarHandle N = field("n");
    private static final VarHandle GROUPS = field("groups");
    private static final VarHandle ICPG = field("icpg");
    private static final VarHandle OCPG = field("ocpg");
    private static final VarHandle IH = field("ih");
    private static final VarHandle IW = field("iw");
    private static final VarHandle OH = field("oh");
    private static final VarHandle OW = field("ow");
    private static final VarHandle FH = field("fh");
    private static final VarHandle FW = field("fw");
    private static final VarHandle STRIDE_H = field("stride_h");
    private static final VarHandle STRIDE_W = field("stride_w");
    private static final VarHandle PAD_H = field("pad_h");
    private static final VarHandle PAD_W = field("pad_w");
    private static final VarHandle DIL_H = field("dil_h");
    private static final VarHandle DIL_W = field("dil_w");
    private static final VarHandle MODE = field("mode");
    private static final VarHandle MASK_TYPE = field("mask_type");
    private static final VarHandle ALGORITHM = field("algorithm");
    private static final VarHandle RESERVED = field("reserved");

    /** The handle of one named field of {@link NativeLibrary#DESC} (coordinates: segment, base offset). */
    private static VarHandle field(String name) {
        return NativeLibrary.DESC.varHandle(MemoryLayout.PathElement.groupElement(name));
    }
}
