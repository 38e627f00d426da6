package transaction

import (
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/internal/parallel"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/pkgdb/dpkgdb"
)

// Commands recorded in the history entries of changes grey did not make.
const (
	// AdoptedCommand is the history entry of the first import of a root
	// that dpkg made.
	AdoptedCommand = "adopted from dpkg"
	// OutsideCommand is the history entry of a change that dpkg, apt or a
	// script made since grey last wrote dpkg's database.
	OutsideCommand = "outside grey"
)

// SyncOptions tune SyncHost.
type SyncOptions struct {
	// Now is the clock of the history entry; nil means time.Now.
	Now func() time.Time
	// NoSnapshots leaves the packages' info files out of the content store
	// (a read-only view cannot write it); the history entry then has no
	// snapshots of the packages it brought in.
	NoSnapshots bool
}

// SyncResult says what SyncHost brought in.
type SyncResult struct {
	// Added, Changed and Removed are instance names ("hello",
	// "libc6:i386") whose record was created, replaced or deleted.
	Added, Changed, Removed []string
	// Marks counts records whose automatic mark changed (apt-mark).
	Marks int
	// HistoryID is the entry recorded; 0 when only marks (or nothing) changed.
	HistoryID uint64
	// Adopted says this was the first import of a root dpkg made.
	Adopted bool
}

// Empty says nothing changed.
func (r *SyncResult) Empty() bool {
	return r == nil || len(r.Added)+len(r.Changed)+len(r.Removed)+r.Marks == 0
}

func (r *SyncResult) String() string {
	if r.Empty() {
		return "no changes"
	}
	what := OutsideCommand
	if r.Adopted {
		what = AdoptedCommand
	}
	return fmt.Sprintf("%s: %d added, %d changed, %d removed, %d marks", what, len(r.Added), len(r.Changed), len(r.Removed), r.Marks)
}

// NativeArch is the root's native architecture as dpkg sees it: that of
// the installed dpkg package, else the first line of dpkg's arch file,
// else the architecture grey was built for.
func NativeArch(entries []*dpkgdb.Entry, root string) string {
	for _, e := range entries {
		if e.Package == "dpkg" && e.Arch != "" && e.Arch != "all" {
			return e.Arch
		}
	}
	if archs, _ := dpkgdb.Architectures(root); len(archs) > 0 {
		return archs[0]
	}
	return deb.HostArch()
}

// instanceOf is the record key of a dpkg entry: the name for the native
// and "all" architectures, "name:arch" for a foreign instance.
func instanceOf(e *dpkgdb.Entry, native string) string {
	if e.Arch == "" || e.Arch == "all" || e.Arch == native {
		return ""
	}
	return dpkgdb.InstanceKey(e.Package, e.Arch)
}

