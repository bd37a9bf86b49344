package dev.rrconv.cli;

import dev.rrconv.Backend;
import dev.rrconv.ConvParams;
import dev.rrconv.DType;
import dev.rrconv.Mode;
import dev.rrconv.RegionConv;
import dev.rrconv.Tensor;
import dev.rrconv.internal.NativeLibrary;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/** {@code rrconv run}: one forward, backward-data or backward-filter call on {@code .npy} files. */
final class RunCommand implements Command {
    static final Set<String> OPS = Set.of("forward", "backward-data", "backward-filter");

    private static final Set<String> OPTIONS = Set.of("op", "src", "filter", "diff", "rin", "rout", "stride",
            "padding", "dilation", "groups", "mode", "kernel", "backend", "threads", "out");

    @Override
    public String name() {
        return "run";
    }

    @Override
    public String summary() {
        return "run forward, backward-data or backward-filter on .npy files";
    }

    @Override
    public String help() {
        return """
                usage: rrconv run --op forward         --src S.npy --filter F.npy --rin R.npy --rout R.npy --out DST.npy [options]
                       rrconv run --op backward-data   --filter F.npy --diff D.npy --rin R.npy --rout R.npy --out GRAD.npy [options]
                       rrconv run --op backward-filter --src S.npy --diff D.npy --kernel FH,FW --rin R.npy --rout R.npy --out GRAD.npy [options]

                Runs one region-restricted convolution on NumPy .npy files and writes the result as a .npy file.
                dst[n, g*OCPG+ocg, oh, ow] = sum over icg, kh, kw of src[n, g*ICPG+icg, ih, iw] * filter[g, ocg, icg, kh, kw]
                with ih = oh*SH - PH + kh*DH, iw = ow*SW - PW + kw*DW, only where (ih, iw) is inside the image
                and rin[n, ih, iw] == rout[n, oh, ow]. backward-data is the gradient w.r.t. src, backward-filter
                the gradient w.r.t. the filter.

                tensors (.npy files: float32 '<f4', int32 '<i4' or uint8 '|u1'; little-endian, C order):
                  --src FILE         src, float32 (N, IC, IH, IW)                   [forward, backward-filter]
                  --filter FILE      float32 (G, OCPG, ICPG, FH, FW) or (OC, ICPG, FH, FW) with --groups
                                                                                    [forward, backward-data]
                  --diff FILE        gradient of dst, float32 (N, OC, OH, OW)       [backward-data, backward-filter]
                  --rin FILE         input regions (N, IH, IW), int32 or uint8      [all; required]
                  --rout FILE        output regions (N, OH, OW), same dtype as rin  [all; required]
                  --out FILE         the result (required): forward dst (N, OC, OH, OW), backward-data
                                     grad src (N, IC, IH, IW), backward-filter grad filter (G, OCPG, ICPG, FH, FW).
                                     Written atomically: on any error it is not created, and an existing
                                     file keeps its content.

                parameters (H,W pairs; one number means both, e.g. --stride 2):
                  --op OP            forward | backward-data | backward-filter (required)
                  --stride SH,SW     stride (default 1)
                  --padding PH,PW    zero padding on each side (default 0)
                  --dilation DH,DW   filter dilation (default 1)
                  --groups G         channel groups (default: the first dimension of a 5-D filter, else 1)
                  --mode MODE        cross-correlation (default) | convolution (the filter flipped)
                  --kernel FH,FW     filter size: required by backward-filter; with a filter it must match
                  --backend B        native (default: the C library) | java (pure Java: its Vector API
                                     loops when the JVM has jdk.incubator.vector, as under ./rrconv)
                                     | java-scalar (pure Java, its scalar loops)
                  --threads T        threads per call, 1..1024 (default or 0: all available processors)

                example:
                  rrconv run --op forward --src x.npy --filter w.npy --rin rin.npy --rout rout.npy \\
                      --padding 1 --out y.npy
                """;
    }

