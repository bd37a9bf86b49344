package dev.rrconv.cli;

import dev.rrconv.DType;
import dev.rrconv.Tensor;
import dev.rrconv.internal.HalfFloats;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Reads and writes NumPy {@code .npy} files holding the tensor types of rrconv: float32 ({@code '<f4'}),
 * float16 ({@code '<f2'}), bfloat16 (its bit patterns as {@code '<u2'}, NumPy having no bfloat16),
 * int32 ({@code '<i4'}) and uint8 ({@code '|u1'} or {@code '<u1'}).
 *
 * <p>{@link #read} accepts format versions 1.0, 2.0 and 3.0 of a regular file and reads the data into
 * memory of an {@link Arena} (never a mapping of the file, which a truncation from another process would
 * turn into a crash). It also reads the other arrays {@code np.save} writes that have a lossless or
 * float32 meaning ({@link #load}): float64, either byte order, Fortran order, and integer or bool arrays
 * whose values fit int32. Any other content (another dtype, a bad magic string, a malformed header,
 * truncated data, a shape whose byte size overflows, an integer that does not fit) is reported by a
 * {@link NpyFormatException} whose message starts with the file's path.
 *
 * <p>{@link #write} writes version 1.0, byte for byte as {@code numpy.save} does, into a temporary file
 * in the target's folder that is then atomically renamed: on any error the target is left untouched
 * (absent or with its previous content), never partially written, and no temporary file is left
 * behind. It writes only regular files: an existing target that is a directory, FIFO, device or
 * socket is refused ({@link #target}).
 */
public final class Npy {
    /** The six magic bytes every {@code .npy} file starts with. */
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** numpy aligns the start of the data to this many bytes. */
    private static final int ARRAY_ALIGN = 64;
    /** numpy pads the header so that the first dimension can grow to this many digits in place. */
    private static final int GROWTH_AXIS_MAX_DIGITS = 21;
    /** Larger headers are refused (numpy itself refuses over 10000 bytes by default). */
    private static final int MAX_HEADER_BYTES = 1 << 20;
    private static final boolean LITTLE_ENDIAN_HOST = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
    /** Deeper nesting of tuples and lists in a header is refused (a structured dtype needs a few levels). */
    private static final int MAX_NESTING = 32;
    /** Bytes per write call. */
    private static final long CHUNK = 1L << 30;

    private Npy() {}

    // ---- reading --------------------------------------------------------------------------------

    /**
     * Reads a {@code .npy} file into a dense tensor whose memory belongs to {@code arena}: one copy of
     * the data, so that whatever happens to the file afterwards cannot affect the tensor. A FIFO, device
     * or socket is refused at once (never read, so never waited on).
     *
     * @param path the file
     * @param arena owner of the tensor's memory
     * @return the tensor, dtype float32, int32 or uint8; C-order strides, or column-major ones for a
     *     Fortran-order file (see {@link #load} for the dtypes converted)
     * @throws NpyFormatException if the file is not a {@code .npy} file rrconv can use; the message
     *     names the file and the problem
     * @throws IOException if the file cannot be read (e.g. {@link NoSuchFileException})
     */
    public static Tensor read(Path path, Arena arena) throws IOException {
        return load(path, arena).tensor();
    }

    /**
     * A tensor read by {@link #load}, and the dtype the file stores it in ({@code '<f8'} for float64
     * data converted to float32, {@code '<f4'} for plain float32 data, ...).
     *
     * @param tensor the values
     * @param fileDescr the file's {@code descr}
     */
    public record Loaded(Tensor tensor, String fileDescr) {
        /**
         * @return whether float data lost precision on the way in: float64 rounded to float32 or a
         *     16-bit type, float32 to a 16-bit type, float16 to bfloat16
         */
        public boolean rounded() {
            DType t = tensor.dtype();
            return fileDescr.endsWith("f8")
                    || (fileDescr.endsWith("f4") && (t == DType.FLOAT16 || t == DType.BFLOAT16))
                    || (fileDescr.endsWith("f2") && t == DType.BFLOAT16);
        }
    }

    /**
     * Reads a {@code .npy} file as {@link #read} does, telling the dtype the file stores.
     *
     * <p>Besides float32, int32 and uint8 it reads what {@code np.save} writes for other ordinary
     * arrays: float64 (rounded to float32), any byte order, Fortran order (a tensor with column-major
     * strides, no extra copy), and int8/int16/int64/uint16/uint32/uint64/bool arrays as int32 when every
     * value fits (a value that does not is an error naming the file, its index and the value).
     *
     * @param path the file
     * @param arena owner of the tensor's memory
     * @return the tensor and the file's dtype
     * @throws NpyFormatException if the file is not a {@code .npy} file rrconv can use
     * @throws IOException if the file cannot be read
     */
    public static Loaded load(Path path, Arena arena) throws IOException {
        return load(path, arena, null);
    }

    /**
     * Reads a {@code .npy} file as {@link #load(Path, Arena)} does, float data as the given type.
     *
     * <p>With {@code data} non-null, a float file (float16, float32 or float64) is read as {@code data},
     * each value rounded once (to nearest even) where that type is narrower, and with {@code data}
     * bfloat16 a {@code uint16} file is read as bfloat16 bit patterns. Integer and bool files are read
     * as without it.
     *
     * @param path the file
     * @param arena owner of the tensor's memory
     * @param data the type to read float data as, or null for the file's own (float64 as float32)
     * @return the tensor and the file's dtype
     * @throws NpyFormatException if the file is not a {@code .npy} file rrconv can use
     * @throws IOException if the file cannot be read
     */
    public static Loaded load(Path path, Arena arena, DType data) throws IOException {
        if (data != null && !data.isFloating()) {
            throw new IllegalArgumentException("data type " + data + " is not a float type");
        }
        BasicFileAttributes attrs = Files.readAttributes(path, BasicFileAttributes.class);
        if (attrs.isDirectory()) {
            throw new NpyFormatException(path, "is a directory, not a .npy file");
        }
        if (!attrs.isRegularFile()) {
            // Opening a FIFO would block until a writer comes; a device has no size to check.
            throw new NpyFormatException(path, "is " + kind(path) + ", not a regular file; rrconv reads .npy"
                    + " files only from regular files (save the array to a file first)");
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            return read(path, ch, arena, data);
        } catch (NpyFormatException | NoSuchFileException | AccessDeniedException e) {
            throw e;
        } catch (IOException e) {
            throw new IOException(path + ": cannot read it: " + Main.describe(e), e);
        }
    }

    private static Loaded read(Path path, FileChannel ch, Arena arena, DType data) throws IOException {
        long size = ch.size();
        byte[] pre = readBytes(path, ch, 0, (int) Math.min(size, 12));
        if (pre.length < MAGIC.length || !Arrays.equals(pre, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            throw new NpyFormatException(path, "not a .npy file (it does not start with the magic \\x93NUMPY"
                    + (size < MAGIC.length ? "; it has only " + size + " bytes" : "") + ")");
        }
        if (pre.length < 8) {
            throw new NpyFormatException(path, "truncated .npy header (" + size + " bytes)");
        }
        int major = Byte.toUnsignedInt(pre[6]);
        int minor = Byte.toUnsignedInt(pre[7]);
        if ((major != 1 && major != 2 && major != 3) || minor != 0) {
            throw new NpyFormatException(path, "unsupported .npy format version " + major + "." + minor
                    + " (rrconv reads 1.0, 2.0 and 3.0)");
        }
        int lenBytes = major == 1 ? 2 : 4;
        int prelude = 8 + lenBytes;
        if (size < prelude) {
            throw new NpyFormatException(path, "truncated .npy header (" + size + " bytes)");
        }
        ByteBuffer lb = ByteBuffer.wrap(pre, 8, lenBytes).order(ByteOrder.LITTLE_ENDIAN);
        long headerLen = major == 1 ? Short.toUnsignedInt(lb.getShort()) : Integer.toUnsignedLong(lb.getInt());
        if (headerLen > size - prelude) {
            throw new NpyFormatException(path, "truncated .npy header: it declares " + headerLen
                    + " header bytes but only " + (size - prelude) + " follow");
        }
        if (headerLen > MAX_HEADER_BYTES) {
            throw new NpyFormatException(path, "the .npy header of " + headerLen + " bytes is too large");
        }
        byte[] raw = readBytes(path, ch, prelude, (int) headerLen);
        String text = decodeHeader(path, raw, major);
        Header h = parseHeader(path, text);
        if (data != null && (h.type.kind == 'f' || (data == DType.BFLOAT16 && h.type.kind == 'u' && h.type.size == 2))) {
            h = new Header(h.type.as(data), h.fortran, h.shape);
        }

        long count = 1;
        long bytes;
        try {
            for (long d : h.shape) {
                count = Math.multiplyExact(count, d);
            }
            bytes = Math.multiplyExact(count, (long) h.type.size);
            Math.multiplyExact(count, (long) h.type.target.byteSize());
        } catch (ArithmeticException e) {
            throw new NpyFormatException(path, "shape " + tuple(h.shape) + " is too large: its byte size"
                    + " overflows 64 bits");
        }
        long dataOffset = prelude + headerLen;
        long available = size - dataOffset;
        if (bytes > available) {
            throw new NpyFormatException(path, "truncated data: shape " + tuple(h.shape) + " of " + h.type.name
                    + " needs " + bytes + " bytes but only " + available + " follow the header");
        }
        if (count == 0) {
            return new Loaded(Tensor.allocate(arena, h.type.target, h.shape), h.type.descr);
        }
        // A copy the arena owns, never a mapping of the file: a file truncated or rewritten while a
        // native call reads a mapping would kill the JVM with SIGBUS. The one copy is the tensor itself;
        // a conversion goes through a small buffer.
        long outBytes = count * h.type.target.byteSize();
        MemorySegment seg;
        try {
            seg = arena.allocate(outBytes, 64);
        } catch (OutOfMemoryError e) {
            throw new IOException(path + ": out of memory for its " + outBytes + " bytes of data", e);
        }
        if (h.type.isNative()) {
            readFully(path, ch, dataOffset, seg);
        } else {
            convert(path, ch, dataOffset, h, count, seg);
        }
        long[] strides = h.fortran ? fortranStrides(h.shape) : Tensor.denseStrides(h.shape);
        return new Loaded(Tensor.ofStrided(seg, h.type.target, h.shape, strides), h.type.descr);
    }

    /** Column-major strides: the first dimension varies fastest. */
    private static long[] fortranStrides(long[] shape) {
        long[] st = new long[shape.length];
        long s = 1;
        for (int k = 0; k < shape.length; k++) {
            st[k] = s;
            s *= shape[k];
        }
        return st;
    }

    /** Bytes read per step of a conversion. */
    private static final int CONVERT_CHUNK = 1 << 16;

    /** Reads count elements of the file's type at position, converted to the tensor's type, into seg. */
    private static void convert(Path path, FileChannel ch, long position, Header h, long count, MemorySegment seg)
            throws IOException {
        StoredType t = h.type;
        ByteBuffer buf = ByteBuffer.allocate(CONVERT_CHUNK).order(t.order);
        long pos = position;
        for (long i = 0; i < count; ) {
            int n = (int) Math.min(count - i, CONVERT_CHUNK / t.size);
            buf.clear().limit(n * t.size);
            while (buf.hasRemaining()) {
                int r = ch.read(buf, pos + buf.position());
                if (r < 0) {
                    throw shrank(path, position + count * t.size, pos + buf.position());
                }
            }
            buf.flip();
            for (int k = 0; k < n; k++, i++) {
                switch (t.target) {
                    case FLOAT32 -> seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) t.real(buf));
                    case FLOAT16, BFLOAT16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT, i, t.kind == 'u'
                            ? buf.getShort() : roundToHalf(t.real(buf), t.target));
                    case UINT8 -> seg.set(ValueLayout.JAVA_BYTE, i, buf.get());
                    default -> seg.setAtIndex(ValueLayout.JAVA_INT, i, toInt(path, h, i, t.integer(buf)));
                }
            }
            pos += (long) n * t.size;
        }
    }

    /**
     * A double rounded once, to nearest even, to float16 or bfloat16: its bits. Scaling by the target's
     * unit in the last place at the value's exponent (an exact power of two) and {@link Math#rint}
     * round once, subnormals and overflow to infinity included; the result is exact in float32, whose
     * conversion to the 16-bit type then loses nothing. (Going through float32 would round twice.)
     *
     * @param x the value
     * @param type FLOAT16 or BFLOAT16
     * @return the bit pattern
     */
    static short roundToHalf(double x, DType type) {
        boolean f16 = type == DType.FLOAT16;
        int minExp = f16 ? -14 : -126;
        int fractionBits = f16 ? 10 : 7;
        double max = f16 ? 65504.0 : Math.scalb(2.0 - Math.scalb(1.0, -7), 127);
        double r = x;
        if (Double.isFinite(x)) {
            double ulp = Math.scalb(1.0, Math.max(Math.getExponent(x), minExp) - fractionBits);
            r = Math.rint(x / ulp) * ulp;
            if (Math.abs(r) > max) {
                r = Math.copySign(Double.POSITIVE_INFINITY, x);
            }
        }
        return HalfFloats.fromFloat(type, (float) r);
    }

    private static int toInt(Path path, Header h, long i, long v) throws NpyFormatException {
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE || (h.type.kind == 'u' && h.type.size == 8 && v < 0)) {
            String value = h.type.kind == 'u' ? Long.toUnsignedString(v) : Long.toString(v);
            throw new NpyFormatException(path, "value " + value + " at index " + index(h, i) + " does not fit int32;"
                    + " rrconv reads " + h.type.name + " arrays as int32 region masks, so every value must lie in"
                    + " -2147483648..2147483647 (relabel the regions, e.g. np.unique(a, return_inverse=True))");
        }
        return (int) v;
    }

    /** The index tuple of the i-th element in the file (C or Fortran order). */
    private static String index(Header h, long i) {
        long[] idx = new long[h.shape.length];
        long rest = i;
        for (int n = 0; n < idx.length; n++) {
            int k = h.fortran ? n : idx.length - 1 - n;
            idx[k] = rest % h.shape[k];
            rest /= h.shape[k];
        }
        return tuple(idx);
    }

    /** What a path that is not a regular file is, for messages: "a FIFO", "a character device", ... */
    static String kind(Path path) {
        try {
            int type = (Integer) Files.getAttribute(path, "unix:mode") & 0170000;
            return switch (type) {
                case 0010000 -> "a FIFO (named pipe)";
                case 0020000 -> "a character device";
                case 0040000 -> "a directory";
                case 0060000 -> "a block device";
                case 0140000 -> "a socket";
                default -> "not a regular file";
            };
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "a special file";
        }
    }

    private static byte[] readBytes(Path path, FileChannel ch, long position, int n) throws IOException {
        byte[] b = new byte[n];
        ByteBuffer buf = ByteBuffer.wrap(b);
        long pos = position;
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos);
            if (r < 0) {
                throw shrank(path, position + n, pos);
            }
            pos += r;
        }
        return b;
    }

    private static void readFully(Path path, FileChannel ch, long position, MemorySegment seg) throws IOException {
        for (long off = 0; off < seg.byteSize(); off += CHUNK) {
            ByteBuffer buf = seg.asSlice(off, Math.min(CHUNK, seg.byteSize() - off)).asByteBuffer();
            long pos = position + off;
            while (buf.hasRemaining()) {
                int r = ch.read(buf, pos);
                if (r < 0) {
                    throw shrank(path, position + seg.byteSize(), pos);
                }
                pos += r;
            }
        }
    }

    private static NpyFormatException shrank(Path path, long needed, long got) {
        return new NpyFormatException(path, "the file ended at byte " + got + " while it was being read ("
                + needed + " bytes needed): it was truncated or rewritten meanwhile");
    }

    private static String decodeHeader(Path path, byte[] raw, int major) throws NpyFormatException {
        if (major < 3) {
            return new String(raw, StandardCharsets.ISO_8859_1);
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(raw)).toString();
        } catch (CharacterCodingException e) {
            throw new NpyFormatException(path, "the version 3.0 header is not valid UTF-8");
        }
    }

    /** The three keys of a {@code .npy} header. */
    private record Header(StoredType type, boolean fortran, long[] shape) {}

    /**
     * A dtype as the file stores it, e.g. {@code '>f8'}, and the tensor type rrconv reads it as.
     *
     * @param descr the header's descr
     * @param order the byte order of its elements
     * @param kind 'f', 'i', 'u' or 'b'
     * @param size bytes per element
     * @param name NumPy's name of it (float64, ...)
     * @param target the tensor's dtype
     */
    private record StoredType(String descr, ByteOrder order, char kind, int size, String name, DType target) {
        /** Whether the bytes are the tensor's as they are (no conversion, no byte swap). */
        boolean isNative() {
            boolean same = switch (target) {
                case FLOAT32 -> kind == 'f' && size == 4;
                case FLOAT16 -> kind == 'f' && size == 2;
                case BFLOAT16 -> kind == 'u' && size == 2;
                case INT32 -> kind == 'i' && size == 4;
                case UINT8 -> kind == 'u' && size == 1;
            };
            return same && (size == 1 || order == ByteOrder.nativeOrder());
        }

        /** This stored type read as another tensor type. */
        StoredType as(DType other) {
            return new StoredType(descr, order, kind, size, name, other);
        }

        /** The next element of a float buffer, as a double. */
        double real(ByteBuffer b) {
            return switch (size) {
                case 2 -> Float.float16ToFloat(b.getShort());
                case 4 -> b.getFloat();
                default -> b.getDouble();
            };
        }

        /** The next element of an integer or bool buffer, as a long (uint64 as its bits). */
        long integer(ByteBuffer b) {
            return switch (size) {
                case 1 -> kind == 'i' ? b.get() : Byte.toUnsignedLong(b.get());
                case 2 -> kind == 'i' ? b.getShort() : Short.toUnsignedLong(b.getShort());
                case 4 -> kind == 'i' ? b.getInt() : Integer.toUnsignedLong(b.getInt());
                default -> b.getLong();
            };
        }
    }

    private static Header parseHeader(Path path, String text) throws NpyFormatException {
        Map<String, Object> dict = new LiteralParser(path, text).parseHeaderDict();
        for (String key : List.of("descr", "fortran_order", "shape")) {
            if (!dict.containsKey(key)) {
                throw new NpyFormatException(path, "malformed .npy header: no '" + key + "' key in " + quoted(text));
            }
        }
        if (dict.size() != 3) {
            List<String> extra = new ArrayList<>(dict.keySet());
            extra.removeAll(List.of("descr", "fortran_order", "shape"));
            throw new NpyFormatException(path, "malformed .npy header: unexpected key(s) " + extra);
        }
        Object descr = dict.get("descr");
        if (!(descr instanceof String d)) {
            throw new NpyFormatException(path, "unsupported dtype " + LiteralParser.show(descr)
                    + " (a structured dtype); rrconv reads float32 '<f4', int32 '<i4' and uint8 '|u1'");
        }
        StoredType type = dtypeOf(path, d);
        Object fortran = dict.get("fortran_order");
        if (!(fortran instanceof Boolean f)) {
            throw new NpyFormatException(path, "malformed .npy header: fortran_order is "
                    + LiteralParser.show(fortran) + ", not True or False");
        }
        Object shape = dict.get("shape");
        if (!(shape instanceof long[] s)) {
            throw new NpyFormatException(path, "malformed .npy header: shape is " + LiteralParser.show(shape)
                    + ", not a tuple of integers");
        }
        return new Header(type, f, s);
    }

    private static StoredType dtypeOf(Path path, String descr) throws NpyFormatException {
        String name = descr.length() >= 2 ? typeName(descr.substring(1)) : null;
        char order = descr.isEmpty() ? '?' : descr.charAt(0);
        if (name != null && (order == '<' || order == '>' || order == '|' || order == '=')
                && descr.substring(2).matches("[0-9]{1,2}")) {
            char kind = descr.charAt(1);
            int size = Integer.parseInt(descr.substring(2));
            DType target = switch (kind) {
                case 'f' -> size == 2 ? DType.FLOAT16 : size == 4 || size == 8 ? DType.FLOAT32 : null;
                case 'u' -> size == 1 ? DType.UINT8 : size <= 8 ? DType.INT32 : null;
                case 'i', 'b' -> size <= 8 ? DType.INT32 : null;
                default -> null;
            };
            if (target != null && (order != '|' || size == 1)) {
                ByteOrder bo = order == '>' ? ByteOrder.BIG_ENDIAN
                        : order == '=' ? ByteOrder.nativeOrder() : ByteOrder.LITTLE_ENDIAN;
                return new StoredType(descr, bo, kind, size, name, target);
            }
        }
        throw new NpyFormatException(path, "unsupported dtype '" + printable(descr) + "'"
                + (name != null ? " (" + name + ")" : "") + "; rrconv reads float16, float32 and float64 data"
                + " (and bfloat16 bits stored as uint16 with --dtype bfloat16) and integer"
                + " or bool region masks; convert it, e.g. a.astype(np.float32) for data or a.astype(np.int32) for"
                + " a region mask");
    }

    /**
     * A dtype for messages: {@code float64 ('<f8')}.
     *
     * @param descr a {@code .npy} descr
     * @return its NumPy name and the descr
     */
    static String describe(String descr) {
        String name = descr.length() >= 2 ? typeName(descr.substring(1)) : null;
        return (name != null ? name + " " : "") + "('" + printable(descr) + "')";
    }

    private static String typeName(String code) {
        return switch (code) {
            case "f2" -> "float16";
            case "f4" -> "float32";
            case "f8" -> "float64";
            case "f16" -> "float128";
            case "i1" -> "int8";
            case "i2" -> "int16";
            case "i4" -> "int32";
            case "i8" -> "int64";
            case "u1" -> "uint8";
            case "u2" -> "uint16";
            case "u4" -> "uint32";
            case "u8" -> "uint64";
            case "b1" -> "bool";
            case "c8" -> "complex64";
            case "c16" -> "complex128";
            case "O" -> "object";
            default -> null;
        };
    }

    private static String quoted(String text) {
        String t = text.strip();
        return "\"" + printable(t.length() > 120 ? t.substring(0, 120) + "..." : t) + "\"";
    }

    /** s with control characters (a NUL, a newline, ...) written as Python escapes such as {@code \x00}. */
    static String printable(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int k = 0; k < s.length(); k++) {
            char c = s.charAt(k);
            if (c < 0x20 || c == 0x7f) {
                sb.append(String.format(java.util.Locale.ROOT, "\\x%02x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /**
     * Parses the Python literal of a {@code .npy} header: a dict of str keys whose values are strs,
     * True/False, tuples of non-negative ints, or (for structured dtypes) lists.
     */
    private static final class LiteralParser {
        private final Path path;
        private final String s;
        private int i;
        /** How many tuples and lists enclose the current position. */
        private int depth;

        LiteralParser(Path path, String s) {
            this.path = path;
            this.s = s;
        }

        static String show(Object v) {
            if (v instanceof long[] a) {
                return tuple(a);
            }
            if (v instanceof String str) {
                return "'" + printable(str) + "'";
            }
            if (v instanceof List<?> l) {
                return "a sequence of " + l.size() + " items";
            }
            return String.valueOf(v);
        }

        private NpyFormatException error(String what) {
            return new NpyFormatException(path, "malformed .npy header: " + what + " at character " + i + " of "
                    + quoted(s));
        }

        private void skipSpace() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private boolean peek(char c) {
            skipSpace();
            return i < s.length() && s.charAt(i) == c;
        }

        private void expect(char c) throws NpyFormatException {
            if (!peek(c)) {
                throw error("expected '" + c + "'");
            }
            i++;
        }

        Map<String, Object> parseHeaderDict() throws NpyFormatException {
            Map<String, Object> dict = new LinkedHashMap<>();
            expect('{');
            while (!peek('}')) {
                Object key = value();
                if (!(key instanceof String k)) {
                    throw error("a dict key that is not a string");
                }
                expect(':');
                Object v = value();
                if (dict.put(k, v) != null) {
                    throw error("key '" + k + "' given twice");
                }
                if (!peek('}')) {
                    expect(',');
                }
            }
            i++;
            skipSpace();
            if (i != s.length()) {
                throw error("unexpected text after the dict");
            }
            return dict;
        }

        private Object value() throws NpyFormatException {
            skipSpace();
            if (i >= s.length()) {
                throw error("unexpected end");
            }
            char c = s.charAt(i);
            if (c == '\'' || c == '"') {
                int end = s.indexOf(c, i + 1);
                if (end < 0) {
                    throw error("unterminated string");
                }
                String v = s.substring(i + 1, end);
                i = end + 1;
                return v;
            }
            if (c == '(' || c == '[') {
                if (depth == MAX_NESTING) {
                    throw error("tuples or lists nested more than " + MAX_NESTING + " deep");
                }
                char close = c == '(' ? ')' : ']';
                i++;
                depth++;
                List<Object> items = new ArrayList<>();
                while (!peek(close)) {
                    items.add(value());
                    if (!peek(close)) {
                        expect(',');
                    }
                }
                i++;
                depth--;
                if (c == '[') {
                    return items;
                }
                long[] dims = new long[items.size()];
                for (int k = 0; k < dims.length; k++) {
                    if (!(items.get(k) instanceof Long d)) {
                        return items; // not a shape (e.g. a field of a structured dtype)
                    }
                    dims[k] = d;
                }
                return dims;
            }
            if (s.startsWith("True", i)) {
                i += 4;
                return Boolean.TRUE;
            }
            if (s.startsWith("False", i)) {
                i += 5;
                return Boolean.FALSE;
            }
            if (c >= '0' && c <= '9') {
                int start = i;
                while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
                    i++;
                }
                String digits = s.substring(start, i);
                if (i < s.length() && s.charAt(i) == 'L') {
                    i++; // Python 2 long
                }
                try {
                    return Long.parseLong(digits);
                } catch (NumberFormatException e) {
                    throw new NpyFormatException(path, "shape dimension " + digits + " is too large");
                }
            }
            if (c == '-') {
                throw error("a negative number");
            }
            throw error("unexpected '" + c + "'");
        }
    }

    // ---- writing --------------------------------------------------------------------------------

    /**
     * The file {@link #write} creates or replaces for {@code path}, checked: {@code path} itself, or
     * the file a symbolic link at {@code path} leads to (resolved here, once). Call it before the work
     * whose result is to be written, so that a bad target is reported first.
     *
     * @param path the file named by the user
     * @return the absolute path to write
     * @throws IOException naming {@code path} if it cannot be written as a regular file: it exists and
     *     is not one (a directory, FIFO, device or socket), it is a dangling symbolic link, or its folder
     *     does not exist
     */
    public static Path target(Path path) throws IOException {
        Path target = path.toAbsolutePath();
        if (Files.isSymbolicLink(path)) {
            try {
                target = path.toRealPath();
            } catch (NoSuchFileException e) {
                throw new IOException(path + ": is a symbolic link to " + Files.readSymbolicLink(path)
                        + ", which does not lead to an existing file (a dangling link, a loop, or a pipe such as"
                        + " /dev/stdout's); rrconv writes only regular files", e);
            }
        }
        Path dir = target.getParent();
        if (dir == null || target.getFileName() == null) {
            throw new IOException(path + ": not a file name");
        }
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            if (!Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS)) {
                throw new IOException(path + ": is " + kind(target) + "; rrconv writes only regular files"
                        + " (it would replace " + (target.equals(path.toAbsolutePath()) ? "it" : target)
                        + " with one)");
            }
        } else if (!Files.isDirectory(dir)) {
            throw new IOException(path + ": cannot write: directory " + dir + " does not exist");
        }
        return target;
    }

    /**
     * Writes a tensor as a version 1.0 {@code .npy} file (C order, little-endian), exactly as
     * {@code numpy.save} would. The data goes to a temporary file in the target's folder (a short
     * hidden name, {@code .rrconv-<hex>.tmp}, whatever the length of the target's) that then replaces
     * the target atomically: on error the target is untouched, and the temporary file is deleted on
     * every way out, a SIGINT or SIGTERM of the JVM included (a shutdown hook). A replaced file keeps
     * its permissions. The target is checked as {@link #target} does.
     *
     * @param path the file to create or replace
     * @param tensor the values (any strides)
     * @throws IOException if the file cannot be written; the message names it
     */
    public static void write(Path path, Tensor tensor) throws IOException {
        Path target = target(path);
        Path dir = target.getParent();
        Set<PosixFilePermission> mode = null;
        if (Files.exists(target)) {
            try {
                mode = Files.getPosixFilePermissions(target);
            } catch (UnsupportedOperationException e) {
                mode = null; // not a POSIX file system: the new file gets the default permissions
            }
        }
        byte[] header = header(tensor.dtype(), tensor.shape());
        Path tmp = TempFiles.create(path, dir);
        boolean done = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                if (mode != null) {
                    Files.setPosixFilePermissions(tmp, mode);
                }
                writeFully(ch, ByteBuffer.wrap(header));
                writeData(ch, tensor);
                ch.force(false);
            } catch (IOException e) {
                throw new IOException(path + ": cannot write a file in " + dir + ": " + Main.describe(e), e);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
        } finally {
            TempFiles.release(tmp, !done);
        }
    }

    /**
     * The temporary files of {@link #write} not yet renamed or deleted, which a shutdown hook
     * deletes when the JVM exits or is interrupted (SIGINT, SIGTERM) in the middle of a write.
     */
    private static final class TempFiles {
        private static final Set<Path> LIVE = ConcurrentHashMap.newKeySet();

        static {
            Runtime.getRuntime().addShutdownHook(new Thread(TempFiles::deleteAll, "rrconv-temp-cleanup"));
        }

        private TempFiles() {}

        /** Creates a new empty temporary file in dir, registered for deletion at exit. */
        static Path create(Path path, Path dir) throws IOException {
            for (int attempt = 0; ; attempt++) {
                Path tmp = dir.resolve(".rrconv-" + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
                LIVE.add(tmp); // before it exists: a hook running now deletes it if it was just created
                try {
                    Files.createFile(tmp);
                    return tmp;
                } catch (FileAlreadyExistsException e) {
                    LIVE.remove(tmp);
                    if (attempt == 100) {
                        throw new IOException(path + ": cannot create a temporary file in " + dir, e);
                    }
                } catch (IOException e) {
                    LIVE.remove(tmp);
                    throw new IOException(path + ": cannot write a file in " + dir + ": " + Main.describe(e), e);
                }
            }
        }

        /** Forgets tmp (renamed into place), deleting it first if {@code delete}. */
        static void release(Path tmp, boolean delete) {
            if (delete) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort; the shutdown hook tries again
                    return;
                }
            }
            LIVE.remove(tmp);
        }

        private static void deleteAll() {
            for (Path tmp : LIVE) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // nothing more can be done while the JVM exits
                }
            }
        }
    }

    private static void writeData(FileChannel ch, Tensor t) throws IOException {
        long bytes = t.elementCount() * t.dtype().byteSize();
        if (bytes == 0) {
            return;
        }
        MemorySegment seg = t.segment();
        boolean direct = t.isContiguous() && LITTLE_ENDIAN_HOST
                && (seg.isNative() || seg.heapBase().map(o -> o instanceof byte[]).orElse(false));
        if (direct) {
            writeSegment(ch, seg.asSlice(0, bytes));
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            Tensor dense = Tensor.allocate(arena, t.dtype(), t.shape());
            dense.copyFrom(t);
            MemorySegment out = dense.segment();
            if (!LITTLE_ENDIAN_HOST && t.dtype().byteSize() > 1) {
                ValueLayout le = t.dtype().layout().withOrder(ByteOrder.LITTLE_ENDIAN);
                MemorySegment.copy(out, t.dtype().layout(), 0, out, le, 0, t.elementCount());
            }
            writeSegment(ch, out);
        }
    }

    private static void writeSegment(FileChannel ch, MemorySegment seg) throws IOException {
        for (long off = 0; off < seg.byteSize(); off += CHUNK) {
            writeFully(ch, seg.asSlice(off, Math.min(CHUNK, seg.byteSize() - off)).asByteBuffer());
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }

    /**
     * The header numpy writes for a C-order array: magic, version, length and the padded dict, with
     * the data starting at a multiple of 64 bytes. Version 1.0 unless the dict needs more than 65535
     * bytes (then 2.0).
     *
     * @param dtype element type
     * @param shape the shape
     * @return the header bytes
     */
    static byte[] header(DType dtype, long[] shape) {
        StringBuilder d = new StringBuilder();
        d.append("{'descr': '").append(dtype.npyDescr()).append("', 'fortran_order': False, 'shape': ")
                .append(tuple(shape)).append(", }");
        if (shape.length > 0) {
            d.append(" ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - Long.toString(shape[0]).length())));
        }
        byte[] dict = d.toString().getBytes(StandardCharsets.ISO_8859_1);
        int major = 1;
        int lenBytes = 2;
        int hlen = dict.length + 1;
        int padlen = ARRAY_ALIGN - ((MAGIC.length + 2 + lenBytes + hlen) % ARRAY_ALIGN);
        if (hlen + padlen > 0xFFFF) {
            major = 2;
            lenBytes = 4;
            padlen = ARRAY_ALIGN - ((MAGIC.length + 2 + lenBytes + hlen) % ARRAY_ALIGN);
        }
        ByteBuffer b = ByteBuffer.allocate(MAGIC.length + 2 + lenBytes + hlen + padlen).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).put((byte) major).put((byte) 0);
        if (major == 1) {
            b.putShort((short) (hlen + padlen));
        } else {
            b.putInt(hlen + padlen);
        }
        b.put(dict);
        for (int k = 0; k < padlen; k++) {
            b.put((byte) ' ');
        }
        b.put((byte) '\n');
        return b.array();
    }

    /** A shape as Python writes a tuple: {@code ()}, {@code (3,)}, {@code (1, 2)}. */
    static String tuple(long[] shape) {
        if (shape.length == 1) {
            return "(" + shape[0] + ",)";
        }
        StringBuilder sb = new StringBuilder("(");
        for (int k = 0; k < shape.length; k++) {
            sb.append(k > 0 ? ", " : "").append(shape[k]);
        }
        return sb.append(')').toString();
    }
}
