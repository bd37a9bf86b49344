package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Seeded random malformed calls through the public API, on both backends: each call starts from a
 * random valid problem (random sizes, groups, stride, padding, dilation, mode, mask dtype, 4-D or 5-D
 * filter, output given or allocated in an arena) and breaks exactly one thing, drawn from the list of
 * {@link Kind}s: ranks, dtypes (int32/uint8 masks mixed), every shape relation (batch, channels vs groups,
 * spatial sizes, mask vs image), zero sizes, bad hyper-parameters, an empty output, problems and strides
 * whose sizes overflow 64-bit arithmetic, segments too small, negative strides, misaligned segments,
 * read-only outputs, outputs aliasing an input, overlapping output strides, closed arenas, another
 * thread's confined arena, nulls. Each call must throw the expected exception type with a message naming
 * the broken tensor or argument (and, for shapes, the actual shape), and leave every byte of every tensor
 * it was given untouched.
 *
 * <p>By default {@value #DEFAULT_CALLS} malformed calls per backend and run. A longer run:
 * {@code mvn -B verify -Dtest=BadInputTest -Dsurefire.failIfNoSpecifiedTests=false -Drrconv.badInputs=100000}
 * ({@code rrconv.badInputs} is the count per backend; {@code -Drrconv.badInputs.seed=N} picks another seed;
 * a failure message names the seed and the call number, which reproduce it).
 */
class BadInputTest {
    static final int DEFAULT_CALLS = 10_000;

    /** What a malformed call breaks. */
    enum Kind {
        RANK, DTYPE, MASK_DTYPES_MIXED, BATCH, CHANNELS, FILTER_GROUPS, SPATIAL, OUTPUT_SHAPE, ZERO_SIZE,
        BAD_PARAMS, EMPTY_OUTPUT, TOO_LARGE, STRIDE_OVERFLOW, SEGMENT_TOO_SMALL, NEGATIVE_STRIDE, MISALIGNED,
        READ_ONLY_OUTPUT, OUTPUT_ALIASES_INPUT, OVERLAPPING_OUTPUT, CLOSED_ARENA, OTHER_THREAD, NULL_ARGUMENT,
        KERNEL_SIZE
    }

    /** One direction, the tensors it takes, and how the result is delivered. */
    static final class Call {
        final int dir; // 0 forward, 1 backward data, 2 backward filter
        boolean intoTensor; // the output-tensor method (else the arena-returning one)
        Tensor a; // forward: src, filter; backward data: filter, diff; backward filter: src, diff
        Tensor b;
        Tensor rin;
        Tensor rout;
        Tensor out; // null: the arena-returning method
        Arena resultArena;
        ConvParams params;
        long fh;
        long fw;

        Call(int dir) {
            this.dir = dir;
        }

        String aName() {
            return dir == 1 ? "filter" : "src";
        }

        String bName() {
            return dir == 0 ? "filter" : "diff";
        }

        String outName() {
            return switch (dir) {
                case 0 -> "dst";
                case 1 -> "gradSrc";
                default -> "gradFilter";
            };
        }

        void run(RegionConv c) {
            switch (dir) {
                case 0 -> {
                    if (!intoTensor) {
                        c.forward(a, b, rin, rout, params, resultArena);
                    } else {
                        c.forward(a, b, rin, rout, params, out);
                    }
                }
                case 1 -> {
                    if (!intoTensor) {
                        c.backwardData(a, b, rin, rout, params, resultArena);
                    } else {
                        c.backwardData(a, b, rin, rout, params, out);
                    }
                }
                default -> {
                    if (!intoTensor) {
                        c.backwardFilter(a, b, rin, rout, params, fh, fw, resultArena);
                    } else {
                        c.backwardFilter(a, b, rin, rout, params, out);
                    }
                }
            }
        }

        Tensor[] tensors() {
            return new Tensor[] {a, b, rin, rout, out};
        }
    }

    /** The expected failure: exception type and message fragments. */
    record Expect(Class<? extends Throwable> type, String... fragments) {}

    /** A random valid problem, with its tensors allocated in one arena. */
    static final class Problem {
        final long n;
        final long g;
        final long icpg;
        final long ocpg;
        final long ih;
        final long iw;
        final long fh;
        final long fw;
        final long oh;
        final long ow;
        final ConvParams p;
        final DType mask;
        final boolean filter4;

        Problem(Random r) {
            n = 1 + r.nextInt(2);
            g = 1 + r.nextInt(3);
            icpg = 1 + r.nextInt(3);
            ocpg = 1 + r.nextInt(3);
            fh = 1 + r.nextInt(3);
            fw = 1 + r.nextInt(3);
            int sh = 1 + r.nextInt(2);
            int sw = 1 + r.nextInt(2);
            int ph = r.nextInt(2);
            int pw = r.nextInt(2);
            int dh = 1 + r.nextInt(2);
            int dw = 1 + r.nextInt(2);
            ih = Math.max(1, dh * (fh - 1) + 1 - 2 * ph) + r.nextInt(4);
            iw = Math.max(1, dw * (fw - 1) + 1 - 2 * pw) + r.nextInt(4);
            p = new ConvParams(sh, sw, ph, pw, dh, dw, (int) g, r.nextBoolean() ? Mode.CROSS_CORRELATION : Mode.CONVOLUTION);
            oh = ConvParams.outputSize(ih, fh, ph, dh, sh);
            ow = ConvParams.outputSize(iw, fw, pw, dw, sw);
            mask = r.nextBoolean() ? DType.INT32 : DType.UINT8;
            filter4 = r.nextInt(3) == 0;
        }

        long[] src() {
            return new long[] {n, g * icpg, ih, iw};
        }

        long[] dst() {
            return new long[] {n, g * ocpg, oh, ow};
        }

        long[] filter() {
            return filter4 ? new long[] {g * ocpg, icpg, fh, fw} : new long[] {g, ocpg, icpg, fh, fw};
        }

        long[] rin() {
            return new long[] {n, ih, iw};
        }

        long[] rout() {
            return new long[] {n, oh, ow};
        }

        long[] shapeOf(int dir, int slot) {
            return switch (slot) {
                case 0 -> dir == 1 ? filter() : src();
                case 1 -> dir == 0 ? filter() : dst();
                case 2 -> rin();
                case 3 -> rout();
                default -> dir == 0 ? dst() : dir == 1 ? src() : filter();
            };
        }
    }

    static Tensor alloc(Arena arena, DType t, long[] shape, Random r) {
        Tensor x = Tensor.allocate(arena, t, shape);
        byte[] noise = new byte[(int) x.segment().byteSize()];
        r.nextBytes(noise);
        MemorySegment.copy(noise, 0, x.segment(), ValueLayout.JAVA_BYTE, 0, noise.length);
        return x;
    }

    /** The valid call the malformed one is made from. */
    static Call valid(Problem pr, int dir, boolean intoTensor, Arena arena, Random r) {
        Call c = new Call(dir);
        c.a = alloc(arena, DType.FLOAT32, pr.shapeOf(dir, 0), r);
        c.b = alloc(arena, DType.FLOAT32, pr.shapeOf(dir, 1), r);
        c.rin = alloc(arena, pr.mask, pr.rin(), r);
        c.rout = alloc(arena, pr.mask, pr.rout(), r);
        c.intoTensor = intoTensor;
        c.out = intoTensor ? alloc(arena, DType.FLOAT32, pr.shapeOf(dir, 4), r) : null;
        c.resultArena = arena;
        c.params = pr.p;
        c.fh = pr.fh;
        c.fw = pr.fw;
        return c;
    }

    static Tensor get(Call c, int slot) {
        return switch (slot) {
            case 0 -> c.a;
            case 1 -> c.b;
            case 2 -> c.rin;
            case 3 -> c.rout;
            default -> c.out;
        };
    }

    static void set(Call c, int slot, Tensor t) {
        switch (slot) {
            case 0 -> c.a = t;
            case 1 -> c.b = t;
            case 2 -> c.rin = t;
            case 3 -> c.rout = t;
            default -> c.out = t;
        }
    }

    static String name(Call c, int slot) {
        return switch (slot) {
            case 0 -> c.aName();
            case 1 -> c.bName();
            case 2 -> "rin";
            case 3 -> "rout";
            default -> c.outName();
        };
    }

    /** A random tensor slot that exists in this call (the output only when one is given). */
    static int slot(Call c, Random r) {
        return c.intoTensor ? r.nextInt(5) : r.nextInt(4);
    }

    /** A tensor shaped like {@code t} but with another shape (same dtype, fresh memory). */
    static Tensor reshaped(Tensor t, long[] shape, Arena arena) {
        return Tensor.allocate(arena, t.dtype(), shape);
    }

    static String str(long[] s) {
        return Arrays.toString(s);
    }

    /**
     * Breaks one thing of a valid call; returns what must be thrown, or null if the kind does not apply
     * to this call (another kind is drawn).
     */
    static Expect mutate(Kind kind, Call c, Problem pr, Arena arena, Random r) {
        switch (kind) {
            case RANK -> {
                int s = slot(c, r);
                Tensor t = get(c, s);
                long[] shape = t.shape();
                long[] other = r.nextBoolean() ? Arrays.copyOf(shape, shape.length - 1)
                        : Arrays.copyOf(shape, shape.length + 1);
                if (other.length > shape.length) {
                    other[other.length - 1] = 1;
                }
                if (isFilter(c, s) && (other.length == 4 || other.length == 5)) {
                    return null; // both filter ranks are legal
                }
                set(c, s, reshaped(t, other, arena));
                return new Expect(IllegalArgumentException.class, name(c, s), str(other));
            }
            case DTYPE -> {
                int s = slot(c, r);
                Tensor t = get(c, s);
                if (s == 2 || s == 3) { // both masks float32 (one of them: MASK_DTYPES_MIXED)
                    c.rin = Tensor.allocate(arena, DType.FLOAT32, c.rin.shape());
                    c.rout = Tensor.allocate(arena, DType.FLOAT32, c.rout.shape());
                    return new Expect(IllegalArgumentException.class, "rin", "float32");
                }
                DType d = r.nextBoolean() ? DType.INT32 : DType.UINT8;
                set(c, s, Tensor.allocate(arena, d, t.shape()));
                return new Expect(IllegalArgumentException.class, name(c, s), d.toString());
            }
            case MASK_DTYPES_MIXED -> {
                DType other = pr.mask == DType.INT32 ? DType.UINT8 : DType.INT32;
                if (r.nextBoolean()) {
                    c.rout = Tensor.allocate(arena, other, c.rout.shape());
                } else {
                    c.rin = Tensor.allocate(arena, other, c.rin.shape());
                }
                return new Expect(IllegalArgumentException.class, "rin and rout must have the same dtype", "int32",
                        "uint8");
            }
            case BATCH -> {
                // a mask or the second input (diff in backward directions) or the output with another batch
                int[] slots = c.dir == 0 ? new int[] {2, 3, 4} : new int[] {1, 2, 3, 4};
                int s = slots[r.nextInt(slots.length)];
                if (s == 4 && (!c.intoTensor || c.dir == 2)) {
                    return null;
                }
                long[] shape = get(c, s).shape();
                shape[0] += 1 + r.nextInt(2);
                set(c, s, reshaped(get(c, s), shape, arena));
                if (c.dir == 1 && s == 1) {
                    // backward data takes N from diff: the mismatch is reported against rin
                    return new Expect(IllegalArgumentException.class, "rin", "must have shape");
                }
                return new Expect(IllegalArgumentException.class, name(c, s), str(shape));
            }
            case CHANNELS -> {
                if (c.dir == 1) { // diff channels vs the filter's OC
                    long[] shape = c.b.shape();
                    shape[1] += 1;
                    c.b = reshaped(c.b, shape, arena);
                    return new Expect(IllegalArgumentException.class, "diff", str(shape));
                }
                long[] shape = c.a.shape(); // src channels: not groups*icpg (forward) / not a multiple of groups
                if (c.dir == 2 && pr.g == 1) {
                    shape = c.b.shape(); // diff channels != groups*ocpg is only detectable via the output
                    if (!c.intoTensor) {
                        return null;
                    }
                    shape[1] += 1;
                    c.b = reshaped(c.b, shape, arena);
                    return new Expect(IllegalArgumentException.class, "gradFilter");
                }
                shape[1] += 1;
                c.a = reshaped(c.a, shape, arena);
                return new Expect(IllegalArgumentException.class, "src", "channels", str(shape));
            }
            case FILTER_GROUPS -> {
                if (c.dir == 2) {
                    return null;
                }
                Tensor f = c.dir == 0 ? c.b : c.a;
                long[] shape = f.shape();
                if (shape.length == 5) {
                    shape[0] += 1; // G != groups
                } else if (pr.g > 1) {
                    shape[0] += 1; // OC not a multiple of groups
                } else {
                    return null;
                }
                Tensor nf = reshaped(f, shape, arena);
                if (c.dir == 0) {
                    c.b = nf;
                } else {
                    c.a = nf;
                }
                return new Expect(IllegalArgumentException.class, "filter", str(shape), "groups");
            }
            case SPATIAL -> {
                // a mask, diff or the output with one spatial size off by one or two
                int s = 1 + r.nextInt(4);
                if (s == 1 && c.dir == 0) {
                    return null;
                }
                if (s == 4 && (!c.intoTensor || c.dir == 2)) {
                    return null; // a gradFilter's spatial size is the kernel size: another problem, not a mismatch
                }
                if (c.dir == 1 && s == 2) {
                    return null; // rin defines the image size of backward data
                }
                Tensor t = get(c, s);
                long[] shape = t.shape();
                int axis = s == 2 || s == 3 ? 1 + r.nextInt(2) : shape.length - 1 - r.nextInt(2);
                shape[axis] += r.nextBoolean() || shape[axis] == 1 ? 1 + r.nextInt(2) : -1;
                set(c, s, reshaped(t, shape, arena));
                return new Expect(IllegalArgumentException.class, name(c, s), str(shape));
            }
            case OUTPUT_SHAPE -> {
                if (!c.intoTensor) {
                    return null;
                }
                long[] shape = c.out.shape();
                shape[r.nextInt(c.dir == 2 ? shape.length - 2 : shape.length)] += 1; // not a gradFilter's FH, FW
                c.out = reshaped(c.out, shape, arena);
                return new Expect(IllegalArgumentException.class, c.outName(), str(shape));
            }
            case ZERO_SIZE -> {
                int s = slot(c, r);
                long[] shape = get(c, s).shape();
                shape[r.nextInt(shape.length)] = 0;
                set(c, s, reshaped(get(c, s), shape, arena));
                return new Expect(IllegalArgumentException.class, str(shape));
            }
            case BAD_PARAMS -> {
                int v = r.nextBoolean() ? 0 : -1 - r.nextInt(1000);
                return switch (r.nextInt(4)) {
                    case 0 -> expectCtor(() -> new ConvParams(v, 1, 0, 0, 1, 1, 1, Mode.CROSS_CORRELATION), "stride");
                    case 1 -> expectCtor(() -> new ConvParams(1, 1, 0, 0, 1, v, 1, Mode.CROSS_CORRELATION), "dilation");
                    case 2 -> expectCtor(() -> new ConvParams(1, 1, v < 0 ? v : -1, 0, 1, 1, 1, Mode.CONVOLUTION),
                            "padding");
                    default -> expectCtor(() -> c.params.withGroups(v), "groups");
                };
            }
            case EMPTY_OUTPUT -> {
                // a dilation so large that the dilated filter exceeds the padded input
                if (pr.fh == 1 && pr.fw == 1) {
                    return null; // a 1-tap filter always fits
                }
                int d = 1 + (int) (pr.ih + pr.iw) + 2 * Math.max(c.params.padH(), c.params.padW()) + r.nextInt(1000);
                c.params = c.params.withDilation(d, d);
                return new Expect(IllegalArgumentException.class, "empty");
            }
            case TOO_LARGE -> {
                // zero strides: a huge tensor over a few bytes; the problem's element counts exceed 2^60
                long[] shape = c.a.shape();
                if (c.dir == 1) { // rin gives the image size: src would have n*ic*2^61 elements
                    shape = c.rin.shape();
                    shape[1] = 1L << 31;
                    shape[2] = 1L << 30;
                    c.rin = Tensor.ofStrided(c.rin.segment(), c.rin.dtype(), shape, new long[3]);
                    return new Expect(IllegalArgumentException.class, "too large");
                }
                // n*ic*h*w in (2^60, 2^61]: a valid tensor (its count fits in a long), too large a problem
                int k = 64 - Long.numberOfLeadingZeros(shape[0] * shape[1] - 1); // 2^k >= n*ic
                shape[2] = 1L << 31;
                shape[3] = 1L << (30 - k);
                c.a = Tensor.ofStrided(c.a.segment(), DType.FLOAT32, shape, new long[4]);
                return new Expect(IllegalArgumentException.class, "too large");
            }
            case STRIDE_OVERFLOW -> {
                int s = slot(c, r);
                Tensor t = get(c, s);
                long[] st = t.strides();
                long[] shape = t.shape();
                int axis = -1;
                for (int i = 0; i < shape.length; i++) {
                    if (shape[i] > 1) {
                        axis = i;
                    }
                }
                if (axis < 0) {
                    return null;
                }
                st[axis] = Long.MAX_VALUE / (1 + r.nextInt(t.dtype().byteSize())); // (offset + 1) * size overflows
                MemorySegment seg = t.segment();
                return expectCtor(() -> Tensor.ofStrided(seg, t.dtype(), shape, st), "overflow");
            }
            case SEGMENT_TOO_SMALL -> {
                int s = slot(c, r);
                Tensor t = get(c, s);
                long need = t.spanBytes();
                long have = Math.max(0, need - 1 - r.nextInt((int) Math.min(need, 16)));
                MemorySegment seg = t.segment().asSlice(0, have);
                return expectCtor(() -> Tensor.of(seg, t.dtype(), t.shape()), "too small", String.valueOf(have));
            }
            case NEGATIVE_STRIDE -> {
                int s = slot(c, r);
                Tensor t = get(c, s);
                long[] st = t.strides();
                st[r.nextInt(st.length)] = -1 - r.nextInt(5);
                return expectCtor(() -> Tensor.ofStrided(t.segment(), t.dtype(), t.shape(), st), "negative");
            }
            case MISALIGNED -> {
                int s = slot(c, r);
                Tensor t = get(c, s);
                if (t.dtype() == DType.UINT8) {
                    return null;
                }
                int off = 1 + r.nextInt(3);
                MemorySegment seg = arena.allocate(t.spanBytes() + 8, 8).asSlice(off, t.spanBytes());
                // rejected when the tensor is built, before any call
                return expectCtor(() -> Tensor.of(seg, t.dtype(), t.shape()), "not aligned",
                        t.dtype().byteSize() + " bytes", t.dtype().toString());
            }
            case READ_ONLY_OUTPUT -> {
                if (!c.intoTensor) {
                    return null;
                }
                c.out = Tensor.of(c.out.segment().asReadOnly(), DType.FLOAT32, c.out.shape());
                return new Expect(IllegalArgumentException.class, c.outName(), "read-only");
            }
            case OUTPUT_ALIASES_INPUT -> {
                if (!c.intoTensor) {
                    return null;
                }
                int s = r.nextInt(4);
                Tensor in = get(c, s);
                // one buffer holding the input and the output, the output starting inside the input's span
                long inBytes = in.spanBytes();
                long outBytes = c.out.spanBytes();
                long start = (r.nextLong(inBytes) / 4) * 4;
                MemorySegment both = arena.allocate(Math.max(inBytes, start + outBytes), 64);
                MemorySegment.copy(in.segment(), 0, both, 0, inBytes);
                set(c, s, Tensor.of(both, in.dtype(), in.shape()));
                c.out = Tensor.of(both.asSlice(start, outBytes), DType.FLOAT32, c.out.shape());
                return new Expect(IllegalArgumentException.class, c.outName(), "overlaps", in.dtype().toString());
            }
            case OVERLAPPING_OUTPUT -> {
                if (!c.intoTensor) {
                    return null;
                }
                long[] shape = c.out.shape();
                long[] st = c.out.strides();
                List<Integer> big = new ArrayList<>();
                for (int i = 0; i < shape.length; i++) {
                    if (shape[i] > 1) {
                        big.add(i);
                    }
                }
                if (big.isEmpty()) {
                    return null;
                }
                int axis = big.get(r.nextInt(big.size()));
                int other = big.get(r.nextInt(big.size()));
                if (other == axis || r.nextBoolean()) {
                    st[axis] = 0;
                } else { // two dimensions with one stride (the smaller one: the span only shrinks)
                    long m = Math.min(st[axis], st[other]);
                    st[axis] = m;
                    st[other] = m;
                }
                c.out = Tensor.ofStrided(c.out.segment(), DType.FLOAT32, shape, st);
                return new Expect(IllegalArgumentException.class, c.outName(), "overlapping", str(st));
            }
            case CLOSED_ARENA -> {
                Arena other = Arena.ofConfined();
                if (!c.intoTensor && r.nextInt(3) == 0) {
                    c.resultArena = other;
                    other.close();
                    return new Expect(IllegalStateException.class);
                }
                int s = slot(c, r);
                Tensor t = get(c, s);
                Tensor moved = Tensor.allocate(other, t.dtype(), t.shape());
                other.close();
                set(c, s, moved);
                return new Expect(IllegalStateException.class, name(c, s), "closed");
            }
            case OTHER_THREAD -> {
                int s = slot(c, r);
                Tensor t = get(c, s);
                AtomicReference<Tensor> ref = new AtomicReference<>();
                Thread th = new Thread(() -> ref.set(Tensor.allocate(Arena.ofConfined(), t.dtype(), t.shape())));
                th.start();
                try {
                    th.join();
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
                // a confined arena of a finished thread cannot be closed: its (small) memory stays allocated
                set(c, s, ref.get());
                return new Expect(IllegalStateException.class, name(c, s), "thread");
            }
            case NULL_ARGUMENT -> {
                int s = r.nextInt(7);
                if (s == 5) {
                    c.params = null;
                    return new Expect(NullPointerException.class, "params");
                }
                if (s == 6) {
                    if (c.intoTensor) {
                        return null;
                    }
                    c.resultArena = null;
                    return new Expect(NullPointerException.class, "arena");
                }
                if (s == 4 && !c.intoTensor) {
                    return null;
                }
                set(c, s, null);
                return new Expect(NullPointerException.class, name(c, s));
            }
            case KERNEL_SIZE -> {
                if (c.dir != 2 || c.intoTensor) {
                    return null;
                }
                if (r.nextBoolean()) {
                    c.fh = -r.nextInt(3);
                } else {
                    c.fw = -r.nextInt(3);
                }
                return new Expect(IllegalArgumentException.class, "kernel size");
            }
        }
        throw new AssertionError(kind);
    }

    static boolean isFilter(Call c, int slot) {
        return (c.dir == 0 && slot == 1) || (c.dir == 1 && slot == 0) || (c.dir == 2 && slot == 4);
    }

    /** For breakages the API refuses to even build (a tensor or parameter): the constructor must throw. */
    static Expect expectCtor(Runnable build, String fragment, String... more) {
        IllegalArgumentException e = null;
        try {
            build.run();
        } catch (IllegalArgumentException x) {
            e = x;
        }
        if (e == null) {
            fail("building a malformed tensor/parameter did not throw (" + fragment + ")");
        }
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' lacks '" + fragment + "'");
        for (String m : more) {
            assertTrue(e.getMessage().contains(m), "message '" + e.getMessage() + "' lacks '" + m + "'");
        }
        return CONSTRUCTION_REJECTED;
    }

    static final Expect CONSTRUCTION_REJECTED = new Expect(null);

    static byte[] bytes(Tensor t) {
        if (t == null || !t.segment().scope().isAlive() || !t.segment().isAccessibleBy(Thread.currentThread())) {
            return null;
        }
        return t.segment().asSlice(0, t.spanBytes()).toArray(ValueLayout.JAVA_BYTE);
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void randomMalformedCallsAreRejectedAndWriteNothing(Backend backend) {
        int calls = Integer.getInteger("rrconv.badInputs", DEFAULT_CALLS);
        long seed = Long.getLong("rrconv.badInputs.seed", 0x5EEDBAD1L) + backend.ordinal();
        RegionConv conv = RegionConv.of(backend);
        Kind[] kinds = Kind.values();
        int[] perKind = new int[kinds.length];
        int callsMade = 0;
        int constructionsRejected = 0;
        for (int i = 0; i < calls; i++) {
            Random r = new Random(seed * 1_000_003L + i);
            String where = backend + " seed " + seed + " call " + i;
            try (Arena arena = Arena.ofConfined()) {
                Problem pr = new Problem(r);
                int dir = r.nextInt(3);
                Call c = valid(pr, dir, r.nextInt(4) != 0, arena, r);
                Kind kind;
                Expect expect;
                do {
                    kind = kinds[r.nextInt(kinds.length)];
                    expect = mutate(kind, c, pr, arena, r);
                } while (expect == null);
                perKind[kind.ordinal()]++;
                if (expect == CONSTRUCTION_REJECTED) {
                    constructionsRejected++;
                    continue;
                }
                Tensor[] ts = c.tensors();
                byte[][] before = new byte[ts.length][];
                for (int k = 0; k < ts.length; k++) {
                    before[k] = bytes(ts[k]);
                }
                Throwable thrown = null;
                try {
                    c.run(conv);
                } catch (Throwable t) {
                    thrown = t;
                }
                callsMade++;
                String ctx = where + " " + kind + " dir " + dir;
                if (thrown == null) {
                    fail(ctx + ": accepted a malformed call (expected " + expect.type().getSimpleName() + " "
                            + Arrays.toString(expect.fragments()) + ")");
                }
                if (!expect.type().isInstance(thrown)) {
                    throw new AssertionError(ctx + ": expected " + expect.type().getSimpleName() + " but got "
                            + thrown, thrown);
                }
                String m = String.valueOf(thrown.getMessage());
                for (String f : expect.fragments()) {
                    assertTrue(m.contains(f), ctx + ": message '" + m + "' lacks '" + f + "'");
                }
                for (int k = 0; k < ts.length; k++) {
                    if (before[k] != null) {
                        assertArrayEquals(before[k], bytes(ts[k]), ctx + ": tensor " + k + " was modified");
                    }
                }
            }
        }
        int total = callsMade + constructionsRejected;
        assertEquals(calls, total);
        for (int k = 0; k < kinds.length; k++) {
            assertTrue(perKind[k] > 0 || calls < 1000, "kind " + kinds[k] + " never drawn");
        }
        System.out.printf("BadInputTest %s: %d malformed calls rejected (%d reached the API, %d refused at "
                + "construction); per kind %s%n", backend, total, callsMade, constructionsRejected, perKindString(kinds, perKind));
    }

    /** Input layouts for the valid twin (every one the API takes). */
    static final TestTensors.Layout[] INPUT_LAYOUTS = {TestTensors.Layout.HEAP_DENSE, TestTensors.Layout.OFFHEAP_DENSE,
        TestTensors.Layout.HEAP_PERMUTED, TestTensors.Layout.OFFHEAP_PERMUTED, TestTensors.Layout.HEAP_STRIDED,
        TestTensors.Layout.OFFHEAP_STRIDED, TestTensors.Layout.HEAP_UNALIGNED, TestTensors.Layout.OFFHEAP_READONLY,
        TestTensors.Layout.BROADCAST0};

    /** Output layouts (no broadcast, no read-only; ARENA = the arena-returning method). */
    static final TestTensors.Layout[] OUTPUT_LAYOUTS = {TestTensors.Layout.HEAP_DENSE, TestTensors.Layout.OFFHEAP_DENSE,
        TestTensors.Layout.HEAP_PERMUTED, TestTensors.Layout.OFFHEAP_PERMUTED, TestTensors.Layout.HEAP_STRIDED,
        TestTensors.Layout.OFFHEAP_STRIDED, TestTensors.Layout.HEAP_UNALIGNED, TestTensors.Layout.ARENA};

    /**
     * The valid twin of the malformed calls: the same random problems, called correctly with random
     * memory layouts on both backends; the results must agree (bitwise on small-integer data, whose
     * sums are exact; within 1e-4 relative otherwise) and neither may write outside its output view.
     * {@code -Drrconv.validInputs=N} (default 2000) sets the count.
     */
    @org.junit.jupiter.api.Test
    void validRandomCallsAgreeAcrossBackends() {
        int calls = Integer.getInteger("rrconv.validInputs", 2000);
        long seed = Long.getLong("rrconv.badInputs.seed", 0x5EEDBAD1L) + 7;
        RegionConv nat = RegionConv.of(Backend.NATIVE);
        RegionConv jav = RegionConv.of(Backend.JAVA);
        for (int i = 0; i < calls; i++) {
            Random r = new Random(seed * 1_000_003L + i);
            Problem pr = new Problem(r);
            int dir = r.nextInt(3);
            boolean integers = r.nextInt(4) != 0;
            String ctx = "seed " + seed + " call " + i + " dir " + dir + " " + str(pr.src()) + " filter " + str(pr.filter())
                    + " " + pr.p + " mask " + pr.mask;
            try (Arena arena = Arena.ofConfined()) {
                TestTensors.Buf[] in = new TestTensors.Buf[4];
                for (int slot = 0; slot < 4; slot++) {
                    long[] shape = pr.shapeOf(dir, slot);
                    TestTensors.Layout lay = INPUT_LAYOUTS[r.nextInt(INPUT_LAYOUTS.length)];
                    boolean mask = slot >= 2;
                    int count = Math.toIntExact(Arrays.stream(shape).reduce(1, Math::multiplyExact));
                    int per = lay == TestTensors.Layout.BROADCAST0 ? count / (int) shape[0] : count;
                    if (mask) {
                        int[] v = new int[count];
                        for (int k = 0; k < count; k++) {
                            v[k] = k < per ? (r.nextInt(5) == 0 && pr.mask == DType.UINT8 ? 255 : r.nextInt(3)) : v[k % per];
                        }
                        in[slot] = TestTensors.ints(arena, pr.mask, shape, lay, r, v);
                    } else {
                        double[] v = new double[count];
                        for (int k = 0; k < count; k++) {
                            v[k] = k < per ? (integers ? r.nextInt(7) - 3 : r.nextDouble() * 2 - 1) : v[k % per];
                        }
                        in[slot] = TestTensors.floats(arena, shape, lay, r, v);
                    }
                }
                TestTensors.Layout outLay = OUTPUT_LAYOUTS[r.nextInt(OUTPUT_LAYOUTS.length)];
                float[][] results = new float[2][];
                RegionConv[] convs = {nat, jav};
                for (int b = 0; b < 2; b++) {
                    Call c = new Call(dir);
                    c.a = in[0].tensor();
                    c.b = in[1].tensor();
                    c.rin = in[2].tensor();
                    c.rout = in[3].tensor();
                    c.params = pr.p;
                    c.fh = pr.fh;
                    c.fw = pr.fw;
                    c.resultArena = arena;
                    byte[][] inBefore = new byte[4][];
                    for (int slot = 0; slot < 4; slot++) {
                        inBefore[slot] = in[slot].snapshot();
                    }
                    if (outLay == TestTensors.Layout.ARENA) {
                        Tensor res = switch (dir) {
                            case 0 -> convs[b].forward(c.a, c.b, c.rin, c.rout, c.params, arena);
                            case 1 -> convs[b].backwardData(c.a, c.b, c.rin, c.rout, c.params, arena);
                            default -> convs[b].backwardFilter(c.a, c.b, c.rin, c.rout, c.params, c.fh, c.fw, arena);
                        };
                        results[b] = res.toFloatArray();
                    } else {
                        TestTensors.Buf out = TestTensors.create(arena, DType.FLOAT32, pr.shapeOf(dir, 4), outLay, r);
                        byte[] before = out.snapshot();
                        c.intoTensor = true;
                        c.out = out.tensor();
                        c.run(convs[b]);
                        out.assertGapsUntouched(before, convs[b].backend() + " " + ctx);
                        results[b] = out.readFloats();
                    }
                    for (int slot = 0; slot < 4; slot++) {
                        assertArrayEquals(inBefore[slot], in[slot].snapshot(), ctx + ": input " + slot + " modified");
                    }
                }
                for (int k = 0; k < results[0].length; k++) {
                    float x = results[0][k];
                    float y = results[1][k];
                    boolean ok = integers ? Float.floatToRawIntBits(x) == Float.floatToRawIntBits(y) || x == y
                            : Math.abs(x - y) <= 1e-4 * (1 + Math.abs(x));
                    if (!ok) {
                        fail(ctx + ": element " + k + " native " + x + " java " + y);
                    }
                }
            }
        }
    }

    static String perKindString(Kind[] kinds, int[] perKind) {
        StringBuilder sb = new StringBuilder();
        for (int k = 0; k < kinds.length; k++) {
            sb.append(k == 0 ? "" : ", ").append(kinds[k]).append('=').append(perKind[k]);
        }
        return sb.toString();
    }
}
