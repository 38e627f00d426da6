package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// imageRepo builds hello-grey, publishes it with a new key and returns a
// spec file naming that repository.
func imageRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "debs"), 0o755))
	if code, _, e := grey(t, "", "build", writePackageTree(t, "1.0-1"), "-o", filepath.Join(dir, "debs")+"/"); code != 0 {
		t.Fatalf("build: %s", e)
	}
	if code, _, e := grey(t, "", "key", "generate", "--name", "image CLI test", "--out", filepath.Join(dir, "k")); code != 0 {
		t.Fatalf("key: %s", e)
	}
	repo := filepath.Join(dir, "repo")
	if code, _, e := grey(t, "", "repo", "publish", "--key", filepath.Join(dir, "k.key.asc"), "--suite", "demo", "--arch", "amd64", "--out", repo, filepath.Join(dir, "debs")); code != 0 {
		t.Fatalf("publish: %s", e)
	}
	specDir := filepath.Join(dir, "spec")
	must(t, os.MkdirAll(specDir, 0o755))
	must(t, os.Rename(filepath.Join(dir, "k.gpg"), filepath.Join(specDir, "k.gpg")))
	spec := filepath.Join(specDir, "img.yaml")
	must(t, os.WriteFile(spec, []byte(fmt.Sprintf(
		"sources:\n  - \"deb [signed-by=k.gpg] file://%s demo main\"\npackages: [hello-grey]\nsource-date-epoch: 1767225600\n", repo)), 0o644))
	return spec
}

func fileSum(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	must(t, err)
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

func TestImageCommands(t *testing.T) {
	spec := imageRepo(t)
	state := t.TempDir()
	lock := strings.TrimSuffix(spec, ".yaml") + ".lock"

	// --locked without a lock fails and names it.
	code, _, errOut := grey(t, "", "image", "build", "--locked", "--state-dir", state, spec, "-o", filepath.Join(t.TempDir(), "x"))
	if code != 1 || !strings.Contains(errOut, lock) {
		t.Fatalf("--locked without a lock: %d %q", code, errOut)
	}

	code, out, errOut := grey(t, "", "image", "lock", "--state-dir", state, spec)
	if code != 0 || !strings.Contains(out, "hello-grey  1.0-1  all") || !strings.Contains(out, "Locked 1 packages in "+lock) {
		t.Fatalf("image lock: %d\n%s%s", code, out, errOut)
	}

	var sums []string
	for i := 0; i < 2; i++ {
		tarPath := filepath.Join(t.TempDir(), "img.tar")
		code, out, errOut = grey(t, "", "image", "build", "--locked", "--state-dir", t.TempDir(), spec, "-o", tarPath)
		if code != 0 || !strings.Contains(out, "Wrote "+tarPath+" (sha256 ") {
			t.Fatalf("image build tar: %d\n%s%s", code, out, errOut)
		}
		sums = append(sums, fileSum(t, tarPath))
	}
	if sums[0] != sums[1] {
		t.Errorf("two --locked tar builds differ: %v", sums)
	}

	root := filepath.Join(t.TempDir(), "root")
	code, out, errOut = grey(t, "", "--json", "image", "build", "--state-dir", state, spec, "-o", root)
	if code != 0 {
		t.Fatalf("image build dir: %d\n%s%s", code, out, errOut)
	}
	var res struct {
		Lock        string `json:"lock"`
		LockWritten bool   `json:"lock_written"`
		Packages    []struct {
			Name string `json:"name"`
		} `json:"packages"`
	}
	must(t, json.Unmarshal([]byte(out), &res))
	if res.Lock != lock || !res.LockWritten || len(res.Packages) != 1 {
		t.Errorf("JSON result: %+v", res)
	}
	code, out, errOut = grey(t, "", "--root", root, "installed")
	if code != 0 || out != "hello-grey 1.0-1 all [installed]\n" {
		t.Errorf("grey --root OUT installed: %d %q %s", code, out, errOut)
	}
	code, _, errOut = grey(t, "", "--root", root, "verify")
	if code != 0 {
		t.Errorf("grey --root OUT verify: %d %s", code, errOut)
	}
}

func TestImageBadSpec(t *testing.T) {
	spec := filepath.Join(t.TempDir(), "bad.yaml")
	must(t, os.WriteFile(spec, []byte("sources: [\"deb file:///r s main\"]\npackages: [a]\npackage: [b]\n"), 0o644))
	code, _, errOut := grey(t, "", "image", "build", spec, "-o", filepath.Join(t.TempDir(), "out"))
	if code != 2 || !strings.Contains(errOut, spec+":3: package: unknown key") {
		t.Fatalf("bad spec: %d %q", code, errOut)
	}
	code, _, errOut = grey(t, "", "image", "lock", spec)
	if code != 2 || !strings.Contains(errOut, "package: unknown key") {
		t.Fatalf("bad spec (lock): %d %q", code, errOut)
	}
}
