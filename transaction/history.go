package transaction

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/pkgdb"
)

// recordHistory appends the transaction to the history, inside the
// commit's database write. pkgs is the installed set after.
func (t *txn) recordHistory(tx *bolt.Tx, pkgs []*pkgdb.Package) error {
	prev, err := pkgdb.LastHistory(tx)
	if err != nil {
		return err
	}
	touched := map[string]bool{}
	for _, w := range t.works {
		touched[w.key()] = true
		if w.old != nil {
			touched[w.old.Key()] = true
		}
	}
	for _, r := range t.removes {
		touched[r.rec.Key()] = true
	}
	for o := range t.takeover {
		touched[o] = true
	}
	// Packages whose state the scripts changed (Configure records its
	// entry after them).
	for _, rec := range t.done {
		touched[rec.Key()] = true
	}
	for k := range t.final {
		touched[k] = true
	}
	now := time.Now
	if t.opts.Now != nil {
		now = t.opts.Now
	}
	e := &pkgdb.HistoryEntry{
		Time: now().UTC(), Command: t.opts.Command, User: t.opts.User,
		Before: map[string]string{}, After: map[string]string{}, Snapshots: map[string]string{},
		World: []string{}, TreeHash: TreeHash(pkgs),
	}
	for name, p := range t.installed {
		if p.IsInstalled() {
			e.Before[name] = p.Version
		}
	}
	var rfs *rootFS
	if t.st != nil {
		rfs = t.st.rfs
	}
	if rfs == nil {
		// A transaction that stages nothing (Configure) has none open.
		r, err := openRootFS(t.root)
		if err != nil {
			return err
		}
		defer r.close()
		rfs = r
	}
	store := storeIn(rfs)
	for _, p := range pkgs {
		if p.IsInstalled() {
			e.After[p.Key()] = p.Version
			if !p.Auto {
				e.World = append(e.World, p.Key())
			}
		}
		if key, ok := snapshotOf(prev, p.Key()); ok && !touched[p.Key()] {
			e.Snapshots[p.Key()] = key
			continue
		}
		s, err := snapshot(rfs, store, p)
		if err != nil {
			return err
		}
		if e.Snapshots[p.Key()], err = pkgdb.PutSnapshot(tx, s); err != nil {
			return err
		}
	}
	t.res.HistoryID, err = pkgdb.AppendHistory(tx, e)
	return err
}

// snapshot stores p's info files (read through the root's os.Root) in
// the content store and returns the snapshot that can put p back.
func snapshot(rfs *rootFS, store *Store, p *pkgdb.Package) (*pkgdb.Snapshot, error) {
	s := &pkgdb.Snapshot{Package: p, Info: map[string]string{}}
	for _, ext := range infoExts {
		if p.IsConfigFiles() && ext != "list" && ext != "conffiles" && ext != "postrm" {
			continue
		}
		b, err := rfs.readFile(filepath.Join(rfs.host, pkgdb.DpkgAdminDir, "info", p.InfoName()+"."+ext))
		if err != nil {
			continue
		}
		sum, err := store.AddBytes(b)
		if err != nil {
			return nil, err
		}
		s.Info[ext] = sum
	}
	return s, nil
}

// managed returns the managed paths of pkgs, one record per path, sorted.
func managed(pkgs []*pkgdb.Package) []*pkgdb.File {
	n := 0
	for _, p := range pkgs {
		n += len(p.Files)
	}
	// Each path with its place, so an unstable sort (pdqsort, much faster
	// than a stable merge on 100,000s of paths) keeps records of one path
	// in package order.
	type at struct {
		f *pkgdb.File
		i int
	}
	all := make([]at, 0, n)
	for _, p := range pkgs {
		for i := range p.Files {
			all = append(all, at{&p.Files[i], len(all)})
		}
	}
	// Per path, the last record that is not a directory, else the first
	// (a sort, not a map: adopted roots have 100,000s of paths; of
	// pointers, not records, which are ten times larger).
	slices.SortFunc(all, func(a, b at) int {
		if c := strings.Compare(a.f.Path, b.f.Path); c != 0 {
			return c
		}
		return a.i - b.i
	})
	out := make([]*pkgdb.File, 0, len(all))
	for i := 0; i < len(all); {
		j, pick := i, all[i].f
		for ; j < len(all) && all[j].f.Path == all[i].f.Path; j++ {
			if all[j].f.Type != pkgdb.TypeDir {
				pick = all[j].f
			}
		}
		out = append(out, pick)
		i = j
	}
	return out
}