// SyncHost brings what dpkg and apt changed in root since grey last wrote
// or read their databases into grey's: packages dpkg installed, changed
// (another version, another state, a hold) or removed, and apt's
// automatic marks. The first time, on a root dpkg made, that is adopting
// every package dpkg knows ("adopted from dpkg"); later it is an "outside
// grey" change. Either is one history entry, written with the records in
// one database transaction. Nothing in the root is touched (only grey's
// database and, unless opts.NoSnapshots, its content store). A root
// without dpkg's status file has nothing to sync.
func SyncHost(root string, db DB, opts SyncOptions) (*SyncResult, error) {
	// dpkg's and apt's files are read through the root's os.Root
	// (pkgdb.DpkgRoot): a var/lib/dpkg, its info directory or
	// var/lib/apt leading out of the root is refused, naming it.
	d, err := pkgdb.OpenDpkgRoot(root)
	if err != nil {
		return nil, fmt.Errorf("read dpkg's database: %w", err)
	}
	defer d.Close()
	statusPath := filepath.Join(root, dpkgdb.AdminDir, "status")
	status, err := d.ReadAdminFile("status")
	if err != nil {
		return nil, fmt.Errorf("read dpkg status: %w", err)
	}
	if status == nil {
		return &SyncResult{}, nil
	}
	esPath := filepath.Join(root, dpkgdb.ExtendedStatesPath)
	ext, err := d.ReadFile(dpkgdb.ExtendedStatesPath)
	if err != nil {
		return nil, fmt.Errorf("read apt extended states: %w", err)
	}
	fp := pkgdb.HostFingerprint{Status: pkgdb.Fingerprint(status), ExtendedStates: pkgdb.Fingerprint(ext), Known: true}
	var seen pkgdb.HostFingerprint
	if err := db.View(func(tx *bolt.Tx) error { seen = pkgdb.GetHostFingerprint(tx); return nil }); err != nil {
		return nil, err
	}
	if seen == fp {
		return &SyncResult{}, nil
	}
	entries, err := dpkgdb.ParseStatus(statusPath, status)
	if err != nil {
		return nil, err
	}
	es, err := dpkgdb.ParseExtendedStates(esPath, ext)
	if err != nil {
		return nil, err
	}
	native := NativeArch(entries, root)
	// Without apt (no extended_states, no var/lib/apt) there are no marks
	// to bring in.
	aptMarks := ext != nil
	if d.IsDir(path.Dir(dpkgdb.ExtendedStatesPath)) {
		aptMarks = true
	}

	var old []*pkgdb.Package
	if err := db.View(func(tx *bolt.Tx) (err error) { old, err = pkgdb.Packages(tx); return }); err != nil {
		return nil, err
	}
	byKey := make(map[string]*pkgdb.Package, len(old))
	for _, p := range old {
		byKey[p.Key()] = p
	}
	res := &SyncResult{Adopted: len(old) == 0}
	var puts []*pkgdb.Package
	var reads []fromDpkg
	var dels []string
	inDpkg := map[string]bool{}
	stateChanged := false
	for _, e := range entries {
		if e.State() == "not-installed" {
			continue
		}
		inst := instanceOf(e, native)
		key := e.Package
		if inst != "" {
			key = inst
		}
		inDpkg[key] = true
		auto := es.Auto[e.Key()]
		if e.Arch == "all" {
			auto = auto || es.Auto[dpkgdb.InstanceKey(e.Package, native)] // apt files "all" under the native arch
		}
		rec := byKey[key]
		if !aptMarks && rec != nil {
			auto = rec.Auto // no apt in the root: grey's marks are the only ones
		}
		hash := pkgdb.StanzaHash(e.Raw)
		if rec != nil && rec.StanzaHash == hash {
			if rec.Auto != auto && rec.IsInstalled() {
				cp := *rec
				cp.Auto = auto
				puts = append(puts, &cp)
				res.Marks++
			}
			continue
		}
		if rec != nil && rec.Version == e.Fields.Get("Version") && rec.Architecture == e.Arch && !rec.Adopted &&
			rec.IsInstalled() == (e.State() != "config-files") {
			// grey's own record of the same version: keep its file
			// records (modes, SHA256s); take dpkg's state and mark.
			cp := *rec
			if cp.Status != e.Status {
				stateChanged = true
				res.Changed = append(res.Changed, key)
			} else if cp.Auto != auto && cp.IsInstalled() {
				res.Marks++
			}
			cp.Status, cp.StanzaHash = e.Status, hash
			if cp.IsInstalled() {
				cp.Auto = auto
			}
			puts = append(puts, &cp)
			continue
		}
		reads = append(reads, fromDpkg{at: len(puts), e: e, auto: auto && e.State() != "config-files", inst: inst})
		puts = append(puts, nil) // read below, in parallel
		stateChanged = true
		if rec == nil {
			res.Added = append(res.Added, key)
		} else {
			res.Changed = append(res.Changed, key)
		}
	}
	if err := readFromDpkg(d, reads, puts); err != nil {
		return nil, err
	}
	for _, p := range old {
		if !inDpkg[p.Key()] {
			dels = append(dels, p.Key())
			res.Removed = append(res.Removed, p.Key())
			stateChanged = true
		}
	}
	sort.Strings(res.Added)
	sort.Strings(res.Changed)
	sort.Strings(res.Removed)
	enc, err := pkgdb.EncodePackages(puts)
	if err != nil {
		return nil, err
	}
	encoded := make(map[string]pkgdb.Encoded, len(puts))
	for i, p := range puts {
		encoded[p.Key()] = enc[i]
	}
	// The records after, from memory (decoding them back costs as much
	// as writing them), and their tree hash, computed while the records
	// are written.
	var pkgs []*pkgdb.Package
	treeHash := make(chan string, 1)
	if stateChanged {
		now := make(map[string]*pkgdb.Package, len(byKey)+len(puts))
		for k, p := range byKey {
			now[k] = p
		}
		for _, k := range dels {
			delete(now, k)
		}
		for _, p := range puts {
			now[p.Key()] = p
		}
		pkgs = make([]*pkgdb.Package, 0, len(now))
		for _, p := range now {
			pkgs = append(pkgs, p)
		}
		sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Key() < pkgs[j].Key() })
		go func() { treeHash <- TreeHash(pkgs) }()
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := pkgdb.EnsureInstalledBuckets(tx); err != nil {
			return err
		}
		for _, k := range dels {
			if err := pkgdb.DeletePackage(tx, k); err != nil {
				return err
			}
		}
		if err := pkgdb.PutEncodedPackages(tx, puts, enc); err != nil {
			return err
		}
		if stateChanged {
			var err error
			touched := map[string]bool{}
			for _, l := range [][]string{res.Added, res.Changed, res.Removed} {
				for _, k := range l {
					touched[k] = true
				}
			}
			cmd := OutsideCommand
			if res.Adopted {
				cmd = AdoptedCommand
			}
			if res.HistoryID, err = hostHistory(tx, root, old, pkgs, touched, encoded, <-treeHash, cmd, opts); err != nil {
				return err
			}
		}
		return pkgdb.PutHostFingerprint(tx, fp)
	})
	if err != nil {
		return nil, fmt.Errorf("bring in dpkg's changes: %w", err)
	}
	return res, nil
}

