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
	ar := arArchive(arMember{"debian-binary", []byte("2.0\n")}, arMember{"control.tar.gz", ctrl}, arMember{"data.tar.gz", data})
	path := filepath.Join(dir, fmt.Sprintf("%s_%s_%s.deb", p.name, p.version, p.arch))
	if err := os.WriteFile(path, ar, 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// arMember is one member of an ar archive: its name and content.
type arMember struct {
	name string
	data []byte
}

// arArchive writes an ar archive (a .deb's outer layer) of members in
// order, each dated testTime, owned by 0:0, mode 100644.
func arArchive(members ...arMember) []byte {
	var ar bytes.Buffer
	ar.WriteString("!<arch>\n")
	for _, m := range members {
		fmt.Fprintf(&ar, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, testTime.Unix(), 0, 0, "100644", len(m.data))
		ar.Write(m.data)
		if len(m.data)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	return ar.Bytes()
}

// fileChecker returns a check that each path (relative to root) holds the
// wanted content, "missing" for none, reporting the step on a mismatch.
func fileChecker(t *testing.T, root string) func(step string, want map[string]string) {
	return func(step string, want map[string]string) {
		t.Helper()
		for p, w := range want {
			g := "missing"
			if b, err := os.ReadFile(filepath.Join(root, p)); err == nil {
				g = string(b)
			}
			if g != w {
				t.Errorf("%s: /%s = %q, want %q", step, p, g, w)
			}
		}
	}
}
