package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/deb/compress"
)

// systemXZ returns the host's xz decoder, or skips.
func systemXZ(t *testing.T) compress.Decoder {
	t.Helper()
	d := compress.SystemDecoder()
	if d.XZCommand == "" {
		t.Skip("no xz on PATH")
	}
	return d
}

// xzOf compresses text with the host's xz.
func xzOf(t *testing.T, text string) []byte {
	t.Helper()
	cmd := exec.Command(systemXZ(t).XZCommand, "-c", "-0")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSystemDecoder: with the host's xz, Build parses the child's output
// directly; the cache must be the same as with the Go decoder, and every
// failure must still be caught.
func TestSystemDecoder(t *testing.T) {
	dec := systemXZ(t)
	dir := t.TempDir()
	var good strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&good, "Package: p%d\nVersion: 1.%d\nArchitecture: all\nProvides: v%d (= 1)\n\n", i, i, i%7)
	}
	write := func(name string, data []byte) Input {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return Input{Origin: name, Path: p, SHA256: fileSHA(t, p), Decoder: dec}
	}
	build := func(in Input) ([]byte, error) {
		cache := filepath.Join(dir, "cache-"+in.Origin)
		if _, err := Build(context.Background(), cache, []Input{in}); err != nil {
			if _, serr := os.Stat(CachePath(cache, in)); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("%s: cache written although Build failed (%v)", in.Origin, serr)
			}
			return nil, err
		}
		return os.ReadFile(CachePath(cache, in))
	}

	xz := xzOf(t, good.String())
	in := write("good", xz)
	got, err := build(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Decoder, in.Origin = compress.Decoder{}, "good-go"
	want, err := build(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("cache built from the host's xz differs from the Go decoder's")
	}

	// Bytes after the xz stream are not decoded but are hashed: the file
	// as a whole must match its SHA256.
	// (Enough of them that xz stops reading before their end.)
	in = write("trailing", append(append([]byte{}, xz...), make([]byte, 4<<20)...))
	if _, err := build(in); err != nil {
		t.Errorf("stream with padding after it: %v", err)
	}
	in.SHA256 = write("trailing-other", xz).SHA256
	var he *HashMismatchError
	if _, err := build(in); !errors.As(err, &he) {
		t.Errorf("stream followed by bytes its SHA256 does not cover: %v, want *HashMismatchError", err)
	}

	in = write("truncated", xz[:len(xz)/2])
	if _, err := build(in); err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated stream: %v, want io.ErrUnexpectedEOF", err)
	}

	bad := good.String() + " continuation without a field\n" + good.String()
	in = write("syntax", xzOf(t, bad))
	if _, err := build(in); err == nil || !strings.Contains(err.Error(), in.Path+":15001") {
		t.Errorf("syntax error: %v, want one at %s:15001", err, in.Path)
	}

	in = write("skip", xzOf(t, "Package: a\nVersion: 1\nArchitecture: all\nDepends: b (>=\n\n"+good.String()))
	rep, err := Build(context.Background(), filepath.Join(dir, "cache-skip"), []Input{in})
	if err != nil || len(rep.Skipped) != 1 || rep.Skipped[0].Error() != in.Path+`: skipped: a (line 1): field Depends: relation "b (>=": at offset 5: missing version after ">="` {
		t.Errorf("skipped stanza: report %+v, error %v", rep, err)
	}
}
