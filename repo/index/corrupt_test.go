package index

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCorruption damages a cache file in every region and checks that the
// damage is detected, never trusted, and repaired from the Packages file.
func TestCorruption(t *testing.T) {
	dir := t.TempDir()
	in := writeInput(t, dir, "main", samplePackages)
	cache := filepath.Join(dir, "cache")
	if _, err := Build(context.Background(), cache, []Input{in}); err != nil {
		t.Fatal(err)
	}
	path := CachePath(cache, in)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := openView(good, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	textStart := int(v.secs[secText].off)
	strEnd := int(v.secs[secStr].off + v.secs[secStr].n)
	tables := int(v.secs[secPkgs].off)
	nhash := int(v.secs[secNHash].off)
	tests := []struct {
		name   string
		damage func([]byte) []byte
		// lazy: the damage is past the header and block table, found
		// when the damaged block is first read rather than at load.
		lazy bool
	}{
		{"empty", func(b []byte) []byte { return nil }, false},
		{"truncated header", func(b []byte) []byte { return b[:100] }, false},
		{"truncated tables", func(b []byte) []byte { return b[:textStart-3] }, false},
		{"truncated text", func(b []byte) []byte { return b[:len(b)-1] }, false},
		{"extended", func(b []byte) []byte { return append(b, 0) }, false},
		{"magic", func(b []byte) []byte { b[0] ^= 1; return b }, false},
		{"format version", func(b []byte) []byte { b[offVersion]++; return b }, false},
		{"sha256", func(b []byte) []byte { b[offSHA256+5] ^= 0x40; return b }, false},
		{"section table", func(b []byte) []byte { b[offSecs+9] ^= 1; return b }, false},
		{"crc", func(b []byte) []byte { b[offCRC] ^= 1; return b }, false},
		{"block count", func(b []byte) []byte { b[offBlocks]++; return b }, false},
		{"block table", func(b []byte) []byte { b[headerSize] ^= 4; return b }, false},
		{"package table", func(b []byte) []byte { b[tables+pkgSize+pVerLen] ^= 2; return b }, true},
		{"string pool", func(b []byte) []byte { b[strEnd-1] ^= 0x20; return b }, true},
		{"name hash table", func(b []byte) []byte { b[nhash] ^= 0x01; return b }, true},
		{"stanza text", func(b []byte) []byte { b[textStart+3] ^= 0x20; return b }, true},
		{"last stanza byte", func(b []byte) []byte { b[len(b)-2] ^= 0x01; return b }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := tt.damage(append([]byte(nil), good...))
			if err := os.WriteFile(path, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := mapFile(path, in.SHA256)
			var ce *CorruptError
			if !tt.lazy {
				if !errors.As(err, &ce) {
					t.Fatalf("mapFile of damaged file: %v, want a *CorruptError", err)
				}
			} else {
				if err != nil {
					t.Fatalf("mapFile: %v", err)
				}
				m.close()
			}
			x, res, err := Load(context.Background(), cache, []Input{in})
			if err != nil {
				t.Fatal(err)
			}
			if tt.lazy {
				// Load cannot see it; reading must, and must leave
				// the file to be rebuilt by the next Load.
				for range x.All() {
				}
				for range x.Names() {
				}
				x.Packages("hello")
				if !errors.As(x.Err(), &ce) {
					t.Errorf("Err %v after reading everything, want a *CorruptError", x.Err())
				}
				x.Close()
				x, res, err = Load(context.Background(), cache, []Input{in})
				if err != nil {
					t.Fatal(err)
				}
			}
			defer x.Close()
			if len(res.Rebuilt) != 1 || !errors.As(res.Rebuilt[0], &ce) && !errors.Is(res.Rebuilt[0], os.ErrNotExist) {
				t.Errorf("Rebuilt = %v, want the damage reported", res.Rebuilt)
			}
			n := 0
			for range x.All() {
				n++
			}
			if n != 4 || x.Err() != nil {
				t.Errorf("after rebuild: %d packages, Err %v", n, x.Err())
			}
		})
	}
}

func TestHashMismatch(t *testing.T) {
	dir := t.TempDir()
	in := writeInput(t, dir, "main", samplePackages)
	in.SHA256 = writeInput(t, dir, "other", samplePackages2).SHA256
	_, err := Build(context.Background(), filepath.Join(dir, "cache"), []Input{in})
	var he *HashMismatchError
	if !errors.As(err, &he) || he.Path != in.Path {
		t.Fatalf("Build of a changed file: %v, want *HashMismatchError", err)
	}
	in.SHA256 = "xyz"
	if _, err := Build(context.Background(), filepath.Join(dir, "cache"), []Input{in}); err == nil {
		t.Fatal("Build accepted a malformed SHA256")
	}
}

// TestStale checks that a new Packages file replaces its origin's old cache
// and leaves other origins' caches alone.
func TestStale(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	a := writeInput(t, dir, "a", samplePackages)
	b := writeInput(t, dir, "b", samplePackages2)
	if _, err := Build(context.Background(), cache, []Input{a, b}); err != nil {
		t.Fatal(err)
	}
	old := CachePath(cache, a)
	a2 := writeInput(t, dir, "a", samplePackages2)
	rep, err := Build(context.Background(), cache, []Input{a2})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Built) != 1 {
		t.Errorf("built %v", rep.Built)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale cache %s still there (%v)", old, err)
	}
	for _, p := range []string{CachePath(cache, a2), CachePath(cache, b)} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("cache removed: %v", err)
		}
	}
	rep, err = Build(context.Background(), cache, []Input{a2, b})
	if err != nil || len(rep.Built) != 0 {
		t.Errorf("up-to-date Build rebuilt %v (%v)", rep.Built, err)
	}
}

