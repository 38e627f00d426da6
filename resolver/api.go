package resolver

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/resolver/internal/pool"
)

// Index is what the resolver needs from a package index: candidates,
// decoded lazily by the implementation, with Origin set. The order of the
// answers must be stable (the same index, the same order), since the plan
// depends on it only through ties. A candidate returned twice (by
// Packages and by Providers, or as a fresh copy) counts once: candidates
// are identified by name, version and architecture. The resolver never
// modifies the packages, and calls an Index from one goroutine.
type Index interface {
	// Packages returns every candidate whose Package field is name: all
	// versions and architectures.
	Packages(name string) []*deb.Package
	// Providers returns every candidate that lists name in Provides.
	Providers(name string) []*deb.Package
}

// EssentialIndex is an Index that can also list every name some of whose
// candidates are Essential. A FullUpgrade against such an index installs
// the Essential packages that are missing from the root, as apt's
// dist-upgrade does; against a plain Index it cannot know them.
type EssentialIndex interface {
	Index
	// EssentialNames returns the names, in a stable order, of which some
	// candidate is marked Essential: yes.
	EssentialNames() []string
}

// memIndex is the in-memory Index. Its names are numbered by the pool
// (resolver/internal/pool) that distcheck checks too: every package and
// provided name, and every name a relation mentions, once.
type memIndex struct {
	pool      *pool.Pool
	essential []string
	// list holds both lists of each name, by the pool's number: the
	// resolver asks for one right after the other, so one lookup (and
	// one cache miss) serves both. The entries are values, not pointers:
	// byID, once per name a solve loads, reads one record instead of
	// chasing a pointer to it.
	list []memEntry
}

type memEntry struct {
	pkgs, providers []*deb.Package
	// pkgN and provN are the numbered names of pkgs and providers.
	pkgN, provN []*pkgNames
}

// NewMemIndex returns an Index over pkgs, held in memory: for tests, EDSP
// scenarios and small universes. The slices it returns keep the order of pkgs.
// It numbers every name once, here, so that a solve never hashes one.
func NewMemIndex(pkgs []*deb.Package) Index {
	pl := pool.New()
	pl.Reserve(len(pkgs))
	for _, p := range pkgs {
		pl.Add(p)
	}
	pl.Freeze()
	m := &memIndex{pool: pl, list: make([]memEntry, pl.NumNames())}
	for i, p := range pkgs {
		if p.Essential && !containsString(m.essential, p.Name) {
			m.essential = append(m.essential, p.Name)
		}
		info := numbered(pl, int32(i))
		for _, d := range [6]relation.Dependency{p.PreDepends, p.Depends, p.Recommends, p.Suggests, p.Conflicts, p.Breaks} {
			for _, rel := range d {
				for _, pos := range rel {
					info.archs = info.archs || len(pos.Archs) > 0
				}
			}
		}
		e := &m.list[info.name]
		e.pkgs = append(e.pkgs, p)
		e.pkgN = append(e.pkgN, info)
		for _, g := range info.provs {
			pe := &m.list[g]
			pe.providers = append(pe.providers, p)
			pe.provN = append(pe.provN, info)
		}
	}
	return m
}

// numbered returns the numbered names of package i of pl.
func numbered(pl *pool.Pool, i int32) *pkgNames {
	info := &pkgNames{name: pl.Pkg(i).Name}
	for _, r := range pl.Field(i, pool.Provides) {
		for _, x := range pl.Rel(r) {
			// A package that provides the same name twice (with two
			// versions) is still one provider.
			if !slices.Contains(info.provs, x.Name) {
				info.provs = append(info.provs, x.Name)
			}
		}
	}
	for _, f := range [3]pool.Field{pool.PreDepends, pool.Depends, pool.Recommends} {
		for _, r := range pl.Field(i, f) {
			info.relOff = append(info.relOff, int32(len(info.rels)))
			for _, x := range pl.Rel(r) {
				info.rels = append(info.rels, x.Name)
				info.plain = append(info.plain, x.Op == relation.NoOp && x.ArchQual == "")
			}
		}
	}
	for _, f := range [2]pool.Field{pool.Conflicts, pool.Breaks} {
		for _, r := range pl.Field(i, f) {
			for _, x := range pl.Rel(r) {
				info.negs = append(info.negs, x.Name)
			}
		}
	}
	return info
}

func (m *memIndex) nameID(name string) (int32, bool) { return m.pool.Lookup(name) }

func (m *memIndex) numNames() int { return len(m.list) }

func (m *memIndex) byID(id int32) (pkgs []*deb.Package, pkgN []*pkgNames, provs []*deb.Package, provN []*pkgNames) {
	e := &m.list[id]
	return e.pkgs, e.pkgN, e.providers, e.provN
}

