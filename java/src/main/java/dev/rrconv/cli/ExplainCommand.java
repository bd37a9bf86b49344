package dev.rrconv.cli;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.DType;
import dev.rrconv.Layout;
import dev.rrconv.Mode;
import dev.rrconv.Tensor;
import dev.rrconv.internal.javaimpl.ReferenceLoops;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code rrconv explain}: for a tiny problem, lists per output (or gradient) element which pairs of
 * elements it accumulates, e.g. {@code grad[0][0][1][2] accumulates filter[0][0][0][1][0] * diff[0][0][0][2]},
 * and with {@code --verbose} the taps it skips and why. Computes nothing: it walks the taps of the library's
 * reference loops ({@code ReferenceLoops.walkForward} and the like) with the region masks.
 */
final class ExplainCommand implements Command {
    /** Trace lines above this are refused. */
    static final int MAX_LINES = 10_000;
    /** Loop iterations above this are refused (a huge problem whose taps are all skipped prints little). */
    private static final long MAX_WORK = 20_000_000L;

    private static final Set<String> OPTIONS = Set.of("op", "src-shape", "input", "filter-shape", "kernel",
            "out-channels", "stride", "padding", "dilation", "groups", "mode", "rin", "rout", "layout");

    @Override
    public String name() {
        return "explain";
    }

    @Override
    public String summary() {
        return "list, for a tiny problem, which elements each output/gradient element accumulates";
    }

    @Override
    public String help() {
        return """
                usage: rrconv explain [--op OP] [shape options] [--rin MASK] [--rout MASK] [--verbose]

                Traces a tiny problem without computing it: for each element of the result, in C order,
                one line per product it accumulates, with the stored indices of both factors:
                  backward-data    grad[n][ic][ih][iw] accumulates filter[g][ocg][icg][kh][kw] * diff[n][oc][oh][ow]
                  forward          dst[n][oc][oh][ow] accumulates src[n][ic][ih][iw] * filter[g][ocg][icg][kh][kw]
                  backward-filter  grad[g][ocg][icg][kh][kw] accumulates src[n][ic][ih][iw] * diff[n][oc][oh][ow]
                An element that accumulates no product is listed as "accumulates nothing" (it is 0).
                The filter is always shown 5-D (G, OCPG, ICPG, FH, FW) and in its stored layout: with
                --mode convolution, tap (kh, kw) uses filter element (FH-1-kh, FW-1-kw).
                A tap (oh, ow, kh, kw) reads ih = oh*SH - PH + kh*DH, iw = ow*SW - PW + kw*DW, and counts
                only if (ih, iw) is inside the image and rin[n][ih][iw] == rout[n][oh][ow].
                With --verbose the skipped taps are listed too, with the reason:
                  ... skips <factor> * <factor> (region A != B)   rin[n][ih][iw] is A, rout[n][oh][ow] is B
                  ... skips src[n][ic][-1][iw] * <factor> (padding)   (ih, iw) is outside the image
                With no shape option it explains the project's worked example (b): backward data, a 4x4
                input, a 2x2 filter, stride 1, and the region masks below. Problems that would print more
                than 10000 lines are refused.

                options:
                  --op OP              backward-data (default) | forward | backward-filter
                  --src-shape N,IC,IH,IW
                                       the input (default 1,G*ICPG,4,4); N,IH,IW,IC with --layout nhwc
                  --input IH,IW        shorthand for --src-shape 1,G*ICPG,IH,IW (one number: square)
                  --filter-shape G,OCPG,ICPG,FH,FW or OC,ICPG,FH,FW
                                       the filter (default G,OC/G,IC/G,FH,FW from the other options)
                  --kernel FH,FW       filter size (default 2,2; must match --filter-shape)
                  --out-channels OC    output channels (default G; must match --filter-shape)
                  --groups G           channel groups (default: a 5-D --filter-shape's G, else 1)
                  --stride SH,SW       default 1
                  --padding PH,PW      default 0
                  --dilation DH,DW     default 1
                  --mode MODE          cross-correlation (default) | convolution
                  --rin MASK           input regions (N, IH, IW): comma-separated values in C order,
                                       one value for all pixels, or an int32/uint8 .npy file (which
                                       also gives N, IH, IW when no --src-shape/--input is given)
                  --rout MASK          output regions (N, OH, OW), likewise
                                       When neither is given and the problem has the sizes of example (b),
                                       its masks (rin 1,1,1,1,0,1,1,1,0,0,1,1,0,1,1,1; rout 0,1,1,1,0,0,1,0,1);
                                       otherwise a mask not given is one region everywhere (0).
                  --layout L           nchw (default) | nhwc: src, dst, diff and grad (backward data) are
                                       indexed channels-last, src[n][ih][iw][ic], dst[n][oh][ow][oc],
                                       diff[n][oh][ow][oc], and listed in that C order; the filter and
                                       the masks are unchanged
                  --verbose            also list skipped taps and why

                examples:
                  rrconv explain
                  rrconv explain --verbose
                  rrconv explain --op forward --input 5,5 --kernel 3 --padding 1 --stride 2
                  rrconv explain --groups 2 --src-shape 1,2,2,2 --kernel 2 --rin 1 --rout 1
                """;
    }

