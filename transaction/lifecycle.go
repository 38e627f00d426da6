package transaction

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/pkgdb/dpkgdb"
)

// This file holds dpkg's package states through a transaction (dpkg(1),
// Debian Policy chapter 6). A package is written to the databases as
// "unpacked" when its files are committed, and "installed" once its
// postinst configure ran. A failing maintainer script does not stop the
// transaction: as dpkg -i does, the package is unwound or left in the
// state dpkg leaves it in, and the others go on:
//
//	preinst (install)     postrm abort-install; not-installed, or
//	                      half-installed when that fails too
//	preinst (upgrade)     postrm abort-upgrade, old postinst abort-upgrade;
//	                      the old version installed, half-configured or
//	                      half-installed
//	prerm (upgrade)       new prerm failed-upgrade, else as preinst
//	prerm (remove)        postinst abort-remove; installed (selected for
//	                      removal), or half-configured
//	postrm (upgrade)      new postrm failed-upgrade, else half-installed
//	postrm (remove)       half-installed, info files kept
//	postrm (purge)        config-files
//	postinst configure    half-configured
//	a dependency not      left unpacked ("dependency problems")
//	configured
//
// Apply then returns a *FailedError with the Result, the history entry
// lists the failures, and Configure (dpkg --configure --pending) finishes
// the job later.

// Failure is one package a transaction left short of where it was going,
// and the state it is in.
type Failure struct {
	Package string `json:"package"`
	Arch    string `json:"arch,omitempty"`
	// Status is the package's Status field afterwards, as dpkg writes it
	// ("install ok half-configured").
	Status string `json:"status"`
	// Err is what failed; Error its text (for JSON).
	Err   error  `json:"-"`
	Error string `json:"error"`
}

// FailedError reports packages whose maintainer scripts (or whose
// dependencies' scripts) failed; everything else in the transaction was
// done.
type FailedError struct {
	Failures []Failure
}

func (e *FailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d package(s) not fully installed or removed:", len(e.Failures))
	for _, f := range e.Failures {
		fmt.Fprintf(&b, "\n  %s (left %s): %v", f.Package, f.Status, f.Err)
	}
	return b.String()
}

// Unwrap returns the failures' errors (a *ScriptError each, or a
// dependency problem).
func (e *FailedError) Unwrap() []error {
	out := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		out[i] = f.Err
	}
	return out
}

// ErrDependsUnconfigured: a package was left unpacked because a package it
// depends on is not configured.
var ErrDependsUnconfigured = errors.New("dependency problems - leaving unconfigured")

// fail records that rec's package is left as rec says, because of err.
func (t *txn) fail(rec *pkgdb.Package, err error) {
	if t.final == nil {
		t.final = map[string]*pkgdb.Package{}
	}
	t.final[rec.Key()] = rec
	t.res.Failures = append(t.res.Failures, Failure{Package: rec.Key(), Arch: rec.Architecture, Status: rec.Status, Err: err, Error: err.Error()})
}

// notInstalledRecord is what dpkg keeps of a package whose installation
// was undone: its name, architecture and selection.
func notInstalledRecord(name, arch string) *pkgdb.Package {
	return &pkgdb.Package{Name: name, Architecture: arch, Status: pkgdb.StatusNotInstalled,
		Control: "Package: " + name + "\nArchitecture: " + arch + "\n"}
}

// dropFailed takes the packages whose pre-commit scripts failed out of
// the transaction: their staged files and the directories staging made
// for them alone are removed, and file takeovers are worked out again
// without them.
func (t *txn) dropFailed() error {
	dropped := false
	var works []*work
	for _, w := range t.works {
		if !w.failed {
			works = append(works, w)
			continue
		}
		dropped = true
		for _, e := range w.ents {
			if e.tmp != "" {
				_ = t.st.rfs.remove(e.tmp, false)
				e.tmp = ""
			}
		}
	}
	var removes []*removal
	for _, r := range t.removes {
		if r.failed {
			dropped = true
			continue
		}
		removes = append(removes, r)
	}
	if !dropped {
		return nil
	}
	t.works, t.removes = works, removes
	need := map[string]bool{}
	for _, w := range t.works {
		for _, e := range w.ents {
			d := e.target
			if e.file.Type != pkgdb.TypeDir {
				d = filepath.Dir(d)
			}
			for ; len(d) > len(t.root) && !need[d]; d = filepath.Dir(d) {
				need[d] = true
			}
		}
	}
	t.st.mu.Lock()
	created := append([]string(nil), t.st.created...)
	sort.Slice(created, func(i, j int) bool { return len(created[i]) > len(created[j]) })
	var kept []string
	for _, d := range created {
		if need[d] {
			kept = append(kept, d)
			continue
		}
		_ = t.st.rfs.remove(d, true)
	}
	t.st.created = kept
	t.st.mu.Unlock()
	t.takeover = map[string][]string{}
	return t.checkConflicts()
}

