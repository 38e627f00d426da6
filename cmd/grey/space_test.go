package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
)

// TestInstallRefusedForSpaceBeforeDownload: a package whose Installed-Size
// exceeds the root's free space is refused before it is downloaded, as
// apt refuses it, with exit status 1 (docs/cli.md: a refused operation),
// a message naming the root, the sizes and the cause, and the root and
// its cache as they were; --download-only checks only the download's
// size and fetches it (issue 12, item 3: the check came after the
// download).
func TestInstallRefusedForSpaceBeforeDownload(t *testing.T) {
	dir := t.TempDir()
	now := testfixture.Clock
	key := newTestKey(t, dir, "space test", now)
	// 1 TiB: more than any test machine has free.
	huge := buildDebTree(t, debTree(t, dir, "huge", "1.0", "Installed-Size: 1073741824\nDescription: test\n",
		map[string]string{"usr/share/huge/f": "small\n"}, nil))
	repoDir := filepath.Join(dir, "repo")
	key.publish(now, repoDir, huge)
	root := filepath.Join(dir, "root")
	must(t, os.Mkdir(root, 0o755))
	g := func(args ...string) (int, string) {
		t.Helper()
		code, out, errOut := greyAt(t, now.Add(time.Hour), append([]string{"--root", root, "--source", key.source(repoDir)}, args...)...)
		return code, out + errOut
	}
	if code, out := g("update"); code != 0 {
		t.Fatalf("update: %d %s", code, out)
	}
	before := rootListing(t, root)
	code, out := g("-y", "install", "--no-scripts", "huge")
	if code != 1 || !strings.Contains(out, root+": the packages to download (0.8 KiB)") ||
		!strings.Contains(out, "and to install (1048576.0 MiB, their Installed-Size)") || !strings.Contains(out, "not enough free space") {
		t.Fatalf("install huge: exit %d\n%s", code, out)
	}
	sameListing(t, "an install refused for its size", root, before)
	if code, out := g("-y", "install", "--download-only", "huge"); code != 0 {
		t.Fatalf("install --download-only huge: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(root, "var/cache/grey/archives/huge_1.0_all.deb")); err != nil {
		t.Errorf("--download-only: %v", err)
	}
}
