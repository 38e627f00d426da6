package transaction

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/greypm/grey/pkgdb"
)

// Root is an opened root: its lock held and its database open.
type Root struct {
	// Dir is the root's absolute path.
	Dir  string
	DB   *pkgdb.DB
	lock *pkgdb.Lock
	dpkg *pkgdb.DpkgLock
	// Recovered says what OpenRoot did about an interrupted transaction
	// ("undid interrupted install hello"); empty when there was none.
	Recovered string
	// Synced says what dpkg and apt changed since grey last looked, now
	// brought into grey's database (SyncHost); nil or empty when nothing.
	Synced *SyncResult
	// tmp is a read-only view's private copy of the database.
	tmp string
}

// OpenRoot locks dir (waiting as lockOpts says) and opens its database,
// creating both when the root has none yet, and recovers an interrupted
// transaction (Root.Recovered says what it did). The lock comes first, so a
// second grey process waits on it (and is told who holds it) rather than
// on the database file.
func OpenRoot(ctx context.Context, dir string, lockOpts pkgdb.LockOptions) (*Root, error) {
	return OpenRootWith(ctx, dir, RootOptions{Lock: lockOpts})
}

// RootOptions tune OpenRootWith.
type RootOptions struct {
	Lock pkgdb.LockOptions
	// Now is the clock of the history entry of changes made outside grey.
	Now func() time.Time
	// ReadOnly opens for a command that changes nothing in the root: no
	// dpkg lock is taken, and a user who cannot write the root gets a
	// private copy of grey's database, with what dpkg changed brought into
	// the copy (OpenView).
	ReadOnly bool
}

// OpenRootWith is OpenRoot with a clock. After grey's lock it takes
// dpkg's (lock-frontend, then lock: pkgdb.LockDpkg) when the root has a
// dpkg database, so apt, dpkg and grey change a root one at a time, and
// then brings in what dpkg or apt changed since grey last looked
// (SyncHost; Root.Synced).
func OpenRootWith(ctx context.Context, dir string, opts RootOptions) (*Root, error) {
	lockOpts := opts.Lock
	if opts.ReadOnly {
		return openView(ctx, dir, opts)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", dir, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("root %s is not a directory", abs)
	}
	lock, err := pkgdb.LockRoot(ctx, abs, lockOpts)
	if err != nil {
		return nil, err
	}
	// dpkg's locks after grey's own: a grey waiting for another grey does
	// not hold dpkg's locks while it waits.
	dl, err := pkgdb.LockDpkg(ctx, abs, lockOpts)
	if err != nil {
		_ = lock.Unlock()
		return nil, err
	}
	r := &Root{Dir: abs, lock: lock, dpkg: dl}
	return r.load(ctx, opts)
}

// load opens the locked root's database, finishes or undoes an
// interrupted transaction before anything reads the root (see Recover)
// and takes in what dpkg changed (SyncHost). On an error it closes r.
func (r *Root) load(ctx context.Context, opts RootOptions) (*Root, error) {
	var err error
	if r.DB, err = pkgdb.Open(r.Dir, pkgdb.Options{}); err != nil {
		_ = r.Close()
		return nil, err
	}
	if r.Recovered, err = Recover(ctx, r.Dir, r.DB); err != nil {
		_ = r.Close()
		return nil, err
	}
	if r.Synced, err = SyncHost(r.Dir, r.DB, SyncOptions{Now: opts.Now}); err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

// Close closes the database and releases the locks.
func (r *Root) Close() error {
	var err error
	if r.DB != nil {
		err = r.DB.Close()
	}
	if r.tmp != "" {
		_ = os.RemoveAll(r.tmp)
	}
	if uerr := r.dpkg.Unlock(); err == nil {
		err = uerr
	}
	if uerr := r.lock.Unlock(); err == nil {
		err = uerr
	}
	return err
}

// OpenView opens dir for a command that only reads it (list, files,
// owns, history, why, a dry run), as dpkg -l reads dpkg's database: see
// RootOptions.ReadOnly.
func OpenView(ctx context.Context, dir string, opts RootOptions) (*Root, error) {
	opts.ReadOnly = true
	return OpenRootWith(ctx, dir, opts)
}

func openView(ctx context.Context, dir string, opts RootOptions) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", dir, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("root %s is not a directory", abs)
	}
	if canWrite(filepath.Join(abs, filepath.FromSlash(pkgdb.Path))) {
		// Whoever can write the root keeps grey's database current; it
		// waits for another grey, not for apt or dpkg.
		lock, err := pkgdb.LockRoot(ctx, abs, opts.Lock)
		if err != nil {
			return nil, err
		}
		r := &Root{Dir: abs, lock: lock}
		return r.load(ctx, opts)
	}
	return privateView(abs, opts)
}

