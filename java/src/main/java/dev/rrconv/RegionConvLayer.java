package dev.rrconv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import java.util.Optional;

/**
 * A region-restricted convolution layer for training code: a filter, an optional per-output-channel
 * bias, the convolution parameters and a backend, with {@link #forward} and {@link #backward}.
 *
 * <p>{@code forward} computes {@link RegionConv#forward} and adds {@code bias[oc]} to every output pixel
 * of channel {@code oc} (every {@code n, oh, ow}, as a framework's {@code conv2d(input, weight, bias)}
 * does). {@code backward} takes the gradient of the loss with respect to that output ({@code diff}) and
 * returns the gradients with respect to the input, the filter and the bias; the bias gradient is the sum
 * of {@code diff} over {@code n, oh, ow}, per channel, accumulated in double precision.
 *
 * <p>The layer holds the given tensors, not copies: writing into their memory (an optimizer step) changes
 * the parameters the next call uses, and their arena must stay open while the layer is used. Results are
 * allocated in the arena passed to each call. A layer is immutable; it is thread-safe if its parameter
 * tensors are not written during a call (and are readable from the calling thread).
 *
 * <p>Training by plain gradient descent, with the parameters in Java arrays:
 * {@snippet :
 * float[] w = new float[8 * 3 * 3 * 3];         // (OC, ICPG, FH, FW) = (8, 3, 3, 3)
 * float[] b = new float[8];                     // (OC)
 * RegionConvLayer layer = new RegionConvLayer(Tensor.ofFloats(w, 8, 3, 3, 3), Tensor.ofFloats(b, 8),
 *         ConvParams.DEFAULT.withPadding(1, 1));   // Backend.AUTO
 * for (int step = 0; step < steps; step++) {
 *     try (Arena arena = Arena.ofConfined()) {
 *         Tensor y = layer.forward(x, rin, rout, arena);
 *         Tensor dy = lossGradient(y, target, arena);   // dLoss/dy, the shape of y
 *         RegionConvLayer.Gradients g = layer.backward(x, dy, rin, rout, arena);
 *         float[] gw = g.gradFilter().toFloatArray();
 *         float[] gb = g.gradBias().toFloatArray();
 *         for (int i = 0; i < w.length; i++) w[i] -= lr * gw[i];
 *         for (int i = 0; i < b.length; i++) b[i] -= lr * gb[i];
 *     }
 * }
 * }
 */
public final class RegionConvLayer {
    private final RegionConv conv;
    private final ConvParams params;
    private final Tensor filter;
    private final Tensor bias;
    /** The filter's 5-D shape (G, OCPG, ICPG, FH, FW). */
    private final long[] filter5;

    /**
     * A layer with a bias.
     *
     * @param filter float32, 5-D (G, OCPG, ICPG, FH, FW) or 4-D (OC, ICPG, FH, FW); used in place
     * @param bias float32 (OC), any stride; used in place; {@code null} for a layer without bias
     * @param params stride, padding, dilation, groups, mode ({@code groups} must match a 5-D filter)
     * @param backend which implementation computes the convolutions ({@link Backend#AUTO}: see there)
     * @throws IllegalArgumentException if a tensor has the wrong dtype, rank or shape, naming it
     * @throws UnsatisfiedLinkError if {@code backend} is {@link Backend#NATIVE} and the library cannot be loaded
     */
    public RegionConvLayer(Tensor filter, Tensor bias, ConvParams params, Backend backend) {
        Objects.requireNonNull(filter, "filter");
        Objects.requireNonNull(params, "params");
        Objects.requireNonNull(backend, "backend");
        if (filter.dtype() != DType.FLOAT32) {
            throw new IllegalArgumentException("filter must be float32, got " + filter);
        }
        this.filter5 = ConvShape.filter5("filter", filter.shape(), params);
        long oc = filter5[0] * filter5[1];
        if (bias != null) {
            if (bias.dtype() != DType.FLOAT32) {
                throw new IllegalArgumentException("bias must be float32, got " + bias);
            }
            ConvShape.requireShape("bias", new long[] {oc}, bias.shape());
        }
        this.filter = filter;
        this.bias = bias;
        this.params = params;
        this.conv = RegionConv.of(backend);
    }

