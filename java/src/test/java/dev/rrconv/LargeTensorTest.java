package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Tensors beyond 2^31 bytes, on both backends, all three directions: offsets past the 32-bit range must
 * be computed in 64 bits everywhere.
 *
 * <ul>
 * <li>{@link #stridedViewsSpanningMoreThan4GiB} (default run, cheap): small tensors whose strides put
 * their elements more than 4 GiB apart, over a sparse memory-mapped file (only the touched pages exist),
 * inputs and outputs; results checked exactly against a direct computation.</li>
 * <li>{@link #denseInputOver2GiB} (tag {@code large}, excluded by default): a dense float32 src of
 * 2,149,580,800 bytes (1 x 8 x 8192 x 8200), about 2.6 GB of native memory plus, for the Java backend,
 * as much again on the Java heap. Run it with
 * {@code mvn -B verify -Dgroups=large -DexcludedGroups=none -Dtest=LargeTensorTest
 * -Dsurefire.failIfNoSpecifiedTests=false -Drrconv.skipNativeChecks=true} (about 8 GB of RAM).
 * The data are small integers and sparse where sums are long, so every checked value is exact.</li>
 * </ul>
 */
class LargeTensorTest {
    static final long TWO_GIB = 1L << 31;

    /** Small integer values from an index (cheap, reproducible): -3..3. */
    static float value(long i, long salt) {
        long h = (i + salt) * 0x9E3779B97F4A7C15L;
        return (float) ((int) ((h >>> 40) % 7) - 3);
    }

    // ---- cheap: sparse mapped file, huge strides --------------------------------------------------

    @ParameterizedTest
    @EnumSource(Backend.class)
    void stridedViewsSpanningMoreThan4GiB(Backend backend, @TempDir Path dir) throws IOException {
        long nStride = (1L << 30) + 3; // elements between batch entries: 4 GiB + 12 bytes apart
        long fileBytes = 2 * nStride * 4 + (1L << 20);
        try (Arena arena = Arena.ofConfined()) {
            // inputs (src, rin) in one sparse file, outputs in another: an output must not overlap an input's span
            MemorySegment mem = sparse(dir.resolve("in.bin"), fileBytes, arena);
            MemorySegment outMem = sparse(dir.resolve("out.bin"), fileBytes, arena);
            RegionConv conv = RegionConv.of(backend);
            long n = 2;
            long c = 2;
            long h = 5;
            long w = 6;
            ConvParams p = ConvParams.DEFAULT.withPadding(1, 1);
            // src (2, 2, 5, 6): batch stride 2^30+3 elements, channels/rows/cols dense near each batch start
            long[] srcStrides = {nStride, h * w, w, 1};
            Tensor src = Tensor.ofStrided(mem, DType.FLOAT32, new long[] {n, c, h, w}, srcStrides);
            assertTrue(src.spanBytes() > 2 * TWO_GIB, "src spans " + src.spanBytes() + " bytes");
            // rin over the same file, after src's first batch block: (2, 5, 6) with the same batch stride
            long rinBase = 4L * 64;
            Tensor rin = Tensor.ofStrided(mem.asSlice(rinBase * 4), DType.INT32, new long[] {n, h, w},
                    new long[] {nStride, w, 1});
            Tensor filter = Tensor.allocate(arena, DType.FLOAT32, 1, 3, 2, 3, 3);
            Tensor rout = Tensor.allocate(arena, DType.INT32, n, h, w);
            for (long i = 0; i < src.elementCount(); i++) {
                long[] idx = unravel(i, src.shape());
                src.setFloat(value(i, 1), idx);
            }
            for (long i = 0; i < rin.elementCount(); i++) {
                long[] idx = unravel(i, rin.shape());
                rin.setInt((int) (i % 3 == 0 ? 1 : 0), idx);
                rout.setInt((int) (i % 4 == 0 ? 1 : 0), idx);
            }
            for (long i = 0; i < filter.elementCount(); i++) {
                filter.segment().setAtIndex(ValueLayout.JAVA_FLOAT, i, value(i, 2));
            }
            // the output: batch stride 2^30+3 elements too
            Tensor dst = Tensor.ofStrided(outMem, DType.FLOAT32, new long[] {n, 3, h, w},
                    new long[] {nStride, h * w, w, 1});
            conv.forward(src, filter, rin, rout, p, dst);
            long[] dstShape = {n, 3, h, w};
            for (long i = 0; i < dst.elementCount(); i++) {
                long[] o = unravel(i, dstShape);
                assertEquals(forwardAt(src, filter, rin, rout, o, 3, 3, 1), dst.getFloat(o), 0.0,
                        backend + " forward " + java.util.Arrays.toString(o));
            }
            // backward data into a strided grad src spanning > 4 GiB; diff = dst (dense copy)
            Tensor diff = Tensor.allocate(arena, DType.FLOAT32, dstShape);
            diff.copyFrom(dst);
            Tensor gradSrc = Tensor.ofStrided(outMem.asSlice(4L * 2048), DType.FLOAT32, new long[] {n, c, h, w},
                    srcStrides);
            conv.backwardData(filter, diff, rin, rout, p, gradSrc);
            for (long i = 0; i < gradSrc.elementCount(); i++) {
                long[] s = unravel(i, src.shape());
                assertEquals(backwardDataAt(filter, diff, rin, rout, s, 3, 3, 1), gradSrc.getFloat(s), 0.0,
                        backend + " backward data " + java.util.Arrays.toString(s));
            }
            // backward filter reading the strided src
            Tensor gf = conv.backwardFilter(src, diff, rin, rout, p, 3, 3, arena);
            for (long i = 0; i < gf.elementCount(); i++) {
                long[] f = unravel(i, gf.shape());
                assertEquals(backwardFilterAt(src, diff, rin, rout, f, 1), gf.getFloat(f), 0.0,
                        backend + " backward filter " + java.util.Arrays.toString(f));
            }
        }
    }

    /** A sparse file of the given size mapped read-write (the test is skipped where that is impossible). */
    static MemorySegment sparse(Path file, long bytes, Arena arena) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE, StandardOpenOption.SPARSE)) {
            return ch.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
        } catch (IOException | UnsupportedOperationException e) {
            Assumptions.abort("cannot map a sparse " + bytes + "-byte file: " + e);
            throw e;
        }
    }

    // ---- heavy: a dense 2 GiB+ input -----------------------------------------------------------

    @Tag("large")
    @ParameterizedTest
    @EnumSource(Backend.class)
    void denseInputOver2GiB(Backend backend) {
        long n = 1;
        long c = 8;
        long h = 8192;
        long w = 8200;
        RegionConv conv = RegionConv.of(backend);
        ConvParams p = ConvParams.DEFAULT.withPadding(1, 1);
        long t0 = System.nanoTime();
        try (Arena arena = Arena.ofShared()) {
            Tensor src = Tensor.allocate(arena, DType.FLOAT32, n, c, h, w);
            assertTrue(src.segment().byteSize() > TWO_GIB, "src has " + src.segment().byteSize() + " bytes");
            MemorySegment s = src.segment();
            for (long i = 0; i < src.elementCount(); i++) {
                s.setAtIndex(ValueLayout.JAVA_FLOAT, i, value(i, 11));
            }
            Tensor filter = Tensor.allocate(arena, DType.FLOAT32, 1, 1, c, 3, 3);
            for (long i = 0; i < filter.elementCount(); i++) {
                filter.segment().setAtIndex(ValueLayout.JAVA_FLOAT, i, value(i, 12));
            }
            Tensor rin = Tensor.allocate(arena, DType.UINT8, n, h, w);
            Tensor rout = Tensor.allocate(arena, DType.UINT8, n, h, w);
            for (long i = 0; i < rin.elementCount(); i++) {
                rin.segment().set(ValueLayout.JAVA_BYTE, i, (byte) ((i / 5 + i / (3 * w)) % 2));
                rout.segment().set(ValueLayout.JAVA_BYTE, i, (byte) ((i / 7) % 2));
            }
            // forward: every output is a sum of at most 72 small integers, exact in float
            Tensor dst = conv.forward(src, filter, rin, rout, p, arena);
            Random r = new Random(5);
            long[] dshape = dst.shape();
            for (int k = 0; k < 400; k++) {
                long[] o = k < 8 ? corner(k, dshape) : new long[] {0, 0, r.nextLong(h), r.nextLong(w)};
                assertEquals(forwardAt(src, filter, rin, rout, o, 3, 3, 1), dst.getFloat(o), 0.0,
                        backend + " forward " + java.util.Arrays.toString(o));
            }
            // backward data: a sparse diff (integers) -> grad src of 2 GiB+, exact
            Tensor diff = Tensor.allocate(arena, DType.FLOAT32, dshape);
            long[][] hot = new long[2000][];
            for (int k = 0; k < hot.length; k++) {
                hot[k] = k < 8 ? corner(k, dshape) : new long[] {0, 0, r.nextLong(h), r.nextLong(w)};
                diff.setFloat(1 + r.nextInt(3), hot[k]);
            }
            Tensor gradSrc = conv.backwardData(filter, diff, rin, rout, p, arena);
            assertTrue(gradSrc.segment().byteSize() > TWO_GIB);
            for (int k = 0; k < 400; k++) {
                long[] at = hot[k];
                long[] sidx = {0, k % c, Math.max(0, Math.min(h - 1, at[2] + (k % 3) - 1)), Math.min(w - 1, Math.max(0, at[3] - 1))};
                assertEquals(backwardDataAt(filter, diff, rin, rout, sidx, 3, 3, 1), gradSrc.getFloat(sidx), 0.0,
                        backend + " backward data " + java.util.Arrays.toString(sidx));
            }
            assertEquals(backwardDataAt(filter, diff, rin, rout, new long[] {0, c - 1, h - 1, w - 1}, 3, 3, 1),
                    gradSrc.getFloat(0, c - 1, h - 1, w - 1), 0.0, backend + " last grad src element");
            // backward filter over the 2 GiB+ src with the sparse diff: every element exact
            Tensor gf = conv.backwardFilter(src, diff, rin, rout, p, 3, 3, arena);
            for (long i = 0; i < gf.elementCount(); i++) {
                long[] f = unravel(i, gf.shape());
                assertEquals(backwardFilterSparse(src, diff, rin, rout, hot, f, 1), gf.getFloat(f), 0.0,
                        backend + " backward filter " + java.util.Arrays.toString(f));
            }
        }
        System.out.printf("LargeTensorTest %s: dense 1x8x8192x8200 float32 src (2,149,580,800 bytes), three "
                + "directions spot-checked exactly, %.1f s%n", backend, (System.nanoTime() - t0) / 1e9);
    }

    static long[] corner(int k, long[] shape) {
        return new long[] {shape[0] - 1, shape[1] - 1, (k & 1) == 0 ? 0 : shape[2] - 1,
            (k & 2) == 0 ? 0 : shape[3] - 1 - (k >> 2)};
    }

    static long[] unravel(long i, long[] shape) {
        long[] idx = new long[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            idx[d] = i % shape[d];
            i /= shape[d];
        }
        return idx;
    }

    // ---- direct computations (cross-correlation, stride 1, dilation 1, one group) ----------------

    /** dst[n, oc, oh, ow] for a 5-D filter (1, OC, IC, FH, FW). */
    static float forwardAt(Tensor src, Tensor filter, Tensor rin, Tensor rout, long[] o, long fh, long fw, long pad) {
        long ic = src.dim(1);
        long ih = src.dim(2);
        long iw = src.dim(3);
        int region = rout.getInt(o[0], o[2], o[3]);
        double sum = 0;
        for (long ci = 0; ci < ic; ci++) {
            for (long kh = 0; kh < fh; kh++) {
                for (long kw = 0; kw < fw; kw++) {
                    long y = o[2] - pad + kh;
                    long x = o[3] - pad + kw;
                    if (y < 0 || y >= ih || x < 0 || x >= iw || rin.getInt(o[0], y, x) != region) {
                        continue;
                    }
                    sum += (double) src.getFloat(o[0], ci, y, x) * filter.getFloat(0, o[1], ci, kh, kw);
                }
            }
        }
        return (float) sum;
    }

    /** grad_src[n, ic, y, x] = sum over oc, kh, kw of diff[n, oc, y+pad-kh, x+pad-kw] * filter[0, oc, ic, kh, kw]. */
    static float backwardDataAt(Tensor filter, Tensor diff, Tensor rin, Tensor rout, long[] s, long fh, long fw,
                                long pad) {
        long oc = diff.dim(1);
        long oh = diff.dim(2);
        long ow = diff.dim(3);
        int region = rin.getInt(s[0], s[2], s[3]);
        double sum = 0;
        for (long co = 0; co < oc; co++) {
            for (long kh = 0; kh < fh; kh++) {
                for (long kw = 0; kw < fw; kw++) {
                    long y = s[2] + pad - kh;
                    long x = s[3] + pad - kw;
                    if (y < 0 || y >= oh || x < 0 || x >= ow || rout.getInt(s[0], y, x) != region) {
                        continue;
                    }
                    sum += (double) diff.getFloat(s[0], co, y, x) * filter.getFloat(0, co, s[1], kh, kw);
                }
            }
        }
        return (float) sum;
    }

    /** grad_filter[0, oc, ic, kh, kw] summed over every output pixel. */
    static float backwardFilterAt(Tensor src, Tensor diff, Tensor rin, Tensor rout, long[] f, long pad) {
        double sum = 0;
        for (long n = 0; n < diff.dim(0); n++) {
            for (long y = 0; y < diff.dim(2); y++) {
                for (long x = 0; x < diff.dim(3); x++) {
                    sum += filterTerm(src, diff, rin, rout, f, pad, n, y, x);
                }
            }
        }
        return (float) sum;
    }

    /** As backwardFilterAt, over the pixels where diff is non-zero (every other term is 0). */
    static float backwardFilterSparse(Tensor src, Tensor diff, Tensor rin, Tensor rout, long[][] hot, long[] f,
                                      long pad) {
        java.util.Set<Long> seen = new java.util.HashSet<>();
        double sum = 0;
        for (long[] at : hot) {
            if (seen.add(at[2] * diff.dim(3) + at[3])) {
                sum += filterTerm(src, diff, rin, rout, f, pad, at[0], at[2], at[3]);
            }
        }
        return (float) sum;
    }

    static double filterTerm(Tensor src, Tensor diff, Tensor rin, Tensor rout, long[] f, long pad, long n, long y,
                             long x) {
        long sy = y - pad + f[3];
        long sx = x - pad + f[4];
        if (sy < 0 || sy >= src.dim(2) || sx < 0 || sx >= src.dim(3)
                || rin.getInt(n, sy, sx) != rout.getInt(n, y, x)) {
            return 0;
        }
        return (double) src.getFloat(n, f[2], sy, sx) * diff.getFloat(n, f[1], y, x);
    }

    /** The default run must not silently lose the cheap test: it needs no tag. */
    @Test
    void valueHelperIsSmallIntegers() {
        for (long i = 0; i < 1000; i++) {
            float v = value(i, 3);
            assertTrue(v >= -3 && v <= 3 && v == Math.rint(v));
        }
    }
}
