package dev.rrconv.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.rrconv.ConvParams;
import dev.rrconv.ConvShape;
import dev.rrconv.RegionConv;
import org.junit.jupiter.api.Test;

/**
 * The choice of the Java backend's loops in this JVM (the tests run with {@code --add-modules
 * jdk.incubator.vector}; {@code PackagedJarLaunchIT} checks a JVM without it), and which problems the
 * vector loops decline.
 */
class VectorProviderTest {

    @Test
    void vectorLoopsRunWhenTheModuleIsInTheGraph() {
        assertTrue(ModuleLayer.boot().findModule(VectorProvider.MODULE).isPresent(), "tests run with the module");
        VectorProvider v = VectorProvider.get();
        assertTrue(v.conv().isPresent(), v.reason());
        assertTrue(v.reason().matches("jdk\\.incubator\\.vector, \\d+-bit vectors \\(\\d+ floats\\)"), v.reason());
        assertTrue(RegionConv.javaImplementation().equals("java_vector (" + v.reason() + ")"),
                RegionConv.javaImplementation());
    }

    @Test
    void vectorLoopsDeclineProblemsWhosePackedArraysWouldNotFit() {
        VectorConv v = VectorProvider.get().conv().orElse(null);
        assumeTrue(v != null, VectorProvider.get().reason());
        ConvParams p = ConvParams.DEFAULT.withPadding(1, 1);
        ConvShape small = ConvShape.ofForward(new long[] {2, 3, 17, 19}, new long[] {1, 4, 3, 3, 3}, p);
        assertTrue(v.appliesForward(small, p) && v.appliesBackwardData(small, p) && v.appliesBackwardFilter(small, p));
        // one 60000 x 60000 plane: 3.6e9 floats, more than a Java array holds
        ConvShape huge = ConvShape.ofForward(new long[] {1, 1, 60_000, 60_000}, new long[] {1, 1, 1, 3, 3}, p);
        assertFalse(v.appliesForward(huge, p));
        assertFalse(v.appliesBackwardData(huge, p));
        assertFalse(v.appliesBackwardFilter(huge, p));
        // small planes, but lane masks for 4096 rows x 961 taps x 64 chunks: more than Geometry allows
        ConvParams q = ConvParams.DEFAULT.withPadding(15, 15);
        ConvShape wide = ConvShape.ofForward(new long[] {1, 1, 4096, 1024}, new long[] {1, 1, 1, 31, 31}, q);
        assertFalse(v.appliesForward(wide, q));
    }
}