    /**
     * A layer without bias.
     *
     * @param filter float32, 5-D (G, OCPG, ICPG, FH, FW) or 4-D (OC, ICPG, FH, FW); used in place
     * @param params stride, padding, dilation, groups, mode
     * @param backend which implementation computes the convolutions
     * @throws IllegalArgumentException if the filter has the wrong dtype, rank or shape
     */
    public RegionConvLayer(Tensor filter, ConvParams params, Backend backend) {
        this(filter, null, params, backend);
    }

    /**
     * A layer with a bias, computed by {@link Backend#AUTO} (native where the library loads, else Java).
     *
     * @param filter float32, 5-D (G, OCPG, ICPG, FH, FW) or 4-D (OC, ICPG, FH, FW); used in place
     * @param bias float32 (OC), any stride; used in place; {@code null} for a layer without bias
     * @param params stride, padding, dilation, groups, mode ({@code groups} must match a 5-D filter)
     * @throws IllegalArgumentException if a tensor has the wrong dtype, rank or shape, naming it
     */
    public RegionConvLayer(Tensor filter, Tensor bias, ConvParams params) {
        this(filter, bias, params, Backend.AUTO);
    }

    /**
     * A layer without bias, computed by {@link Backend#AUTO} (native where the library loads, else Java).
     *
     * @param filter float32, 5-D (G, OCPG, ICPG, FH, FW) or 4-D (OC, ICPG, FH, FW); used in place
     * @param params stride, padding, dilation, groups, mode
     * @throws IllegalArgumentException if the filter has the wrong dtype, rank or shape
     */
    public RegionConvLayer(Tensor filter, ConvParams params) {
        this(filter, null, params, Backend.AUTO);
    }

    /**
     * The gradients computed by {@link #backward}, allocated in the arena given to it.
     *
     * @param gradSrc gradient w.r.t. the input, float32 (N, IC, IH, IW)
     * @param gradFilter gradient w.r.t. the filter, float32, the shape (4-D or 5-D) of the layer's filter
     * @param gradBias gradient w.r.t. the bias, float32 (OC); {@code null} for a layer without bias
     */
    public record Gradients(Tensor gradSrc, Tensor gradFilter, Tensor gradBias) {}

    /**
     * The filter this layer uses (the tensor given to the constructor).
     *
     * @return the filter
     */
    public Tensor filter() {
        return filter;
    }

    /**
     * The bias this layer adds, if it has one (the tensor given to the constructor).
     *
     * @return the bias, or empty for a layer without bias
     */
    public Optional<Tensor> bias() {
        return Optional.ofNullable(bias);
    }

    /**
     * The convolution parameters.
     *
     * @return the parameters
     */
    public ConvParams params() {
        return params;
    }

    /**
     * The backend that computes the convolutions ({@link Backend#NATIVE} or {@link Backend#JAVA}: what
     * {@link Backend#AUTO} became, see {@link RegionConv#backendReason()}).
     *
     * @return the backend
     */
    public Backend backend() {
        return conv.backend();
    }

    /**
     * The number of input channels the layer takes.
     *
     * @return {@code groups * icpg}
     */
    public long inChannels() {
        return filter5[0] * filter5[2];
    }

    /**
     * The number of output channels the layer produces.
     *
     * @return {@code groups * ocpg}
     */
    public long outChannels() {
        return filter5[0] * filter5[1];
    }

    /**
     * The output: the region-restricted convolution of {@code src} plus the bias of each output channel.
     *
     * @param src input, float32 (N, IC, IH, IW)
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param arena where the output is allocated
     * @return dst, float32 (N, OC, OH, OW), dense in the layout of src ({@link Layout#of(Tensor)})
     * @throws IllegalArgumentException if a tensor does not fit the layer (see {@link RegionConv})
     * @throws IllegalStateException if a tensor's arena is closed or confined to another thread
     */
    public Tensor forward(Tensor src, Tensor rin, Tensor rout, Arena arena) {
        float[] b = biasValues();
        Tensor dst = conv.forward(src, filter, rin, rout, params, arena);
        if (b != null) {
            addBias(dst, b);
        }
        return dst;
    }

