package archive

import (
	"archive/tar"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/testfixture"
)

// fixtureDebs returns the 22 real .deb files of the bookworm fixture.
func fixtureDebs(t testing.TB) []string {
	t.Helper()
	root := testfixture.Bookworm(t)
	var debs []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".deb") {
			debs = append(debs, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(debs)
	if len(debs) != 22 {
		t.Fatalf("fixture holds %d .deb files, want 22", len(debs))
	}
	return debs
}

// dpkgDeb runs dpkg-deb with a fixed zone and locale so its listing is
// comparable.
func dpkgDeb(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := testfixture.Tool(t, "dpkg-deb", "dpkg")
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C.UTF-8")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-deb %v: %v\n%s", args, err, stderr.Bytes())
	}
	return out
}

// listing reads the whole package and formats its entries like dpkg-deb
// --contents, checking each regular file's content against md5sums.
func listing(t *testing.T, path string) (*Control, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f, ReadOptions{Name: path})
	ctl, err := r.Control()
	if err != nil {
		t.Fatal(err)
	}
	data, err := r.Data()
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	var b strings.Builder
	var lf ContentsFormatter
	checked := 0
	for {
		e, err := data.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(lf.Line(e))
		b.WriteByte('\n')
		if e.Type != TypeRegular {
			continue
		}
		h := md5.New()
		n, err := io.Copy(h, e.Body)
		if err != nil {
			t.Fatalf("%s: read %s: %v", path, e.Path, err)
		}
		if n != e.Size {
			t.Fatalf("%s: %s: read %d bytes, header says %d", path, e.Path, n, e.Size)
		}
		rel, err := e.RelPath()
		if err != nil {
			t.Fatal(err)
		}
		if want, ok := ctl.MD5Sums[rel]; ok {
			if got := hex.EncodeToString(h.Sum(nil)); got != want {
				t.Errorf("%s: %s: md5 %s, md5sums says %s", path, rel, got, want)
			}
			checked++
		}
	}
	if strings.HasPrefix(path, testfixture.Bookworm(t)) && checked != len(ctl.MD5Sums) {
		t.Errorf("%s: checked %d files against md5sums, it lists %d", path, checked, len(ctl.MD5Sums))
	}
	return ctl, b.String()
}

func TestFixtureMatchesDpkgDeb(t *testing.T) {
	for _, deb := range fixtureDebs(t) {
		if raceEnabled {
			// All 22 take 30 s under -race; the packages under 100 KB
			// (11 of them, with conffiles, scripts and symlinks) take 4 s.
			// `go test` without -race checks every one.
			if fi, err := os.Stat(deb); err == nil && fi.Size() > 100<<10 {
				continue
			}
		}
		t.Run(filepath.Base(deb), func(t *testing.T) {
			ctl, got := listing(t, deb)
			if want := string(dpkgDeb(t, "--contents", deb)); got != want {
				t.Errorf("contents differ from dpkg-deb --contents:\n%s", lineDiff(want, got))
			}
			// dpkg-deb --field prints the control file's fields.
			var fields bytes.Buffer
			if err := control.WriteStanza(&fields, ctl.Fields); err != nil {
				t.Fatal(err)
			}
			if want := string(dpkgDeb(t, "--field", deb)); fields.String() != want {
				t.Errorf("control fields differ from dpkg-deb --field:\nwant %q\ngot  %q", want, fields.String())
			}
			if got, want := ctl.Fields.Get("package"), strings.SplitN(filepath.Base(deb), "_", 2)[0]; got != want {
				t.Errorf("Package = %q, file name says %q", got, want)
			}
			// Every file of control.tar, with its mode, as dpkg-deb extracts it.
			tr := tar.NewReader(bytes.NewReader(dpkgDeb(t, "--ctrl-tarfile", deb)))
			n := 0
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if h.Typeflag == tar.TypeDir {
					continue
				}
				n++
				name := strings.TrimPrefix(h.Name, "./")
				want, _ := io.ReadAll(tr)
				cf := ctl.File(name)
				if cf == nil {
					t.Errorf("control file %s missing", name)
					continue
				}
				if !bytes.Equal(cf.Data, want) || cf.Mode != modeFromTar(h.Mode) {
					t.Errorf("control file %s: mode %v, %d bytes; want %v, %d bytes", name, cf.Mode, len(cf.Data), modeFromTar(h.Mode), len(want))
				}
				switch name {
				case "conffiles":
					var paths []string
					for _, c := range ctl.Conffiles {
						paths = append(paths, c.Path)
					}
					if strings.Join(paths, "\n")+"\n" != string(want) {
						t.Errorf("conffiles = %q, file says %q", paths, want)
					}
				case "md5sums":
					if lines := strings.Count(string(want), "\n"); lines != len(ctl.MD5Sums) {
						t.Errorf("md5sums: %d entries, file has %d lines", len(ctl.MD5Sums), lines)
					}
				}
			}
			if n != len(ctl.Files) {
				t.Errorf("%d control files, dpkg-deb's control tar has %d", len(ctl.Files), n)
			}
		})
	}
}

