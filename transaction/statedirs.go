package transaction

import (
	"fmt"
	"path/filepath"
	"strings"

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
