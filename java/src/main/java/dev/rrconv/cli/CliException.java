package dev.rrconv.cli;

/** An error whose message is ready for the user (bad input data, unavailable backend, ...): exit code 1. */
final class CliException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    CliException(String message) {
        super(message);
    }

    CliException(String message, Throwable cause) {
        super(message, cause);
    }
}