// lineDiff shows the first differing lines of two listings.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  dpkg-deb: " + wl + "\n  grey:     " + gl + "\n")
			if b.Len() > 2000 {
				break
			}
		}
	}
	return b.String()
}

// oddDeb is a made-up package with every entry type, odd names, numeric
// owners and wide columns.
func oddDeb(t *testing.T) []byte {
	root := func(h tar.Header) tarEntry {
		if h.Uname == "" && h.Uid == 0 {
			h.Uname, h.Gname = "root", "root"
		}
		return tarEntry{h: h}
	}
	entries := []tarEntry{
		dirEntry("./"),
		root(tar.Header{Name: "./sticky/", Typeflag: tar.TypeDir, Mode: 0o1777}),
		root(tar.Header{Name: "./sticky-noexec/", Typeflag: tar.TypeDir, Mode: 0o1776}),
		fileEntry("./suid", 0o4755, "x"),
		fileEntry("./sgid-noexec", 0o2640, "y"),
		fileEntry("./suid-noexec", 0o4644, ""),
		fileEntry("./big", 0o600, strings.Repeat("z", 123456)),
		root(tar.Header{Name: "./link", Typeflag: tar.TypeSymlink, Linkname: "../target with space", Mode: 0o777}),
		root(tar.Header{Name: "./hard", Typeflag: tar.TypeLink, Linkname: "./suid", Mode: 0o644}),
		root(tar.Header{Name: "./null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}),
		root(tar.Header{Name: "./sda", Typeflag: tar.TypeBlock, Mode: 0o660, Devmajor: 8, Devminor: 0}),
		root(tar.Header{Name: "./fifo", Typeflag: tar.TypeFifo, Mode: 0o644}),
		{h: tar.Header{Name: "./numeric", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 1000, Gid: 1001}},
		{h: tar.Header{Name: "./long-owner", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 1000, Gid: 1000, Uname: "a-rather-long-user-name", Gname: "staff"}},
		fileEntry("./after-wide", 0o644, "back to root/root, the column stays wide"),
		fileEntry("./with space", 0o644, ""),
		fileEntry("./tab\there", 0o644, ""),
		fileEntry("./new\nline", 0o644, ""),
		fileEntry("./back\\slash", 0o644, ""),
		fileEntry("./caf\u00e9", 0o644, ""),
		fileEntry("./bad\xffbyte", 0o644, ""),
		fileEntry("./ctl\x01char", 0o644, ""),
		{h: tar.Header{Name: "./old", Typeflag: tar.TypeReg, Mode: 0o644, Uname: "root", Gname: "root", ModTime: time.Date(1960, 5, 1, 13, 14, 0, 0, time.UTC)}},
		{h: tar.Header{Name: "./future", Typeflag: tar.TypeReg, Mode: 0o644, Uname: "root", Gname: "root", ModTime: time.Date(2100, 12, 31, 23, 59, 59, 0, time.UTC)}},
		fileEntry("./"+strings.Repeat("long-name/", 12)+"file", 0o644, ""),
	}
	return arBytes(t,
		member{"debian-binary", []byte("2.0\n")},
		member{"control.tar.gz", squeeze(t, compress.Gzip, controlTar(t))},
		member{"data.tar.xz", squeeze(t, compress.Xz, tarBytes(t, entries...))},
	)
}

// TestContentsFormatMatchesDpkgDeb lists oddDeb and compares the lines
// with what dpkg-deb (GNU tar) prints for the same bytes.
func TestContentsFormatMatchesDpkgDeb(t *testing.T) {
	testfixture.Tool(t, "dpkg-deb", "dpkg")
	deb := oddDeb(t)
	path := filepath.Join(t.TempDir(), "odd.deb")
	if err := os.WriteFile(path, deb, 0o644); err != nil {
		t.Fatal(err)
	}
	_, got := listing(t, path)
	want := string(dpkgDeb(t, "--contents", path))
	if got != want {
		t.Errorf("contents differ from dpkg-deb --contents:\n%s", lineDiff(want, got))
	}
	// The golden file must stay what dpkg-deb prints.
	if golden, err := os.ReadFile(goldenContents); err == nil && string(golden) != want {
		t.Errorf("%s is stale: run go test -run ContentsGolden -update", goldenContents)
	}
}

const goldenContents = "testdata/odd.contents"

// TestContentsGolden checks the listing of oddDeb against the golden
// file, so that the format is tested where dpkg-deb is not installed.
func TestContentsGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd.deb")
	if err := os.WriteFile(path, oddDeb(t), 0o644); err != nil {
		t.Fatal(err)
	}
	_, got := listing(t, path)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenContents, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenContents)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("listing differs from %s:\n%s", goldenContents, lineDiff(string(want), got))
	}
}

var update = flag.Bool("update", false, "rewrite golden files under testdata/")
