package transaction

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/pkgdb"
)

// stageSnapshot stages a package from the content store: the same work a
// .deb's data.tar gives (entries, hashes, conffile decisions), built from
// the snapshot's record, each content checked against its SHA256 before
// it is used.
func (s *stager) stageSnapshot(ctx context.Context, w *work) error {
	snap := w.item.Snapshot
	rec := snap.Package
	store := storeIn(s.rfs)
	name := rec.Name + " " + rec.Version + " (from the content store)"
	w.item.Path = name
	fields, err := control.ParseOne([]byte(rec.Control))
	if err != nil {
		return fmt.Errorf("%s: control: %w", name, err)
	}
	w.ctl = &archive.Control{Format: "2.0", Fields: fields, Control: []byte(rec.Control), MD5Sums: map[string]string{}}
	if w.pkg, err = deb.FromStanza(fields); err != nil {
		return fmt.Errorf("%s: control: %w", name, err)
	}
	exts := make([]string, 0, len(snap.Info))
	for ext := range snap.Info {
		exts = append(exts, ext)
	}
	sort.Strings(exts)
	for _, ext := range exts {
		data, err := store.Read(snap.Info[ext])
		if err != nil {
			return fmt.Errorf("%s: info file %s: %w", name, ext, err)
		}
		switch ext {
		case "list":
			continue
		case "md5sums":
			for _, l := range strings.Split(string(data), "\n") {
				if sum, p, ok := strings.Cut(l, "  "); ok {
					w.ctl.MD5Sums[p] = sum
				}
			}
		}
		w.ctl.Files = append(w.ctl.Files, archive.ControlFile{Name: ext, Mode: 0o644, Data: data})
	}
	if rec.Adopted {
		// Adopted from dpkg: the md5sums are in the file records.
		for _, f := range rec.Files {
			if f.MD5 != "" {
				w.ctl.MD5Sums[strings.TrimPrefix(f.Path, "/")] = f.MD5
			}
		}
	}
	conf := map[string]*pkgdb.Conffile{}
	for i := range rec.Conffiles {
		c := rec.Conffiles[i]
		conf[c.Path] = &c
		w.ctl.Conffiles = append(w.ctl.Conffiles, archive.Conffile{Path: c.Path})
	}
	w.k = recordKey(w.pkg.Name, w.pkg.Architecture, s.native)
	w.old = oldInstance(s.installed, w.pkg, w.k)
	w.byPath = map[string]*staged{}
	w.md5s = map[string]string{}
	for _, f := range rec.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel := strings.TrimPrefix(path.Clean(f.Path), "/")
		if rel == "" || rel == "." {
			continue
		}
		st := &staged{rel: rel, file: f}
		if f.Type == pkgdb.TypeDir {
			d, err := s.mkdirsOwned(rel, unixMode(setBits(f.Mode)|os.FileMode(f.Mode&0o777)), f.Uid, f.Gid)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			st.target = d.host
			w.ents = append(w.ents, st)
			w.byPath[rel] = st
			continue
		}
		// A diverted path goes where dpkg-divert sends it, as on unpack.
		use := strings.TrimPrefix(s.files.useName(rec.Name, "/"+rel), "/")
		d, err := s.mkdirsOwned(path.Dir(use), 0o755, 0, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		st.target = filepath.Join(d.host, path.Base(use))
		if !d.fresh {
			if s.rfs.isDir(st.target) {
				return fmt.Errorf("%s: cannot replace the directory /%s with a %s: %w", name, rel, f.Type, ErrConflict)
			}
		}
		st.tmp = filepath.Join(filepath.Dir(st.target), randomName())
		// In a fresh root, a file in a directory this transaction made
		// is staged at its own name (Options.Fresh): nothing else is
		// there, and the commit has no rename to do.
		inPlace := s.opts.Fresh && d.fresh
		switch f.Type {
		case pkgdb.TypeRegular:
			c := conf[f.Path]
			if obj, ok := w.item.Objects[f.Path]; ok && !copyInStore(f.Path, c != nil) {
				if err := s.stageAt(st, inPlace, func(p string) error { return s.linkObject(obj, p, f) }); err != nil {
					return fmt.Errorf("%s: /%s: %w", name, rel, err)
				}
			} else {
				s.noteTmp(st.tmp)
				// Still in the root only (installed and never replaced
				// since): stored now, then restored from the store as any.
				s.rootContents().fill(store, f.SHA256)
				if err := store.Restore(st.tmp, f, !copyInStore(f.Path, c != nil), s.euid); err != nil {
					return fmt.Errorf("%s: /%s: %w", name, rel, err)
				}
			}
			w.bytes += f.Size
			if c != nil {
				w.confs = append(w.confs, *c)
				if err := s.decideConffile(w, st); err != nil {
					return err
				}
			} else if sum, ok := w.ctl.MD5Sums[rel]; ok {
				w.md5s[rel] = sum
			}
		case pkgdb.TypeSymlink:
			if err := s.stageAt(st, inPlace, func(p string) error { return s.rfs.symlink(f.Link, p) }); err != nil {
				return fmt.Errorf("%s: symlink /%s: %w", name, rel, err)
			}
			s.chown(st.tmp, f.Uid, f.Gid, true)
		case pkgdb.TypeHard:
			other, ok := w.byPath[strings.TrimPrefix(f.Link, "/")]
			if !ok || other.tmp == "" {
				return fmt.Errorf("%s: hard link /%s to %s, which is not an earlier file of the package", name, rel, f.Link)
			}
			if err := s.rfs.link(other.tmp, st.tmp); err != nil {
				return fmt.Errorf("%s: hard link /%s: %w", name, rel, err)
			}
			s.noteTmp(st.tmp)
			if sum, ok := w.ctl.MD5Sums[rel]; ok {
				w.md5s[rel] = sum
			}
		default:
			return fmt.Errorf("%s: /%s is a %s, which rollback cannot restore", name, rel, f.Type)
		}
		w.ents = append(w.ents, st)
		w.byPath[rel] = st
	}
	return nil
}

