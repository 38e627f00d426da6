package transaction

import (
	"context"
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

	"github.com/greypm/grey/pkgdb"
)

// journalDir holds a transaction's copy of dpkg's database while the
// journal is open, relative to the root.
const journalDir = "var/lib/grey/journal"

// inRoot joins rel (read from the journal or the staging log) to root.
// Those are grey's own files, but a damaged one must not make recovery
// touch anything outside the root: ".." cannot climb above it.
func inRoot(root, rel string) string {
	return filepath.Join(root, filepath.Clean("/"+rel))
}

// relTo returns host's location relative to root, with a leading slash.
func relTo(root, host string) string {
	return "/" + strings.TrimPrefix(strings.TrimPrefix(host, root), "/")
}

// summary describes the plan for messages: "install hello, remove dash".
func (t *txn) summary() string {
	var parts []string
	for _, w := range t.works {
		verb := "install"
		if w.old != nil && w.old.IsInstalled() {
			verb = "upgrade"
		}
		parts = append(parts, verb+" "+w.name())
	}
	for _, r := range t.removes {
		parts = append(parts, "remove "+r.rec.Name)
	}
	if len(parts) > 6 {
		parts = append(parts[:6], fmt.Sprintf("and %d more", len(parts)-6))
	}
	return strings.Join(parts, ", ")
}

// beginJournal records, before the first rename, everything recovery
// needs to undo the transaction: the staged names, the directories staging
// created, the state before of every path the commit may change (the
// contents of regular files entered into the content store first) and a
// copy of dpkg's database. It is committed to the database (bbolt syncs
// it) before it returns.
func (t *txn) beginJournal() error {
	j := &pkgdb.Journal{Summary: t.summary(), Phase: pkgdb.JournalRenaming}
	t.st.mu.Lock()
	for _, p := range t.st.tmps {
		j.Staged = append(j.Staged, relTo(t.root, p))
	}
	for _, d := range t.st.created {
		j.Created = append(j.Created, relTo(t.root, d))
	}
	t.st.mu.Unlock()

	// Recorded files of the packages whose files may change, by path:
	// their hashes save reading the files.
	known := map[string]pkgdb.File{}
	conf := map[string]bool{}
	addRec := func(p *pkgdb.Package) {
		for _, f := range p.Files {
			known[f.Path] = f
		}
		for _, c := range p.Conffiles {
			conf[c.Path] = true
		}
	}
	var hosts []string
	seen := map[string]bool{}
	add := func(host string) {
		if !seen[host] {
			seen[host] = true
			hosts = append(hosts, host)
		}
	}
	for _, w := range t.works {
		if w.old != nil {
			addRec(w.old)
			for _, f := range w.old.Files {
				// A diverted file is where dpkg-divert sent it.
				if h, err := t.st.resolve(strings.TrimPrefix(t.st.files.useName(w.name(), f.Path), "/")); err == nil {
					add(h)
				}
			}
		}
		for _, e := range w.ents {
			if e.tmp == "" {
				continue
			}
			dst := e.target
			if e.keepLocal {
				dst += ".dpkg-new"
			}
			if e.tmp == dst {
				// Staged in place (Options.Fresh): nothing was there,
				// and undoing removes it with the staged names.
				continue
			}
			add(dst)
		}
	}
	for _, r := range t.removes {
		addRec(r.rec)
		for _, f := range r.rec.Files {
			h, err := t.st.resolve(strings.TrimPrefix(t.st.files.useName(r.rec.Name, f.Path), "/"))
			if err != nil {
				continue
			}
			add(h)
			if r.purge && r.rec.Conffile(f.Path) != nil {
				for _, ext := range []string{".dpkg-new", ".dpkg-old", ".dpkg-dist", ".dpkg-tmp"} {
					add(h + ext)
				}
			}
		}
	}
	rfs := t.st.rfs
	store := storeIn(rfs)
	var added []string
	ok := false
	had := map[string]bool{} // store directories there before
	if ents, err := rfs.readDir(store.Dir); err == nil {
		had[store.Dir] = true
		for _, e := range ents {
			had[filepath.Join(store.Dir, e.Name())] = true
		}
	}
	defer func() {
		if ok {
			return
		}
		// Failed (a full disk, say): what this journal added to the
		// store, the store directories it made, and its copy of dpkg's
		// database go again.
		for _, p := range added {
			_ = rfs.remove(p, false)
		}
		if ents, err := rfs.readDir(store.Dir); err == nil {
			for _, e := range ents {
				if d := filepath.Join(store.Dir, e.Name()); !had[d] {
					_ = rfs.remove(d, true) // when empty
				}
			}
		}
		if !had[store.Dir] {
			_ = rfs.remove(store.Dir, true)
		}
		_ = rfs.removeAll(filepath.Join(rfs.host, filepath.FromSlash(journalDir), "dpkg"))
	}()
	for _, host := range hosts {
		ps, stored, err := t.pathState(store, host, known, conf)
		if stored != "" {
			added = append(added, stored)
		}
		if err != nil {
			return err
		}
		j.Paths = append(j.Paths, ps)
	}
	if err := t.snapshotAdmin(j); err != nil {
		return err
	}
	if t.opts.Sync && len(added) > 0 {
		// The old contents must survive a power cut that the renames
		// survive: the stored copies and the new directory entries.
		dirs := map[string]bool{filepath.Join(t.root, filepath.FromSlash(journalDir), "dpkg"): true}
		for _, p := range added {
			dirs[filepath.Dir(p)] = true
		}
		if err := t.st.syncAll(append(added[:len(added):len(added)], dirList(dirs)...)); err != nil {
			return err
		}
	}
	if err := t.db.Update(func(tx *bolt.Tx) error { return pkgdb.PutJournal(tx, j) }); err != nil {
		return err
	}
	t.journal = j
	ok = true
	return nil
}

