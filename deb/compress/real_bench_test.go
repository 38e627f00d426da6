package compress

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// BenchmarkDecodeIndex decodes bookworm main's Packages.xz (8.8 MB of xz,
// 50 MB of text) with the pure-Go decoder and with the system's xz.
func BenchmarkDecodeIndex(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(testfixture.Bookworm(b), testfixture.Indexes[0]))
	if err != nil {
		b.Fatal(err)
	}
	for _, d := range []struct {
		name string
		dec  Decoder
	}{{"go", Decoder{}}, {"system", SystemDecoder()}} {
		b.Run(d.name, func(b *testing.B) {
			if d.name == "system" && d.dec.XZCommand == "" {
				b.Skip("no xz on PATH")
			}
			var n int64
			for b.Loop() {
				r, _, err := d.dec.NewReader(bytes.NewReader(data))
				if err != nil {
					b.Fatal(err)
				}
				if n, err = io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
			b.SetBytes(n)
		})
	}
}
