package dev.rrconv.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A tiny option parser: {@code --key value} or {@code --key=value} for the options a command
 * declares, and {@code --flag} for its flags. Unknown options, repeated options, missing values and
 * positional arguments are {@link UsageException}s. Values may start with a single dash
 * ({@code --padding -1} reaches the range check that names the problem).
 */
final class Args {
    private final String command;
    private final Map<String, String> values = new LinkedHashMap<>();
    private final Set<String> flags = new TreeSet<>();

    private Args(String command) {
        this.command = command;
    }

    /**
     * Parses a command line.
     *
     * @param command the command's name, for messages
     * @param argv the arguments after the command name
     * @param valueOptions names (without dashes) of options that take a value
     * @param flagOptions names of options without a value
     * @return the parsed options
     * @throws UsageException on anything not declared, repeated, or a missing value
     */
    static Args parse(String command, String[] argv, Set<String> valueOptions, Set<String> flagOptions) {
        Args a = new Args(command);
        for (int i = 0; i < argv.length; i++) {
            String arg = argv[i];
            if (!arg.startsWith("--") || arg.length() == 2) {
                throw new UsageException(command + ": unexpected argument '" + arg + "'"
                        + (arg.startsWith("-") && !arg.startsWith("--") ? " (options start with --)" : "")
                        + "; see 'rrconv " + command + " --help'");
            }
            String key = arg.substring(2);
            String value = null;
            int eq = key.indexOf('=');
            if (eq >= 0) {
                value = key.substring(eq + 1);
                key = key.substring(0, eq);
            }
            if (flagOptions.contains(key)) {
                if (value != null) {
                    throw new UsageException(command + ": option --" + key + " takes no value");
                }
                if (!a.flags.add(key)) {
                    throw new UsageException(command + ": option --" + key + " given twice");
                }
                continue;
            }
            if (!valueOptions.contains(key)) {
                throw new UsageException(command + ": unknown option --" + key + suggestion(key, valueOptions, flagOptions)
                        + "; see 'rrconv " + command + " --help'");
            }
            if (value == null) {
                if (i + 1 >= argv.length || argv[i + 1].startsWith("--")) {
                    throw new UsageException(command + ": option --" + key + " needs a value");
                }
                value = argv[++i];
            }
            if (a.values.containsKey(key)) {
                throw new UsageException(command + ": option --" + key + " given twice");
            }
            a.values.put(key, value);
        }
        return a;
    }

