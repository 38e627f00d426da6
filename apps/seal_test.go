package apps

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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

// BenchmarkCheckGeneration: what "grey app run" spends checking a
// generation of 10,000 shared files against its seal (lstat only).
func BenchmarkCheckGeneration(b *testing.B) {
	a := Open(b.TempDir())
	root := a.Root("x", 1)
	keys := map[string]string{}
	key := fmt.Sprintf("%s-644-%d-%d", strings.Repeat("ab", 32), os.Getuid(), os.Getgid())
	for i := range 10000 {
		p := fmt.Sprintf("/usr/lib/d%d/f%d", i%100, i)
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o444); err != nil {
			b.Fatal(err)
		}
		keys[p] = key
	}
	if err := writeSeal(a.sealPath("x", 1), root, keys, nil); err != nil {
		b.Fatal(err)
	}
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	n := 0
	for b.Loop() {
		d, sealed, err := a.CheckGeneration("x", 1)
		if err != nil || !sealed || len(d) != 0 {
			b.Fatalf("%v %v %v", d, sealed, err)
		}
		n++
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "cpu-ms/op")
}
