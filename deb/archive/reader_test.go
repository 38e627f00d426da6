package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/internal/testfixture"
)

// readAll reads a whole package, content included, and returns the first error.
func readAll(data []byte, opts ReadOptions) (*Control, []*Entry, error) {
	return readAllFrom(bytes.NewReader(data), opts)
}

func readAllFrom(src io.Reader, opts ReadOptions) (*Control, []*Entry, error) {
	r := NewReader(src, opts)
	ctl, err := r.Control()
	if err != nil {
		return nil, nil, err
	}
	d, err := r.Data()
	if err != nil {
		return ctl, nil, err
	}
	defer d.Close()
	var entries []*Entry
	for {
		e, err := d.Next()
		if err == io.EOF {
			return ctl, entries, nil
		}
		if err != nil {
			return ctl, entries, err
		}
		if _, err := io.Copy(io.Discard, e.Body); err != nil {
			return ctl, entries, err
		}
		entries = append(entries, e)
	}
}

// onlyReader hides io.Seeker, as a pipe or a network stream would.
type onlyReader struct{ io.Reader }

func TestReadTiny(t *testing.T) {
	formats := []compress.Format{compress.None, compress.Gzip, compress.Xz, compress.Zstd}
	for _, cf := range formats {
		for _, df := range formats {
			t.Run(string(cf)+"-"+string(df), func(t *testing.T) {
				ctl, entries, err := readAll(tinyDeb(t, cf, df), ReadOptions{Name: "tiny.deb"})
				if err != nil {
					t.Fatal(err)
				}
				if ctl.Fields.Get("Package") != "tiny" || ctl.Format != "2.0" || ctl.Compression != cf {
					t.Errorf("control: package %q format %q compression %s", ctl.Fields.Get("Package"), ctl.Format, ctl.Compression)
				}
				if len(ctl.Conffiles) != 2 || ctl.Conffiles[0].Path != "/etc/tiny.conf" ||
					ctl.Conffiles[1].Path != "/etc/old.conf" || strings.Join(ctl.Conffiles[1].Flags, ",") != "remove-on-upgrade" {
					t.Errorf("conffiles = %+v", ctl.Conffiles)
				}
				if ctl.MD5Sums["usr/share/tiny/hello"] != "b1946ac92492d2347c6235b4d2611184" {
					t.Errorf("md5sums = %v", ctl.MD5Sums)
				}
				s := ctl.Scripts()
				if len(s) != 1 || s[0].Name != "postinst" || s[0].Mode.Perm() != 0o755 {
					t.Errorf("scripts = %+v", s)
				}
				var types []string
				for _, e := range entries {
					types = append(types, e.Type.String())
				}
				want := "dir dir regular dir dir dir regular symlink hardlink"
				if got := strings.Join(types, " "); got != want {
					t.Errorf("types = %s, want %s", got, want)
				}
			})
		}
	}
}

func TestControlOnlyDoesNotReadData(t *testing.T) {
	deb := tinyDeb(t, compress.Gzip, compress.Xz)
	// Corrupt the data member: reading only the control must not notice.
	i := bytes.Index(deb, []byte("data.tar.xz"))
	corrupt := append([]byte(nil), deb...)
	for j := i + 60 + 6; j < len(corrupt)-1; j++ {
		corrupt[j] ^= 0x55
	}
	ctl, err := ReadControl(bytes.NewReader(corrupt), "corrupt.deb")
	if err != nil || ctl.Fields.Get("Version") != "1.0-1" {
		t.Fatalf("ReadControl = %v, %v", ctl, err)
	}
	if _, _, err := readAll(corrupt, ReadOptions{Name: "corrupt.deb"}); err == nil {
		t.Fatal("reading the corrupt data member succeeded")
	}
}

func TestBzip2Data(t *testing.T) {
	bin := testfixture.Tool(t, "bzip2", "bzip2")
	cmd := exec.Command(bin, "-c")
	cmd.Stdin = bytes.NewReader(dataTar(t))
	bz, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	deb := arBytes(t,
		member{"debian-binary", []byte("2.0\n")},
		member{"control.tar.gz", squeeze(t, compress.Gzip, controlTar(t))},
		member{"data.tar.bz2", bz},
	)
	_, entries, err := readAll(deb, ReadOptions{})
	if err != nil || len(entries) != 9 {
		t.Fatalf("bzip2 data: %d entries, %v", len(entries), err)
	}
}

