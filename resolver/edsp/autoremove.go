package edsp

import (
	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/resolver"
)

// autoremovable lists the automatically installed packages of a plan's
// final set that no manually installed package needs, directly or not,
// through Pre-Depends, Depends, Recommends or Suggests (apt counts the last
// two as important for autoremoval by default). apt shows them as
// Autoremove stanzas: candidates for a later autoremove.
func (sc *Scenario) autoremovable(plan *resolver.Plan, find func(*deb.Package) (*Package, error)) []*Package {
	byName := make(map[string][]*deb.Package)
	provides := make(map[string][]provided)
	for _, p := range plan.Final {
		byName[p.Name] = append(byName[p.Name], p)
		for _, rel := range p.Provides {
			for _, pv := range rel {
				provides[pv.Name] = append(provides[pv.Name], provided{p, pv})
			}
		}
	}
	needed := make(map[*deb.Package]bool)
	var queue []*deb.Package
	for _, p := range plan.Final {
		// Roots: manual packages, and Essential, Protected or
		// required ones (apt never autoremoves those, nor what they
		// need: resolver.AutoremoveRoot).
		if r, ok := plan.Reason(p); !ok || !r.Auto || resolver.AutoremoveRoot(p) {
			needed[p] = true
			queue = append(queue, p)
		}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, d := range []relation.Dependency{p.PreDepends, p.Depends, p.Recommends, p.Suggests} {
			for _, rel := range d {
				for i := range rel {
					pv := &rel[i]
					for _, q := range byName[pv.Name] {
						if pv.Satisfies(q.Version) && !needed[q] {
							needed[q] = true
							queue = append(queue, q)
						}
					}
					for _, pr := range provides[pv.Name] {
						if pv.Op != relation.NoOp && (pr.as.Op != relation.EQ || !pv.Satisfies(pr.as.Version)) {
							continue
						}
						if !needed[pr.pkg] {
							needed[pr.pkg] = true
							queue = append(queue, pr.pkg)
						}
					}
				}
			}
		}
	}
	var out []*Package
	for _, p := range plan.Final {
		if needed[p] {
			continue
		}
		if ep, err := find(p); err == nil {
			out = append(out, ep)
		}
	}
	return out
}

type provided struct {
	pkg *deb.Package
	as  relation.Possibility
}
