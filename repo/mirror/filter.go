package mirror

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/repo/key"
	"github.com/greypm/grey/repo/publish"
	"github.com/greypm/grey/resolver"
)

// selectClosure reads every package of every suite, computes the
// selection (the listed packages, with WithDeps their closure over all the
// mirror's suites together, as a client using all of them sees them) and
// keeps, per suite, the pool files of the selected packages.
func (s *syncer) selectClosure(ctx context.Context, work []*suiteWork) error {
	var all []*deb.Package
	for _, w := range work {
		if w.unchanged {
			// Its packages take part in the closure all the same.
			if err := s.fetchIndexes(ctx, []*suiteWork{w}); err != nil {
				return err
			}
		}
		for _, d := range w.dirs {
			err := d.readIndex(func(st *control.Stanza) error {
				p, err := deb.FromStanza(st)
				if err != nil {
					return err
				}
				p.Origin = w.suite
				d.pkgs = append(d.pkgs, p)
				return nil
			})
			if err != nil {
				return s.refuse(w, w.vr.Dist+d.best().rel.Path, "unusable index", err)
			}
			all = append(all, d.pkgs...)
		}
	}
	native := "amd64"
	if len(work) > 0 && len(work[0].archs) > 0 {
		native = work[0].archs[0]
	}
	keep, err := Closure(ctx, all, ClosureOptions{
		Packages: s.m.Config.Packages, WithDeps: s.m.Config.WithDeps, Recommends: s.m.Config.Recommends,
		Preferred: s.m.Config.Closure == Preferred, Architecture: native,
	})
	if err != nil {
		return fmt.Errorf("mirror %s: %w", s.m.Config.Name, err)
	}
	for _, w := range work {
		seen := map[string]bool{}
		for _, d := range w.dirs {
			var kept []*deb.Package
			for _, p := range d.pkgs {
				if !keep[p] {
					continue
				}
				kept = append(kept, p)
				pf, err := poolEntry(w, p.Stanza)
				if err != nil {
					return s.refuse(w, w.vr.Dist+d.best().rel.Path, "unusable index", err)
				}
				if !seen[pf.name] {
					seen[pf.name] = true
					w.pool = append(w.pool, pf)
				}
			}
			d.pkgs = kept
		}
		// A suite whose selection did not change keeps its published
		// state only if upstream did not change either (w.unchanged);
		// its pool must still be present for the others.
	}
	return nil
}

// ClosureOptions say what Closure selects.
type ClosureOptions struct {
	// Packages are the names asked for; every version of each is kept.
	Packages []string
	// WithDeps adds what they depend on (Pre-Depends, Depends), with
	// Recommends also Recommends.
	WithDeps, Recommends bool
	// Preferred keeps only what the resolver would install for the list
	// (apt's choice among alternatives); otherwise every alternative and
	// every version that satisfies a relation is followed.
	Preferred bool
	// Architecture is the native architecture.
	Architecture string
}

