package transaction

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/greypm/grey/deb/triggers"
	"github.com/greypm/grey/pkgdb"
)

// dpkg's interest index, under var/lib/dpkg/triggers: File lists the
// file triggers, one "PATH PACKAGE" line each; every named trigger has a
// file of its own, one "PACKAGE" line per interested package. "/noawait"
// follows the package for interest-noawait. dpkg reads these (not the
// packages' info/PKG.triggers) to find who is interested when it
// activates a trigger, so grey keeps them as dpkg does: a package's lines
// are written when it is unpacked and dropped when it is removed, and a
// name's file goes when no package is left in it.

// triggerIndexFile is dpkg's file of file-trigger interests.
const triggerIndexFile = "File"

// reservedTriggerNames are the other files of dpkg's triggers directory.
var reservedTriggerNames = map[string]bool{triggerIndexFile: true, "Lock": true, "Unincorp": true}

// dpkgName is the package's name as dpkg writes it in its trigger files
// (dpkg's "non-ambiguous" name): "name:arch" for a Multi-Arch: same
// package or one of a foreign architecture, else the name.
func dpkgName(rec *pkgdb.Package, native string) string {
	if rec.MultiArch == "same" {
		return rec.Name + ":" + rec.Architecture
	}
	return recordKey(rec.Name, rec.Architecture, native)
}

// checkTriggerNames refuses a package whose triggers file names an
// interest that cannot be a file of dpkg's triggers directory.
func checkTriggerNames(w *work) error {
	cf := w.ctl.File("triggers")
	if cf == nil {
		return nil
	}
	ds, err := triggers.ParseBytes(cf.Data)
	if err != nil {
		return fmt.Errorf("%s: control file triggers: %w", w.item.Path, err)
	}
	for _, d := range ds {
		if d.Kind != triggers.Interest || d.IsFile() {
			continue
		}
		if strings.Contains(d.Name, "/") || d.Name == "." || d.Name == ".." || reservedTriggerNames[d.Name] {
			return fmt.Errorf("%s: control file triggers: interest in %q, which is not a trigger name dpkg can record", w.item.Path, d.Name)
		}
	}
	return nil
}

// interestLine is one package's interest in one trigger.
type interestLine struct {
	trigger string // a path (file trigger) or a name
	pkg     string // dpkg's name of the package, with "/noawait"
}

// writeInterests updates dpkg's interest index for the commit: the lines
// of the packages it removes or replaces go, those of the packages it
// unpacks come from their triggers files. Files are replaced atomically
// (the journal holds dpkg's database as it was).
func (t *txn) writeInterests() error {
	drop := map[string]bool{}
	var add []interestLine
	for _, r := range t.removes {
		drop[dpkgName(r.rec, t.native)] = true
	}
	for _, w := range t.works {
		if w.old != nil {
			drop[dpkgName(w.old, t.native)] = true
		}
		rec := t.record(w)
		name := dpkgName(rec, t.native)
		drop[name] = true
		cf := w.ctl.File("triggers")
		if cf == nil {
			continue
		}
		ds, err := triggers.ParseBytes(cf.Data)
		if err != nil {
			return fmt.Errorf("%s: control file triggers: %w", w.item.Path, err)
		}
		for _, d := range ds {
			if d.Kind != triggers.Interest {
				continue
			}
			l := interestLine{trigger: d.Name, pkg: name}
			if d.NoAwait {
				l.pkg += "/noawait"
			}
			add = append(add, l)
		}
	}
	if len(drop) == 0 {
		return nil
	}
	// Through the root's os.Root (inroot.go): a triggers directory that
	// is, or is swapped for, a link leading out of the root is refused.
	rfs := t.st.rfs
	dir := filepath.Join(rfs.host, pkgdb.DpkgAdminDir, "triggers")
	ents, err := rfs.readDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("dpkg's triggers: %w", err)
	}
	if len(ents) == 0 && len(add) == 0 {
		return nil
	}
	// Each file's lines: what it has, less the dropped packages', plus
	// the new ones.
	files := map[string][]string{}
	changed := map[string]bool{}
	for _, e := range ents {
		n := e.Name()
		if n != triggerIndexFile && (reservedTriggerNames[n] || !e.Type().IsRegular()) {
			continue
		}
		data, err := rfs.readFile(filepath.Join(dir, n))
		if err != nil {
			return fmt.Errorf("dpkg's triggers: %w", err)
		}
		var kept []string
		for _, l := range strings.Split(string(data), "\n") {
			if l == "" {
				continue
			}
			pkg := l
			if n == triggerIndexFile {
				_, pkg, _ = strings.Cut(l, " ")
			}
			pkg, _, _ = strings.Cut(pkg, "/")
			if drop[pkg] {
				changed[n] = true
				continue
			}
			kept = append(kept, l)
		}
		files[n] = kept
	}
	for _, l := range add {
		n, line := l.trigger, l.pkg
		if strings.HasPrefix(l.trigger, "/") {
			n, line = triggerIndexFile, l.trigger+" "+l.pkg
		}
		if !contains(files[n], line) {
			files[n] = append(files[n], line)
			changed[n] = true
		}
	}
	names := make([]string, 0, len(changed))
	for n := range changed {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 0 {
		if err := rfs.root.MkdirAll(path.Join(pkgdb.DpkgAdminDir, "triggers"), 0o755); err != nil {
			return fmt.Errorf("dpkg's triggers: %w", rfs.named(err))
		}
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if len(files[n]) == 0 && n != triggerIndexFile {
			if err := rfs.remove(p, false); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("dpkg's triggers: %w", err)
			}
			continue
		}
		var b strings.Builder
		for _, l := range files[n] {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		if err := rfs.writeAtomic(p, []byte(b.String()), 0o644, t.opts.Sync); err != nil {
			return fmt.Errorf("dpkg's triggers: %w", err)
		}
	}
	return nil
}