// treeLine appends one path's line in a tree hash to buf: a hard link
// counts as the regular file it is; a directory's mode is not part of it
// (packages that share a directory may ship it with different modes, and
// the first one wins).
func treeLine(buf []byte, f *pkgdb.File) []byte {
	buf = append(buf, f.Path...)
	switch f.Type {
	case pkgdb.TypeDir:
		buf = append(buf, "\x00dir\n"...)
	case pkgdb.TypeSymlink:
		buf = append(buf, "\x00symlink\x00"...)
		buf = append(buf, f.Link...)
		buf = append(buf, '\n')
	case pkgdb.TypeRegular, pkgdb.TypeHard:
		buf = append(buf, "\x00file\x00"...)
		buf = strconv.AppendUint(buf, uint64(f.Mode), 8)
		buf = append(buf, 0)
		buf = strconv.AppendInt(buf, f.Size, 10)
		buf = append(buf, 0)
		buf = append(buf, f.SHA256...)
		buf = append(buf, '\n')
	default:
		buf = append(buf, 0)
		buf = append(buf, f.Type...)
		buf = append(buf, 0)
		buf = strconv.AppendUint(buf, uint64(f.Mode), 8)
		buf = append(buf, '\n')
	}
	return buf
}

// treeHasher hashes tree lines through a buffer (one small write per
// path costs more than the hashing).
type treeHasher struct {
	h   hash.Hash
	buf []byte
}

func newTreeHasher() *treeHasher {
	return &treeHasher{h: sha256.New(), buf: make([]byte, 0, 64<<10)}
}

func (t *treeHasher) line(f *pkgdb.File) {
	t.buf = treeLine(t.buf, f)
	if len(t.buf) >= 60<<10 {
		t.h.Write(t.buf)
		t.buf = t.buf[:0]
	}
}

func (t *treeHasher) sum() string {
	t.h.Write(t.buf)
	return hex.EncodeToString(t.h.Sum(nil))
}

// TreeHash is the SHA256 of the managed paths of pkgs as the database
// records them: per path (sorted) its type, and for a regular file its
// mode, size and SHA256, for a symlink its target.
func TreeHash(pkgs []*pkgdb.Package) string {
	h := newTreeHasher()
	for _, f := range managed(pkgs) {
		h.line(f)
	}
	return h.sum()
}

// DiskTreeHash is TreeHash computed from the files in the root instead of
// the records: equal to TreeHash(pkgs) exactly when every managed path is
// as recorded.
//
// Every read goes through the root's os.Root: each path's directories
// resolved inside the root (chroot semantics), the file itself by name
// in its directory's descriptor.
func DiskTreeHash(ctx context.Context, root string, pkgs []*pkgdb.Package) (string, error) {
	rfs, err := openRootFS(root)
	if err != nil {
		return "", err
	}
	defer rfs.close()
	st := &stager{root: root, rfs: rfs}
	h := newTreeHasher()
	for _, f := range managed(pkgs) {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		p, err := st.resolve(strings.TrimPrefix(f.Path, "/"))
		if err != nil {
			return "", fmt.Errorf("tree hash: %w", err)
		}
		fi, err := rfs.lstatInfo(p)
		if err != nil {
			h.buf = append(append(h.buf, f.Path...), "\x00missing\n"...)
			continue
		}
		d := pkgdb.File{Path: f.Path}
		switch {
		case fi.IsDir():
			d.Type = pkgdb.TypeDir
		case fi.Mode()&fs.ModeSymlink != 0:
			d.Type = pkgdb.TypeSymlink
			d.Link, _ = rfs.readlink(p)
			if f.Type == pkgdb.TypeDir {
				// A symlink standing in for a directory (merged /usr).
				if dir, err := rfs.resolve(strings.TrimPrefix(f.Path, "/"), true); err == nil && rfs.isDir(dir) {
					d.Type, d.Link = pkgdb.TypeDir, ""
				}
			}
		case fi.Mode().IsRegular():
			d.Type, d.Mode, d.Size = pkgdb.TypeRegular, modeWord(fi.Mode()), fi.Size()
			if d.SHA256, err = rfs.sha256(p); err != nil {
				return "", fmt.Errorf("tree hash: %w", err)
			}
		default:
			d.Type = f.Type
			d.Mode = modeWord(fi.Mode())
		}
		h.line(&d)
	}
	return h.sum(), nil
}

