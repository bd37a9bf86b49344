package dev.rrconv.internal;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.DType;
import dev.rrconv.Layout;
import dev.rrconv.Mode;
import dev.rrconv.internal.javaimpl.BackwardDataLoops;
import dev.rrconv.internal.javaimpl.BackwardFilterLoops;
import dev.rrconv.internal.javaimpl.DepthwiseLoops;
import dev.rrconv.internal.javaimpl.ForwardLoops;
import dev.rrconv.internal.javaimpl.NhwcLoops;
import dev.rrconv.internal.javaimpl.ReferenceLoops;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The Java backend's kernel table, mirroring the C library's: per direction, rows fastest first, the
 * reference loops last (they apply to every problem). A call runs the first row of its direction that can
 * compute the problem and pays for it; adding loops is one class plus one row here.
 *
 * <p>Steering, read on every call:
 * <ul>
 * <li>{@value #KERNEL_PROPERTY} (system property) or {@value #KERNEL_ENV} (environment; the property wins)
 * names one row: calls of that row's direction run it, or fail if it cannot compute the problem; calls of the
 * other directions dispatch as usual. An unknown name fails every call, listing the valid ones.</li>
 * <li>{@value #VERBOSE_PROPERTY} or {@value #VERBOSE_ENV} = 1 prints one line per call on stderr, in the
 * format of the C library's {@code RRCONV_VERBOSE} (see {@link #verboseLine}).</li>
 * </ul>
 */
public final class JavaKernels {
    /** System property forcing one row. */
    public static final String KERNEL_PROPERTY = "rrconv.javaKernel";
    /** Environment variable forcing one row. */
    public static final String KERNEL_ENV = "RRCONV_JAVA_KERNEL";
    /** System property turning on the verbose lines. */
    public static final String VERBOSE_PROPERTY = "rrconv.verbose";
    /** Environment variable turning on the verbose lines (shared with the C library). */
    public static final String VERBOSE_ENV = "RRCONV_VERBOSE";

    private static final String DEPTHWISE = "depthwise (ICPG = OCPG = 1) and its packed images fit in Java arrays";
    private static final String PLANAR = "its packed planes fit in Java arrays";
    private static final String REFERENCE = "always (one element at a time, straight from the tensors, in float)";

    private static final String VECTOR = "float32 data, the Vector API present (--add-modules jdk.incubator.vector), "
            + "and its packed planes and lane masks fit in Java arrays";
    // The vector rows stand where they measured ahead (1 thread, random masks, thread CPU time, busy 2-core
    // host): forward and backward data ahead of the depthwise rows since those vector loops pack per
    // channel block (forward DW-K7 5.9 against 8.4 ms, DW-K13 14.2 against 16.4, DW-K31 61 against 59;
    // backward data DW-K7 6.1 against 7.9, DW-K13 14.1 against 16.8, DW-K31 61 against 66), backward
    // filter too, with a "pays" rule where the planar loops won.
    /** Names of the Vector API rows end with this. */
    private static final String VECTOR_SUFFIX = "_vector";

    // The channels-last rows come first; dispatch takes them only for NHWC calls. Measured against the same call
    // on NCHW tensors (thread CPU time, 1 thread, busy 2-core host, best of 9): the vector rows 0.32-0.88x on
    // every shape and direction with random masks, with superpixel masks (more taps active) 0.50-0.96x except
    // GRP forward (1.08-1.12x); the scalar rows on depthwise problems 0.66-0.98x (random), 0.77-1.11x
    // (superpixel).
    private static final String NHWC = "channels-last calls (src, dst, diff and grad src all NHWC; float32, float16 or "
            + "bfloat16 data), and its channels-last arrays fit in Java arrays; each pixel lists its active taps once";
    private static final String NHWC_VECTOR = NHWC + "; the Vector API present (--add-modules jdk.incubator.vector)";
    private static final String NHWC_SCALAR = NHWC + "; picked for depthwise problems (grouped and dense ones take the "
            + "planar loops, faster there)";

    // Channels-first depthwise calls with large filters run the channels-last vector loops on channels-last copies
    // (NhwcLoops transposes bands of rows, 64 channels at a time, in cache on the way in and the result on the way
    // out): each pixel lists its active taps once and the inner loop is an unmasked fused multiply-add over
    // contiguous channels, where the planar vector loops spend lane masks and per-tap bookkeeping. Measured
    // against java_<direction>_vector (N 4, C 384, 32x32, thread CPU time, 1 thread, random masks, busy 2-core
    // host, one JVM alternating, best of 8): forward 13x13 15.7 against 13.9 ms (the transpositions cost more than
    // the loops save), 21x21 27.5 against 30.4, 31x31 50.6 against 60.0; backward data 13x13 14.3 against 13.7,
    // 21x21 28.5 against 30.6, 31x31 51.7 against 60.1. The filter gradient stays planar (the nhwc vector row
    // measured slower there: 31x31 on NHWC tensors 109 against 92 ms).
    private static final String VIA_NHWC = "channels-first float32 depthwise calls (ICPG = OCPG = 1) with FH*FW >= %d, "
            + "the Vector API present: transposed to channels-last, run by the nhwc vector loops, the result "
            + "transposed back (via nhwc)";
    /** Least FH*FW for which channels-first depthwise forward calls go via the channels-last vector loops. */
    static final int VIA_NHWC_FORWARD = 400;
    /** Least FH*FW for which channels-first depthwise backward-data calls go via the channels-last vector loops. */
    static final int VIA_NHWC_BACKWARD_DATA = 400;

    private static final List<JavaKernel> TABLE = List.of(
            new JavaKernel("java_forward_nhwc_vector", Direction.FORWARD, Layout.NHWC, NHWC_VECTOR,
                    JavaKernels::nhwcVectorWhyNot, JavaKernels::always, (s, p, src, filter, rin, rout, dst, t) ->
                            NhwcLoops.forward(s, p, src, filter, rin, rout, dst, t, vector().nhwc())),
            new JavaKernel("java_forward_nhwc", Direction.FORWARD, Layout.NHWC, NHWC_SCALAR,
                    NhwcLoops::whyNot, NhwcLoops::scalarPays, (s, p, src, filter, rin, rout, dst, t) ->
                            NhwcLoops.forward(s, p, src, filter, rin, rout, dst, t, NhwcLoops.SCALAR)),
            new JavaKernel("java_forward_via_nhwc_vector", Direction.FORWARD,
                    String.format(Locale.ROOT, VIA_NHWC, VIA_NHWC_FORWARD), JavaKernels::nhwcVectorWhyNot,
                    (s, p) -> viaNhwcPays(s, VIA_NHWC_FORWARD), (s, p, src, filter, rin, rout, dst, t) ->
                            NhwcLoops.forward(s, p, src, filter, rin, rout, dst, t, vector().nhwc())),
            new JavaKernel("java_forward_vector", Direction.FORWARD,
                    VECTOR + "; ahead of the depthwise loops",
                    (s, p) -> vectorWhyNot(v -> v.appliesForward(s, p)), JavaKernels::always,
                    (s, p, src, filter, rin, rout, dst, t) -> vector().forward(s, p, src, filter, rin, rout, dst)),
            new JavaKernel("java_forward_depthwise", Direction.FORWARD,
                    DEPTHWISE + "; picked when FH*FW >= 49 and G >= 256, or FH*FW >= 121 and G >= 64",
                    DepthwiseLoops::whyNot, DepthwiseLoops::appliesForward, (s, p, src, filter, rin, rout, dst, t) ->
                            DepthwiseLoops.forward(s, p, src, filter, rin, rout, dst, t)),
            new JavaKernel("java_forward_planar", Direction.FORWARD, PLANAR,
                    ForwardLoops::whyNot, JavaKernels::always, ForwardLoops::run),
            new JavaKernel("java_forward_reference", Direction.FORWARD, REFERENCE,
                    JavaKernels::anything, JavaKernels::always, (s, p, src, filter, rin, rout, dst, t) ->
                            ReferenceLoops.forward(s, p, src, filter, rin, rout, dst)),

            new JavaKernel("java_backward_data_nhwc_vector", Direction.BACKWARD_DATA, Layout.NHWC, NHWC_VECTOR,
                    JavaKernels::nhwcVectorWhyNot, JavaKernels::always, (s, p, filter, diff, rin, rout, grad, t) ->
                            NhwcLoops.backwardData(s, p, filter, diff, rin, rout, grad, t, vector().nhwc())),
            new JavaKernel("java_backward_data_nhwc", Direction.BACKWARD_DATA, Layout.NHWC, NHWC_SCALAR,
                    NhwcLoops::whyNot, NhwcLoops::scalarPays, (s, p, filter, diff, rin, rout, grad, t) ->
                            NhwcLoops.backwardData(s, p, filter, diff, rin, rout, grad, t, NhwcLoops.SCALAR)),
            new JavaKernel("java_backward_data_via_nhwc_vector", Direction.BACKWARD_DATA,
                    String.format(Locale.ROOT, VIA_NHWC, VIA_NHWC_BACKWARD_DATA), JavaKernels::nhwcVectorWhyNot,
                    (s, p) -> viaNhwcPays(s, VIA_NHWC_BACKWARD_DATA), (s, p, filter, diff, rin, rout, grad, t) ->
                            NhwcLoops.backwardData(s, p, filter, diff, rin, rout, grad, t, vector().nhwc())),
            // stride 1 only: at stride 2 the planar loops measured faster (DENSE-S2D2, 1 thread: 14.2 against 19.3 ms)
            new JavaKernel("java_backward_data_vector", Direction.BACKWARD_DATA,
                    VECTOR + "; picked at stride 1, ahead of the depthwise loops",
                    (s, p) -> vectorWhyNot(v -> v.appliesBackwardData(s, p)),
                    (s, p) -> p.strideH() == 1 && p.strideW() == 1,
                    (s, p, filter, diff, rin, rout, grad, t) -> vector().backwardData(s, p, filter, diff, rin, rout,
                            grad)),
            new JavaKernel("java_backward_data_depthwise", Direction.BACKWARD_DATA,
                    DEPTHWISE + "; picked when FH*FW >= 49 and G >= 256, or FH*FW >= 121 and G >= 64",
                    DepthwiseLoops::whyNot, DepthwiseLoops::appliesForward, DepthwiseLoops::backwardData),
            new JavaKernel("java_backward_data_planar", Direction.BACKWARD_DATA, PLANAR,
                    BackwardDataLoops::whyNot, JavaKernels::always, BackwardDataLoops::run),
            new JavaKernel("java_backward_data_reference", Direction.BACKWARD_DATA, REFERENCE,
                    JavaKernels::anything, JavaKernels::always, (s, p, filter, diff, rin, rout, grad, t) ->
                            ReferenceLoops.backwardData(s, p, filter, diff, rin, rout, grad)),

            new JavaKernel("java_backward_filter_nhwc_vector", Direction.BACKWARD_FILTER, Layout.NHWC, NHWC_VECTOR,
                    JavaKernels::nhwcVectorWhyNot, JavaKernels::always, (s, p, src, diff, rin, rout, grad, t) ->
                            NhwcLoops.backwardFilter(s, p, src, diff, rin, rout, grad, t, vector().nhwc())),
            new JavaKernel("java_backward_filter_nhwc", Direction.BACKWARD_FILTER, Layout.NHWC, NHWC_SCALAR,
                    NhwcLoops::whyNot, NhwcLoops::scalarPays, (s, p, src, diff, rin, rout, grad, t) ->
                            NhwcLoops.backwardFilter(s, p, src, diff, rin, rout, grad, t, NhwcLoops.SCALAR)),
            // ahead of the depthwise filter-gradient loops since the depthwise vector loops pack per channel
            // block and run taps in pairs (thread CPU time, 1 thread, busy 2-core host, medians: DW-K3 5.9
            // against 8.1 ms, DW-K7 12.7 against 15.7 with single taps; DW-K31 104-123 against 157-195 for
            // the depthwise loops, DW-K13 23 against 45); picked for small channel blocks only: GRP (16 x 16 per
            // group) 19.6 against 25.0 ms for the planar loops, DENSE (64 x 64) 69.9 against 41.4, DENSE-S2D2
            // 20.9 against 14.7 (rrconv bench, 1 thread, same run); since the 8-channel blocks run taps in
            // threes, also for stride 1 with OCPG a multiple of 8: DENSE 43.7 / 50.2 against 58.7 / 57.1 ms
            // (thread CPU time, 1 thread, busy host, two rounds), DENSE-S2D2 still no better (21.8 / 22.8
            // against 24.5 / 17.9)
            new JavaKernel("java_backward_filter_vector", Direction.BACKWARD_FILTER,
                    VECTOR + "; picked when ICPG*OCPG <= 256 or (stride 1 and OCPG a multiple of 8), ahead of the "
                            + "depthwise loops",
                    (s, p) -> vectorWhyNot(v -> v.appliesBackwardFilter(s, p)),
                    (s, p) -> s.icpg() * s.ocpg() <= 256
                            || (p.strideH() == 1 && p.strideW() == 1 && s.ocpg() % 8 == 0),
                    (s, p, src, diff, rin, rout, grad, t) -> vector().backwardFilter(s, p, src, diff, rin, rout,
                            grad)),
            new JavaKernel("java_backward_filter_depthwise", Direction.BACKWARD_FILTER,
                    DEPTHWISE + "; picked when FH*FW >= 9 and G >= 64",
                    DepthwiseLoops::whyNot, DepthwiseLoops::appliesBackwardFilter, DepthwiseLoops::backwardFilter),
            new JavaKernel("java_backward_filter_planar", Direction.BACKWARD_FILTER, PLANAR,
                    BackwardFilterLoops::whyNot, JavaKernels::always, BackwardFilterLoops::run),
            new JavaKernel("java_backward_filter_reference", Direction.BACKWARD_FILTER, REFERENCE,
                    JavaKernels::anything, JavaKernels::always, (s, p, src, diff, rin, rout, grad, t) ->
                            ReferenceLoops.backwardFilter(s, p, src, diff, rin, rout, grad)));

    private JavaKernels() {}

    private static String anything(ConvShape s, ConvParams p) {
        return null;
    }

    private static boolean always(ConvShape s, ConvParams p) {
        return true;
    }

    /** @return true for the Vector API rows ({@code java_<direction>_vector}, {@code java_<direction>_nhwc_vector}) */
    static boolean isVector(JavaKernel k) {
        return k.name().endsWith(VECTOR_SUFFIX);
    }

    /**
     * @return true if a row computes float16 and bfloat16 data (widened as it reads them, rounded once as it
     *     stores): all but the channels-first Vector API rows, which read and write float32 tensors
     */
    static boolean takesHalf(JavaKernel k) {
        return !isVector(k) || k.layout() == Layout.NHWC;
    }

    /** Whether a channels-first call goes via the channels-last vector loops: depthwise, FH*FW at least {@code taps}. */
    private static boolean viaNhwcPays(ConvShape s, int taps) {
        return s.icpg() == 1 && s.ocpg() == 1 && s.fh() * s.fw() >= taps;
    }

    private static String nhwcVectorWhyNot(ConvShape s, ConvParams p) {
        String why = vectorWhyNot(v -> true);
        return why != null ? why : NhwcLoops.whyNot(s, p);
    }

    private static VectorConv vector() {
        return VectorProvider.get().conv().orElseThrow();
    }

    /** Why the Vector API rows cannot compute a problem: the module is absent, or the loops decline it. */
    private static String vectorWhyNot(java.util.function.Predicate<VectorConv> applies) {
        VectorProvider provider = VectorProvider.get();
        if (provider.conv().isEmpty()) {
            return "the Vector API loops are not available: " + provider.reason();
        }
        return applies.test(provider.conv().get()) ? null
                : "the Vector API loops decline it (their packed planes or lane masks would not fit in Java arrays)";
    }

    /** @return every row, each direction's fastest first */
    public static List<JavaKernel> table() {
        return TABLE;
    }

    /**
     * The row with this name.
     *
     * @param name a row's name
     * @return the row
     * @throws IllegalArgumentException naming the valid names if there is none
     */
    public static JavaKernel named(String name) {
        for (JavaKernel k : TABLE) {
            if (k.name().equals(name)) {
                return k;
            }
        }
        List<String> names = new ArrayList<>();
        for (JavaKernel k : TABLE) {
            names.add(k.name());
        }
        throw new IllegalArgumentException("unknown Java kernel '" + name + "'; valid names: "
                + String.join(", ", names));
    }

    /**
     * The row a float32 channels-first call runs: {@link #select(Direction, ConvShape, ConvParams, Layout,
     * boolean, String, String, String)} with {@link Layout#NCHW} and float32 data.
     *
     * @param d the call's direction
     * @param s the problem
     * @param p its parameters
     * @param forced the name of a forced row, or null
     * @param forcedBy what forced it, for messages (e.g. {@code RRCONV_JAVA_KERNEL})
     * @param noVector null if the Vector API rows may run, else what rules them out, in words
     * @return the row
     */
    static JavaKernel select(Direction d, ConvShape s, ConvParams p, String forced, String forcedBy,
                             String noVector) {
        return select(d, s, p, Layout.NCHW, false, forced, forcedBy, noVector);
    }

    /**
     * The row a call runs.
     *
     * @param d the call's direction
     * @param s the problem
     * @param p its parameters
     * @param layout the call's layout: {@link Layout#NHWC} if its activation tensors are all channels-last
     *               (only then does dispatch pick the {@code _nhwc} rows)
     * @param half true for float16 or bfloat16 data (only rows that {@link #takesHalf} run it)
     * @param forced the name of a forced row, or null
     * @param forcedBy what forced it, for messages (e.g. {@code RRCONV_JAVA_KERNEL})
     * @param noVector null if the Vector API rows may run, else what rules them out, in words
     * @return the forced row if it has direction {@code d}, else the first row of {@code d} that is made for
     *         the call's layout or for NCHW, can compute the problem and pays
     * @throws IllegalArgumentException if {@code forced} names no row
     * @throws UnsupportedOperationException if the forced row cannot compute the problem
     */
    static JavaKernel select(Direction d, ConvShape s, ConvParams p, Layout layout, boolean half, String forced,
                             String forcedBy, String noVector) {
        if (forced != null) {
            JavaKernel k;
            try {
                k = named(forced);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(forcedBy + ": " + e.getMessage(), e);
            }
            if (k.direction() == d) {
                String why = isVector(k) && noVector != null ? "the Vector API rows do not run for " + noVector
                        : half && !takesHalf(k) ? "the Vector API rows do not run for half-precision data"
                        : k.check().whyNot(s, p);
                if (why != null) {
                    throw new UnsupportedOperationException(forcedBy + "=" + forced + " does not apply to "
                            + problem(s, p) + ": " + why);
                }
                return k;
            }
        }
        for (JavaKernel k : TABLE) {
            if (k.direction() == d && (k.layout() == Layout.NCHW || k.layout() == layout)
                    && (noVector == null || !isVector(k)) && (!half || takesHalf(k))
                    && k.check().whyNot(s, p) == null && k.pays().test(s, p)) {
                return k;
            }
        }
        throw new AssertionError("the reference row of " + d.id() + " applies to every problem");
    }

    /** @return {@code {name, what set it}} of the row the user forces, or null */
    static String[] forcedByUser() {
        String v = System.getProperty(KERNEL_PROPERTY);
        if (v != null && !v.isEmpty()) {
            return new String[] {v, "-D" + KERNEL_PROPERTY};
        }
        v = System.getenv(KERNEL_ENV);
        if (v != null && !v.isEmpty()) {
            return new String[] {v, KERNEL_ENV};
        }
        return null;
    }

    /**
     * @return true if the user asked for verbose lines ({@value #VERBOSE_PROPERTY} or {@value #VERBOSE_ENV}
     *         at least 1; the property wins)
     * @throws IllegalArgumentException if the value is not a number
     */
    static boolean verbose() {
        String v = System.getProperty(VERBOSE_PROPERTY);
        String from = "-D" + VERBOSE_PROPERTY;
        if (v == null) {
            v = System.getenv(VERBOSE_ENV);
            from = VERBOSE_ENV;
        }
        if (v == null || v.isEmpty()) {
            return false;
        }
        try {
            return Integer.parseInt(v.trim()) >= 1;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(from + "=" + v + ": expected 0 or 1");
        }
    }

    /**
     * The problem as the verbose lines write it, e.g.
     * {@code mb1_g64_icpg1_ocpg1_ih128_iw128_oh128_ow128_fh3_fw3_sh1_sw1_ph1_pw1_dh1_dw1}.
     *
     * @param s the problem
     * @param p its parameters
     * @return the descriptor
     */
    public static String problem(ConvShape s, ConvParams p) {
        return "mb" + s.n() + "_g" + s.groups() + "_icpg" + s.icpg() + "_ocpg" + s.ocpg() + "_ih" + s.ih() + "_iw"
                + s.iw() + "_oh" + s.oh() + "_ow" + s.ow() + "_fh" + s.fh() + "_fw" + s.fw() + "_sh" + p.strideH()
                + "_sw" + p.strideW() + "_ph" + p.padH() + "_pw" + p.padW() + "_dh" + p.dilationH() + "_dw"
                + p.dilationW();
    }

    /**
     * One verbose line, in the C library's format:
     * {@code rrconv_verbose,exec,<direction>,<kernel>,java,<f32|f16|bf16>,<nchw|nhwc>,mask:<int32|uint8>,
     * mode:<cross_correlation|convolution>,threads:<T>,<problem>,<ms>}, the time in milliseconds to 4
     * significant digits in fixed notation, as the C library writes it ({@link #millis}).
     *
     * @param k the row that ran
     * @param s the problem
     * @param p its parameters
     * @param data the data inputs' dtype
     * @param layout the activations' layout
     * @param mask the regions' dtype
     * @param threads the thread count
     * @param nanos the call's wall time
     * @return the line, without a line break
     */
    static String verboseLine(JavaKernel k, ConvShape s, ConvParams p, DType data, Layout layout, DType mask,
                              int threads, long nanos) {
        String dtype = switch (data) {
            case FLOAT16 -> "f16";
            case BFLOAT16 -> "bf16";
            default -> "f32";
        };
        return "rrconv_verbose,exec," + k.direction().id() + "," + k.name() + ",java," + dtype + ","
                + layout.name().toLowerCase(Locale.ROOT) + ",mask:" + (mask == DType.UINT8 ? "uint8" : "int32")
                + ",mode:" + (p.mode() == Mode.CONVOLUTION ? "convolution" : "cross_correlation") + ",threads:"
                + threads + "," + problem(s, p) + "," + millis(nanos / 1e6);
    }

    /**
     * Milliseconds with 4 significant digits in fixed notation, like the C library's verbose lines:
     * {@code 0.2310}, {@code 12.35}, {@code 1235}, and whole milliseconds from 10000 on.
     *
     * @param ms the time
     * @return the text
     */
    static String millis(double ms) {
        int decimals = 3;
        for (double v = ms; v >= 10.0 && decimals > 0; v /= 10.0) {
            decimals--;
        }
        for (double v = ms; v > 0.0 && v < 1.0 && decimals < 12; v *= 10.0) {
            decimals++;
        }
        return String.format(Locale.ROOT, "%." + decimals + "f", ms);
    }
}
