package pkgdb

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/pkgdb/dpkgdb"
)

func TestLockNoWaitNamesHolder(t *testing.T) {
	root := t.TempDir()
	l, err := LockRoot(context.Background(), root, LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockRoot(context.Background(), root, LockOptions{NoWait: true})
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() {
		t.Fatalf("second lock: %v, want a LockedError naming pid %d", err, os.Getpid())
	}
	// A waiter is told once, then gets the lock when the holder lets go.
	told := make(chan int, 1)
	done := make(chan error, 1)
	go func() {
		l2, err := LockRoot(context.Background(), root, LockOptions{Poll: 5 * time.Millisecond,
			Waiting: func(e *LockedError) { told <- e.PID }})
		if err == nil {
			err = l2.Unlock()
		}
		done <- err
	}()
	if pid := <-told; pid != os.Getpid() {
		t.Errorf("waiting message names pid %d", pid)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l, _ = LockRoot(context.Background(), root, LockOptions{})
	defer l.Unlock()
	cancel()
	if _, err := LockRoot(ctx, root, LockOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
}

func TestInstalledOwnership(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, _ := db.Schema(); v != SchemaVersion {
		t.Fatalf("schema %d", v)
	}
	a := &Package{Name: "a", Version: "1", Architecture: "amd64", Status: StatusInstalled,
		Control:   "Package: a\nVersion: 1\nArchitecture: amd64\nDescription: x\n",
		Files:     []File{{Path: "/usr", Type: TypeDir}, {Path: "/usr/a", Type: TypeRegular}},
		Conffiles: []Conffile{{Path: "/etc/a", MD5: "0123"}}}
	b := &Package{Name: "b", Version: "2", Architecture: "all", Status: StatusInstalled, MultiArch: "foreign",
		Control: "Package: b\nVersion: 2\nArchitecture: all\n",
		Files:   []File{{Path: "/usr", Type: TypeDir}, {Path: "/usr/b", Type: TypeRegular}}}
	steps := []struct {
		name string
		fn   func(tx *bolt.Tx) error
		want map[string][]string
	}{
		{"put a", func(tx *bolt.Tx) error { return PutPackage(tx, a) }, map[string][]string{"/usr": {"a"}, "/usr/a": {"a"}}},
		{"put b", func(tx *bolt.Tx) error { return PutPackage(tx, b) }, map[string][]string{"/usr": {"a", "b"}, "/usr/b": {"b"}}},
		{"a drops /usr/a", func(tx *bolt.Tx) error {
			a2 := *a
			a2.Files = a.Files[:1]
			return PutPackage(tx, &a2)
		}, map[string][]string{"/usr/a": nil, "/usr": {"a", "b"}}},
		{"delete b", func(tx *bolt.Tx) error { return DeletePackage(tx, "b") }, map[string][]string{"/usr": {"a"}, "/usr/b": nil}},
	}
	for _, s := range steps {
		if err := db.Update(s.fn); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		_ = db.View(func(tx *bolt.Tx) error {
			for p, want := range s.want {
				if got := Owners(tx, p); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: owners of %s = %v, want %v", s.name, p, got, want)
				}
			}
			return nil
		})
	}
	var pkgs []*Package
	_ = db.View(func(tx *bolt.Tx) (err error) { pkgs, err = Packages(tx); return })
	st, err := DpkgStatus(append(pkgs, b))
	if err != nil {
		t.Fatal(err)
	}
	want := "Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\nConffiles:\n /etc/a 0123\nDescription: x\n\n" +
		"Package: b\nStatus: install ok installed\nVersion: 2\nArchitecture: all\n"
	if string(st) != want {
		t.Errorf("status:\n%s\nwant:\n%s", st, want)
	}
	if l := string(ListFile(a)); l != "/.\n/usr\n/usr/a\n" {
		t.Errorf("list %q", l)
	}
	if n := (&Package{Name: "libc6", Architecture: "amd64", MultiArch: "same"}).InfoName(); n != "libc6:amd64" {
		t.Errorf("info name %s", n)
	}
	if !strings.Contains(string(ConffilesFile(a)), "/etc/a\n") {
		t.Error("conffiles file")
	}
}

// TestStatusStanzaDpkgOrder: grey writes a stanza's fields where dpkg
// writes them (Status after Essential and Protected, Config-Version after
// Version, Conffiles before Description), so the stanza of a package
// adopted from dpkg comes out as dpkg wrote it.
func TestStatusStanzaDpkgOrder(t *testing.T) {
	for _, c := range []struct{ name, dpkg string }{
		{"essential", "Package: dpkg\nEssential: yes\nStatus: install ok installed\nPriority: required\nVersion: 1.21.23\n" +
			"Conffiles:\n /etc/dpkg/dpkg.cfg f4413ffb515f8f753624ae3bb365b81b\nDescription: Debian package management system\nHomepage: https://wiki.debian.org/Teams/Dpkg\n"},
		{"protected", "Package: p\nEssential: yes\nProtected: yes\nStatus: install ok unpacked\nVersion: 2\nConfig-Version: 1\nDescription: d\n"},
		{"no description", "Package: q\nStatus: install ok installed\nVersion: 1\nConffiles:\n /etc/q 00\n"},
	} {
		e, err := dpkgdb.ParseStatus("status", []byte(c.dpkg))
		if err != nil || len(e) != 1 {
			t.Fatalf("%s: %v", c.name, err)
		}
		d, err := OpenDpkgRoot(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		p, err := d.FromDpkg(e[0], false, "")
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		p.ConfigVersion = e[0].Fields.Get("Config-Version")
		st, err := StatusStanza(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := control.AppendStanza(nil, st)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.dpkg {
			t.Errorf("%s:\n%s\nwant\n%s", c.name, got, c.dpkg)
		}
	}
}