    private static String suggestion(String key, Set<String> valueOptions, Set<String> flagOptions) {
        List<String> all = new ArrayList<>(new TreeSet<>(valueOptions));
        all.addAll(flagOptions);
        String best = null;
        int bestDist = 3;
        for (String o : all) {
            int d = distance(key, o);
            if (d < bestDist) {
                best = o;
                bestDist = d;
            }
        }
        if (best == null && key.length() >= 3) {
            for (String o : all) {
                if (o.startsWith(key)) {
                    best = o;
                    break;
                }
            }
        }
        return best == null ? "" : " (did you mean --" + best + "?)";
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** @return the command name given to {@link #parse} */
    String command() {
        return command;
    }

    /**
     * @param key option name
     * @return whether the option (or flag) was given
     */
    boolean has(String key) {
        return values.containsKey(key) || flags.contains(key);
    }

    /**
     * @param key flag name
     * @return whether the flag was given
     */
    boolean flag(String key) {
        return flags.contains(key);
    }

    /**
     * @param key option name
     * @return its value, or null if absent
     */
    String get(String key) {
        return values.get(key);
    }

    /**
     * @param key option name
     * @param dflt the value if absent
     * @return its value or dflt
     */
    String get(String key, String dflt) {
        return values.getOrDefault(key, dflt);
    }

    /**
     * The value of a file option as a path, exactly the bytes given on the command line.
     *
     * <p>Java decodes the command line and encodes file names in the locale's charset
     * ({@code sun.jnu.encoding}, fixed when the JVM starts); bytes that charset cannot decode (e.g.
     * a name that is not valid UTF-8 under a UTF-8 locale, or any non-ASCII name under {@code LC_ALL=C})
     * arrive as U+FFFD and cannot be turned back into the original name. Such a value is refused
     * rather than silently naming another file.
     *
     * @param key option name
     * @return its value as a path, or null if absent
     * @throws UsageException naming the option if the value cannot be a path unchanged
     */
    java.nio.file.Path path(String key) {
        String v = values.get(key);
        if (v == null) {
            return null;
        }
        String enc = System.getProperty("sun.jnu.encoding", "the locale's");
        if (v.indexOf('\uFFFD') >= 0) {
            throw new UsageException(command + ": --" + key + " '" + v + "': the file name has bytes that are not"
                    + " valid " + enc + " (the locale's encoding for file names), which Java cannot pass on"
                    + " unchanged; rename the file, or run under a locale whose encoding the name is in (e.g. LC_ALL=C.UTF-8"
                    + " for UTF-8 names)");
        }
        try {
            return java.nio.file.Path.of(v);
        } catch (java.nio.file.InvalidPathException e) {
            throw new UsageException(command + ": --" + key + " '" + v + "': not a file name under the locale's"
                    + " encoding " + enc + " (" + e.getReason() + "); use a UTF-8 locale, e.g. LC_ALL=C.UTF-8");
        }
    }

    /**
     * @param key option name
     * @param why appended to the message, e.g. "(forward reads --src and --filter)"
     * @return its value
     * @throws UsageException if absent
     */
    String require(String key, String why) {
        String v = values.get(key);
        if (v == null) {
            throw new UsageException(command + ": missing option --" + key + (why.isEmpty() ? "" : " " + why)
                    + "; see 'rrconv " + command + " --help'");
        }
        return v;
    }

    /**
     * @param key option name
     * @param why appended to the message
     * @throws UsageException if the option was given
     */
    void forbid(String key, String why) {
        if (has(key)) {
            throw new UsageException(command + ": option --" + key + " " + why);
        }
    }

    /**
     * An integer option.
     *
     * @param key option name
     * @param dflt the value if absent
     * @return the value
     */
    int integer(String key, int dflt) {
        String v = values.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            return Integer.parseInt(v.strip());
        } catch (NumberFormatException e) {
            throw new UsageException(command + ": --" + key + ": expected an integer, got '" + v + "'");
        }
    }

    /**
     * An (H, W) pair: {@code "2"} means {@code (2, 2)}, {@code "2,3"} means {@code (2, 3)}.
     *
     * @param key option name
     * @param dflt the value if absent (may be null)
     * @return the pair, or dflt
     */
    int[] pair(String key, int[] dflt) {
        String v = values.get(key);
        if (v == null) {
            return dflt;
        }
        long[] l = parseLongs(key, v, "an integer or two comma-separated integers H,W");
        if (l.length != 1 && l.length != 2) {
            throw new UsageException(command + ": --" + key + ": expected an integer or two comma-separated"
                    + " integers H,W, got '" + v + "'");
        }
        int[] r = new int[2];
        for (int k = 0; k < 2; k++) {
            long x = l[Math.min(k, l.length - 1)];
            if (x != (int) x) {
                throw new UsageException(command + ": --" + key + ": value " + x + " is out of range");
            }
            r[k] = (int) x;
        }
        return r;
    }

    /**
     * A comma-separated list of integers with a fixed set of allowed lengths.
     *
     * @param key option name
     * @param what what the list means, for messages, e.g. "N,IC,IH,IW"
     * @param lengths allowed lengths
     * @return the list, or null if absent
     */
    long[] longs(String key, String what, int... lengths) {
        String v = values.get(key);
        if (v == null) {
            return null;
        }
        long[] l = parseLongs(key, v, what);
        for (int n : lengths) {
            if (l.length == n) {
                return l;
            }
        }
        throw new UsageException(command + ": --" + key + ": expected " + what + ", got '" + v + "'");
    }

    /**
     * Parses a comma-separated list of integers.
     *
     * @param key option name, for messages
     * @param v the text
     * @param what the expected form, for messages
     * @return the numbers
     */
    long[] parseLongs(String key, String v, String what) {
        String[] parts = v.split(",", -1);
        long[] r = new long[parts.length];
        for (int k = 0; k < parts.length; k++) {
            try {
                r[k] = Long.parseLong(parts[k].strip());
            } catch (NumberFormatException e) {
                throw new UsageException(command + ": --" + key + ": expected " + what + ", got '" + v + "'");
            }
        }
        return r;
    }
}
