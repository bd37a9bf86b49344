package dev.rrconv.cli;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A {@code .npy} file that {@link Npy} cannot read or write: bad magic, unsupported version or
 * dtype, Fortran order, a malformed header, truncated data, a shape too large, ... The message
 * always starts with the file's path: {@code data/x.npy: unsupported dtype '>f4' (big-endian) ...}.
 */
public final class NpyFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;

    /**
     * Creates the exception.
     *
     * @param file the file concerned
     * @param problem what is wrong with it (the message is {@code file + ": " + problem})
     */
    public NpyFormatException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    /** @return the file concerned */
    public Path file() {
        return file;
    }
}
