package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/transaction"
)

// CheckCmd reports installed packages whose relations do not hold, as
// apt-get check does.
type CheckCmd struct{}

// Help explains what is checked.
func (CheckCmd) Help() string {
	return `Checks the root's installed packages against each other, as apt-get check
does: every Depends and Pre-Depends of an installed package (unpacked counts,
as for apt) must be met by an installed package or one that provides it, and
no installed package may match another's Conflicts or Breaks. Prints the
problems as apt does (" PKG : Depends: DEP but it is not installed") and
exits 1 when there are any, 0 (and nothing printed) when there are none.
"grey install -f" finishes configuring what a failed command left;
"grey install PKG" of what is missing, or "grey remove" of what breaks,
repairs the rest.`
}

// checkProblem is one relation of an installed package that does not hold.
type checkProblem struct {
	Package  string `json:"package"`
	Field    string `json:"field"`
	Relation string `json:"relation"`
	// Why is apt's "but it is not installed", "but 1.0 is installed",
	// "but X is installed" (for a conflict).
	Why string `json:"why"`
}

// Run checks.
func (c *CheckCmd) Run(ctx context.Context, g *Globals) error {
	root, err := openView(ctx, g)
	if err != nil {
		return err
	}
	defer root.Close()
	var recs []*pkgdb.Package
	if err := root.DB.View(func(tx *bolt.Tx) (err error) { recs, err = pkgdb.Packages(tx); return }); err != nil {
		return err
	}
	archs, err := transaction.Architectures(root.Dir)
	if err != nil {
		return err
	}
	var pkgs []*deb.Package
	for _, r := range recs {
		if !r.IsInstalled() {
			continue
		}
		p, err := transaction.DebPackage(r)
		if err != nil {
			return err
		}
		pkgs = append(pkgs, p)
	}
	problems := unmetRelations(pkgs, archs[0])
	if g.JSON {
		if problems == nil {
			problems = []checkProblem{}
		}
		if err := cli.WriteJSON(g.Stdout, problems); err != nil {
			return err
		}
	} else if len(problems) > 0 {
		var b strings.Builder
		b.WriteString("The following packages have unmet dependencies:\n")
		last := ""
		for _, p := range problems {
			lead := " " + p.Package + " :"
			if p.Package == last {
				lead = strings.Repeat(" ", len(lead))
			}
			last = p.Package
			fmt.Fprintf(&b, "%s %s: %s", lead, p.Field, p.Relation)
			if p.Why != "" {
				b.WriteString(" " + p.Why)
			}
			b.WriteByte('\n')
		}
		if _, err := fmt.Fprint(g.Stdout, b.String()); err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		return &exitError{Code: cli.ExitFailed, Err: fmt.Errorf("unmet dependencies in %d installed packages", countPackages(problems))}
	}
	return nil
}

func countPackages(ps []checkProblem) int {
	seen := map[string]bool{}
	for _, p := range ps {
		seen[p.Package] = true
	}
	return len(seen)
}

// unmetRelations checks the installed packages pkgs against each other on
// a system of native architecture native, and returns what does not hold,
// sorted by package, in apt's field order.
func unmetRelations(pkgs []*deb.Package, native string) []checkProblem {
	byName := map[string][]*deb.Package{}
	for _, p := range pkgs {
		byName[p.Name] = append(byName[p.Name], p)
		for _, rel := range p.Provides {
			for _, pv := range rel {
				if pv.Name != p.Name {
					byName[pv.Name] = append(byName[pv.Name], p)
				}
			}
		}
	}
	// matches: q satisfies (or, for a conflict, hits) pv, written in a
	// package of effective architecture from.
	matches := func(q *deb.Package, pv *relation.Possibility, from string, conflict bool) bool {
		if !deb.ArchSatisfies(q, pv, from, native, conflict) {
			return false
		}
		if q.Name == pv.Name {
			return pv.Satisfies(q.Version)
		}
		for _, rel := range q.Provides {
			for _, prov := range rel {
				if prov.Name != pv.Name {
					continue
				}
				if pv.Op == relation.NoOp {
					return true
				}
				if prov.Op == relation.EQ && pv.Satisfies(prov.Version) {
					return true
				}
			}
		}
		return false
	}
	key := func(p *deb.Package) string { return p.Name + ":" + p.Architecture }
	var out []checkProblem
	for _, p := range pkgs {
		from := deb.EffectiveArch(p.Architecture, native)
		name := p.Name
		if from != native { // apt names a foreign package with its architecture
			name += ":" + p.Architecture
		}
		for _, f := range []struct {
			field    string
			dep      relation.Dependency
			conflict bool
		}{{"PreDepends", p.PreDepends, false}, {"Depends", p.Depends, false}, {"Conflicts", p.Conflicts, true}, {"Breaks", p.Breaks, true}} {
			for _, rel := range f.dep.ForArch(from) {
				if !f.conflict {
					met := false
					for i := range rel {
						for _, q := range byName[rel[i].Name] {
							if matches(q, &rel[i], from, false) {
								met = true
							}
						}
					}
					if !met {
						out = append(out, checkProblem{name, f.field, rel.String(), dependsWhy(rel, byName)})
					}
					continue
				}
				for i := range rel {
					for _, q := range byName[rel[i].Name] {
						if key(q) != key(p) && matches(q, &rel[i], from, true) {
							out = append(out, checkProblem{name, f.field, rel[i].String(), "but " + q.Version.String() + " is installed"})
						}
					}
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Package < out[j].Package })
	return out
}

// dependsWhy says why a relation is unmet as apt does: "but it is not
// installed", or "but V is installed" when its first package is there in
// another version.
func dependsWhy(rel relation.Relation, byName map[string][]*deb.Package) string {
	if len(rel) > 1 {
		return ""
	}
	for _, q := range byName[rel[0].Name] {
		if q.Name == rel[0].Name {
			return "but " + q.Version.String() + " is installed"
		}
	}
	if len(byName[rel[0].Name]) > 0 {
		return "but it is a virtual package"
	}
	return "but it is not installed"
}
