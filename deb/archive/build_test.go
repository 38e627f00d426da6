package archive

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/testfixture"
)

var (
	testEpoch = time.Unix(1700000000, 0).UTC() // 2023-11-14 22:13:20
	oldTime   = time.Unix(1600000000, 0).UTC() // before the epoch: kept
	newTime   = time.Unix(1800000000, 0).UTC() // after the epoch: clamped
)

const greetControl = `Package: greet
Version: 1:1.0-1
Architecture: all
Maintainer: Grey Test <test@example.org>
Section: misc
Priority: optional
Description: prints a greeting
 A tiny package built by the tests.
`

// treeSpec describes one file of a test package tree.
type treeSpec struct {
	path string
	mode fs.FileMode // fs.ModeDir, fs.ModeSymlink (target in body) or a regular file's perms
	body string
	link string // make a hard link to this path instead
}

// makeTree creates a package tree under dir; scripts says whether DEBIAN
// gets a postinst. Every mtime is set, half before and half after testEpoch.
func makeTree(t testing.TB, dir string, scripts bool) {
	t.Helper()
	files := []treeSpec{
		{path: "DEBIAN", mode: fs.ModeDir | 0o755},
		{path: "DEBIAN/control", mode: 0o644, body: greetControl},
		{path: "DEBIAN/conffiles", mode: 0o644, body: "/etc/greet.conf\n"},
		{path: "etc", mode: fs.ModeDir | 0o755},
		{path: "etc/greet.conf", mode: 0o644, body: "greeting=hello\n"},
		{path: "usr", mode: fs.ModeDir | 0o755},
		{path: "usr/bin", mode: fs.ModeDir | 0o755},
		{path: "usr/bin/greet", mode: 0o755, body: "#!/bin/sh\necho hello\n"},
		{path: "usr/bin/hi", link: "usr/bin/greet"},
		{path: "usr/bin/salut", mode: fs.ModeSymlink, body: "greet"},
		{path: "usr/share", mode: fs.ModeDir | 0o755},
		{path: "usr/share/doc", mode: fs.ModeDir | 0o755},
		{path: "usr/share/doc/greet", mode: fs.ModeDir | 0o755},
		{path: "usr/share/doc/greet/copyright", mode: 0o644, body: strings.Repeat("Copyright line.\n", 200)},
		{path: "usr/share/greet-data", mode: 0o644, body: "sorts before usr/share/greet/ in C order\n"},
		{path: "usr/share/greet", mode: fs.ModeDir | 0o755},
		{path: "usr/share/greet/" + strings.Repeat("a-rather-long-directory-name/", 1)[:28] + strings.Repeat("x", 90), mode: 0o644, body: "long name\n"},
		{path: "usr/share/greet/empty", mode: 0o644},
	}
	if scripts {
		files = append(files, treeSpec{path: "DEBIAN/postinst", mode: 0o755, body: "#!/bin/sh\nset -e\nexit 0\n"})
	}
	for _, f := range files {
		p := filepath.Join(dir, f.path)
		var err error
		switch {
		case f.link != "":
			err = os.Link(filepath.Join(dir, f.link), p)
		case f.mode&fs.ModeDir != 0:
			err = os.MkdirAll(p, 0o755)
		case f.mode&fs.ModeSymlink != 0:
			err = os.Symlink(f.body, p)
		default:
			err = os.WriteFile(p, []byte(f.body), f.mode)
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.link == "" && f.mode&fs.ModeSymlink == 0 {
			if err := os.Chmod(p, f.mode.Perm()); err != nil {
				t.Fatal(err)
			}
		}
	}
	setTimes(t, dir)
}

// setTimes gives every file a fixed mtime, alternating before and after
// testEpoch, children before parents so directory times stick.
func setTimes(t testing.TB, dir string) {
	t.Helper()
	var paths []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	})
	for i := len(paths) - 1; i >= 0; i-- {
		when := oldTime
		if i%2 == 1 {
			when = newTime
		}
		if fi, err := os.Lstat(paths[i]); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			continue // no lutimes in os; the link's time is whatever it is
		}
		if err := os.Chtimes(paths[i], when, when); err != nil {
			t.Fatal(err)
		}
	}
}

