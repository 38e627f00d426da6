package resolver

import (
	"strings"
	"testing"
)

// TestPlanChangesAndReasons checks every part of a plan on one root:
// installs, upgrades, downgrades, removals, kept packages, the reasons
// and automatic flags, and Why's chain.
func TestPlanChangesAndReasons(t *testing.T) {
	universe := parsePkgs(t, `
Package: app
Version: 2
Depends: lib (>= 2), helper | other

Package: lib
Version: 2

Package: helper
Version: 1
Recommends: extra

Package: extra
Version: 1

Package: pinned
Version: 1

Package: pinned
Version: 3

Package: stay
Version: 1
`)
	installed := installedFrom(t, `
Package: app
Version: 1
Depends: lib

Package: lib
Version: 1
Auto: yes

Package: pinned
Version: 3

Package: gone
Version: 1
Conflicts: helper

Package: stay
Version: 1
`)
	req := Request{Install: jobs(t, "app", "pinned=1"), Installed: installed, Recommends: true}
	pl, err := solve(t, universe, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkPlan(universe, req, pl); err != nil {
		t.Fatal(err)
	}
	got := planText(pl)
	for _, want := range []string{
		"install extra=1 helper=1\n",
		"remove gone=1\n",
		"keep stay=1\n",
		"final app=2 extra=1 helper=1 lib=2 pinned=1 stay=1\n",
		"upgrade app 1 -> 2\n",
		"upgrade lib 1 -> 2\n",
		"downgrade pinned 3 -> 1\n",
		"app:amd64: req=true inst=false auto=false by= ",
		"helper:amd64: req=false inst=false auto=true by=app 2 Depends helper | other\n",
		"extra:amd64: req=false inst=false auto=true by=helper 1 Recommends extra\n",
		"lib:amd64: req=false inst=false auto=true by=app 2 Depends lib (>= 2)\n",
		"stay:amd64: req=false inst=true auto=false by= ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plan lacks %q:\n%s", want, got)
		}
	}
	chain, err := Why(pl, "extra")
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, st := range chain {
		steps = append(steps, st.Package.Name)
	}
	if s := strings.Join(steps, " -> "); s != "app -> helper -> extra" {
		t.Errorf("Why(extra) = %s, want app -> helper -> extra", s)
	}
	if _, err := Why(pl, "gone"); err == nil {
		t.Error("Why(gone) found a chain for a removed package")
	}
	if chain, err := Why(pl, "lib:amd64"); err != nil || len(chain) != 2 {
		t.Errorf("Why(lib:amd64) = %v, %v; want app -> lib", chain, err)
	}
}

// TestNamePrefixOrder checks that plan's prefix keys never order two names
// against strings.Compare: around the eight-byte boundary, shorter names,
// and NUL bytes.
func TestNamePrefixOrder(t *testing.T) {
	names := []string{"", "a", "a\x00", "ab", "abcdefg", "abcdefgh", "abcdefgh1", "abcdefgi",
		"libreoffice", "libreoffice-core", "libreofficekit", "texlive", "texlive-base", "z", "\xff"}
	for _, a := range names {
		for _, b := range names {
			pa, pb := namePrefix(a), namePrefix(b)
			want := strings.Compare(a, b)
			switch {
			case pa < pb && want >= 0, pa > pb && want <= 0:
				t.Errorf("prefixes of %q and %q order against the names", a, b)
			}
		}
	}
}
