package digest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The SHA256 of "abc" (FIPS 180-2, appendix B.1).
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got, err := File(p); err != nil || got != want {
		t.Fatalf("File = %q, %v; want %q", got, err, want)
	}
	if got, err := Reader(strings.NewReader("abc"), "x"); err != nil || got != want {
		t.Fatalf("Reader = %q, %v", got, err)
	}
	if _, err := File(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := File(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("a directory: %v, want an error naming it", err)
	}
}