func buildBytes(t testing.TB, dir string, opts BuildOptions) ([]byte, *BuildResult) {
	t.Helper()
	var buf bytes.Buffer
	if opts.TempDir == "" {
		opts.TempDir = t.TempDir()
	}
	res, err := Build(context.Background(), dir, &buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != int64(buf.Len()) {
		t.Fatalf("BuildResult.Size = %d, wrote %d", res.Size, buf.Len())
	}
	return buf.Bytes(), res
}

func TestBuildReproducible(t *testing.T) {
	var sums []string
	for i := 0; i < 2; i++ {
		dir := filepath.Join(t.TempDir(), "tree-"+string(rune('a'+i)))
		makeTree(t, dir, true)
		deb, _ := buildBytes(t, dir, BuildOptions{SourceDateEpoch: testEpoch})
		h := sha256.Sum256(deb)
		sums = append(sums, hex.EncodeToString(h[:]))
	}
	if sums[0] != sums[1] {
		t.Fatalf("same tree, same epoch, different bytes: %s vs %s", sums[0], sums[1])
	}
	// Without an epoch, the tree's own mtimes still fix the bytes.
	dir := filepath.Join(t.TempDir(), "tree")
	makeTree(t, dir, true)
	a, _ := buildBytes(t, dir, BuildOptions{})
	b, _ := buildBytes(t, dir, BuildOptions{})
	if !bytes.Equal(a, b) {
		t.Fatal("two builds without an epoch differ")
	}
	// A different epoch changes the clamped times, so the bytes.
	c, _ := buildBytes(t, dir, BuildOptions{SourceDateEpoch: testEpoch.Add(time.Hour)})
	d, _ := buildBytes(t, dir, BuildOptions{SourceDateEpoch: testEpoch})
	if bytes.Equal(c, d) {
		t.Fatal("the epoch does not reach the output")
	}
}

func TestBuildReadBack(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir, true)
	for _, f := range []compress.Format{compress.Xz, compress.Gzip, compress.Zstd, compress.None} {
		t.Run(string(f), func(t *testing.T) {
			deb, res := buildBytes(t, dir, BuildOptions{SourceDateEpoch: testEpoch, Compression: f})
			if res.FileName() != "greet_1.0-1_all.deb" {
				t.Errorf("FileName = %q", res.FileName())
			}
			r := NewReader(bytes.NewReader(deb), ReadOptions{Name: "greet.deb"})
			ctl, err := r.Control()
			if err != nil {
				t.Fatal(err)
			}
			if ctl.Compression != f || !strings.HasPrefix(ctl.Member, "control.tar") {
				t.Errorf("control member %s, compression %s", ctl.Member, ctl.Compression)
			}
			// Installed-Size right after Maintainer, as dpkg-gencontrol puts it.
			var names []string
			for _, fl := range ctl.Fields.Fields {
				names = append(names, fl.Name)
			}
			if got := strings.Join(names, " "); got != "Package Version Architecture Maintainer Installed-Size Section Priority Description" {
				t.Errorf("field order: %s", got)
			}
			// Tree: dirs ./ etc usr usr/bin usr/share usr/share/doc
			// usr/share/doc/greet usr/share/greet = 8; files: greet.conf 1,
			// greet 1, hi (hard link) 0, salut 1, copyright 4 (3200 B),
			// greet-data 1, long 1, empty 0 = 9; DEBIAN 1, conffiles 1,
			// postinst 1 = 3 (control and md5sums are not counted).
			if got := ctl.Fields.Get("Installed-Size"); got != "20" {
				t.Errorf("Installed-Size = %s, want 20", got)
			}
			if len(ctl.Scripts()) != 1 || ctl.Scripts()[0].Mode.Perm() != 0o755 {
				t.Errorf("scripts: %+v", ctl.Scripts())
			}
			if len(ctl.Conffiles) != 1 || ctl.Conffiles[0].Path != "/etc/greet.conf" {
				t.Errorf("conffiles: %+v", ctl.Conffiles)
			}
			if _, ok := ctl.MD5Sums["etc/greet.conf"]; ok {
				t.Error("md5sums lists a conffile (dh_md5sums leaves them out)")
			}
			data, err := r.Data()
			if err != nil {
				t.Fatal(err)
			}
			defer data.Close()
			var paths []string
			regular := 0
			for {
				e, err := data.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				paths = append(paths, e.Path)
				if e.Uname != "root" || e.Gname != "root" || e.Uid != 0 || e.Gid != 0 {
					t.Errorf("%s: owner %s/%s %d/%d", e.Path, e.Uname, e.Gname, e.Uid, e.Gid)
				}
				if e.ModTime.After(testEpoch) {
					t.Errorf("%s: mtime %v after the epoch", e.Path, e.ModTime)
				}
				switch e.Path {
				case "./usr/bin/hi":
					if e.Type != TypeHardlink || e.Linkname != "./usr/bin/greet" {
						t.Errorf("hard link: %+v", e)
					}
				case "./usr/bin/salut":
					if e.Type != TypeSymlink || e.Linkname != "greet" {
						t.Errorf("symlink: %+v", e)
					}
				case "./usr/bin/greet":
					if e.Mode != 0o755 {
						t.Errorf("greet mode %v", e.Mode)
					}
				}
				if e.Type != TypeRegular {
					continue
				}
				regular++
				h := md5.New()
				io.Copy(h, e.Body)
				rel, _ := e.RelPath()
				if want, ok := ctl.MD5Sums[rel]; ok && want != hex.EncodeToString(h.Sum(nil)) {
					t.Errorf("%s: md5sums entry is wrong", rel)
				}
			}
			// md5sums: every regular file name but the conffile, plus the
			// hard link's name (a regular file to dh_md5sums).
			if len(ctl.MD5Sums) != regular {
				t.Errorf("md5sums has %d entries, want %d: %v", len(ctl.MD5Sums), regular, ctl.MD5Sums)
			}
			want := []string{"./", "./etc/", "./etc/greet.conf", "./usr/", "./usr/bin/", "./usr/bin/greet", "./usr/bin/hi", "./usr/bin/salut",
				"./usr/share/", "./usr/share/doc/", "./usr/share/doc/greet/", "./usr/share/doc/greet/copyright",
				// find | LC_ALL=C sort: "greet" < "greet-data" < "greet/..."
				"./usr/share/greet/", "./usr/share/greet-data"}
			if len(paths) != len(want)+2 || strings.Join(paths[:len(want)], " ") != strings.Join(want, " ") {
				t.Errorf("entry order:\n got %q\nwant %q + 2", paths, want)
			}
		})
	}
}