    /** A resolved problem: sizes, parameters and the flat region masks. */
    private record Problem(String op, ConvShape s, ConvParams p, int[] rin, int[] rout, String masksNote,
                           Layout layout) {

        /** An activation index (n, c, h, w) in the order the user reads it: (n, h, w, c) for nhwc. */
        long[] shown(long n, long c, long h, long w) {
            return layout == Layout.NHWC ? new long[] {n, h, w, c} : new long[] {n, c, h, w};
        }

        /** An activation shape (N, C, H, W) as the user reads it. */
        String shape(long[] nchw) {
            return Npy.tuple(shown(nchw[0], nchw[1], nchw[2], nchw[3]));
        }

        /** Whether the result elements are activations listed in channels-last order. */
        boolean reorders() {
            return layout == Layout.NHWC && !op.equals("backward-filter");
        }
    }

    @Override
    public int run(String[] argv, PrintStream out, PrintStream err) throws Exception {
        Args a = Args.parse(name(), argv, OPTIONS, Set.of("verbose"));
        String op = a.get("op", "backward-data");
        if (!RunCommand.OPS.contains(op)) {
            throw new UsageException("explain: unknown --op '" + op + "'; expected forward, backward-data or backward-filter");
        }
        try (Arena arena = Arena.ofConfined()) {
            Problem pr = resolve(a, op, arena);
            List<String> lines = new ArrayList<>();
            int[] counts = trace(pr, a.flag("verbose"), lines);
            header(out, pr);
            for (String l : lines) {
                out.println(l);
            }
            out.println();
            out.printf(Locale.ROOT, "%d %s elements, %d products accumulated, %d taps skipped by region, %d by padding%n",
                    counts[0], resultName(op), counts[1], counts[2], counts[3]);
        }
        return 0;
    }

    private static String resultName(String op) {
        return op.equals("forward") ? "dst" : "grad";
    }

    // ---- resolving the problem ------------------------------------------------------------------