func dirList(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for d := range m {
		out = append(out, d)
	}
	return out
}

// pathState reads what host is now and, for a regular file, makes sure
// its content is in the store (returning the stored path when it added
// it).
func (t *txn) pathState(store *Store, host string, known map[string]pkgdb.File, conf map[string]bool) (ps pkgdb.PathState, stored string, err error) {
	rel := relTo(t.root, host)
	ps = pkgdb.PathState{Rel: rel}
	rfs := t.st.rfs
	st, err := rfs.lstat(host)
	if errors.Is(err, fs.ErrNotExist) {
		return ps, "", nil
	}
	if err != nil {
		return ps, "", fmt.Errorf("journal: %w", err)
	}
	fi := statInfo{host, st}
	ps.Exists = true
	ps.File = pkgdb.File{Path: rel, Mode: modeWord(fi.Mode())}
	ps.File.Uid, ps.File.Gid = int(st.Uid), int(st.Gid)
	switch {
	case fi.Mode().IsRegular():
		ps.File.Type = pkgdb.TypeRegular
		ps.File.Size = fi.Size()
		ps.Copy = copyInStore(rel, conf[rel])
		if k, ok := known[rel]; ok && (k.Type == pkgdb.TypeRegular || k.Type == pkgdb.TypeHard) && k.Size == fi.Size() && k.SHA256 != "" {
			ps.File.SHA256 = k.SHA256
		} else if ok && k.SHA256 == "" && k.MD5 != "" {
			// A file adopted from dpkg: its MD5 tells whether the content
			// is the one the record names (commitJournal, leftroot).
			var md string
			if ps.File.SHA256, md, err = rfs.hashes(host); err != nil {
				return ps, "", fmt.Errorf("journal: hash %s: %w", rel, err)
			}
			if md == k.MD5 {
				if t.leftMD5 == nil {
					t.leftMD5 = map[string]string{}
				}
				t.leftMD5[rel] = md
			}
		} else if ps.File.SHA256, err = rfs.sha256(host); err != nil {
			return ps, "", fmt.Errorf("journal: hash %s: %w", rel, err)
		}
		if stored, err = store.Add(host, ps.File.SHA256, ps.Copy); err != nil {
			return ps, "", err
		}
	case fi.IsDir():
		ps.File.Type = pkgdb.TypeDir
	case fi.Mode()&fs.ModeSymlink != 0:
		ps.File.Type = pkgdb.TypeSymlink
		if ps.File.Link, err = rfs.readlink(host); err != nil {
			return ps, "", fmt.Errorf("journal: %w", err)
		}
	default:
		// A device or fifo is not replaced by packages in practice;
		// recovery leaves it alone.
		ps.File.Type = pkgdb.TypeChar
	}
	return ps, stored, nil
}

