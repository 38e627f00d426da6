package transaction

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/pkgdb"
)

// txn is one transaction in progress.
type txn struct {
	opts Options
	root string
	db   DB
	// native is the root's native architecture; installed is keyed by
	// record key (recordKey: "name", or "name:arch" for a foreign one).
	native    string
	installed map[string]*pkgdb.Package
	works     []*work
	removes   []*removal
	st        *stager
	// takeover lists, per installed package that stays, the paths a
	// package in this transaction takes from it through Replaces.
	takeover map[string][]string
	// oldScripts holds the prerm/postrm/postinst of packages being upgraded or
	// removed, read before anything changes, keyed by record key then script.
	oldScripts map[string]map[string][]byte
	res        Result
	progressMu sync.Mutex
	// removedDirs are the directories files were removed from.
	removedDirs []string
	// fallbackPath is appended to the scripts' PATH during a bootstrap.
	fallbackPath string
	// env is what maintainer scripts need in a root that is not "/"
	// (scriptenv.go), set up before the first script and removed when
	// Apply returns.
	env *scriptEnv
	// journal is the open journal from the first rename on (journal.go).
	journal *pkgdb.Journal
	// setid are the setuid/setgid files the commit replaces or removes
	// (setidPaths), relative to the root.
	setid map[string]bool
	// faults is the test-only fault-injection hook (fault_*.go).
	faults faults
	// final holds the records of packages a failing script left short of
	// their goal, by name (lifecycle.go); done the records configured.
	final map[string]*pkgdb.Package
	done  []*pkgdb.Package
	// ownEntry: writeStates records a history entry of its own
	// (Configure, which has no commit to record one).
	ownEntry bool
	// leftMD5 holds, by path, the MD5 of files adopted from dpkg whose
	// content the journal stored and found as dpkg recorded it
	// (leftroot.go).
	leftMD5 map[string]string
}

// removal is one package to remove.
type removal struct {
	rec   *pkgdb.Package
	purge bool
	// failed: a script failed; the package stays as t.final says.
	failed bool
}