// privateView is the view of a user who cannot write the root: a copy of
// grey's database in a temporary directory, removed by Close.
func privateView(abs string, opts RootOptions) (*Root, error) {
	tmp, err := os.MkdirTemp("", "grey-view-")
	if err != nil {
		return nil, fmt.Errorf("read-only view of %s: %w", abs, err)
	}
	r := &Root{Dir: abs, tmp: tmp}
	if err := pkgdb.CopyDB(abs, tmp); err != nil {
		_ = r.Close()
		return nil, err
	}
	if r.DB, err = pkgdb.Open(tmp, pkgdb.Options{}); err != nil {
		_ = r.Close()
		return nil, err
	}
	// This user cannot undo an interrupted transaction; answering from
	// the database would describe a root that is not there.
	if summary, err := interrupted(abs, r.DB); err != nil || summary != "" {
		_ = r.Close()
		if err == nil {
			err = &InterruptedError{Root: abs, Summary: summary, Running: lockHeld(abs)}
		}
		return nil, err
	}
	if r.Synced, err = SyncHost(abs, r.DB, SyncOptions{Now: opts.Now, NoSnapshots: true}); err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

// canWrite says the process may create or change p: write access to it,
// or to the nearest directory above it that exists.
func canWrite(p string) bool {
	for {
		err := unix.Access(p, unix.W_OK)
		if err == nil {
			return true
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false
		}
		up := filepath.Dir(p)
		if up == p {
			return false
		}
		p = up
	}
}

// InterruptedError is an interrupted transaction that the command cannot
// undo (its user cannot write the root): the root is neither as before
// nor as after it, so the command does not answer.
type InterruptedError struct {
	Root    string
	Summary string // "install hello, upgrade dash"
	// Running: another grey holds the root's lock, so the transaction
	// is in progress rather than interrupted.
	Running bool
}

func (e *InterruptedError) Error() string {
	if e.Running {
		return fmt.Sprintf("%s: a transaction is in progress (%s): the root is neither as before nor as after it yet; try again when it is done", e.Root, e.Summary)
	}
	return fmt.Sprintf("%s: a transaction was interrupted (%s) and is not undone yet: the root is neither as before nor as after it; "+
		"any grey command run by a user who can write the root (root) undoes it first", e.Root, e.Summary)
}

// interrupted returns the summary of an interrupted transaction in the
// root at abs, whose database (or a copy of it) is db: an open journal,
// or a staging log; "" when there is none.
func interrupted(abs string, db DB) (string, error) {
	var j *pkgdb.Journal
	if err := db.View(func(tx *bolt.Tx) error {
		var err error
		j, err = pkgdb.GetJournal(tx)
		return err
	}); err != nil {
		return "", err
	}
	if j != nil {
		return j.Summary, nil
	}
	raw, err := readOptionalIn(abs, path.Join(journalDir, stagingLogName)) // through the root's os.Root
	if err != nil || raw == nil {
		return "", nil // no staging log (or none this user may read)
	}
	summary := "staging"
	if first, _, _ := strings.Cut(string(raw), "\n"); strings.HasPrefix(first, "# ") {
		summary = strings.TrimPrefix(first, "# ")
	}
	return summary, nil
}

// lockHeld reports whether a process holds the root's lock (a shared lock
// on a read-only descriptor cannot be had).
func lockHeld(abs string) bool {
	f, err := os.Open(filepath.Join(abs, filepath.FromSlash(pkgdb.LockPath)))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}