// snapshotAdmin records dpkg's database as it is (hard links to its
// files: every change the commit makes there replaces or unlinks a file,
// so the links keep the old contents). Every access goes through the
// root's os.Root, the links by name in descriptors of their directories
// (rootFS: ten thousand info files take ten thousand linkat calls, not a
// lookup of every component for each).
func (t *txn) snapshotAdmin(j *pkgdb.Journal) error {
	rfs := t.st.rfs
	r := rfs.root
	cp := path.Join(journalDir, "dpkg")
	if err := r.RemoveAll(cp); err != nil {
		return fmt.Errorf("journal: %w", rfs.named(err))
	}
	j.AdminCopy = "/" + cp
	if _, err := r.Lstat(pkgdb.DpkgAdminDir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	j.AdminExisted = true
	if err := r.MkdirAll(cp, 0o755); err != nil {
		return fmt.Errorf("journal: %w", rfs.named(err))
	}
	host := func(rel string) string { return filepath.Join(rfs.host, filepath.FromSlash(rel)) }
	return fs.WalkDir(r.FS(), pkgdb.DpkgAdminDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("journal: %s: %w", host(p), err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, pkgdb.DpkgAdminDir), "/")
		if rel == "" {
			return nil
		}
		ps := pkgdb.PathState{Rel: rel, Exists: true}
		st, err := rfs.lstat(host(p))
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		ps.File.Mode = st.Mode & 0o7777
		switch {
		case d.IsDir():
			ps.File.Type = pkgdb.TypeDir
			if err := r.MkdirAll(path.Join(cp, rel), 0o755); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
		case d.Type()&fs.ModeSymlink != 0:
			ps.File.Type = pkgdb.TypeSymlink
			ps.File.Link, _ = r.Readlink(p)
		default:
			ps.File.Type = pkgdb.TypeRegular
			if err := rfs.link(host(p), host(path.Join(cp, rel))); err != nil {
				return fmt.Errorf("journal: copy of dpkg's database: %w", err)
			}
		}
		j.Admin = append(j.Admin, ps)
		return nil
	})
}

// commitJournal runs inside the commit's database write: the journal
// moves to the committed phase (what is left is finishing work) and the
// transaction becomes a history entry.
func (t *txn) commitJournal(tx *bolt.Tx, pkgs []*pkgdb.Package) error {
	j := t.journal
	if j == nil {
		return nil
	}
	if err := t.recordLeftRoot(tx, j.Paths); err != nil {
		return err
	}
	j.Phase = pkgdb.JournalCommitted
	j.Staged, j.Paths, j.Admin, j.Created = nil, nil, nil, nil
	for _, r := range t.removes {
		j.Removed = append(j.Removed, pkgdb.JournalRemoved{Name: r.rec.Key(), InfoName: r.rec.InfoName(),
			KeepConf: t.keepsConfigFiles(r)})
	}
	// The new contents do not enter the store here: they are in the
	// root, and a content is stored when it leaves the root (the journal
	// of the transaction that replaces or removes it, pathState), or
	// taken from the root by a rollback that needs it (rootContents).
	t.faults.at("stored")
	if err := t.recordHistory(tx, pkgs); err != nil {
		return err
	}
	if len(j.Removed) == 0 {
		// Nothing is left to finish: the journal closes with the commit.
		t.journal = nil
		return pkgdb.DeleteJournal(tx)
	}
	return pkgdb.PutJournal(tx, j)
}

// finishJournal does what is left after the commit (info files of
// removed packages) and closes the journal.
func (t *txn) finishJournal() error {
	if t.journal == nil {
		// Closed by the commit; only the copy of dpkg's database is left.
		if err := t.st.rfs.removeAll(filepath.Join(t.st.rfs.host, filepath.FromSlash(journalDir))); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		t.faults.at("closed")
		return nil
	}
	err := finishCommitted(t.st.rfs, t.db, t.journal, &t.faults)
	t.journal = nil
	return err
}