    /**
     * The gradients of the loss with respect to the input, the filter and the bias, given the gradient
     * {@code diff} with respect to the output of {@link #forward} on the same {@code src, rin, rout}.
     *
     * @param src the input forward was called with, float32 (N, IC, IH, IW)
     * @param diff gradient w.r.t. the output, float32 (N, OC, OH, OW), any strides
     * @param rin input regions (N, IH, IW), int32 or uint8
     * @param rout output regions (N, OH, OW), same dtype as rin
     * @param arena where the gradients are allocated
     * @return grad src, grad filter and (for a layer with bias) grad bias
     * @throws IllegalArgumentException if a tensor does not fit the layer, before anything is computed
     * @throws IllegalStateException if a tensor's arena is closed or confined to another thread
     */
    public Gradients backward(Tensor src, Tensor diff, Tensor rin, Tensor rout, Arena arena) {
        Objects.requireNonNull(arena, "arena");
        // check every argument (both directions' shapes) before computing anything
        RegionConv.checkInput("src", src, DType.FLOAT32);
        RegionConv.checkInput("diff", diff, DType.FLOAT32);
        ConvShape s = ConvShape.ofForward(src.shape(), filter.shape(), params);
        ConvShape.requireShape("diff", s.dstShape(), diff.shape());
        RegionConv.checkInput("rin", rin, null);
        RegionConv.checkInput("rout", rout, null);
        ConvShape.requireShape("rin", s.rinShape(), rin.shape());
        ConvShape.requireShape("rout", s.routShape(), rout.shape());
        biasValues();
        Tensor gradSrc = conv.backwardData(filter, diff, rin, rout, params, arena);
        Tensor gradFilter = Tensor.allocate(arena, DType.FLOAT32, filter.shape());
        conv.backwardFilter(src, diff, rin, rout, params, gradFilter);
        Tensor gradBias = bias == null ? null : biasGradient(diff, arena);
        return new Gradients(gradSrc, gradFilter, gradBias);
    }

    /** The bias as an array (checked to be live and readable here), or null without bias. */
    private float[] biasValues() {
        if (bias == null) {
            return null;
        }
        RegionConv.checkInput("bias", bias, DType.FLOAT32);
        return bias.toFloatArray();
    }

    /** dst[n, oc, :, :] += b[oc]; dst was allocated by this class (dense, in either {@link Layout}). */
    private static void addBias(Tensor dst, float[] b) {
        MemorySegment seg = dst.segment();
        long[] st = dst.strides();
        for (long n = 0; n < dst.dim(0); n++) {
            for (int c = 0; c < b.length; c++) {
                float v = b[c];
                for (long h = 0; h < dst.dim(2); h++) {
                    long row = n * st[0] + c * st[1] + h * st[2];
                    for (long w = 0; w < dst.dim(3); w++) {
                        long i = row + w * st[3];
                        seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, seg.getAtIndex(ValueLayout.JAVA_FLOAT, i) + v);
                    }
                }
            }
        }
    }

    /** Sum of diff over n, oh, ow per channel, in double, rounded once to float. */
    private static Tensor biasGradient(Tensor diff, Arena arena) {
        long[] shape = diff.shape();
        long[] st = diff.strides();
        MemorySegment seg = diff.segment();
        double[] sum = new double[Math.toIntExact(shape[1])];
        for (long n = 0; n < shape[0]; n++) {
            for (int c = 0; c < sum.length; c++) {
                double acc = 0;
                for (long h = 0; h < shape[2]; h++) {
                    long row = n * st[0] + c * st[1] + h * st[2];
                    for (long w = 0; w < shape[3]; w++) {
                        acc += seg.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, row + w * st[3]);
                    }
                }
                sum[c] += acc;
            }
        }
        Tensor g = Tensor.allocate(arena, DType.FLOAT32, shape[1]);
        for (int c = 0; c < sum.length; c++) {
            g.setFloat((float) sum[c], c);
        }
        return g;
    }

    /**
     * A short description: shapes, parameters and backend.
     *
     * @return e.g. {@code RegionConvLayer[filter float32[8, 3, 3, 3], bias float32[8], stride=(1,1) ..., native]}
     */
    @Override
    public String toString() {
        return "RegionConvLayer[filter " + filter + ", " + (bias == null ? "no bias" : "bias " + bias) + ", "
                + params + ", " + conv.backend().cliName() + "]";
    }
}
