package transaction

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/greypm/grey/deb/archive"
)

// buildTree writes files (path -> content; content "->x" makes a symlink
// to x) and DEBIAN/ files under a fresh directory and builds it with
// deb/archive's builder (what `grey build` uses), returning the .deb.
func buildTree(t *testing.T, name string, files, debian map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	for p, c := range files {
		full := filepath.Join(dir, p)
		must(t, os.MkdirAll(filepath.Dir(full), 0o755))
		if len(c) > 2 && c[:2] == "->" {
			must(t, os.Symlink(c[2:], full))
			continue
		}
		must(t, os.WriteFile(full, []byte(c), 0o644))
	}
	must(t, os.MkdirAll(filepath.Join(dir, "DEBIAN"), 0o755))
	for p, c := range debian {
		mode := os.FileMode(0o644)
		if p != "control" && p != "conffiles" {
			mode = 0o755
		}
		must(t, os.WriteFile(filepath.Join(dir, "DEBIAN", p), []byte(c), mode))
	}
	out := dir + ".deb"
	f, err := os.Create(out)
	must(t, err)
	defer f.Close()
	if _, err := archive.Build(context.Background(), dir, f, archive.BuildOptions{SourceDateEpoch: testTime}); err != nil {
		t.Fatal(err)
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeBuiltPackages upgrades between two versions made by the
// archive builder: files are replaced, dropped files go, and the scripts
// see dpkg's arguments.
func TestUpgradeBuiltPackages(t *testing.T) {
	root, r := shellRoot(t)
	ctl := func(v string) map[string]string {
		m := logScripts()
		m["control"] = "Package: tp\nVersion: " + v + "\nArchitecture: all\nMaintainer: T <t@example.org>\nDescription: test\n"
		return m
	}
	v1 := buildTree(t, "v1", map[string]string{"usr/share/tp/keep": "1\n", "usr/share/tp/gone": "g\n", "usr/share/tp/l": "->keep"}, ctl("1:1.0"))
	v2 := buildTree(t, "v2", map[string]string{"usr/share/tp/keep": "2\n", "usr/share/tp/added": "a\n"}, ctl("1:2.0~rc1"))
	must(t, os.MkdirAll(filepath.Join(root, "var/log"), 0o755))
	logf := filepath.Join(root, "var/log/tp.log")
	for _, d := range []string{v1, v2} {
		if _, err := apply(t, r, Plan{Install: []Install{{Path: d}}}, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	want := "preinst install\npostinst configure \n" +
		"prerm upgrade 1:2.0~rc1\npreinst upgrade 1:1.0 1:2.0~rc1\npostrm upgrade 1:2.0~rc1\npostinst configure 1:1.0\n"
	if got := readFile(t, logf); got != want {
		t.Errorf("scripts:\n%s\nwant:\n%s", got, want)
	}
	if got := readFile(t, filepath.Join(root, "usr/share/tp/keep")); got != "2\n" {
		t.Errorf("keep = %q", got)
	}
	for _, p := range []string{"usr/share/tp/gone", "usr/share/tp/l"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s survived the upgrade", p)
		}
	}
	if probs, err := Verify(context.Background(), r.DB, root, nil); err != nil || len(probs) != 0 {
		t.Errorf("verify: %v %v", probs, err)
	}
}
