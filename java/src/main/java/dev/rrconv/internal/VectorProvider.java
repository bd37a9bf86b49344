package dev.rrconv.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Optional;

/**
 * Decides once whether the Java backend runs its Vector API loops
 * ({@code dev.rrconv.internal.vector}) or only its scalar loops, and says why (after Lucene's
 * {@code VectorizationProvider}).
 *
 * <p>The vector loops need the incubating module {@code jdk.incubator.vector} in the module graph: the
 * JVM must be started with {@code --add-modules jdk.incubator.vector} (the {@code ./rrconv} launcher
 * does). Without it this class never touches the vector package, so the jar keeps working everywhere,
 * on the scalar loops. The module descriptor declares {@code requires static jdk.incubator.vector}.
 */
public final class VectorProvider {
    /** The module the vector loops need. */
    public static final String MODULE = "jdk.incubator.vector";

    private static final String IMPL = "dev.rrconv.internal.vector.VectorBackend";

    private static final VectorProvider INSTANCE = detect();

    private final VectorConv conv;
    private final String reason;

    private VectorProvider(VectorConv conv, String reason) {
        this.conv = conv;
        this.reason = reason;
    }

    /** @return the decision, made on first use */
    public static VectorProvider get() {
        return INSTANCE;
    }

    private static VectorProvider detect() {
        Optional<Module> vector = ModuleLayer.boot().findModule(MODULE);
        if (vector.isEmpty()) {
            return new VectorProvider(null, MODULE + " is not in the module graph (start java with --add-modules "
                    + MODULE + ")");
        }
        Module self = VectorProvider.class.getModule();
        if (!self.canRead(vector.get())) {
            return new VectorProvider(null, self + " does not read " + MODULE);
        }
        try {
            // looked up by name, as Lucene's VectorizationProvider does: nothing links the vector package
            // (or makes javadoc read it) unless the module is there
            Class<?> impl = Class.forName(IMPL, true, VectorProvider.class.getClassLoader());
            MethodHandle create = MethodHandles.lookup().findStatic(impl, "create", MethodType.methodType(VectorConv.class));
            VectorConv v = (VectorConv) create.invokeExact();
            return new VectorProvider(v, v.describe());
        } catch (UnsupportedOperationException | LinkageError | ReflectiveOperationException e) {
            return new VectorProvider(null, "the Vector API is not usable here: " + e.getMessage());
        } catch (Throwable e) {
            throw new AssertionError(e);
        }
    }

    /** @return the vector loops, if this JVM runs them */
    public Optional<VectorConv> conv() {
        return Optional.ofNullable(conv);
    }

    /**
     * @return why: the vectors used (e.g. {@code jdk.incubator.vector, 512-bit vectors (16 floats)}) when
     *     the vector loops run, else why they do not
     */
    public String reason() {
        return reason;
    }
}
