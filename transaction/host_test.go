package transaction

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/pkgdb/dpkgdb"
)

// hostStatus has a package in every state dpkg writes, a hold, and two
// instances of one Multi-Arch: same package.
const hostStatus = `Package: base-files
Essential: yes
Status: install ok installed
Architecture: amd64
Version: 12.4
Conffiles:
 /etc/debian_version %s
Description: base

Package: dpkg
Status: install ok installed
Architecture: amd64
Version: 1.21.22
Description: dpkg

Package: halfinst
Status: install reinstreq half-installed
Architecture: amd64
Version: 1
Description: half installed

Package: hello
Status: hold ok installed
Architecture: amd64
Version: 2.10-3
Depends: libc6 (>= 2.34)
Description: hello

Package: iu
Status: install ok unpacked
Architecture: all
Version: 1
Description: unpacked

Package: if
Status: install ok half-configured
Architecture: amd64
Version: 1
Description: half configured

Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 2.36-9
Description: libc

Package: libc6
Status: install ok installed
Architecture: i386
Multi-Arch: same
Version: 2.36-9
Description: libc

Package: nano
Status: deinstall ok config-files
Architecture: amd64
Version: 7.2-1
Conffiles:
 /etc/nanorc 11111111111111111111111111111111
Description: nano

Package: purged
Status: purge ok not-installed
Architecture: amd64
Description: gone

Package: tpend
Status: install ok triggers-pending
Architecture: amd64
Version: 1
Triggers-Pending: ldconfig
Description: pending

Package: tawait
Status: install ok triggers-awaited
Architecture: amd64
Version: 1
Triggers-Awaited: tpend
Description: awaited

`