func TestBadArchives(t *testing.T) {
	ctl := squeeze(t, compress.Gzip, controlTar(t))
	data := squeeze(t, compress.Xz, dataTar(t))
	bin := []byte("2.0\n")
	good := tinyDeb(t, compress.Gzip, compress.Xz)
	sizeField := func(deb []byte, name string, size string) []byte {
		out := append([]byte(nil), deb...)
		i := bytes.Index(out, []byte(name))
		copy(out[i+48:i+58], []byte(size+strings.Repeat(" ", 10-len(size))))
		return out
	}
	tests := []struct {
		name string
		deb  []byte
		want error  // errors.Is target
		text string // must appear in the message
	}{
		{"empty", nil, ErrNotDeb, "empty file"},
		{"not ar", []byte("PK\x03\x04 this is a zip"), ErrNotDeb, "no ar magic"},
		{"no members", []byte(arMagic), ErrNotDeb, "no members"},
		{"control first", arBytes(t, member{"control.tar.gz", ctl}, member{"data.tar.xz", data}), ErrNotDeb, "first member"},
		{"data before control", arBytes(t, member{"debian-binary", bin}, member{"data.tar.xz", data}, member{"control.tar.gz", ctl}), ErrMemberOrder, "member data.tar.xz"},
		{"unknown member", arBytes(t, member{"debian-binary", bin}, member{"control.tar.gz", ctl}, member{"extra", nil}, member{"data.tar.xz", data}), ErrMemberOrder, "member extra"},
		{"unknown before control", arBytes(t, member{"debian-binary", bin}, member{"junk", nil}, member{"control.tar.gz", ctl}), ErrMemberOrder, "member junk"},
		{"two controls", arBytes(t, member{"debian-binary", bin}, member{"control.tar.gz", ctl}, member{"control.tar.gz", ctl}, member{"data.tar.xz", data}), ErrMemberOrder, "second control"},
		{"no control", arBytes(t, member{"debian-binary", bin}), ErrMemberOrder, "no control.tar"},
		{"no data", arBytes(t, member{"debian-binary", bin}, member{"control.tar.gz", ctl}), ErrMemberOrder, "no data.tar"},
		{"format 3.0", arBytes(t, member{"debian-binary", []byte("3.0\n")}, member{"control.tar.gz", ctl}, member{"data.tar.xz", data}), ErrFormatVersion, `"3.0"`},
		{"format no newline", arBytes(t, member{"debian-binary", []byte("2.0")}, member{"control.tar.gz", ctl}, member{"data.tar.xz", data}), ErrFormatVersion, "no newline"},
		{"format huge", arBytes(t, member{"debian-binary", bytes.Repeat([]byte("2"), 5000)}, member{"control.tar.gz", ctl}), ErrFormatVersion, "5000 bytes"},
		{"bzip2 control", arBytes(t, member{"debian-binary", bin}, member{"control.tar.bz2", ctl}), ErrNotDeb, "unknown compression"},
		{"control name lies", arBytes(t, member{"debian-binary", bin}, member{"control.tar.xz", ctl}), compress.ErrFormatMismatch, "control.tar.xz"},
		{"lzma data", arBytes(t, member{"debian-binary", bin}, member{"control.tar.gz", ctl}, member{"data.tar.lzma", data}), ErrNotDeb, "unknown compression"},
		{"size past end", sizeField(good, "data.tar.xz", "999999"), ErrTruncated, "only"},
		{"absurd size", sizeField(good, "control.tar.gz", "9999999999"), ErrTruncated, "header says 9999999999"},
		{"size not a number", sizeField(good, "control.tar.gz", "12x4"), errBadSize, "control.tar.gz"},
		{"bad header magic", func() []byte { b := append([]byte(nil), good...); b[8+58] = 'X'; return b }(), ErrNotDeb, "header magic"},
		{"no control file", arBytes(t, member{"debian-binary", bin}, member{"control.tar", tarBytes(t, fileEntry("./md5sums", 0o644, ""))}), ErrNotDeb, "no control file"},
		{"control subdir", arBytes(t, member{"debian-binary", bin}, member{"control.tar", tarBytes(t, fileEntry("./a/control", 0o644, testControl))}), ErrBadEntry, "./a/control"},
		{"control symlink", arBytes(t, member{"debian-binary", bin}, member{"control.tar", tarBytes(t,
			tarEntry{h: tar.Header{Name: "./control", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}})}), ErrBadEntry, "regular files"},
		{"bad md5sums", arBytes(t, member{"debian-binary", bin}, member{"control.tar", tarBytes(t,
			fileEntry("./control", 0o644, testControl), fileEntry("./md5sums", 0o644, "nonsense\n"))}), nil, "entry md5sums: line 1"},
		{"bad control", arBytes(t, member{"debian-binary", bin}, member{"control.tar", tarBytes(t,
			fileEntry("./control", 0o644, "this is not deb822\n"))}), nil, "entry control"},
		{"control header claims 100 MB", arBytes(t, member{"debian-binary", bin}, member{"control.tar", func() []byte {
			b := tarBytes(t, fileEntry("./control", 0o644, testControl))
			return tarSetSize(b, 100<<20)
		}()}), ErrTooLarge, "104857600 bytes"},
		{"bad data tar checksum", arBytes(t, member{"debian-binary", bin}, member{"control.tar.gz", ctl}, member{"data.tar", func() []byte {
			b := dataTar(t)
			b[148] ^= 1 // the first header's checksum field
			return b
		}()}), nil, "member data.tar"},
		{"unknown data entry type", arBytes(t, member{"debian-binary", bin}, member{"control.tar.gz", ctl}, member{"data.tar", tarBytes(t,
			tarEntry{h: tar.Header{Name: "./vol", Typeflag: 'V'}})}), ErrBadEntry, "entry ./vol"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, src := range []io.Reader{bytes.NewReader(tc.deb), onlyReader{bytes.NewReader(tc.deb)}} {
				_, _, err := readAllFrom(src, ReadOptions{Name: "bad.deb"})
				if err == nil {
					t.Fatalf("%T: no error", src)
				}
				var ae *Error
				if !errors.As(err, &ae) || ae.File != "bad.deb" {
					t.Errorf("%T: error %v is not an *Error naming the file", src, err)
				}
				if tc.want != nil && !errors.Is(err, tc.want) {
					t.Errorf("%T: error %q is not %v", src, err, tc.want)
				}
				if _, seekable := src.(*bytes.Reader); (seekable || !strings.Contains(tc.name, "size")) && !strings.Contains(err.Error(), tc.text) {
					t.Errorf("%T: error %q does not mention %q", src, err, tc.text)
				}
			}
		})
	}
}