func (m *memIndex) Packages(name string) []*deb.Package {
	if id, ok := m.pool.Lookup(name); ok {
		return m.list[id].pkgs
	}
	return nil
}

func (m *memIndex) Providers(name string) []*deb.Package {
	if id, ok := m.pool.Lookup(name); ok {
		return m.list[id].providers
	}
	return nil
}
func (m *memIndex) EssentialNames() []string { return m.essential }

// both answers Packages and Providers of name with one lookup.
func (m *memIndex) both(name string) (pkgs, providers []*deb.Package) {
	if id, ok := m.pool.Lookup(name); ok {
		e := &m.list[id]
		return e.pkgs, e.providers
	}
	return nil, nil
}

func containsString(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// Job names the packages a request is about: "name", "name=version",
// "name/origin" or "name:arch" (the qualifiers combine: "name:arch=version").
type Job struct {
	Name string
	// Version, when set, selects exactly this version.
	Version string
	// Origin, when set, selects candidates whose Origin is this string or
	// ends with "/"+Origin (so "bookworm-security" selects a source
	// identified as ".../debian-security/bookworm-security").
	Origin string
	// Arch, when set, selects this architecture.
	Arch string
}

// ParseJob parses "name", "name=version", "name/origin" and "name:arch".
func ParseJob(s string) (Job, error) {
	var j Job
	rest := s
	if i := strings.IndexByte(rest, '='); i >= 0 {
		j.Version = rest[i+1:]
		rest = rest[:i]
		if _, err := version.Parse(j.Version); err != nil {
			return Job{}, fmt.Errorf("package %q: %w", s, err)
		}
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		j.Origin = rest[i+1:]
		rest = rest[:i]
		if j.Origin == "" {
			return Job{}, fmt.Errorf("package %q: empty origin after '/'", s)
		}
	}
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		j.Arch = rest[i+1:]
		rest = rest[:i]
		if j.Arch == "" {
			return Job{}, fmt.Errorf("package %q: empty architecture after ':'", s)
		}
	}
	if rest == "" {
		return Job{}, fmt.Errorf("package %q: empty name", s)
	}
	j.Name = rest
	return j, nil
}

// String prints the job in the syntax ParseJob reads.
func (j Job) String() string {
	s := j.Name
	if j.Arch != "" {
		s += ":" + j.Arch
	}
	if j.Origin != "" {
		s += "/" + j.Origin
	}
	if j.Version != "" {
		s += "=" + j.Version
	}
	return s
}

// Matches reports whether candidate p is selected by the job, the origin
// compared with p's Origin (MatchesIn compares it with p's releases).
func (j Job) Matches(p *deb.Package) bool { return j.MatchesIn(p, nil) }

// MatchesIn reports whether candidate p is selected by the job. With a
// policy, "name/release" selects the candidates available from a release
// whose suite or codename is release, as apt's does; without one, the
// candidates whose Origin is release or ends with "/"+release.
func (j Job) MatchesIn(p *deb.Package, pol Policy) bool {
	if p.Name != j.Name {
		return false
	}
	if j.Version != "" {
		v, err := version.Parse(j.Version)
		if err != nil || version.Compare(v, p.Version) != 0 {
			return false
		}
	}
	if j.Arch != "" && p.Architecture != j.Arch {
		return false
	}
	if j.Origin == "" {
		return true
	}
	if pol != nil {
		return pol.InRelease(p, j.Origin)
	}
	return p.Origin == j.Origin || strings.HasSuffix(p.Origin, "/"+j.Origin)
}

// Policy is apt's policy over the index's candidates: pin priorities
// (apt_preferences(5)) and the releases candidates come from. The resolver
// calls it from one goroutine.
type Policy interface {
	// Candidate returns the index in vs of apt's candidate, -1 for none:
	// vs are the candidates of one name and architecture, newest first,
	// and installed the index of the installed one (-1 when none).
	Candidate(vs []*deb.Package, installed int) int
	// Priority returns p's pin priority; installed says p is the
	// installed version of its name and architecture.
	Priority(p *deb.Package, installed bool) int
	// InRelease reports whether p is available from a release whose
	// suite or codename is release ("name/release"), or, for "now", is
	// the installed version.
	InRelease(p *deb.Package, release string) bool
	// Where names the releases p is available from, for messages
	// ("bookworm-security/main"), or "" when it knows none.
	Where(p *deb.Package) string
}

// Installed is one package of the root's current state.
type Installed struct {
	*deb.Package
	// Auto is true when the package was installed only to satisfy another
	// one; autoremove may remove it once nothing needs it.
	Auto bool
}