// fakeHostRoot writes a small root as dpkg would have left it.
func fakeHostRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	w := func(rel, data string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w("etc/debian_version", "12.4\n")
	w("usr/bin/hello", "hello binary")
	w("usr/lib/x86_64-linux-gnu/libc.so.6", "libc")
	w("usr/lib/i386-linux-gnu/libc.so.6", "libc32")
	w("etc/nanorc", "# nano\n")
	if err := os.MkdirAll(filepath.Join(root, "var/local"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("hello", filepath.Join(root, "usr/bin/hi")); err != nil {
		t.Fatal(err)
	}
	w("var/lib/dpkg/status", fmt.Sprintf(hostStatus, md5hex("12.4\n")))
	w("var/lib/dpkg/info/base-files.list", "/.\n/etc\n/etc/debian_version\n/var\n/var/local\n")
	w("var/lib/dpkg/info/hello.list", "/.\n/usr\n/usr/bin\n/usr/bin/hello\n/usr/bin/hi\n")
	w("var/lib/dpkg/info/hello.md5sums", md5hex("hello binary")+"  usr/bin/hello\n")
	w("var/lib/dpkg/info/hello.postinst", "#!/bin/sh\nexit 0\n")
	w("var/lib/dpkg/info/libc6:amd64.list", "/.\n/usr\n/usr/lib\n/usr/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu/libc.so.6\n")
	w("var/lib/dpkg/info/libc6:i386.list", "/.\n/usr\n/usr/lib\n/usr/lib/i386-linux-gnu\n/usr/lib/i386-linux-gnu/libc.so.6\n")
	w("var/lib/dpkg/info/nano.list", "/.\n/etc\n/etc/nanorc\n")
	w("var/lib/dpkg/info/format", "1\n")
	w("var/lib/apt/extended_states", "Package: libc6\nArchitecture: amd64\nAuto-Installed: 1\n\nPackage: iu\nArchitecture: amd64\nAuto-Installed: 1\n\n")
	return root
}

func md5hex(s string) string {
	sum, _ := fileMD5Bytes([]byte(s))
	return sum
}

func TestSyncHostAdoptsEveryState(t *testing.T) {
	root := fakeHostRoot(t)
	before := treeHash(t, root)
	r, err := OpenRoot(context.Background(), root, pkgdb.LockOptions{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Synced == nil || !r.Synced.Adopted || len(r.Synced.Added) != 11 {
		t.Fatalf("sync result %+v, want 11 packages adopted", r.Synced)
	}
	// Nothing of the root is touched: only grey's own directory and dpkg's
	// lock files are new.
	if got := treeHash(t, root, "var/lib/grey", "var/lib/dpkg/lock", "var/lib/dpkg/lock-frontend"); got != before {
		t.Error("adoption changed the root")
	}
	want := map[string]struct {
		status    string
		installed bool
		auto      bool
	}{
		"base-files": {"install ok installed", true, false},
		"dpkg":       {"install ok installed", true, false},
		"halfinst":   {"install reinstreq half-installed", true, false},
		"hello":      {"hold ok installed", true, false},
		"iu":         {"install ok unpacked", true, true}, // arch all: apt's mark is under the native arch
		"if":         {"install ok half-configured", true, false},
		"libc6":      {"install ok installed", true, true},
		"libc6:i386": {"install ok installed", true, false},
		"nano":       {"deinstall ok config-files", false, false},
		"tpend":      {"install ok triggers-pending", true, false},
		"tawait":     {"install ok triggers-awaited", true, false},
	}
	err = r.DB.View(func(tx *bolt.Tx) error {
		pkgs, err := pkgdb.Packages(tx)
		if err != nil {
			return err
		}
		if len(pkgs) != len(want) {
			t.Errorf("%d records, want %d", len(pkgs), len(want))
		}
		for _, p := range pkgs {
			w, ok := want[p.Key()]
			if !ok {
				t.Errorf("unexpected record %s", p.Key())
				continue
			}
			if p.Status != w.status || p.IsInstalled() != w.installed || p.Auto != w.auto || !p.Adopted {
				t.Errorf("%s: status %q installed %v auto %v adopted %v, want %+v", p.Key(), p.Status, p.IsInstalled(), p.Auto, p.Adopted, w)
			}
		}
		hello, _ := pkgdb.GetPackage(tx, "hello")
		types := map[string]pkgdb.FileType{}
		for _, f := range hello.Files {
			types[f.Path] = f.Type
		}
		if types["/usr"] != pkgdb.TypeDir || types["/usr/bin/hello"] != pkgdb.TypeRegular || types["/usr/bin/hi"] != pkgdb.TypeSymlink {
			t.Errorf("hello's file types %v", types)
		}
		if !hello.Held() {
			t.Error("hello is not held")
		}
		bf, _ := pkgdb.GetPackage(tx, "base-files")
		if len(bf.Conffiles) != 1 || bf.Conffiles[0].SHA256 == "" {
			t.Errorf("base-files conffiles %+v: an unchanged conffile gets its SHA256", bf.Conffiles)
		}
		for _, f := range bf.Files {
			if f.Path == "/var/local" && f.Type != pkgdb.TypeDir {
				t.Errorf("leaf directory /var/local recorded as %s", f.Type)
			}
		}
		if o := pkgdb.Owners(tx, "/usr/lib/i386-linux-gnu/libc.so.6"); len(o) != 1 || o[0] != "libc6:i386" {
			t.Errorf("owner of the i386 libc: %v", o)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	hist, err := ReadHistory(r.DB)
	if err != nil || len(hist) != 1 || strings.Join(hist[0].Command, " ") != AdoptedCommand {
		t.Fatalf("history %+v %v, want one %q entry", hist, err, AdoptedCommand)
	}
	if len(hist[0].After) != 10 || hist[0].After["libc6:i386"] != "2.36-9" {
		t.Errorf("adoption entry after-set %v", hist[0].After)
	}
	// The resolver sees every package but the config-files one as installed.
	inst, err := InstalledSet(r.DB)
	if err != nil {
		t.Fatal(err)
	}
	if len(inst) != 10 {
		t.Errorf("resolver sees %d installed packages, want 10", len(inst))
	}
	// grey verify passes on what it adopted.
	probs, err := Verify(context.Background(), r.DB, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		if p.IsError() {
			t.Errorf("verify after adoption: %s", p)
		}
	}
	r.Close()

	// Opening again changes nothing and records nothing.
	r2, err := OpenRoot(context.Background(), root, pkgdb.LockOptions{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	if !r2.Synced.Empty() {
		t.Errorf("second open synced %v", r2.Synced)
	}
	r2.Close()
}

func TestSyncHostOutsideChanges(t *testing.T) {
	root := fakeHostRoot(t)
	r, err := OpenRoot(context.Background(), root, pkgdb.LockOptions{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	status := filepath.Join(root, "var/lib/dpkg/status")
	data, _ := os.ReadFile(status)
	// dpkg -r hello, dpkg -i a new tpend, apt-mark auto dpkg.
	out, err := dpkgdb.Edit{
		Drop: map[string]bool{"hello:amd64": true},
		Put: map[string][]byte{
			"tpend:amd64": []byte("Package: tpend\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2\nDescription: pending\n"),
			"new:amd64":   []byte("Package: new\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\nDescription: new\n"),
		},
	}.Apply(status, data)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(status, out, 0o644)
	es := filepath.Join(root, dpkgdb.ExtendedStatesPath)
	old, _ := os.ReadFile(es)
	os.WriteFile(es, append(old, "Package: dpkg\nArchitecture: amd64\nAuto-Installed: 1\n\n"...), 0o644)

	r, err = OpenRoot(context.Background(), root, pkgdb.LockOptions{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := r.Synced
	if s.Adopted || strings.Join(s.Added, ",") != "new" || strings.Join(s.Changed, ",") != "tpend" ||
		strings.Join(s.Removed, ",") != "hello" || s.Marks != 1 {
		t.Errorf("sync %+v", s)
	}
	hist, _ := ReadHistory(r.DB)
	if len(hist) != 2 || hist[1].Command[0] != OutsideCommand {
		t.Fatalf("history %v", hist)
	}
	sum := Summarize(hist[1])
	if len(sum.Installed) != 1 || len(sum.Upgraded) != 1 || len(sum.Removed) != 1 {
		t.Errorf("outside change summary %+v", sum)
	}
	r.DB.View(func(tx *bolt.Tx) error {
		if p, _ := pkgdb.GetPackage(tx, "dpkg"); p == nil || !p.Auto {
			t.Error("apt's auto mark of dpkg not brought in")
		}
		if o := pkgdb.Owners(tx, "/usr/bin/hello"); len(o) != 0 {
			t.Errorf("/usr/bin/hello still owned by %v", o)
		}
		return nil
	})
}

func TestReadOnlyView(t *testing.T) {
	root := fakeHostRoot(t)
	// A view of a root grey never opened: adopted in a private copy, the
	// root untouched (no var/lib/grey).
	if err := os.Chmod(root, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(root, 0o755)
	v, err := OpenView(context.Background(), root, RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inst, err := InstalledSet(v.DB)
	if err != nil || len(inst) != 10 {
		t.Errorf("view: %d installed, %v", len(inst), err)
	}
	v.Close()
	// What a user who cannot write the root gets (as root, canWrite is
	// always true, so call it directly): the root untouched.
	root2 := fakeHostRoot(t)
	before := treeHash(t, root2)
	v, err = privateView(root2, RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inst, err = InstalledSet(v.DB)
	if err != nil || len(inst) != 10 {
		t.Errorf("private view: %d installed, %v", len(inst), err)
	}
	hist, _ := ReadHistory(v.DB)
	if len(hist) != 1 {
		t.Errorf("private view history %v", hist)
	}
	v.Close()
	if treeHash(t, root2) != before {
		t.Error("a private view wrote the root")
	}
}

// A root without apt keeps grey's marks when dpkg's status changes.
func TestSyncHostWithoutAptKeepsMarks(t *testing.T) {
	root := fakeHostRoot(t)
	if err := os.RemoveAll(filepath.Join(root, "var/lib/apt")); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRoot(context.Background(), root, pkgdb.LockOptions{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SetMarks(r, []string{"hello"}, MarkAuto); err != nil {
		t.Fatal(err)
	}
	r.Close()
	status := filepath.Join(root, "var/lib/dpkg/status")
	data, _ := os.ReadFile(status)
	os.WriteFile(status, append(data, "Package: new\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\nDescription: new\n\n"...), 0o644)
	r, err = OpenRoot(context.Background(), root, pkgdb.LockOptions{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.DB.View(func(tx *bolt.Tx) error {
		if p, _ := pkgdb.GetPackage(tx, "hello"); p == nil || !p.Auto {
			t.Error("hello lost its auto mark in a root without apt")
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(root, "var/lib/apt")); err == nil {
		t.Error("grey created apt's directory")
	}
}
