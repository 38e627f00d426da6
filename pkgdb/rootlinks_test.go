package pkgdb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/rootfs"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb/dpkgdb"
)

// linkedRoot makes a root with a dpkg database (status, info/hello.list
// and md5sums) and grey's state directory, then moves the directory state
// (relative to the root) out of it, to a directory beside the root, and
// puts a symbolic link to it in its place. It returns the root, the
// directory outside and the link's path.
func linkedRoot(t *testing.T, state string) (root, outside, link string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	files := map[string]string{
		"var/lib/dpkg/status":             "Package: hello\nStatus: install ok installed\nArchitecture: all\nVersion: 1\n\n",
		"var/lib/dpkg/info/hello.list":    "/.\n/usr\n/usr/share\n/usr/share/hello\n",
		"var/lib/dpkg/info/hello.md5sums": "0123456789abcdef0123456789abcdef  usr/share/hello\n",
		"var/lib/dpkg/lock":               "",
		"var/lib/dpkg/lock-frontend":      "",
		"var/lib/grey/lock":               "",
		"usr/share/hello":                 "hello\n",
	}
	for p, s := range files {
		p = filepath.Join(root, p)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(s), 0o644))
	}
	db, err := Open(root, Options{})
	must(t, err)
	must(t, db.Close())
	link = filepath.Join(root, state)
	must(t, os.MkdirAll(filepath.Dir(outside), 0o755))
	must(t, os.Rename(link, outside))
	must(t, os.Symlink(outside, link))
	return root, outside, link
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestAttackDBLinksOutOfRoot: a root whose grey or dpkg state leads out of
// it through a symbolic link (a root from an untrusted image:
// var/lib/grey -> /elsewhere, var/lib/dpkg/lock -> /etc/shadow) must not
// lead grey to open, create, lock or read anything outside: grey's
// database (bbolt opened it by its path), its lock, dpkg's locks, the
// making of dpkg's database and adoption's reads of it are refused with
// an error naming the link, and the outside is byte for byte as it was
// (issue 12, item 9).
func TestAttackDBLinksOutOfRoot(t *testing.T) {
	for _, c := range []struct {
		state string
		op    string
		run   func(root string) error
	}{
		{"var/lib/grey", "open", openDB},
		{"var/lib/grey/grey.db", "open", openDB},
		{"var/lib/grey", "copy", func(root string) error { return CopyDB(root, t.TempDir()) }},
		{"var/lib/grey/grey.db", "copy", func(root string) error { return CopyDB(root, t.TempDir()) }},
		{"var/lib/grey", "lock", lockRoot},
		{"var/lib/grey/lock", "lock", lockRoot},
		{"var/lib/dpkg", "dpkg lock", lockDpkg},
		{"var/lib/dpkg/lock", "dpkg lock", lockDpkg},
		{"var/lib/dpkg/lock-frontend", "dpkg lock", lockDpkg},
		{"var/lib/dpkg", "admin dir", EnsureDpkgAdminDir},
		{"var/lib/dpkg/info", "admin dir", EnsureDpkgAdminDir},
		{"var/lib/dpkg/info", "adopt", adoptHello},
		{"var/lib/dpkg", "adopt", adoptHello},
		{"usr/share", "adopt", adoptHello}, // a conffile's or a file's type through a link
	} {
		t.Run(c.state+" "+c.op, func(t *testing.T) {
			root, outside, link := linkedRoot(t, c.state)
			before := testfixture.TreeListing(t, outside)
			err := c.run(root)
			if c.state == "usr/share" {
				// Adoption reads dpkg's database, which stays inside;
				// the files' types are looked up inside the root only.
				if err != nil {
					t.Fatalf("adopt: %v", err)
				}
			} else if !errors.Is(err, rootfs.ErrOutside) || !strings.Contains(err.Error(), link) {
				t.Errorf("error %v; want one saying %s leads out of the root", err, link)
			}
			if got := testfixture.TreeListing(t, outside); got != before {
				t.Errorf("outside the root changed:\n%s", testfixture.DiffListings(before, got))
			}
		})
	}
}

func openDB(root string) error {
	db, err := Open(root, Options{})
	if err == nil {
		_ = db.Close()
	}
	return err
}

func lockRoot(root string) error {
	l, err := LockRoot(context.Background(), root, LockOptions{NoWait: true})
	_ = l.Unlock()
	return err
}

func lockDpkg(root string) error {
	l, err := LockDpkg(context.Background(), root, LockOptions{NoWait: true})
	_ = l.Unlock()
	return err
}

// adoptHello reads hello's record from the root's dpkg database as
// adoption does.
func adoptHello(root string) error {
	d, err := OpenDpkgRoot(root)
	if err != nil {
		return err
	}
	defer d.Close()
	status, err := d.ReadAdminFile("status")
	if err != nil {
		return err
	}
	es, err := dpkgdb.ParseStatus("status", status)
	if err != nil {
		return err
	}
	for _, e := range es {
		if _, err := d.FromDpkg(e, false, ""); err != nil {
			return err
		}
	}
	return nil
}

// TestStateLinkInsideRootFollowed: a link that stays inside the root
// (var/lib/grey -> ../../srv/grey) is followed, as before.
func TestStateLinkInsideRootFollowed(t *testing.T) {
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "srv/grey"), 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "var/lib"), 0o755))
	must(t, os.Symlink("../../srv/grey", filepath.Join(root, "var/lib/grey")))
	db, err := Open(root, Options{})
	must(t, err)
	must(t, db.Close())
	if _, err := os.Stat(filepath.Join(root, "srv/grey/grey.db")); err != nil {
		t.Fatal(err)
	}
	l, err := LockRoot(context.Background(), root, LockOptions{NoWait: true})
	must(t, err)
	must(t, l.Unlock())
	// A copy (a read-only view's) leaves the original whole.
	dst := t.TempDir()
	must(t, CopyDB(root, dst))
	for _, r := range []string{root, dst} {
		db, err := Open(r, Options{})
		must(t, err)
		if v, err := db.Schema(); err != nil || v != SchemaVersion {
			t.Errorf("%s: schema %d, %v", r, v, err)
		}
		must(t, db.Close())
	}
}
