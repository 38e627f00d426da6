package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/pkgdb"
)

const whyPackages = `Package: app
Version: 1.0
Architecture: amd64
Depends: libfoo (>= 1), mta | mail-transport-agent

Package: libfoo
Version: 1.2
Architecture: amd64
Depends: libc

Package: libc
Version: 2.36
Architecture: amd64

Package: exim
Version: 4.96
Architecture: amd64
Provides: mail-transport-agent
`

func TestWhy(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "Packages")
	if err := os.WriteFile(pf, []byte(whyPackages), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"why", "libc", "-i", "app", "--packages", pf}, 0, []string{
			"app     1.0   requested",
			"libfoo  1.2   Depends of app: libfoo (>= 1)",
			"libc    2.36  Depends of libfoo: libc",
		}},
		{[]string{"why", "exim", "-i", "app", "--packages", pf}, 0, []string{
			"exim  4.96  Depends of app: mta | mail-transport-agent",
		}},
		{[]string{"--json", "why", "libfoo", "-i", "app", "--packages", pf}, 0, []string{
			`"package": "libfoo"`, `"by": "app"`, `"relation": "libfoo (\u003e= 1)"`,
		}},
		// A known package the plan does not bring, and a name nobody has
		// (issue 18: "why nosuch" said "not in the resulting set").
		{[]string{"why", "exim", "-i", "libfoo", "--packages", pf}, 1, []string{"exim is not in the resulting set"}},
		{[]string{"why", "nothere", "-i", "app", "--packages", pf}, 100, []string{"no such package: nothere"}},
		{[]string{"why", "mail-transport-agent", "-i", "libfoo", "--packages", pf}, 1, []string{"not in the resulting set"}},
	}
	for _, tt := range tests {
		code, out, errOut := grey(t, "", append([]string{"--root", root}, tt.args...)...)
		if code != tt.code {
			t.Fatalf("%v: exit %d, want %d (stderr %s)", tt.args, code, tt.code, errOut)
		}
		for _, w := range tt.want {
			if !strings.Contains(out+errOut, w) {
				t.Errorf("%v: output lacks %q:\n%s%s", tt.args, w, out, errOut)
			}
		}
	}
}

// TestWhyRoot explains packages of a root's installed set: the chain
// starts at a manually installed package; an automatic one that nothing
// needs is explained as such.
func TestWhyRoot(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "Packages")
	if err := os.WriteFile(pf, []byte(whyPackages), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	db, err := pkgdb.Open(root, pkgdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := pkgdb.EnsureInstalledBuckets(tx); err != nil {
			return err
		}
		for _, stanza := range strings.Split(strings.TrimSpace(whyPackages), "\n\n") {
			st, err := control.ParseOne([]byte(stanza + "\n"))
			if err != nil {
				return err
			}
			name := st.Get("Package")
			p := &pkgdb.Package{Name: name, Architecture: st.Get("Architecture"), Version: st.Get("Version"),
				Status: pkgdb.StatusInstalled, Auto: name != "app", Control: stanza + "\n"}
			if err := pkgdb.PutPackage(tx, p); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := grey(t, "", "--root", root, "why", "libc", "--packages", pf)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"app     1.0   installed\n", "libfoo  1.2   Depends of app: libfoo (>= 1)\n", "libc    2.36  Depends of libfoo: libc\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// exim is automatic, and app's "mta | mail-transport-agent" is what
	// keeps it: the chain says so.
	code, out, errOut = grey(t, "", "--root", root, "why", "exim", "--packages", pf)
	if code != 0 || !strings.Contains(out, "exim  4.96  Depends of app: mta | mail-transport-agent") {
		t.Errorf("why exim: exit %d\n%s%s", code, out, errOut)
	}
}
