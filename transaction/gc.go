package transaction

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/pkgdb"
)

// GCResult reports what GC freed.
type GCResult struct {
	Freed int   `json:"freed"`
	Bytes int64 `json:"bytes"`
	Kept  int   `json:"kept"`
}

// GC deletes the contents of the root's store that neither the installed
// set nor the last keep history entries refer to (their files and info
// files). A rollback to an earlier entry then needs the package cache for
// what was freed, and says what is missing when it is not there either.
func GC(ctx context.Context, root string, db DB, keep int) (*GCResult, error) {
	ref := map[string]bool{}
	addSnap := func(tx *bolt.Tx, key string) error {
		s, err := pkgdb.GetSnapshot(tx, key)
		if err != nil {
			return err
		}
		for _, f := range pkgdb.WithLeftRoot(tx, s.Package).Files {
			if f.SHA256 != "" {
				ref[f.SHA256] = true
			}
		}
		for _, sum := range s.Info {
			ref[sum] = true
		}
		return nil
	}
	err := db.View(func(tx *bolt.Tx) error {
		pkgs, err := pkgdb.Packages(tx)
		if err != nil {
			return err
		}
		for _, p := range pkgs {
			for _, f := range p.Files {
				if f.SHA256 != "" {
					ref[f.SHA256] = true
				}
			}
		}
		hist, err := pkgdb.History(tx)
		if err != nil {
			return err
		}
		// The newest entry is the installed set: its info files stay.
		from := len(hist) - max(keep, 1)
		for _, e := range hist[max(from, 0):] {
			for _, key := range e.Snapshots {
				if err := addSnap(tx, key); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := &GCResult{}
	// Every access goes through the root's os.Root (inroot.go): a store,
	// or a directory of it, that is a link leading out of the root is
	// refused, never listed or emptied.
	store := OpenStore(root)
	defer store.Close()
	rfs, err := store.fs()
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	shards, err := rfs.readDir(store.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return res, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	for _, sh := range shards {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if !sh.IsDir() {
			continue
		}
		dir := filepath.Join(store.Dir, sh.Name())
		ents, err := rfs.readDir(dir)
		if err != nil {
			return res, fmt.Errorf("gc: %w", err)
		}
		for _, e := range ents {
			sum := sh.Name() + e.Name()
			if ref[sum] && !strings.HasPrefix(e.Name(), stagePrefix) {
				res.Kept++
				continue
			}
			fi, err := e.Info()
			if err == nil {
				res.Bytes += fi.Size()
			}
			if err := rfs.remove(filepath.Join(dir, e.Name()), false); err != nil {
				return res, fmt.Errorf("gc: %w", err)
			}
			res.Freed++
		}
		_ = rfs.remove(dir, true) // when empty
	}
	return res, nil
}
