package dev.rrconv.cli;

import dev.rrconv.Backend;
import dev.rrconv.ConvParams;
import dev.rrconv.DType;
import dev.rrconv.Layout;
import dev.rrconv.Mode;
import dev.rrconv.RegionConv;
import dev.rrconv.Tensor;
import dev.rrconv.internal.NativeLibrary;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** {@code rrconv run}: one forward, backward-data or backward-filter call on {@code .npy} files. */
final class RunCommand implements Command {
    static final Set<String> OPS = Set.of("forward", "backward-data", "backward-filter");

    private static final Set<String> OPTIONS = Set.of("op", "src", "filter", "diff", "rin", "rout", "stride",
            "padding", "dilation", "groups", "mode", "kernel", "backend", "threads", "out", "layout",
            "dtype", "out-dtype");

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

                tensors (.npy files as np.save writes them: float32, float16 or float64 data (float64 is rounded
                to float32, with a note on stderr), integer or bool region masks whose values fit int32; any
                byte order, C or Fortran order):
                  --src FILE         src, data (N, IC, IH, IW)                      [forward, backward-filter]
                  --filter FILE      data (G, OCPG, ICPG, FH, FW) or (OC, ICPG, FH, FW) with --groups
                                                                                    [forward, backward-data]
                  --diff FILE        gradient of dst, data (N, OC, OH, OW)          [backward-data, backward-filter]
                  --rin FILE         input regions (N, IH, IW), int32 or uint8      [all; required]
                  --rout FILE        output regions (N, OH, OW), same dtype as rin  [all; required]
                  --out FILE         the result (required): forward dst (N, OC, OH, OW), backward-data
                                     grad src (N, IC, IH, IW), backward-filter grad filter (G, OCPG, ICPG, FH, FW).
                                     Written atomically: on any error (or Ctrl-C) it is not created, an
                                     existing file keeps its content, and no temporary file is left. It must
                                     be a regular file (a symbolic link to one is followed); an existing
                                     directory, FIFO, device or socket is refused. A replaced file keeps
                                     its permissions.
                  --layout L         nchw (default) | nhwc: channels-last files. With nhwc, --src is
                                     (N, IH, IW, IC), --diff (N, OH, OW, OC), and the forward and
                                     backward-data results are (N, OH, OW, OC) and (N, IH, IW, IC);
                                     the filter, the masks and the backward-filter result are unchanged
                  --dtype T          float32 | float16 | bfloat16: the data type of src, filter and diff
                                     (default: the files' own, which must agree; float32 for float64
                                     files). float16 files are '<f2'; NumPy has no bfloat16, so bfloat16
                                     files hold the bit patterns as uint16 '<u2' (a.view(np.uint16) of an
                                     ml_dtypes.bfloat16 array) and are read only with --dtype bfloat16.
                                     A float64, float32 (or, for bfloat16, float16) file is rounded once
                                     to T, with a note on stderr. Products and sums are float32.
                  --out-dtype T      the result's type: T of the inputs (default) or float32. A bfloat16
                                     result is written as '<u2' bit patterns
                  Input files must be regular files (a FIFO or device is refused); they are read into memory
                  once, so changing them during the run cannot affect it.

                parameters (H,W pairs; one number means both, e.g. --stride 2):
                  --op OP            forward | backward-data | backward-filter (required)
                  --stride SH,SW     stride (default 1)
                  --padding PH,PW    zero padding on each side (default 0)
                  --dilation DH,DW   filter dilation (default 1)
                  --groups G         channel groups (default: the first dimension of a 5-D filter, else 1)
                  --mode MODE        cross-correlation (default) | convolution (the filter flipped)
                  --kernel FH,FW     filter size: required by backward-filter; with a filter it must match
                  --backend B        auto (default: native where the C library loads, else java) |
                                     native (the C library; an error if it cannot be loaded) | java (pure
                                     Java: its Vector API loops when the JVM has jdk.incubator.vector, as
                                     under ./rrconv) | java-scalar (pure Java, its scalar loops)
                  --threads T        threads per call, 1..1024 (default or 0: all available processors)

                examples:
                  rrconv run --op forward --src x.npy --filter w.npy --rin rin.npy --rout rout.npy \\
                      --padding 1 --out y.npy
                  rrconv run --op backward-filter --dtype bfloat16 --out-dtype float32 --src x_bf16.npy \\
                      --diff dy_bf16.npy --kernel 3 --rin rin.npy --rout rout.npy --padding 1 --out dw.npy
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
        a.require("out", "");
        Path outPath = a.path("out");
        for (String key : List.of("src", "filter", "diff", "rin", "rout")) {
            a.path(key); // a file name Java cannot represent is a usage error before any work
        }
        int[] stride = a.pair("stride", new int[] {1, 1});
        int[] padding = a.pair("padding", new int[] {0, 0});
        int[] dilation = a.pair("dilation", new int[] {1, 1});
        int[] kernel = a.pair("kernel", null);
        Integer groupsOpt = a.has("groups") ? a.integer("groups", 1) : null;
        Mode mode = parseMode(a);
        Backend backend = parseBackend(a);
        int threads = a.integer("threads", -1);
        Layout layout = parseLayout(a);
        DType dtype = a.has("dtype") ? dataType(a, "dtype") : null;
        DType outDtype = a.has("out-dtype") ? dataType(a, "out-dtype") : null;
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
        Path target = outputTarget(outPath);
        RegionConv conv = conv(backend);

