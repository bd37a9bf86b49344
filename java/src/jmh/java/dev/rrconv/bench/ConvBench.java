package dev.rrconv.bench;

import dev.rrconv.DType;
import dev.rrconv.RegionConv;
import dev.rrconv.cli.BenchProblem;
import dev.rrconv.cli.BenchShape;
import java.lang.foreign.Arena;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Every benchmark shape of issue 3 ({@link BenchShape}) x direction x backend: one call into a
 * preallocated output per operation, tensors allocated off-heap once per trial (the same problems as
 * {@code rrconv bench}). {@code -p backend=reference} times the C reference loop too (slow).
 *
 * <p>Warm-up and measurement are time-based (1 s iterations), so the slow combinations (the Java
 * backend on DW-K31, the reference loop) still complete at least one call per iteration. One fork by
 * default: 63 combinations; use {@code -f 3} for tighter error bars on a quiet machine.
 *
 * <p>Each trial first checks its own result against the other backend (native vs the java ones), so a broken
 * kernel does not produce a fast-looking number.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Benchmark)
// --add-modules: the java backend's Vector API loops (backend=java); java-scalar runs its scalar loops
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
    "--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ConvBench {
    /** A shape name of {@link BenchShape#ALL}. */
    @Param({"DW-K3", "DW-K7", "DW-K13", "DW-K31", "GRP", "DENSE", "DENSE-S2D2"})
    public String shape;

    /** forward, backward-data or backward-filter. */
    @Param({"forward", "backward-data", "backward-filter"})
    public String op;

    /** native, java (the Vector API loops), java-scalar (or reference, java-vector). */
    @Param({"native", "java", "java-scalar"})
    public String backend;

    /** Threads per call (both backends). */
    @Param({"1"})
    public int threads;

    /** random, blocky or superpixel region masks. */
    @Param({"random"})
    public String mask;

    private Arena arena;
    private Runnable call;

    /** Allocates the problem, checks one call against the other backend. */
    @Setup(Level.Trial)
    public void setUp() {
        RegionConv.setThreads(threads);
        arena = Arena.ofShared(); // JMH may run setup and the benchmark on different threads
        BenchShape s = BenchShape.named(shape);
        BenchProblem.Op o = BenchProblem.Op.parse(op);
        BenchProblem.Target t = BenchProblem.Target.parse(backend);
        BenchProblem.Masks m = BenchProblem.Masks.parse(mask);
        if (s == null || o == null || t == null || m == null) {
            throw new IllegalArgumentException("unknown parameter: shape=" + shape + " op=" + op + " backend=" + backend
                    + " mask=" + mask);
        }
        BenchProblem problem = new BenchProblem(s, m, DType.INT32, 1, arena);
        call = problem.call(o, t);
        call.run();
        float[] got = problem.output(o).toFloatArray();
        problem.call(o, t.isJava() ? BenchProblem.Target.NATIVE : BenchProblem.Target.JAVA).run();
        Check.close(shape + " " + op + " " + backend, got, problem.output(o).toFloatArray());
    }

    /** One call. */
    @Benchmark
    public void conv() {
        call.run();
    }

    /** Frees the tensors. */
    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }
}
