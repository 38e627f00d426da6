package transaction

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/pkgdb/dpkgdb"
)

// infoExts are the per-package files dpkg keeps in its info directory.
var infoExts = []string{"list", "md5sums", "conffiles", "preinst", "postinst", "prerm", "postrm",
	"config", "templates", "triggers", "shlibs", "symbols"}

// commit puts the staged files in place, removes what is gone, and writes
// both databases.
func (t *txn) commit() error {
	t.setid = setidPaths(t.journal)
	for _, w := range t.works {
		for _, e := range w.ents {
			if e.tmp == "" {
				continue
			}
			dst := e.target
			if e.keepLocal {
				dst += ".dpkg-new"
			}
			if e.tmp == dst {
				continue // staged in place (Options.Fresh)
			}
			if t.setid[relTo(t.root, dst)] {
				if err := t.st.rfs.disarm(dst); err != nil {
					return fmt.Errorf("commit %s: %w", e.file.Path, err)
				}
			}
			if err := t.st.rfs.rename(e.tmp, dst); err != nil {
				return fmt.Errorf("commit %s: %w", e.file.Path, err)
			}
			t.faults.at("rename")
		}
		w.ents = keepOwned(w.ents)
		t.res.Files += len(w.ents)
		t.res.Bytes += w.bytes
		t.res.Conffiles = append(t.res.Conffiles, w.notes...)
	}
	t.faults.at("renamed")
	if err := t.removeObsolete(); err != nil {
		return err
	}
	t.faults.at("removed")
	if err := pkgdb.EnsureDpkgAdminDir(t.root); err != nil {
		return err
	}
	for _, w := range t.works {
		if err := t.writeInfo(w); err != nil {
			return err
		}
	}
	if err := t.writeInterests(); err != nil { // trigfiles.go
		return err
	}
	if t.opts.Sync {
		// The renames and removals are durable once their directories are.
		dirs := map[string]bool{filepath.Join(t.root, pkgdb.DpkgAdminDir, "info"): true}
		for _, w := range t.works {
			for _, e := range w.ents {
				// A file's rename, or a new directory's creation, is an
				// entry in the parent.
				dirs[filepath.Dir(e.target)] = true
			}
		}
		for _, d := range t.removedDirs {
			dirs[d] = true
		}
		list := make([]string, 0, len(dirs))
		for d := range dirs {
			list = append(list, d)
		}
		if err := t.st.syncAll(list); err != nil {
			return err
		}
	}
	t.faults.at("info")
	return t.writeDatabases()
}

// setidPaths returns the paths (relative to the root, as the journal has
// them) of the setuid or setgid regular files the commit may replace or
// remove: the journal looked at each of them, so this costs no system
// call. They are disarmed before they go.
func setidPaths(j *pkgdb.Journal) map[string]bool {
	m := map[string]bool{}
	if j == nil {
		return m
	}
	for _, ps := range j.Paths {
		if ps.Exists && ps.File.Type == pkgdb.TypeRegular && ps.File.Mode&0o6000 != 0 {
			m[ps.Rel] = true
		}
	}
	return m
}

func keepOwned(ents []*staged) []*staged {
	out := ents[:0]
	for _, e := range ents {
		if !e.lost {
			out = append(out, e)
		}
	}
	return out
}

