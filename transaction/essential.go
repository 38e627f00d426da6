package transaction

import (
	"fmt"
	"sort"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/relation"
)

// EssentialError is a plan that removes a package the system needs: one
// marked Essential: yes or Protected: yes, or one such a package depends
// on (directly or through other packages). Whatever command made the plan
// (remove, autoremove, full-upgrade, history undo, rollback), it is
// refused unless Options.ForceEssential (--allow-remove-essential).
type EssentialError struct {
	Package string
	// Why says why it is needed: "it is Essential", "it is Protected",
	// or the chain from an Essential package ("dash Depends on libc6").
	Why string
}

func (e *EssentialError) Error() string {
	return fmt.Sprintf("remove %s: %s; removing it may break the system (--allow-remove-essential removes it anyway)", e.Package, e.Why)
}

// Unwrap makes errors.Is(err, ErrEssential) true.
func (e *EssentialError) Unwrap() error { return ErrEssential }

// checkEssential refuses a plan that removes an Essential or Protected
// package, or a package the remaining Essential and Protected packages
// need: their Pre-Depends and Depends, followed through the installed
// packages that stay, where a dependency none of whose alternatives stays
// installed names the removed package that satisfied it.
func (t *txn) checkEssential(plan Plan) error {
	if t.opts.ForceEssential || len(plan.Remove) == 0 {
		return nil
	}
	removing := map[string]bool{}
	for _, r := range plan.Remove {
		removing[r.Name] = true
	}
	// Packages the plan installs again (an upgrade named twice) are not
	// gone; the plan's own checks refuse that anyway.
	pkgs := map[string]*deb.Package{}
	kind := map[string]string{} // "Essential" or "Protected"
	providers := map[string][]string{}
	names := make([]string, 0, len(t.installed))
	for n, rec := range t.installed {
		if !rec.IsInstalled() {
			continue
		}
		d, err := DebPackage(rec)
		if err != nil {
			return err
		}
		pkgs[n] = d
		names = append(names, n)
		for _, rel := range d.Provides {
			for _, p := range rel {
				providers[p.Name] = append(providers[p.Name], n)
			}
		}
		if rec.Architecture != "all" && rec.Architecture != t.native && t.native != "" {
			// A foreign architecture's instance is never essential to
			// the system (apt marks only the native one).
			continue
		}
		if d.Essential {
			kind[n] = "Essential"
		} else if st, err := control.ParseOne([]byte(rec.Control)); err == nil && strings.EqualFold(st.Get("Protected"), "yes") {
			kind[n] = "Protected"
		}
	}
	sort.Strings(names)
	for _, r := range plan.Remove {
		if k := kind[r.Name]; k != "" {
			return &EssentialError{Package: r.Name, Why: "it is " + k}
		}
	}
	// Walk from every Essential or Protected package that stays; chain
	// holds how each package was reached.
	chain := map[string][]string{}
	root := map[string]string{}
	var queue []string
	for _, n := range names {
		if !removing[n] && kind[n] != "" {
			chain[n], root[n] = []string{}, n
			queue = append(queue, n)
		}
	}
	installedAs := func(name string) []string {
		var out []string
		if _, ok := pkgs[name]; ok {
			out = append(out, name)
		}
		return append(out, providers[name]...)
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		d := pkgs[n]
		for _, dep := range []struct {
			field string
			rels  relation.Dependency
		}{{"Pre-Depends", d.PreDepends}, {"Depends", d.Depends}} {
			for _, rel := range dep.rels {
				var stay, gone []string
				for _, alt := range rel {
					for _, m := range installedAs(alt.Name) {
						if removing[m] {
							gone = append(gone, m)
						} else {
							stay = append(stay, m)
						}
					}
				}
				if len(stay) == 0 && len(gone) > 0 {
					steps := append(append([]string(nil), chain[n]...), fmt.Sprintf("%s %s %s", n, dep.field, gone[0]))
					return &EssentialError{Package: gone[0], Why: fmt.Sprintf("the %s package %s needs it (%s)",
						kind[root[n]], root[n], strings.Join(steps, ", "))}
				}
				for _, m := range stay {
					if _, seen := chain[m]; !seen {
						chain[m] = append(append([]string(nil), chain[n]...), fmt.Sprintf("%s %s %s", n, dep.field, m))
						root[m] = root[n]
						queue = append(queue, m)
					}
				}
			}
		}
	}
	return nil
}
