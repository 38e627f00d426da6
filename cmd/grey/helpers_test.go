package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/internal/testfixture"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// debTree writes a package's tree in dir/NAME-VER and returns it: files
// (path -> content, mode 0644), DEBIAN/control with ctl after the
// Maintainer line, and maintainer scripts (name -> body, mode 0755).
func debTree(t *testing.T, dir, name, ver, ctl string, files, scripts map[string]string) string {
	t.Helper()
	tree := filepath.Join(dir, name+"-"+ver)
	for p, c := range files {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755))
		must(t, os.WriteFile(filepath.Join(tree, p), []byte(c), 0o644))
	}
	must(t, os.MkdirAll(filepath.Join(tree, "DEBIAN"), 0o755))
	ctl = "Package: " + name + "\nVersion: " + ver + "\nArchitecture: all\nMaintainer: T <t@example.org>\n" + ctl
	must(t, os.WriteFile(filepath.Join(tree, "DEBIAN/control"), []byte(ctl), 0o644))
	for s, body := range scripts {
		must(t, os.WriteFile(filepath.Join(tree, "DEBIAN", s), []byte(body), 0o755))
	}
	return tree
}

// buildDebTree builds the package tree (with its DEBIAN/control as it is)
// into tree.deb with deb/archive's builder.
func buildDebTree(t *testing.T, tree string) string {
	t.Helper()
	out := tree + ".deb"
	f, err := os.Create(out)
	must(t, err)
	defer f.Close()
	if _, err := archive.Build(t.Context(), tree, f, archive.BuildOptions{SourceDateEpoch: testfixture.Clock}); err != nil {
		t.Fatal(err)
	}
	return out
}

// buildDeb builds a package from files (path -> content) into dir and
// returns its path.
func buildDeb(t *testing.T, dir, name, ver string, files map[string]string) string {
	t.Helper()
	return buildDebTree(t, debTree(t, dir, name, ver, "Description: test\n", files, nil))
}

// buildScriptDeb builds a package with one file, more control lines
// (extra) and the given maintainer scripts.
func buildScriptDeb(t *testing.T, dir, name, ver, extra string, scripts map[string]string) string {
	t.Helper()
	files := map[string]string{"usr/share/" + name + "/file": name + " " + ver + "\n"}
	return buildDebTree(t, debTree(t, dir, name, ver, extra+"Description: test "+name+"\n", files, scripts))
}

// testKey is a signing key that "grey key generate" wrote to
// PREFIX.key.asc and PREFIX.gpg, for tests that publish a repository with
// "grey repo publish" and read it back.
type testKey struct {
	t      *testing.T
	prefix string
}

// newTestKey generates a key named name at dir/k, created at now.
func newTestKey(t *testing.T, dir, name string, now time.Time) testKey {
	t.Helper()
	prefix := filepath.Join(dir, "k")
	if code, _, errOut := greyAt(t, now, "key", "generate", "--name", name, "--out", prefix); code != 0 {
		t.Fatalf("key generate: %d %s", code, errOut)
	}
	return testKey{t: t, prefix: prefix}
}

// publish publishes debs as suite stable (component main, amd64) into
// repoDir, signed by k and dated at.
func (k testKey) publish(at time.Time, repoDir string, debs ...string) {
	k.t.Helper()
	args := []string{"repo", "publish", "--key", k.prefix + ".key.asc", "--suite", "stable", "--arch", "amd64", "--out", repoDir}
	if code, _, errOut := greyAt(k.t, at, append(args, debs...)...); code != 0 {
		k.t.Fatalf("publish %v: %d %s", debs, code, errOut)
	}
}

// source is the sources line of repoDir's suite stable, signed by k.
func (k testKey) source(repoDir string) string {
	return "deb [signed-by=" + k.prefix + ".gpg] file://" + repoDir + " stable main"
}

// fixtureGrey runs "grey update" on root with the bookworm fixture's three
// suites as sources and returns a function that runs grey on root with
// those sources, at testfixture.Clock.
func fixtureGrey(t *testing.T, root string) func(args ...string) (int, string, string) {
	t.Helper()
	src := append([]string{"--root", root}, fixtureSourceArgs(testfixture.Bookworm(t))...)
	g := func(args ...string) (int, string, string) {
		t.Helper()
		return greyAt(t, testfixture.Clock, append(src[:len(src):len(src)], args...)...)
	}
	if code, _, errOut := g("update"); code != 0 {
		t.Fatalf("update: %d %s", code, errOut)
	}
	return g
}
