package transaction

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/greypm/grey/deb/triggers"
	"github.com/greypm/grey/pkgdb"
)

// runTriggers does what dpkg does with triggers at the end of a run: every
// installed package that this transaction leaves alone and that declared
// interest (its info/PKG.triggers) in a path the transaction installed or
// removed, or in a name a changed package activates, has its postinst
// called with "triggered" and the fired names. libc-bin's ldconfig and
// man-db's index are the common cases: a library upgraded on its own must
// refresh ld.so.cache.
//
// Packages installed or upgraded by this transaction are left out, as dpkg
// leaves out packages that are not configured when a trigger fires: grey
// unpacks everything before it configures anything, and their "postinst
// configure" has just run. Then what maintainer scripts activated with
// dpkg-trigger is processed (processTriggers).
func (t *txn) runTriggers(ctx context.Context) error {
	in, err := t.interests(false)
	if err != nil {
		return err
	}
	act := triggers.NewActivations(in)
	activate := func(ds []triggers.Directive) {
		for _, d := range ds {
			if d.Kind == triggers.Activate {
				act.Name(d.Name)
			}
		}
	}
	for _, w := range t.works {
		for _, e := range w.ents {
			act.Path("/" + e.rel)
		}
		if w.old != nil {
			for _, f := range w.old.Files {
				if len(f.Path) < 2 {
					continue
				}
				if _, kept := w.byPath[f.Path[1:]]; !kept {
					act.Path(f.Path)
				}
			}
		}
		if cf := w.ctl.File("triggers"); cf != nil {
			ds, err := triggers.ParseBytes(cf.Data)
			if err != nil {
				return fmt.Errorf("%s: control file triggers: %w", w.pkg, err)
			}
			activate(ds)
		}
	}
	for _, r := range t.removes {
		for _, f := range r.rec.Files {
			act.Path(f.Path)
		}
		// The removed package's info files are still there: they go
		// after the scripts (dropRemovedInfo).
		ds, err := t.triggersFile(r.rec)
		if err != nil {
			return err
		}
		activate(ds)
	}
	return t.processTriggers(ctx, act.Pending())
}

// processTriggers calls "postinst triggered" for each pending package,
// then takes what maintainer scripts activated with dpkg-trigger (dpkg's
// triggers/Unincorp queue) and processes that, round after round until
// the queue stays empty, as dpkg does at the end of a run. A package
// whose trigger processing fails is left half-configured, and a package
// that awaits it (dpkg-trigger without --no-await, towards an "interest"
// that is not -noawait) triggers-awaited.
func (t *txn) processTriggers(ctx context.Context, pending []triggers.Pending) error {
	awaited := map[string][]string{} // interested package -> packages awaiting it
	for round := 0; ; round++ {
		for _, p := range pending {
			rec := t.configuredRecord(p.Package)
			if rec == nil {
				continue
			}
			script := t.infoPath(rec.InfoName(), "postinst")
			if _, err := t.st.rfs.lstat(script); errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err := t.runScript(ctx, rec.Name, rec.Architecture, "postinst", script, "triggered", p.Arg()); err != nil {
				failed := *rec
				failed.SetStatus(keepWant(rec), false, pkgdb.StateHalfConfigured)
				t.fail(&failed, err)
				for _, w := range awaited[p.Package] {
					if a := t.configuredRecord(w); a != nil {
						left := *a
						left.SetStatus(keepWant(a), false, pkgdb.StateTriggersAwaited)
						t.fail(&left, fmt.Errorf("%s awaits the triggers of %s, whose processing failed", w, p.Package))
					}
				}
			}
		}
		queued, err := t.takeUnincorp()
		if err != nil || len(queued) == 0 {
			return err
		}
		if round == 20 {
			return fmt.Errorf("triggers: still activated after %d rounds (a trigger loop?)", round)
		}
		in, err := t.interests(true)
		if err != nil {
			return err
		}
		act := triggers.NewActivations(in)
		for _, q := range queued {
			act.Name(q.name)
			if q.awaiter == "" {
				continue
			}
			for pkg, ds := range in {
				for _, d := range ds {
					if d.Name == q.name && !d.NoAwait && !slices.Contains(awaited[pkg], q.awaiter) {
						awaited[pkg] = append(awaited[pkg], q.awaiter)
					}
				}
			}
		}
		pending = act.Pending()
	}
}

// configuredRecord returns the record of a configured package by record key:
// one configured by this run, or one installed before it and not failed.
func (t *txn) configuredRecord(name string) *pkgdb.Package {
	if rec := t.final[name]; rec != nil {
		return nil
	}
	for _, rec := range t.done {
		if rec.Key() == name {
			return rec
		}
	}
	if rec := t.installed[name]; rec != nil && rec.Configured() {
		return rec
	}
	return nil
}

// interests returns the trigger interests of the configured packages:
// those this run left alone and, with done, those it configured.
func (t *txn) interests(done bool) (triggers.Interests, error) {
	changed := make(map[string]bool, len(t.works)+len(t.removes))
	for _, w := range t.works {
		changed[w.key()] = true
	}
	for _, r := range t.removes {
		changed[r.rec.Key()] = true
	}
	recs := []*pkgdb.Package{}
	for name, rec := range t.installed {
		if !changed[name] && rec.Configured() && t.final[name] == nil {
			recs = append(recs, rec)
		}
	}
	if done {
		recs = append(recs, t.done...)
	}
	in := triggers.Interests{}
	for _, rec := range recs {
		ds, err := t.triggersFile(rec)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if d.Kind == triggers.Interest {
				in[rec.Key()] = append(in[rec.Key()], d)
			}
		}
	}
	return in, nil
}

// queuedTrigger is one line of dpkg's triggers/Unincorp: a trigger name
// activated by dpkg-trigger and the package that awaits it ("" for
// --no-await).
type queuedTrigger struct {
	name, awaiter string
}

// takeUnincorp reads and empties dpkg's triggers/Unincorp, where
// dpkg-trigger in a maintainer script queues its activations
// ("NAME PACKAGE..." lines, "-" for no package awaiting).
func (t *txn) takeUnincorp() ([]queuedTrigger, error) {
	p := filepath.Join(t.st.rfs.host, pkgdb.DpkgAdminDir, "triggers", "Unincorp")
	data, err := t.st.rfs.readFile(p) // through the root's os.Root
	if errors.Is(err, fs.ErrNotExist) || len(data) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("triggers: %w", err)
	}
	var out []queuedTrigger
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) == 1 {
			out = append(out, queuedTrigger{name: f[0]})
		}
		for _, a := range f[1:] {
			if a == "-" {
				a = ""
			}
			if n, arch, ok := strings.Cut(a, ":"); ok { // "pkg:arch"
				a = recordKey(n, arch, t.native)
			}
			out = append(out, queuedTrigger{name: f[0], awaiter: a})
		}
	}
	if err := t.st.rfs.writeAtomic(p, nil, 0o644, t.opts.Sync); err != nil {
		return nil, fmt.Errorf("triggers: %w", err)
	}
	return out, nil
}

// triggersFile reads an installed package's info/PKG.triggers; a package
// without one has no directives.
func (t *txn) triggersFile(rec *pkgdb.Package) ([]triggers.Directive, error) {
	path := t.infoPath(rec.InfoName(), "triggers")
	data, err := t.st.rfs.readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("triggers of %s: %w", rec.Name, err)
	}
	ds, err := triggers.ParseBytes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ds, nil
}
