package dev.rrconv.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@link NativeLibrary}: the kernel table binding when the library lacks its functions; status mapping. */
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

    @Test
    void unsupportedStatusIsUnsupportedOperationException() {
        // RRCONV_UNSUPPORTED (2): what a forced RRCONV_KERNEL row that does not apply returns
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> NativeLibrary.get().check(2, "rrconv_forward"));
        assertTrue(e.getMessage().startsWith("rrconv_forward returned RRCONV_UNSUPPORTED: "), e.getMessage());
    }
}