// stillOwned reports whether path p belongs, after this transaction, to a
// package other than the one giving it up.
func (t *txn) stillOwned(tx *bolt.Tx, p, giver string, incoming map[string]map[string]bool, leaving map[string]bool) bool {
	for name, paths := range incoming {
		if name != giver && t.st.files.useName(keyName(name), p) != p {
			continue // its copy is at the divert-to name
		}
		if paths[p] && name != giver {
			return true
		}
		if paths[p] && name == giver {
			return true // the new version of giver keeps it
		}
	}
	for _, o := range pkgdb.Owners(tx, p) {
		if o == giver || leaving[o] || t.st.files.useName(keyName(o), p) != p {
			continue
		}
		if _, up := incoming[o]; up {
			continue // its new version does not have it (checked above)
		}
		if taken := t.takeover[o]; contains(taken, p) {
			continue
		}
		return true
	}
	return false
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// removeObsolete deletes the files of removed packages and the files
// upgraded packages no longer ship, unless another package owns them.
// Directories go last, deepest first, and only when empty.
func (t *txn) removeObsolete() error {
	incoming := map[string]map[string]bool{}
	for _, w := range t.works {
		m := make(map[string]bool, len(w.ents))
		for _, e := range w.ents {
			m[e.file.Path] = true
		}
		incoming[w.key()] = m
	}
	leaving := map[string]bool{}
	for _, r := range t.removes {
		leaving[r.rec.Key()] = true
	}
	for _, w := range t.works {
		if w.old != nil && w.old.Key() != w.key() {
			leaving[w.old.Key()] = true // a crossgrade's old instance
		}
	}
	var files, dirs []string
	err := t.db.View(func(tx *bolt.Tx) error {
		consider := func(giver string, f pkgdb.File, purge bool, conf *pkgdb.Conffile) {
			// A diverted file is at its divert-to name, which no other
			// package ships (dpkg removes it there).
			use := t.st.files.useName(keyName(giver), f.Path)
			if use != f.Path {
				if incoming[giver][f.Path] {
					return
				}
			} else if t.stillOwned(tx, f.Path, giver, incoming, leaving) {
				return
			}
			if conf != nil && !purge {
				// A dropped or removed conffile stays unless unchanged
				// (upgrade) or purged.
				if leaving[giver] {
					return
				}
				if cur, err := t.st.rfs.resolvedSHA256(use); err != nil || cur != conf.SHA256 {
					return
				}
			}
			if f.Type == pkgdb.TypeDir {
				dirs = append(dirs, f.Path)
			} else {
				files = append(files, use)
				if conf != nil && purge {
					for _, ext := range []string{".dpkg-new", ".dpkg-old", ".dpkg-dist", ".dpkg-tmp"} {
						files = append(files, use+ext)
					}
				}
			}
		}
		for _, r := range t.removes {
			for _, f := range r.rec.Files {
				consider(r.rec.Key(), f, r.purge, r.rec.Conffile(f.Path))
			}
		}
		for _, w := range t.works {
			if w.old == nil {
				continue
			}
			for _, f := range w.old.Files {
				if !incoming[w.key()][f.Path] {
					consider(w.key(), f, false, w.old.Conffile(f.Path))
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range files {
		host, err := t.st.resolve(strings.TrimPrefix(p, "/"))
		if err != nil {
			return err
		}
		if st, err := t.st.rfs.lstat(host); err != nil || st.Mode&unix.S_IFMT == unix.S_IFDIR {
			continue
		}
		if t.setid[relTo(t.root, host)] {
			if err := t.st.rfs.disarm(host); err != nil {
				return fmt.Errorf("remove %s: %w", p, err)
			}
		}
		if err := t.st.rfs.remove(host, false); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", p, err)
		}
		t.removedDirs = append(t.removedDirs, filepath.Dir(host))
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, p := range dirs {
		host, err := t.st.resolve(strings.TrimPrefix(p, "/"))
		if err != nil {
			return err
		}
		// Only a real directory: a symlink standing in for one (a
		// merged-/usr root's /lib) is not the package's to remove.
		if !t.st.rfs.isDir(host) {
			continue
		}
		if err := t.st.rfs.remove(host, true); err != nil && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove directory %s: %w", p, err)
		}
		t.removedDirs = append(t.removedDirs, filepath.Dir(host))
	}
	return nil
}

// record builds w's database record from what was staged: unpacked, or
// installed when no scripts run.
func (t *txn) record(w *work) *pkgdb.Package {
	auto := w.item.Auto
	if w.old != nil && w.old.IsInstalled() {
		auto = w.old.Auto && w.item.Auto
	}
	if w.item.Snapshot != nil {
		auto = w.item.Snapshot.Package.Auto // a rollback restores the mark too
	}
	rec := &pkgdb.Package{
		Name: w.name(), Architecture: w.pkg.Architecture, Version: w.pkg.Version.String(),
		MultiArch: w.ctl.Fields.Get("Multi-Arch"), Essential: w.pkg.Essential,
		Status: pkgdb.StatusUnpacked, Auto: auto, Control: string(w.ctl.Control),
		Conffiles: w.confs,
	}
	if w.key() != w.name() {
		rec.Instance = w.key()
	}
	if t.opts.NoScripts {
		rec.Status = pkgdb.StatusInstalled
	} else if w.old != nil {
		// The version postinst configure is told was configured last.
		rec.ConfigVersion = w.old.ConfigVersion
		if w.old.Configured() {
			rec.ConfigVersion = w.old.Version
		}
	}
	if w.old != nil && w.old.Held() {
		rec.Status = rec.WithWant("hold") // dpkg keeps the selection across an upgrade
	}
	for _, e := range w.ents {
		rec.Files = append(rec.Files, e.file)
	}
	return rec
}

// writeInfo writes w's files under var/lib/dpkg/info, each replaced
// atomically, and deletes those its old version had and it has not.
func (t *txn) writeInfo(w *work) error {
	rec := t.record(w)
	name := rec.InfoName()
	files := map[string][]byte{"list": pkgdb.ListFile(rec)}
	var md5 strings.Builder
	for _, e := range w.ents {
		if sum, ok := w.md5s[e.rel]; ok && (e.file.Type == pkgdb.TypeRegular || e.file.Type == pkgdb.TypeHard) {
			fmt.Fprintf(&md5, "%s  %s\n", sum, e.rel)
		}
	}
	// dpkg writes md5sums for every package, empty when it has no
	// regular file (dpkg --audit reports a package without one).
	files["md5sums"] = []byte(md5.String())
	if len(rec.Conffiles) > 0 {
		files["conffiles"] = pkgdb.ConffilesFile(rec)
	}
	for _, cf := range w.ctl.Files {
		switch cf.Name {
		case "control", "md5sums", "conffiles":
			continue
		}
		if contains(infoExts, cf.Name) {
			files[cf.Name] = cf.Data
		}
	}
	for ext, data := range files {
		mode := fs.FileMode(0o644)
		switch ext {
		case "preinst", "postinst", "prerm", "postrm", "config":
			mode = 0o755
		}
		// Not synced here: the directory and file syncs that follow cover them.
		if err := t.st.rfs.writeAtomic(t.infoPath(name, ext), data, mode, false); err != nil {
			return err
		}
	}
	if w.old != nil {
		oldName := w.old.InfoName()
		for _, ext := range infoExts {
			if _, keep := files[ext]; keep && oldName == name {
				continue
			}
			_ = t.st.rfs.remove(t.infoPath(oldName, ext), false)
		}
	}
	return nil
}

// writeDatabases records the new state in one bbolt write transaction and
// rewrites dpkg's status file from it inside that transaction, so a failed
// status write leaves grey's database unchanged too.
func (t *txn) writeDatabases() error {
	return t.db.Update(func(tx *bolt.Tx) error {
		if err := pkgdb.EnsureInstalledBuckets(tx); err != nil {
			return err
		}
		for owner, paths := range t.takeover {
			rec, err := pkgdb.GetPackage(tx, owner)
			if err != nil || rec == nil {
				return err
			}
			var kept []pkgdb.File
			for _, f := range rec.Files {
				if !contains(paths, f.Path) {
					kept = append(kept, f)
				}
			}
			rec.Files = kept
			if err := pkgdb.PutPackage(tx, rec); err != nil {
				return err
			}
			if err := t.st.rfs.writeAtomic(t.infoPath(rec.InfoName(), "list"), pkgdb.ListFile(rec), 0o644, t.opts.Sync); err != nil {
				return err
			}
		}
		edit := dpkgdb.Edit{Put: map[string][]byte{}, Drop: map[string]bool{}}
		marks := map[string]*bool{} // dpkg instance key -> auto mark, nil: forget
		for _, r := range t.removes {
			keep := t.keepsConfigFiles(r)
			action := "remove"
			if r.purge {
				action = "purge"
			}
			t.res.Changes = append(t.res.Changes, Change{Name: r.rec.Name, Arch: r.rec.Architecture, Action: action, OldVersion: r.rec.Version})
			marks[dpkgKey(r.rec)] = nil
			if !keep {
				if err := pkgdb.DeletePackage(tx, r.rec.Key()); err != nil {
					return err
				}
				edit.Drop[dpkgKey(r.rec)] = true
				continue
			}
			rc := configFilesRecord(r.rec)
			if err := putStanza(&edit, rc); err != nil {
				return err
			}
			if err := pkgdb.PutPackage(tx, rc); err != nil {
				return err
			}
		}
		for _, w := range t.works {
			rec := t.record(w)
			if w.old != nil && dpkgKey(w.old) != dpkgKey(rec) {
				edit.Drop[dpkgKey(w.old)] = true
				marks[dpkgKey(w.old)] = nil
			}
			if w.old != nil && w.old.Key() != rec.Key() {
				// A crossgrade: the other architecture's record goes.
				if err := pkgdb.DeletePackage(tx, w.old.Key()); err != nil {
					return err
				}
			}
			if err := putStanza(&edit, rec); err != nil {
				return err
			}
			auto := rec.Auto
			marks[dpkgKey(rec)] = &auto
			if err := pkgdb.PutPackage(tx, rec); err != nil {
				return err
			}
			ch := Change{Name: rec.Name, Arch: rec.Architecture, Action: "install", NewVersion: rec.Version}
			if w.old != nil && w.old.IsInstalled() {
				ch.OldVersion = w.old.Version
				switch c, _ := version.CompareStrings(rec.Version, w.old.Version); {
				case c > 0:
					ch.Action = "upgrade"
				case c < 0:
					ch.Action = "downgrade"
				default:
					ch.Action = "reinstall"
				}
			}
			t.res.Changes = append(t.res.Changes, ch)
		}
		pkgs, err := pkgdb.Packages(tx)
		if err != nil {
			return err
		}
		if err := t.commitJournal(tx, pkgs); err != nil {
			return err
		}
		fp, err := WriteDpkgStatus(t.root, edit, t.opts.Sync)
		if err != nil {
			return err
		}
		if fp.ExtendedStates, err = WriteAutoMarks(t.root, marks, t.opts.Sync); err != nil {
			return err
		}
		return pkgdb.PutHostFingerprint(tx, fp)
	})
}

// dpkgKey is a record's instance key in dpkg's status and apt's
// extended_states: "name:arch".
func dpkgKey(p *pkgdb.Package) string { return dpkgdb.InstanceKey(p.Name, p.Architecture) }

// putStanza renders rec's status stanza into edit and records its hash
// in rec, so the next SyncHost knows the stanza as grey's own.
func putStanza(edit *dpkgdb.Edit, rec *pkgdb.Package) error {
	st, err := pkgdb.StatusStanza(rec)
	if err != nil {
		return err
	}
	raw, err := control.AppendStanza(nil, st)
	if err != nil {
		return fmt.Errorf("status stanza of %s: %w", rec.Name, err)
	}
	rec.StanzaHash = pkgdb.StanzaHash(raw)
	edit.Put[dpkgKey(rec)] = raw
	return nil
}

// WriteDpkgStatus applies edit to root's dpkg status file (created when
// missing) and replaces it atomically: the stanzas edit does not name stay
// byte for byte. It returns the fingerprint of the status written, for
// pkgdb.PutHostFingerprint (ExtendedStates is left empty).
func WriteDpkgStatus(root string, edit dpkgdb.Edit, sync bool) (pkgdb.HostFingerprint, error) {
	path := filepath.Join(root, pkgdb.DpkgAdminDir, "status")
	// Read and written through the root's os.Root (inroot.go).
	cur, err := readOptionalIn(root, pkgdb.DpkgAdminDir+"/status")
	if err != nil {
		return pkgdb.HostFingerprint{}, fmt.Errorf("read dpkg status: %w", err)
	}
	out, err := edit.Apply(path, cur)
	if err != nil {
		return pkgdb.HostFingerprint{}, err
	}
	if cur == nil || !bytes.Equal(cur, out) {
		if err := writeFileIn(root, pkgdb.DpkgAdminDir+"/status", out, 0o644, sync); err != nil {
			return pkgdb.HostFingerprint{}, err
		}
	}
	return pkgdb.HostFingerprint{Status: pkgdb.Fingerprint(out), Known: true}, nil
}

// WriteAutoMarks sets apt's automatic marks of the instance keys in marks
// (true: automatic, false: manual, nil: the package left) in
// var/lib/apt/extended_states, keeping the file's other stanzas byte for
// byte, and returns the fingerprint of the file after. A root without
// var/lib/apt (no apt) gets no file. Architecture "all" is written as the
// native architecture, as apt does.
func WriteAutoMarks(root string, marks map[string]*bool, sync bool) (string, error) {
	path := filepath.Join(root, dpkgdb.ExtendedStatesPath)
	cur, err := readOptionalIn(root, dpkgdb.ExtendedStatesPath)
	if err != nil {
		return "", fmt.Errorf("read apt extended states: %w", err)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() || len(marks) == 0 {
		return pkgdb.Fingerprint(cur), nil
	}
	es, err := dpkgdb.ParseExtendedStates(path, cur)
	if err != nil {
		return "", err
	}
	native := ""
	for k, m := range marks {
		name, arch, _ := strings.Cut(k, ":")
		if arch == "all" {
			if native == "" {
				native = nativeArchOf(root)
			}
			k = dpkgdb.InstanceKey(name, native)
		}
		if m == nil {
			es.Drop(k)
			continue
		}
		es.Set(k, *m)
	}
	out := es.Bytes()
	if cur != nil && bytes.Equal(cur, out) || cur == nil && len(out) == 0 {
		return pkgdb.Fingerprint(cur), nil
	}
	if err := writeFileIn(root, dpkgdb.ExtendedStatesPath, out, 0o644, sync); err != nil {
		return "", err
	}
	return pkgdb.Fingerprint(out), nil
}

// nativeArchOf reads the root's native architecture from dpkg's status,
// read through the root's os.Root.
func nativeArchOf(root string) string {
	path := filepath.Join(root, pkgdb.DpkgAdminDir, "status")
	data, _ := readOptionalIn(root, pkgdb.DpkgAdminDir+"/status")
	entries, _ := dpkgdb.ParseStatus(path, data)
	return NativeArch(entries, root)
}

// configFilesRecord is what stays of a removed package whose conffiles
// stay: the conffiles and the directories above them, so a later purge
// removes those directories too when nothing else holds them.
func configFilesRecord(rec *pkgdb.Package) *pkgdb.Package {
	rc := *rec
	rc.Status = pkgdb.StatusConfigFiles
	if rec.Configured() {
		rc.ConfigVersion = rec.Version
	}
	rc.Files = nil
	for _, f := range rec.Files {
		keep := rec.Conffile(f.Path) != nil
		if f.Type == pkgdb.TypeDir {
			for _, c := range rec.Conffiles {
				if strings.HasPrefix(c.Path, f.Path+"/") {
					keep = true
				}
			}
		}
		if keep {
			rc.Files = append(rc.Files, f)
		}
	}
	return &rc
}