    private static Problem resolve(Args a, String op, Arena arena) throws Exception {
        int[] stride = a.pair("stride", new int[] {1, 1});
        int[] padding = a.pair("padding", new int[] {0, 0});
        int[] dilation = a.pair("dilation", new int[] {1, 1});
        Mode mode = RunCommand.parseMode(a);
        Layout layout = RunCommand.parseLayout(a);
        long[] srcShape = a.longs("src-shape", layout == Layout.NHWC ? "N,IH,IW,IC" : "N,IC,IH,IW", 4);
        if (srcShape != null && layout == Layout.NHWC) {
            srcShape = new long[] {srcShape[0], srcShape[3], srcShape[1], srcShape[2]};
        }
        int[] input = a.pair("input", null);
        long[] filterShape = a.longs("filter-shape", "G,OCPG,ICPG,FH,FW or OC,ICPG,FH,FW", 5, 4);
        int[] kernel = a.pair("kernel", null);
        Integer oc = a.has("out-channels") ? a.integer("out-channels", 1) : null;
        if (srcShape != null && input != null) {
            throw new UsageException("explain: give --src-shape or --input, not both");
        }

        long groups;
        if (a.has("groups")) {
            groups = a.integer("groups", 1);
            if (filterShape != null && filterShape.length == 5 && filterShape[0] != groups) {
                throw new CliException("--groups " + groups + " does not match --filter-shape "
                        + a.get("filter-shape") + " (G = " + filterShape[0] + ")");
            }
        } else {
            groups = filterShape != null && filterShape.length == 5 ? filterShape[0] : 1;
        }
        if (groups < 1 || groups > Integer.MAX_VALUE) {
            throw new UsageException("explain: --groups must be >= 1, got " + groups);
        }
        ConvParams p = RunCommand.params(stride, padding, dilation, (int) groups, mode);

        // the filter, 5-D
        long[] f;
        if (filterShape != null) {
            if (filterShape.length == 5) {
                f = filterShape.clone();
            } else {
                if (filterShape[0] < 1 || filterShape[0] % groups != 0) {
                    throw new CliException("--filter-shape " + a.get("filter-shape") + ": " + filterShape[0]
                            + " output channels is not a positive multiple of groups=" + groups);
                }
                f = new long[] {groups, filterShape[0] / groups, filterShape[1], filterShape[2], filterShape[3]};
            }
            if (kernel != null && (kernel[0] != f[3] || kernel[1] != f[4])) {
                throw new CliException("--kernel " + kernel[0] + "," + kernel[1] + " does not match --filter-shape "
                        + a.get("filter-shape") + " (kernel " + f[3] + "x" + f[4] + ")");
            }
            if (oc != null && oc != f[0] * f[1]) {
                throw new CliException("--out-channels " + oc + " does not match --filter-shape "
                        + a.get("filter-shape") + " (" + f[0] * f[1] + " output channels)");
            }
        } else {
            int[] k = kernel != null ? kernel : new int[] {2, 2};
            long ocv = oc != null ? oc : groups;
            if (ocv < 1 || ocv % groups != 0) {
                throw new CliException("--out-channels " + ocv + " is not a positive multiple of groups=" + groups);
            }
            long icpg = 1;
            if (srcShape != null) {
                if (srcShape[1] % groups != 0) {
                    throw new CliException("--src-shape " + a.get("src-shape") + ": " + srcShape[1]
                            + " channels is not a multiple of groups=" + groups);
                }
                icpg = srcShape[1] / groups;
            }
            f = new long[] {groups, ocv / groups, icpg, k[0], k[1]};
        }

        // masks given as files may give N, IH, IW
        Tensor rinFile = maskFile(a, "rin", arena);
        Tensor routFile = maskFile(a, "rout", arena);
        long[] src;
        if (srcShape != null) {
            src = srcShape;
        } else if (input != null) {
            src = new long[] {1, groups * f[2], input[0], input[1]};
        } else if (rinFile != null && rinFile.rank() == 3) {
            src = new long[] {rinFile.dim(0), groups * f[2], rinFile.dim(1), rinFile.dim(2)};
        } else {
            src = new long[] {1, groups * f[2], 4, 4};
        }
        ConvShape s = ConvShape.ofForward(src, f, p);
        long work;
        try {
            work = Math.multiplyExact(Math.max(s.n() * s.oc() * s.oh() * s.ow(), s.n() * s.ic() * s.ih() * s.iw()),
                    s.icpg() * s.ocpg() * s.fh() * s.fw());
        } catch (ArithmeticException e) {
            work = Long.MAX_VALUE;
        }
        long outElems = switch (op) {
            case "forward" -> s.n() * s.oc() * s.oh() * s.ow();
            case "backward-data" -> s.n() * s.ic() * s.ih() * s.iw();
            default -> s.groups() * s.ocpg() * s.icpg() * s.fh() * s.fw();
        };
        if (outElems > MAX_LINES || work > MAX_WORK) {
            throw new CliException(tooLarge());
        }
        boolean example = !a.has("rin") && !a.has("rout") && Arrays.equals(s.rinShape(), new long[] {1, 4, 4})
                && Arrays.equals(s.routShape(), new long[] {1, 3, 3});
        int[] rin = mask(a, "rin", rinFile, s.rinShape(), example ? DemoCommand.RIN_B : null);
        int[] rout = mask(a, "rout", routFile, s.routShape(), example ? DemoCommand.ROUT_B : null);
        String note = a.has("rin") && a.has("rout") ? null
                : (a.has("rin") ? "rout" : a.has("rout") ? "rin" : "rin and rout") + " not given: "
                + (example ? "the masks of example (b)" : "one region (0) everywhere");
        return new Problem(op, s, p, rin, rout, note, layout);
    }

