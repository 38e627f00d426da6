package index

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"iter"
	"os"
	"path/filepath"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// fixtureInputs returns the fixture's Packages files, bookworm main first
// unless small; the SHA256s are computed here, where grey update would take
// them from the verified InRelease.
func fixtureInputs(t testing.TB, small bool) []Input {
	t.Helper()
	dir := testfixture.Bookworm(t)
	all := []Input{
		{Origin: "bookworm", Path: filepath.Join(dir, "debian/dists/bookworm/main/binary-amd64/Packages.xz")},
		{Origin: "bookworm-updates", Path: filepath.Join(dir, "debian/dists/bookworm-updates/main/binary-amd64/Packages.xz")},
		{Origin: "bookworm-security", Path: filepath.Join(dir, "debian-security/dists/bookworm-security/main/binary-amd64/Packages.xz")},
	}
	if small {
		all = all[1:]
	}
	for i := range all {
		all[i].SHA256 = fileSHA(t, all[i].Path)
	}
	return all
}

func fileSHA(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// writeInput writes a plain Packages file and returns its Input.
func writeInput(t testing.TB, dir, origin, text string) Input {
	t.Helper()
	p := filepath.Join(dir, origin+".Packages")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return Input{Origin: origin, Path: p, SHA256: fileSHA(t, p)}
}

func mustLoad(t testing.TB, cache string, inputs []Input) (*Index, *LoadResult) {
	t.Helper()
	x, res, err := Load(context.Background(), cache, inputs)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { x.Close() })
	return x, res
}

const samplePackages = `Package: hello
Version: 2.10-3
Architecture: amd64
Depends: libc6 (>= 2.34)
Description: example package based on GNU hello
 The GNU hello program produces a familiar, friendly greeting.
SHA256: 0000000000000000000000000000000000000000000000000000000000000001

Package: mail-transport
Version: 1.0
Architecture: all
Provides: mail-transport-agent, default-mta (= 1.0)
Description: a fake MTA

Package: hello
Version: 2.9-1
Architecture: amd64
Description: an older greeting

Package: broken
Version: not a version!
Architecture: amd64
Description: does not decode

Package: exim4
Version: 4.96-15
Architecture: amd64
Provides: mail-transport-agent
Description: Exim is a mail transport agent
`

const samplePackages2 = `Package: hello
Version: 2.10-3+deb12u1
Architecture: amd64
Description: example package based on GNU hello (security)

Package: zzz
Version: 1:0.1
Architecture: all
Description: last
`

// iterPull adapts iter.Pull for Summaries.
func iterPull(seq func(func(Summary) bool)) (func() (Summary, bool), func()) {
	return iter.Pull(iter.Seq[Summary](seq))
}