// Closure returns the packages of all that opts selects.
func Closure(ctx context.Context, all []*deb.Package, opts ClosureOptions) (map[*deb.Package]bool, error) {
	idx := resolver.NewMemIndex(all)
	keep := map[*deb.Package]bool{}
	var queue []*deb.Package
	add := func(p *deb.Package) {
		if !keep[p] {
			keep[p] = true
			queue = append(queue, p)
		}
	}
	var missing []string
	for _, name := range opts.Packages {
		ps := idx.Packages(name)
		if len(ps) == 0 {
			missing = append(missing, name)
		}
		for _, p := range ps {
			add(p)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no package named %s in the mirror's sources", strings.Join(missing, ", "))
	}
	if !opts.WithDeps {
		return keep, nil
	}
	if opts.Preferred {
		var jobs []resolver.Job
		for _, name := range opts.Packages {
			jobs = append(jobs, resolver.Job{Name: name})
		}
		plan, err := resolver.Solve(ctx, idx, resolver.Request{Install: jobs, Recommends: opts.Recommends, Architecture: opts.Architecture})
		if err != nil {
			return nil, fmt.Errorf("closure of %s: %w", strings.Join(opts.Packages, " "), err)
		}
		for _, p := range plan.Final {
			keep[p] = true
		}
		return keep, nil
	}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := queue[0]
		queue = queue[1:]
		from := p.Architecture
		if from == "all" {
			from = opts.Architecture
		}
		fields := []relation.Dependency{p.PreDepends, p.Depends}
		if opts.Recommends {
			fields = append(fields, p.Recommends)
		}
		for _, dep := range fields {
			for _, rel := range dep {
				for i := range rel {
					pos := &rel[i]
					for _, q := range idx.Packages(pos.Name) {
						if pos.Satisfies(q.Version) && deb.ArchSatisfies(q, pos, from, opts.Architecture, false) {
							add(q)
						}
					}
					for _, q := range idx.Providers(pos.Name) {
						if provides(q, pos) && deb.ArchSatisfies(q, pos, from, opts.Architecture, false) {
							add(q)
						}
					}
				}
			}
		}
	}
	return keep, nil
}

// provides reports whether q's Provides satisfies pos.
func provides(q *deb.Package, pos *relation.Possibility) bool {
	for _, rel := range q.Provides {
		for _, pv := range rel {
			if pv.Name != pos.Name {
				continue
			}
			if pos.Op == relation.NoOp {
				return true
			}
			if pv.Op == relation.EQ && pos.Satisfies(pv.Version) {
				return true
			}
		}
	}
	return false
}

// filteredFiles renders the suite's filtered indexes and its Release,
// signed by the mirror's key.
func (s *syncer) filteredFiles(w *suiteWork) (files, top []outFile, err error) {
	k, err := key.LoadSecret(s.m.Config.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("mirror %s: signing key: %w", s.m.Config.Name, err)
	}
	var idx []publish.IndexFile
	var archs, comps []string
	for _, d := range w.dirs {
		var b []byte
		for _, p := range d.pkgs {
			if b, err = control.AppendStanza(b, p.Stanza); err != nil {
				return nil, nil, err
			}
			b = append(b, '\n')
		}
		fs, err := publish.CompressIndex(d.dir+"/Packages", b)
		if err != nil {
			return nil, nil, err
		}
		idx = append(idx, fs...)
		if d.arch != "all" && !slices.Contains(archs, d.arch) {
			archs = append(archs, d.arch)
		}
		if !slices.Contains(comps, d.component) {
			comps = append(comps, d.component)
		}
	}
	rel := w.vr.Release
	opts := publish.Options{Suite: rel.Suite, Codename: rel.Codename, Origin: rel.Origin, Label: rel.Label,
		Description: "filtered by grey mirror " + s.m.Config.Name + ": " + strings.Join(s.m.Config.Packages, " ")}
	if opts.Suite == "" {
		opts.Suite = w.suite
	}
	if !rel.ValidUntil.IsZero() {
		opts.ValidFor = rel.ValidUntil.Sub(rel.Date)
	}
	relData := publish.ReleaseFile(opts, rel.Date, archs, comps, idx)
	// Signed at upstream's Date, so that the same selection of the same
	// upstream signs to the same bytes, unless the mirror's key is
	// younger: a signature older than its key is refused by gpgv.
	signAt := rel.Date
	if k.Created().After(signAt) {
		signAt = k.Created()
	}
	inRel, det, err := publish.SignRelease(k, relData, signAt)
	if err != nil {
		return nil, nil, fmt.Errorf("mirror %s: sign: %w", s.m.Config.Name, err)
	}
	for _, f := range idx {
		of, err := s.stageBytes(f.Path, f.Data)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, of)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"Release", relData}, {"Release.gpg", det}, {"InRelease", inRel}} {
		of, err := s.stageBytes(f.name, f.data)
		if err != nil {
			return nil, nil, err
		}
		top = append(top, of)
	}
	return files, top, nil
}
