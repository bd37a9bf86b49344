package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.rrconv.TestTensors.Buf;
import dev.rrconv.TestTensors.Layout;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Seeded random configurations, each checked on the native backend and on both sets of Java loops
 * ({@code JAVA}: the Vector API loops, as the tests run with {@code --add-modules jdk.incubator.vector};
 * {@code JAVA_SCALAR}: the scalar loops), in all three directions, against the independent {@link Oracle}.
 *
 * <p>Reproducing a failure: the message prints the config (every parameter, its seed included);
 * {@code Config.random(index, seed)} rebuilds it, and {@code -Drrconv.test.seed=<base>} changes the base
 * seed of the whole run (default {@value #DEFAULT_BASE_SEED}).
 *
 * <p>Tolerance. Configs with {@code integerValues=true} use src, filter and diff in {-3..3}: every product
 * and every partial sum is an integer of magnitude below 2^24 (at most 9 * 2,600 terms here), so float32
 * arithmetic is exact in any summation order and the results must equal the oracle exactly. Other configs
 * use uniform floats in [-1, 1]; a float32 sum of k products differs from the exact value by at most about
 * k * 2^-24 * sum|terms| (recursive summation, any order or FMA); with k <= ~1,600 terms per element here we
 * accept |got - exact| <= 1e-4 * sum|terms| (and exactly 0 where no tap contributes).
 *
 * <p>Every config also checks that inputs are not modified, that caller outputs are fully overwritten
 * (they start as a 3.4e38 or NaN sentinel) and that nothing outside an output view is written; configs with
 * {@code poison=true} add region ids found only in rin (resp. only in rout), and put NaN in every src,
 * filter and diff element that no tap reads (those pixels, padding-only filter taps, strided-over pixels,
 * outputs without taps): skipped taps must never bring a NaN into a result.
 */
class RandomConfigTest {
    static final long DEFAULT_BASE_SEED = 20240611L;
    static final int CONFIGS = 520;
    /** Upper bound on N*OC*OH*OW*ICPG*FH*FW per config (keeps the class well under a minute). */
    static final long MAC_BUDGET = 60_000;

    enum GroupKind { DENSE, GROUPED, DEPTHWISE, DEPTHWISE_MULTIPLIER }

    /** Which region ids a mask draws from. */
    enum Palette { SMALL, SINGLE, EXTREME, RANDOM }

    /** How masks are laid out. IID: independent pixels; BLOCKY: rectangles, rout sampled at the filter centre. */
    enum MaskKind { IID, BLOCKY }

    /** Region ids used only in rin (resp. rout) when poisoning; never part of a palette. */
    static final int POISON_IN_INT32 = 1234567;
    static final int POISON_OUT_INT32 = -1234567;
    static final int POISON_IN_UINT8 = 200;
    static final int POISON_OUT_UINT8 = 201;

    /** One random configuration: every parameter of the problem and of its memory layouts. */
    record Config(int index, long seed, GroupKind groupKind, int n, int groups, int icpg, int ocpg, int ih, int iw,
                  int fh, int fw, int strideH, int strideW, int padH, int padW, int dilationH, int dilationW, Mode mode,
                  DType maskType, Palette palette, MaskKind maskKind, boolean poison, boolean integerValues,
                  int filterRank, Layout srcLayout, Layout filterLayout, Layout rinLayout, Layout routLayout,
                  Layout diffLayout, Layout dstLayout, Layout gradSrcLayout, Layout gradFilterLayout) {

        Oracle.Geometry geometry() {
            return new Oracle.Geometry(n, groups, icpg, ocpg, ih, iw, fh, fw, strideH, strideW, padH, padW,
                    dilationH, dilationW, mode == Mode.CONVOLUTION);
        }

        ConvParams params() {
            return ConvParams.DEFAULT.withStride(strideH, strideW).withPadding(padH, padW)
                    .withDilation(dilationH, dilationW).withGroups(groups).withMode(mode);
        }

        /** A short name for the test report. */
        String summary() {
            return "#" + index + " " + groupKind + " N" + n + " G" + groups + " " + icpg + "->" + ocpg + " " + ih + "x"
                    + iw + " k" + fh + "x" + fw + " s" + strideH + "," + strideW + " p" + padH + "," + padW + " d"
                    + dilationH + "," + dilationW + " " + (mode == Mode.CONVOLUTION ? "conv" : "xcorr") + " "
                    + maskType + "/" + palette + "/" + maskKind + (poison ? " poison" : "")
                    + (integerValues ? " int" : " float") + " f" + filterRank + "D";
        }

        static Builder builder() {
            return new Builder();
        }

        /**
         * The index-th configuration of a run with the given base seed: the index cycles the group kind,
         * mode and mask type (so that every combination appears); everything else is drawn from the seed.
         */
        static Config random(int index, long baseSeed) {
            long seed = mix(baseSeed * 1_000_003L + index);
            Random r = new Random(seed);
            Builder b = builder().index(index).seed(seed);
            GroupKind gk = GroupKind.values()[index % 4];
            b.groupKind(gk).mode(((index / 4) % 2) == 0 ? Mode.CROSS_CORRELATION : Mode.CONVOLUTION);
            DType mt = ((index / 8) % 2) == 0 ? DType.INT32 : DType.UINT8;
            b.maskType(mt).palette(Palette.values()[r.nextInt(4)]).maskKind(MaskKind.values()[r.nextInt(2)]);
            b.poison(r.nextInt(4) == 0).integerValues(r.nextBoolean()).filterRank(r.nextInt(3) == 0 ? 4 : 5);
            for (int attempt = 0; ; attempt++) {
                int n = 1 + r.nextInt(3);
                int g;
                int icpg;
                int ocpg;
                switch (gk) {
                    case DENSE -> { g = 1; icpg = 1 + r.nextInt(6); ocpg = 1 + r.nextInt(6); }
                    case GROUPED -> { g = 2 + r.nextInt(3); icpg = 1 + r.nextInt(3); ocpg = 1 + r.nextInt(3); }
                    case DEPTHWISE -> { g = 1 + r.nextInt(8); icpg = 1; ocpg = 1; }
                    default -> { g = 1 + r.nextInt(6); icpg = 1; ocpg = 2 + r.nextInt(3); }
                }
                int fh = 1 + r.nextInt(7);
                int fw = r.nextInt(4) == 0 ? fh : 1 + r.nextInt(7);
                int dh = 1 + r.nextInt(3);
                int dw = 1 + r.nextInt(3);
                int sh = 1 + r.nextInt(3);
                int sw = 1 + r.nextInt(3);
                int extH = dh * (fh - 1) + 1;
                int extW = dw * (fw - 1) + 1;
                // padding: usually below the dilated kernel, sometimes beyond it (outputs with no tap at all)
                int ph = r.nextInt(6) == 0 ? extH + r.nextInt(2) : r.nextInt(extH / 2 + 2);
                int pw = r.nextInt(6) == 0 ? extW + r.nextInt(2) : r.nextInt(extW / 2 + 2);
                int ih = 1 + r.nextInt(13);
                int iw = 1 + r.nextInt(13);
                if (attempt > 50) { // small kernels if big dilated ones keep failing
                    dh = dw = 1;
                    fh = Math.min(fh, 3);
                    fw = Math.min(fw, 3);
                }
                Oracle.Geometry geo;
                try {
                    geo = new Oracle.Geometry(n, g, icpg, ocpg, ih, iw, fh, fw, sh, sw, ph, pw, dh, dw, false);
                } catch (IllegalArgumentException e) {
                    continue;
                }
                long macs = (long) n * geo.oc() * geo.oh() * geo.ow() * icpg * fh * fw;
                if (geo.oh() < 1 || geo.ow() < 1 || macs > MAC_BUDGET) {
                    continue;
                }
                b.n(n).groups(g).icpg(icpg).ocpg(ocpg).ih(ih).iw(iw).fh(fh).fw(fw).strideH(sh).strideW(sw)
                        .padH(ph).padW(pw).dilationH(dh).dilationW(dw);
                break;
            }
            Layout[] inputs = {Layout.HEAP_DENSE, Layout.OFFHEAP_DENSE, Layout.HEAP_PERMUTED, Layout.OFFHEAP_PERMUTED,
                    Layout.HEAP_STRIDED, Layout.OFFHEAP_STRIDED, Layout.HEAP_UNALIGNED, Layout.OFFHEAP_READONLY};
            Layout[] outputs = {Layout.ARENA, Layout.HEAP_DENSE, Layout.OFFHEAP_DENSE, Layout.HEAP_PERMUTED,
                    Layout.OFFHEAP_PERMUTED, Layout.HEAP_STRIDED, Layout.OFFHEAP_STRIDED, Layout.HEAP_UNALIGNED};
            // about a third of the configs keep everything dense (the common fast path)
            boolean allDense = r.nextInt(3) == 0;
            b.srcLayout(pick(r, allDense, inputs)).filterLayout(pick(r, allDense, inputs))
                    .rinLayout(pickMask(r, allDense, inputs)).routLayout(pickMask(r, allDense, inputs))
                    .diffLayout(pick(r, allDense, inputs)).dstLayout(pick(r, allDense, outputs))
                    .gradSrcLayout(pick(r, allDense, outputs)).gradFilterLayout(pick(r, allDense, outputs));
            return b.build();
        }

        /** SplitMix64's finalizer: consecutive indices give unrelated seeds (java.util.Random would not). */
        static long mix(long z) {
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }

        private static Layout pick(Random r, boolean dense, Layout[] from) {
            Layout l = from[r.nextInt(from.length)];
            return dense ? (l.heap() ? Layout.HEAP_DENSE : Layout.OFFHEAP_DENSE) : l;
        }

        private static Layout pickMask(Random r, boolean dense, Layout[] from) {
            if (!dense && r.nextInt(8) == 0) {
                return Layout.BROADCAST0;
            }
            return pick(r, dense, from);
        }

        /** Builder for {@link Config}. */
        static final class Builder {
            private int index;
            private long seed;
            private GroupKind groupKind = GroupKind.DENSE;
            private int n = 1, groups = 1, icpg = 1, ocpg = 1, ih = 4, iw = 4, fh = 1, fw = 1;
            private int strideH = 1, strideW = 1, padH, padW, dilationH = 1, dilationW = 1;
            private Mode mode = Mode.CROSS_CORRELATION;
            private DType maskType = DType.INT32;
            private Palette palette = Palette.SMALL;
            private MaskKind maskKind = MaskKind.IID;
            private boolean poison;
            private boolean integerValues = true;
            private int filterRank = 5;
            private Layout srcLayout = Layout.HEAP_DENSE, filterLayout = Layout.HEAP_DENSE,
                    rinLayout = Layout.HEAP_DENSE, routLayout = Layout.HEAP_DENSE, diffLayout = Layout.HEAP_DENSE,
                    dstLayout = Layout.ARENA, gradSrcLayout = Layout.ARENA, gradFilterLayout = Layout.ARENA;

            Builder index(int v) { index = v; return this; }
            Builder seed(long v) { seed = v; return this; }
            Builder groupKind(GroupKind v) { groupKind = v; return this; }
            Builder n(int v) { n = v; return this; }
            Builder groups(int v) { groups = v; return this; }
            Builder icpg(int v) { icpg = v; return this; }
            Builder ocpg(int v) { ocpg = v; return this; }
            Builder ih(int v) { ih = v; return this; }
            Builder iw(int v) { iw = v; return this; }
            Builder fh(int v) { fh = v; return this; }
            Builder fw(int v) { fw = v; return this; }
            Builder strideH(int v) { strideH = v; return this; }
            Builder strideW(int v) { strideW = v; return this; }
            Builder padH(int v) { padH = v; return this; }
            Builder padW(int v) { padW = v; return this; }
            Builder dilationH(int v) { dilationH = v; return this; }
            Builder dilationW(int v) { dilationW = v; return this; }
            Builder mode(Mode v) { mode = v; return this; }
            Builder maskType(DType v) { maskType = v; return this; }
            Builder palette(Palette v) { palette = v; return this; }
            Builder maskKind(MaskKind v) { maskKind = v; return this; }
            Builder poison(boolean v) { poison = v; return this; }
            Builder integerValues(boolean v) { integerValues = v; return this; }
            Builder filterRank(int v) { filterRank = v; return this; }
            Builder srcLayout(Layout v) { srcLayout = v; return this; }
            Builder filterLayout(Layout v) { filterLayout = v; return this; }
            Builder rinLayout(Layout v) { rinLayout = v; return this; }
            Builder routLayout(Layout v) { routLayout = v; return this; }
            Builder diffLayout(Layout v) { diffLayout = v; return this; }
            Builder dstLayout(Layout v) { dstLayout = v; return this; }
            Builder gradSrcLayout(Layout v) { gradSrcLayout = v; return this; }
            Builder gradFilterLayout(Layout v) { gradFilterLayout = v; return this; }

            Config build() {
                return new Config(index, seed, groupKind, n, groups, icpg, ocpg, ih, iw, fh, fw, strideH, strideW,
                        padH, padW, dilationH, dilationW, mode, maskType, palette, maskKind, poison, integerValues,
                        filterRank, srcLayout, filterLayout, rinLayout, routLayout, diffLayout, dstLayout,
                        gradSrcLayout, gradFilterLayout);
            }
        }
    }

    /** The data of one config, in dense C order. */
    record Data(double[] src, double[] filter, double[] diff, int[] rin, int[] rout) {

        static Data generate(Config c) {
            Oracle.Geometry g = c.geometry();
            Random r = new Random(Config.mix(c.seed() ^ 0x9E3779B97F4A7C15L));
            int[] palette = palette(c, r);
            int poisonIn = c.maskType() == DType.INT32 ? POISON_IN_INT32 : POISON_IN_UINT8;
            int poisonOut = c.maskType() == DType.INT32 ? POISON_OUT_INT32 : POISON_OUT_UINT8;
            boolean sameForAllN = c.rinLayout() == Layout.BROADCAST0 || c.routLayout() == Layout.BROADCAST0;
            int oh = g.oh();
            int ow = g.ow();
            int[] rin = new int[g.rinSize()];
            int[] rout = new int[g.routSize()];
            int bh = 2 + r.nextInt(4);
            int bw = 2 + r.nextInt(4);
            int blocksH = (c.ih() + bh - 1) / bh;
            int blocksW = (c.iw() + bw - 1) / bw;
            for (int n = 0; n < c.n(); n++) {
                if (n > 0 && sameForAllN) {
                    System.arraycopy(rin, 0, rin, n * c.ih() * c.iw(), c.ih() * c.iw());
                    System.arraycopy(rout, 0, rout, n * oh * ow, oh * ow);
                    continue;
                }
                int[] blocks = new int[blocksH * blocksW];
                for (int i = 0; i < blocks.length; i++) {
                    blocks[i] = palette[r.nextInt(palette.length)];
                }
                for (int y = 0; y < c.ih(); y++) {
                    for (int x = 0; x < c.iw(); x++) {
                        int v = c.maskKind() == MaskKind.IID ? palette[r.nextInt(palette.length)]
                                : blocks[(y / bh) * blocksW + x / bw];
                        if (c.poison() && r.nextInt(7) == 0) {
                            v = poisonIn;
                        }
                        rin[(n * c.ih() + y) * c.iw() + x] = v;
                    }
                }
                for (int y = 0; y < oh; y++) {
                    for (int x = 0; x < ow; x++) {
                        int v;
                        if (c.maskKind() == MaskKind.IID || r.nextInt(10) == 0) {
                            v = palette[r.nextInt(palette.length)];
                        } else { // the region under the filter centre
                            int cy = clamp(y * c.strideH() - c.padH() + (c.fh() / 2) * c.dilationH(), c.ih());
                            int cx = clamp(x * c.strideW() - c.padW() + (c.fw() / 2) * c.dilationW(), c.iw());
                            v = blocks[(cy / bh) * blocksW + cx / bw];
                        }
                        if (c.poison() && r.nextInt(7) == 0) {
                            v = poisonOut;
                        }
                        rout[(n * oh + y) * ow + x] = v;
                    }
                }
            }
            double[] src = values(c, r, g.srcSize());
            double[] filter = values(c, r, g.filterSize());
            double[] diff = values(c, r, g.dstSize());
            if (c.poison()) {
                for (int n = 0; n < c.n(); n++) {
                    for (int ch = 0; ch < g.ic(); ch++) {
                        for (int p = 0; p < c.ih() * c.iw(); p++) {
                            if (rin[n * c.ih() * c.iw() + p] == poisonIn) {
                                src[(n * g.ic() + ch) * c.ih() * c.iw() + p] = Double.NaN;
                            }
                        }
                    }
                    for (int ch = 0; ch < g.oc(); ch++) {
                        for (int p = 0; p < oh * ow; p++) {
                            if (rout[n * oh * ow + p] == poisonOut) {
                                diff[(n * g.oc() + ch) * oh * ow + p] = Double.NaN;
                            }
                        }
                    }
                }
            }
            if (c.poison()) {
                // every element no tap reads (masked, padded, strided over, a filter tap that only ever lands in
                // padding, an output with no tap) becomes NaN too: an implementation that multiplies by zero
                // instead of skipping (im2col with zero padding, masks as 0/1 weights) turns results into NaN
                boolean[] srcUsed = new boolean[src.length];
                boolean[] filterUsed = new boolean[filter.length];
                boolean[] diffUsed = new boolean[diff.length];
                Oracle.forEachTap(g, rin, rout, (si, fi, di) -> {
                    srcUsed[si] = true;
                    filterUsed[fi] = true;
                    diffUsed[di] = true;
                });
                poisonUnused(src, srcUsed);
                poisonUnused(filter, filterUsed);
                poisonUnused(diff, diffUsed);
            }
            return new Data(src, filter, diff, rin, rout);
        }

        private static void poisonUnused(double[] v, boolean[] used) {
            for (int i = 0; i < v.length; i++) {
                if (!used[i]) {
                    v[i] = Double.NaN;
                }
            }
        }

        private static int clamp(int v, int size) {
            return Math.max(0, Math.min(size - 1, v));
        }

        private static double[] values(Config c, Random r, int count) {
            double[] v = new double[count];
            for (int i = 0; i < count; i++) {
                v[i] = c.integerValues() ? r.nextInt(7) - 3 : (float) (r.nextFloat() * 2 - 1);
            }
            return v;
        }

        private static int[] palette(Config c, Random r) {
            boolean i32 = c.maskType() == DType.INT32;
            return switch (c.palette()) {
                case SMALL -> new int[] {0, 1, 2};
                case SINGLE -> new int[] {i32 ? -5 : 7};
                case EXTREME -> i32 ? new int[] {Integer.MIN_VALUE, Integer.MAX_VALUE, 16777216, 16777217, -1, 0}
                        : new int[] {0, 255, 254, 128, 127};
                case RANDOM -> {
                    int[] p = new int[3 + r.nextInt(3)];
                    for (int i = 0; i < p.length; i++) {
                        int v;
                        do {
                            v = i32 ? r.nextInt() : r.nextInt(256);
                        } while (v == POISON_IN_INT32 || v == POISON_OUT_INT32 || (!i32 && (v == POISON_IN_UINT8
                                || v == POISON_OUT_UINT8)));
                        p[i] = v;
                    }
                    yield p;
                }
            };
        }
    }

    static Stream<Arguments> configs() {
        long base = Long.getLong("rrconv.test.seed", DEFAULT_BASE_SEED);
        return IntStream.range(0, CONFIGS).mapToObj(i -> {
            Config c = Config.random(i, base);
            return Arguments.of(Named.of(c.summary(), c));
        });
    }

    /** The generated set covers every feature the suite promises (guards against a generator regression). */
    @Test
    void generatorCoversEveryFeature() {
        long base = Long.getLong("rrconv.test.seed", DEFAULT_BASE_SEED);
        List<Config> all = IntStream.range(0, CONFIGS).mapToObj(i -> Config.random(i, base)).toList();
        Map<String, Long> counts = new TreeMap<>();
        for (Config c : all) {
            Data d = Data.generate(c);
            Oracle.Geometry g = c.geometry();
            count(counts, "groupKind=" + c.groupKind());
            count(counts, "mode=" + c.mode());
            count(counts, "mask=" + c.maskType() + "/" + c.palette());
            count(counts, "maskKind=" + c.maskKind());
            count(counts, "filterRank=" + c.filterRank());
            count(counts, c.integerValues() ? "values=int" : "values=float");
            count(counts, "N=" + c.n());
            if (c.poison()) count(counts, "poison");
            if (c.strideH() != c.strideW()) count(counts, "stride asymmetric");
            if (c.strideH() == 3 || c.strideW() == 3) count(counts, "stride 3");
            if (c.padH() != c.padW()) count(counts, "padding asymmetric");
            if (c.padH() == 0 && c.padW() == 0) count(counts, "padding 0");
            if (c.padH() > c.dilationH() * (c.fh() - 1) || c.padW() > c.dilationW() * (c.fw() - 1)) {
                count(counts, "padding beyond the dilated kernel");
            }
            if (c.dilationH() == 3 || c.dilationW() == 3) count(counts, "dilation 3");
            if (c.fh() != c.fw()) count(counts, "kernel non-square");
            if (c.fh() == 1 && c.fw() == 1) count(counts, "kernel 1x1");
            if (c.fh() == 7 || c.fw() == 7) count(counts, "kernel 7");
            if (c.ih() % 2 == 1 && c.iw() % 2 == 1) count(counts, "odd image");
            for (Layout l : new Layout[] {c.srcLayout(), c.filterLayout(), c.rinLayout(), c.routLayout(), c.diffLayout(),
                    c.dstLayout(), c.gradSrcLayout(), c.gradFilterLayout()}) {
                count(counts, "layout " + l);
            }
            for (int v : d.rin()) {
                if (v == 16777216) count(counts, "rin 2^24");
                if (v == 16777217) count(counts, "rin 2^24+1");
                if (v == Integer.MIN_VALUE) count(counts, "rin int min");
                if (v == Integer.MAX_VALUE) count(counts, "rin int max");
                if (v == 255 && c.maskType() == DType.UINT8) count(counts, "rin uint8 255");
                if (v == 0 && c.maskType() == DType.UINT8) count(counts, "rin uint8 0");
            }
            if (g.groups() > 1 && g.icpg() == 1 && g.ocpg() > 1) count(counts, "depthwise multiplier");
        }
        List<String> required = new ArrayList<>(List.of("poison", "stride asymmetric", "stride 3", "padding asymmetric",
                "padding 0", "padding beyond the dilated kernel", "dilation 3", "kernel non-square", "kernel 1x1",
                "kernel 7", "odd image", "rin 2^24", "rin 2^24+1", "rin int min", "rin int max", "rin uint8 255",
                "rin uint8 0", "depthwise multiplier", "filterRank=4", "filterRank=5", "values=int", "values=float",
                "N=1", "N=2", "N=3", "maskKind=IID", "maskKind=BLOCKY"));
        for (GroupKind k : GroupKind.values()) required.add("groupKind=" + k);
        for (Mode m : Mode.values()) required.add("mode=" + m);
        for (DType t : new DType[] {DType.INT32, DType.UINT8}) {
            for (Palette pal : Palette.values()) required.add("mask=" + t + "/" + pal);
        }
        for (Layout l : Layout.values()) required.add("layout " + l);
        for (String key : required) {
            assertTrue(counts.getOrDefault(key, 0L) >= 3, "feature '" + key + "' appears in fewer than 3 configs: "
                    + counts);
        }
    }

    private static void count(Map<String, Long> counts, String key) {
        counts.merge(key, 1L, Long::sum);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void matchesOracle(Config c) {
        Oracle.Geometry g = c.geometry();
        Data d = Data.generate(c);
        Oracle.Result fwd = Oracle.forward(g, d.src(), d.filter(), d.rin(), d.rout());
        Oracle.Result bwdData = Oracle.backwardData(g, d.filter(), d.diff(), d.rin(), d.rout());
        Oracle.Result bwdFilter = Oracle.backwardFilter(g, d.src(), d.diff(), d.rin(), d.rout());
        List<String> errors = new ArrayList<>();
        Throwable cause = null;
        for (Backend backend : new Backend[] {Backend.JAVA, Backend.JAVA_SCALAR, Backend.NATIVE}) {
            try {
                runBackend(c, d, backend, fwd, bwdData, bwdFilter, errors);
            } catch (RuntimeException | Error e) {
                errors.add(backend + " threw " + e);
                cause = cause == null ? e : cause;
            }
        }
        if (!errors.isEmpty()) {
            fail("seed=" + c.seed() + " (" + errors.size() + " problems)\n  config: " + c + "\n  "
                    + String.join("\n  ", errors.subList(0, Math.min(errors.size(), 16))), cause);
        }
    }

    private static void runBackend(Config c, Data d, Backend backend, Oracle.Result fwd, Oracle.Result bwdData,
                                   Oracle.Result bwdFilter, List<String> errors) {
        Oracle.Geometry g = c.geometry();
        RegionConv conv = RegionConv.of(backend);
        ConvParams p = c.params();
        Random lr = new Random(Config.mix(c.seed() + 7)); // layouts: same for both backends
        try (Arena arena = Arena.ofConfined()) {
            Buf src = TestTensors.floats(arena, g.srcShape(), c.srcLayout(), lr, d.src());
            Buf filter = TestTensors.floats(arena, c.filterRank() == 5 ? g.filterShape5() : g.filterShape4(),
                    c.filterLayout(), lr, d.filter());
            Buf rin = TestTensors.ints(arena, c.maskType(), g.rinShape(), c.rinLayout(), lr, d.rin());
            Buf rout = TestTensors.ints(arena, c.maskType(), g.routShape(), c.routLayout(), lr, d.rout());
            Buf diff = TestTensors.floats(arena, g.dstShape(), c.diffLayout(), lr, d.diff());
            Buf[] inputs = {src, filter, rin, rout, diff};
            byte[][] before = new byte[inputs.length][];
            for (int i = 0; i < inputs.length; i++) {
                before[i] = inputs[i].snapshot();
            }
            String prefix = backend + " ";

            // forward
            double[] got;
            if (c.dstLayout() == Layout.ARENA) {
                got = TestTensors.toDoubles(conv.forward(src.tensor(), filter.tensor(), rin.tensor(), rout.tensor(), p,
                        arena));
            } else {
                Buf out = TestTensors.create(arena, DType.FLOAT32, g.dstShape(), c.dstLayout(), lr);
                byte[] snap = out.snapshot();
                conv.forward(src.tensor(), filter.tensor(), rin.tensor(), rout.tensor(), p, out.tensor());
                out.assertGapsUntouched(snap, prefix + "forward " + c);
                got = out.readDoubles();
            }
            compare(prefix + "forward", fwd, got, c.integerValues(), errors);

            // backward data
            if (c.gradSrcLayout() == Layout.ARENA) {
                got = TestTensors.toDoubles(conv.backwardData(filter.tensor(), diff.tensor(), rin.tensor(), rout.tensor(),
                        p, arena));
            } else {
                Buf out = TestTensors.create(arena, DType.FLOAT32, g.srcShape(), c.gradSrcLayout(), lr);
                byte[] snap = out.snapshot();
                conv.backwardData(filter.tensor(), diff.tensor(), rin.tensor(), rout.tensor(), p, out.tensor());
                out.assertGapsUntouched(snap, prefix + "backward data " + c);
                got = out.readDoubles();
            }
            compare(prefix + "backward data", bwdData, got, c.integerValues(), errors);

            // backward filter
            if (c.gradFilterLayout() == Layout.ARENA) {
                got = TestTensors.toDoubles(conv.backwardFilter(src.tensor(), diff.tensor(), rin.tensor(), rout.tensor(),
                        p, c.fh(), c.fw(), arena));
            } else {
                long[] shape = c.filterRank() == 5 ? g.filterShape5() : g.filterShape4();
                Buf out = TestTensors.create(arena, DType.FLOAT32, shape, c.gradFilterLayout(), lr);
                byte[] snap = out.snapshot();
                conv.backwardFilter(src.tensor(), diff.tensor(), rin.tensor(), rout.tensor(), p, out.tensor());
                out.assertGapsUntouched(snap, prefix + "backward filter " + c);
                got = out.readDoubles();
            }
            compare(prefix + "backward filter", bwdFilter, got, c.integerValues(), errors);

            String[] names = {"src", "filter", "rin", "rout", "diff"};
            for (int i = 0; i < inputs.length; i++) {
                if (!Arrays.equals(before[i], inputs[i].snapshot())) {
                    errors.add(prefix + "modified input " + names[i]);
                }
            }
        }
    }

    /** Exact for integer data, else |got - exact| <= 1e-4 * sum|terms| (see the class comment). */
    static void compare(String what, Oracle.Result expected, double[] got, boolean exact, List<String> errors) {
        if (got.length != expected.value().length) {
            errors.add(what + ": " + got.length + " elements, expected " + expected.value().length);
            return;
        }
        int bad = 0;
        for (int i = 0; i < got.length; i++) {
            double e = expected.value()[i];
            double tol = exact ? 0 : 1e-4 * expected.absSum()[i];
            if (!(Math.abs(got[i] - e) <= tol)) {
                if (bad++ < 4) {
                    errors.add(what + ": element " + i + " = " + got[i] + ", expected " + e + " (tolerance " + tol
                            + ", " + expected.terms()[i] + " terms)");
                }
            }
        }
        if (bad > 4) {
            errors.add(what + ": ... " + bad + " of " + got.length + " elements differ");
        }
    }
}