// Request is what the user asks for, with the root's current state.
type Request struct {
	// Install lists packages to install (or upgrade to the selected
	// candidate when already installed).
	Install []Job
	// Remove lists packages to remove.
	Remove []Job
	// Upgrade names installed packages to bring to their newest version.
	Upgrade []string
	// UpgradeAll upgrades every installed package without removing any.
	UpgradeAll bool
	// FullUpgrade upgrades every installed package and may remove some.
	FullUpgrade bool
	// Autoremove also removes automatically installed packages that
	// nothing in the result needs any more.
	Autoremove bool
	// Installed is the root's current state.
	Installed []Installed
	// Recommends installs Recommends as soft goals (the CLI's default).
	Recommends bool
	// Architecture is the native architecture ("amd64" when empty).
	Architecture string
	// ForeignArchs are the other architectures candidates may have.
	ForeignArchs []string
	// AllowRemoveEssential lets the plan remove Essential packages.
	AllowRemoveEssential bool
	// Rank, when set, breaks the last tie between otherwise equal
	// solutions of a dependency as apt's cache order does: the higher
	// rank first (EDSP gives it as the APT-ID: the package the archive
	// lists later). Without ranks the later name comes first.
	Rank map[*deb.Package]int
	// Policy, when set, is apt's policy (repo/policy): each name and
	// architecture's candidate is the one its pins select rather than the
	// newest, a version of negative priority is never installed unless a
	// job names it by version or release, and "name/release" jobs match
	// suites and codenames.
	Policy Policy
	// ForbidNewInstall keeps the plan within the installed names: no
	// name and architecture that is not installed may be installed
	// (apt-get upgrade, EDSP's Forbid-New-Install). An installed name may
	// still change version; an upgrade that needs a new package is held
	// back.
	ForbidNewInstall bool
	// SameBuild, when set, decides whether an installed package and a
	// candidate of the same name, version and architecture are one build
	// (nil: deb.SameBuild, apt's comparison of their
	// control data). A candidate that is not is another version of the
	// name, preferred to the installed one as apt's candidate: an upgrade
	// or an Install job of the name takes it, and the plan lists it in
	// Upgrade (apt's "upgraded"). EDSP sets it from the APT-IDs, since apt
	// gives a rebuilt version its own stanza.
	SameBuild func(installed, candidate *deb.Package) bool
}

// Change is one package moving from one version to another.
type Change struct {
	From, To *deb.Package
}

// Reason says why a package is in a plan's final set.
type Reason struct {
	// Requested is set when the request names the package.
	Requested bool
	// Installed is set when the package was installed before and is kept
	// for that reason (not because something else needs it).
	Installed bool
	// By is the package whose relation pulls this one in (nil when
	// Requested or Installed).
	By *deb.Package
	// Field is By's field: "Pre-Depends", "Depends" or "Recommends"
	// ("Suggests" too for an installed package autoremove keeps).
	Field string
	// Relation is the relation of By this package satisfies.
	Relation relation.Relation
	// Essential is set when a full upgrade installs the package because
	// it is Essential and was missing (apt's dist-upgrade does the same).
	Essential bool
	// Auto is the package's automatic-installation flag after the plan:
	// false for requested packages and for kept manual ones.
	Auto bool
}

// Plan is the resolver's answer: the final set and how to get there.
// Every slice is sorted by name, then architecture, then version.
type Plan struct {
	// Install holds packages new to the root.
	Install []*deb.Package
	// Upgrade and Downgrade hold installed packages that change version.
	// Upgrade also holds an installed package replaced by a candidate of
	// the same version that is another build (Request.SameBuild): apt
	// counts that as an upgrade too.
	Upgrade, Downgrade []Change
	// Remove holds installed packages that leave the root.
	Remove []*deb.Package
	// Keep holds installed packages that stay as they are.
	Keep []*deb.Package
	// Final is the whole resulting set.
	Final []*deb.Package
	// Reasons maps Key(p) of every package of Final to why it is there.
	Reasons map[string]Reason
}

// Key identifies a package in a root: "name:arch".
func Key(p *deb.Package) string { return p.Name + ":" + p.Architecture }

// Reason returns why p is in the final set, and whether it is.
func (pl *Plan) Reason(p *deb.Package) (Reason, bool) {
	r, ok := pl.Reasons[Key(p)]
	return r, ok
}

// Unsatisfiable is the error Solve returns when no set of packages meets
// the request. Its message explains why in words.
type Unsatisfiable struct {
	// Explanation holds the rules behind the conflict, one sentence each,
	// starting from the request.
	Explanation []string
}

func (e *Unsatisfiable) Error() string {
	return "cannot satisfy the request: " + strings.Join(e.Explanation, "; ")
}

// sortPackages orders packages by name, architecture, then version.
func sortPackages(ps []*deb.Package) {
	sort.Slice(ps, func(i, j int) bool { return lessPackage(ps[i], ps[j]) })
}

func lessPackage(a, b *deb.Package) bool {
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	if a.Architecture != b.Architecture {
		return a.Architecture < b.Architecture
	}
	return version.Compare(a.Version, b.Version) < 0
}
