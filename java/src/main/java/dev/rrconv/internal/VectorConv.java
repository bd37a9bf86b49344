package dev.rrconv.internal;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.KernelInfo;
import dev.rrconv.internal.javaimpl.NhwcLoops;
import java.util.List;

/**
 * The Java backend's optional loops on the Vector API, as {@link VectorProvider} hands them out: a
 * {@link ConvBackend} plus, per direction, whether it takes a problem (it declines only problems whose
 * packed arrays would not fit in Java arrays; the scalar loops run those).
 */
public interface VectorConv extends ConvBackend {
    /** @return true if {@link #forward} takes this problem */
    boolean appliesForward(ConvShape s, ConvParams p);

    /** @return true if {@link #backwardData} takes this problem */
    boolean appliesBackwardData(ConvShape s, ConvParams p);

    /** @return true if {@link #backwardFilter} takes this problem */
    boolean appliesBackwardFilter(ConvShape s, ConvParams p);

    /** @return the channels-last loops' arithmetic on vectors (the {@code java_<direction>_nhwc_vector} rows) */
    NhwcLoops.Arithmetic<?> nhwc();

    /** @return what it runs on, e.g. {@code jdk.incubator.vector, 512-bit vectors (16 floats)} */
    String describe();

    /** @return its rows of the Java backend's table ({@code java_<direction>_vector}) */
    @Override
    default List<KernelInfo> kernels() {
        return JavaKernels.table().stream().filter(k -> JavaKernels.isVector(k))
                .map(JavaKernel::info).toList();
    }
}