    @Override
    public int run(String[] argv, PrintStream out, PrintStream err) throws Exception {
        Args a = Args.parse(name(), argv, OPTIONS, Set.of());
        String op = a.require("op", "(forward, backward-data or backward-filter)");
        if (!OPS.contains(op)) {
            throw new UsageException("run: unknown --op '" + op + "'; expected forward, backward-data or backward-filter");
        }
        switch (op) {
            case "forward" -> {
                a.require("src", "(forward reads --src and --filter)");
                a.require("filter", "(forward reads --src and --filter)");
                a.forbid("diff", "is not used by --op forward (it reads --src and --filter)");
            }
            case "backward-data" -> {
                a.require("filter", "(backward-data reads --filter and --diff)");
                a.require("diff", "(backward-data reads --filter and --diff)");
                a.forbid("src", "is not used by --op backward-data (it reads --filter and --diff; rin gives IH, IW)");
            }
            default -> {
                a.require("src", "(backward-filter reads --src, --diff and --kernel)");
                a.require("diff", "(backward-filter reads --src, --diff and --kernel)");
                a.require("kernel", "(backward-filter needs the filter size FH,FW)");
                a.forbid("filter", "is not used by --op backward-filter (it reads --src, --diff and --kernel)");
            }
        }
        a.require("rin", "");
        a.require("rout", "");
        Path outPath = Path.of(a.require("out", ""));
        int[] stride = a.pair("stride", new int[] {1, 1});
        int[] padding = a.pair("padding", new int[] {0, 0});
        int[] dilation = a.pair("dilation", new int[] {1, 1});
        int[] kernel = a.pair("kernel", null);
        Integer groupsOpt = a.has("groups") ? a.integer("groups", 1) : null;
        Mode mode = parseMode(a);
        Backend backend = parseBackend(a);
        int threads = a.integer("threads", -1);
        ConvParams base = params(stride, padding, dilation, groupsOpt == null ? 1 : groupsOpt, mode);
        if (kernel != null && (kernel[0] < 1 || kernel[1] < 1)) {
            throw new UsageException("run: --kernel must be >= 1, got " + kernel[0] + "," + kernel[1]);
        }
        if (a.has("threads")) {
            try {
                RegionConv.setThreads(threads);
            } catch (IllegalArgumentException e) {
                throw new UsageException("run: --" + e.getMessage());
            }
        }
        checkOutputPath(outPath);
        RegionConv conv = conv(backend);

        try (Arena arena = Arena.ofConfined()) {
            Tensor src = a.has("src") ? input(a, "src", arena, DType.FLOAT32) : null;
            Tensor filter = a.has("filter") ? input(a, "filter", arena, DType.FLOAT32) : null;
            Tensor diff = a.has("diff") ? input(a, "diff", arena, DType.FLOAT32) : null;
            Tensor rin = input(a, "rin", arena, null);
            Tensor rout = input(a, "rout", arena, null);
            ConvParams p = base;
            if (filter != null) {
                p = base.withGroups(resolveGroups(a, filter, groupsOpt));
                checkKernel(a, filter, kernel);
            }
            long t0 = System.nanoTime();
            Tensor result = switch (op) {
                case "forward" -> conv.forward(src, filter, rin, rout, p, arena);
                case "backward-data" -> conv.backwardData(filter, diff, rin, rout, p, arena);
                default -> conv.backwardFilter(src, diff, rin, rout, p, kernel[0], kernel[1], arena);
            };
            double ms = (System.nanoTime() - t0) / 1e6;
            Npy.write(outPath, result);
            out.printf(Locale.ROOT, "wrote %s: %s %s (%s, %s backend, %.3f ms)%n", outPath, result.dtype(),
                    Npy.tuple(result.shape()), op, backend.cliName(), ms);
        }
        return 0;
    }

    static Mode parseMode(Args a) {
        try {
            return Mode.parse(a.get("mode", Mode.CROSS_CORRELATION.cliName()));
        } catch (IllegalArgumentException e) {
            throw new UsageException(a.command() + ": --" + e.getMessage());
        }
    }

