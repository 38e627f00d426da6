package edsp

import (
	"strings"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/relation"
)

// keptFields are the package fields a reduced scenario keeps: what a
// solver reads (apt's own included: it weighs Priority), nothing else.
var keptFields = []string{
	"Package", "Architecture", "Version", "Multi-Arch", "Essential", "Priority",
	"Source", "Source-Version", "Pre-Depends", "Depends", "Recommends", "Conflicts", "Breaks", "Provides",
}

// Reduce returns the part of the scenario that can matter to its request:
// the installed packages (with every version of their names for an
// upgrade), every version of the names the request installs,
// and everything reachable from them through Pre-Depends, Depends and, when
// recommends is set, Recommends (every alternative, every provider); for a
// full upgrade (Upgrade-All without Forbid-New-Install) also the Essential
// packages, which apt's dist-upgrade installs when missing. A
// package outside that closure can never be part of a minimal answer, so
// a solver gives the same answer to the reduced scenario. Package stanzas
// keep only the fields solvers read; the Request is unchanged.
func Reduce(sc *Scenario, recommends bool) *Scenario {
	byName := make(map[string][]*Package)
	providers := make(map[string][]*Package)
	for _, p := range sc.Packages {
		byName[p.Name] = append(byName[p.Name], p)
		for _, rel := range p.Provides {
			for _, pv := range rel {
				providers[pv.Name] = append(providers[pv.Name], p)
			}
		}
	}
	in := make(map[*Package]bool)
	var queue []*Package
	add := func(ps []*Package) {
		for _, p := range ps {
			if !in[p] {
				in[p] = true
				queue = append(queue, p)
			}
		}
	}
	for _, p := range sc.Packages {
		if p.Installed {
			add([]*Package{p})
			if sc.Request.UpgradeAll {
				// Every version of an installed name may be the upgrade.
				add(byName[p.Name])
			}
		}
	}
	for _, name := range sc.Request.Install {
		n, _, _ := cutArch(name)
		add(byName[n])
	}
	if sc.Request.UpgradeAll && !sc.Request.ForbidNewInstall {
		// apt's dist-upgrade also installs missing Essential packages.
		for _, p := range sc.Packages {
			if p.Essential {
				add([]*Package{p})
			}
		}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		deps := []relation.Dependency{p.PreDepends, p.Depends}
		if recommends {
			deps = append(deps, p.Recommends)
		}
		for _, d := range deps {
			for _, rel := range d {
				for _, pv := range rel {
					add(byName[pv.Name])
					add(providers[pv.Name])
				}
			}
		}
	}
	out := &Scenario{Request: sc.Request, Comments: append([]string(nil), sc.Comments...)}
	for _, p := range sc.Packages {
		if in[p] {
			out.Packages = append(out.Packages, trimmed(p))
		}
	}
	return out
}

// trimmed copies p with only keptFields in its stanza and no releases.
func trimmed(p *Package) *Package {
	q := *p
	q.Releases = nil
	dp := *p.Package
	if p.Stanza != nil {
		s := &control.Stanza{Line: p.Stanza.Line}
		for _, f := range keptFields {
			if v, ok := p.Stanza.Lookup(f); ok {
				s.Fields = append(s.Fields, control.Field{Name: f, Value: v})
			}
		}
		dp.Stanza = s
	}
	q.Package = &dp
	return &q
}

// cutArch splits "name:arch" into its parts.
func cutArch(s string) (name, arch string, qualified bool) {
	return strings.Cut(s, ":")
}
