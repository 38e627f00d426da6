package deb

import (
	"testing"

	"github.com/greypm/grey/deb/control"
)

func parse(t *testing.T, text string) *Package {
	t.Helper()
	st, err := control.ParseOne([]byte(text + "Architecture: amd64\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := FromStanza(st)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSameBuild compares installed records and candidates of one name,
// version and architecture as apt's cache does: only Installed-Size,
// Depends, Pre-Depends, Conflicts, Breaks, Replaces and Multi-Arch count.
func TestSameBuild(t *testing.T) {
	base := "Package: a\nVersion: 1:2.0-1\nInstalled-Size: 100\nDepends: libc6 (>= 2.34), x | y\nReplaces: old (<< 1)\n"
	tests := []struct {
		name  string
		other string
		same  bool
	}{
		{"identical", base, true},
		{"other description and recommends", base + "Description: new words\nRecommends: z\nSection: misc\n", true},
		{"spaces in relations", "Package: a\nVersion: 1:2.0-1\nInstalled-Size: 100\nDepends: libc6(>=2.34),x|y\nReplaces: old (<<1)\n", true},
		{"installed size unknown", "Package: a\nVersion: 1:2.0-1\nDepends: libc6 (>= 2.34), x | y\nReplaces: old (<< 1)\n", true},
		{"other installed size", "Package: a\nVersion: 1:2.0-1\nInstalled-Size: 101\nDepends: libc6 (>= 2.34), x | y\nReplaces: old (<< 1)\n", false},
		{"other depends version", "Package: a\nVersion: 1:2.0-1\nInstalled-Size: 100\nDepends: libc6 (>= 2.36), x | y\nReplaces: old (<< 1)\n", false},
		{"alternative dropped", "Package: a\nVersion: 1:2.0-1\nInstalled-Size: 100\nDepends: libc6 (>= 2.34), x\nReplaces: old (<< 1)\n", false},
		{"new breaks", base + "Breaks: b\n", false},
		{"new pre-depends", base + "Pre-Depends: dpkg\n", false},
		{"multi-arch", base + "Multi-Arch: same\n", false},
		{"other version", "Package: a\nVersion: 2.0-1\nInstalled-Size: 100\nDepends: libc6 (>= 2.34), x | y\nReplaces: old (<< 1)\n", false},
	}
	a := parse(t, base)
	for _, tc := range tests {
		b := parse(t, tc.other)
		if got := SameBuild(a, b); got != tc.same {
			t.Errorf("%s: SameBuild = %v, want %v", tc.name, got, tc.same)
		}
	}
}
