package compress

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	payload := []byte(strings.Repeat("Package: hello\nVersion: 2.10-3\n\n", 500))
	for _, f := range []Format{None, Gzip, Xz, Zstd} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(payload); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := Detect(buf.Bytes()); got != f {
				t.Fatalf("Detect = %s, want %s", got, f)
			}
			r, got, err := NewReader(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got != f {
				t.Fatalf("NewReader format = %s, want %s", got, f)
			}
			out, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, payload) {
				t.Fatalf("round trip through %s changed the content", f)
			}
		})
	}
}

func TestReproducible(t *testing.T) {
	for _, f := range []Format{Gzip, Xz, Zstd} {
		var a, b bytes.Buffer
		for _, buf := range []*bytes.Buffer{&a, &b} {
			w, err := NewWriter(buf, f)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, "same input, same bytes")
			w.Close()
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s output differs between two runs", f)
		}
	}
}

func TestFormatMismatch(t *testing.T) {
	_, err := NewReaderFormat(strings.NewReader("plain text"), Xz)
	if !errors.Is(err, ErrFormatMismatch) {
		t.Fatalf("err = %v, want ErrFormatMismatch", err)
	}
}

func TestTruncatedXz(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Xz)
	w.Write(bytes.Repeat([]byte("abcdefgh"), 10000))
	w.Close()
	r, _, err := NewReader(bytes.NewReader(buf.Bytes()[:buf.Len()/2]))
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if err == nil {
		t.Fatal("truncated xz stream read without error")
	}
}

func TestFromExtension(t *testing.T) {
	for name, want := range map[string]Format{"Packages.xz": Xz, "a.gz": Gzip, "data.tar.zst": Zstd, "x.bz2": Bzip2, "Packages": None} {
		if got := FromExtension(name); got != want {
			t.Errorf("FromExtension(%q) = %s, want %s", name, got, want)
		}
	}
}
