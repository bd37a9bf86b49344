package dev.rrconv.cli;

import dev.rrconv.DType;
import dev.rrconv.Tensor;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/** Prints small tensors readably: one 2-D grid per trailing plane, values separated by one space. */
final class Grid {
    private Grid() {}

    /**
     * A float as a person writes it: integers without a decimal point ({@code 13}, not {@code 13.0}),
     * others in the shortest form that reads back to the same float.
     *
     * @param v the value
     * @return its text
     */
    static String fmt(float v) {
        if (Float.isNaN(v)) {
            return "nan";
        }
        if (Float.isInfinite(v)) {
            return v > 0 ? "inf" : "-inf";
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e9f) {
            return Long.toString((long) v); // -0.0 prints as 0
        }
        return Float.toString(v);
    }

    /**
     * The elements of a tensor in C order, formatted.
     *
     * @param t the tensor (any dtype)
     * @return one string per element
     */
    static List<String> values(Tensor t) {
        List<String> r = new ArrayList<>();
        if (t.dtype() == DType.FLOAT32) {
            for (float f : t.toFloatArray()) {
                r.add(fmt(f));
            }
        } else {
            for (int i : t.toIntArray()) {
                r.add(Integer.toString(i));
            }
        }
        return r;
    }

    /**
     * Prints {@code name (shape):} then the tensor's planes. A plane with one row goes on its label's
     * line ({@code [0, 1]: 3 4}); a taller one below its label. A tensor with a single plane gets no label.
     *
     * @param out where to print
     * @param indent prefix of every line
     * @param name what the tensor is
     * @param t the tensor
     */
    static void print(PrintStream out, String indent, String name, Tensor t) {
        out.println(indent + name + " " + Npy.tuple(t.shape()) + ":");
        List<String> v = values(t);
        int r = t.rank();
        long w = r >= 1 ? t.dim(r - 1) : 1;
        long h = r >= 2 ? t.dim(r - 2) : 1;
        long planeSize = w * h;
        if (planeSize == 0 || v.isEmpty()) {
            out.println(indent + "  (empty)");
            return;
        }
        long planes = v.size() / planeSize;
        long[] lead = r > 2 ? java.util.Arrays.copyOf(t.shape(), r - 2) : new long[0];
        long[] idx = new long[lead.length];
        for (long p = 0; p < planes; p++) {
            String label = planes > 1 ? label(idx) : null;
            String pad = indent + "  ";
            if (label != null && h == 1) {
                out.println(pad + label + ": " + row(v, p * planeSize, w));
            } else {
                if (label != null) {
                    out.println(pad + label + ":");
                    pad += "  ";
                }
                for (long y = 0; y < h; y++) {
                    out.println(pad + row(v, p * planeSize + y * w, w));
                }
            }
            for (int d = idx.length - 1; d >= 0; d--) {
                if (++idx[d] < lead[d]) {
                    break;
                }
                idx[d] = 0;
            }
        }
    }

    private static String label(long[] idx) {
        StringBuilder sb = new StringBuilder();
        for (long i : idx) {
            sb.append('[').append(i).append(']');
        }
        return sb.toString();
    }

    private static String row(List<String> v, long start, long w) {
        return String.join(" ", v.subList((int) start, (int) (start + w)));
    }
}
