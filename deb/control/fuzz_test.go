package control

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/internal/testfixture"
)

// FuzzReader checks that no input panics or hangs the reader, that every
// failure on plain text is a *SyntaxError with a line, and that whatever
// parses is written back and re-parses to the same fields.
func FuzzReader(f *testing.F) {
	dir := testfixture.Bookworm(f)
	for _, idx := range fixtureIndexes[1:] {
		data := decompressFile(f, filepath.Join(dir, idx.path))
		for i, st := range strings.SplitAfter(string(data), "\n\n") {
			if i >= 40 {
				break
			}
			f.Add([]byte(st))
		}
	}
	if sample, err := os.ReadFile("testdata/sample.control"); err == nil {
		f.Add(sample)
	}
	for _, s := range []string{
		"", "A: 1\nA: 2\n", " x\n", "A\n", "A: x\r\n y\r\n", "\xEF\xBB\xBFA: 1", "A: x\n# c\n y\n",
		"Conffiles:  \n /etc/x 1\n", "A: x \n y\n", "A:\r\n\r\n", "-A: 1\n", "BZh: 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		r.SetMaxStanzaSize(1 << 20)
		all, err := readAll(t, r)
		if err != nil {
			var se *SyntaxError
			plain := compress.Detect(data) == compress.None
			if plain && !errors.As(err, &se) {
				t.Fatalf("plain input failed with %v, not a *SyntaxError", err)
			}
			if se != nil && se.Line < 1 {
				t.Fatalf("syntax error without a line: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		w := NewWriter(&buf)
		for _, s := range all {
			if s.Line < 1 || len(s.Fields) == 0 {
				t.Fatalf("stanza with Line %d and %d fields", s.Line, len(s.Fields))
			}
			if err := w.Write(s); err != nil {
				t.Fatalf("cannot write what was read: %v\nstanza %q", err, s.Fields)
			}
		}
		rr := NewReader(bytes.NewReader(buf.Bytes()))
		rr.plain = true
		again, err := readAll(t, rr)
		if err != nil {
			t.Fatalf("re-reading written output: %v\n%q", err, buf.String())
		}
		if !equalStanzas(all, again) {
			t.Fatalf("round trip changed the stanzas\nwritten: %q", buf.String())
		}
	})
}
