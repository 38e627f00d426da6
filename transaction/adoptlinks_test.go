package transaction

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/internal/rootfs"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb"
)

// TestAttackAdoptLinksOutOfRoot: adoption (the first command on a root
// dpkg made, and every command after dpkg or apt changed it) reads dpkg's
// status and info files and apt's extended_states; in a root where one of
// their directories is a symbolic link out of it, the command is refused
// with an error naming the link, and nothing is read from, written to or
// adopted from the outside (issue 12, item 9: they were read by path).
func TestAttackAdoptLinksOutOfRoot(t *testing.T) {
	for _, state := range []string{"var/lib/dpkg/info", "var/lib/apt", "var/lib/dpkg"} {
		t.Run(state, func(t *testing.T) {
			root := fakeHostRoot(t)
			outside := filepath.Join(t.TempDir(), "outside")
			link := filepath.Join(root, state)
			must(t, os.Rename(link, outside))
			must(t, os.Symlink(outside, link))
			before := testfixture.TreeListing(t, outside)
			r, err := OpenRoot(context.Background(), root, pkgdb.LockOptions{NoWait: true})
			if err == nil {
				r.Close()
			}
			// The state directories' check (statedirs.go) refuses some
			// first; adoption's own reads refuse the rest.
			if !strings.Contains(fmt.Sprint(err), link) || !strings.Contains(fmt.Sprint(err), "leads out of the root") {
				t.Errorf("error %v; want one saying %s leads out of the root", err, link)
			}
			if got := testfixture.TreeListing(t, outside); got != before {
				t.Errorf("outside the root changed:\n%s", testfixture.DiffListings(before, got))
			}
			db, err := pkgdb.Open(root, pkgdb.Options{})
			must(t, err)
			defer db.Close()
			// Adoption itself, without the check before it.
			_, err = SyncHost(root, db, SyncOptions{NoSnapshots: true})
			if !errors.Is(err, rootfs.ErrOutside) || !strings.Contains(err.Error(), link+" (-> "+outside+") leads out of the root") {
				t.Errorf("sync: %v; want an error saying %s leads out of the root", err, link)
			}
			if got := testfixture.TreeListing(t, outside); got != before {
				t.Errorf("outside the root changed:\n%s", testfixture.DiffListings(before, got))
			}
			if n := countPackages(t, db); n != 0 {
				t.Errorf("%d packages adopted through the link", n)
			}
		})
	}
}

// countPackages counts the records in db.
func countPackages(t *testing.T, db *pkgdb.DB) int {
	t.Helper()
	n := 0
	must(t, db.View(func(tx *bolt.Tx) error {
		pkgs, err := pkgdb.Packages(tx)
		n = len(pkgs)
		return err
	}))
	return n
}
