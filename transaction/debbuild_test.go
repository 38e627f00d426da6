package transaction

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// tentry is one data.tar entry of a test package.
type tentry struct {
	name string // "./usr/bin/x"
	body string
	link string // symlink target (typ 's') or hard link source (typ 'h')
	typ  byte   // 'f' file, 'd' dir, 's' symlink, 'h' hard link, 'c' char device
	mode int64
	// uname and gname are the owner's names ("" is root); uid and gid
	// the numeric ids beside them.
	uname, gname string
	uid, gid     int
}

// tpkg describes a test package; build writes it as a real .deb (ar,
// control.tar.gz, data.tar.gz), including entries no builder would make
// (".." paths, devices), which is the point.
type tpkg struct {
	name, version, arch string
	extra               string            // more control fields, "Field: value\n" lines
	scripts             map[string]string // preinst, postinst, ...
	conffiles           []string
	files               []tentry
}

func tarball(add func(tw *tar.Writer) error) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := add(tw); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var testTime = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

func (p tpkg) build(t testing.TB, dir string) string {
	t.Helper()
	path, err := p.tryBuild(dir)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// tryBuild is build that reports entries archive/tar cannot write.
func (p tpkg) tryBuild(dir string) (string, error) {
	if p.arch == "" {
		p.arch = "amd64"
	}
	ctl := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Test <t@example.org>\n%sDescription: test package %s\n",
		p.name, p.version, p.arch, p.extra, p.name)
	ctrl, err := tarball(func(tw *tar.Writer) error {
		add := func(name, body string, mode int64) {
			_ = tw.WriteHeader(&tar.Header{Name: "./" + name, Mode: mode, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: testTime, Format: tar.FormatGNU})
			_, _ = tw.Write([]byte(body))
		}
		add("control", ctl, 0o644)
		if len(p.conffiles) > 0 {
			add("conffiles", strings.Join(p.conffiles, "\n")+"\n", 0o644)
		}
		names := make([]string, 0, len(p.scripts))
		for n := range p.scripts {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			add(n, p.scripts[n], 0o755)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	data, err := tarball(func(tw *tar.Writer) error {
		for _, e := range p.files {
			h := &tar.Header{Name: e.name, Mode: e.mode, ModTime: testTime, Format: tar.FormatGNU, Uname: "root", Gname: "root", Uid: e.uid, Gid: e.gid}
			if e.uname != "" {
				h.Uname = e.uname
			}
			if e.gname != "" {
				h.Gname = e.gname
			}
			switch e.typ {
			case 'd':
				h.Typeflag = tar.TypeDir
				if h.Mode == 0 {
					h.Mode = 0o755
				}
			case 's':
				h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, e.link, 0o777
			case 'h':
				h.Typeflag, h.Linkname = tar.TypeLink, e.link
			case 'c':
				h.Typeflag, h.Devmajor, h.Devminor = tar.TypeChar, 1, 3
			default:
				h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
				if h.Mode == 0 {
					h.Mode = 0o644
				}
			}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if h.Typeflag == tar.TypeReg {
				_, _ = tw.Write([]byte(e.body))
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	var ar bytes.Buffer
	ar.WriteString("!<arch>\n")
	member := func(name string, b []byte) {
		fmt.Fprintf(&ar, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, testTime.Unix(), 0, 0, "100644", len(b))
		ar.Write(b)
		if len(b)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	member("debian-binary", []byte("2.0\n"))
	member("control.tar.gz", ctrl)
	member("data.tar.gz", data)
	path := filepath.Join(dir, fmt.Sprintf("%s_%s_%s.deb", p.name, p.version, p.arch))
	if err := os.WriteFile(path, ar.Bytes(), 0o644); err != nil {
		return "", err
	}
	return path, nil
}
