package dev.rrconv.internal.javaimpl;

import dev.rrconv.ConvShape;

/**
 * Explicit size checks of the fast loops: each loop family states, before it runs, the array lengths and
 * int counts it will use, and the table runs it only when all of them fit. The loops themselves keep their
 * {@code Math.*Exact} arithmetic as a guard, so a size the checks missed fails loudly instead of wrapping.
 *
 * {@snippet :
 * String why = Limits.dims(s).fit("src planes (N*IC)", Limits.product(s.n(), s.ic())).why();
 * }
 */
final class Limits {
    /** The longest array the loops allocate (the VM refuses lengths a few elements below Integer.MAX_VALUE). */
    static final long MAX_ARRAY = Integer.MAX_VALUE - 8;
    /** Room for the tasks the thread count adds to a partition (4 per thread, at most 1024 threads). */
    static final long TASK_SLACK = 4L * 1024;

    private String why;

    private Limits() {}

    /**
     * Starts a check with every dimension of the problem, which the loops hold in ints.
     *
     * @param s the problem
     * @return the check so far
     */
    static Limits dims(ConvShape s) {
        return new Limits().fit("N", s.n()).fit("G", s.groups()).fit("ICPG", s.icpg()).fit("OCPG", s.ocpg())
                .fit("IH", s.ih()).fit("IW", s.iw()).fit("OH", s.oh()).fit("OW", s.ow()).fit("FH", s.fh())
                .fit("FW", s.fw());
    }

    /**
     * Adds one quantity.
     *
     * @param what what it counts, in words
     * @param count its value (saturated at {@link Long#MAX_VALUE} by {@link #product})
     * @return this check
     */
    Limits fit(String what, long count) {
        if (why == null && count > MAX_ARRAY) {
            why = what + " is " + (count == Long.MAX_VALUE ? "beyond the long range" : count)
                    + ", more than a Java array holds (" + MAX_ARRAY + ")";
        }
        return this;
    }

    /** @return null if every quantity fits, else the first one that does not, in words */
    String why() {
        return why;
    }

    /**
     * The product of non-negative factors, saturated at {@link Long#MAX_VALUE} instead of overflowing.
     *
     * @param factors non-negative values
     * @return their product, or {@link Long#MAX_VALUE} if it does not fit in a long
     */
    static long product(long... factors) {
        for (long f : factors) {
            if (f == 0) {
                return 0;
            }
        }
        long r = 1;
        for (long f : factors) {
            if (r > Long.MAX_VALUE / f) {
                return Long.MAX_VALUE;
            }
            r *= f;
        }
        return r;
    }
}
