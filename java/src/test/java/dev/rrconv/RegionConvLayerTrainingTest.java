package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * End to end: a {@link RegionConvLayer} (filter and bias) fitted by plain full-batch gradient descent to
 * targets that a hidden "true" layer produced from random inputs with random region masks. The mean
 * squared error must fall by more than 1000x, and the fitted parameters must approach the true ones.
 */
class RegionConvLayerTrainingTest {
    static final int N = 6;
    static final int IC = 3;
    static final int OC = 4;
    static final int H = 9;
    static final int W = 8;
    static final int K = 3;
    static final int STEPS = 150;
    static final float LEARNING_RATE = 1.0f;

    /** Loss per step and final parameter error of one training run. */
    record Run(double[] loss, double initialParamError, double finalParamError) {}

    static Run train(Backend backend, long seed) {
        Random r = new Random(seed);
        ConvParams p = ConvParams.DEFAULT.withPadding(1, 1);
        float[] trueW = gaussian(r, OC * IC * K * K, 0.5);
        float[] trueB = gaussian(r, OC, 1.0);
        float[] x = gaussian(r, N * IC * H * W, 1.0);
        int[] regions = new int[N * H * W];
        for (int i = 0; i < regions.length; i++) {
            regions[i] = r.nextInt(3);
        }
        Tensor src = Tensor.ofFloats(x, N, IC, H, W);
        Tensor rin = Tensor.ofInts(regions, N, H, W);
        Tensor rout = rin; // stride 1, padding 1, 3x3: the output grid is the input grid

        float[] w = new float[trueW.length];
        float[] b = new float[OC];
        RegionConvLayer model = new RegionConvLayer(Tensor.ofFloats(w, OC, IC, K, K), Tensor.ofFloats(b, OC), p, backend);
        RegionConvLayer truth = new RegionConvLayer(Tensor.ofFloats(trueW, OC, IC, K, K), Tensor.ofFloats(trueB, OC), p,
                backend);

        double[] losses = new double[STEPS + 1];
        double initialError = distance(w, trueW) + distance(b, trueB);
        try (Arena data = Arena.ofConfined()) {
            float[] target = truth.forward(src, rin, rout, data).toFloatArray();
            for (int step = 0; step <= STEPS; step++) {
                try (Arena arena = Arena.ofConfined()) {
                    Tensor y = model.forward(src, rin, rout, arena);
                    // loss = mean((y - target)^2) / 2; its gradient w.r.t. y is (y - target) / count
                    float[] dy = y.toFloatArray();
                    double loss = 0;
                    for (int i = 0; i < dy.length; i++) {
                        double e = dy[i] - target[i];
                        loss += e * e;
                        dy[i] = (float) (e / dy.length);
                    }
                    losses[step] = loss / (2.0 * dy.length);
                    if (step == STEPS) {
                        break;
                    }
                    RegionConvLayer.Gradients g = model.backward(src, Tensor.ofFloats(dy, y.shape()), rin, rout, arena);
                    float[] gw = g.gradFilter().toFloatArray();
                    float[] gb = g.gradBias().toFloatArray();
                    for (int i = 0; i < w.length; i++) {
                        w[i] -= LEARNING_RATE * gw[i];
                    }
                    for (int i = 0; i < b.length; i++) {
                        b[i] -= LEARNING_RATE * gb[i];
                    }
                }
            }
        }
        return new Run(losses, initialError, distance(w, trueW) + distance(b, trueB));
    }

    static float[] gaussian(Random r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (scale * r.nextGaussian());
        }
        return a;
    }

    static double distance(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (a[i] - (double) b[i]) * (a[i] - (double) b[i]);
        }
        return Math.sqrt(s);
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void lossFallsWhenFittingAHiddenFilter(Backend backend) {
        Run run = train(backend, 2026);
        double[] l = run.loss();
        String trace = "loss at steps 0, 10, 50, " + STEPS + ": " + l[0] + ", " + l[10] + ", " + l[50] + ", " + l[STEPS];
        assertTrue(l[0] > 0.1, trace);
        assertTrue(l[STEPS] < l[0] / 1000, trace);
        for (int i = 1; i < l.length; i++) {
            assertTrue(l[i] <= l[i - 1] * (1 + 1e-6), "loss rose at step " + i + ": " + trace);
        }
        assertTrue(run.finalParamError() < run.initialParamError() / 20,
                "parameter error " + run.initialParamError() + " -> " + run.finalParamError());
    }
}
