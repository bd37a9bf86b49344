package dev.rrconv.cli;

import java.util.Locale;

/**
 * One measured line of {@code rrconv bench}: the median time of one direction of one shape on one
 * backend and thread count.
 *
 * @param shape shape name, e.g. {@code DW-K7}
 * @param op {@code forward}, {@code backward-data} or {@code backward-filter}
 * @param mask {@code random}, {@code blocky} or {@code superpixel}
 * @param layout {@code nchw} or {@code nhwc}: the memory order of src, dst, diff and grad src
 * @param dtype {@code float32}, {@code float16} or {@code bfloat16}: the type of src, filter, diff and the outputs
 * @param backend {@code native}, {@code java} or {@code reference}
 * @param threads threads per call
 * @param ms median milliseconds per call
 * @param gflops {@code 2*N*OC*OH*OW*ICPG*FH*FW / ms / 1e6}
 * @param activeFraction the share of in-image taps that the masks leave active ({@link BenchProblem#activeFraction()})
 */
record BenchResult(String shape, String op, String mask, String layout, String dtype, String backend, int threads,
                   double ms, double gflops, double activeFraction) {

    /** A result with NCHW float32 tensors. */
    BenchResult(String shape, String op, String mask, String backend, int threads, double ms, double gflops,
                double activeFraction) {
        this(shape, op, mask, "nchw", "float32", backend, threads, ms, gflops, activeFraction);
    }

    /** @return the series this result belongs to in a chart, e.g. {@code native t=2} */
    String series() {
        return backend + " t=" + threads;
    }

    /** @return this result as one JSON object with the keys of the record */
    String toJson() {
        return String.format(Locale.ROOT,
                "{\"shape\": \"%s\", \"op\": \"%s\", \"mask\": \"%s\", \"layout\": \"%s\", \"dtype\": \"%s\","
                        + " \"backend\": \"%s\", \"threads\": %d, \"ms\": %.6f, \"gflops\": %.4f,"
                        + " \"active_fraction\": %.4f}",
                shape, op, mask, layout, dtype, backend, threads, ms, gflops, activeFraction);
    }
}
