package transaction

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/pkgdb/dpkgdb"
)

// TestAttackStateLinksOutOfRoot: a root whose own state directories are
// symbolic links out of it (a root from an untrusted image, say:
// var/lib/dpkg/info -> /tmp/elsewhere) must not lead grey to read, write
// or remove anything outside the root: an install, an upgrade, a removal
// and recovery are refused with an error naming the path, the root and
// the directory outside as they were (issue 12, item 9: the info files,
// the content store, the journal and the package cache were reached by
// joining paths, which follows such links).
func TestAttackStateLinksOutOfRoot(t *testing.T) {
	dir := t.TempDir()
	v2 := tpkg{name: "base", version: "2", files: []tentry{
		{name: "./usr/", typ: 'd'}, {name: "./usr/bin/", typ: 'd'}, {name: "./usr/bin/owned", body: "base 2\n"},
		{name: "./etc/", typ: 'd'}, {name: "./etc/base.conf", body: "x=2\n"},
	}}.build(t, dir)
	other := tpkg{name: "other", version: "1", files: []tentry{{name: "./usr/", typ: 'd'}, {name: "./usr/other", body: "o\n"}}}.build(t, dir)
	for _, state := range []string{
		"var/lib/dpkg/info", "var/lib/dpkg", "var/lib/grey/store", "var/lib/grey/journal", ArchivesDir,
	} {
		for _, c := range []struct {
			name string
			plan Plan
		}{
			{"install", Plan{Install: []Install{{Path: other}}}},
			{"upgrade", Plan{Install: []Install{{Path: v2}}}},
			{"remove", Plan{Remove: []Remove{{Name: "base", Purge: true}}}},
		} {
			t.Run(state+" "+c.name, func(t *testing.T) {
				root, r := attackRoot(t)
				// The directory moves out of the root, and a link to it
				// takes its place: following it would "work".
				elsewhere := filepath.Join(t.TempDir(), "elsewhere")
				src := filepath.Join(root, state)
				if _, err := os.Stat(src); err == nil {
					copyTree(t, src, elsewhere)
					must(t, os.RemoveAll(src))
				} else {
					must(t, os.MkdirAll(elsewhere, 0o755))
				}
				must(t, os.MkdirAll(filepath.Dir(src), 0o755))
				must(t, os.Symlink(elsewhere, src))
				outside := testfixture.TreeListing(t, elsewhere)
				before := testfixture.TreeListing(t, root)
				_, err := Apply(context.Background(), r.DB, c.plan, Options{Root: root, NoScripts: true})
				if err == nil || !errors.Is(err, ErrUnsafePath) || !strings.Contains(err.Error(), src+" leads out of the root") {
					t.Errorf("error %v; want one saying %s leads out of the root", err, src)
				}
				if got := testfixture.TreeListing(t, elsewhere); got != outside {
					t.Errorf("outside the root changed:\n%s", testfixture.DiffListings(outside, got))
				}
				// Recovery, which every command runs first, refuses too.
				if _, err := Recover(context.Background(), root, r.DB); !errors.Is(err, ErrUnsafePath) || !strings.Contains(err.Error(), src) {
					t.Errorf("recover: %v", err)
				}
				if state == ArchivesDir {
					fetched := 0
					pkgs := []*deb.Package{{Name: "x", Version: version.MustParse("1"), Architecture: "all", Size: 10, SHA256: strings.Repeat("a", 64)}}
					_, err := Download(context.Background(), countFetcher{&fetched}, root, pkgs, func(*deb.Package) (string, error) { return "http://example.invalid/x.deb", nil })
					if !errors.Is(err, ErrUnsafePath) || fetched != 0 {
						t.Errorf("download (%d fetched): %v", fetched, err)
					}
				}
				if got := testfixture.TreeListing(t, elsewhere); got != outside {
					t.Errorf("outside the root changed:\n%s", testfixture.DiffListings(outside, got))
				}
				if got := testfixture.TreeListing(t, root); got != before {
					t.Errorf("the root changed:\n%s", testfixture.DiffListings(before, got))
				}
			})
		}
	}
}

