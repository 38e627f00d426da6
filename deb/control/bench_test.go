package control

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/internal/testfixture"
)

// bookwormMain returns the bookworm main Packages index, decompressed.
func bookwormMain(tb testing.TB) []byte {
	tb.Helper()
	return decompressFile(tb, filepath.Join(testfixture.Bookworm(tb), "debian/dists/bookworm/main/binary-amd64/Packages.xz"))
}

func decompressFile(tb testing.TB, path string) []byte {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	rc, _, err := compress.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("decompress %s: %v", path, err)
	}
	return data
}

// BenchmarkParsePackages parses bookworm's main index (50 MB, 63,440
// stanzas) from memory. Target: >= 250 MB/s and < 2 allocations per field.
func BenchmarkParsePackages(b *testing.B) {
	data := bookwormMain(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var fields, stanzas, runs int
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		runs++
		fields, stanzas = 0, 0
		r := NewReader(bytes.NewReader(data))
		for {
			st, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			stanzas++
			fields += len(st.Fields)
		}
	}
	runtime.ReadMemStats(&after)
	if stanzas != 63440 {
		b.Fatalf("read %d stanzas, want 63440", stanzas)
	}
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(runs*fields), "allocs/field")
	b.ReportMetric(float64(fields), "fields/op")
}
