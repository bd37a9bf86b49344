package example.consumer;

import dev.rrconv.Backend;
import dev.rrconv.ConvParams;
import dev.rrconv.RegionConv;
import dev.rrconv.RegionConvLayer;
import dev.rrconv.Tensor;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * Training with {@link RegionConvLayer}: a hidden "true" layer (filter and bias) makes targets from random
 * images with random region masks; a second layer, starting from zeros, is fitted to them by plain
 * full-batch gradient descent on the mean squared error. Prints the loss as it falls, and exits with
 * status 1 if it did not fall by at least 100x.
 *
 * <p>Run: {@code mvn compile exec:exec@fit} (or {@code java --enable-native-access=ALL-UNNAMED -cp ...
 * example.consumer.FitFilter [native|java]}).
 */
public final class FitFilter {
    private static final int N = 6;
    private static final int IC = 3;
    private static final int OC = 4;
    private static final int H = 9;
    private static final int W = 8;
    private static final int K = 3;
    private static final int STEPS = 150;
    private static final float LEARNING_RATE = 1.0f;

    private FitFilter() {}

    /**
     * Fits a layer on each backend.
     *
     * @param args backends to use ({@code auto}, {@code native}, {@code java}); auto and java when empty
     */
    public static void main(String[] args) {
        Backend[] backends = args.length == 0 ? new Backend[] {Backend.AUTO, Backend.JAVA}
                : Arrays.stream(args).map(Backend::parse).toArray(Backend[]::new);
        boolean ok = true;
        for (Backend backend : backends) {
            ok &= fit(backend);
        }
        if (!ok) {
            System.exit(1);
        }
    }

    static boolean fit(Backend backend) {
        String name = RegionConv.of(backend).backend().cliName();   // what AUTO became
        Random random = new Random(2026);
        ConvParams params = ConvParams.DEFAULT.withPadding(1, 1);   // 3x3, stride 1: output grid = input grid

        // the data: images x, region ids 0..2 per pixel, targets from the hidden layer
        float[] trueFilter = gaussian(random, OC * IC * K * K, 0.5);
        float[] trueBias = gaussian(random, OC, 1.0);
        Tensor x = Tensor.ofFloats(gaussian(random, N * IC * H * W, 1.0), N, IC, H, W);
        int[] ids = new int[N * H * W];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(3);
        }
        Tensor regions = Tensor.ofInts(ids, N, H, W);
        RegionConvLayer truth = new RegionConvLayer(Tensor.ofFloats(trueFilter, OC, IC, K, K),
                Tensor.ofFloats(trueBias, OC), params, backend);

        // the model: its parameters live in these arrays, which gradient descent updates in place
        float[] filter = new float[OC * IC * K * K];
        float[] bias = new float[OC];
        RegionConvLayer layer = new RegionConvLayer(Tensor.ofFloats(filter, OC, IC, K, K), Tensor.ofFloats(bias, OC),
                params, backend);

        double first = Double.NaN;
        double loss = Double.NaN;
        try (Arena data = Arena.ofConfined()) {
            float[] target = truth.forward(x, regions, regions, data).toFloatArray();
            for (int step = 0; step <= STEPS; step++) {
                try (Arena arena = Arena.ofConfined()) {
                    Tensor y = layer.forward(x, regions, regions, arena);
                    // loss = mean((y - target)^2) / 2, and its gradient w.r.t. y: (y - target) / count
                    float[] dy = y.toFloatArray();
                    double sum = 0;
                    for (int i = 0; i < dy.length; i++) {
                        double e = dy[i] - target[i];
                        sum += e * e;
                        dy[i] = (float) (e / dy.length);
                    }
                    loss = sum / (2.0 * dy.length);
                    if (step == 0) {
                        first = loss;
                    }
                    if (step % 25 == 0) {
                        System.out.printf(Locale.ROOT, "%s: step %3d  loss %.3e%n", name, step, loss);
                    }
                    if (step == STEPS) {
                        break;
                    }
                    RegionConvLayer.Gradients g = layer.backward(x, Tensor.ofFloats(dy, y.shape()), regions, regions,
                            arena);
                    float[] gradFilter = g.gradFilter().toFloatArray();
                    float[] gradBias = g.gradBias().toFloatArray();
                    for (int i = 0; i < filter.length; i++) {
                        filter[i] -= LEARNING_RATE * gradFilter[i];
                    }
                    for (int i = 0; i < bias.length; i++) {
                        bias[i] -= LEARNING_RATE * gradBias[i];
                    }
                }
            }
        }
        double maxBiasError = 0;
        for (int i = 0; i < OC; i++) {
            maxBiasError = Math.max(maxBiasError, Math.abs(bias[i] - trueBias[i]));
        }
        boolean fell = loss < first / 100;
        System.out.printf(Locale.ROOT, "%s: loss %s from %.3e to %.3e (%.1fx) in %d steps; largest bias error %.1e%n",
                name, fell ? "fell" : "DID NOT FALL ENOUGH", first, loss, first / loss, STEPS, maxBiasError);
        return fell;
    }

    private static float[] gaussian(Random random, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (scale * random.nextGaussian());
        }
        return v;
    }
}