// applyOne executes plan in opts.Root as one transaction (see Apply).
func applyOne(ctx context.Context, db DB, plan Plan, opts Options) (res *Result, err error) {
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", opts.Root, err)
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	for _, it := range plan.Install {
		switch {
		case len(it.Objects) == 0:
		case it.Snapshot == nil:
			return nil, fmt.Errorf("install %s: outside files (Install.Objects) are for installs from a snapshot", it.Path)
		case !opts.NoScripts:
			return nil, fmt.Errorf("install %s from outside files (Install.Objects) with maintainer scripts: a script could write into a file other roots share", it.Snapshot.Package.Name)
		}
	}
	t := &txn{opts: opts, root: root, db: db, takeover: map[string][]string{}, oldScripts: map[string]map[string][]byte{}, faults: newFaults(), leftMD5: map[string]string{}}
	defer func() {
		if cerr := t.env.close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("remove the maintainer scripts' environment from %s: %w", root, cerr))
		}
	}()
	t.st = &stager{root: root, opts: &t.opts, euid: os.Geteuid(), egid: os.Getegid()}
	t.st.bufs.New = func() any { b := make([]byte, copyBufSize); return &b }
	t.faults.hook = opts.atStep
	t.st.faults = &t.faults
	if t.st.rfs, err = openRootFS(root); err != nil {
		return nil, err
	}
	defer t.st.rfs.close()
	if err := checkStateInside(t.st.rfs.root); err != nil { // statedirs.go
		return nil, err
	}
	if t.st.state, err = resolveStateDirs(t.st.rfs); err != nil {
		return nil, err
	}
	if opts.Sync {
		// Each package's staged files are fsynced once it is staged,
		// while later packages are still decoding, or, when little else
		// is waiting to be written, the file system is synced once after
		// staging (durable.go); see the wait below.
		fsRoot := ""
		switch opts.syncMode {
		case syncModeAuto:
			if useSyncfs(os.ReadFile("/proc/meminfo")) {
				fsRoot = root
			}
		case syncModeSyncfs:
			fsRoot = root
		}
		t.st.sync = newSyncer(fsRoot)
		defer func() { _ = t.st.sync.wait() }()
	}
	if err := t.load(plan); err != nil {
		return nil, err
	}
	if opts.Fresh && (!opts.NoScripts || len(t.installed) > 0) {
		return nil, fmt.Errorf("root %s: Options.Fresh is for a root with nothing installed, without maintainer scripts", root)
	}
	t.st.installed, t.st.native = t.installed, t.native
	if t.st.files, err = loadDpkgFiles(t.st.rfs.root); err != nil {
		return nil, err
	}
	free, _ := freeBytes(root) // unknown (0): no check, no cap from it
	if err := t.checkSpace(free); err != nil {
		return nil, err
	}
	t.st.free = free
	if err := t.st.openLog(plan); err != nil {
		return nil, err
	}
	if err := t.stageAll(ctx); err != nil {
		t.st.sync.abandon() // no fsync may race with the cleanup
		t.st.unstage()
		return nil, err
	}
	if err := t.checkInstalls(); err != nil {
		t.st.sync.abandon()
		t.st.unstage()
		return nil, err
	}
	bootstrap := !t.hasShell()
	// A conflict that a preinst's dpkg-divert may take away waits for the
	// preinsts (prediversions.go).
	var pending error
	if err := t.checkConflicts(); err != nil {
		if !errors.As(err, new(*ConflictError)) || opts.NoScripts || bootstrap || !t.mayDivert() {
			t.st.sync.abandon()
			t.st.unstage()
			return nil, err
		}
		pending = err
	}
	// Every staged file is durable before any rename makes it live
	// (nothing to wait for without Sync).
	if err := t.st.sync.wait(); err != nil {
		t.st.unstage()
		return nil, err
	}
	if !opts.NoScripts && !bootstrap {
		t.preScripts(ctx)
		if err := t.dropFailed(); err != nil && (pending == nil || !errors.As(err, new(*ConflictError))) {
			t.st.unstage()
			return nil, err
		}
		if err := t.afterPreinsts(ctx, pending); err != nil {
			t.st.unstage()
			return nil, err
		}
		if len(t.works) == 0 && len(t.removes) == 0 {
			// Every package failed before its unpack: only states change.
			t.st.unstage()
			return t.failedResult(t.writeStates())
		}
	}
	t.faults.at("staged")
	if err := t.beginJournal(); err != nil {
		t.st.unstage()
		return nil, err
	}
	t.st.mu.Lock()
	t.st.dropLogLocked() // the journal has it all now
	t.st.mu.Unlock()
	t.faults.at("journal")
	if err := t.commit(); err != nil {
		return nil, t.undoFailed(ctx, err)
	}
	t.faults.at("committed")
	if opts.NoScripts {
		t.dropRemovedInfo()
	} else {
		err := t.postScripts(ctx, bootstrap)
		if werr := t.writeStates(); werr != nil {
			err = errors.Join(err, werr)
		}
		if err != nil {
			if ferr := t.finishJournal(); ferr != nil {
				err = errors.Join(err, ferr)
			}
			return &t.res, err
		}
	}
	if err := t.finishJournal(); err != nil {
		return &t.res, err
	}
	return t.failedResult(nil)
}

// undoFailed undoes a commit that failed (a full disk at the database
// write, say) before Apply returns, from the journal in the database
// exactly as recovery after a crash would (the in-memory journal may be
// half way to the committed phase). When the undo fails too, the journal
// stays and the next command that opens the root tries again (OpenRoot);
// the error says which happened.
func (t *txn) undoFailed(ctx context.Context, cause error) error {
	msg, err := Recover(context.WithoutCancel(ctx), t.root, t.db)
	if err != nil {
		return fmt.Errorf("%w; undoing the transaction failed too (%v): the next grey command that opens %s will undo it", cause, err, t.root)
	}
	if msg == "" {
		return cause
	}
	return fmt.Errorf("%w (%s: the root is as it was)", cause, msg)
}

// load reads the installed set and every package's control part, and
// checks the plan against them, before anything is written.
func (t *txn) load(plan Plan) error {
	t.installed = map[string]*pkgdb.Package{}
	t.native = nativeArchOf(t.root)
	err := t.db.View(func(tx *bolt.Tx) error {
		pkgs, err := pkgdb.Packages(tx)
		for _, p := range pkgs {
			t.installed[p.Key()] = p
		}
		return err
	})
	if err != nil {
		return err
	}
	// The packages' control parts are read by the staging workers, in
	// parallel and in the same pass as their data; checkInstalls then
	// checks them against each other.
	for _, it := range plan.Install {
		t.works = append(t.works, &work{item: it})
	}
	names := map[string]bool{}
	plan.Remove = append([]Remove(nil), plan.Remove...) // the caller's stays as it is
	for i, r := range plan.Remove {
		r.Name = resolveRemoveName(t.installed, r.Name, t.native)
		plan.Remove[i].Name = r.Name
		if names[r.Name] {
			return fmt.Errorf("remove %s: named twice", r.Name)
		}
		rec := t.installed[r.Name]
		if rec == nil {
			return fmt.Errorf("remove %s: %w", r.Name, ErrNotInstalled)
		}
		if rec.IsConfigFiles() && !r.Purge {
			return fmt.Errorf("remove %s: only its config files are left (purge removes them): %w", r.Name, ErrNotInstalled)
		}
		if !rec.IsInstalled() && !rec.IsConfigFiles() {
			return fmt.Errorf("remove %s: %w", r.Name, ErrNotInstalled)
		}
		names[r.Name] = true
		t.removes = append(t.removes, &removal{rec: rec, purge: r.Purge})
		t.readOldScripts(rec)
	}
	return t.checkEssential(plan)
}

