package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// largeDeb streams a package whose uncompressed data member holds one
// file of size bytes, without ever holding it in memory.
func largeDeb(t testing.TB, size int64) io.Reader {
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: "./big", Typeflag: tar.TypeReg, Mode: 0o644, Size: size, Format: tar.FormatGNU}); err != nil {
		t.Fatal(err)
	}
	pad := (512 - size%512) % 512
	dataLen := int64(hdr.Len()) + size + pad + 1024
	head := arBytes(t,
		member{"debian-binary", []byte("2.0\n")},
		member{"control.tar", controlTar(t)},
	)
	memberHdr := []byte("data.tar        0           0     0     100644  " + padRight(strconv.FormatInt(dataLen, 10), 10) + "`\n")
	return io.MultiReader(bytes.NewReader(head), bytes.NewReader(memberHdr), bytes.NewReader(hdr.Bytes()),
		io.LimitReader(zeros{}, size+pad+1024))
}

func padRight(s string, n int) string {
	for len(s) < n {
		s += " "
	}
	return s
}

// TestStreamingLargePackage reads a 100 MiB package from a pipe-like
// reader and checks that the allocations stay far below its size: the
// data member is streamed, never buffered.
func TestStreamingLargePackage(t *testing.T) {
	const size = 100 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ctl, entries, err := readAllFrom(onlyReader{largeDeb(t, size)}, ReadOptions{Name: "large.deb"})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if ctl.Fields.Get("Package") != "tiny" || len(entries) != 1 || entries[0].Size != size {
		t.Fatalf("read %d entries", len(entries))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("reading a %d MiB package allocated %d MiB", size>>20, alloc>>20)
	}
}

// BenchmarkReadFixture reads the 22 real packages completely: control,
// every data entry decompressed and hashed.
func BenchmarkReadFixture(b *testing.B) {
	debs := fixtureDebs(b)
	var total int64
	for _, d := range debs {
		fi, err := os.Stat(d)
		if err != nil {
			b.Fatal(err)
		}
		total += fi.Size()
	}
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range debs {
			f, err := os.Open(d)
			if err != nil {
				b.Fatal(err)
			}
			r := NewReader(f, ReadOptions{Name: d})
			data, err := r.Data()
			if err != nil {
				b.Fatal(err)
			}
			h := sha256.New()
			for {
				e, err := data.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(h, e.Body)
			}
			data.Close()
			f.Close()
		}
	}
}

// BenchmarkReadControlFixture reads only the control part of the 22 real
// packages, as an index builder or publisher does.
func BenchmarkReadControlFixture(b *testing.B) {
	debs := fixtureDebs(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range debs {
			f, err := os.Open(d)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := ReadControl(f, d); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	}
}

// BenchmarkBuild builds the test tree with the default xz compression.
func BenchmarkBuild(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "tree")
	makeTree(b, dir, true)
	tmp := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Build(context.Background(), dir, io.Discard, BuildOptions{SourceDateEpoch: testEpoch, TempDir: tmp}); err != nil {
			b.Fatal(err)
		}
	}
}