// TestStateLinkInsideRoot: a state directory that is a relative link
// staying inside the root is used as it is.
func TestStateLinkInsideRoot(t *testing.T) {
	root, r := attackRoot(t)
	must(t, os.MkdirAll(filepath.Join(root, "srv"), 0o755))
	must(t, os.Rename(filepath.Join(root, "var/lib/dpkg"), filepath.Join(root, "srv/dpkg")))
	must(t, os.Symlink("../../srv/dpkg", filepath.Join(root, "var/lib/dpkg")))
	other := tpkg{name: "other", version: "1", files: []tentry{{name: "./usr/", typ: 'd'}, {name: "./usr/other", body: "o\n"}}}.build(t, t.TempDir())
	if _, err := Apply(context.Background(), r.DB, Plan{Install: []Install{{Path: other}}}, Options{Root: root, NoScripts: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "srv/dpkg/info/other.list")); err != nil {
		t.Error(err)
	}
}

// TestRestoreAdminStaysInRoot: recovery's restore of dpkg's database goes
// through the root's os.Root, so a link in the root leading out of it
// (var/lib/dpkg/info -> a host directory, planted after the journal was
// written) fails the restore, naming the path, and nothing outside
// changes; joining paths (before) wrote the journal's copy there.
func TestRestoreAdminStaysInRoot(t *testing.T) {
	root := t.TempDir()
	elsewhere := filepath.Join(t.TempDir(), "elsewhere")
	must(t, os.MkdirAll(elsewhere, 0o755))
	must(t, os.WriteFile(filepath.Join(elsewhere, "keep"), []byte("host\n"), 0o644))
	cp := filepath.Join(root, journalDir, "dpkg")
	must(t, os.MkdirAll(filepath.Join(cp, "info"), 0o755))
	must(t, os.WriteFile(filepath.Join(cp, "info/base.list"), []byte("/usr\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(cp, "status"), []byte("Package: base\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(root, "var/lib"), 0o755))
	j := &pkgdb.Journal{AdminExisted: true, AdminCopy: "/" + journalDir + "/dpkg", Admin: []pkgdb.PathState{
		{Rel: "info", Exists: true, File: pkgdb.File{Type: pkgdb.TypeDir, Mode: 0o755}},
		{Rel: "info/base.list", Exists: true, File: pkgdb.File{Type: pkgdb.TypeRegular, Mode: 0o644}},
		{Rel: "status", Exists: true, File: pkgdb.File{Type: pkgdb.TypeRegular, Mode: 0o644}},
	}}
	outside := testfixture.TreeListing(t, elsewhere)
	rfs, err := openRootFS(root)
	must(t, err)
	defer rfs.close()
	// A link at var/lib/dpkg itself: the restore fails on it.
	must(t, os.Symlink(elsewhere, filepath.Join(root, "var/lib/dpkg")))
	err = restoreAdmin(rfs, j)
	if err == nil || !strings.Contains(err.Error(), "restore dpkg database in "+root) || !strings.Contains(err.Error(), "var/lib/dpkg") {
		t.Errorf("restore through var/lib/dpkg -> %s: %v", elsewhere, err)
	}
	if got := testfixture.TreeListing(t, elsewhere); got != outside {
		t.Errorf("outside the root changed:\n%s", testfixture.DiffListings(outside, got))
	}
	// A link at var/lib/dpkg/info, not in the journal, is an entry added
	// since: removed (the link, not what it names), and info restored.
	must(t, os.Remove(filepath.Join(root, "var/lib/dpkg")))
	must(t, os.MkdirAll(filepath.Join(root, "var/lib/dpkg"), 0o755))
	must(t, os.Symlink(elsewhere, filepath.Join(root, "var/lib/dpkg/info")))
	rfs2, err := openRootFS(root)
	must(t, err)
	defer rfs2.close()
	must(t, restoreAdmin(rfs2, j))
	if got := testfixture.TreeListing(t, elsewhere); got != outside {
		t.Errorf("outside the root changed:\n%s", testfixture.DiffListings(outside, got))
	}
	if b, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/info/base.list")); err != nil || string(b) != "/usr\n" {
		t.Errorf("info/base.list: %q %v", b, err)
	}
	if fi, err := os.Lstat(filepath.Join(root, "var/lib/dpkg/info")); err != nil || !fi.IsDir() {
		t.Errorf("info: %v %v", fi, err)
	}
}

