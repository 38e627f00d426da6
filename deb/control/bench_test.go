package control

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

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
	cpu0 := cpuTime(b)
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
	cpu := cpuTime(b) - cpu0
	runtime.ReadMemStats(&after)
	if stanzas != 63440 {
		b.Fatalf("read %d stanzas, want 63440", stanzas)
	}
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(runs*fields), "allocs/field")
	b.ReportMetric(float64(fields), "fields/op")
	// The machine is shared: CPU time, unlike wall time, does not count
	// the time spent waiting for a core.
	b.ReportMetric(float64(len(data))*float64(runs)/cpu.Seconds()/1e6, "cpu-MB/s")
}

// cpuTime returns the CPU time (user and system) used by the process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
