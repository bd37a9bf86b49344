/**
 * rrconv: region-restricted 2-D convolution (forward, backward data, backward filter) computed by a
 * bundled C library through {@code java.lang.foreign}, or by a pure-Java backend.
 *
 * <p>Only {@code dev.rrconv} is exported: {@link dev.rrconv.RegionConv} (the operator),
 * {@link dev.rrconv.RegionConvLayer} (filter and bias for training code), {@link dev.rrconv.Tensor} and
 * their parameter types. The backends, the native binding and the
 * command-line tool live in packages that are not exported.
 *
 * <p>The native backend calls restricted methods of {@code java.lang.foreign}; grant this module
 * native access to run it without a warning:
 * <ul>
 * <li>module path: {@code java --enable-native-access=dev.rrconv -p rrconv-0.1.0.jar ...};</li>
 * <li>class path: {@code java --enable-native-access=ALL-UNNAMED -cp ...}, or {@code java -jar}, which
 * reads {@code Enable-Native-Access: ALL-UNNAMED} from the jar's manifest.</li>
 * </ul>
 * <p>The pure-Java backend runs its Vector API loops when the incubating module
 * {@code jdk.incubator.vector} is in the module graph: add {@code --add-modules jdk.incubator.vector} to
 * the {@code java} command (the JDK then prints {@code WARNING: Using incubator modules:
 * jdk.incubator.vector} on stderr). Without it the backend runs its scalar loops.
 * The command-line tool runs as {@code java --enable-native-access=dev.rrconv -p rrconv-0.1.0.jar -m dev.rrconv info}.
 */
module dev.rrconv {
    requires java.management; // rrconv bench: waits for the JIT compiler to go quiet before timing
    // the Java backend's vector loops, used only when the JVM runs with --add-modules jdk.incubator.vector
    requires static jdk.incubator.vector;

    exports dev.rrconv;
}
