package dev.rrconv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code ```java} block of README.md compiles against the library: leading {@code import} lines
 * stay imports, the rest becomes the body of a method whose parameters are the ones named in an HTML
 * comment {@code <!-- snippet parameters: int OC, Tensor x -->} on the line before the block (none by default).
 */
class ReadmeSnippetsTest {
    private static final Pattern BLOCK = Pattern.compile(
            "(?:<!-- snippet parameters: ([^>]*?) -->\\n)?```java\\n(.*?)```", Pattern.DOTALL);

    @TempDir
    Path dir;

    record Snippet(int line, String parameters, String code) {}

    static List<Snippet> snippets(String markdown) {
        List<Snippet> out = new ArrayList<>();
        Matcher m = BLOCK.matcher(markdown);
        while (m.find()) {
            int line = (int) markdown.substring(0, m.start(2)).lines().count();
            out.add(new Snippet(line, m.group(1) == null ? "" : m.group(1), m.group(2)));
        }
        return out;
    }

    /** A compilation unit: the snippet's imports, then its statements as a method body. */
    static String unit(String className, Snippet s) {
        StringBuilder imports = new StringBuilder("import dev.rrconv.*;\nimport java.lang.foreign.*;\n");
        StringBuilder body = new StringBuilder();
        for (String line : s.code().split("\n", -1)) {
            (line.startsWith("import ") ? imports : body).append(line).append('\n');
        }
        return imports + "class " + className + " {\n    static void snippet(" + s.parameters() + ") throws Exception {\n"
                + body + "    }\n}\n";
    }

    /** Compiles the units against the library's classes; returns the error diagnostics, one per line. */
    private String compile(List<String> classNames, List<String> units) throws IOException, URISyntaxException {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        Path classes = Path.of(RegionConv.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<File> files = new ArrayList<>();
        for (int i = 0; i < units.size(); i++) {
            Path f = dir.resolve(classNames.get(i) + ".java");
            Files.writeString(f, units.get(i));
            files.add(f.toFile());
        }
        DiagnosticCollector<JavaFileObject> diags = new DiagnosticCollector<>();
        try (StandardJavaFileManager fm = javac.getStandardFileManager(diags, Locale.ROOT, null)) {
            boolean ok = javac.getTask(null, fm, diags,
                    List.of("-Xlint:all", "-Werror", "-proc:none", "-d", dir.resolve("out").toString(),
                            "-cp", classes.toString()),
                    null, fm.getJavaFileObjectsFromFiles(files)).call();
            String errors = diags.getDiagnostics().stream()
                    .map(d -> d.getKind() + " " + new File(String.valueOf(d.getSource() == null ? "" : d.getSource().getName()))
                            .getName() + ":" + d.getLineNumber() + ": " + d.getMessage(Locale.ROOT))
                    .collect(Collectors.joining("\n"));
            return ok && diags.getDiagnostics().stream().noneMatch(d -> d.getKind() == Diagnostic.Kind.ERROR) ? "" : errors;
        }
    }

    @Test
    void readmeJavaBlocksCompile() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        List<Snippet> snippets = snippets(readme);
        assertTrue(snippets.size() >= 2, "java blocks found in README.md: " + snippets.size());
        List<String> names = new ArrayList<>();
        List<String> units = new ArrayList<>();
        for (Snippet s : snippets) {
            names.add("ReadmeLine" + s.line());
            units.add(unit("ReadmeLine" + s.line(), s));
        }
        String errors = compile(names, units);
        assertEquals("", errors, () -> "README.md java blocks do not compile (ReadmeLineN = the block at line N):\n"
                + errors + "\n\n" + String.join("\n", units));
    }

    @Test
    void aBrokenSnippetFails() throws Exception {
        // the README's old quick-start line: Tensor has no get(long...)
        Snippet s = snippets("```java\nTensor dst = Tensor.ofFloats(new float[9], 1, 1, 3, 3);\nfloat y = dst.get(0, 0, 1, 1);\n```\n")
                .get(0);
        String errors = compile(List.of("Broken"), List.of(unit("Broken", s)));
        assertTrue(errors.contains("ERROR Broken.java:") && errors.contains("get("), errors);
    }

    @Test
    void parametersComeFromTheCommentBeforeTheBlock() {
        List<Snippet> s = snippets("text\n<!-- snippet parameters: int OC, Tensor x -->\n```java\nint a = OC;\n```\n"
                + "```java\nimport java.util.List;\nList<Integer> l = List.of();\n```\n");
        assertEquals(2, s.size());
        assertEquals("int OC, Tensor x", s.get(0).parameters());
        assertEquals("", s.get(1).parameters());
        String unit = unit("C", s.get(1));
        assertTrue(unit.startsWith("import dev.rrconv.*;\nimport java.lang.foreign.*;\nimport java.util.List;\nclass C {"), unit);
    }
}