    private static String tooLarge() {
        return "problem too large to explain: it would print more than " + MAX_LINES
                + " lines; explain is meant for tiny problems (e.g. --input 4,4 --kernel 2)";
    }

    private static boolean isFile(String v) {
        return v.toLowerCase(Locale.ROOT).endsWith(".npy");
    }

    private static Tensor maskFile(Args a, String key, Arena arena) throws Exception {
        String v = a.get(key);
        if (v == null || !isFile(v)) {
            return null;
        }
        Tensor t = RunCommand.readOption(key, a.path(key), arena);
        if (t.dtype() == DType.FLOAT32) {
            throw new CliException("--" + key + " " + v + ": region masks must be int32 or uint8, got float32");
        }
        return t;
    }

    private static int[] mask(Args a, String key, Tensor file, long[] shape, int[] dflt) {
        long count = 1;
        for (long d : shape) {
            count *= d;
        }
        if (file != null) {
            if (!Arrays.equals(file.shape(), shape)) {
                throw new CliException("--" + key + " " + a.get(key) + ": " + key + " must have shape "
                        + Npy.tuple(shape) + " for this problem, got " + Npy.tuple(file.shape()));
            }
            return file.toIntArray();
        }
        String v = a.get(key);
        int[] r = new int[(int) count];
        if (v == null) {
            return dflt != null ? dflt.clone() : r;
        }
        long[] l = a.parseLongs(key, v, "comma-separated region ids or a .npy file");
        if (l.length != 1 && l.length != count) {
            throw new CliException("--" + key + ": " + l.length + " values given, but " + key + " has shape "
                    + Npy.tuple(shape) + " (" + count + " values in C order, or one value for all)");
        }
        for (int i = 0; i < r.length; i++) {
            long x = l[l.length == 1 ? 0 : i];
            if (x != (int) x) {
                throw new CliException("--" + key + ": region id " + x + " is out of the int32 range");
            }
            r[i] = (int) x;
        }
        return r;
    }

    // ---- printing -------------------------------------------------------------------------------

    private static void header(PrintStream out, Problem pr) {
        ConvShape s = pr.s;
        ConvParams p = pr.p;
        String what = switch (pr.op) {
            case "forward" -> "forward: dst " + pr.shape(s.dstShape()) + " from src " + pr.shape(s.srcShape())
                    + " and filter " + Npy.tuple(s.filterShape());
            case "backward-data" -> "backward data: grad = d/d src " + pr.shape(s.srcShape()) + " from filter "
                    + Npy.tuple(s.filterShape()) + " and diff " + pr.shape(s.dstShape());
            default -> "backward filter: grad = d/d filter " + Npy.tuple(s.filterShape()) + " from src "
                    + pr.shape(s.srcShape()) + " and diff " + pr.shape(s.dstShape());
        };
        out.println("explain " + what + (pr.layout == Layout.NHWC ? ", channels-last (--layout nhwc)" : ""));
        out.printf(Locale.ROOT, "  stride %d,%d  padding %d,%d  dilation %d,%d  groups %d  %s%n", p.strideH(), p.strideW(),
                p.padH(), p.padW(), p.dilationH(), p.dilationW(), p.groups(), p.mode().cliName());
        out.printf(Locale.ROOT, "  tap (oh, ow, kh, kw) reads ih = oh*%d - %d + kh*%d, iw = ow*%d - %d + kw*%d;"
                + " it counts if inside the image and rin[n][ih][iw] == rout[n][oh][ow]%n",
                p.strideH(), p.padH(), p.dilationH(), p.strideW(), p.padW(), p.dilationW());
        if (p.mode() == Mode.CONVOLUTION) {
            out.printf(Locale.ROOT, "  convolution: tap (kh, kw) multiplies filter element (%d-kh, %d-kw)%n",
                    s.fh() - 1, s.fw() - 1);
        }
        if (pr.masksNote != null) {
            out.println("  " + pr.masksNote);
        }
        Grid.print(out, "  ", "rin", Tensor.ofInts(pr.rin, s.rinShape()));
        Grid.print(out, "  ", "rout", Tensor.ofInts(pr.rout, s.routShape()));
        out.println();
    }

