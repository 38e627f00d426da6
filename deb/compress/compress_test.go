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

func TestSystemDecoderXz(t *testing.T) {
	d := SystemDecoder()
	if d.XZCommand == "" {
		t.Skip("skipped: xz is not installed (apt-get install xz-utils)")
	}
	payload := bytes.Repeat([]byte("Package: hello\nVersion: 2.10-3\n\n"), 5000)
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Xz)
	w.Write(payload)
	w.Close()
	// A trailing byte after the stream stays unread by the decoder, as the
	// next ar member's padding would.
	r, f, err := d.NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil || f != Xz {
		t.Fatalf("NewReader: %v %s", err, f)
	}
	out, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(out, payload) {
		t.Fatalf("decoded %d bytes, err %v", len(out), err)
	}
	r.Close()
	// Corrupt and truncated streams are errors, not short output.
	bad := append([]byte(nil), buf.Bytes()...)
	bad[len(bad)/2] ^= 0xff
	for name, in := range map[string][]byte{"corrupt": bad, "truncated": buf.Bytes()[:buf.Len()/2]} {
		r, err := d.NewReaderFormat(bytes.NewReader(in), Xz)
		if err == nil {
			_, err = io.ReadAll(r)
			r.Close()
		}
		if err == nil {
			t.Errorf("%s stream decoded without error", name)
		}
	}
	// Closing early stops the child.
	r, _ = d.NewReaderFormat(bytes.NewReader(buf.Bytes()), Xz)
	small := make([]byte, 10)
	io.ReadFull(r, small)
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func BenchmarkDecodeXz(b *testing.B) {
	payload := bytes.Repeat([]byte("Package: hello\nVersion: 2.10-3\nDescription: example\n text that compresses\n\n"), 200000)
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Xz)
	w.Write(payload)
	w.Close()
	for _, d := range []struct {
		name string
		dec  Decoder
	}{{"go", Decoder{}}, {"system", SystemDecoder()}} {
		b.Run(d.name, func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				r, _, err := d.dec.NewReader(bytes.NewReader(buf.Bytes()))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, r)
				r.Close()
			}
		})
	}
}