// cfgItem is one package to configure: one of the transaction's, or one
// left unpacked or half-configured by an earlier run (rec).
type cfgItem struct {
	w   *work
	rec *pkgdb.Package
	pkg *deb.Package
}

func (it *cfgItem) name() string { return it.pkg.Name }

// key is the item's record key.
func (it *cfgItem) key() string {
	if it.w != nil {
		return it.w.key()
	}
	return it.rec.Key()
}

// depKey is the record key a dependency on name of a package of arch
// means: the instance of arch when the root or the run knows one (a
// Multi-Arch: same library of the depender's architecture), else the
// name's own record.
func depKey(name, arch, native string, known func(string) bool) string {
	if k := recordKey(name, arch, native); k != name && known(k) {
		return k
	}
	return name
}

// configureItems returns what the transaction configures, each package
// after those it depends on: its own packages and, with
// Options.ConfigurePending, the packages earlier runs left unpacked or
// half-configured.
func (t *txn) configureItems() []*cfgItem {
	var items []*cfgItem
	in := map[string]bool{}
	for _, w := range t.works {
		items = append(items, &cfgItem{w: w, pkg: w.pkg})
		in[w.key()] = true
	}
	for _, r := range t.removes {
		in[r.rec.Key()] = true
	}
	if t.opts.ConfigurePending {
		names := make([]string, 0, len(t.installed))
		for n := range t.installed {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			rec := t.installed[n]
			if in[n] || !rec.Pending() {
				continue
			}
			d, err := DebPackage(rec)
			if err != nil {
				continue
			}
			items = append(items, &cfgItem{rec: rec, pkg: d})
		}
	}
	return configureOrder(items, t.native)
}

// configureOrder sorts the packages so that each comes after the ones it
// depends on (Pre-Depends first, then Depends, among the packages to
// configure); a cycle is broken where it closes, in plan order, as dpkg
// configures the rest of a cycle once one member is.
func configureOrder(items []*cfgItem, native string) []*cfgItem {
	byName := map[string]*cfgItem{}
	for _, it := range items {
		byName[it.key()] = it
	}
	has := func(k string) bool { _, ok := byName[k]; return ok }
	state := map[*cfgItem]int{} // 0 new, 1 visiting, 2 done
	var out []*cfgItem
	var visit func(it *cfgItem)
	visit = func(it *cfgItem) {
		if state[it] != 0 {
			return
		}
		state[it] = 1
		for _, dep := range []relation.Dependency{it.pkg.PreDepends, it.pkg.Depends} {
			for _, rel := range dep {
				for _, p := range rel {
					if d, ok := byName[depKey(p.Name, it.pkg.Architecture, native, has)]; ok {
						visit(d)
					}
				}
			}
		}
		state[it] = 2
		out = append(out, it)
	}
	for _, it := range items {
		visit(it)
	}
	return out
}

// record returns the database record of it as unpacked, before configure.
func (t *txn) itemRecord(it *cfgItem) *pkgdb.Package {
	if it.w != nil {
		return t.record(it.w)
	}
	rec := *it.rec
	return &rec
}

