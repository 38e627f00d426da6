package transaction

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

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
// configure" has just run. Activations from dpkg-trigger calls inside
// maintainer scripts are not seen (grey has no dpkg trigger queue).
func (t *txn) runTriggers(ctx context.Context) error {
	changed := make(map[string]bool, len(t.works)+len(t.removes))
	for _, w := range t.works {
		changed[w.name()] = true
	}
	for _, r := range t.removes {
		changed[r.rec.Name] = true
	}
	in := triggers.Interests{}
	for name, rec := range t.installed {
		if changed[name] || !rec.Configured() {
			continue
		}
		ds, err := t.triggersFile(rec)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if d.Kind == triggers.Interest {
				in[name] = append(in[name], d)
			}
		}
	}
	if len(in) == 0 {
		return nil
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
	for _, p := range act.Pending() {
		rec := t.installed[p.Package]
		script := t.infoPath(rec.InfoName(), "postinst")
		if _, err := os.Stat(script); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := t.runScript(ctx, rec.Name, rec.Architecture, "postinst", script, "triggered", p.Arg()); err != nil {
			return err
		}
	}
	return nil
}

// triggersFile reads an installed package's info/PKG.triggers; a package
// without one has no directives.
func (t *txn) triggersFile(rec *pkgdb.Package) ([]triggers.Directive, error) {
	path := t.infoPath(rec.InfoName(), "triggers")
	data, err := os.ReadFile(path)
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
