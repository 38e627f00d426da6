package resolver

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// TestRebuildUpgraded: a candidate of the installed version with other
// control data (a rebuild) is apt's candidate: an install of the name or
// an upgrade takes it and the plan lists it as an upgrade; a request that
// does not touch the name keeps the installed build (issue 15, point 6).
func TestRebuildUpgraded(t *testing.T) {
	idx := NewMemIndex(parsePkgs(t, `
Package: hello
Version: 2.10-3
Installed-Size: 280
Depends: libc6 (>= 2.34)

Package: libc6
Version: 2.36-9

Package: other
Version: 1
`))
	installed := installedFrom(t, `
Package: hello
Version: 2.10-3
Installed-Size: 277
Depends: libc6 (>= 2.34)

Package: libc6
Version: 2.36-9
`)
	tests := []struct {
		name     string
		req      Request
		upgraded string
	}{
		{"install", Request{Install: jobs(t, "hello")}, "hello=2.10-3"},
		{"install version", Request{Install: jobs(t, "hello=2.10-3")}, "hello=2.10-3"},
		{"upgrade", Request{UpgradeAll: true}, "hello=2.10-3"},
		{"full upgrade", Request{FullUpgrade: true}, "hello=2.10-3"},
		{"untouched", Request{Install: jobs(t, "other")}, ""},
	}
	for _, tc := range tests {
		tc.req.Installed = installed
		pl, err := Solve(context.Background(), idx, tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var up []string
		for _, c := range pl.Upgrade {
			up = append(up, c.To.Name+"="+c.To.Version.String())
			if c.From != installed[0].Package || c.To.InstalledSize != 280 {
				t.Errorf("%s: upgrade %s -> %s is not from the installed build to the rebuild", tc.name, c.From, c.To)
			}
		}
		if got := names(pl.Final); !slices.Contains(strings.Fields(got), "hello=2.10-3") {
			t.Errorf("%s: final %s", tc.name, got)
		}
		if got := strings.Join(up, " "); got != tc.upgraded {
			t.Errorf("%s: upgraded %q, want %q", tc.name, got, tc.upgraded)
		}
		for _, k := range pl.Keep {
			if k.Name == "hello" && tc.upgraded != "" {
				t.Errorf("%s: hello both kept and upgraded", tc.name)
			}
		}
	}
	// When the installed record and the candidate are one build, nothing
	// moves.
	same := installedFrom(t, "Package: hello\nVersion: 2.10-3\nInstalled-Size: 280\nDepends: libc6 (>= 2.34)\n\nPackage: libc6\nVersion: 2.36-9\n")
	pl, err := Solve(context.Background(), idx, Request{Install: jobs(t, "hello"), Installed: same})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Upgrade)+len(pl.Install)+len(pl.Remove) != 0 || len(pl.Keep) != 2 {
		t.Errorf("same build: %d upgrades, %d installs, %d removals, %d kept; want only 2 kept", len(pl.Upgrade), len(pl.Install), len(pl.Remove), len(pl.Keep))
	}
}
