package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFDPath: a name under FDPath's path stays in the directory that was
// opened after the directory is moved away and a link put in its place,
// and HostPaths names it by the host path again.
func TestFDPath(t *testing.T) {
	base := t.TempDir()
	dir, moved, outside := filepath.Join(base, "d"), filepath.Join(base, "moved"), filepath.Join(base, "outside")
	for _, d := range []string{dir, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	at := FDPath(f, dir)
	if at == dir {
		t.Skip("no /proc/self/fd on this machine")
	}
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(at, "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(moved, "x")); err != nil {
		t.Errorf("the file is not in the directory opened: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Error("the file followed the link put in the directory's place")
	}
	_, err = os.Open(filepath.Join(at, "missing"))
	named := HostPaths(err, map[string]string{at: dir})
	if !strings.Contains(named.Error(), filepath.Join(dir, "missing")) || strings.Contains(named.Error(), at) || !errors.Is(named, fs.ErrNotExist) {
		t.Errorf("HostPaths: %v", named)
	}
}