// fromDpkg is one package record to build from dpkg's database, into
// puts[at].
type fromDpkg struct {
	at   int
	e    *dpkgdb.Entry
	auto bool
	inst string
}

// readFromDpkg builds the records of reads into puts, on every CPU:
// reading 3,000 lists and md5sums is most of an adoption's reading.
func readFromDpkg(d *pkgdb.DpkgRoot, reads []fromDpkg, puts []*pkgdb.Package) error {
	// The error is the first in dpkg's order, as one by one.
	return parallel.Each(len(reads), func(i int) (err error) {
		r := reads[i]
		puts[r.at], err = d.FromDpkg(r.e, r.auto, r.inst)
		return err
	})
}

// hostHistory appends the history entry of a change grey did not make.
// encoded holds the stored form of the records just written, treeHash
// TreeHash(after).
func hostHistory(tx *bolt.Tx, root string, before, after []*pkgdb.Package, touched map[string]bool, encoded map[string]pkgdb.Encoded, treeHash, cmd string, opts SyncOptions) (uint64, error) {
	prev, err := pkgdb.LastHistory(tx)
	if err != nil {
		return 0, err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	e := &pkgdb.HistoryEntry{
		Time: now().UTC(), Command: []string{cmd},
		Before: map[string]string{}, After: map[string]string{}, Snapshots: map[string]string{},
		World: []string{}, TreeHash: treeHash,
	}
	for _, p := range before {
		if p.IsInstalled() {
			e.Before[p.Key()] = p.Version
		}
	}
	// The store and dpkg's info files are reached through the root's
	// os.Root (inroot.go).
	store := OpenStore(root)
	defer store.Close()
	rfs, err := store.fs()
	if err != nil {
		return 0, err
	}
	infoDir := filepath.Join(rfs.host, pkgdb.DpkgAdminDir, "info")
	// One listing of info/ tells which of a package's info files exist
	// (snapshot would try every extension of every package).
	has := map[string]bool{}
	if ents, err := rfs.readDir(infoDir); err == nil {
		for _, d := range ents {
			has[d.Name()] = true
		}
	}
	for _, p := range after {
		k := p.Key()
		if p.IsInstalled() {
			e.After[k] = p.Version
			if !p.Auto {
				e.World = append(e.World, k)
			}
		}
		if key, ok := snapshotOf(prev, k); ok && !touched[k] {
			e.Snapshots[k] = key
			continue
		}
		if opts.NoSnapshots {
			continue
		}
		info := map[string]string{}
		for _, ext := range infoExts {
			name := p.InfoName() + "." + ext
			if !has[name] || p.IsConfigFiles() && ext != "list" && ext != "conffiles" && ext != "postrm" {
				continue
			}
			// A restore writes the list from the record, and an adopted
			// record carries the md5sums in its files: neither needs its
			// own copy (they are most of the adoption's store writes).
			if ext == "list" || ext == "md5sums" && p.Adopted {
				continue
			}
			b, err := rfs.readFile(filepath.Join(infoDir, name))
			if err != nil {
				continue
			}
			if info[ext], err = store.AddBytes(b); err != nil {
				return 0, err
			}
		}
		if raw, ok := encoded[k]; ok {
			e.Snapshots[k], err = pkgdb.PutSnapshotEncoded(tx, k, raw, info)
		} else {
			e.Snapshots[k], err = pkgdb.PutSnapshot(tx, &pkgdb.Snapshot{Package: p, Info: info})
		}
		if err != nil {
			return 0, err
		}
	}
	return pkgdb.AppendHistory(tx, e)
}