    private static String idx(String name, long... i) {
        StringBuilder sb = new StringBuilder(name);
        for (long x : i) {
            sb.append('[').append(x).append(']');
        }
        return sb.toString();
    }

    /**
     * Collects the trace lines by walking the taps of the library's reference loops; returns {elements,
     * accumulated, skipped by region, skipped by padding}.
     */
    private static int[] trace(Problem pr, boolean verbose, List<String> lines) {
        ConvShape s = pr.s;
        ConvParams p = pr.p;
        int[] counts = new int[4];
        Tensor rin = Tensor.ofInts(pr.rin, s.rinShape());
        Tensor rout = Tensor.ofInts(pr.rout, s.routShape());
        // with --layout nhwc the walk's (n, c, h, w) order is not the listing's (n, h, w, c) order: keep each
        // element's lines and sort the elements by their shown index at the end
        List<Element> elements = new ArrayList<>();
        int[] buffered = new int[1];
        ReferenceLoops.TapVisitor tracer = new ReferenceLoops.TapVisitor() {
            private final List<String> mine = new ArrayList<>();
            private String res;
            private long[] shown;
            private int used;

            @Override
            public void begin(long... index) {
                shown = index.length == 4 ? pr.shown(index[0], index[1], index[2], index[3]) : index;
                res = idx(resultName(pr.op), shown);
                mine.clear();
                used = 0;
            }

            @Override
            public void tap(ReferenceLoops.Tap t) {
                String f = idx("filter", t.g(), t.ocg(), t.icg(), t.fkh(), t.fkw());
                String term = switch (pr.op) {
                    case "forward" -> idx("src", pr.shown(t.n(), t.ic(), t.ih(), t.iw())) + " * " + f;
                    case "backward-data" -> f + " * " + idx("diff", pr.shown(t.n(), t.oc(), t.oh(), t.ow()));
                    default -> idx("src", pr.shown(t.n(), t.ic(), t.ih(), t.iw())) + " * "
                            + idx("diff", pr.shown(t.n(), t.oc(), t.oh(), t.ow()));
                };
                switch (t.skip()) {
                    case NONE -> {
                        counts[1]++;
                        used++;
                        mine.add(res + " accumulates " + term);
                    }
                    case PADDING -> {
                        counts[3]++;
                        if (verbose) {
                            mine.add(res + " skips " + term + " (padding)");
                        }
                    }
                    case REGION -> {
                        counts[2]++;
                        if (verbose) {
                            mine.add(res + " skips " + term + " (region " + t.inRegion() + " != " + t.outRegion() + ")");
                        }
                    }
                }
            }

            @Override
            public void end() {
                if (!pr.reorders()) {
                    emit(lines, mine, res, used, counts);
                    return;
                }
                buffered[0] += mine.size() + (used == 0 ? 1 : 0); // the lines emit will add
                if (buffered[0] > MAX_LINES) {
                    throw new CliException(tooLarge());
                }
                elements.add(new Element(shown, res, List.copyOf(mine), used));
            }
        };
        switch (pr.op) {
            case "forward" -> ReferenceLoops.walkForward(s, p, rin, rout, tracer);
            case "backward-data" -> ReferenceLoops.walkBackwardData(s, p, rin, rout, tracer);
            default -> ReferenceLoops.walkBackwardFilter(s, p, rin, rout, tracer);
        }
        elements.sort(Comparator.comparing(Element::shown, Arrays::compare));
        for (Element e : elements) {
            emit(lines, e.lines(), e.res(), e.used(), counts);
        }
        return counts;
    }

    /** One result element's trace, kept until the elements are sorted. */
    private record Element(long[] shown, String res, List<String> lines, int used) {}

    private static void emit(List<String> lines, List<String> mine, String res, int used, int[] counts) {
        counts[0]++;
        if (used == 0) {
            lines.add(res + " accumulates nothing");
        }
        lines.addAll(mine);
        if (lines.size() > MAX_LINES) {
            throw new CliException(tooLarge());
        }
    }
}
