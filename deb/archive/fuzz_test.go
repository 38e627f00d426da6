package archive

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/greypm/grey/deb/compress"
)

// FuzzArchive feeds arbitrary bytes to the reader: whatever they hold, it
// must return entries or an *Error, never panic or hang. The seeds are
// small packages built here: the fuzzer minimizes each new input for up to
// -fuzzminimizetime (60 s by default), which on inputs of 10 KiB, as a real
// package is, takes the whole budget.
func FuzzArchive(f *testing.F) {
	for _, cf := range []compress.Format{compress.Gzip, compress.Xz} {
		for _, df := range []compress.Format{compress.Gzip, compress.Xz, compress.Zstd} {
			f.Add(tinyDeb(f, cf, df))
		}
	}
	// Uncompressed members are fuzzed in their smallest form: tar's 512-byte
	// blocks make inputs large, and the fuzzer minimizes every new input.
	f.Add(arBytes(f, member{"debian-binary/", []byte("2.0\n")}, member{"_x", []byte("1")},
		member{"control.tar", tarBytes(f, fileEntry("./control", 0o644, "Package: a\n"))},
		member{"data.tar", tarBytes(f, fileEntry("./a", 0o644, "a"))}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var lf ContentsFormatter
		for _, src := range []io.Reader{bytes.NewReader(data), onlyReader{bytes.NewReader(data)}} {
			r := NewReader(src, ReadOptions{Name: "fuzz.deb", MaxControlSize: 1 << 20})
			ctl, err := r.Control()
			if err != nil {
				checkError(t, err)
				continue
			}
			_ = ctl.Scripts()
			d, err := r.Data()
			if err != nil {
				checkError(t, err)
				continue
			}
			for {
				e, err := d.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					checkError(t, err)
					break
				}
				_ = lf.Line(e)
				_, _ = e.RelPath()
				if _, err := io.Copy(io.Discard, io.LimitReader(e.Body, 16<<20)); err != nil {
					checkError(t, err)
					break
				}
			}
			d.Close()
		}
	})
}

// checkError fails unless err is an *Error naming the file.
func checkError(t *testing.T, err error) {
	t.Helper()
	var ae *Error
	if !errors.As(err, &ae) || ae.File != "fuzz.deb" {
		t.Fatalf("error %v (%T) is not an *Error naming the file", err, err)
	}
}
