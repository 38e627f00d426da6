package transaction

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/greypm/grey/pkgdb"
)

// TestTreeHashFormat: TreeHash hashes exactly the lines history entries
// written by earlier versions hashed (their fmt.Fprintf format), so a
// stored tree hash still compares equal; one path shared by packages
// counts once, as its last record that is not a directory.
func TestTreeHashFormat(t *testing.T) {
	pkgs := []*pkgdb.Package{
		{Name: "a", Files: []pkgdb.File{
			{Path: "/usr", Type: pkgdb.TypeDir, Mode: 0o755},
			{Path: "/usr/bin/a", Type: pkgdb.TypeRegular, Mode: 0o4755, Size: 1234, SHA256: "ab12"},
			{Path: "/usr/bin/l", Type: pkgdb.TypeSymlink, Link: "a"},
			{Path: "/usr/bin/h", Type: pkgdb.TypeHard, Mode: 0o644, Link: "/usr/bin/a"},
			{Path: "/dev/x", Type: pkgdb.TypeChar, Mode: 0o600},
			{Path: "/shared", Type: pkgdb.TypeDir},
		}},
		{Name: "b", Files: []pkgdb.File{
			{Path: "/usr", Type: pkgdb.TypeDir, Mode: 0o700},
			{Path: "/shared", Type: pkgdb.TypeSymlink, Link: "usr"},
			{Path: "/adopted", Type: pkgdb.TypeRegular, MD5: "00"},
		}},
	}
	want := "/adopted\x00file\x000\x000\x00\n" +
		"/dev/x\x00char\x00600\n" +
		"/shared\x00symlink\x00usr\n" +
		"/usr\x00dir\n" +
		"/usr/bin/a\x00file\x004755\x001234\x00ab12\n" +
		"/usr/bin/h\x00file\x00644\x000\x00\n" +
		"/usr/bin/l\x00symlink\x00a\n"
	sum := sha256.Sum256([]byte(want))
	if got := TreeHash(pkgs); got != hex.EncodeToString(sum[:]) {
		var lines []byte
		for _, f := range managed(pkgs) {
			lines = treeLine(lines, f)
		}
		t.Errorf("tree lines\n%q\nwant\n%q", lines, want)
	}
	// Many paths: past the hasher's buffer.
	var big pkgdb.Package
	var all []byte
	for i := 0; i < 5000; i++ {
		f := pkgdb.File{Path: fmt.Sprintf("/p/%05d", i), Type: pkgdb.TypeRegular, Mode: 0o644, Size: int64(i), SHA256: "ff"}
		big.Files = append(big.Files, f)
		all = fmt.Appendf(all, "%s\x00file\x00%o\x00%d\x00%s\n", f.Path, f.Mode, f.Size, f.SHA256)
	}
	sum = sha256.Sum256(all)
	if got := TreeHash([]*pkgdb.Package{&big}); got != hex.EncodeToString(sum[:]) {
		t.Error("tree hash of 5,000 paths differs from its lines'")
	}
}
