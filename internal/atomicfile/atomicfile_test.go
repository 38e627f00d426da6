package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	for i, tc := range []struct {
		data string
		mode os.FileMode
	}{
		{"first\n", 0o644},
		{"second, longer than the first\n", 0o600},
		{"", 0o640},
	} {
		if err := Write(p, []byte(tc.data), tc.mode); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != tc.data {
			t.Fatalf("write %d: read %q, %v", i, got, err)
		}
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != tc.mode {
			t.Fatalf("write %d: mode %v, %v; want %v", i, fi.Mode(), err, tc.mode)
		}
	}
	if err := SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	// A failed write leaves the old file and no temporary file.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(sub, []byte("x"), 0o644); err == nil {
		t.Fatal("replaced a directory with a file")
	}
	entries, _ = os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("after a failed write: %v", entries)
	}
	if err := Write(filepath.Join(dir, "missing", "f"), nil, 0o644); err == nil {
		t.Fatal("wrote into a missing directory")
	}
	if err := SyncDir(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("synced a missing directory")
	}
}
