package dev.rrconv.cli;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The chart of {@code rrconv bench --plot}: a self-contained SVG (no scripts, fonts or links) with
 * one panel per direction, a group of bars per shape, one bar colour per backend and thread count
 * (a backend's hue, darker for more threads), a logarithmic GFLOP/s axis shared by all panels, the
 * value on every bar, and the speed-up of the native kernels over the reference loop under each
 * group when both were measured.
 */
final class BenchChart {
    private static final int WIDTH = 1000;
    private static final int LEFT = 74;
    private static final int RIGHT = 18;
    private static final int PLOT_H = 230;
    /** Room above the tallest bar for its value label. */
    private static final int HEADROOM = 34;
    private static final String FONT = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif";
    private static final List<String> BACKEND_ORDER = List.of("native", "java", "reference");
    private static final Map<String, int[]> HUES = Map.of(
            "native", new int[] {0x1f, 0x5f, 0xa8},
            "java", new int[] {0xd9, 0x6a, 0x12},
            "reference", new int[] {0x5f, 0x6b, 0x7a});

    private BenchChart() {}

    private record Series(String backend, int threads) {
        String label() {
            return backend + " · " + threads + (threads == 1 ? " thread" : " threads");
        }
    }

    /**
     * Draws the results.
     *
     * @param results the measurements (any order; one per shape, op, backend and thread count)
     * @param title the headline
     * @param subtitle a line under it (machine, ISA, ...)
     * @return the SVG document
     */
    static String svg(List<BenchResult> results, String title, String subtitle) {
        List<String> ops = new ArrayList<>();
        for (BenchProblem.Op op : BenchProblem.Op.values()) {
            if (results.stream().anyMatch(r -> r.op().equals(op.cliName()))) {
                ops.add(op.cliName());
            }
        }
        Set<String> shapeSet = new LinkedHashSet<>();
        for (BenchShape s : BenchShape.ALL) {
            if (results.stream().anyMatch(r -> r.shape().equals(s.name()))) {
                shapeSet.add(s.name());
            }
        }
        results.stream().map(BenchResult::shape).forEach(shapeSet::add);
        List<String> shapes = new ArrayList<>(shapeSet);
        List<Series> series = results.stream().map(r -> new Series(r.backend(), r.threads())).distinct()
                .sorted(Comparator.comparingInt((Series s) -> backendRank(s.backend())).thenComparing(Series::backend)
                        .thenComparingInt(Series::threads))
                .toList();
        Map<String, BenchResult> byKey = new LinkedHashMap<>();
        for (BenchResult r : results) {
            byKey.put(key(r.shape(), r.op(), r.backend(), r.threads()), r);
        }

        double min = results.stream().mapToDouble(BenchResult::gflops).filter(v -> v > 0).min().orElse(1);
        double max = results.stream().mapToDouble(BenchResult::gflops).filter(v -> v > 0).max().orElse(10);
        double logLo = Math.floor(Math.log10(min));
        double logMax = Math.max(Math.log10(max), logLo + 1);
        double logHi = logLo + (logMax - logLo) * PLOT_H / (PLOT_H - HEADROOM);

        Svg svg = new Svg();
        int y = 0;
        svg.text(LEFT - 60, 30, title, 19, "#1a202c", "start", "bold");
        svg.text(LEFT - 60, 51, subtitle, 12, "#4a5568", "start", null);
        svg.text(LEFT - 60, 69, "bars: GFLOP/s = 2·N·OC·OH·OW·ICPG·FH·FW / median time (log scale, higher is better)",
                12, "#4a5568", "start", null);
        y = legend(svg, series, 92);
        y += 14;
        int plotW = WIDTH - LEFT - RIGHT;
        for (String op : ops) {
            y = panel(svg, op, y, plotW, shapes, series, byKey, logLo, logHi);
            y += 18;
        }
        return svg.document(WIDTH, y);
    }

    private static int backendRank(String backend) {
        int i = BACKEND_ORDER.indexOf(backend);
        return i < 0 ? BACKEND_ORDER.size() : i;
    }

    private static String key(String shape, String op, String backend, int threads) {
        return shape + "|" + op + "|" + backend + "|" + threads;
    }

    /**
     * The legend, grouped by backend: {@code native [] 1 thread [] 2 threads   java [] ...}, wrapping.
     *
     * @return the y below it
     */
    private static int legend(Svg svg, List<Series> series, int y) {
        int x = LEFT - 60;
        String backend = null;
        for (Series s : series) {
            String label = s.threads() + (s.threads() == 1 ? " thread" : " threads");
            boolean first = !s.backend().equals(backend);
            int head = first ? (int) Math.ceil(s.backend().length() * 8.0) + 10 : 0;
            int w = head + 20 + (int) Math.ceil(label.length() * 6.8) + 14;
            if (x + w > WIDTH - RIGHT) {
                x = LEFT - 60;
                y += 22;
            }
            if (first) {
                if (backend != null && x > LEFT - 60) {
                    x += 16;
                }
                svg.text(x, y, s.backend(), 12.5, "#1a202c", "start", "bold");
                x += head;
                backend = s.backend();
            }
            svg.raw(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" rx=\"2\" fill=\"%s\"/>",
                    x, y - 11, color(s, series)));
            svg.text(x + 19, y, label, 12, "#2d3748", "start", null);
            x += w - head;
        }
        return y + 10;
    }

    /** A backend's hue, lighter for fewer threads when the backend has several thread counts. */
    private static String color(Series s, List<Series> all) {
        List<Integer> counts = all.stream().filter(o -> o.backend().equals(s.backend())).map(Series::threads).toList();
        int[] rgb = HUES.getOrDefault(s.backend(), new int[] {0x80, 0x5a, 0xd5});
        double light = counts.size() <= 1 ? 0 : 0.55 * (counts.size() - 1 - counts.indexOf(s.threads())) / (counts.size() - 1);
        StringBuilder sb = new StringBuilder("#");
        for (int c : rgb) {
            sb.append(String.format(Locale.ROOT, "%02x", (int) Math.round(c + (255 - c) * light)));
        }
        return sb.toString();
    }

    private static int panel(Svg svg, String op, int y, int plotW, List<String> shapes, List<Series> series,
                             Map<String, BenchResult> byKey, double logLo, double logHi) {
        svg.text(LEFT, y + 16, op.replace('-', ' '), 15, "#1a202c", "start", "bold");
        int top = y + 28;
        int bottom = top + PLOT_H;
        int right = LEFT + plotW;
        double groupW = (double) plotW / shapes.size();

        // alternate bands behind the shape groups
        for (int i = 0; i < shapes.size(); i++) {
            if (i % 2 == 0) {
                svg.raw(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#f4f6f9\"/>",
                        LEFT + i * groupW, top, groupW, PLOT_H));
            }
        }
        // grid: decades labelled; 2 and 5 as light lines (labelled small when there is room)
        double pxPerDecade = PLOT_H / (logHi - logLo);
        for (int d = (int) logLo; d <= (int) Math.floor(logHi); d++) {
            for (int m : new int[] {1, 2, 5}) {
                double v = m * Math.pow(10, d);
                double lv = Math.log10(v);
                if (lv < logLo - 1e-9 || lv > logHi + 1e-9) {
                    continue;
                }
                double gy = bottom - (lv - logLo) * pxPerDecade;
                boolean major = m == 1;
                svg.raw(String.format(Locale.ROOT,
                        "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1\"%s/>",
                        LEFT, gy, right, gy, major ? "#a0aec0" : "#d5dbe3", major ? "" : " stroke-dasharray=\"3,3\""));
                if (major || pxPerDecade >= 60) {
                    svg.text(LEFT - 7, gy + 4, number(v), major ? 11.5 : 9.5, major ? "#2d3748" : "#718096", "end", null);
                }
            }
        }
        svg.raw(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#4a5568\"/>",
                LEFT, bottom, right, bottom));
        svg.raw(String.format(Locale.ROOT,
                "<text x=\"%d\" y=\"%d\" transform=\"rotate(-90 %d %d)\" font-size=\"12\" fill=\"#4a5568\" text-anchor=\"middle\">GFLOP/s</text>",
                LEFT - 50, top + PLOT_H / 2, LEFT - 50, top + PLOT_H / 2));

        double barW = Math.min(groupW * 0.8 / series.size(), 46);
        double inner = barW * series.size();
        for (int i = 0; i < shapes.size(); i++) {
            String shape = shapes.get(i);
            double gx = LEFT + i * groupW + (groupW - inner) / 2;
            for (int j = 0; j < series.size(); j++) {
                Series s = series.get(j);
                BenchResult r = byKey.get(key(shape, op, s.backend(), s.threads()));
                if (r == null || !(r.gflops() > 0)) {
                    continue;
                }
                double lv = Math.max(Math.log10(r.gflops()), logLo);
                double h = (lv - logLo) * pxPerDecade;
                double bx = gx + j * barW;
                double bw = Math.max(1, barW - Math.min(3, barW * 0.15));
                svg.raw(String.format(Locale.ROOT,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%s</title></rect>",
                        bx, bottom - h, bw, h, color(s, series), Svg.escape(String.format(Locale.ROOT,
                                "%s %s, %s: %s ms, %s GFLOP/s", shape, op, s.label(), BenchCommand.ms(r.ms()),
                                BenchCommand.gflops(r.gflops())))));
                String label = number(r.gflops());
                double cx = bx + bw / 2;
                if (bw >= label.length() * 6.2 + 2) {
                    svg.text(cx, bottom - h - 4, label, 10, "#2d3748", "middle", null);
                } else {
                    svg.raw(String.format(Locale.ROOT,
                            "<text x=\"%.1f\" y=\"%.1f\" transform=\"rotate(-90 %.1f %.1f)\" font-size=\"%.1f\" fill=\"#2d3748\""
                                    + " dominant-baseline=\"central\">%s</text>",
                            cx, bottom - h - 3, cx, bottom - h - 3, Math.min(10, Math.max(7.5, bw - 1)), Svg.escape(label)));
                }
            }
            double cx = LEFT + (i + 0.5) * groupW;
            svg.text(cx, bottom + 16, shape, 12, "#1a202c", "middle", "bold");
            String speedup = speedup(shape, op, series, byKey);
            if (speedup != null) {
                svg.text(cx, bottom + 30, speedup, 10.5, "#1f5fa8", "middle", null);
            }
        }
        return bottom + 36;
    }

    /** "native 87x ref" for the first thread count at which both were measured, else null. */
    private static String speedup(String shape, String op, List<Series> series, Map<String, BenchResult> byKey) {
        for (Series s : series) {
            if (!s.backend().equals("native")) {
                continue;
            }
            BenchResult nat = byKey.get(key(shape, op, "native", s.threads()));
            BenchResult ref = byKey.get(key(shape, op, "reference", s.threads()));
            if (nat != null && ref != null && nat.ms() > 0) {
                double x = ref.ms() / nat.ms();
                return String.format(Locale.ROOT, "native %s× reference", x >= 10 ? String.format(Locale.ROOT, "%.0f", x)
                        : String.format(Locale.ROOT, "%.1f", x));
            }
        }
        return null;
    }

    /** A short label: 1234 -> "1234", 56.7 -> "56.7", 0.123 -> "0.12", 2 -> "2", 1000 -> "1000". */
    static String number(double v) {
        if (v >= 100) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        if (v >= 10) {
            return String.format(Locale.ROOT, "%.1f", v).replaceAll("\\.0$", "");
        }
        if (v >= 1) {
            return String.format(Locale.ROOT, "%.2f", v).replaceAll("\\.?0+$", "");
        }
        String s = String.format(Locale.ROOT, "%.2g", v);
        return s.contains("e") ? String.format(Locale.ROOT, "%.1e", v) : s.replaceAll("(\\.\\d*?)0+$", "$1").replaceAll("\\.$", "");
    }

    /** A tiny SVG builder. */
    private static final class Svg {
        private final StringBuilder body = new StringBuilder();

        void raw(String element) {
            body.append("  ").append(element).append('\n');
        }

        void text(double x, double y, String s, double size, String fill, String anchor, String weight) {
            raw(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" fill=\"%s\" text-anchor=\"%s\"%s>%s</text>",
                    x, y, size, fill, anchor, weight == null ? "" : " font-weight=\"" + weight + "\"", escape(s)));
        }

        static String escape(String s) {
            return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
        }

        String document(int w, int h) {
            return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    + String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
                            + " viewBox=\"0 0 %d %d\" font-family=\"%s\">%n", w, h, w, h, FONT)
                    + String.format(Locale.ROOT, "  <rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>%n", w, h)
                    + body + "</svg>\n";
        }
    }
}