        try (Arena arena = Arena.ofConfined()) {
            DataFiles data = new DataFiles(a, dtype, arena, err);
            Tensor src = a.has("src") ? activation(a, "src", data.read("src"), layout, "(N, IH, IW, IC)") : null;
            Tensor filter = a.has("filter") ? data.read("filter") : null;
            Tensor diff = a.has("diff") ? activation(a, "diff", data.read("diff"), layout, "(N, OH, OW, OC)") : null;
            DType outputType = outputType(a, data.dtype(), outDtype);
            Tensor rin = mask(a, "rin", arena);
            Tensor rout = mask(a, "rout", arena);
            ConvParams p = base;
            if (filter != null) {
                p = base.withGroups(resolveGroups(a, filter, groupsOpt));
                checkKernel(a, filter, kernel);
            }
            long t0 = System.nanoTime();
            Tensor result;
            try {
                result = switch (op) {
                    case "forward" -> conv.forward(src, filter, rin, rout, p, layout, outputType, arena);
                    case "backward-data" -> conv.backwardData(filter, diff, rin, rout, p, layout, outputType, arena);
                    default -> conv.backwardFilter(src, diff, rin, rout, p, kernel[0], kernel[1], outputType, arena);
                };
            } catch (IllegalArgumentException e) {
                if (layout == Layout.NHWC) { // the library speaks (N, C, H, W); the files are (N, H, W, C)
                    throw new CliException(e.getMessage() + " [--layout nhwc: the library shows src, diff and their"
                            + " gradients in (N, C, H, W) order; in the files they are (N, H, W, C)]", e);
                }
                throw e;
            }
            double ms = (System.nanoTime() - t0) / 1e6;
            if (layout == Layout.NHWC && !op.equals("backward-filter")) {
                result = toFileOrder(result);
            }
            Npy.write(target, result);
            out.printf(Locale.ROOT, "wrote %s: %s %s (%s, %s backend, %.3f ms)%n", outPath, result.dtype(),
                    Npy.tuple(result.shape()), op, conv.backend().cliName(), ms);
        }
        return 0;
    }

    /**
     * The data type an option names: float32, float16 or bfloat16.
     *
     * @param a the options
     * @param key e.g. {@code dtype}
     * @return the type
     * @throws UsageException naming the option, for any other name
     */
    static DType dataType(Args a, String key) {
        String v = a.get(key, null);
        for (DType t : List.of(DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16)) {
            if (t.toString().equals(v)) {
                return t;
            }
        }
        throw new UsageException(a.command() + ": unknown --" + key + " '" + v + "'; expected float32, float16"
                + " or bfloat16");
    }

    /** The result's type: --out-dtype, which must be the inputs' type or float32, else the inputs' type. */
    private static DType outputType(Args a, DType inputs, DType requested) {
        if (requested == null) {
            return inputs;
        }
        if (requested != inputs && requested != DType.FLOAT32) {
            throw new UsageException("run: --out-dtype " + requested + " does not fit the " + inputs + " inputs"
                    + (a.has("dtype") ? " (--dtype " + inputs + ")" : " (the data files' dtype)")
                    + "; expected " + inputs + (inputs == DType.FLOAT32 ? "" : " or float32"));
        }
        return requested;
    }

    static Mode parseMode(Args a) {
        try {
            return Mode.parse(a.get("mode", Mode.CROSS_CORRELATION.cliName()));
        } catch (IllegalArgumentException e) {
            throw new UsageException(a.command() + ": --" + e.getMessage());
        }
    }

    static Layout parseLayout(Args a) {
        try {
            return Layout.parse(a.get("layout", Layout.NCHW.cliName()));
        } catch (IllegalArgumentException e) {
            throw new UsageException(a.command() + ": --" + e.getMessage());
        }
    }

    /**
     * A channels-last file's (N, H, W, C) array as the library's logical (N, C, H, W) view (no copy).
     *
     * @param a the options, to name the file
     * @param key the option that read t
     * @param t the array from the file
     * @param fileOrder e.g. {@code (N, IH, IW, IC)}
     * @return the view
     */
    static Tensor fromFileOrder(Args a, String key, Tensor t, String fileOrder) {
        if (t.rank() != 4) {
            throw new CliException("--" + key + " " + a.get(key) + ": with --layout nhwc, " + key + " must be 4-D "
                    + fileOrder + ", got shape " + Npy.tuple(t.shape()));
        }
        return t.permute(0, 3, 1, 2);
    }

    /** A logical (N, C, H, W) tensor as the (N, H, W, C) array of a channels-last file (a view; dense if t is NHWC). */
    static Tensor toFileOrder(Tensor t) {
        return t.permute(0, 2, 3, 1);
    }

    static Backend parseBackend(Args a) {
        try {
            return Backend.parse(a.get("backend", Backend.AUTO.cliName()));
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

    /** The checked file --out names (a symbolic link resolved once); a bad one is an error before any work. */
    private static Path outputTarget(Path out) {
        try {
            return Npy.target(out);
        } catch (IOException e) {
            throw new CliException("--out " + e.getMessage(), e);
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
        return loadOption(key, path, arena).tensor();
    }

    /** {@link #readOption}, telling the file's dtype. */
    static Npy.Loaded loadOption(String key, Path path, Arena arena) throws IOException {
        return loadOption(key, path, arena, null);
    }

    /** {@link #loadOption}, float data read as {@code data} (null: the file's own type). */
    static Npy.Loaded loadOption(String key, Path path, Arena arena, DType data) throws IOException {
        try {
            return Npy.load(path, arena, data);
        } catch (NoSuchFileException e) {
            throw new CliException("--" + key + " " + path + ": no such file", e);
        } catch (AccessDeniedException e) {
            throw new CliException("--" + key + " " + path + ": permission denied", e);
        } catch (NpyFormatException e) {
            throw new CliException("--" + key + " " + e.getMessage(), e); // the message starts with the path
        } catch (FileSystemException e) {
            throw new CliException("--" + key + " " + path + ": cannot read it: " + e.getReason(), e);
        } catch (IOException e) {
            throw new CliException("--" + key + " " + e.getMessage(), e);
        }
    }

    /**
     * The data files of one call (src, filter, diff), read as one type: --dtype's, or else the files'
     * own, which must then agree. A file rounded on the way in gets one note on err.
     */
    private static final class DataFiles {
        private final Args a;
        private final DType requested;
        private final Arena arena;
        private final PrintStream err;
        /** The first data option read and its file's dtype, to name in a mismatch. */
        private String firstKey;
        private Npy.Loaded first;

        DataFiles(Args a, DType requested, Arena arena, PrintStream err) {
            this.a = a;
            this.requested = requested;
            this.arena = arena;
            this.err = err;
        }

        /** Reads the file of a data option. */
        Tensor read(String key) throws IOException {
            Path path = a.path(key);
            Npy.Loaded l = loadOption(key, path, arena, requested);
            Tensor t = l.tensor();
            String descr = l.fileDescr();
            if (!t.dtype().isFloating()) {
                if (descr.endsWith("u2")) {
                    throw new CliException("--" + key + " " + path + ": " + Npy.describe(descr) + " data: rrconv"
                            + " reads uint16 data files only as bfloat16 bit patterns, with --dtype bfloat16"
                            + (requested == null ? "; pass --dtype bfloat16 if it holds bfloat16 bits"
                                    : " (got --dtype " + requested + ")"));
                }
                throw new CliException("--" + key + " " + path + ": " + key + " must be float data (float32 '<f4',"
                        + " float16 '<f2' or float64 '<f8'), got " + Npy.describe(descr)
                        + "; convert with a.astype(np.float32)");
            }
            if (first == null) {
                firstKey = key;
                first = l;
            } else if (t.dtype() != first.tensor().dtype()) { // only without --dtype
                throw new CliException("--" + key + " " + path + ": " + Npy.describe(descr) + " data, but --"
                        + firstKey + " " + a.get(firstKey) + " is " + Npy.describe(first.fileDescr())
                        + ": all data inputs of a call share one dtype; expected " + first.tensor().dtype()
                        + " like --" + firstKey + ", or pass --dtype to read them all as one type");
            }
            if (l.rounded()) {
                err.println("rrconv: note: --" + key + " " + path + ": " + Npy.describe(descr)
                        + " data rounded to " + t.dtype());
            }
            return t;
        }

        /** The data type of the call: that of the files read (float32 if none was). */
        DType dtype() {
            return first != null ? first.tensor().dtype() : requested != null ? requested : DType.FLOAT32;
        }
    }

    /** A region mask option: any integer or bool dtype whose values fit int32. */
    private static Tensor mask(Args a, String key, Arena arena) throws IOException {
        Path path = a.path(key);
        Npy.Loaded l = loadOption(key, path, arena);
        Tensor t = l.tensor();
        if (t.dtype().isFloating()) {
            throw new CliException("--" + key + " " + path + ": region masks must be integers (int32, uint8, int64,"
                    + " ... or bool), got " + Npy.describe(l.fileDescr()) + "; convert with a.astype(np.int32)");
        }
        return t;
    }

    /** src or diff, viewed as (N, C, H, W) from the file's order. */
    private static Tensor activation(Args a, String key, Tensor t, Layout layout, String nhwcOrder) {
        return layout == Layout.NHWC ? fromFileOrder(a, key, t, nhwcOrder) : t;
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
