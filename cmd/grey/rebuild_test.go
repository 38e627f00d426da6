package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
)

// TestRebuildUpgradeCommand: the repository replaces tp 1.0 by a rebuild of
// the same version with other control data (a larger Installed-Size), as
// an archive does when it rebuilds without a new version. apt then lists
// tp as upgradable and `apt-get upgrade` installs the rebuild ("1
// upgraded", `Inst tp [1.0] (1.0 ...)`); grey does the same, and once the
// rebuild is installed there is nothing more to do (issue 15, point 6).
func TestRebuildUpgradeCommand(t *testing.T) {
	dir := t.TempDir()
	now := testfixture.Clock
	key := newTestKey(t, dir, "rebuild test", now)
	first := buildDeb(t, filepath.Join(dir, "a"), "tp", "1.0", map[string]string{"usr/share/tp/data": "first\n"})
	rebuilt := buildDeb(t, filepath.Join(dir, "b"), "tp", "1.0", map[string]string{"usr/share/tp/data": "rebuilt\n" + strings.Repeat("x", 8192)})
	root := filepath.Join(dir, "root")
	must(t, os.Mkdir(root, 0o755))
	// Two repositories, so that the rebuild does not depend on publish
	// replacing a file of the same name and version.
	repoA, repoB := filepath.Join(dir, "repo-a"), filepath.Join(dir, "repo-b")
	key.publish(now, repoA, first)
	key.publish(now, repoB, rebuilt)
	g := func(at time.Time, repoDir string, args ...string) (int, string, string) {
		t.Helper()
		return greyAt(t, at, append([]string{"--root", root, "--source", key.source(repoDir)}, args...)...)
	}
	at := now.Add(time.Hour)
	if code, _, errOut := g(at, repoA, "update"); code != 0 {
		t.Fatalf("update: %s", errOut)
	}
	if code, out, errOut := g(at, repoA, "-y", "install", "--no-scripts", "tp"); code != 0 || !strings.Contains(out, "Installed tp 1.0") {
		t.Fatalf("install: %d %s %s", code, out, errOut)
	}
	if code, out, _ := g(at, repoA, "-y", "upgrade", "--no-scripts"); code != 0 || !strings.Contains(out, "Nothing to do.") {
		t.Fatalf("upgrade against the same build: %d %q", code, out)
	}
	if code, _, errOut := g(at, repoB, "update"); code != 0 {
		t.Fatalf("update: %s", errOut)
	}
	if code, out, _ := g(at, repoB, "installed", "--upgradable"); code != 0 || out != "tp 1.0 all [upgradable from: 1.0]\n" {
		t.Errorf("installed --upgradable: %d %q", code, out)
	}
	code, out, errOut := g(at, repoB, "-y", "upgrade", "--no-scripts")
	if code != 0 || !strings.Contains(out, "upgrade  tp") || !strings.Contains(out, "Reinstalled tp 1.0") {
		t.Fatalf("upgrade to the rebuild: %d\n%s\n%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "usr/share/tp/data")); !strings.HasPrefix(string(b), "rebuilt\n") {
		t.Errorf("data = %.20q, want the rebuild's", b)
	}
	if code, out, _ := g(at, repoB, "-y", "upgrade", "--no-scripts"); code != 0 || !strings.Contains(out, "Nothing to do.") {
		t.Errorf("upgrade after the rebuild: %d %q", code, out)
	}
	if code, out, _ := g(at, repoB, "installed", "--upgradable"); code != 0 || out != "" {
		t.Errorf("installed --upgradable after the rebuild: %d %q", code, out)
	}
	if code, out, _ := g(at, repoB, "verify"); code != 0 || out != "" {
		t.Errorf("verify: %d %q", code, out)
	}
}