// snapshotOf returns the snapshot key of name in e (nil e has none).
func snapshotOf(e *pkgdb.HistoryEntry, name string) (string, bool) {
	if e == nil {
		return "", false
	}
	k, ok := e.Snapshots[name]
	return k, ok
}

// VersionChange is one package in a history entry's summary.
type VersionChange struct {
	Name       string `json:"name"`
	OldVersion string `json:"old_version,omitempty"`
	NewVersion string `json:"new_version,omitempty"`
}

// HistorySummary is a history entry as commands show it: the packages it
// installed, upgraded, downgraded and removed, from its before and after
// sets.
type HistorySummary struct {
	ID         uint64          `json:"id"`
	Time       time.Time       `json:"time"`
	Command    string          `json:"command"`
	User       string          `json:"user,omitempty"`
	Installed  []VersionChange `json:"installed"`
	Upgraded   []VersionChange `json:"upgraded"`
	Downgraded []VersionChange `json:"downgraded"`
	Removed    []VersionChange `json:"removed"`
	World      []string        `json:"world"`
	TreeHash   string          `json:"tree_hash"`
	// Failed lists the packages a failing maintainer script left short
	// of installed or removed, with their state.
	Failed []pkgdb.HistoryFailure `json:"failed,omitempty"`
}

// Summarize compares e's before and after sets.
func Summarize(e *pkgdb.HistoryEntry) HistorySummary {
	s := HistorySummary{ID: e.ID, Time: e.Time, Command: strings.Join(e.Command, " "), User: e.User,
		Installed: []VersionChange{}, Upgraded: []VersionChange{}, Downgraded: []VersionChange{}, Removed: []VersionChange{},
		World: e.World, TreeHash: e.TreeHash, Failed: e.Failed}
	for name, nv := range e.After {
		ov, had := e.Before[name]
		switch c, _ := version.CompareStrings(nv, ov); {
		case !had:
			s.Installed = append(s.Installed, VersionChange{Name: name, NewVersion: nv})
		case c > 0:
			s.Upgraded = append(s.Upgraded, VersionChange{Name: name, OldVersion: ov, NewVersion: nv})
		case c < 0:
			s.Downgraded = append(s.Downgraded, VersionChange{Name: name, OldVersion: ov, NewVersion: nv})
		}
	}
	for name, ov := range e.Before {
		if _, ok := e.After[name]; !ok {
			s.Removed = append(s.Removed, VersionChange{Name: name, OldVersion: ov})
		}
	}
	for _, l := range [][]VersionChange{s.Installed, s.Upgraded, s.Downgraded, s.Removed} {
		sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	}
	return s
}

// ReadHistory returns the root's history entries, oldest first.
func ReadHistory(db DB) ([]*pkgdb.HistoryEntry, error) {
	var out []*pkgdb.HistoryEntry
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = pkgdb.History(tx)
		return err
	})
	return out, err
}

// ErrNoHistory matches (errors.Is) every *NoHistoryError.
var ErrNoHistory = errors.New("no such transaction")

// NoHistoryError says a transaction id is not in the history.
type NoHistoryError struct {
	// ID is the transaction asked for.
	ID uint64
}

func (e *NoHistoryError) Error() string {
	return fmt.Sprintf("no transaction %d in the history", e.ID)
}

// Is makes errors.Is(err, ErrNoHistory) hold.
func (e *NoHistoryError) Is(target error) bool { return target == ErrNoHistory }
