package dev.rrconv.cli;

import dev.rrconv.Backend;
import dev.rrconv.ConvParams;
import dev.rrconv.RegionConv;
import dev.rrconv.Tensor;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.util.Set;

/**
 * {@code rrconv demo}: runs the two worked backward-data examples of the project (a plain one and a
 * grouped one), prints inputs and results as small grids, and checks the results.
 */
final class DemoCommand implements Command {
    /** Example (b): rin (1, 4, 4). */
    static final int[] RIN_B = {1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1};
    /** Example (b): rout (1, 3, 3). */
    static final int[] ROUT_B = {0, 1, 1, 1, 0, 0, 1, 0, 1};
    /** Example (b): the expected gradient (1, 1, 4, 4). */
    static final float[] GRAD_B = {0, 2, 5, 3, 1, 6, 5, 3, 0, 13, 9, 9, 0, 7, 9, 9};
    /** Example (c): the expected gradient (1, 2, 2, 2). */
    static final float[] GRAD_C = {1, 2, 3, 4, 10, 12, 14, 16};

    @Override
    public String name() {
        return "demo";
    }

    @Override
    public String summary() {
        return "run two worked backward-data examples; print inputs, results and a check";
    }

    @Override
    public String help() {
        return """
                usage: rrconv demo [--backend auto|native|java|java-scalar]

                Runs the worked backward-data examples (the gradient w.r.t. src) and prints their inputs
                and results as small grids (one line per row, values separated by one space), then checks
                each result against the expected values (exit code 1 on a mismatch).
                  (b) 1 channel, 2x2 filter of ones, diff 1..9, 4x4 input with two regions
                  (c) 2 groups, filter 1..8, one output pixel per group, a single region
                'rrconv explain' shows, term by term, how example (b) is accumulated.

                options:
                  --backend B   auto (default: native where the C library loads, else java, with a
                                note saying why) | native | java | java-scalar
                """;
    }

    @Override
    public int run(String[] argv, PrintStream out, PrintStream err) {
        Args a = Args.parse(name(), argv, Set.of("backend"), Set.of());
        Backend backend = RunCommand.parseBackend(a);
        RegionConv conv = RunCommand.conv(backend);
        String note = backend == Backend.AUTO && conv.backend() == Backend.JAVA ? " (" + conv.backendReason() + ")" : "";
        out.println("rrconv demo: backward data (the gradient w.r.t. src), " + conv.backend().cliName()
                + " backend" + note);
        out.println();
        out.println("grad[n, g*ICPG+icg, ih, iw] = sum of filter[g, ocg, icg, kh, kw] * diff[n, g*OCPG+ocg, oh, ow]");
        out.println("  over the taps with ih = oh*SH - PH + kh*DH, iw = ow*SW - PW + kw*DW that stay in their");
        out.println("  region: rin[n, ih, iw] == rout[n, oh, ow]. Both examples: stride 1, padding 0, dilation 1,");
        out.println("  cross-correlation, int32 regions.");
        boolean ok;
        try (Arena arena = Arena.ofConfined()) {
            out.println();
            out.println("Example (b): one channel, a 2x2 filter of ones, two regions");
            Tensor filterB = Tensor.ofFloats(new float[] {1, 1, 1, 1}, 1, 1, 1, 2, 2);
            Tensor diffB = Tensor.ofFloats(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3);
            Tensor rinB = Tensor.ofInts(RIN_B, 1, 4, 4);
            Tensor routB = Tensor.ofInts(ROUT_B, 1, 3, 3);
            ok = example(out, conv, arena, filterB, diffB, rinB, routB, ConvParams.DEFAULT, GRAD_B);

            out.println();
            out.println("Example (c): two groups (G=2, OCPG=1, ICPG=1), one output pixel, one region");
            Tensor filterC = Tensor.ofFloats(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 2, 1, 1, 2, 2);
            Tensor diffC = Tensor.ofFloats(new float[] {1, 2}, 1, 2, 1, 1);
            Tensor rinC = Tensor.ofInts(new int[] {1, 1, 1, 1}, 1, 2, 2);
            Tensor routC = Tensor.ofInts(new int[] {1}, 1, 1, 1);
            ok &= example(out, conv, arena, filterC, diffC, rinC, routC, ConvParams.DEFAULT.withGroups(2), GRAD_C);
        }
        out.println();
        out.println(ok ? "Both results match the expected values." : "MISMATCH: a result differs from the expected values.");
        return ok ? 0 : 1;
    }

    private static boolean example(PrintStream out, RegionConv conv, Arena arena, Tensor filter, Tensor diff,
                                   Tensor rin, Tensor rout, ConvParams p, float[] expected) {
        String in = "  ";
        Grid.print(out, in, "filter", filter);
        Grid.print(out, in, "diff", diff);
        Grid.print(out, in, "rin", rin);
        Grid.print(out, in, "rout", rout);
        Tensor grad = conv.backwardData(filter, diff, rin, rout, p, arena);
        Grid.print(out, in, "grad src", grad);
        out.println(in + "grad src, flat: " + String.join(" ", Grid.values(grad)));
        float[] got = grad.toFloatArray();
        boolean ok = got.length == expected.length;
        for (int i = 0; ok && i < got.length; i++) {
            ok = got[i] == expected[i];
        }
        if (ok) {
            out.println(in + "check: as expected");
        } else {
            StringBuilder sb = new StringBuilder();
            for (float f : expected) {
                sb.append(sb.isEmpty() ? "" : " ").append(Grid.fmt(f));
            }
            out.println(in + "check: MISMATCH, expected " + sb);
        }
        return ok;
    }
}
