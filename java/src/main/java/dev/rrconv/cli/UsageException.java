package dev.rrconv.cli;

/** A command line that does not parse (unknown, missing, repeated or malformed option): exit code 2. */
final class UsageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
        super(message);
    }
}