// TestBuildInstalledSizeMatchesDebian applies Build's Installed-Size rule
// to the real packages: their data entries plus DEBIAN (the directory and
// its files other than control and md5sums) must give the field Debian's
// dpkg-gencontrol wrote.
func TestBuildInstalledSizeMatchesDebian(t *testing.T) {
	for _, deb := range fixtureDebs(t) {
		if raceEnabled {
			if fi, err := os.Stat(deb); err == nil && fi.Size() > 100<<10 {
				continue
			}
		}
		switch {
		case strings.Contains(deb, "/debianutils_"):
			// Its field is 5 KiB above the rule: its build tree held
			// something the package does not ship.
			continue
		case strings.Contains(deb, "/libgcc-s1_"):
			// Built by gcc-12's own rules, which do not count the DEBIAN
			// directory: the field is 1 KiB below the rule. The other 20
			// packages match it exactly.
			continue
		}
		f, err := os.Open(deb)
		if err != nil {
			t.Fatal(err)
		}
		r := NewReader(f, ReadOptions{Name: deb})
		ctl, err := r.Control()
		if err != nil {
			t.Fatal(err)
		}
		d, err := r.Data()
		if err != nil {
			t.Fatal(err)
		}
		var tree []treeFile
		for {
			e, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			tree = append(tree, treeFile{name: e.Path, info: entryInfo{e}, link: e.Linkname, hard: e.Type == TypeHardlink})
		}
		d.Close()
		f.Close()
		var files []ctlFile
		for _, cf := range ctl.Files {
			files = append(files, ctlFile{name: cf.Name, data: cf.Data})
		}
		if got, want := installedSize(tree, files), ctl.Fields.Get("Installed-Size"); want != strconv.FormatInt(got, 10) {
			t.Errorf("%s: rule gives %d KiB, Installed-Size is %s", filepath.Base(deb), got, want)
		}
	}
}

// entryInfo presents an Entry as the fs.FileInfo installedSize reads.
type entryInfo struct{ e *Entry }

