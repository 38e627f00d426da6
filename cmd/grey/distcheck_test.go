package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

const distcheckIndex = `Package: ok
Version: 1
Architecture: amd64
Depends: lib

Package: lib
Version: 1
Architecture: amd64

Package: broken
Version: 2
Architecture: all
Depends: lib (>= 2)

Package: chained
Version: 1
Architecture: amd64
Depends: broken
`

func TestDistcheckCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "Packages")
	if err := os.WriteFile(path, []byte(distcheckIndex), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"text", []string{"distcheck", "--packages", path}, 1, []string{
			"broken 2 all: broken_2_all depends on lib (>= 2), which no package satisfies (available: lib 1)\n",
			"chained 1 amd64: chained_1_amd64 depends on broken, and none of its candidates can be installed: broken_2_all\n",
		}},
		{"explain", []string{"distcheck", "--explain", "--packages", path}, 1, []string{
			"chained 1 amd64: chained_1_amd64 depends on broken, and none of its candidates can be installed: broken_2_all\n  broken_2_all depends on lib (>= 2)",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runGrey(t, "", tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if !strings.Contains(stderr, "4 packages checked, 2 cannot be installed") {
				t.Errorf("summary: %q", stderr)
			}
		})
	}

	code, out, _ := runGrey(t, "", "--json", "distcheck", "--packages", path)
	if code != 1 {
		t.Fatalf("json: exit %d", code)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if len(got) != 2 || got[0]["package"] != "broken" || got[0]["version"] != "2" || got[0]["architecture"] != "all" ||
		!strings.Contains(got[0]["reason"].(string), "lib (>= 2)") || got[1]["package"] != "chained" {
		t.Fatalf("json: %s", out)
	}

	// All installable: exit 0.
	good := filepath.Join(dir, "good")
	if err := os.WriteFile(good, []byte("Package: lib\nVersion: 1\nArchitecture: amd64\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := runGrey(t, "", "distcheck", "--packages", good); code != 0 || out != "" {
		t.Fatalf("clean index: exit %d, %q %q", code, out, stderr)
	}
	// Unreadable input: exit 2.
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("Package: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runGrey(t, "", "distcheck", "--packages", bad); code != 2 || !strings.Contains(stderr, bad) {
		t.Fatalf("bad index: exit %d, %q", code, stderr)
	}
}

// TestDistcheckConfiguredSources checks the verified index of a source
// that grey update stored (bookworm-updates: 38 packages, most of whose
// dependencies live in bookworm proper, so many are uninstallable alone).
func TestDistcheckConfiguredSources(t *testing.T) {
	dir := testfixture.Bookworm(t)
	root := t.TempDir()
	src := []string{"--root", root, "--source", fmt.Sprintf("deb [signed-by=%s] file://%s/debian bookworm-updates main",
		filepath.Join(dir, "debian-archive-keyring.gpg"), dir)}
	if code, out, errOut := greyAt(t, testfixture.Clock, append(src, "update")...); code != 0 {
		t.Fatalf("update: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := greyAt(t, testfixture.Clock, append(src, "distcheck")...)
	if code != 1 || !strings.Contains(errOut, "38 packages checked") || !strings.Contains(out, "which no package satisfies") {
		t.Fatalf("distcheck: exit %d\n%s%s", code, out, errOut)
	}

	// A stored index that no longer matches its verified hash is refused
	// when the cache has to be rebuilt from it.
	files, err := filepath.Glob(filepath.Join(root, "var", "lib", "grey", "lists", "*", "*Packages*"))
	if err != nil || len(files) != 1 {
		t.Fatalf("stored Packages files: %v %v", files, err)
	}
	if err := os.WriteFile(files[0], []byte("Package: evil\nVersion: 1\nArchitecture: amd64\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, "var", "cache", "grey", "index")); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = greyAt(t, testfixture.Clock, append(src, "distcheck")...)
	if code != 2 || !strings.Contains(strings.ToLower(errOut), "sha256") {
		t.Fatalf("corrupted index: exit %d, %q", code, errOut)
	}
}
