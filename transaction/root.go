package transaction

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/greypm/grey/pkgdb"
)

// Root is an opened root: its lock held and its database open.
type Root struct {
	// Dir is the root's absolute path.
	Dir  string
	DB   *pkgdb.DB
	lock *pkgdb.Lock
	// Recovered says what OpenRoot did about an interrupted transaction
	// ("undid interrupted install hello"); empty when there was none.
	Recovered string
}

// OpenRoot locks dir (waiting as lockOpts says) and opens its database,
// creating both when the root has none yet, and recovers an interrupted
// transaction (Root.Recovered says what it did). The lock comes first, so a
// second grey process waits on it (and is told who holds it) rather than
// on the database file.
func OpenRoot(ctx context.Context, dir string, lockOpts pkgdb.LockOptions) (*Root, error) {
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
	db, err := pkgdb.Open(abs, pkgdb.Options{})
	if err != nil {
		_ = lock.Unlock()
		return nil, err
	}
	// An interrupted transaction is finished or undone before anything
	// reads the root (see Recover).
	msg, err := Recover(ctx, abs, db)
	if err != nil {
		_ = db.Close()
		_ = lock.Unlock()
		return nil, err
	}
	return &Root{Dir: abs, DB: db, lock: lock, Recovered: msg}, nil
}

// Close closes the database and releases the lock.
func (r *Root) Close() error {
	err := r.DB.Close()
	if uerr := r.lock.Unlock(); err == nil {
		err = uerr
	}
	return err
}