    static Backend parseBackend(Args a) {
        try {
            return Backend.parse(a.get("backend", Backend.NATIVE.cliName()));
        } catch (IllegalArgumentException e) {
            throw new UsageException(a.command() + ": --" + e.getMessage());
        }
    }

    /** ConvParams from option values; an out-of-range value is a usage error naming the option. */
    static ConvParams params(int[] stride, int[] padding, int[] dilation, int groups, Mode mode) {
        try {
            return new ConvParams(stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1], groups, mode);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--" + e.getMessage());
        }
    }

    /**
     * The facade of a backend; for the native one, first loads the C library so that a failure
     * becomes a one-line message suggesting the java backend.
     */
    static RegionConv conv(Backend backend) {
        if (backend == Backend.NATIVE) {
            try {
                NativeLibrary.get();
            } catch (UnsatisfiedLinkError | RuntimeException e) {
                throw new CliException("the native backend is unavailable: " + e.getMessage()
                        + " (use --backend java, or see 'rrconv info')", e);
            }
        }
        return RegionConv.of(backend);
    }

    private static void checkOutputPath(Path out) {
        if (Files.isDirectory(out)) {
            throw new CliException("--out " + out + ": is a directory");
        }
        Path dir = out.toAbsolutePath().getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new CliException("--out " + out + ": directory " + dir + " does not exist");
        }
    }

    /**
     * Reads the .npy file of an option; a missing or unreadable file is reported with the option.
     *
     * @param key option name
     * @param path its value
     * @param arena owner of the memory
     * @return the tensor
     * @throws IOException on other I/O errors
     */
    static Tensor readOption(String key, Path path, Arena arena) throws IOException {
        try {
            return Npy.read(path, arena);
        } catch (NoSuchFileException e) {
            throw new CliException("--" + key + " " + path + ": no such file", e);
        } catch (AccessDeniedException e) {
            throw new CliException("--" + key + " " + path + ": permission denied", e);
        }
    }

    private static Tensor input(Args a, String key, Arena arena, DType dtype) throws IOException {
        Path path = Path.of(a.get(key));
        Tensor t = readOption(key, path, arena);
        if (dtype != null && t.dtype() != dtype) {
            throw new CliException("--" + key + " " + path + ": " + key + " must be " + dtype + " ('" + dtype.npyDescr()
                    + "'), got " + t.dtype() + " ('" + t.dtype().npyDescr() + "')");
        }
        if (dtype == null && t.dtype() == DType.FLOAT32) {
            throw new CliException("--" + key + " " + path + ": region masks must be int32 or uint8, got float32;"
                    + " convert with a.astype(np.int32)");
        }
        return t;
    }

    private static int resolveGroups(Args a, Tensor filter, Integer groupsOpt) {
        if (filter.rank() != 5) {
            return groupsOpt == null ? 1 : groupsOpt;
        }
        long g = filter.dim(0);
        if (groupsOpt != null && groupsOpt != g) {
            throw new CliException("--groups " + groupsOpt + " does not match --filter " + a.get("filter")
                    + ": its 5-D shape " + Npy.tuple(filter.shape()) + " has G = " + g + " groups");
        }
        if (g > Integer.MAX_VALUE) {
            throw new CliException("--filter " + a.get("filter") + ": " + g + " groups is too many");
        }
        return (int) g;
    }

    private static void checkKernel(Args a, Tensor filter, int[] kernel) {
        int r = filter.rank();
        if (kernel == null || r < 2) {
            return;
        }
        if (filter.dim(r - 2) != kernel[0] || filter.dim(r - 1) != kernel[1]) {
            throw new CliException("--kernel " + kernel[0] + "," + kernel[1] + " does not match --filter "
                    + a.get("filter") + " of shape " + Npy.tuple(filter.shape()) + " (kernel "
                    + filter.dim(r - 2) + "x" + filter.dim(r - 1) + ")");
        }
    }
}
