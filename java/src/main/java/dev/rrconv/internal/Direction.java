package dev.rrconv.internal;

/** The three directions of the operator, named as the C library's kernel table and verbose lines name them. */
public enum Direction {
    /** dst from src and filter. */
    FORWARD("forward"),
    /** grad src from filter and diff. */
    BACKWARD_DATA("backward_data"),
    /** grad filter from src and diff. */
    BACKWARD_FILTER("backward_filter");

    private final String id;

    Direction(String id) {
        this.id = id;
    }

    /** @return the name the tables and verbose lines use, e.g. {@code backward_data} */
    public String id() {
        return id;
    }
}
