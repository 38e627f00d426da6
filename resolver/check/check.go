// Package check verifies a resolver's answer against Debian policy,
// independently of the solver that produced it.
//
// It is deliberately separate code: it does not import package resolver
// and shares none of its data structures, so a bug in the solver's
// encoding cannot hide itself by being repeated here. The rules come from
// Debian policy §7 (relationships between packages) and dpkg's reading of
// the Multi-Arch specification:
//
//   - every Depends and Pre-Depends relation of every package in the final
//     set is satisfied by some package of the final set (one alternative is
//     enough; a versioned relation is satisfied by a real package of a
//     matching version, or by a versioned Provides "name (= v)" whose
//     version matches; an unversioned one by any Provides);
//   - no package of the final set Conflicts with or Breaks another package
//     of it (a package never conflicts with itself, even through its own
//     Provides);
//   - at most one version of each name and architecture is installed, and
//     a name is installed for several architectures only when every one of
//     them is Multi-Arch: same and of the same version;
//   - the request is honoured: packages to install are present (at the
//     requested version if one was given), packages to remove are absent,
//     installed Essential packages are kept unless the request removes them.
//
// Architecture matching follows dpkg: an unqualified dependency is satisfied
// by a package of the depending package's architecture ("all" counting as
// the native one) or by any Multi-Arch: foreign package; "name:any" also
// accepts Multi-Arch: allowed packages of any architecture; "name:native"
// and "name:ARCH" name the architecture. Unqualified Conflicts and Breaks
// apply to every architecture.
package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
)

// Target names a package a request installs or removes.
type Target struct {
	// Name is the package name.
	Name string
	// Arch is the architecture; "" means the native one (or "all").
	Arch string
	// Version, when not empty, is the exact version that must be installed
	// (it is ignored for removals).
	Version string
}

// String prints the target as name[:arch][=version].
func (t Target) String() string {
	s := t.Name
	if t.Arch != "" {
		s += ":" + t.Arch
	}
	if t.Version != "" {
		s += "=" + t.Version
	}
	return s
}

// Request is what was asked of the solver.
type Request struct {
	// Architecture is the native architecture (dpkg --print-architecture).
	Architecture string
	// Install and Remove are the explicit jobs.
	Install []Target
	Remove  []Target
	// AllowRemoveEssential permits the answer to drop installed Essential
	// packages the request does not name.
	AllowRemoveEssential bool
	// ForbidRemove forbids removing any installed name+architecture (an
	// upgrade to another version is allowed).
	ForbidRemove bool
	// ForbidNewInstall forbids installing a name+architecture that was not
	// installed before.
	ForbidNewInstall bool
}

// Case is everything the checker needs.
type Case struct {
	// Universe holds every package the solver could choose from; the
	// final set may contain only these and the installed ones.
	Universe []*deb.Package
	// Installed is the state before the answer.
	Installed []*deb.Package
	Request   Request
	// Final is the set of packages installed after the answer.
	Final []*deb.Package
}

// Rule names the kind of violation.
type Rule string

// The rules an answer can break.
const (
	RuleUnknown       Rule = "unknown-package"
	RuleDepends       Rule = "depends"
	RulePreDepends    Rule = "pre-depends"
	RuleConflicts     Rule = "conflicts"
	RuleBreaks        Rule = "breaks"
	RuleOneVersion    Rule = "one-version"
	RuleMultiArch     Rule = "multi-arch"
	RuleInstall       Rule = "install"
	RuleRemove        Rule = "remove"
	RuleEssential     Rule = "essential"
	RuleForbidRemove  Rule = "forbid-remove"
	RuleForbidInstall Rule = "forbid-new-install"
)

// Violation is one broken rule.
type Violation struct {
	Rule Rule
	// Package is the package at fault (name_version_arch), or the target.
	Package string
	// Detail says what is wrong, in words.
	Detail string
}

// String prints "rule: package: detail".
func (v Violation) String() string {
	return fmt.Sprintf("%s: %s: %s", v.Rule, v.Package, v.Detail)
}

// Error lists every violation of an invalid answer.
type Error struct {
	Violations []Violation
}

// Error lists the first ten violations.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid answer: %d violation(s)", len(e.Violations))
	for i, v := range e.Violations {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", len(e.Violations)-10)
			break
		}
		b.WriteString("; ")
		b.WriteString(v.String())
	}
	return b.String()
}

// Has reports whether some violation is of rule r.
func (e *Error) Has(r Rule) bool {
	for _, v := range e.Violations {
		if v.Rule == r {
			return true
		}
	}
	return false
}

type key struct{ name, version, arch string }

func keyOf(p *deb.Package) key { return key{p.Name, p.Version.String(), p.Architecture} }

type nameArch struct{ name, arch string }

