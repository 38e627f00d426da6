package pkgdb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"syscall"

	"github.com/greypm/grey/internal/rootfs"
)

// Every file of grey's and dpkg's state that this package opens (grey's
// database and lock, dpkg's locks, dpkg's database directory, adoption's
// reads of dpkg's database) is reached through an os.Root of the root:
// its path is resolved component by component from the root's
// descriptor, so a symbolic link that leads out of the root (var/lib/grey
// -> /elsewhere), planted before or swapped in while grey runs, is
// refused (rootfs.ErrOutside, naming the link), never followed. A link
// that stays inside the root is followed, as the state directories'
// check of package transaction follows it. The last component is never
// followed (O_NOFOLLOW) and must be a regular file: bbolt opens the file
// it is handed by descriptor (bolt.Options.OpenFile), so no path of the
// database is resolved again after the check.

// openRoot opens root as an os.Root.
func openRoot(root string) (*os.Root, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", root, err)
	}
	return r, nil
}

// makeRoot opens root as an os.Root, making the directory (and its
// parents, 0755) first when it does not exist yet: for what writes a
// root's state (Open, LockRoot, EnsureDpkgAdminDir), which a new root
// gets on its first command. The root's own path is the caller's, not
// one inside the root, so it is made by that path.
func makeRoot(root string) (*os.Root, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("make root %s: %w", root, err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", root, err)
	}
	return r, nil
}

// stateName is rootfs.StateName.
func stateName(r *os.Root, name string) (string, error) { return rootfs.StateName(r, name) }

// openStateFile opens the regular file name (relative to the root) of r
// with flag (O_NOFOLLOW and O_CLOEXEC added), making its missing parent
// directories (0755) first when mkdir is set. A component that leads out
// of the root, a last component that is a link, and anything but a
// regular file are errors naming the path.
func openStateFile(r *os.Root, name string, flag int, perm fs.FileMode, mkdir bool) (*os.File, error) {
	rel, err := stateName(r, name)
	if err != nil {
		return nil, err
	}
	if mkdir {
		if err := r.MkdirAll(path.Dir(rel), 0o755); err != nil {
			return nil, rootfs.Explain(r, "mkdir", path.Dir(rel), err)
		}
	}
	f, err := r.OpenFile(rel, flag|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, perm)
	if errors.Is(err, syscall.ELOOP) {
		if fi, lerr := r.Lstat(rel); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			if out := rootfs.Outside(r, rel); out != nil {
				return nil, fmt.Errorf("open %s: %w", rootfs.Host(r, rel), out)
			}
			target, _ := r.Readlink(rel)
			return nil, fmt.Errorf("open %s: a symbolic link (-> %s), not a file", rootfs.Host(r, rel), target)
		}
	}
	if err != nil {
		return nil, rootfs.Explain(r, "open", rel, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("open %s: not a regular file (%s)", rootfs.Host(r, rel), fi.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// stateDirExists reports whether the directory name (relative to the
// root) exists in r; one that leads out of the root is an error.
func stateDirExists(r *os.Root, name string) (bool, error) {
	rel, err := rootfs.StateDirName(r, name)
	if err != nil {
		return false, err
	}
	fi, err := r.Stat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, rootfs.Explain(r, "stat", rel, err)
	}
	return fi.IsDir(), nil
}