// checkInstalls checks the staged packages against each other and the
// removals, and reads the scripts of the versions they replace.
func (t *txn) checkInstalls() error {
	names := map[string]bool{}
	for _, r := range t.removes {
		names[r.rec.Key()] = true
	}
	for _, w := range t.works {
		if names[w.key()] || w.old != nil && w.old.Key() != w.key() && names[w.old.Key()] {
			return fmt.Errorf("%s: package %s is in the plan twice (or installed and removed)", w.item.Path, w.key())
		}
		names[w.key()] = true
		if w.old != nil {
			names[w.old.Key()] = true
		}
		if w.old != nil && w.old.IsInstalled() {
			t.readOldScripts(w.old)
		}
		if err := checkTriggerNames(w); err != nil {
			return err
		}
	}
	return t.checkInstances()
}

// readOldScripts keeps an installed package's scripts in memory: an
// upgrade replaces them in the info directory before the old postrm runs.
func (t *txn) readOldScripts(p *pkgdb.Package) {
	m := map[string][]byte{}
	for _, s := range []string{"prerm", "postrm", "postinst"} {
		if b, err := t.st.rfs.readFile(t.infoPath(p.InfoName(), s)); err == nil {
			m[s] = b
		}
	}
	t.oldScripts[p.Key()] = m
}

func (t *txn) infoPath(infoName, ext string) string {
	return filepath.Join(t.root, pkgdb.DpkgAdminDir, "info", infoName+"."+ext)
}

// stageAll stages every package, opts.Workers at a time.
func (t *txn) stageAll(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan *work)
	errs := make([]error, len(t.works))
	index := map[*work]int{}
	for i, w := range t.works {
		index[w] = i
	}
	var wg sync.WaitGroup
	done := 0
	for range t.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range jobs {
				if err := t.st.stagePackage(ctx, w); err != nil {
					errs[index[w]] = explainCap(err, w, t.st.free)
					cancel()
					continue
				}
				// Durable while the next packages decode.
				t.st.syncStaged(w)
				t.progress("unpack", w.item.Path, &done)
			}
		}()
	}
	// Largest first: the biggest package's decode is the critical path,
	// so it starts at once and the small ones fill the other worker.
	order := append([]*work(nil), t.works...)
	sizes := map[*work]int64{}
	for _, w := range order {
		if fi, err := os.Stat(w.item.Path); err == nil {
			sizes[w] = fi.Size()
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return sizes[order[i]] > sizes[order[j]] })
	for _, w := range order {
		if ctx.Err() != nil {
			break
		}
		jobs <- w
	}
	close(jobs)
	wg.Wait()
	// The first real error, not a cancellation caused by it.
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		if err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	return ctx.Err()
}

// progress counts one more package through phase and reports it.
func (t *txn) progress(phase, pkg string, done *int) {
	if t.opts.Progress == nil {
		return
	}
	t.progressMu.Lock()
	defer t.progressMu.Unlock()
	*done++
	t.opts.Progress(Progress{Phase: phase, Package: filepath.Base(pkg), Done: *done, Total: len(t.works)})
}