// finishCommitted completes a committed journal: it is idempotent, so a
// crash during it is finished by the next run.
func finishCommitted(rfs *rootFS, db DB, j *pkgdb.Journal, f *faults) error {
	root := rfs.host
	info := filepath.Join(root, pkgdb.DpkgAdminDir, "info")
	for _, r := range j.Removed {
		for _, ext := range infoExts {
			if r.KeepConf && (ext == "list" || ext == "conffiles" || ext == "postrm") {
				continue
			}
			_ = rfs.remove(filepath.Join(info, filepath.Base(r.InfoName)+"."+ext), false)
		}
		if !r.KeepConf {
			continue
		}
		// The config-files package's .list names only what is left.
		var rec *pkgdb.Package
		if err := db.View(func(tx *bolt.Tx) error {
			var err error
			rec, err = pkgdb.GetPackage(tx, r.Name)
			return err
		}); err != nil {
			return err
		}
		if rec != nil {
			if err := rfs.writeShrunk(filepath.Join(info, rec.InfoName()+".list"), pkgdb.ListFile(rec), 0o644, false); err != nil {
				return err
			}
		}
	}
	f.at("dropped-info")
	if err := rfs.removeAll(filepath.Join(root, filepath.FromSlash(journalDir))); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	err := db.Update(func(tx *bolt.Tx) error { return pkgdb.DeleteJournal(tx) })
	f.at("closed")
	return err
}

// Recover finishes or undoes a transaction that was interrupted (a crash,
// a kill, a power cut) in the root at root, and returns what it did for
// the user ("undid interrupted install hello"), or "" when there was
// nothing to do. The caller holds the root's lock. The rules:
//
//   - journal in the renaming phase: the database still holds the state
//     before, so the transaction is undone: staged files removed, every
//     recorded path put back as it was (contents from the content store,
//     checked), paths the transaction created removed, dpkg's database
//     restored from its copy, directories staging created removed;
//   - journal in the committed phase (kept past the commit only when
//     packages are removed): the database holds the state after, so the
//     transaction is finished (info files of removed packages deleted).
//
// A copy of dpkg's database left under var/lib/grey/journal without a
// journal (a crash after a commit that closed it) is simply deleted by the
// next transaction.
func Recover(ctx context.Context, root string, db DB) (string, error) {
	// Recovery reads and writes the journal's directory, the content
	// store and dpkg's database, all through the root's os.Root
	// (inroot.go); none may lead out.
	rfs, err := openRootFS(root)
	if err != nil {
		return "", err
	}
	defer rfs.close()
	if err := checkStateInside(rfs.root); err != nil {
		return "", err
	}
	var j *pkgdb.Journal
	if err := db.View(func(tx *bolt.Tx) error {
		var err error
		j, err = pkgdb.GetJournal(tx)
		return err
	}); err != nil {
		return "", err
	}
	if j == nil {
		// No journal: a crash during staging leaves at most staged
		// files and new directories, which the staging log names.
		summary, err := undoStaging(rfs)
		if err != nil {
			return "", err
		}
		if summary == "" {
			// At most a copy of dpkg's database from a transaction that
			// committed (and closed its journal) just before a crash.
			if err := rfs.removeAll(filepath.Join(rfs.host, filepath.FromSlash(journalDir))); err != nil {
				return "", fmt.Errorf("journal: %w", err)
			}
			return "", nil
		}
		return "undid interrupted " + summary + " (it had not changed anything yet)", nil
	}
	var f faults
	switch j.Phase {
	case pkgdb.JournalCommitted:
		if err := finishCommitted(rfs, db, j, &f); err != nil {
			return "", fmt.Errorf("finish interrupted %s: %w", j.Summary, err)
		}
		return "finished interrupted " + j.Summary, nil
	case pkgdb.JournalRenaming:
		if err := undo(ctx, rfs, j); err != nil {
			return "", fmt.Errorf("undo interrupted %s: %w", j.Summary, err)
		}
		if err := rfs.removeAll(filepath.Join(rfs.host, filepath.FromSlash(journalDir))); err != nil {
			return "", fmt.Errorf("journal: %w", err)
		}
		if err := db.Update(func(tx *bolt.Tx) error { return pkgdb.DeleteJournal(tx) }); err != nil {
			return "", err
		}
		return "undid interrupted " + j.Summary, nil
	}
	return "", fmt.Errorf("journal: unknown phase %q", j.Phase)
}

