package dev.rrconv;

import java.util.Objects;

/**
 * One row of a backend's kernel table (see {@link RegionConv#kernels()}): the loops that may compute a call.
 * Each call runs the first row of its direction that applies, fastest first; the reference loops are the
 * last row of each direction. The native table comes from the C library ({@code rrconv_kernel_get}), the Java
 * backend's from its own loops.
 *
 * @param name unique name, what {@code RRCONV_KERNEL} (native) or {@code RRCONV_JAVA_KERNEL} (Java) takes,
 *             e.g. {@code forward_depthwise_rows__avx512} or {@code java_forward_planar}
 * @param direction {@code forward}, {@code backward_data} or {@code backward_filter}
 * @param isa the instruction set: {@code avx512}, {@code avx2}, {@code portable}, {@code scalar} (native
 *            reference rows) or {@code java}
 * @param dtype the element type, {@code f32}
 * @param layout the activations' layout the row is made for, {@code nchw} or {@code nhwc}
 * @param applies when the row applies, in words
 * @param available true if this process may run it (native: the CPU and {@code RRCONV_MAX_ISA} allow it)
 */
public record KernelInfo(String name, String direction, String isa, String dtype, String layout, String applies,
                         boolean available) {
    /**
     * Checks that no field is null.
     *
     * @param name unique name
     * @param direction the direction
     * @param isa the instruction set
     * @param dtype the element type
     * @param layout the tensor layout
     * @param applies when it applies
     * @param available whether it can run here
     */
    public KernelInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(direction, "direction");
        Objects.requireNonNull(isa, "isa");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(applies, "applies");
    }
}
