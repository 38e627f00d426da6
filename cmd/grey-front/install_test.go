package main

import (
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// TestMakeInstall installs grey with `make install` into a DESTDIR, runs the
// installed grey from another directory (so it must find grey-core under
// ../lib/grey, not in the build tree), checks the man page and the
// completions are there, then uninstalls and checks nothing is left.
func TestMakeInstall(t *testing.T) {
	mk := testfixture.Tool(t, "make", "make")
	repo := testfixture.RepoRoot(t)
	dest := t.TempDir()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "build", "grey")
	run := func(target string) {
		t.Helper()
		cmd := exec.Command(mk, "-s", "-C", repo, target, "DESTDIR="+dest, "PREFIX=/usr/local", "BIN="+bin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
	}
	run("install")
	prefix := filepath.Join(dest, "usr/local")
	grey := filepath.Join(prefix, "bin/grey")
	env := []string{"GREY_CORE="} // found beside the front's ../lib/grey only

	r := runBin(t, env, grey, "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "grey ") {
		t.Fatalf("installed grey --version: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// A command only grey-core has.
	r = runBin(t, env, grey, "deb", "compare-versions", "1:1.0", "gt", "2.0")
	if r.code != 0 {
		t.Fatalf("installed grey deb compare-versions: %d %q", r.code, r.stderr)
	}
	// Run from an unrelated working directory.
	cmd := exec.Command(grey, "completion", "bash")
	cmd.Dir = tmp
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "complete -F _grey grey") {
		t.Fatalf("installed grey completion bash: %v\n%s", err, out)
	}

	for _, f := range []string{"share/bash-completion/completions/grey", "share/zsh/site-functions/_grey", "share/fish/vendor_completions.d/grey.fish"} {
		b, err := os.ReadFile(filepath.Join(prefix, f))
		if err != nil || !strings.Contains(string(b), "install") {
			t.Errorf("%s: %v (%d bytes)", f, err, len(b))
		}
	}
	gz, err := os.Open(filepath.Join(prefix, "share/man/man1/grey.1.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(zr)
	gz.Close()
	if err != nil || !strings.Contains(string(page), ".SH COMMANDS") || !strings.Contains(string(page), ".SS install") {
		t.Fatalf("man page: %v\n%.400s", err, page)
	}

	run("uninstall")
	var left []string
	filepath.Walk(dest, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("make uninstall left %q", left)
	}
}