// checker holds the final set indexed for the relation checks.
type checker struct {
	native string
	// byName holds the final packages of each name; provides the final
	// packages that provide each name, with the Provides possibility.
	byName   map[string][]*deb.Package
	provides map[string][]provider
	out      []Violation
}

type provider struct {
	pkg *deb.Package
	as  relation.Possibility
}

// Check verifies an answer and returns nil or an *Error listing every
// violation.
func Check(c Case) error {
	ck := &checker{
		native:   c.Request.Architecture,
		byName:   make(map[string][]*deb.Package),
		provides: make(map[string][]provider),
	}
	known := make(map[key]bool, len(c.Universe)+len(c.Installed))
	for _, p := range c.Universe {
		known[keyOf(p)] = true
	}
	for _, p := range c.Installed {
		known[keyOf(p)] = true
	}
	seen := make(map[key]bool, len(c.Final))
	final := make([]*deb.Package, 0, len(c.Final))
	for _, p := range c.Final {
		k := keyOf(p)
		if seen[k] {
			continue // listing a package twice is not a second install
		}
		seen[k] = true
		final = append(final, p)
		if !known[k] {
			ck.add(RuleUnknown, p.String(), "is neither in the universe nor installed")
		}
		ck.byName[p.Name] = append(ck.byName[p.Name], p)
		for _, rel := range p.Provides {
			for _, pv := range rel {
				ck.provides[pv.Name] = append(ck.provides[pv.Name], provider{p, pv})
			}
		}
	}
	ck.versions()
	for _, p := range final {
		ck.depends(p, p.PreDepends, RulePreDepends, "Pre-Depends")
		ck.depends(p, p.Depends, RuleDepends, "Depends")
		ck.conflicts(p, p.Conflicts, RuleConflicts, "Conflicts")
		ck.conflicts(p, p.Breaks, RuleBreaks, "Breaks")
	}
	ck.request(c, final)
	if len(ck.out) == 0 {
		return nil
	}
	return &Error{Violations: ck.out}
}

func (ck *checker) add(r Rule, pkg, format string, args ...any) {
	ck.out = append(ck.out, Violation{Rule: r, Package: pkg, Detail: fmt.Sprintf(format, args...)})
}

// effArch is an architecture as dpkg compares it: "all" is the native one.
func (ck *checker) effArch(a string) string {
	if a == "all" || a == "" {
		return ck.native
	}
	return a
}

// versions enforces one version per name+arch and Multi-Arch: same
// co-installation.
func (ck *checker) versions() {
	names := make([]string, 0, len(ck.byName))
	for n := range ck.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ps := ck.byName[n]
		if len(ps) < 2 {
			continue
		}
		byArch := make(map[string][]string)
		for _, p := range ps {
			a := ck.effArch(p.Architecture)
			byArch[a] = append(byArch[a], p.Version.String())
		}
		for a, vs := range byArch {
			if len(vs) > 1 {
				sort.Strings(vs)
				ck.add(RuleOneVersion, n+":"+a, "%d versions installed at once: %s", len(vs), strings.Join(vs, ", "))
			}
		}
		if len(byArch) < 2 {
			continue
		}
		for _, p := range ps {
			if p.MultiArch != deb.MultiArchSame {
				ck.add(RuleMultiArch, p.String(), "is installed for %d architectures but is not Multi-Arch: same", len(byArch))
				continue
			}
			if p.Version.String() != ps[0].Version.String() {
				ck.add(RuleMultiArch, p.String(), "Multi-Arch: same instances differ in version (%s and %s)", p.Version, ps[0].Version)
			}
		}
	}
}

// archApplies reports whether a possibility's [arch list] restriction
// includes arch (an empty list includes every architecture), read as
// dpkg's debarch_is_concerned: the first entry matching arch decides,
// and when none does the list applies if it holds a negation. Entries
// are names or wildcards ("linux-any", "any-i386"), matched through
// relation.ArchIs (dpkg's tuple table is data, not solver logic).
func archApplies(pv *relation.Possibility, arch string) bool {
	if len(pv.Archs) == 0 {
		return true
	}
	negated := false
	for _, a := range pv.Archs {
		if relation.ArchIs(arch, strings.ToLower(a.Arch)) {
			return !a.Not
		}
		negated = negated || a.Not
	}
	return negated
}

// archOK is dpkg's deparchsatisfied: may pkg (or a package it provides
// for) satisfy pv, written in a package of architecture depArch?
// conflict is true for Conflicts and Breaks, whose unqualified form covers
// every architecture.
func (ck *checker) archOK(pkg *deb.Package, pv *relation.Possibility, depArch string, conflict bool) bool {
	if pkg.MultiArch == deb.MultiArchForeign {
		return true
	}
	want := pv.ArchQual
	switch want {
	case "":
		if conflict {
			return true
		}
		want = depArch
	case "any":
		return pkg.MultiArch == deb.MultiArchAllowed || conflict
	case "native":
		want = ck.native
	}
	return ck.effArch(want) == ck.effArch(pkg.Architecture)
}