func (i entryInfo) Name() string       { return i.e.Path }
func (i entryInfo) Size() int64        { return i.e.Size }
func (i entryInfo) ModTime() time.Time { return i.e.ModTime }
func (i entryInfo) IsDir() bool        { return i.e.Type == TypeDir }
func (i entryInfo) Sys() any           { return nil }
func (i entryInfo) Mode() fs.FileMode {
	switch i.e.Type {
	case TypeDir:
		return fs.ModeDir
	case TypeSymlink:
		return fs.ModeSymlink
	case TypeChar:
		return fs.ModeDevice | fs.ModeCharDevice
	case TypeBlock:
		return fs.ModeDevice
	case TypeFifo:
		return fs.ModeNamedPipe
	}
	return 0
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(dir string) error
		opts  BuildOptions
		text  string
	}{
		{"no DEBIAN", func(dir string) error { return os.RemoveAll(filepath.Join(dir, "DEBIAN")) }, BuildOptions{}, "no DEBIAN directory"},
		{"no control", func(dir string) error { return os.Remove(filepath.Join(dir, "DEBIAN/control")) }, BuildOptions{}, "DEBIAN/control: invalid package tree: missing"},
		{"no Package", editControl("Package: greet\n", ""), BuildOptions{}, "required field Package"},
		{"no Version", editControl("Version: 1:1.0-1\n", ""), BuildOptions{}, "required field Version"},
		{"no Architecture", editControl("Architecture: all\n", ""), BuildOptions{}, "required field Architecture"},
		{"no Maintainer", editControl("Maintainer: Grey Test <test@example.org>\n", ""), BuildOptions{}, "required field Maintainer"},
		{"no Description", editControl("Description: prints a greeting\n A tiny package built by the tests.\n", ""), BuildOptions{}, "required field Description"},
		{"bad version", editControl("1:1.0-1", "1.0-1-"), BuildOptions{}, "Version:"},
		{"bad name", editControl("Package: greet", "Package: Greet_Pkg"), BuildOptions{}, `Package "Greet_Pkg"`},
		{"arch any", editControl("Architecture: all", "Architecture: any"), BuildOptions{}, `Architecture "any"`},
		{"bad installed size", editControl("Section: misc\n", "Installed-Size: lots\n"), BuildOptions{}, "Installed-Size"},
		{"not deb822", editControl("Package: greet\n", "Package greet\n"), BuildOptions{}, "DEBIAN/control"},
		{"script not executable", func(dir string) error { return os.Chmod(filepath.Join(dir, "DEBIAN/postinst"), 0o644) }, BuildOptions{}, "bad permissions 644"},
		{"script world-writable", func(dir string) error { return os.Chmod(filepath.Join(dir, "DEBIAN/postinst"), 0o777) }, BuildOptions{}, "bad permissions 777"},
		{"script setuid", func(dir string) error { return os.Chmod(filepath.Join(dir, "DEBIAN/postinst"), 0o4755|fs.ModeSetuid) }, BuildOptions{}, "bad permissions 4755"},
		{"DEBIAN 0700", func(dir string) error { return os.Chmod(filepath.Join(dir, "DEBIAN"), 0o700) }, BuildOptions{}, "bad permissions 700"},
		{"subdir in DEBIAN", func(dir string) error { return os.Mkdir(filepath.Join(dir, "DEBIAN/sub"), 0o755) }, BuildOptions{}, "regular files"},
		{"bad control file name", func(dir string) error { return os.WriteFile(filepath.Join(dir, "DEBIAN/Foo_Bar"), nil, 0o644) }, BuildOptions{}, "not valid"},
		{"conffile missing", func(dir string) error { return os.Remove(filepath.Join(dir, "etc/greet.conf")) }, BuildOptions{}, "conffile /etc/greet.conf is not in the package"},
		{"conffile is a dir", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "DEBIAN/conffiles"), []byte("/etc\n"), 0o644)
		}, BuildOptions{}, "not a plain file"},
		{"conffile twice", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "DEBIAN/conffiles"), []byte("/etc/greet.conf\n/etc/greet.conf\n"), 0o644)
		}, BuildOptions{}, "listed twice"},
		{"conffile relative", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "DEBIAN/conffiles"), []byte("etc/greet.conf\n"), 0o644)
		}, BuildOptions{}, "not an absolute path"},
		{"removed conffile shipped", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "DEBIAN/conffiles"), []byte("remove-on-upgrade /etc/greet.conf\n"), 0o644)
		}, BuildOptions{}, "flagged remove-on-upgrade"},
		{"bzip2", nil, BuildOptions{Compression: compress.Bzip2}, "cannot compress"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			makeTree(t, dir, true)
			if tc.setup != nil {
				if err := tc.setup(dir); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			_, err := Build(context.Background(), dir, &out, tc.opts)
			if err == nil {
				t.Fatal("Build succeeded")
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not mention %q", err, tc.text)
			}
			var be *BuildError
			if tc.name != "bzip2" && (!errors.As(err, &be) || !errors.Is(err, ErrInvalidTree)) {
				t.Errorf("error %v is not a *BuildError wrapping ErrInvalidTree", err)
			}
			if out.Len() != 0 {
				t.Errorf("a failed build wrote %d bytes", out.Len())
			}
		})
	}
}