// RollbackPlan is the plan that puts packages back as a history entry
// recorded them, with what the user should know.
type RollbackPlan struct {
	Plan Plan
	// Notes are messages for the user (a package whose edited conffile
	// keeps it from being purged).
	Notes []string
}

// Target says which state a rollback goes to: per package name, the
// snapshot key it should have, or "" for not installed.
type Target map[string]string

// TargetAfter is the whole installed set after transaction id: rollback.
func TargetAfter(db DB, id uint64) (Target, error) {
	e, err := entry(db, id)
	if err != nil {
		return nil, err
	}
	t := Target{}
	for name, key := range e.Snapshots {
		t[name] = key
	}
	// Everything installed now and not then goes.
	err = db.View(func(tx *bolt.Tx) error {
		pkgs, err := pkgdb.Packages(tx)
		for _, p := range pkgs {
			if _, ok := t[p.Key()]; !ok {
				t[p.Key()] = ""
			}
		}
		return err
	})
	return t, err
}

// TargetUndo reverses transaction id alone: the packages it changed go
// back to what they were before it (the snapshots of entry id-1), the
// others stay as they are.
func TargetUndo(db DB, id uint64) (Target, error) { return changedBy(db, id, true) }

// TargetRedo applies transaction id's changes again (after an undo): the
// packages it changed go to what they were after it.
func TargetRedo(db DB, id uint64) (Target, error) { return changedBy(db, id, false) }

