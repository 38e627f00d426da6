package resolver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/resolver/internal/sat"
)

// loadBookworm reads bookworm main (63,440 packages) from the fixture.
func loadBookworm(tb testing.TB) []*deb.Package {
	tb.Helper()
	path := filepath.Join(testfixture.Bookworm(tb), "debian/dists/bookworm/main/binary-amd64/Packages.xz")
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	ps, err := ReadPackages(f, path, "bookworm")
	if err != nil {
		tb.Fatal(err)
	}
	return ps
}

// fixtureRequest is one anchor request with apt's install-set sizes from
// ../shared/anchors/resolver-results.md (apt-get --print-uris on an empty
// status, same index).
type fixtureRequest struct {
	name          string
	pkgs          []string
	aptRec, aptNo int
}

var allNine = []string{"build-essential", "gnome", "kde-full", "texlive-full", "libreoffice", "openjdk-17-jdk", "python3-pandas", "postgresql", "nginx"}

func fixtureRequests() []fixtureRequest {
	return []fixtureRequest{
		{"build-essential", []string{"build-essential"}, 193, 75},
		{"gnome", []string{"gnome"}, 1450, 1126},
		{"kde-full", []string{"kde-full"}, 2065, 1192},
		{"texlive-full", []string{"texlive-full"}, 819, 561},
		{"libreoffice", []string{"libreoffice"}, 751, 250},
		{"openjdk-17-jdk", []string{"openjdk-17-jdk"}, 268, 154},
		{"python3-pandas", []string{"python3-pandas"}, 379, 55},
		{"postgresql", []string{"postgresql"}, 145, 92},
		{"nginx", []string{"nginx"}, 82, 29},
		{"all", allNine, 3117, 2205},
	}
}

func TestFullFixtureInstallSizes(t *testing.T) {
	testfixture.WholeIndex(t)
	pkgs := loadBookworm(t)
	idx := NewMemIndex(pkgs)
	for _, fr := range fixtureRequests() {
		for _, rec := range []bool{true, false} {
			label := fr.name + "/norec"
			apt := fr.aptNo
			if rec {
				label, apt = fr.name+"/rec", fr.aptRec
			}
			t.Run(label, func(t *testing.T) {
				req := Request{Install: jobs(t, fr.pkgs...), Recommends: rec, Architecture: "amd64"}
				pl, err := Solve(context.Background(), idx, req)
				if err != nil {
					t.Fatal(err)
				}
				if err := checkPlan(pkgs, req, pl); err != nil {
					t.Fatal(err)
				}
				if fr.name == "all" {
					again, err := Solve(context.Background(), idx, req)
					if err != nil || planText(again) != planText(pl) {
						t.Fatalf("second solve of the same request differs (err %v)", err)
					}
				}
				dev := 100 * float64(len(pl.Final)-apt) / float64(apt)
				t.Logf("%s: grey %d, apt %d, deviation %+.1f%%", label, len(pl.Final), apt, dev)
				if dev > 5 || dev < -5 {
					t.Errorf("%s: %d packages, apt installs %d (%+.1f%%, more than 5%%)", label, len(pl.Final), apt, dev)
				}
			})
		}
	}
}

// TestFixtureExplanations: requests that cannot be met on bookworm get the
// rules behind the conflict in words (two of dose-distcheck's 16 broken
// packages, a pinned version that does not exist, two requests that
// conflict).
func TestFullFixtureExplanations(t *testing.T) {
	testfixture.WholeIndex(t)
	idx := NewMemIndex(loadBookworm(t))
	tests := []struct {
		install []string
		want    []string
	}{
		{[]string{"console-setup-freebsd"}, []string{"console-setup-freebsd 1.221 depends on kbdcontrol, but no package kbdcontrol is available"}},
		{[]string{"design-desktop"}, []string{"design-desktop 3.0.27 depends on webext-dav4tbsync", "webext-tbsync 4.12-1~deb12u1 depends on thunderbird (<= 1:128.x), but the only thunderbird available is 1:140.12.0esr-1~deb12u1"}},
		{[]string{"libc6=2.30"}, []string{"libc6 has no version 2.30; available: 2.36-9+deb12u14"}},
		{[]string{"exim4-daemon-light", "postfix"}, []string{"conflicts with mail-transport-agent", "exim4-daemon-light 4.96-15+deb12u10 (which provides mail-transport-agent)"}},
	}
	for _, tt := range tests {
		_, err := Solve(context.Background(), idx, Request{Install: jobs(t, tt.install...), Recommends: true})
		var ue *Unsatisfiable
		if !errors.As(err, &ue) {
			t.Fatalf("%v: err = %v, want *Unsatisfiable", tt.install, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: explanation %q lacks %q", tt.install, err, w)
			}
		}
		if len(ue.Explanation) > 6 {
			t.Errorf("%v: explanation has %d sentences, want a short chain: %q", tt.install, len(ue.Explanation), ue.Explanation)
		}
	}
}

