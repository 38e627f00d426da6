package index

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"testing"
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
