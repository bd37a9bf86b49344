package dev.rrconv.cli;

/** Command-line entry point (placeholder until the CLI lands). */
public final class Main {
    private Main() {}

    /**
     * Runs the tool.
     *
     * @param args command line
     */
    public static void main(String[] args) {
        System.out.println("rrconv");
    }
}