// hasShell reports whether the root can run maintainer scripts before
// anything is unpacked. An empty root cannot: there, as debootstrap and
// mmdebstrap do, preinst scripts run after the unpack.
func (t *txn) hasShell() bool {
	_, err := os.Stat(filepath.Join(t.root, "bin", "sh"))
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// replaces reports whether w's Replaces field covers the installed (or
// incoming) package owner at version ver.
func replaces(w *work, owner, ver string) bool {
	v, err := version.Parse(ver)
	for _, rel := range w.pkg.Replaces {
		for _, p := range rel {
			if p.Name != owner {
				continue
			}
			if err == nil && p.Satisfies(v) {
				return true
			}
		}
	}
	return false
}

// checkConflicts finds paths that two packages ship. A directory may be
// shared; anything else belongs to one package, and moves to a new one
// only if the new one Replaces the owner.
func (t *txn) checkConflicts() error {
	incoming := map[string]*work{}
	for _, w := range t.works {
		incoming[w.key()] = w
	}
	removing := map[string]bool{}
	for _, r := range t.removes {
		removing[r.rec.Key()] = true
	}
	claimed := map[string]*work{} // non-directory path -> incoming package
	return t.db.View(func(tx *bolt.Tx) error {
		for _, w := range t.works {
			for _, e := range w.ents {
				if e.file.Type == pkgdb.TypeDir {
					continue
				}
				p := e.file.Path
				if from, ok := t.st.files.divertedFrom(p); ok {
					return fmt.Errorf("%s: trying to overwrite %s, which is the diverted version of %s: %w", w.name(), p, from, ErrConflict)
				}
				// A diverted path: the diverting package's copy and the
				// others' (at the divert-to name) are different files,
				// which never conflict (dpkg).
				key := t.st.files.useName(w.name(), p)
				diverter, diverted := t.st.files.diverter(p)
				if prev, ok := claimed[key]; ok {
					switch {
					case prev.name() == w.name() && prev.pkg.MultiArch == deb.MultiArchSame && w.pkg.MultiArch == deb.MultiArchSame:
						// Two instances of a Multi-Arch: same package
						// share the path; it must be the same file.
						if pe := prev.byPath[e.rel]; pe == nil || !sameFile(pe.file, e.file) {
							return sharedError(w, p)
						}
						e.shared = true
						continue
					case replaces(w, prev.name(), prev.pkg.Version.String()):
					case replaces(prev, w.name(), w.pkg.Version.String()):
						continue // prev keeps it; w's copy is not renamed
					default:
						return &ConflictError{Path: p, Package: w.name(), Owner: prev.name()}
					}
				}
				claimed[key] = w
				for _, o := range pkgdb.Owners(tx, p) {
					if o == w.key() || removing[o] || w.old != nil && o == w.old.Key() {
						continue
					}
					if diverted && (keyName(o) == diverter || w.name() == diverter) {
						continue
					}
					if _, ok := incoming[o]; ok {
						// The owner is replaced in this transaction: its new
						// version drops the path, or ships it too and the
						// two were compared through claimed above.
						continue
					}
					rec := t.installed[o]
					if rec == nil || !rec.IsInstalled() {
						continue
					}
					if isDirOf(rec, p) {
						return &ConflictError{Path: p, Package: w.name(), Owner: o}
					}
					if sameInstances(w.pkg, rec) {
						// Another instance's copy: dpkg compares the
						// file in place with the incoming one.
						if !t.sameAsInstalled(rec, e) {
							return sharedError(w, p)
						}
						e.shared = true
						continue
					}
					if !replaces(w, rec.Name, rec.Version) {
						return &ConflictError{Path: p, Package: w.name(), Owner: o}
					}
					t.takeover[o] = append(t.takeover[o], p)
				}
			}
		}
		// A package that loses a path to a later one in the transaction
		// must not rename its copy over the winner's.
		for _, w := range t.works {
			for _, e := range w.ents {
				if e.file.Type != pkgdb.TypeDir && !e.shared && claimed[t.st.files.useName(w.name(), e.file.Path)] != w && e.tmp != "" {
					_ = t.st.rfs.remove(e.tmp, false)
					e.tmp = ""
					e.lost = true
				}
			}
		}
		return nil
	})
}

func isDirOf(rec *pkgdb.Package, p string) bool {
	for _, f := range rec.Files {
		if f.Path == p {
			return f.Type == pkgdb.TypeDir
		}
	}
	return false
}

// checkFile compares a package file with the size and SHA256 the index
// gave for it, then rewinds it.
func checkFile(f *os.File, it Install) error {
	if it.SHA256 == "" && it.Size == 0 {
		return nil
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("read %s: %w", it.Path, err)
	}
	if it.Size != 0 && n != it.Size {
		return fmt.Errorf("%s: %d bytes, the index says %d: %w", it.Path, n, it.Size, ErrChecksum)
	}
	if got := hex.EncodeToString(h.Sum(nil)); it.SHA256 != "" && !strings.EqualFold(got, it.SHA256) {
		return fmt.Errorf("%s: SHA256 %s, the index says %s: %w", it.Path, got, it.SHA256, ErrChecksum)
	}
	_, err = f.Seek(0, io.SeekStart)
	return err
}