// configure runs "postinst configure" for each item whose dependencies
// are configured, and records the outcome.
func (t *txn) configure(ctx context.Context, items []*cfgItem) {
	known := map[string]bool{}
	configured := map[string]bool{}
	for n, rec := range t.installed {
		known[n] = true
		if rec.Configured() {
			configured[n] = true
		}
	}
	for _, w := range t.works {
		known[w.key()] = true
		delete(configured, w.key())
	}
	for _, r := range t.removes {
		delete(configured, r.rec.Key())
	}
	for n, rec := range t.final {
		known[n] = true
		configured[n] = rec.Configured()
	}
	// queued holds the packages still to configure in this run. The
	// order puts dependencies first, so a queued dependency is one that
	// closes a cycle: dpkg breaks the cycle by configuring this one first,
	// and so does grey.
	queued := map[string]bool{}
	for _, it := range items {
		if it.w == nil || !it.w.failed {
			queued[it.key()] = true
		}
	}
	isKnown := func(k string) bool { return known[k] }
	done := 0
	for _, it := range items {
		if it.w != nil && it.w.failed {
			continue
		}
		delete(queued, it.key())
		rec := t.itemRecord(it)
		met := func(name string) bool {
			k := depKey(name, it.pkg.Architecture, t.native, isKnown)
			return configured[k] || queued[k] || !known[k]
		}
		if dep := unconfiguredDep(it.pkg, met); dep != "" {
			t.fail(rec, fmt.Errorf("%w: %s depends on %s, which is not configured", ErrDependsUnconfigured, it.name(), dep))
			continue
		}
		t.progress("configure", it.name(), &done)
		script := t.infoPath(rec.InfoName(), "postinst")
		if _, err := os.Stat(script); err == nil {
			if err := t.runScript(ctx, rec.Name, rec.Architecture, "postinst", script, "configure", rec.ConfigVersion); err != nil {
				rec.SetStatus(keepWant(rec), false, pkgdb.StateHalfConfigured)
				if it.w != nil {
					it.w.failed = true
				}
				t.fail(rec, err)
				continue
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			t.fail(rec, fmt.Errorf("postinst of %s: %w", rec.Name, err))
			continue
		}
		rec.SetStatus(keepWant(rec), false, pkgdb.StateInstalled)
		rec.ConfigVersion = ""
		configured[rec.Key()] = true
		t.done = append(t.done, rec)
		if it.w == nil {
			t.res.Changes = append(t.res.Changes, Change{Name: rec.Name, Arch: rec.Architecture, Action: "configure", NewVersion: rec.Version})
		}
	}
}

// keepWant is the selection a package being configured keeps: hold
// stays hold, anything else is install.
func keepWant(rec *pkgdb.Package) string {
	if rec.Held() {
		return "hold"
	}
	return "install"
}

// unconfiguredDep returns the first Pre-Depends or Depends of p none of
// whose alternatives is met; "" when every dependency is. configure's met
// counts names the root does not know (virtual packages, or ones the
// resolver vouched for) as met.
func unconfiguredDep(p *deb.Package, met func(string) bool) string {
	for _, dep := range []relation.Dependency{p.PreDepends, p.Depends} {
		for _, rel := range dep {
			ok := false
			for _, alt := range rel {
				if alt.Name == p.Name || met(alt.Name) {
					ok = true
					break
				}
			}
			if !ok && len(rel) > 0 {
				return rel[0].Name
			}
		}
	}
	return ""
}

// writeStates records, after the scripts, each package's final state:
// the configured ones installed, the failed ones as fail recorded them;
// it rewrites dpkg's status and completes the history entry.
func (t *txn) writeStates() error {
	if len(t.done) == 0 && len(t.final) == 0 {
		return nil
	}
	failed := map[string]bool{}
	for _, r := range t.removes {
		failed[r.rec.Key()] = r.failed
	}
	if t.journal != nil {
		// A removal whose postrm failed keeps its info files.
		var keep []pkgdb.JournalRemoved
		for _, r := range t.journal.Removed {
			if !failed[r.Name] {
				keep = append(keep, r)
			}
		}
		t.journal.Removed = keep
	}
	return t.db.Update(func(tx *bolt.Tx) error {
		edit := dpkgdb.Edit{Put: map[string][]byte{}, Drop: map[string]bool{}}
		for _, rec := range t.done {
			if err := putStanza(&edit, rec); err != nil {
				return err
			}
			if err := pkgdb.PutStatus(tx, rec); err != nil {
				return err
			}
		}
		names := make([]string, 0, len(t.final))
		for n := range t.final {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			rec := t.final[n]
			if err := putStanza(&edit, rec); err != nil {
				return err
			}
			if err := pkgdb.PutPackage(tx, rec); err != nil {
				return err
			}
		}
		if t.ownEntry {
			// Configure: the states it changed are a transaction of
			// their own in the history.
			pkgs, err := pkgdb.Packages(tx)
			if err != nil {
				return err
			}
			if err := t.recordHistory(tx, pkgs); err != nil {
				return err
			}
		}
		if t.res.HistoryID != 0 && len(t.res.Failures) > 0 {
			e, err := pkgdb.GetHistory(tx, t.res.HistoryID)
			if err != nil {
				return err
			}
			if e != nil {
				for _, f := range t.res.Failures {
					e.Failed = append(e.Failed, pkgdb.HistoryFailure{Package: f.Package, Status: t.final[f.Package].Status, Error: f.Error})
				}
				if err := pkgdb.PutHistory(tx, e); err != nil {
					return err
				}
			}
		}
		if t.journal != nil {
			if err := pkgdb.PutJournal(tx, t.journal); err != nil {
				return err
			}
		}
		if err := pkgdb.EnsureDpkgAdminDir(t.root); err != nil {
			return err
		}
		fp, err := WriteDpkgStatus(t.root, edit, t.opts.Sync)
		if err != nil {
			return err
		}
		fp.ExtendedStates = pkgdb.GetHostFingerprint(tx).ExtendedStates
		return pkgdb.PutHostFingerprint(tx, fp)
	})
}

// failedResult returns res with the error that reports its failures, or
// err when there is one, or nil.
func (t *txn) failedResult(err error) (*Result, error) {
	if err == nil && len(t.res.Failures) > 0 {
		// The status each package was finally left in.
		for i, f := range t.res.Failures {
			if rec := t.final[f.Package]; rec != nil {
				t.res.Failures[i].Status = rec.Status
			}
		}
		err = &FailedError{Failures: t.res.Failures}
	}
	return &t.res, err
}

// Configure does what "dpkg --configure --pending" does: it runs
// "postinst configure" for every package of the root that is unpacked or
// half-configured, dependencies first, and records each one's new state.
// The caller holds the root's lock. A package whose dependencies are not
// configured stays as it is; one whose postinst fails is half-configured
// and reported in a *FailedError. When the root has busybox, its applets
// stand in for commands the root lacks, as in a bootstrap.
func Configure(ctx context.Context, db DB, opts Options) (res *Result, err error) {
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", opts.Root, err)
	}
	opts.ConfigurePending = true
	t := &txn{opts: opts, root: root, db: db, faults: newFaults(), ownEntry: true}
	defer func() {
		if cerr := t.env.close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("remove the maintainer scripts' environment from %s: %w", root, cerr))
		}
	}()
	// dpkg's info and trigger files are read and written through the
	// root's os.Root (inroot.go), as in Apply.
	rfs, err := openRootFS(root)
	if err != nil {
		return nil, err
	}
	defer rfs.close()
	t.st = &stager{root: root, opts: &t.opts, rfs: rfs}
	if err := t.load(Plan{}); err != nil {
		return nil, err
	}
	t.res.Changes = []Change{}
	items := t.configureItems()
	if len(items) == 0 {
		return &t.res, nil
	}
	if !t.hasShell() {
		return nil, fmt.Errorf("configure: %s has no /bin/sh to run maintainer scripts", root)
	}
	// A root bootstrapped from a small closure lacks commands the
	// scripts assume: busybox stands in for them as during the bootstrap.
	cleanup, err := t.busyboxFallback(ctx)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	t.configure(ctx, items)
	if err := t.processTriggers(ctx, nil); err != nil {
		return &t.res, err
	}
	if err := t.writeStates(); err != nil {
		return &t.res, err
	}
	return t.failedResult(nil)
}

// PendingPackages returns the names of the root's packages that are
// unpacked or half-configured: what Configure would configure.
func PendingPackages(db DB) ([]string, error) {
	var out []string
	err := db.View(func(tx *bolt.Tx) error {
		pkgs, err := pkgdb.Packages(tx)
		for _, p := range pkgs {
			if p.Pending() {
				out = append(out, p.Key())
			}
		}
		return err
	})
	return out, err
}
