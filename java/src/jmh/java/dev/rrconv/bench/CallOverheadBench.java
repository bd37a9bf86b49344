package dev.rrconv.bench;

import dev.rrconv.Backend;
import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.DType;
import dev.rrconv.RegionConv;
import dev.rrconv.Tensor;
import dev.rrconv.internal.Backends;
import dev.rrconv.internal.ConvBackend;
import java.lang.foreign.Arena;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Per-call overhead: one forward call of the 4x4 worked example (a) of issue 2 (src 0..15 as
 * (1,1,4,4), a 2x2 filter of ones, two regions), whose 36 multiply-adds cost nothing, so the time is
 * what a call costs: validation in Java, the descriptor and stride arrays, the downcall (native) or
 * packing (java), and the thread pool hand-off (1 thread here, so none).
 *
 * <p>{@link #forwardBackendOnly} skips the facade's validation (it calls the backend behind
 * {@link RegionConv} with a precomputed shape), so the difference of the two is what the Java-side
 * checks cost.
 *
 * <p>Three forks, because single-fork runs of nanosecond-scale benchmarks drifted by up to 1.5x
 * between runs on the 2-core machine (BUILD-NOTES); the setup checks the exact result.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
@Fork(value = 3, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
public class CallOverheadBench {
    private static final float[] SRC = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    private static final int[] RIN = {1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1};
    private static final int[] ROUT = {0, 1, 1, 1, 0, 0, 1, 0, 1};
    private static final float[] DST = {4, 14, 18, 5, 9, 0, 13, 9, 50};

    /** native or java. */
    @Param({"native", "java"})
    public String backend;

    private RegionConv conv;
    private ConvBackend impl;
    private ConvShape shape;
    private Tensor src;
    private Tensor filter;
    private Tensor rin;
    private Tensor rout;
    private Tensor dst;
    private final ConvParams params = ConvParams.DEFAULT;

    /** Off-heap tensors of example (a) (an automatic arena: usable from any thread, no per-call lock). */
    @Setup
    public void setUp() {
        RegionConv.setThreads(1);
        conv = RegionConv.of(Backend.parse(backend));
        Arena arena = Arena.ofAuto();
        src = Tensor.allocate(arena, DType.FLOAT32, 1, 1, 4, 4);
        src.copyFrom(Tensor.ofFloats(SRC, 1, 1, 4, 4));
        filter = Tensor.allocate(arena, DType.FLOAT32, 1, 1, 1, 2, 2);
        filter.copyFrom(Tensor.ofFloats(new float[] {1, 1, 1, 1}, 1, 1, 1, 2, 2));
        rin = Tensor.allocate(arena, DType.INT32, 1, 4, 4);
        rin.copyFrom(Tensor.ofInts(RIN, 1, 4, 4));
        rout = Tensor.allocate(arena, DType.INT32, 1, 3, 3);
        rout.copyFrom(Tensor.ofInts(ROUT, 1, 3, 3));
        dst = Tensor.allocate(arena, DType.FLOAT32, 1, 1, 3, 3);
        impl = Backends.get(conv.backend());
        shape = ConvShape.ofForward(src.shape(), filter.shape(), params);
        forward();
        Check.exact("example (a) forward on " + backend, DST, dst.toFloatArray());
        dst.copyFrom(Tensor.ofFloats(new float[9], 1, 1, 3, 3));
        forwardBackendOnly();
        Check.exact("example (a) forward on the " + backend + " backend directly", DST, dst.toFloatArray());
    }

    /** One forward call into the preallocated dst. */
    @Benchmark
    public Tensor forward() {
        conv.forward(src, filter, rin, rout, params, dst);
        return dst;
    }

    /** The same call without the facade's validation: the backend alone. */
    @Benchmark
    public Tensor forwardBackendOnly() {
        impl.forward(shape, params, src, filter, rin, rout, dst);
        return dst;
    }
}
