package archive

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/internal/testfixture"
)

// squeezeStreams compresses data as n concatenated streams (gzip members,
// xz streams, zstd frames, bzip2 streams), as a bomb may be built.
func squeezeStreams(t *testing.T, f compress.Format, data []byte, n int) []byte {
	t.Helper()
	var out []byte
	step := (len(data) + n - 1) / n
	for i := 0; i < len(data); i += step {
		part := data[i:min(i+step, len(data))]
		if f == compress.Bzip2 {
			cmd := exec.Command(testfixture.Tool(t, "bzip2", "bzip2"), "-c")
			cmd.Stdin = bytes.NewReader(part)
			b, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
			continue
		}
		out = append(out, squeeze(t, f, part)...)
	}
	return out
}

// TestDataSizeCap: data.tar is cut at ReadOptions.MaxDataSize for every
// compressor, one stream or many, with the Go and the system decoders,
// and control.tar at MaxControlSize (issue 12, item 4: concatenated gzip
// members or zstd frames expanding to 16 GiB were written until the disk
// was full).
func TestDataSizeCap(t *testing.T) {
	tarData := tarBytes(t, dirEntry("./"), fileEntry("./big", 0o644, strings.Repeat("\x00", 1<<20)),
		fileEntry("./more", 0o644, strings.Repeat("y", 200<<10)))
	size := int64(len(tarData))
	ctl := squeeze(t, compress.Gzip, controlTar(t))
	exts := map[compress.Format]string{compress.Gzip: ".gz", compress.Xz: ".xz", compress.Zstd: ".zst", compress.Bzip2: ".bz2"}
	for _, f := range []compress.Format{compress.Gzip, compress.Xz, compress.Zstd, compress.Bzip2} {
		for _, streams := range []int{1, 7} {
			data := squeezeStreams(t, f, tarData, streams)
			deb := arBytes(t, member{"debian-binary", []byte("2.0\n")}, member{"control.tar.gz", ctl}, member{"data.tar" + exts[f], data})
			for _, dec := range []struct {
				name string
				d    compress.Decoder
			}{{"go", compress.Decoder{}}, {"system", compress.SystemDecoder()}} {
				name := string(f) + "/" + dec.name
				if f == compress.Xz && dec.d.XZCommand != "" && streams > 1 {
					// The system decoder reads one xz stream (xz
					// --single-stream): the rest is refused, never written.
					if _, _, err := readAll(deb, ReadOptions{Name: "bomb.deb", Decoder: dec.d, MaxDataSize: size}); !errors.Is(err, ErrTruncated) {
						t.Errorf("%s, %d streams: %v", name, streams, err)
					}
					continue
				}
				if _, _, err := readAll(deb, ReadOptions{Name: "bomb.deb", Decoder: dec.d, MaxDataSize: size}); err != nil {
					t.Errorf("%s, %d streams: cap at the exact size: %v", name, streams, err)
				}
				for _, max := range []int64{size - 1, 512 << 10, 10 << 10} {
					_, _, err := readAll(deb, ReadOptions{Name: "bomb.deb", Decoder: dec.d, MaxDataSize: max})
					if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "bomb.deb: member data.tar"+exts[f]) ||
						!strings.Contains(err.Error(), "decompresses to more than") {
						t.Errorf("%s, %d streams, cap %d: %v", name, streams, max, err)
					}
				}
				r := NewReader(bytes.NewReader(deb), ReadOptions{Name: "bomb.deb", Decoder: dec.d})
				r.SetMaxDataSize(size / 2)
				if _, err := r.Control(); err != nil {
					t.Fatal(err)
				}
				d, err := r.Data()
				if err != nil {
					t.Fatal(err)
				}
				for err == nil {
					var e *Entry
					if e, err = d.Next(); err == nil {
						_, err = bytes.NewBuffer(nil).ReadFrom(e.Body)
					}
				}
				d.Close()
				if !errors.Is(err, ErrTooLarge) {
					t.Errorf("%s, %d streams: SetMaxDataSize: %v", name, streams, err)
				}
			}
		}
	}
	// control.tar: many gzip members, 3 MiB in all, capped at 1 MiB.
	big := tarBytes(t, fileEntry("./control", 0o644, testControl), fileEntry("./templates", 0o644, strings.Repeat("\x00", 3<<20)))
	deb := arBytes(t, member{"debian-binary", []byte("2.0\n")}, member{"control.tar.gz", squeezeStreams(t, compress.Gzip, big, 9)},
		member{"data.tar.gz", squeeze(t, compress.Gzip, dataTar(t))})
	if _, err := NewReader(bytes.NewReader(deb), ReadOptions{Name: "bomb.deb", MaxControlSize: 1 << 20}).Control(); !errors.Is(err, ErrTooLarge) {
		t.Errorf("multi-member control.tar.gz: %v", err)
	}
}