// loadFixtureFile reads one of the fixture's Packages.xz files.
func loadFixtureFile(tb testing.TB, rel, origin string) []*deb.Package {
	tb.Helper()
	path := filepath.Join(testfixture.Bookworm(tb), rel)
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	ps, err := ReadPackages(f, path, origin)
	if err != nil {
		tb.Fatal(err)
	}
	return ps
}

// TestFixtureUpgradeAndRemove installs nginx and build-essential from
// bookworm main, then works on that root with bookworm-updates and
// bookworm-security added: upgrade everything (newer versions, nothing
// removed), remove libc6 (everything on top goes), remove an Essential
// package (refused, explained).
func TestFullFixtureUpgradeAndRemove(t *testing.T) {
	testfixture.WholeIndex(t)
	main := loadBookworm(t)
	first, err := Solve(context.Background(), NewMemIndex(main), Request{Install: jobs(t, "nginx", "build-essential")})
	if err != nil {
		t.Fatal(err)
	}
	var installed []Installed
	for _, p := range first.Final {
		r := first.Reasons[Key(p)]
		installed = append(installed, Installed{Package: p, Auto: r.Auto})
	}
	all := append(append(append([]*deb.Package(nil), main...),
		loadFixtureFile(t, "debian/dists/bookworm-updates/main/binary-amd64/Packages.xz", "bookworm-updates")...),
		loadFixtureFile(t, "debian-security/dists/bookworm-security/main/binary-amd64/Packages.xz", "bookworm-security")...)
	idx := NewMemIndex(all)

	req := Request{UpgradeAll: true, Installed: installed}
	up, err := Solve(context.Background(), idx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkPlan(all, req, up); err != nil {
		t.Fatal(err)
	}
	if len(up.Remove) != 0 || len(up.Downgrade) != 0 {
		t.Fatalf("upgrade removes %s, downgrades %d", names(up.Remove), len(up.Downgrade))
	}
	if len(up.Upgrade) == 0 {
		t.Fatal("no upgrade found, though bookworm-security has newer versions")
	}
	for _, c := range up.Upgrade {
		for _, p := range idx.Packages(c.To.Name) {
			if p.Architecture == c.To.Architecture && cmpVersion(p, c.To) > 0 {
				t.Errorf("%s upgraded to %s, but %s is available", c.To.Name, c.To.Version, p.Version)
			}
		}
	}
	t.Logf("%d upgrades, %d kept, %d installed", len(up.Upgrade), len(up.Keep), len(up.Install))

	req = Request{Remove: jobs(t, "libc6"), Installed: installed}
	_, err = Solve(context.Background(), idx, req)
	var ue *Unsatisfiable
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "is Essential and cannot be removed") {
		t.Fatalf("removing libc6 under Essential packages: err = %v, want an explanation naming an Essential package", err)
	}
	req = Request{Remove: jobs(t, "nginx-common"), Installed: installed, Autoremove: true}
	rm, err := Solve(context.Background(), idx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkPlan(all, req, rm); err != nil {
		t.Fatal(err)
	}
	for _, p := range rm.Final {
		if p.Name == "nginx" || p.Name == "nginx-common" {
			t.Errorf("%s still installed after removing nginx-common", p.Name)
		}
	}
	if _, ok := rm.Reason(&deb.Package{Name: "build-essential", Architecture: "amd64"}); !ok {
		t.Error("build-essential removed with nginx-common")
	}
}

// TestFixtureSteering checks that the cost function steers gophersat to
// the preferred walk's assignment exactly on every anchor request: the
// SAT solve confirms the walk rather than searching elsewhere.
func TestFullFixtureSteering(t *testing.T) {
	testfixture.WholeIndex(t)
	idx := NewMemIndex(loadBookworm(t))
	for _, fr := range fixtureRequests() {
		for _, rec := range []bool{true, false} {
			req := Request{Install: jobs(t, fr.pkgs...), Recommends: rec}
			s, err := prepare(idx, &req)
			if err != nil {
				t.Fatal(err)
			}
			g := newGreedy(s)
			g.run()
			// The whole hard closure, as the SAT fallback encodes it.
			s.u.closeAll()
			s.enc = encode(s.u, s.req, nil)
			s.requestRules()
			model, err := sat.Solve(context.Background(), s.problem(), g.cost())
			if err != nil || model == nil {
				t.Fatalf("%s: no model (%v)", fr.name, err)
			}
			for id := range s.u.pkgs {
				if model[lit(id)] != g.chosen[id] {
					t.Errorf("%s rec=%v: the model sets %s %s to %v, the walk to %v", fr.name, rec, s.u.pkgs[id].Name, s.u.pkgs[id].Version, model[lit(id)], g.chosen[id])
					break
				}
			}
		}
	}
}