// TestInfoWritesStayInRoot: dpkg's info files are written, read and
// removed through the root's os.Root (rootFS: by name in a descriptor of
// their directory, opened through it), so with var/lib/dpkg/info a link
// out of the root each access fails naming the path, and nothing outside
// changes (joined paths wrote the package's info files there).
func TestInfoWritesStayInRoot(t *testing.T) {
	root := t.TempDir()
	elsewhere := filepath.Join(t.TempDir(), "elsewhere")
	must(t, os.MkdirAll(elsewhere, 0o755))
	must(t, os.WriteFile(filepath.Join(elsewhere, "base.list"), []byte("/usr\n/usr/bin\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(root, "var/lib/dpkg"), 0o755))
	must(t, os.Symlink(elsewhere, filepath.Join(root, "var/lib/dpkg/info")))
	outside := testfixture.TreeListing(t, elsewhere)
	rfs, err := openRootFS(root)
	must(t, err)
	defer rfs.close()
	p := filepath.Join(root, "var/lib/dpkg/info/base.list")
	for name, op := range map[string]func() error{
		"write":  func() error { return rfs.writeAtomic(p, []byte("/usr\n"), 0o644, true) },
		"shrink": func() error { return rfs.writeShrunk(p, []byte("/usr\n"), 0o644, false) },
		"remove": func() error { return rfs.remove(p, false) },
		"read":   func() error { _, err := rfs.readFile(p); return err },
	} {
		if err := op(); err == nil || !strings.Contains(err.Error(), filepath.Join(root, "var/lib/dpkg/info")) {
			t.Errorf("%s through var/lib/dpkg/info -> %s: %v", name, elsewhere, err)
		}
	}
	if got := testfixture.TreeListing(t, elsewhere); got != outside {
		t.Errorf("outside the root changed:\n%s", testfixture.DiffListings(outside, got))
	}
}

// TestStatusWritesStayInRoot: dpkg's status and arch files and apt's
// extended_states are read and written through the root's os.Root, so
// with var/lib/dpkg (or var/lib/apt) a link out of the root the write
// fails naming the path, and nothing outside changes.
func TestStatusWritesStayInRoot(t *testing.T) {
	root := t.TempDir()
	elsewhere := filepath.Join(t.TempDir(), "elsewhere")
	must(t, os.MkdirAll(elsewhere, 0o755))
	must(t, os.WriteFile(filepath.Join(elsewhere, "status"), []byte("Package: host\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(elsewhere, "extended_states"), []byte("Package: host\nArchitecture: amd64\nAuto-Installed: 1\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(root, "var/lib"), 0o755))
	must(t, os.Symlink(elsewhere, filepath.Join(root, "var/lib/dpkg")))
	must(t, os.Symlink(elsewhere, filepath.Join(root, "var/lib/apt")))
	outside := testfixture.TreeListing(t, elsewhere)
	if _, err := WriteDpkgStatus(root, dpkgdb.Edit{Put: map[string][]byte{}, Drop: map[string]bool{"host:amd64": true}}, false); err == nil || !strings.Contains(err.Error(), filepath.Join(root, "var/lib/dpkg")) {
		t.Errorf("status through var/lib/dpkg -> %s: %v", elsewhere, err)
	}
	if err := writeArchFile(root, []string{"i386"}); err == nil {
		t.Errorf("arch through var/lib/dpkg -> %s: no error", elsewhere)
	}
	manual := false
	if _, err := WriteAutoMarks(root, map[string]*bool{"host:amd64": &manual}, false); err == nil {
		t.Errorf("extended_states through var/lib/apt -> %s: no error", elsewhere)
	}
	if got := testfixture.TreeListing(t, elsewhere); got != outside {
		t.Errorf("outside the root changed:\n%s", testfixture.DiffListings(outside, got))
	}
}
