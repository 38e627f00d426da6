package resolver

import (
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/repo/policy"
)

// originPolicy is repo/policy's Policy over test universes: a package's
// file is its Origin's (the releases are named after the origins), the
// installed version has dpkg's status file too.
type originPolicy struct {
	p *policy.Policy
	// all are the index's packages: an installed record's files are
	// those of the index's records of its version.
	all    []*deb.Package
	fileOf map[string]int
	status int
}

func newOriginPolicy(t *testing.T, all []*deb.Package, prefs string, releases ...policy.File) *originPolicy {
	t.Helper()
	pins, _, err := policy.Parse(strings.NewReader(prefs), "preferences")
	if err != nil {
		t.Fatal(err)
	}
	files := append(releases, policy.StatusFile())
	p, err := policy.New(files, pins, "amd64", "")
	if err != nil {
		t.Fatal(err)
	}
	op := &originPolicy{p: p, all: all, fileOf: map[string]int{}, status: len(files) - 1}
	for i, f := range releases {
		op.fileOf[f.Codename] = i
	}
	return op
}

func (o *originPolicy) of(p *deb.Package, installed bool) policy.Version {
	v := policy.Version{Name: p.Name, Architecture: p.Architecture, Version: p.Version.String(), Source: p.Source, Installed: installed}
	for _, q := range o.all {
		if q.Name == p.Name && q.Architecture == p.Architecture && q.Version.String() == v.Version {
			v.Files = append(v.Files, o.fileOf[q.Origin])
		}
	}
	if installed {
		v.Files = append(v.Files, o.status)
	}
	return v
}

func (o *originPolicy) Priority(p *deb.Package, installed bool) int {
	return o.p.Priority(o.of(p, installed))
}

func (o *originPolicy) Candidate(vs []*deb.Package, installed int) int {
	out := make([]policy.Version, len(vs))
	for i, p := range vs {
		out[i] = o.of(p, i == installed)
	}
	return o.p.Candidate(out)
}

func (o *originPolicy) Where(p *deb.Package) string { return p.Origin }

func (o *originPolicy) InRelease(p *deb.Package, rel string) bool {
	v := o.of(p, p.Origin == "installed")
	for _, f := range v.Files {
		if policy.InRelease(&o.p.Files()[f], rel) {
			return true
		}
	}
	return false
}

// TestPolicy checks that the resolver takes apt's candidate under pins:
// install, upgrade and dependencies follow the pinned candidate, a
// negative pin keeps a version out unless a job names it, and name/release
// matches suites and codenames.
func TestPolicy(t *testing.T) {
	rel := func(suite, codename string, notAuto bool) policy.File {
		return policy.File{Archive: suite, Codename: codename, Origin: "Debian", Component: "main", Architecture: "amd64", NotAutomatic: notAuto, ButAutomaticUpgrades: notAuto}
	}
	releases := []policy.File{rel("stable", "bookworm", false), rel("stable-security", "bookworm-security", false), rel("stable-backports", "bookworm-backports", true)}
	main := parseOrigin(t, "bookworm", `
Package: app
Version: 1
Depends: lib

Package: lib
Version: 1

Package: tool
Version: 1`)
	sec := parseOrigin(t, "bookworm-security", `
Package: lib
Version: 1+sec1`)
	bpo := parseOrigin(t, "bookworm-backports", `
Package: app
Version: 2
Depends: lib (>= 1)

Package: tool
Version: 3`)
	all := append(append(append([]*deb.Package(nil), main...), sec...), bpo...)
	installed := func(name, ver string) []Installed {
		for _, p := range all {
			if p.Name == name && p.Version.String() == ver {
				q := *p
				q.Origin = "installed"
				return []Installed{{Package: &q}}
			}
		}
		t.Fatalf("no %s %s", name, ver)
		return nil
	}
	tests := []struct {
		name, prefs string
		req         Request
		want        string
		err         string
	}{
		{"backports are not candidates", "", Request{Install: jobs(t, "app")}, "app=1 lib=1+sec1", ""},
		{"security pinned below stable", "Package: *\nPin: release n=bookworm-security\nPin-Priority: 400\n", Request{Install: jobs(t, "app")}, "app=1 lib=1", ""},
		{"name/codename", "", Request{Install: jobs(t, "app/bookworm-backports")}, "app=2 lib=1+sec1", ""},
		{"name/suite", "", Request{Install: jobs(t, "tool/stable-backports")}, "tool=3", ""},
		{"name/suite glob", "", Request{Install: jobs(t, "tool/*-backports")}, "tool=3", ""},
		{"name/release without that version", "", Request{Install: jobs(t, "lib/bookworm-backports")}, "", "lib"},
		{"backports upgraded once installed from there", "", Request{UpgradeAll: true, Installed: installed("tool", "1")}, "tool=1", ""},
		{"target pin brings backports", "Package: *\nPin: release a=stable-backports\nPin-Priority: 990\n", Request{Install: jobs(t, "tool")}, "tool=3", ""},
		{"never pin keeps a version out", "Package: *\nPin: release n=bookworm-security\nPin-Priority: never\n", Request{Install: jobs(t, "lib")}, "lib=1", ""},
		{"negative pin, job names the version", "Package: lib\nPin: release n=bookworm-security\nPin-Priority: -1\n", Request{Install: jobs(t, "lib=1+sec1")}, "lib=1+sec1", ""},
		{"negative pin on every version", "Package: tool\nPin: version *\nPin-Priority: -1\n", Request{Install: jobs(t, "tool")}, "", "tool"},
		{"upgrade follows a downgrade pin", "Package: lib\nPin: version 1\nPin-Priority: 1001\n", Request{UpgradeAll: true, Installed: installed("lib", "1+sec1")}, "lib=1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.Policy = newOriginPolicy(t, all, tt.prefs, releases...)
			pl, err := solve(t, all, req)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one naming %q (plan %s)", err, tt.err, planText(pl))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(pl.Final); got != tt.want {
				t.Errorf("final set %s, want %s", got, tt.want)
			}
		})
	}
}

// parseOrigin is parsePkgs with the packages' Origin set.
func parseOrigin(t *testing.T, origin, text string) []*deb.Package {
	t.Helper()
	ps := parsePkgs(t, text)
	for _, p := range ps {
		p.Origin = origin
	}
	return ps
}
