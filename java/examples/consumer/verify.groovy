// Run by maven-invoker-plugin after it built this project: checks what the examples printed.
def log = new File(basedir, 'build.log').text

def expect = { String line ->
    if (!log.contains(line)) {
        throw new AssertionError("build.log lacks the line: " + line)
    }
}

// the rrconv dependency was the jar this build installed into target/examples-repo
def from = (log =~ /rrconv from (\S+)/)
if (!from.find() || !from.group(1).endsWith('/examples-repo/dev/rrconv/rrconv/0.1.0/rrconv-0.1.0.jar')) {
    throw new AssertionError("rrconv was not taken from the installed artifact: " + (from.find(0) ? from.group(0) : 'no line'))
}

for (String b : ['native', 'java']) {
    expect(b + ': forward (a): dst [1, 1, 3, 3] = [4.0, 14.0, 18.0, 5.0, 9.0, 0.0, 13.0, 9.0, 50.0]')
    expect(b + ': backward data (b): grad src [1, 1, 4, 4] = '
            + '[0.0, 2.0, 5.0, 3.0, 1.0, 6.0, 5.0, 3.0, 0.0, 13.0, 9.0, 9.0, 0.0, 7.0, 9.0, 9.0]')
    expect(b + ': backward data (c): grad src [1, 2, 2, 2] = [1.0, 2.0, 3.0, 4.0, 10.0, 12.0, 14.0, 16.0]')
    expect(b + ': loss fell from ')
}
return true
