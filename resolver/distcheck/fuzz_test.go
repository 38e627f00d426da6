package distcheck

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/testfixture"
)

// FuzzSetRead feeds arbitrary indexes to the numbered set and the check:
// neither may panic, every decoded package must be checked or skipped for
// its architecture, the set must keep every package deb.FromStanza
// decodes, and checking the set must agree with checking the decoded
// packages.
func FuzzSetRead(f *testing.F) {
	f.Add([]byte("Package: a\nVersion: 1\nArchitecture: amd64\nDepends: b | c (>= 1), d:any\nConflicts: e\n\nPackage: b\nVersion: 1\nArchitecture: all\nProvides: c (= 2)\n"))
	// A few real stanzas from the fixture's 22 .deb packages' index.
	dir := filepath.Join(filepath.Dir(testfixture.RepoRoot(f)), "shared", "testdata", "debian-bookworm", "debian-security", "dists", "bookworm-security", "main", "binary-amd64", "Packages.xz")
	if fh, err := os.Open(dir); err == nil {
		r := control.NewReader(fh)
		for i := 0; i < 8; i++ {
			s, err := r.Next()
			if err != nil {
				break
			}
			b, err := control.AppendStanza(nil, s)
			if err == nil {
				f.Add(b)
			}
		}
		r.Close()
		fh.Close()
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := readPackages(context.Background(), bytes.NewReader(data), "fuzz")
		set := NewSet()
		serr := set.Read(context.Background(), bytes.NewReader(data), "fuzz")
		if (err == nil) != (serr == nil) {
			t.Fatalf("decoding: %v, reading the set: %v", err, serr)
		}
		if err != nil {
			return
		}
		if set.Len() != len(pkgs) {
			t.Fatalf("%d packages, the set holds %d", len(pkgs), set.Len())
		}
		rep, err := Check(context.Background(), pkgs, Options{ForeignArchs: []string{"i386"}})
		if err != nil {
			t.Fatal(err)
		}
		srep, err := CheckSet(context.Background(), set, Options{ForeignArchs: []string{"i386"}})
		if err != nil {
			t.Fatal(err)
		}
		if summary(rep) != summary(srep) {
			t.Fatalf("Check and CheckSet disagree:\n%s\n--\n%s", summary(rep), summary(srep))
		}
		if rep.Checked > len(pkgs) || len(rep.Broken) > rep.Checked {
			t.Fatalf("%d packages, %d checked, %d broken", len(pkgs), rep.Checked, len(rep.Broken))
		}
		for _, b := range rep.Broken {
			if b.Reason == "" || len(b.Explanation) == 0 {
				t.Fatalf("%s broken without a reason", b.Package)
			}
		}
	})
}