// tarSetSize rewrites the first header's size field and checksum.
func tarSetSize(b []byte, size int64) []byte {
	out := append([]byte(nil), b...)
	copy(out[124:136], []byte(strings.Repeat("0", 11-len(octal(size)))+octal(size)+"\x00"))
	copy(out[148:156], "        ")
	var sum int64
	for _, c := range out[:512] {
		sum += int64(c)
	}
	s := octal(sum)
	copy(out[148:156], []byte(strings.Repeat("0", 6-len(s))+s+"\x00 "))
	return out
}

func octal(n int64) string {
	const digits = "01234567"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 8 {
		b = append([]byte{digits[n%8]}, b...)
	}
	return string(b)
}

func TestTruncatedEverywhere(t *testing.T) {
	good := arBytes(t,
		member{"debian-binary", []byte("2.0\n")},
		member{"control.tar.gz", squeeze(t, compress.Gzip, controlTar(t))},
		member{"data.tar.gz", squeeze(t, compress.Gzip, dataTar(t))},
	)
	if _, _, err := readAll(good, ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	// Every cut before the last content byte must be an error. (The one
	// padding byte after an odd-sized last member is not needed.)
	end := len(good)
	if good[end-1] == '\n' && (end-8)%2 == 0 {
		end--
	}
	step := 1
	if testing.Short() {
		step = 7
	}
	for n := 0; n < end; n += step {
		for _, src := range []io.Reader{bytes.NewReader(good[:n]), onlyReader{bytes.NewReader(good[:n])}} {
			_, _, err := readAllFrom(src, ReadOptions{Name: "cut.deb"})
			if err == nil {
				t.Fatalf("cut at %d of %d bytes (%T): no error", n, len(good), src)
			}
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("cut at %d: %v is not an *Error", n, err)
			}
		}
	}
}

func TestDecompressionBomb(t *testing.T) {
	big := tarBytes(t, fileEntry("./control", 0o644, testControl), fileEntry("./templates", 0o644, strings.Repeat("\x00", 3<<20)))
	deb := arBytes(t,
		member{"debian-binary", []byte("2.0\n")},
		member{"control.tar.gz", squeeze(t, compress.Gzip, big)},
		member{"data.tar.gz", squeeze(t, compress.Gzip, dataTar(t))},
	)
	if len(deb) > 64<<10 {
		t.Fatalf("bomb is %d bytes, meant to be small", len(deb))
	}
	_, err := ReadControl(bytes.NewReader(deb), "bomb.deb")
	if err != nil {
		t.Fatalf("3 MiB control under the default cap: %v", err)
	}
	_, err = NewReader(bytes.NewReader(deb), ReadOptions{Name: "bomb.deb", MaxControlSize: 1 << 20}).Control()
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "bomb.deb: member control.tar.gz") {
		t.Fatalf("1 MiB cap: %v", err)
	}
}

func TestGNUAndUnderscoreMembers(t *testing.T) {
	ctl := squeeze(t, compress.Gzip, controlTar(t))
	data := squeeze(t, compress.Xz, dataTar(t))
	deb := arBytes(t,
		member{"debian-binary/", []byte("2.0\n")},
		member{"_gpgorigin", []byte("odd")},
		member{"control.tar.gz/", ctl},
		member{"_other", nil},
		member{"data.tar.xz/", data},
		member{"_trailer", []byte("x")},
	)
	c, entries, err := readAll(deb, ReadOptions{})
	if err != nil || c.Member != "control.tar.gz" || len(entries) != 9 {
		t.Fatalf("GNU names and '_' members: %v", err)
	}
}

func TestRelPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"./", ""}, {".", ""}, {"./usr/bin/hello", "usr/bin/hello"}, {"usr/share/", "usr/share"},
		{"/etc/passwd", "!"}, {"./a/../../etc", "!"}, {"..", "!"},
	} {
		got, err := (&Entry{Path: tc.in}).RelPath()
		if tc.want == "!" {
			if err == nil {
				t.Errorf("RelPath(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("RelPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
