package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/internal/testfixture"
)

// greyOn runs grey in-process as if its output were a terminal
// (terminal) or a pipe.
func greyOn(t *testing.T, terminal bool, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	var c CLI
	c.Terminal = func(io.Writer) bool { return terminal }
	code := cli.Run(context.Background(), &c, &c.Globals, args, strings.NewReader(""), &out, &errb, func() time.Time { return testfixture.Clock })
	return code, out.String(), errb.String()
}

// TestInstallOutputOnATerminal reproduces issue 18's "configure [1/22]
// base-fileschown: ...": on a terminal, what maintainer scripts print
// lands on lines of its own, never glued onto the progress line, and the
// progress line is gone at the end; piped, or with -q, grey draws no
// progress at all (no carriage returns, no escapes).
func TestInstallOutputOnATerminal(t *testing.T) {
	testfixture.Root(t)
	root := testfixture.DebianRoot(t, testfixture.RootSpec{})
	for _, p := range []string{"etc/apt/sources.list", "etc/apt/sources.list.d"} {
		must(t, os.RemoveAll(filepath.Join(root, p)))
	}
	dir := t.TempDir()
	a := buildScriptDeb(t, dir, "outa", "1", "", map[string]string{"postinst": "#!/bin/sh\necho outa says hello\n"})
	b := buildScriptDeb(t, dir, "outb", "1", "", map[string]string{"postinst": "#!/bin/sh\nprintf 'outb: chown: done' >&2\n"})
	c := buildScriptDeb(t, dir, "outc", "1", "", map[string]string{"postinst": "#!/bin/sh\necho outc piped\n"})
	d := buildScriptDeb(t, dir, "outd", "1", "", map[string]string{"postinst": "#!/bin/sh\necho outd quiet\n"})
	if code, _, errOut := greyOn(t, false, "--root", root, "installed"); code != 0 {
		t.Fatalf("installed: %d %s", code, errOut)
	}

	code, out, errOut := greyOn(t, true, "--root", root, "-y", "install", a, b)
	if code != 0 {
		t.Fatalf("install on a terminal: %d\n%s\n%s", code, out, errOut)
	}
	var lines []string
	for _, l := range testfixture.Screen(errOut) {
		if l != "" {
			lines = append(lines, l)
		}
	}
	if want := []string{"outa says hello", "outb: chown: done"}; strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("the terminal shows %q, want %q (raw %q)", lines, want, errOut)
	}
	if !strings.Contains(errOut, "configure [") {
		t.Errorf("no progress drawn on the terminal: %q", errOut)
	}

	code, out, errOut = greyOn(t, false, "--root", root, "-y", "install", c)
	if code != 0 || errOut != "outc piped\n" || strings.ContainsAny(out, "\r\x1b") {
		t.Errorf("install piped: %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	// -q on a terminal: no progress either, as apt-get -q.
	code, out, errOut = greyOn(t, true, "--root", root, "-q", "-y", "install", d)
	if code != 0 || errOut != "outd quiet\n" || strings.ContainsAny(out, "\r\x1b") {
		t.Errorf("install -q on a terminal: %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}
