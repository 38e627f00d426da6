package compress

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// general decodes data with the general xz decoder.
func general(data []byte) ([]byte, error) {
	zr, err := Open(bytes.NewReader(data), Xz)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// controlMembers returns the control.tar.xz members of the fixture's .debs.
func controlMembers(t *testing.T) map[string][]byte {
	t.Helper()
	debs, err := filepath.Glob(filepath.Join(testfixture.Bookworm(t), "*", "pool", "*", "*", "*", "*.deb"))
	if err != nil || len(debs) == 0 {
		t.Fatalf("no fixture .debs: %v", err)
	}
	out := map[string][]byte{}
	for _, d := range debs {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		// ar: "!<arch>\n", then 60-byte headers (name 16, size at 48..58).
		for off := 8; off+60 <= len(b); {
			name := strings.TrimRight(string(b[off:off+16]), " /")
			size, err := strconv.Atoi(strings.TrimSpace(string(b[off+48 : off+58])))
			if err != nil {
				t.Fatalf("%s: ar header: %v", d, err)
			}
			if name == "control.tar.xz" {
				out[filepath.Base(d)] = b[off+60 : off+60+size]
			}
			off += 60 + size + size%2
		}
	}
	return out
}

// TestDecodeXZSmallFixture: every control member of the fixture decodes on
// the small path, to the general decoder's bytes.
func TestDecodeXZSmallFixture(t *testing.T) {
	members := controlMembers(t)
	if len(members) < 10 {
		t.Fatalf("found %d control.tar.xz members", len(members))
	}
	for name, data := range members {
		want, err := general(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, ok := DecodeXZSmall(data, 64<<20)
		if !ok || !bytes.Equal(got, want) {
			t.Errorf("%s: small path ok=%v, %d bytes; general %d bytes", name, ok, len(got), len(want))
		}
		if _, ok := DecodeXZSmall(data, int64(len(want))-1); ok {
			t.Errorf("%s: decoded past the limit", name)
		}
	}
}

// TestDecodeXZSmallForms runs the host's xz over the checks and block
// layouts it can write: single-block streams decode on the small path,
// the rest is left to the general decoder, and nothing decodes wrongly.
func TestDecodeXZSmallForms(t *testing.T) {
	xzTool := testfixture.Tool(t, "xz", "xz-utils")
	var content bytes.Buffer
	for i := range 20000 {
		fmt.Fprintf(&content, "line %d of some control text %d\n", i, i*i%97)
	}
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"--check=crc32"}, true},
		{[]string{"--check=crc64"}, true},
		{[]string{"--check=sha256"}, true},
		{[]string{"--check=none"}, true},
		{[]string{"-0"}, true},
		{[]string{"-9e"}, true},
		{[]string{"--block-size=4096"}, false}, // many blocks
		{[]string{"-T2", "--block-size=100000"}, false},
		{[]string{"-T2", "--block-size=10000000"}, true}, // one block, sizes in its header
	} {
		cmd := exec.Command(xzTool, append([]string{"-c"}, tc.args...)...)
		cmd.Stdin = bytes.NewReader(content.Bytes())
		data, err := cmd.Output()
		if err != nil {
			t.Fatalf("xz %v: %v", tc.args, err)
		}
		got, ok := DecodeXZSmall(data, 64<<20)
		if ok != tc.ok || ok && !bytes.Equal(got, content.Bytes()) {
			t.Errorf("xz %v: ok=%v (want %v), %d bytes (want %d)", tc.args, ok, tc.ok, len(got), content.Len())
		}
		// Padding after the stream, or a second stream, is the general
		// decoder's business.
		for _, tail := range [][]byte{{0, 0, 0, 0}, data} {
			if _, ok := DecodeXZSmall(append(append([]byte(nil), data...), tail...), 64<<20); ok {
				t.Errorf("xz %v: took a stream with %d bytes after it", tc.args, len(tail))
			}
		}
	}
}

// TestDecodeXZSmallDamage flips every byte of a small stream in turn: the
// small path never returns content that differs from the original.
func TestDecodeXZSmallDamage(t *testing.T) {
	var src bytes.Buffer
	zw, err := NewWriter(&src, Xz)
	if err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("Package: hello\nVersion: 2.10-3\n"), 40)
	if _, err := zw.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	data := src.Bytes()
	if got, ok := DecodeXZSmall(data, 1<<20); !ok || !bytes.Equal(got, content) {
		t.Fatalf("grey's own xz output: ok=%v", ok)
	}
	for i := range data {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			bad := append([]byte(nil), data...)
			bad[i] ^= x
			if got, ok := DecodeXZSmall(bad, 1<<20); ok && !bytes.Equal(got, content) {
				t.Fatalf("byte %d ^ %#x: decoded to different content", i, x)
			}
		}
	}
}

// TestDecodeXZSmallTinyIndex: a footer whose backward size says the index
// is four zero bytes (whose CRC32, of nothing, is zero too) is refused, not
// sliced past its end.
func TestDecodeXZSmallTinyIndex(t *testing.T) {
	flags := []byte{0, 1}
	data := append([]byte(xzMagic), flags...)
	data = binary.LittleEndian.AppendUint32(data, crc32.ChecksumIEEE(flags))
	data = append(data, 0, 0, 0, 0)                  // the four-byte "index"
	tail := binary.LittleEndian.AppendUint32(nil, 0) // backward size: (0+1)*4
	tail = append(append(tail, flags...), 'Y', 'Z')
	data = binary.LittleEndian.AppendUint32(data, crc32.ChecksumIEEE(tail[:6])) // backward size and flags
	data = append(data, tail...)
	if _, ok := DecodeXZSmall(data, 1<<20); ok {
		t.Fatal("accepted a stream with an empty index")
	}
}

// FuzzDecodeXZSmall: whatever the small path accepts, the general decoder
// decodes to the same bytes.
func FuzzDecodeXZSmall(f *testing.F) {
	var src bytes.Buffer
	zw, _ := NewWriter(&src, Xz)
	_, _ = zw.Write([]byte("Package: hello\nVersion: 2.10-3\n"))
	_ = zw.Close()
	f.Add(src.Bytes())
	f.Add([]byte(xzMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := DecodeXZSmall(data, 1<<20)
		if !ok {
			return
		}
		want, err := general(data)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("small path gave %d bytes; general decoder %d bytes, %v", len(got), len(want), err)
		}
	})
}
