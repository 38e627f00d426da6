package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMirrorCommands runs the mirror's commands as a user would: create
// and sync a mirror of a published repository, snapshot it, list and diff
// snapshots, then `grey update` and `grey image build` from the mirror
// and from the snapshot with the upstream keyring.
func TestMirrorCommands(t *testing.T) {
	spec := imageRepo(t) // hello-grey published as "demo", keyring k.gpg beside the spec
	specDir := filepath.Dir(spec)
	keyring := filepath.Join(specDir, "k.gpg")
	repo := filepath.Join(filepath.Dir(specDir), "repo")
	root := t.TempDir()
	mdir := filepath.Join(t.TempDir(), "mirror")
	line := fmt.Sprintf("deb [signed-by=%s] file://%s demo main", keyring, repo)

	code, out, errOut := grey(t, "", "--root", root, "mirror", "create", "up", "--source", line, "--arch", "amd64", "--dir", mdir)
	if code != 0 || !strings.Contains(out, "mirror up created in "+mdir) {
		t.Fatalf("mirror create: %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = grey(t, "", "--root", root, "mirror", "create", "up", "--source", line)
	if code == 0 || !strings.Contains(errOut, "already exists") {
		t.Errorf("a second mirror create up: %d %s", code, errOut)
	}
	code, out, errOut = grey(t, "", "--root", root, "mirror", "sync", "up")
	if code != 0 || !strings.Contains(out, "Get demo; 4 files") || !strings.Contains(out, "commit ") {
		t.Fatalf("mirror sync: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = grey(t, "", "--root", root, "mirror", "sync", "up")
	if code != 0 || !strings.Contains(out, "Hit demo; 0 files") || strings.Contains(out, "commit ") {
		t.Fatalf("mirror sync again: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = grey(t, "", "--root", root, "mirror", "snapshot", "up", "v1")
	if code != 0 || !strings.Contains(out, "snapshot v1 = ") {
		t.Fatalf("mirror snapshot: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = grey(t, "", "--root", root, "mirror", "snapshots", "up")
	if code != 0 || !strings.HasPrefix(out, "v1\t") || len(strings.Split(strings.TrimSpace(out), "\n")) != 1 {
		t.Fatalf("mirror snapshots: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = grey(t, "", "--root", root, "mirror", "diff", "up", "v1", "HEAD")
	if code != 0 || out != "" {
		t.Fatalf("mirror diff v1 HEAD: %d\n%s%s", code, out, errOut)
	}

	for _, where := range []string{mdir, mdir + "/snapshots/v1"} {
		src := fmt.Sprintf("deb [signed-by=%s] file://%s demo main", keyring, where)
		code, out, errOut = grey(t, "", "--root", t.TempDir(), "--source", src, "update")
		if code != 0 || !strings.Contains(out, "Get ") {
			t.Fatalf("grey update from %s: %d\n%s%s", where, code, out, errOut)
		}
		s := filepath.Join(specDir, "mirror.yaml")
		must(t, os.WriteFile(s, []byte(fmt.Sprintf(
			"sources:\n  - \"deb [signed-by=k.gpg] file://%s demo main\"\npackages: [hello-grey]\nsource-date-epoch: 1767225600\n", where)), 0o644))
		img := filepath.Join(t.TempDir(), "root")
		code, out, errOut = grey(t, "", "image", "build", "--state-dir", t.TempDir(), s, "-o", img)
		if code != 0 {
			t.Fatalf("image build from %s: %d\n%s%s", where, code, out, errOut)
		}
		code, out, errOut = grey(t, "", "--root", img, "installed")
		if code != 0 || out != "hello-grey 1.0-1 all [installed]\n" {
			t.Errorf("image from %s: installed %d %q %s", where, code, out, errOut)
		}
		must(t, os.Remove(strings.TrimSuffix(s, ".yaml")+".lock"))
	}

	code, out, errOut = grey(t, "", "--root", root, "mirror", "gc", "up")
	if code != 0 || !strings.Contains(out, "0 files deleted, 1 pool files kept") {
		t.Errorf("mirror gc: %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = grey(t, "", "--root", root, "mirror", "sync", "nosuch")
	if code == 0 || !strings.Contains(errOut, "no such mirror") {
		t.Errorf("sync of an unknown mirror: %d %s", code, errOut)
	}
}
