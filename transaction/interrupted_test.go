package transaction

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/pkgdb"
)

// TestPrivateViewReportsInterrupted: a user who cannot write the root
// (grey's read-only commands then read a private copy of the database)
// cannot undo an interrupted transaction, and must not answer as if the
// root were clean: the view is refused, naming the transaction, and says
// whether another grey is still running it (issue 12, item 3).
func TestPrivateViewReportsInterrupted(t *testing.T) {
	root, r := attackRoot(t)
	must(t, r.Close())
	if v, err := privateView(root, RootOptions{}); err != nil {
		t.Fatalf("a clean root: %v", err)
	} else {
		v.Close()
	}
	// A journal left by a killed transaction.
	db, err := pkgdb.Open(root, pkgdb.Options{})
	must(t, err)
	must(t, db.Update(func(tx *bolt.Tx) error {
		return pkgdb.PutJournal(tx, &pkgdb.Journal{Summary: "install hello", Phase: pkgdb.JournalRenaming})
	}))
	must(t, db.Close())
	var ie *InterruptedError
	_, err = privateView(root, RootOptions{})
	if !errors.As(err, &ie) || ie.Running || !strings.Contains(err.Error(), "interrupted (install hello)") {
		t.Errorf("journal: %v", err)
	}
	// The same while another grey holds the lock: in progress.
	lock, err := pkgdb.LockRoot(context.Background(), root, pkgdb.LockOptions{NoWait: true})
	must(t, err)
	_, err = privateView(root, RootOptions{})
	if !errors.As(err, &ie) || !ie.Running || !strings.Contains(err.Error(), "in progress (install hello)") {
		t.Errorf("journal, lock held: %v", err)
	}
	must(t, lock.Unlock())
	// Only a staging log (killed while staging).
	db, err = pkgdb.Open(root, pkgdb.Options{})
	must(t, err)
	must(t, db.Update(func(tx *bolt.Tx) error { return pkgdb.DeleteJournal(tx) }))
	must(t, db.Close())
	must(t, os.MkdirAll(filepath.Join(root, journalDir), 0o755))
	must(t, os.WriteFile(filepath.Join(root, journalDir, stagingLogName), []byte("# install dash\nd /opt\n"), 0o644))
	_, err = privateView(root, RootOptions{})
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "interrupted (install dash)") {
		t.Errorf("staging log: %v", err)
	}
}