func TestOriginDir(t *testing.T) {
	seen := map[string]string{}
	for _, o := range []string{"bookworm", "deb.debian.org/debian bookworm", "deb.debian.org_debian bookworm", "", ".", "..", "a/../b"} {
		d := filepath.Base(originDir("/c", o))
		if d == "." || d == ".." || d == "" || filepath.Dir(originDir("/c", o)) != "/c" {
			t.Errorf("origin %q: folder %q", o, d)
		}
		if prev, ok := seen[d]; ok {
			t.Errorf("origins %q and %q share folder %q", prev, o, d)
		}
		seen[d] = o
	}
}

// TestBadPackagesFile checks that a Packages file that does not parse fails
// the build with its name and line, leaves no cache behind, and does not
// hang the decompressing goroutine.
func TestBadPackagesFile(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "Package: p%d\nVersion: 1\nArchitecture: all\n\n", i)
	}
	b.WriteString(" continuation without a field\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "Package: q%d\nVersion: 1\nArchitecture: all\n\n", i)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(b.String()))
	zw.Close()
	for name, data := range map[string][]byte{"plain": []byte(b.String()), "gzip": gz.Bytes()} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			in := Input{Origin: name, Path: p, SHA256: fileSHA(t, p)}
			cache := filepath.Join(dir, "cache")
			_, err := Build(context.Background(), cache, []Input{in})
			if err == nil || !strings.Contains(err.Error(), p+":20001") {
				t.Fatalf("Build: %v, want a syntax error at %s:20001", err, p)
			}
			if _, err := os.Stat(CachePath(cache, in)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cache written for a bad file (%v)", err)
			}
		})
	}
}

// TestTempFiles checks that Build removes the temporary files of builds
// that died, and leaves those of a build still running.
func TestTempFiles(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	in := writeInput(t, dir, "a", samplePackages)
	odir := filepath.Dir(CachePath(cache, in))
	if err := os.MkdirAll(odir, 0o755); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(odir, ".tmp-999999999-1")                    // above any pid_max
	live := filepath.Join(odir, fmt.Sprintf(".tmp-%d-2", os.Getpid())) // this process
	other := filepath.Join(odir, "notes.txt")
	for _, p := range []string{dead, live, other} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Build(context.Background(), cache, []Input{in}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dead builder's %s kept (%v)", dead, err)
	}
	for _, p := range []string{live, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
}
