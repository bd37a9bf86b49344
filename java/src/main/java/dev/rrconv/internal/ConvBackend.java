package dev.rrconv.internal;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.KernelInfo;
import dev.rrconv.Tensor;
import java.util.List;

/**
 * One implementation of the three directions. The facade ({@code dev.rrconv.RegionConv}) has already
 * checked everything: tensors have the shapes {@code shape} gives (filters are 5-D views), the right
 * dtypes (rin and rout the same mask type), live segments, a writable output that overlaps no input.
 * Implementations overwrite the whole output and may assume nothing about strides. The two data inputs share
 * one type, float32, float16 or bfloat16; the output is of that type or float32. Implementations compute in
 * float32 and round each output element once ({@link HalfFloats}).
 */
public interface ConvBackend {

    /** dst = rrconv(src, filter). Tensors: src [N,IC,IH,IW], filter [G,OCPG,ICPG,FH,FW], dst [N,OC,OH,OW]. */
    void forward(ConvShape shape, ConvParams params, Tensor src, Tensor filter, Tensor rin, Tensor rout, Tensor dst);

    /** gradSrc = d(forward)/d(src) applied to diff. */
    void backwardData(ConvShape shape, ConvParams params, Tensor filter, Tensor diff, Tensor rin, Tensor rout,
                      Tensor gradSrc);

    /**
     * The backend's kernel table.
     *
     * @return the rows, each direction's fastest first
     * @throws UnsupportedOperationException if the backend cannot list them (a native library without a table)
     */
    List<KernelInfo> kernels();

    /** gradFilter = d(forward)/d(filter) applied to diff, in the stored (un-flipped) layout. */
    void backwardFilter(ConvShape shape, ConvParams params, Tensor src, Tensor diff, Tensor rin, Tensor rout,
                        Tensor gradFilter);
}