// undo puts the root back as the journal says it was.
func undo(ctx context.Context, rfs *rootFS, j *pkgdb.Journal) error {
	// Every change goes through an os.Root of the root and a descriptor of
	// the changed name's directory (inroot.go), as in the transaction.
	root := rfs.host
	for _, s := range j.Staged {
		if err := rfs.remove(inRoot(root, s), false); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", s, err)
		}
	}
	if err := restoreAdmin(rfs, j); err != nil {
		return err
	}
	store := storeIn(rfs)
	euid := os.Geteuid()
	paths := append([]pkgdb.PathState(nil), j.Paths...)
	// Directories that existed, parents first.
	sort.SliceStable(paths, func(a, b int) bool { return len(paths[a].Rel) < len(paths[b].Rel) })
	for _, ps := range paths {
		if ps.Exists && ps.File.Type == pkgdb.TypeDir {
			host := inRoot(root, ps.Rel)
			if rfs.isDir(host) {
				continue
			}
			_ = rfs.remove(host, false) // whatever stands in its place now
			if err := rfs.mkdir(host); err != nil {
				return fmt.Errorf("restore directory %s: %w", ps.Rel, err)
			}
			if euid == 0 {
				_ = rfs.lchown(host, ps.File.Uid, ps.File.Gid)
			}
			if err := rfs.chmod(host, unixMode(fs.FileMode(ps.File.Mode&0o777))|setBits(ps.File.Mode)); err != nil {
				return fmt.Errorf("restore directory %s: %w", ps.Rel, err)
			}
		}
	}
	var missing []string
	for _, ps := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		host := inRoot(root, ps.Rel)
		switch {
		case !ps.Exists:
			if st, err := rfs.lstat(host); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
				if err := rfs.disarm(host); err != nil {
					return err
				}
				if err := rfs.remove(host, false); err != nil {
					return fmt.Errorf("remove %s: %w", ps.Rel, err)
				}
			}
		case ps.File.Type == pkgdb.TypeRegular:
			if same, err := sameContent(rfs, store, host, ps.File, euid); err != nil {
				return err
			} else if same {
				continue
			}
			tmp := filepath.Join(filepath.Dir(host), randomName())
			if err := store.Restore(tmp, ps.File, !ps.Copy, euid); err != nil {
				missing = append(missing, fmt.Sprintf("%s (sha256 %s): %v", ps.Rel, ps.File.SHA256, err))
				continue
			}
			if err := rfs.disarm(host); err != nil {
				_ = rfs.remove(tmp, false)
				return err
			}
			if err := rfs.rename(tmp, host); err != nil {
				_ = rfs.remove(tmp, false)
				return fmt.Errorf("restore %s: %w", ps.Rel, err)
			}
		case ps.File.Type == pkgdb.TypeSymlink:
			if l, err := rfs.readlink(host); err == nil && l == ps.File.Link {
				continue
			}
			tmp := filepath.Join(filepath.Dir(host), randomName())
			if err := rfs.symlink(ps.File.Link, tmp); err != nil {
				return fmt.Errorf("restore %s: %w", ps.Rel, err)
			}
			if euid == 0 {
				_ = rfs.lchown(tmp, ps.File.Uid, ps.File.Gid)
			}
			if err := rfs.rename(tmp, host); err != nil {
				_ = rfs.remove(tmp, false)
				return fmt.Errorf("restore %s: %w", ps.Rel, err)
			}
		}
	}
	// Directories the transaction created, deepest first, when empty.
	var dirs []string
	for _, ps := range paths {
		if !ps.Exists {
			dirs = append(dirs, ps.Rel)
		}
	}
	dirs = append(dirs, j.Created...)
	sort.SliceStable(dirs, func(a, b int) bool { return len(dirs[a]) > len(dirs[b]) })
	for _, d := range dirs {
		host := inRoot(root, d)
		if host == filepath.Clean(root) {
			continue
		}
		if rfs.isDir(host) {
			_ = rfs.remove(host, true)
		}
	}
	if len(missing) > 0 {
		return &MissingError{Items: missing}
	}
	return nil
}

