package dev.rrconv.cli;

import java.io.PrintStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@code rrconv} command-line tool: {@code rrconv <command> [options]} with the commands of
 * {@link #COMMANDS} ({@code run}, {@code demo}, {@code explain}, {@code info}, {@code bench}).
 *
 * <p>Exit codes: 0 success, 1 error (bad input file, shape mismatch, unavailable native library, ...),
 * 2 bad command line. An error is one line on standard error, {@code rrconv: error: <message>},
 * with a stack trace only when the environment variable {@code RRCONV_DEBUG} is {@code 1}.
 * {@link #run} does all the work and never calls {@link System#exit}, so it can be called in-process.
 */
public final class Main {
    /** The commands by name, in the order the usage lists them. A new command is one more entry. */
    static final Map<String, Command> COMMANDS = registry(
            new RunCommand(),
            new DemoCommand(),
            new ExplainCommand(),
            new InfoCommand(),
            new BenchCommand());

    private Main() {}

    private static Map<String, Command> registry(Command... commands) {
        Map<String, Command> m = new LinkedHashMap<>();
        for (Command c : commands) {
            if (m.put(c.name(), c) != null) {
                throw new AssertionError("two commands named " + c.name());
            }
        }
        return Collections.unmodifiableMap(m);
    }

    /**
     * Runs the tool and exits with its exit code.
     *
     * @param args command line
     */
    public static void main(String[] args) {
        int code = run(args, System.out, System.err);
        System.out.flush();
        System.err.flush();
        System.exit(code);
    }

    /**
     * Runs the tool in-process.
     *
     * @param args command line, e.g. {@code {"run", "--op", "forward", ...}}
     * @param out standard output
     * @param err standard error
     * @return the exit code: 0 success, 1 error, 2 bad command line
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0) {
            err.print(usage());
            return 2;
        }
        String first = args[0];
        if (isHelp(first)) {
            out.print(usage());
            return 0;
        }
        if (first.equals("--version")) {
            out.println("rrconv " + version());
            return 0;
        }
        if (first.equals("help")) {
            if (args.length == 1) {
                out.print(usage());
                return 0;
            }
            Command c = COMMANDS.get(args[1]);
            if (c == null || args.length > 2) {
                return error(err, new UsageException(c == null ? "unknown command '" + args[1] + "'; commands: "
                        + String.join(", ", COMMANDS.keySet()) : "help takes one command name"), 2);
            }
            out.print(c.help());
            return 0;
        }
        Command command = COMMANDS.get(first);
        if (command == null) {
            return error(err, new UsageException((first.startsWith("-") ? "unknown option '" : "unknown command '")
                    + first + "'; commands: " + String.join(", ", COMMANDS.keySet()) + "; see 'rrconv --help'"), 2);
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        for (String a : rest) {
            if (isHelp(a)) {
                out.print(command.help());
                return 0;
            }
        }
        try {
            int code = command.run(rest, out, err);
            out.flush();
            return code;
        } catch (UsageException e) {
            return error(err, e, 2);
        } catch (Throwable t) {
            return error(err, t, 1);
        }
    }

    private static boolean isHelp(String a) {
        return a.equals("-h") || a.equals("--help");
    }

    private static int error(PrintStream err, Throwable t, int code) {
        err.println("rrconv: error: " + oneLine(describe(t)));
        if ("1".equals(System.getenv("RRCONV_DEBUG"))) {
            t.printStackTrace(err);
        }
        err.flush();
        return code;
    }

    private static String oneLine(String s) {
        return s.strip().replaceAll("\\s*[\\r\\n]+\\s*", " ");
    }

    /**
     * A user-facing description of an exception, without its class name where the message says
     * enough.
     *
     * @param t the exception
     * @return the message
     */
    static String describe(Throwable t) {
        String msg = t.getMessage();
        if (t instanceof NoSuchFileException e) {
            return "no such file: " + e.getFile() + (e.getReason() != null ? " (" + e.getReason() + ")" : "");
        }
        if (t instanceof AccessDeniedException e) {
            return "permission denied: " + e.getFile();
        }
        if (t instanceof FileSystemException) {
            return msg;
        }
        if (t instanceof UnsatisfiedLinkError) {
            return "native library unavailable: " + msg;
        }
        if (t instanceof OutOfMemoryError) {
            return "out of memory" + (msg != null ? ": " + msg : "") + " (give Java more with -Xmx)";
        }
        if (msg == null || msg.isBlank()) {
            return t.getClass().getSimpleName() + (t.getCause() != null ? ": " + describe(t.getCause()) : "");
        }
        if (t instanceof CliException || t instanceof UsageException || t instanceof IllegalArgumentException
                || t instanceof IllegalStateException || t instanceof java.io.IOException) {
            return msg;
        }
        return t.getClass().getSimpleName() + ": " + msg;
    }

    /**
     * @return the version from the jar's manifest (class path) or module descriptor (module path), or
     *     "(development build)" when run from classes
     */
    static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        if (v == null && Main.class.getModule().getDescriptor() != null) {
            v = Main.class.getModule().getDescriptor().rawVersion().orElse(null);
        }
        return v != null ? v : "(development build)";
    }

    /** @return the top-level usage text */
    static String usage() {
        StringBuilder sb = new StringBuilder();
        sb.append("""
                usage: rrconv <command> [options]
                       rrconv <command> --help

                Region-restricted 2-D convolution on NumPy .npy files: an output pixel (oh, ow) of image n
                only accumulates the input pixels (ih, iw) of its own region, rin[n,ih,iw] == rout[n,oh,ow].

                commands:
                """);
        for (Command c : COMMANDS.values()) {
            sb.append(String.format("  %-9s %s%n", c.name(), c.summary()));
        }
        sb.append("""

                options:
                  -h, --help   show this help; after a command, that command's help
                  --version    print the version

                Exit codes: 0 success, 1 error, 2 bad command line. Errors are one line on stderr;
                set RRCONV_DEBUG=1 for stack traces.
                """);
        return sb.toString();
    }
}
