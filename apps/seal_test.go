package apps

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadSeal: any seal file is read or refused with an error naming
// it and the line, never a panic; what it reads writes back the same.
func FuzzReadSeal(f *testing.F) {
	key := strings.Repeat("ab", 32) + "-644-0-0"
	f.Add(key + " 12 1700000000000000000 /usr/bin/x\n")
	f.Add(key + " 12 1700000000000000000 /usr/share/doc/a b\n" + key + " 0 0 /y\n")
	f.Add("x 1 2 /p\n")
	f.Add(key + " -1 x /p")
	f.Fuzz(func(t *testing.T, data string) {
		p := filepath.Join(t.TempDir(), "1.seal")
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		seal, err := readSeal(p)
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		var b strings.Builder
		for _, e := range seal {
			fmt.Fprintf(&b, "%s %d %d %s\n", e.Key, e.Size, e.Mtime, e.Path)
		}
		again, err := readSeal(writeString(t, b.String()))
		if err != nil || len(again) != len(seal) {
			t.Errorf("written back: %v %d/%d", err, len(again), len(seal))
		}
	})
}

func writeString(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "2.seal")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKeyAttrs: a key names the object's mode without write bits.
func TestKeyAttrs(t *testing.T) {
	for key, want := range map[string][3]uint32{
		"aa-755-0-0":     {0o555, 0, 0},
		"aa-4755-0-0":    {0o4555, 0, 0},
		"aa-640-1000-42": {0o440, 1000, 42},
	} {
		m, u, g, ok := keyAttrs(key)
		if !ok || [3]uint32{m, u, g} != want {
			t.Errorf("keyAttrs(%s) = %o %d %d %v, want %o", key, m, u, g, ok, want)
		}
	}
	if _, _, _, ok := keyAttrs("aa-9-0"); ok {
		t.Error("a key of three fields read")
	}
}
