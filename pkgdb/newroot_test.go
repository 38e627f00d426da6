package pkgdb

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestNewRoot: a root that does not exist yet is made by what writes its
// state (the first grey update or install of a new --root), and is no
// error for what only reads or locks dpkg's database, which it does not
// have.
func TestNewRoot(t *testing.T) {
	base := t.TempDir()
	for _, tc := range []struct {
		name  string
		run   func(root string) error
		makes bool
	}{
		{"Open", func(root string) error {
			db, err := Open(root, Options{})
			if err == nil {
				err = db.Close()
			}
			return err
		}, true},
		{"LockRoot", func(root string) error {
			l, err := LockRoot(context.Background(), root, LockOptions{NoWait: true})
			if err == nil {
				err = l.Unlock()
			}
			return err
		}, true},
		{"EnsureDpkgAdminDir", EnsureDpkgAdminDir, true},
		{"LockDpkg", func(root string) error {
			l, err := LockDpkg(context.Background(), root, LockOptions{NoWait: true})
			if err == nil && l != nil {
				t.Errorf("a lock of a root that has no dpkg database")
			}
			return err
		}, false},
		{"CopyDB", func(root string) error { return CopyDB(root, filepath.Join(base, "copy")) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(base, tc.name, "new", "root")
			if err := tc.run(root); err != nil {
				t.Fatalf("%s of a new root: %v", tc.name, err)
			}
			_, err := os.Stat(root)
			if made := err == nil; made != tc.makes {
				t.Errorf("root made: %v, want %v", made, tc.makes)
			}
		})
	}
}
