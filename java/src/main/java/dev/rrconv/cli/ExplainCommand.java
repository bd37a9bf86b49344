package dev.rrconv.cli;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.DType;
import dev.rrconv.Mode;
import dev.rrconv.Tensor;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code rrconv explain}: for a tiny problem, lists per output (or gradient) element which pairs of
 * elements it accumulates, e.g. {@code grad[0][0][1][2] accumulates filter[0][0][0][1][0] * diff[0][0][0][2]},
 * and with {@code --verbose} the taps it skips and why. Computes nothing: it only follows the index
 * arithmetic and the region masks.
 */
final class ExplainCommand implements Command {
    /** Trace lines above this are refused. */
    static final int MAX_LINES = 10_000;
    /** Loop iterations above this are refused (a huge problem whose taps are all skipped prints little). */
    private static final long MAX_WORK = 20_000_000L;

    private static final Set<String> OPTIONS = Set.of("op", "src-shape", "input", "filter-shape", "kernel",
            "out-channels", "stride", "padding", "dilation", "groups", "mode", "rin", "rout");

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
                                       the input (default 1,G*ICPG,4,4)
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
                  --verbose            also list skipped taps and why

                examples:
                  rrconv explain
                  rrconv explain --verbose
                  rrconv explain --op forward --input 5,5 --kernel 3 --padding 1 --stride 2
                  rrconv explain --groups 2 --src-shape 1,2,2,2 --kernel 2 --rin 1 --rout 1
                """;
    }

    /** A resolved problem: sizes, parameters and the flat region masks. */
    private record Problem(String op, ConvShape s, ConvParams p, int[] rin, int[] rout, String masksNote) {
        int rin(long n, long ih, long iw) {
            return rin[(int) ((n * s.ih() + ih) * s.iw() + iw)];
        }

        int rout(long n, long oh, long ow) {
            return rout[(int) ((n * s.oh() + oh) * s.ow() + ow)];
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
        long[] srcShape = a.longs("src-shape", "N,IC,IH,IW", 4);
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
        return new Problem(op, s, p, rin, rout, note);
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
            case "forward" -> "forward: dst " + Npy.tuple(s.dstShape()) + " from src " + Npy.tuple(s.srcShape())
                    + " and filter " + Npy.tuple(s.filterShape());
            case "backward-data" -> "backward data: grad = d/d src " + Npy.tuple(s.srcShape()) + " from filter "
                    + Npy.tuple(s.filterShape()) + " and diff " + Npy.tuple(s.dstShape());
            default -> "backward filter: grad = d/d filter " + Npy.tuple(s.filterShape()) + " from src "
                    + Npy.tuple(s.srcShape()) + " and diff " + Npy.tuple(s.dstShape());
        };
        out.println("explain " + what);
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

    /** Collects the trace lines; returns {elements, accumulated, skipped by region, skipped by padding}. */
    private static int[] trace(Problem pr, boolean verbose, List<String> lines) {
        ConvShape s = pr.s;
        ConvParams p = pr.p;
        boolean flip = p.mode() == Mode.CONVOLUTION;
        int[] counts = new int[4];
        List<String> mine = new ArrayList<>();
        switch (pr.op) {
            case "forward" -> {
                for (long n = 0; n < s.n(); n++) {
                    for (long g = 0; g < s.groups(); g++) {
                        for (long ocg = 0; ocg < s.ocpg(); ocg++) {
                            long oc = g * s.ocpg() + ocg;
                            for (long oh = 0; oh < s.oh(); oh++) {
                                for (long ow = 0; ow < s.ow(); ow++) {
                                    String res = idx("dst", n, oc, oh, ow);
                                    int region = pr.rout(n, oh, ow);
                                    mine.clear();
                                    int used = 0;
                                    for (long icg = 0; icg < s.icpg(); icg++) {
                                        long ic = g * s.icpg() + icg;
                                        for (long kh = 0; kh < s.fh(); kh++) {
                                            long ih = oh * p.strideH() - p.padH() + kh * p.dilationH();
                                            for (long kw = 0; kw < s.fw(); kw++) {
                                                long iw = ow * p.strideW() - p.padW() + kw * p.dilationW();
                                                String term = idx("src", n, ic, ih, iw) + " * " + idx("filter", g, ocg,
                                                        icg, flip ? s.fh() - 1 - kh : kh, flip ? s.fw() - 1 - kw : kw);
                                                used += tap(pr, verbose, counts, mine, res, term, n, ih, iw, region);
                                            }
                                        }
                                    }
                                    emit(lines, mine, res, used, counts);
                                }
                            }
                        }
                    }
                }
            }
            case "backward-data" -> {
                for (long n = 0; n < s.n(); n++) {
                    for (long ic = 0; ic < s.ic(); ic++) {
                        long g = ic / s.icpg();
                        long icg = ic % s.icpg();
                        for (long ih = 0; ih < s.ih(); ih++) {
                            for (long iw = 0; iw < s.iw(); iw++) {
                                String res = idx("grad", n, ic, ih, iw);
                                int region = pr.rin(n, ih, iw);
                                mine.clear();
                                int used = 0;
                                for (long ocg = 0; ocg < s.ocpg(); ocg++) {
                                    long oc = g * s.ocpg() + ocg;
                                    for (long kh = 0; kh < s.fh(); kh++) {
                                        long th = ih + p.padH() - kh * p.dilationH();
                                        if (th < 0 || th % p.strideH() != 0 || th / p.strideH() >= s.oh()) {
                                            continue; // no output pixel reaches this input pixel with this kh
                                        }
                                        long oh = th / p.strideH();
                                        for (long kw = 0; kw < s.fw(); kw++) {
                                            long tw = iw + p.padW() - kw * p.dilationW();
                                            if (tw < 0 || tw % p.strideW() != 0 || tw / p.strideW() >= s.ow()) {
                                                continue;
                                            }
                                            long ow = tw / p.strideW();
                                            String term = idx("filter", g, ocg, icg, flip ? s.fh() - 1 - kh : kh,
                                                    flip ? s.fw() - 1 - kw : kw) + " * " + idx("diff", n, oc, oh, ow);
                                            int out = pr.rout(n, oh, ow);
                                            if (region == out) {
                                                mine.add(res + " accumulates " + term);
                                                counts[1]++;
                                                used++;
                                            } else {
                                                counts[2]++;
                                                if (verbose) {
                                                    mine.add(res + " skips " + term + " (region " + region + " != " + out + ")");
                                                }
                                            }
                                        }
                                    }
                                }
                                emit(lines, mine, res, used, counts);
                            }
                        }
                    }
                }
            }
            default -> {
                for (long g = 0; g < s.groups(); g++) {
                    for (long ocg = 0; ocg < s.ocpg(); ocg++) {
                        long oc = g * s.ocpg() + ocg;
                        for (long icg = 0; icg < s.icpg(); icg++) {
                            long ic = g * s.icpg() + icg;
                            for (long fkh = 0; fkh < s.fh(); fkh++) {
                                for (long fkw = 0; fkw < s.fw(); fkw++) {
                                    long kh = flip ? s.fh() - 1 - fkh : fkh;
                                    long kw = flip ? s.fw() - 1 - fkw : fkw;
                                    String res = idx("grad", g, ocg, icg, fkh, fkw);
                                    mine.clear();
                                    int used = 0;
                                    for (long n = 0; n < s.n(); n++) {
                                        for (long oh = 0; oh < s.oh(); oh++) {
                                            long ih = oh * p.strideH() - p.padH() + kh * p.dilationH();
                                            for (long ow = 0; ow < s.ow(); ow++) {
                                                long iw = ow * p.strideW() - p.padW() + kw * p.dilationW();
                                                String term = idx("src", n, ic, ih, iw) + " * " + idx("diff", n, oc, oh, ow);
                                                used += tap(pr, verbose, counts, mine, res, term, n, ih, iw, pr.rout(n, oh, ow));
                                            }
                                        }
                                    }
                                    emit(lines, mine, res, used, counts);
                                }
                            }
                        }
                    }
                }
            }
        }
        return counts;
    }

    /** A forward/backward-filter tap reading src (n, ih, iw) for an output pixel of region {@code region}. */
    private static int tap(Problem pr, boolean verbose, int[] counts, List<String> mine, String res, String term,
                           long n, long ih, long iw, int region) {
        ConvShape s = pr.s;
        if (ih < 0 || ih >= s.ih() || iw < 0 || iw >= s.iw()) {
            counts[3]++;
            if (verbose) {
                mine.add(res + " skips " + term + " (padding)");
            }
            return 0;
        }
        int in = pr.rin(n, ih, iw);
        if (in != region) {
            counts[2]++;
            if (verbose) {
                mine.add(res + " skips " + term + " (region " + in + " != " + region + ")");
            }
            return 0;
        }
        counts[1]++;
        mine.add(res + " accumulates " + term);
        return 1;
    }

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
