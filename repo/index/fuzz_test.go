package index

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sync/atomic"
	"testing"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/testfixture"
)

// FuzzView feeds garbage to the cache reader, with the checksum checked and
// with it skipped (to reach the structural checks behind it), and exercises
// every accessor on whatever it accepts: nothing may panic.
func FuzzView(f *testing.F) {
	dir := f.TempDir()
	for i, text := range []string{samplePackages, samplePackages2} {
		in := writeInput(f, dir, string(rune('a'+i)), text)
		cache := filepath.Join(dir, "cache")
		if _, err := Build(context.Background(), cache, []Input{in}); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(CachePath(cache, in))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// And the cache of a real index, when the fixture is here (fuzzing
	// needs no fixture otherwise).
	updates := filepath.Join(filepath.Dir(testfixture.RepoRoot(f)), "shared", "testdata", "debian-bookworm",
		"debian", "dists", "bookworm-updates", "main", "binary-amd64", "Packages.xz")
	if _, err := os.Stat(updates); err == nil {
		in := Input{Origin: "bookworm-updates", Path: updates, SHA256: fileSHA(f, updates)}
		cache := filepath.Join(dir, "cache")
		if _, err := Build(context.Background(), cache, []Input{in}); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(CachePath(cache, in))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	re := regexp.MustCompile("e")
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, verify := range []bool{true, false} {
			v, err := checkView(b, "fuzz", nil, verify)
			if err != nil {
				continue
			}
			x := &Index{files: []*indexFile{{
				m: &mapped{view: v}, origin: "o", path: filepath.Join(t.TempDir(), "x"),
				memo: make([]atomic.Pointer[memoChunk], (v.n+memoChunkSize-1)/memoChunkSize),
			}}, n: v.n}
			for name := range x.Names() {
				x.Packages(name)
				x.Versions(name)
			}
			for i := 0; i < v.nprovs; i++ {
				r := v.rec(secProvs, i, nameSize)
				x.Providers(v.str(le32(r, nStrOff), le32(r, nStrLen)))
			}
			for range x.All() {
			}
			if _, err := x.Search(context.Background(), re); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzDecodeCanonical checks that the lazy stanza decoder never panics, and
// that any valid stanza it yields is read back unchanged after
// appendCanonical writes it (the path every cached stanza takes).
func FuzzDecodeCanonical(f *testing.F) {
	f.Add("Package: hello\nVersion: 1\nDescription: short\n long\n .\n more\n")
	f.Add("A:\n B\nC: \n")
	f.Add("Conffiles:\n /etc/x 0123\n")
	f.Add("")
	f.Add("no colon\n")
	f.Fuzz(func(t *testing.T, text string) {
		st, err := decodeCanonical(text, 1)
		if err != nil {
			return
		}
		if control.CheckStanza(st) != nil {
			return
		}
		out := string(appendCanonical(nil, st))
		back, err := decodeCanonical(out, 1)
		if err != nil || !reflect.DeepEqual(back, st) {
			t.Fatalf("%q decodes as %+v; written as %q it reads back as %+v (%v)", text, st.Fields, out, back, err)
		}
	})
}