func changedBy(db DB, id uint64, before bool) (Target, error) {
	e, err := entry(db, id)
	if err != nil {
		return nil, err
	}
	prev := &pkgdb.HistoryEntry{}
	if id > 1 {
		if prev, err = entry(db, id-1); err != nil {
			return nil, err
		}
	} else if len(e.Before) > 0 {
		return nil, fmt.Errorf("transaction 1 changed a root whose packages were installed before grey kept a history; there is nothing to go back to for them")
	}
	t := Target{}
	names := map[string]bool{}
	for n := range e.Snapshots {
		names[n] = true
	}
	for n := range prev.Snapshots {
		names[n] = true
	}
	for n := range names {
		if prev.Snapshots[n] == e.Snapshots[n] {
			continue
		}
		if before {
			t[n] = prev.Snapshots[n]
		} else {
			t[n] = e.Snapshots[n]
		}
	}
	return t, nil
}

func entry(db DB, id uint64) (*pkgdb.HistoryEntry, error) {
	var e *pkgdb.HistoryEntry
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		e, err = pkgdb.GetHistory(tx, id)
		return err
	})
	if err == nil && e == nil {
		err = &NoHistoryError{ID: id}
	}
	return e, err
}

// PlanRollback turns a target into a plan, entirely offline: a package
// whose state differs is put back from the content store (and the root,
// for contents still in it: rootContents), or from its
// .deb in the package cache (root/var/cache/grey/archives) when the store
// lacks some of its contents; a package the target does not have is
// purged (removed, keeping conffiles the user edited, when it has such).
// When a needed content is in neither place, it returns a *MissingError
// naming every one, before anything changes.
func PlanRollback(db DB, root string, target Target) (*RollbackPlan, error) {
	// The store, the root's contents and its conffiles are read through
	// the root's os.Root (inroot.go).
	rfs, abs, err := openRootFSAbs(root)
	if err != nil {
		return nil, err
	}
	defer rfs.close()
	store := storeIn(rfs)
	rp := &RollbackPlan{}
	var missing []string
	var roots *rootContents
	names := make([]string, 0, len(target))
	for n := range target {
		names = append(names, n)
	}
	sort.Strings(names)
	err = db.View(func(tx *bolt.Tx) error {
		pkgs, err := pkgdb.Packages(tx)
		if err != nil {
			return err
		}
		roots = newRootContents(abs, pkgs)
		roots.rfs = rfs
		for _, name := range names {
			key := target[name]
			cur, err := pkgdb.GetPackage(tx, name)
			if err != nil {
				return err
			}
			if key == "" {
				if cur == nil || cur.State() == pkgdb.StateNotInstalled {
					continue
				}
				purge := true
				for _, c := range cur.Conffiles {
					if sum, err := rfs.resolvedSHA256(c.Path); err == nil && sum != c.SHA256 {
						purge = false
						rp.Notes = append(rp.Notes, fmt.Sprintf("%s: %s was edited, so it stays (the package is removed, not purged)", name, c.Path))
					}
				}
				if cur.IsConfigFiles() && !purge {
					continue
				}
				rp.Plan.Remove = append(rp.Plan.Remove, Remove{Name: name, Purge: purge})
				continue
			}
			snap, err := pkgdb.GetSnapshot(tx, key)
			if err != nil {
				return err
			}
			if cur != nil && sameRecord(cur, snap.Package) {
				continue
			}
			// Files adopted from dpkg that a transaction took out of the
			// root come back as they were then (pkgdb.WithLeftRoot).
			snap = &pkgdb.Snapshot{Package: pkgdb.WithLeftRoot(tx, snap.Package), Info: snap.Info}
			if !snap.Package.IsInstalled() {
				// Only config files were left then: remove what is there now.
				if cur != nil && cur.IsInstalled() {
					rp.Plan.Remove = append(rp.Plan.Remove, Remove{Name: name})
				}
				continue
			}
			lack := lacking(store, roots, snap)
			if len(lack) == 0 {
				rp.Plan.Install = append(rp.Plan.Install, Install{Snapshot: snap, Auto: snap.Package.Auto})
				continue
			}
			p := snap.Package
			if cached := cachedDeb(root, p); cached != "" {
				rp.Plan.Install = append(rp.Plan.Install, Install{Path: cached, Auto: p.Auto})
				continue
			}
			for _, l := range lack {
				missing = append(missing, fmt.Sprintf("%s %s: %s", p.Name, p.Version, l))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, &MissingError{Items: missing}
	}
	return rp, nil
}

// lacking lists the contents of snap that neither the store nor the root
// has.
func lacking(store *Store, roots *rootContents, snap *pkgdb.Snapshot) []string {
	var out []string
	for _, f := range snap.Package.Files {
		if f.Type == pkgdb.TypeRegular && !roots.has(store, f.SHA256) {
			out = append(out, fmt.Sprintf("%s (sha256 %s)", f.Path, f.SHA256))
		}
	}
	for ext, sum := range snap.Info {
		if !store.Has(sum) {
			out = append(out, fmt.Sprintf("info file %s (sha256 %s)", ext, sum))
		}
	}
	sort.Strings(out)
	return out
}

// cachedDeb returns the package's .deb in the root's cache, or "": a
// regular file looked up through the root's os.Root (a link on the way
// leading out of the root is no cached package; Apply opens it through
// the os.Root too).
func cachedDeb(root string, p *pkgdb.Package) string {
	v := strings.ReplaceAll(p.Version, ":", "%3a")
	rel := filepath.Join(ArchivesDir, p.Name+"_"+v+"_"+p.Architecture+".deb")
	c := filepath.Join(root, rel)
	if filepath.Clean(root) == "/" {
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() {
			return c
		}
		return ""
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return ""
	}
	defer r.Close()
	if fi, err := r.Stat(rel); err == nil && fi.Mode().IsRegular() {
		return c
	}
	return ""
}

// sameRecord reports whether two records describe the same installed
// state.
func sameRecord(a, b *pkgdb.Package) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// stageAt creates st's staged file with make, logged before it exists:
// at st.target when inPlace (and st.tmp becomes st.target), unless
// another package staged that name already, else at st.tmp.
func (s *stager) stageAt(st *staged, inPlace bool, make func(p string) error) error {
	if inPlace {
		s.noteTmp(st.target)
		err := make(st.target)
		if err == nil {
			st.tmp = st.target
			return nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	s.noteTmp(st.tmp)
	return make(st.tmp)
}

// ObjectError is a file of Install.Objects that is not the file its
// record describes.
type ObjectError struct {
	Object string // its host path
	Path   string // the file of the package, absolute inside the root
	Reason string
}

func (e *ObjectError) Error() string {
	return fmt.Sprintf("%s (for %s): %s", e.Object, e.Path, e.Reason)
}

// linkObject hard-links obj, an Install.Objects file, to tmp after
// checking that it is a regular file with f's size, mode and (as root)
// owner: a file of another size is not f's content whatever its name,
// and a link shares the inode's mode and owner with every other root.
func (s *stager) linkObject(obj, tmp string, f pkgdb.File) error {
	var st unix.Stat_t
	if err := unix.Lstat(obj, &st); err != nil {
		return &ObjectError{obj, f.Path, err.Error()}
	}
	got := statInfo{obj, st}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return &ObjectError{obj, f.Path, "not a regular file"}
	case st.Size != f.Size:
		return &ObjectError{obj, f.Path, fmt.Sprintf("%d bytes, the package's file has %d", st.Size, f.Size)}
	case modeWord(got.Mode()) != f.Mode:
		return &ObjectError{obj, f.Path, fmt.Sprintf("mode %o, the package's file has %o", modeWord(got.Mode()), f.Mode)}
	case s.euid == 0 && (int(st.Uid) != f.Uid || int(st.Gid) != f.Gid):
		return &ObjectError{obj, f.Path, fmt.Sprintf("owner %d:%d, the package's file has %d:%d", st.Uid, st.Gid, f.Uid, f.Gid)}
	}
	return s.rfs.linkFrom(obj, tmp)
}
