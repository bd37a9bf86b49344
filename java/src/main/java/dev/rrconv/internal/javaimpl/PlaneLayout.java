package dev.rrconv.internal.javaimpl;

/**
 * Where the pixels of one packed {@code height x width} plane live in a {@code float[]} (or
 * {@code int[]}): the plane is split into {@code phasesH * phasesW} sub-planes by row and column
 * residue ({@code h mod phasesH}, {@code w mod phasesW}), each stored row-major with row pitch
 * {@code pitch}, after {@code lead} zero elements, in a slot of {@code subLen} elements.
 *
 * <p>With strides {@code (phasesH, phasesW)} equal to the convolution strides, every tap of a strided
 * convolution reads a contiguous run of one sub-plane, and the run for a whole band of output rows
 * is one contiguous range of the array (pixels outside the image are read from the zero margins or
 * from neighbouring rows, and are masked out).
 */
final class PlaneLayout {
    final int height;
    final int width;
    final int phasesH;
    final int phasesW;
    final int pitch;
    final int lead;
    final int subLen;
    final int length;

    PlaneLayout(int height, int width, int phasesH, int phasesW, int pitch, int lead, int subLen) {
        this.height = height;
        this.width = width;
        this.phasesH = phasesH;
        this.phasesW = phasesW;
        this.pitch = pitch;
        this.lead = lead;
        this.subLen = subLen;
        this.length = Math.toIntExact((long) phasesH * phasesW * subLen);
    }

    /**
     * @param h row, {@code 0 <= h < height}
     * @param w column, {@code 0 <= w < width}
     * @return the array index of pixel {@code (h, w)}
     */
    int index(int h, int w) {
        return ((h % phasesH) * phasesW + w % phasesW) * subLen + lead + (h / phasesH) * pitch + w / phasesW;
    }

    /**
     * The array index of sub-plane position {@code (r, c)} of phase {@code (rho, phi)}; {@code r} and
     * {@code c} may lie outside the image (the result is then a margin or neighbouring element).
     */
    long index(int rho, int phi, long r, long c) {
        return (long) (rho * phasesW + phi) * subLen + lead + r * pitch + c;
    }
}