func editControl(old, repl string) func(dir string) error {
	return func(dir string) error {
		p := filepath.Join(dir, "DEBIAN/control")
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Contains(b, []byte(old)) {
			return errors.New("test bug: control lacks " + old)
		}
		return os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(repl), 1), 0o644)
	}
}

func TestBuildCanceled(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, dir, io.Discard, BuildOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled build: %v", err)
	}
}

// TestBuildAcceptedByDpkg has dpkg-deb inspect, and dpkg install, what
// Build wrote.
func TestBuildAcceptedByDpkg(t *testing.T) {
	testfixture.Tool(t, "dpkg-deb", "dpkg")
	dpkgBin := testfixture.Tool(t, "dpkg", "dpkg")
	dir := t.TempDir()
	makeTree(t, dir, false) // no maintainer scripts: see the dpkg -i below
	for _, f := range []compress.Format{compress.Xz, compress.Gzip, compress.Zstd, compress.None} {
		deb, res := buildBytes(t, dir, BuildOptions{SourceDateEpoch: testEpoch, Compression: f})
		path := filepath.Join(t.TempDir(), res.FileName())
		if err := os.WriteFile(path, deb, 0o644); err != nil {
			t.Fatal(err)
		}
		info := string(dpkgDeb(t, "--info", path))
		if !strings.Contains(info, " Package: greet\n") || !strings.Contains(info, " Installed-Size: 19\n") {
			t.Errorf("%s: dpkg-deb --info:\n%s", f, info)
		}
		_, ours := listing(t, path)
		if theirs := string(dpkgDeb(t, "--contents", path)); theirs != ours {
			t.Errorf("%s: dpkg-deb --contents differs:\n%s", f, lineDiff(theirs, ours))
		}
		var fields bytes.Buffer
		control.WriteStanza(&fields, res.Fields)
		if got := string(dpkgDeb(t, "--field", path)); got != fields.String() {
			t.Errorf("%s: dpkg-deb --field = %q, built %q", f, got, fields.String())
		}
		if f != compress.Xz {
			continue
		}
		// Install into a throw-away root with its own dpkg database. The
		// package has no maintainer scripts, so --force-script-chrootless
		// runs nothing outside the root.
		root := t.TempDir()
		admin := filepath.Join(root, "var/lib/dpkg")
		for _, d := range []string{"info", "updates", "triggers"} {
			if err := os.MkdirAll(filepath.Join(admin, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range []string{"status", "available"} {
			if err := os.WriteFile(filepath.Join(admin, name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(dpkgBin, "--root="+root, "--admindir="+admin, "--log=/dev/null",
			"--force-not-root", "--force-script-chrootless", "--force-bad-path", "-i", path)
		cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C.UTF-8")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dpkg -i: %v\n%s", err, out)
		}
		got, err := os.ReadFile(filepath.Join(root, "usr/bin/greet"))
		if err != nil || string(got) != "#!/bin/sh\necho hello\n" {
			t.Errorf("installed usr/bin/greet = %q, %v", got, err)
		}
		if target, err := os.Readlink(filepath.Join(root, "usr/bin/salut")); err != nil || target != "greet" {
			t.Errorf("installed symlink: %q, %v", target, err)
		}
		status, _ := os.ReadFile(filepath.Join(admin, "status"))
		for _, want := range []string{"Package: greet\n", "Status: install ok installed\n", "Version: 1:1.0-1\n", "Conffiles:\n /etc/greet.conf "} {
			if !strings.Contains(string(status), want) {
				t.Errorf("dpkg status lacks %q:\n%s", want, status)
			}
		}
		sums, _ := os.ReadFile(filepath.Join(admin, "info/greet.md5sums"))
		if !strings.Contains(string(sums), "  usr/bin/greet\n") {
			t.Errorf("dpkg's greet.md5sums: %q", sums)
		}
	}
}