// satisfiers returns the final packages that satisfy pv for a package of
// architecture depArch. A package may satisfy its own dependency, but never
// conflicts with itself or another version of its name (the one-version
// rule covers that).
func (ck *checker) satisfiers(pv *relation.Possibility, depArch string, conflict bool, self *deb.Package) []string {
	var who []string
	for _, q := range ck.byName[pv.Name] {
		if conflict && (q == self || q.Name == self.Name) {
			continue
		}
		if pv.Satisfies(q.Version) && ck.archOK(q, pv, depArch, conflict) {
			who = append(who, q.String())
		}
	}
	for _, pr := range ck.provides[pv.Name] {
		if conflict && (pr.pkg == self || pr.pkg.Name == self.Name) {
			continue
		}
		if pv.Op != relation.NoOp {
			// A versioned relation is met only by a versioned Provides
			// (policy §7.5); an unversioned Provides never is.
			if pr.as.Op != relation.EQ || !pv.Satisfies(pr.as.Version) {
				continue
			}
		}
		// The provided name's own qualifier, if any, is not a thing in
		// Debian; the provider's architecture is what counts.
		if ck.archOK(pr.pkg, pv, depArch, conflict) {
			who = append(who, pr.pkg.String()+" (provides "+pr.as.String()+")")
		}
	}
	return who
}

func (ck *checker) depends(p *deb.Package, d relation.Dependency, r Rule, field string) {
	arch := ck.effArch(p.Architecture)
	for _, rel := range d {
		applies, ok := false, false
		for i := range rel {
			pv := &rel[i]
			if !archApplies(pv, arch) {
				continue
			}
			applies = true
			if len(ck.satisfiers(pv, arch, false, p)) > 0 {
				ok = true
				break
			}
		}
		if applies && !ok {
			ck.add(r, p.String(), "%s %q is not satisfied by the final set", field, rel.String())
		}
	}
}

func (ck *checker) conflicts(p *deb.Package, d relation.Dependency, r Rule, field string) {
	arch := ck.effArch(p.Architecture)
	for _, rel := range d {
		for i := range rel {
			pv := &rel[i]
			if !archApplies(pv, arch) {
				continue
			}
			if who := ck.satisfiers(pv, arch, true, p); len(who) > 0 {
				ck.add(r, p.String(), "%s %q, but the final set holds %s", field, pv.String(), strings.Join(who, ", "))
			}
		}
	}
}

// matches reports whether p is the package a target names.
func (ck *checker) matches(t Target, p *deb.Package) bool {
	if p.Name != t.Name {
		return false
	}
	if t.Arch == "any" {
		return true
	}
	return ck.effArch(p.Architecture) == ck.effArch(t.Arch)
}

func (ck *checker) request(c Case, final []*deb.Package) {
	for _, t := range c.Request.Install {
		found, versions := false, []string(nil)
		for _, p := range ck.byName[t.Name] {
			if !ck.matches(t, p) {
				continue
			}
			versions = append(versions, p.Version.String())
			if t.Version == "" || p.Version.String() == t.Version {
				found = true
			}
		}
		if !found {
			if len(versions) > 0 {
				ck.add(RuleInstall, t.String(), "requested, but the final set holds version %s", strings.Join(versions, ", "))
			} else {
				ck.add(RuleInstall, t.String(), "requested, but absent from the final set")
			}
		}
	}
	removed := make(map[nameArch]bool)
	for _, t := range c.Request.Remove {
		for _, p := range ck.byName[t.Name] {
			if ck.matches(t, p) {
				ck.add(RuleRemove, t.String(), "removal requested, but %s is in the final set", p)
			}
		}
		removed[nameArch{t.Name, ck.effArch(t.Arch)}] = true
	}
	present := make(map[nameArch]bool, len(final))
	for _, p := range final {
		present[nameArch{p.Name, ck.effArch(p.Architecture)}] = true
	}
	before := make(map[nameArch]bool, len(c.Installed))
	for _, p := range c.Installed {
		na := nameArch{p.Name, ck.effArch(p.Architecture)}
		before[na] = true
		if present[na] {
			continue
		}
		switch {
		case c.Request.ForbidRemove:
			ck.add(RuleForbidRemove, p.String(), "removed, but the request forbids removals")
		case p.Essential && !c.Request.AllowRemoveEssential && !removed[na]:
			ck.add(RuleEssential, p.String(), "is Essential and was removed without being asked to")
		}
	}
	if c.Request.ForbidNewInstall {
		for _, p := range final {
			if !before[nameArch{p.Name, ck.effArch(p.Architecture)}] {
				ck.add(RuleForbidInstall, p.String(), "newly installed, but the request forbids new installs")
			}
		}
	}
}
