package dev.rrconv.cli;

import java.io.PrintStream;

/**
 * One sub-command of the {@code rrconv} tool. Adding a command takes a class implementing this and
 * one line in {@link Main#COMMANDS}. {@link Main} prints {@link #help()} for {@code -h}/{@code --help},
 * and turns exceptions into the one-line error and the exit code.
 */
interface Command {
    /** @return the name typed on the command line, e.g. {@code run} */
    String name();

    /** @return a one-line description for the top-level usage */
    String summary();

    /** @return the full help text: usage line, description, options (ends with a newline) */
    String help();

    /**
     * Runs the command.
     *
     * @param args the arguments after the command name (never containing -h/--help)
     * @param out standard output
     * @param err standard error (for warnings; errors are thrown)
     * @return the exit code, 0 on success
     * @throws UsageException on a bad command line (exit code 2)
     * @throws Exception on any other error (exit code 1; the message is printed)
     */
    int run(String[] args, PrintStream out, PrintStream err) throws Exception;
}
