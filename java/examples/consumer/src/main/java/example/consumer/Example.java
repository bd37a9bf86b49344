package example.consumer;

import dev.rrconv.Backend;
import dev.rrconv.ConvParams;
import dev.rrconv.RegionConv;
import dev.rrconv.Tensor;
import java.lang.foreign.Arena;
import java.util.Arrays;

/**
 * Uses rrconv from another project: a forward and two backward-data calls on the project's worked
 * examples (a), (b) and (c), on each backend, printed one result per line.
 *
 * <p>Run: {@code mvn compile exec:exec@example} (or {@code java --enable-native-access=ALL-UNNAMED -cp ...
 * example.consumer.Example [native|java]}).
 */
public final class Example {
    private Example() {}

    /**
     * Runs the examples.
     *
     * @param args backends to use ({@code auto}, {@code native}, {@code java}); auto and java when empty
     */
    public static void main(String[] args) {
        Backend[] backends = args.length == 0 ? new Backend[] {Backend.AUTO, Backend.JAVA}
                : Arrays.stream(args).map(Backend::parse).toArray(Backend[]::new);
        System.out.println("rrconv from " + RegionConv.class.getProtectionDomain().getCodeSource().getLocation());
        for (Backend backend : backends) {
            RegionConv conv = RegionConv.of(backend);   // RegionConv.of() is AUTO: native where it loads, else java
            System.out.println(backend.cliName() + " -> " + conv.backend().cliName() + ": " + conv.backendReason());
            run(conv);
        }
    }

    static void run(RegionConv conv) {
        String name = conv.backend().cliName();
        // regions of example (a)/(b): a 4x4 image split into regions 0 and 1, and its 3x3 output grid
        Tensor rin = Tensor.ofInts(new int[] {1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1}, 1, 4, 4);
        Tensor rout = Tensor.ofInts(new int[] {0, 1, 1, 1, 0, 0, 1, 0, 1}, 1, 3, 3);
        Tensor ones = Tensor.ofFloats(new float[] {1, 1, 1, 1}, 1, 1, 1, 2, 2);     // (G, OCPG, ICPG, FH, FW)

        try (Arena arena = Arena.ofConfined()) {
            // (a) forward: src 0..15
            Tensor src = Tensor.ofFloats(range(0, 16), 1, 1, 4, 4);
            Tensor dst = conv.forward(src, ones, rin, rout, ConvParams.DEFAULT, arena);
            print(name, "forward (a)", "dst", dst);

            // (b) backward data: diff 1..9, the gradient w.r.t. src
            Tensor diff = Tensor.ofFloats(range(1, 9), 1, 1, 3, 3);
            print(name, "backward data (b)", "grad src", conv.backwardData(ones, diff, rin, rout, ConvParams.DEFAULT, arena));

            // (c) backward data, two groups: filter 1..8 (2, 1, 1, 2, 2), one output pixel per group, one region
            ConvParams grouped = ConvParams.DEFAULT.withGroups(2);
            Tensor filter = Tensor.ofFloats(range(1, 8), 2, 1, 1, 2, 2);
            Tensor diffC = Tensor.ofFloats(new float[] {1, 2}, 1, 2, 1, 1);
            Tensor rinC = Tensor.ofInts(new int[] {1, 1, 1, 1}, 1, 2, 2);
            Tensor routC = Tensor.ofInts(new int[] {1}, 1, 1, 1);
            print(name, "backward data (c)", "grad src", conv.backwardData(filter, diffC, rinC, routC, grouped, arena));
        }
    }

    private static float[] range(int from, int count) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = from + i;
        }
        return v;
    }

    private static void print(String backend, String what, String tensor, Tensor t) {
        System.out.println(backend + ": " + what + ": " + tensor + " " + Arrays.toString(t.shape()) + " = "
                + Arrays.toString(t.toFloatArray()));
    }
}
