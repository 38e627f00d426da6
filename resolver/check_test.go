package resolver

import (
	"fmt"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/resolver/check"
)

// checkPlan checks a plan twice: with the package resolver/check (the
// project's independent checker, separate code that shares nothing with
// the solver), then with the small checker below, written in this test
// from the raw relations. Both look at every Depends and Pre-Depends,
// every Conflicts and Breaks, one version per name and architecture, and
// the request.
func checkPlan(universe []*deb.Package, req Request, pl *Plan) error {
	if err := projectCheck(universe, req, pl); err != nil {
		return fmt.Errorf("resolver/check: %w", err)
	}
	return ownCheck(universe, req, pl)
}

// projectCheck runs resolver/check on a plan.
func projectCheck(universe []*deb.Package, req Request, pl *Plan) error {
	c := check.Case{Universe: universe, Final: pl.Final, Request: check.Request{
		Architecture:         req.Architecture,
		AllowRemoveEssential: req.AllowRemoveEssential,
		// A plain upgrade removes nothing, except what autoremove may.
		ForbidRemove: req.UpgradeAll && !req.FullUpgrade && !req.Autoremove && len(req.Remove) == 0,
	}}
	if c.Request.Architecture == "" {
		c.Request.Architecture = "amd64"
	}
	for _, in := range req.Installed {
		c.Installed = append(c.Installed, in.Package)
	}
	real := map[string]bool{}
	for _, p := range universe {
		real[p.Name] = true
	}
	for _, j := range req.Install {
		// The checker knows real names only; a virtual job (served by a
		// provider) and an origin are checked by ownCheck.
		if real[j.Name] {
			c.Request.Install = append(c.Request.Install, check.Target{Name: j.Name, Arch: j.Arch, Version: j.Version})
		}
	}
	for _, j := range req.Remove {
		c.Request.Remove = append(c.Request.Remove, check.Target{Name: j.Name, Arch: j.Arch})
	}
	return check.Check(c)
}

// ownCheck is the test's own checker, written without the solver's
// universe.
func ownCheck(universe []*deb.Package, req Request, pl *Plan) error {
	native := req.Architecture
	if native == "" {
		native = "amd64"
	}
	byName := map[string][]*deb.Package{}
	provides := map[string][]*deb.Package{}
	seen := map[string]*deb.Package{}
	for _, p := range pl.Final {
		k := p.Name + ":" + p.Architecture
		if o, ok := seen[p.Name]; ok && !(o.MultiArch == deb.MultiArchSame && p.MultiArch == deb.MultiArchSame &&
			o.Architecture != p.Architecture && version.Compare(o.Version, p.Version) == 0) {
			return fmt.Errorf("two instances of %s: %s and %s", p.Name, o.Version, p.Version)
		}
		seen[p.Name] = p
		_ = k
		byName[p.Name] = append(byName[p.Name], p)
		for _, rel := range p.Provides {
			for _, pos := range rel {
				provides[pos.Name] = append(provides[pos.Name], p)
			}
		}
	}
	arch := func(p *deb.Package) string {
		if p.Architecture == "all" {
			return native
		}
		return p.Architecture
	}
	fits := func(from *deb.Package, pos relation.Possibility, q *deb.Package, neg bool) bool {
		if neg {
			if pos.ArchQual != "" && pos.ArchQual != "any" && arch(q) != pos.ArchQual {
				return false
			}
			return true
		}
		switch pos.ArchQual {
		case "":
			return arch(q) == arch(from) || q.MultiArch == deb.MultiArchForeign
		case "any":
			return arch(q) == arch(from) || q.MultiArch == deb.MultiArchForeign || q.MultiArch == deb.MultiArchAllowed
		case "native":
			return arch(q) == native
		}
		return arch(q) == pos.ArchQual
	}
	match := func(from *deb.Package, pos relation.Possibility, neg bool) []*deb.Package {
		var out []*deb.Package
		for _, q := range byName[pos.Name] {
			if (pos.Op == relation.NoOp || pos.Op.Holds(version.Compare(q.Version, pos.Version))) && fits(from, pos, q, neg) {
				out = append(out, q)
			}
		}
		for _, q := range provides[pos.Name] {
			if !fits(from, pos, q, neg) {
				continue
			}
			for _, rel := range q.Provides {
				for _, pr := range rel {
					if pr.Name != pos.Name {
						continue
					}
					if pos.Op == relation.NoOp || (pr.Op == relation.EQ && pos.Op.Holds(version.Compare(pr.Version, pos.Version))) {
						out = append(out, q)
					}
				}
			}
		}
		return out
	}
	for _, p := range pl.Final {
		for _, d := range []relation.Dependency{p.PreDepends, p.Depends} {
			for _, rel := range d {
				ok, applies := false, false
				for _, pos := range rel {
					// An alternative whose [arch] list leaves out p's
					// architecture is not there.
					if !pos.AppliesTo(arch(p)) {
						continue
					}
					applies = true
					if len(match(p, pos, false)) > 0 {
						ok = true
					}
				}
				if applies && !ok {
					return fmt.Errorf("%s %s: dependency %s not satisfied", p.Name, p.Version, rel)
				}
			}
		}
		for _, d := range []relation.Dependency{p.Conflicts, p.Breaks} {
			for _, rel := range d {
				for _, pos := range rel {
					if !pos.AppliesTo(arch(p)) {
						continue
					}
					for _, q := range match(p, pos, true) {
						if q.Name != p.Name {
							return fmt.Errorf("%s %s conflicts with %s %s (%s)", p.Name, p.Version, q.Name, q.Version, pos)
						}
					}
				}
			}
		}
	}
	for _, j := range req.Install {
		ok := false
		for _, p := range pl.Final {
			if j.Matches(p) {
				ok = true
			}
			for _, rel := range p.Provides {
				for _, pos := range rel {
					if j.Version == "" && j.Arch == "" && j.Origin == "" && pos.Name == j.Name {
						ok = true
					}
				}
			}
		}
		if !ok {
			return fmt.Errorf("requested %s is not installed", j)
		}
	}
	for _, j := range req.Remove {
		for _, p := range pl.Final {
			if j.Matches(p) {
				return fmt.Errorf("removed %s is still installed", j)
			}
		}
	}
	if !req.AllowRemoveEssential {
		for _, in := range req.Installed {
			if in.Essential && len(byName[in.Name]) == 0 {
				return fmt.Errorf("essential %s was removed", in.Name)
			}
		}
	}
	if req.UpgradeAll && !req.FullUpgrade {
		for _, in := range req.Installed {
			removed := req.Autoremove && in.Auto
			for _, j := range req.Remove {
				removed = removed || j.Name == in.Name
			}
			if !removed && len(byName[in.Name]) == 0 {
				return fmt.Errorf("upgrade removed %s", in.Name)
			}
		}
	}
	_ = universe
	return nil
}