// sameContent reports whether host is already the regular file f.
func sameContent(rfs *rootFS, store *Store, host string, f pkgdb.File, euid int) (bool, error) {
	st, err := rfs.lstat(host)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("restore %s: %w", host, err)
	}
	fi := statInfo{host, st}
	if !fi.Mode().IsRegular() || fi.Size() != f.Size || modeWord(fi.Mode()) != f.Mode {
		return false, nil
	}
	if euid == 0 && (int(st.Uid) != f.Uid || int(st.Gid) != f.Gid) {
		return false, nil
	}
	if sst, err := store.stat(f.SHA256); err == nil && sst.Dev == st.Dev && sst.Ino == st.Ino {
		return true, nil
	}
	sum, err := rfs.sha256(host)
	return err == nil && sum == f.SHA256, nil
}

// restoreAdmin makes dpkg's database what it was when the journal was
// written: entries added since are removed, replaced files put back from
// the journal's hard links. Every access goes through the root's os.Root
// (files by name in descriptors of their directories, rootFS): a link in
// the root that leads out of it fails the restore, naming the path,
// rather than leading it out.
func restoreAdmin(rfs *rootFS, j *pkgdb.Journal) error {
	r := rfs.root
	fail := func(err error) error { return fmt.Errorf("restore dpkg database in %s: %w", rfs.host, err) }
	admin := pkgdb.DpkgAdminDir
	if !j.AdminExisted {
		if err := r.RemoveAll(admin); err != nil {
			return fail(err)
		}
		return nil
	}
	want := map[string]pkgdb.PathState{}
	for _, ps := range j.Admin {
		want[ps.Rel] = ps
	}
	var extra []string
	_ = fs.WalkDir(r.FS(), admin, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, admin), "/")
		if rel == "" {
			return nil
		}
		ps, ok := want[rel]
		if !ok || (ps.File.Type == pkgdb.TypeDir) != d.IsDir() {
			extra = append(extra, p)
			if d.IsDir() {
				return fs.SkipDir
			}
		}
		return nil
	})
	for _, p := range extra {
		if err := r.RemoveAll(p); err != nil {
			return fail(err)
		}
		rfs.forgetBelow(filepath.Join(rfs.host, filepath.FromSlash(p)))
	}
	// Names from the journal are grey's own, but a damaged one must not
	// climb: each is cleaned below its directory.
	in := func(dir, rel string) string { return path.Join(dir, path.Clean("/" + rel)[1:]) }
	host := func(rel string) string { return filepath.Join(rfs.host, filepath.FromSlash(rel)) }
	cp := strings.TrimPrefix(path.Clean("/"+j.AdminCopy), "/")
	for _, ps := range j.Admin { // parents come before children (walk order)
		dst := in(admin, ps.Rel)
		switch ps.File.Type {
		case pkgdb.TypeDir:
			if err := r.MkdirAll(dst, fs.FileMode(ps.File.Mode&0o777)); err != nil {
				return fail(err)
			}
		case pkgdb.TypeSymlink:
			if l, err := r.Readlink(dst); err == nil && l == ps.File.Link {
				continue
			}
			_ = rfs.remove(host(dst), false)
			if err := rfs.symlink(ps.File.Link, host(dst)); err != nil {
				return fail(err)
			}
		default:
			src := in(cp, ps.Rel)
			sst, err := rfs.lstat(host(src))
			if err != nil {
				return fail(fmt.Errorf("the journal's copy of %s: %w", ps.Rel, err))
			}
			if st, err := rfs.lstat(host(dst)); err == nil && st.Dev == sst.Dev && st.Ino == sst.Ino {
				continue
			}
			tmp := path.Join(path.Dir(dst), randomName())
			if err := rfs.link(host(src), host(tmp)); err != nil {
				return fail(err)
			}
			if err := rfs.rename(host(tmp), host(dst)); err != nil {
				_ = rfs.remove(host(tmp), false)
				return fail(err)
			}
		}
	}
	return nil
}

// stagingLogName is the staging log in journalDir: while packages are
// staged (before there is a journal in the database), every directory
// staging creates and every staged name is appended to it, one line each
// ("d REL" or "f REL"), after a first line "# SUMMARY". A write(2) per line
// and no fsync: what a crash can lose is the page cache, and with it the
// staged files themselves.
const stagingLogName = "staging"

