package transaction

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/greypm/grey/internal/rootfs"
	"github.com/greypm/grey/pkgdb"
)

// GreyStateDir is grey's own state directory in a root (database, lock,
// journal, content store), relative to the root.
const GreyStateDir = "var/lib/grey"

// dpkgShippedDirs are the directories under dpkg's database that the dpkg
// package itself ships (and dpkg creates); a package may ship them as
// directories, nothing else under var/lib/dpkg.
var dpkgShippedDirs = map[string]bool{
	pkgdb.DpkgAdminDir:                   true,
	pkgdb.DpkgAdminDir + "/alternatives": true,
	pkgdb.DpkgAdminDir + "/info":         true,
	pkgdb.DpkgAdminDir + "/parts":        true,
	pkgdb.DpkgAdminDir + "/updates":      true,
	pkgdb.DpkgAdminDir + "/triggers":     true,
}

// stateDirs are the host paths of grey's and dpkg's state directories in
// a root, resolved with the same chroot semantics as package paths, so
// that a path which reaches them through a symlink compares equal.
type stateDirs struct {
	grey, dpkg string
}

func resolveStateDirs(r *rootFS) (stateDirs, error) {
	g, err := r.resolve(GreyStateDir, true)
	if err != nil {
		return stateDirs{}, err
	}
	d, err := r.resolve(pkgdb.DpkgAdminDir, true)
	if err != nil {
		return stateDirs{}, err
	}
	return stateDirs{grey: g, dpkg: d}, nil
}

// under reports whether p is dir or below it (both cleaned, same form).
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// checkStateRel refuses a package entry whose path (relative, cleaned, no
// leading slash) is in grey's state directory, or in dpkg's other than the
// directories the dpkg package ships: the package managers' databases
// are theirs alone (dpkg refuses the same).
func checkStateRel(rel string, isDir bool) error {
	switch {
	case under(rel, GreyStateDir):
		return fmt.Errorf("entry /%s is in grey's state directory /%s: %w", rel, GreyStateDir, ErrUnsafePath)
	case under(rel, pkgdb.DpkgAdminDir) && !(isDir && dpkgShippedDirs[rel]):
		return fmt.Errorf("entry /%s is in dpkg's database /%s: %w", rel, pkgdb.DpkgAdminDir, ErrUnsafePath)
	}
	return nil
}

// checkStateHost refuses to create or replace host (the resolved location
// of the entry rel) when it lies in a state directory other than through
// rel itself: a symlink of the root or of the package leads there.
func (s *stager) checkStateHost(rel, host string, isDir bool) error {
	host = filepath.Clean(host)
	for _, d := range []struct{ dir, what, rel string }{
		{s.state.grey, "grey's state directory", GreyStateDir},
		{s.state.dpkg, "dpkg's database", pkgdb.DpkgAdminDir},
	} {
		if d.dir == "" || !under(host, d.dir) {
			continue
		}
		if r := d.rel + strings.TrimPrefix(host, d.dir); r == rel {
			if err := checkStateRel(rel, isDir); err != nil {
				return err
			}
			continue // one of dpkg's own directories, at its own path
		}
		return fmt.Errorf("entry /%s resolves through a symlink to %s, in %s /%s: %w",
			rel, relTo(s.root, host), d.what, d.rel, ErrUnsafePath)
	}
	return nil
}

// statePaths are the directories grey reaches by their paths in the root
// (grey's database, journal and content store, dpkg's database and its
// info files, the package cache), relative to the root.
var statePaths = []string{
	GreyStateDir, StoreDir, journalDir, ArchivesDir,
	pkgdb.DpkgAdminDir, pkgdb.DpkgAdminDir + "/info", pkgdb.DpkgAdminDir + "/updates",
	pkgdb.DpkgAdminDir + "/triggers", pkgdb.DpkgAdminDir + "/alternatives",
}

// checkStateInside refuses a root in which one of statePaths (that
// exists) leads out of the root through a symbolic link (an absolute
// one, or one climbing above the root): grey would read, write and
// remove files there through their paths. Each is looked up through the
// root's os.Root, which refuses exactly those links; a link that stays
// inside the root is followed as the path-based accesses follow it. The
// host's root "/" has no outside.
func checkStateInside(r *os.Root) error {
	if filepath.Clean(r.Name()) == "/" {
		return nil // nothing is outside the host's root (and os.Root refuses its absolute links)
	}
	for _, p := range statePaths {
		fi, err := r.Stat(p)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("%s is not a directory: grey keeps its and dpkg's state there: %w",
				filepath.Join(r.Name(), p), ErrUnsafePath)
		case err == nil, errors.Is(err, fs.ErrNotExist):
			continue
		}
		if out := rootfs.Outside(r, p); out != nil {
			return fmt.Errorf("%s leads out of the root: %w: grey keeps its and dpkg's state inside the root: %w",
				filepath.Join(r.Name(), p), out, ErrUnsafePath)
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%s leads out of the root through a symbolic link (%v): grey keeps its and dpkg's state inside the root: %w",
			filepath.Join(r.Name(), p), err, ErrUnsafePath)
	}
	return nil
}

// checkStateInsideDir is checkStateInside on the root at dir.
func checkStateInsideDir(dir string) error {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open root %s: %w", dir, err)
	}
	defer r.Close()
	return checkStateInside(r)
}
