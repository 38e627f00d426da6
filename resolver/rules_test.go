package resolver

import (
	"errors"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
)

// ruleCase is one hand-written universe, a request and the exact final
// set (or the words the explanation must hold).
type ruleCase struct {
	name      string
	universe  string
	installed string // Packages text of the installed set; "Auto: yes" marks auto packages
	req       Request
	install   []string
	remove    []string
	want      string   // names() of the final set
	wantErr   []string // words of the Unsatisfiable explanation
}

func installedFrom(t *testing.T, text string) []Installed {
	t.Helper()
	if strings.TrimSpace(text) == "" {
		return nil
	}
	var out []Installed
	for _, p := range parsePkgs(t, text) {
		auto := p.Stanza.Get("Auto") == "yes"
		p.Origin = "installed"
		out = append(out, Installed{Package: p, Auto: auto})
	}
	return out
}

func runCase(t *testing.T, c ruleCase) {
	t.Helper()
	pkgs := parsePkgs(t, c.universe)
	for _, p := range pkgs {
		if o := p.Stanza.Get("X-Origin"); o != "" {
			p.Origin = o
		}
	}
	req := c.req
	req.Installed = installedFrom(t, c.installed)
	req.Install = jobs(t, c.install...)
	req.Remove = jobs(t, c.remove...)
	pl, err := solve(t, pkgs, req)
	if len(c.wantErr) > 0 {
		var ue *Unsatisfiable
		if !errors.As(err, &ue) {
			t.Fatalf("err = %v, want *Unsatisfiable (plan %v)", err, plNames(pl))
		}
		for _, w := range c.wantErr {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("explanation %q lacks %q", err, w)
			}
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	var all []*deb.Package
	all = append(all, pkgs...)
	if err := checkPlan(all, req, pl); err != nil {
		t.Fatalf("invalid plan %s: %v", names(pl.Final), err)
	}
	if got := names(pl.Final); got != c.want {
		t.Errorf("final = %q, want %q", got, c.want)
	}
}

func plNames(pl *Plan) string {
	if pl == nil {
		return "<nil>"
	}
	return names(pl.Final)
}

func TestRules(t *testing.T) {
	cases := []ruleCase{
		{
			name: "first alternative", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: b | c\n\nPackage: b\nVersion: 1\n\nPackage: c\nVersion: 1",
			want:     "a=1 b=1",
		},
		{
			name: "first installable alternative", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: b | c\n\nPackage: b\nVersion: 1\nDepends: missing\n\nPackage: c\nVersion: 1",
			want:     "a=1 c=1",
		},
		{
			name: "alternative already installed wins", install: []string{"a"},
			universe:  "Package: a\nVersion: 1\nDepends: b | c\n\nPackage: b\nVersion: 1\n\nPackage: c\nVersion: 1",
			installed: "Package: c\nVersion: 1",
			want:      "a=1 c=1",
		},
		{
			name: "real package before a virtual one's providers", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: v\n\nPackage: p\nVersion: 1\nProvides: v\n\nPackage: v\nVersion: 1",
			want:     "a=1 v=1",
		},
		{
			name: "virtual: higher priority provider first", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: v\n\nPackage: p1\nVersion: 1\nPriority: optional\nProvides: v\n\nPackage: p2\nVersion: 1\nPriority: standard\nProvides: v",
			want:     "a=1 p2=1",
		},
		{
			name: "virtual: equal priority, later name first (apt's id order)", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: v\n\nPackage: p1\nVersion: 1\nProvides: v\n\nPackage: p2\nVersion: 1\nProvides: v",
			want:     "a=1 p2=1",
		},
		{
			name: "unversioned Provides never satisfies a versioned dependency", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: v (>= 2)\n\nPackage: p1\nVersion: 1\nProvides: v\n\nPackage: p2\nVersion: 1\nProvides: v (= 2.0)",
			want:     "a=1 p2=1",
		},
		{
			name: "versioned Provides too old", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: v (>= 3)\n\nPackage: p1\nVersion: 1\nProvides: v\n\nPackage: p2\nVersion: 1\nProvides: v (= 2.0)",
			wantErr:  []string{"a 1 depends on v (>= 3)", "virtual package"},
		},
		{
			name: "dependency too old: explanation names the available version", install: []string{"hello"},
			universe: "Package: hello\nVersion: 2.10-3\nDepends: libc6 (>= 2.34)\n\nPackage: libc6\nVersion: 2.31-13",
			wantErr:  []string{"you asked to install hello", "hello 2.10-3 depends on libc6 (>= 2.34), but the only libc6 available is 2.31-13"},
		},
		{
			name: "missing dependency", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: nothere",
			wantErr:  []string{"a 1 depends on nothere, but no package nothere is available"},
		},
		{
			name: "unknown package", install: []string{"zzz"},
			universe: "Package: a\nVersion: 1",
			wantErr:  []string{"no package zzz is available"},
		},
		{
			name: "conflicts", install: []string{"a", "b"},
			universe: "Package: a\nVersion: 1\nConflicts: b\n\nPackage: b\nVersion: 1",
			wantErr:  []string{"a 1 conflicts with b"},
		},
		{
			name: "breaks", install: []string{"a", "b"},
			universe: "Package: a\nVersion: 1\nBreaks: b (<< 2)\n\nPackage: b\nVersion: 1",
			wantErr:  []string{"a 1 breaks b (<< 2)"},
		},
		{
			name: "breaks a version only: the newer one is taken", install: []string{"a", "b"},
			universe: "Package: a\nVersion: 1\nBreaks: b (<< 2)\n\nPackage: b\nVersion: 1\n\nPackage: b\nVersion: 2",
			want:     "a=1 b=2",
		},
		{
			name: "conflict on a virtual name spares the package itself", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nProvides: mta\nConflicts: mta\n\nPackage: b\nVersion: 1\nProvides: mta",
			want:     "a=1",
		},
		{
			name: "conflict on a virtual name hits other providers", install: []string{"a", "b"},
			universe: "Package: a\nVersion: 1\nProvides: mta\nConflicts: mta\n\nPackage: b\nVersion: 1\nProvides: mta",
			wantErr:  []string{"a 1 conflicts with mta", "b 1 (which provides mta)"},
		},
		{
			name: "one version of a name", install: []string{"b=1", "a"},
			universe: "Package: a\nVersion: 1\nDepends: b (>= 2)\n\nPackage: b\nVersion: 1\n\nPackage: b\nVersion: 2",
			wantErr:  []string{"you asked to install b=1", "cannot both be installed"},
		},
		{
			name: "newest version by default", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: b\n\nPackage: b\nVersion: 1\n\nPackage: b\nVersion: 2",
			want:     "a=1 b=2",
		},
		{
			name: "older version when the newest cannot do", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: b (<< 2)\n\nPackage: b\nVersion: 1\n\nPackage: b\nVersion: 2",
			want:     "a=1 b=1",
		},
		{
			name: "name=version", install: []string{"b=1"},
			universe: "Package: b\nVersion: 1\n\nPackage: b\nVersion: 2",
			want:     "b=1",
		},
		{
			name: "name=version not available", install: []string{"b=3"},
			universe: "Package: b\nVersion: 1\n\nPackage: b\nVersion: 2",
			wantErr:  []string{"b has no version 3", "available"},
		},
		{
			name: "Pre-Depends", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nPre-Depends: b\n\nPackage: b\nVersion: 1",
			want:     "a=1 b=1",
		},
		{
			name: "Pre-Depends unsatisfiable", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nPre-Depends: b (>= 2)\n\nPackage: b\nVersion: 1",
			wantErr:  []string{"a 1 pre-depends on b (>= 2), but the only b available is 1"},
		},
		{
			name: "Recommends on", install: []string{"a"}, req: Request{Recommends: true},
			universe: "Package: a\nVersion: 1\nRecommends: r\nSuggests: s\n\nPackage: r\nVersion: 1\n\nPackage: s\nVersion: 1",
			want:     "a=1 r=1",
		},
		{
			name: "Recommends off, Suggests ignored", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nRecommends: r\nSuggests: s\n\nPackage: r\nVersion: 1\n\nPackage: s\nVersion: 1",
			want:     "a=1",
		},
		{
			name: "Recommends that cannot be met are dropped", install: []string{"a"}, req: Request{Recommends: true},
			universe: "Package: a\nVersion: 1\nRecommends: r, q\n\nPackage: r\nVersion: 1\nConflicts: a\n\nPackage: q\nVersion: 1\nDepends: missing",
			want:     "a=1",
		},
		{
			name: "keep installed packages", install: []string{"a"},
			universe:  "Package: a\nVersion: 1\n\nPackage: x\nVersion: 2",
			installed: "Package: x\nVersion: 1",
			want:      "a=1 x=1",
		},
		{
			name: "install of an installed name upgrades it", install: []string{"x"},
			universe:  "Package: x\nVersion: 2",
			installed: "Package: x\nVersion: 1",
			want:      "x=2",
		},
		{
			name: "request removes a conflicting installed package", install: []string{"a"},
			universe:  "Package: a\nVersion: 1\nConflicts: x\n\nPackage: x\nVersion: 1",
			installed: "Package: x\nVersion: 1",
			want:      "a=1",
		},
		{
			name: "remove", remove: []string{"x"},
			universe:  "Package: x\nVersion: 1",
			installed: "Package: x\nVersion: 1\n\nPackage: y\nVersion: 1",
			want:      "y=1",
		},
		{
			name: "remove takes the packages that depend on it", remove: []string{"b"},
			universe:  "Package: a\nVersion: 1\nDepends: b\n\nPackage: b\nVersion: 1",
			installed: "Package: a\nVersion: 1\nDepends: b\n\nPackage: b\nVersion: 1\n\nPackage: y\nVersion: 1",
			want:      "y=1",
		},
		{
			name: "remove without autoremove keeps auto packages", remove: []string{"a"},
			universe:  "Package: a\nVersion: 1\nDepends: b\n\nPackage: b\nVersion: 1",
			installed: "Package: a\nVersion: 1\nDepends: b\n\nPackage: b\nVersion: 1\nAuto: yes",
			want:      "b=1",
		},
		{
			name: "autoremove drops auto packages nothing needs", remove: []string{"a"}, req: Request{Autoremove: true},
			universe:  "Package: a\nVersion: 1\nDepends: b\n\nPackage: b\nVersion: 1\n\nPackage: c\nVersion: 1\nDepends: d\n\nPackage: d\nVersion: 1",
			installed: "Package: a\nVersion: 1\nDepends: b\n\nPackage: b\nVersion: 1\nAuto: yes\n\nPackage: c\nVersion: 1\nDepends: d\n\nPackage: d\nVersion: 1\nAuto: yes",
			want:      "c=1 d=1",
		},
		{
			name: "autoremove alone", req: Request{Autoremove: true},
			universe:  "Package: a\nVersion: 1\nDepends: b\n\nPackage: b\nVersion: 1\n\nPackage: old\nVersion: 1",
			installed: "Package: a\nVersion: 1\nDepends: b\n\nPackage: b\nVersion: 1\nAuto: yes\n\nPackage: old\nVersion: 1\nAuto: yes",
			want:      "a=1 b=1",
		},
		{
			name: "an installed package whose dependency vanished is removed", install: []string{"x"},
			universe:  "Package: x\nVersion: 1",
			installed: "Package: a\nVersion: 1\nDepends: gone\n\nPackage: y\nVersion: 1",
			want:      "x=1 y=1",
		},
		{
			name: "Essential cannot be removed", remove: []string{"e"},
			universe:  "Package: e\nVersion: 1\nEssential: yes",
			installed: "Package: e\nVersion: 1\nEssential: yes",
			wantErr:   []string{"you asked to remove e 1", "e is Essential and cannot be removed"},
		},
		{
			name: "Essential removed when allowed", remove: []string{"e"}, req: Request{AllowRemoveEssential: true},
			universe:  "Package: e\nVersion: 1\nEssential: yes",
			installed: "Package: e\nVersion: 1\nEssential: yes\n\nPackage: y\nVersion: 1",
			want:      "y=1",
		},
		{
			name: "Essential blocks a conflicting install", install: []string{"a"},
			universe:  "Package: a\nVersion: 1\nConflicts: e\n\nPackage: e\nVersion: 1\nEssential: yes",
			installed: "Package: e\nVersion: 1\nEssential: yes",
			wantErr:   []string{"e is Essential", "a 1 conflicts with e"},
		},
		{
			name: "upgrade all", req: Request{UpgradeAll: true},
			universe:  "Package: a\nVersion: 2\nDepends: c\n\nPackage: b\nVersion: 1\n\nPackage: c\nVersion: 1",
			installed: "Package: a\nVersion: 1\n\nPackage: b\nVersion: 1",
			want:      "a=2 b=1 c=1",
		},
		{
			name: "upgrade does not remove: the upgrade that needs a removal is held back", req: Request{UpgradeAll: true},
			universe:  "Package: a\nVersion: 2\nConflicts: d\n\nPackage: d\nVersion: 1",
			installed: "Package: a\nVersion: 1\n\nPackage: d\nVersion: 1",
			want:      "a=1 d=1",
		},
		{
			name: "full upgrade may remove", req: Request{FullUpgrade: true},
			universe:  "Package: a\nVersion: 2\nConflicts: d\n\nPackage: d\nVersion: 1",
			installed: "Package: a\nVersion: 1\n\nPackage: d\nVersion: 1",
			want:      "a=2",
		},
		{
			name: "upgrade named", req: Request{Upgrade: []string{"a"}},
			universe:  "Package: a\nVersion: 2\n\nPackage: b\nVersion: 2",
			installed: "Package: a\nVersion: 1\n\nPackage: b\nVersion: 1",
			want:      "a=2 b=1",
		},
		{
			name: "name/origin", install: []string{"b/bookworm-security"},
			universe: "Package: b\nVersion: 1\nX-Origin: file:/srv/debian-security/bookworm-security\n\nPackage: b\nVersion: 2",
			want:     "b=1",
		},
		{
			name: "virtual install with one provider", install: []string{"v"},
			universe: "Package: p\nVersion: 1\nProvides: v",
			want:     "p=1",
		},
		{
			name: "multi-arch foreign satisfies a dependency from another architecture", install: []string{"a"},
			req:      Request{ForeignArchs: []string{"i386"}},
			universe: "Package: a\nVersion: 1\nDepends: b\n\nPackage: b\nVersion: 1\nArchitecture: i386\nMulti-Arch: foreign",
			want:     "a=1 b:i386=1",
		},
		{
			name: "multi-arch no: another architecture does not satisfy", install: []string{"a"},
			req:      Request{ForeignArchs: []string{"i386"}},
			universe: "Package: a\nVersion: 1\nDepends: b\n\nPackage: b\nVersion: 1\nArchitecture: i386",
			wantErr:  []string{"a 1 depends on b"},
		},
		{
			name: ":any needs Multi-Arch: allowed", install: []string{"a"},
			req:      Request{ForeignArchs: []string{"i386"}},
			universe: "Package: a\nVersion: 1\nDepends: perl:any\n\nPackage: perl\nVersion: 1\nArchitecture: i386\nMulti-Arch: allowed",
			want:     "a=1 perl:i386=1",
		},
		{
			name: ":native", install: []string{"a:i386"},
			req:      Request{ForeignArchs: []string{"i386"}},
			universe: "Package: a\nVersion: 1\nArchitecture: i386\nDepends: b:native\n\nPackage: b\nVersion: 1\n\nPackage: b\nVersion: 1\nArchitecture: i386",
			want:     "a:i386=1 b=1",
		},
		{
			name: "multi-arch same: both architectures together", install: []string{"lib:amd64", "lib:i386"},
			req:      Request{ForeignArchs: []string{"i386"}},
			universe: "Package: lib\nVersion: 1\nMulti-Arch: same\n\nPackage: lib\nVersion: 1\nArchitecture: i386\nMulti-Arch: same",
			want:     "lib:i386=1 lib=1",
		},
		{
			name: "multi-arch same: versions in step", install: []string{"lib:amd64=2", "lib:i386=1"},
			req:      Request{ForeignArchs: []string{"i386"}},
			universe: "Package: lib\nVersion: 2\nMulti-Arch: same\n\nPackage: lib\nVersion: 1\nArchitecture: i386\nMulti-Arch: same",
			wantErr:  []string{"cannot both be installed"},
		},
		{
			name: "not multi-arch same: one architecture at a time", install: []string{"tool:amd64", "tool:i386"},
			req:      Request{ForeignArchs: []string{"i386"}},
			universe: "Package: tool\nVersion: 1\n\nPackage: tool\nVersion: 1\nArchitecture: i386",
			wantErr:  []string{"cannot both be installed"},
		},
		{
			name: "Breaks on an old version upgrades the installed package", install: []string{"a"},
			universe:  "Package: a\nVersion: 1\nBreaks: b (<< 2)\n\nPackage: b\nVersion: 2",
			installed: "Package: b\nVersion: 1",
			want:      "a=1 b=2",
		},
		{
			name: "Conflicts on an old version upgrades the installed package", install: []string{"a"},
			universe:  "Package: a\nVersion: 1\nConflicts: b (<< 2)\n\nPackage: b\nVersion: 2\nDepends: c\n\nPackage: c\nVersion: 1",
			installed: "Package: b\nVersion: 1",
			want:      "a=1 b=2 c=1",
		},
		{
			name: "an installed package with no acceptable version still leaves", install: []string{"a"},
			universe:  "Package: a\nVersion: 1\nBreaks: b (<< 3)\n\nPackage: b\nVersion: 2",
			installed: "Package: b\nVersion: 1",
			want:      "a=1",
		},
		{
			name: ":any is not satisfied by a package that is not Multi-Arch: allowed", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: perl:any\n\nPackage: perl\nVersion: 1",
			wantErr:  []string{"a 1 depends on perl:any"},
		},
		{
			name: ":any is satisfied by Multi-Arch: foreign", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: perl:any\n\nPackage: perl\nVersion: 1\nMulti-Arch: foreign",
			want:     "a=1 perl=1",
		},
		{
			name: ":any with an alternative takes the allowed one", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: perl:any | python3:any\n\nPackage: perl\nVersion: 1\n\nPackage: python3\nVersion: 1\nMulti-Arch: allowed",
			want:     "a=1 python3=1",
		},
		{
			name: "forbid new install holds back an upgrade that needs a new package", req: Request{UpgradeAll: true, ForbidNewInstall: true},
			universe:  "Package: a\nVersion: 2\nDepends: c\n\nPackage: c\nVersion: 1\n\nPackage: b\nVersion: 2",
			installed: "Package: a\nVersion: 1\n\nPackage: b\nVersion: 1",
			want:      "a=1 b=2",
		},
		{
			name: "forbid new install refuses a new name", install: []string{"c"}, req: Request{ForbidNewInstall: true},
			universe:  "Package: c\nVersion: 1",
			installed: "Package: a\nVersion: 1",
			wantErr:   []string{"c"},
		},
		{
			name: "full upgrade installs missing Essential packages", req: Request{FullUpgrade: true},
			universe:  "Package: a\nVersion: 2\n\nPackage: e\nVersion: 1\nEssential: yes\nDepends: f\n\nPackage: f\nVersion: 1",
			installed: "Package: a\nVersion: 1",
			want:      "a=2 e=1 f=1",
		},
		{
			name: "plain upgrade does not install missing Essential packages", req: Request{UpgradeAll: true},
			universe:  "Package: a\nVersion: 2\n\nPackage: e\nVersion: 1\nEssential: yes",
			installed: "Package: a\nVersion: 1",
			want:      "a=2",
		},
		{
			// GREY_PROPERTY_RUNS=3000 seed 1344 (resolver/edsp), reduced.
			name: "an Essential package is not crossgraded", install: []string{"a"},
			req:       Request{ForeignArchs: []string{"i386"}},
			universe:  "Package: a\nVersion: 1\nDepends: e (>= 2)\n\nPackage: e\nVersion: 2\nArchitecture: i386\nMulti-Arch: foreign",
			installed: "Package: e\nVersion: 1\nEssential: yes\nMulti-Arch: foreign",
			wantErr:   []string{"e is Essential"},
		},
		{
			// GREY_PROPERTY_RUNS=3000 seed 2113 (resolver/edsp), reduced:
			// the broken Essential package cannot be replaced by its
			// foreign version, so the request is unsatisfiable.
			name: "a broken Essential package is not kept through another architecture", install: []string{"a"},
			req:       Request{ForeignArchs: []string{"i386"}},
			universe:  "Package: a\nVersion: 1\n\nPackage: e\nVersion: 1\nArchitecture: i386\nMulti-Arch: foreign\n\nPackage: d\nVersion: 1\nDepends: x (>= 2)",
			installed: "Package: e\nVersion: 2\nEssential: yes\nDepends: d",
			wantErr:   []string{"e is Essential"},
		},
		{
			name: "unconfigured architectures are ignored", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: b\n\nPackage: b\nVersion: 1\nArchitecture: arm64\nMulti-Arch: foreign",
			wantErr:  []string{"no package b is available"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runCase(t, c) })
	}
}

// TestArchRestrictions: an alternative whose architecture restriction
// list ("[amd64]", "[!i386]") leaves out the package's architecture is not
// there, a relation left without one does not apply, and the plan holds
// the index's packages, restriction lists and all. Each case runs against
// both indexes (solve).
func TestArchRestrictions(t *testing.T) {
	cases := []ruleCase{
		{
			name: "dependency for another architecture", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: b [i386]\n\nPackage: b\nVersion: 1",
			want:     "a=1",
		},
		{
			name: "dependency for this architecture", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: b [amd64 arm64]\n\nPackage: b\nVersion: 1",
			want:     "a=1 b=1",
		},
		{
			name: "negated list naming this architecture", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: gone [!amd64]",
			want:     "a=1",
		},
		{
			name: "negated list naming another architecture", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: gone [!i386]",
			wantErr:  []string{"gone"},
		},
		{
			name: "alternative left out", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: b [!amd64] | c\n\nPackage: b\nVersion: 1\n\nPackage: c\nVersion: 1",
			want:     "a=1 c=1",
		},
		{
			name: "linux-any wildcard matches the native architecture", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: b [linux-any], c [hurd-any]\n\nPackage: b\nVersion: 1\n\nPackage: c\nVersion: 1",
			want:     "a=1 b=1",
		},
		{
			name: "any-amd64 and negated any-i386 wildcards", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: b [any-amd64], c [!any-i386], d [any-i386]\n\n" +
				"Package: b\nVersion: 1\n\nPackage: c\nVersion: 1\n\nPackage: d\nVersion: 1",
			want: "a=1 b=1 c=1",
		},
		{
			name: "foreign i386 package reads any-i386", install: []string{"a:i386"}, req: Request{ForeignArchs: []string{"i386"}},
			universe: "Package: a\nVersion: 1\nArchitecture: i386\nDepends: b [!any-i386], c [any-i386]\n\n" +
				"Package: b\nVersion: 1\nArchitecture: i386\n\nPackage: c\nVersion: 1\nArchitecture: i386",
			want: "a:i386=1 c:i386=1",
		},
		{
			name: "unknown wildcard matches nothing", install: []string{"a"},
			universe: "Package: a\nVersion: 1\nDepends: gone [foo-any], b [!foo-any]\n\nPackage: b\nVersion: 1",
			want:     "a=1 b=1",
		},
		{
			name: "conflict for another architecture", install: []string{"a", "c"},
			universe: "Package: a\nVersion: 1\nConflicts: c [i386]\n\nPackage: c\nVersion: 1",
			want:     "a=1 c=1",
		},
		{
			name: "conflict for this architecture", install: []string{"a", "c"},
			universe: "Package: a\nVersion: 1\nBreaks: c [amd64]\n\nPackage: c\nVersion: 1",
			wantErr:  []string{"c"},
		},
		{
			name: "recommends for another architecture", install: []string{"a"}, req: Request{Recommends: true},
			universe: "Package: a\nVersion: 1\nRecommends: r [i386]\n\nPackage: r\nVersion: 1",
			want:     "a=1",
		},
		{
			name: "architecture all reads the native architecture", install: []string{"a"}, req: Request{Architecture: "arm64"},
			universe: "Package: a\nVersion: 1\nArchitecture: all\nDepends: b [amd64], c [arm64]\n\n" +
				"Package: b\nVersion: 1\nArchitecture: arm64\n\nPackage: c\nVersion: 1\nArchitecture: arm64",
			want: "a=1 c:arm64=1",
		},
		{
			name: "foreign package reads its own architecture", install: []string{"a:i386"}, req: Request{ForeignArchs: []string{"i386"}},
			universe: "Package: a\nVersion: 1\nArchitecture: i386\nDepends: b [amd64], c [i386]\n\n" +
				"Package: b\nVersion: 1\nArchitecture: i386\n\nPackage: c\nVersion: 1\nArchitecture: i386",
			want: "a:i386=1 c:i386=1",
		},
		{
			name: "installed package kept without its restricted dependency", install: []string{"n"},
			universe:  "Package: a\nVersion: 1\nDepends: gone [i386]\n\nPackage: n\nVersion: 1",
			installed: "Package: a\nVersion: 1\nDepends: gone [i386]",
			want:      "a=1 n=1",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runCase(t, c) })
	}
	// The plan's package is the index's, its field as written.
	pkgs := parsePkgs(t, "Package: a\nVersion: 1\nDepends: b [i386], c\n\nPackage: c\nVersion: 1")
	pl, err := solve(t, pkgs, Request{Install: jobs(t, "a")})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pl.Final {
		if p.Name == "a" && p != pkgs[0] {
			t.Errorf("the plan holds a copy of a (Depends %q), not the index's package", p.Depends)
		}
	}
}