// openLog starts the staging log of plan.
//
// The journal's directory is made and opened through the root's os.Root
// (a link there leading out of the root is refused), and the log is
// created, and later removed, by its name in that directory's descriptor
// (rootFS): a writer in the root swapping the directory for a link
// meanwhile cannot redirect either.
func (s *stager) openLog(plan Plan) error {
	dir := filepath.Join(s.rfs.host, filepath.FromSlash(journalDir))
	if err := s.rfs.root.MkdirAll(journalDir, 0o755); err != nil {
		return fmt.Errorf("staging log: %w", s.rfs.named(err))
	}
	f, err := s.rfs.createLog(filepath.Join(dir, stagingLogName))
	if err != nil {
		_ = s.rfs.remove(dir, true) // when empty: a refused transaction leaves nothing
		return fmt.Errorf("staging log: %w", err)
	}
	var names []string
	for _, it := range plan.Install {
		if it.Snapshot != nil {
			names = append(names, "restore "+it.Snapshot.Package.Name)
			continue
		}
		names = append(names, "install "+filepath.Base(it.Path))
	}
	for _, r := range plan.Remove {
		names = append(names, "remove "+r.Name)
	}
	if len(names) > 6 {
		names = append(names[:6], fmt.Sprintf("and %d more", len(names)-6))
	}
	if _, err := fmt.Fprintf(f, "# %s\n", strings.Join(names, ", ")); err != nil {
		// A full disk: nothing is staged yet, so the log goes, lest
		// the next command report an interrupted transaction.
		_ = f.Close()
		_ = s.rfs.remove(f.Name(), false)
		_ = s.rfs.remove(dir, true) // when empty
		return fmt.Errorf("staging log: %w", err)
	}
	s.mu.Lock()
	s.log = f
	s.mu.Unlock()
	return nil
}

// logLocked appends one line to the staging log; s.mu is held.
func (s *stager) logLocked(kind byte, host string) {
	if s.log == nil {
		return
	}
	_, _ = s.log.WriteString(string(kind) + " " + relTo(s.root, host) + "\n")
}

// dropLogLocked closes and deletes the staging log; s.mu is held.
func (s *stager) dropLogLocked() {
	if s.log == nil {
		return
	}
	_ = s.log.Close()
	_ = s.rfs.remove(s.log.Name(), false)
	_ = s.rfs.remove(filepath.Dir(s.log.Name()), true) // when empty: a failed transaction leaves nothing
	s.log = nil
}

// undoStaging removes what the staging log names: staged files (and any
// other staged name in the directories it names, in case a file was
// created and the process died before its line was written), then the
// directories staging created, deepest first. It returns the log's
// summary, "" when there is no log.
func undoStaging(rfs *rootFS) (string, error) {
	root := rfs.host
	p := filepath.Join(root, filepath.FromSlash(journalDir), stagingLogName)
	raw, err := rfs.readFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("staging log: %w", err)
	}
	summary := "staging"
	var dirs []string
	sweep := map[string]bool{}
	for _, l := range strings.Split(string(raw), "\n") {
		kind, rel, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		switch kind {
		case "#":
			summary = rel
		case "d":
			dirs = append(dirs, rel)
			sweep[rel] = true
		case "f":
			if err := rfs.remove(inRoot(root, rel), false); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("remove %s: %w", rel, err)
			}
			sweep[filepath.Dir(rel)] = true
		}
	}
	for d := range sweep {
		f, err := rfs.root.Open(rfs.phys(inRoot(root, d)))
		if err != nil {
			continue
		}
		ents, _ := f.ReadDir(-1)
		f.Close()
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), stagePrefix) {
				_ = rfs.remove(filepath.Join(inRoot(root, d), e.Name()), false)
			}
		}
	}
	sort.SliceStable(dirs, func(a, b int) bool { return len(dirs[a]) > len(dirs[b]) })
	for _, d := range dirs {
		if host := inRoot(root, d); host != filepath.Clean(root) && rfs.isDir(host) {
			_ = rfs.remove(host, true)
		}
	}
	if err := rfs.remove(p, false); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("staging log: %w", err)
	}
	_ = rfs.remove(filepath.Dir(p), true) // when empty
	return summary, nil
}
