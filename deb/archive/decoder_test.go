package archive

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/greypm/grey/deb/compress"
)

// TestSystemDecoderSameEntries reads every fixture .deb with the pure-Go
// decoder and with the host's xz, and expects the same entries and bytes.
func TestSystemDecoderSameEntries(t *testing.T) {
	sys := compress.SystemDecoder()
	if sys.XZCommand == "" {
		t.Skip("skipped: xz is not installed (apt-get install xz-utils)")
	}
	for _, path := range fixtureDebs(t) {
		a := digestEntries(t, path, compress.Decoder{})
		b := digestEntries(t, path, sys)
		if a != b {
			t.Errorf("%s: entries differ between the Go decoder and xz", path)
		}
	}
}

func digestEntries(t *testing.T, path string, d compress.Decoder) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f, ReadOptions{Name: path, Decoder: d})
	if _, err := r.Control(); err != nil {
		t.Fatal(err)
	}
	data, err := r.Data()
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	h := sha256.New()
	for {
		e, err := data.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %v %o %d %s\n", e.Path, e.Type, e.Mode, e.Size, e.Linkname)
		if _, err := io.Copy(h, data); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
