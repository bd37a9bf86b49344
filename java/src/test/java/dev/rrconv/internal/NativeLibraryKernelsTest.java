package dev.rrconv.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The kernel table binding of {@link NativeLibrary} when the library lacks the table's functions. */
class NativeLibraryKernelsTest {
    @Test
    void aLibraryWithoutTheTableFunctionsHasNoTable() {
        NativeLibrary lib = NativeLibrary.get();
        SymbolLookup none = name -> Optional.empty();
        assertTrue(lib.readKernels(none).isEmpty());
        // one of the two is not enough (the fake address is never called)
        SymbolLookup countOnly = name -> name.equals("rrconv_kernel_count")
                ? Optional.of(MemorySegment.ofAddress(1)) : Optional.empty();
        assertTrue(lib.readKernels(countOnly).isEmpty());
        // the library's own answer is stable: read once, then the same object
        assertEquals(lib.kernels(), lib.kernels());
    }
}
