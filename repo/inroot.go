package repo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/greypm/grey/internal/rootfs"
)

// updateRoot is the root an update writes its lists into and reads its
// apt sources' keyrings from, opened as an os.Root: every file of it is
// reached from the root's descriptor, never by a path the kernel
// resolves again, so a symbolic link planted or swapped in the root
// cannot lead a write or a read out of it (issue 12, item 9).
type updateRoot struct {
	r   *os.Root
	abs string // the root's absolute path
}

// openRoot opens root, making it when missing (as the lists'
// directories made it).
func openRoot(root string) (*updateRoot, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("update: root %s: %w", root, err)
	}
	if _, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("update: root %s: %w", root, err)
		}
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("update: root %s: %w", root, err)
	}
	return &updateRoot{r: r, abs: abs}, nil
}

func (u *updateRoot) close() { u.r.Close() }

// rel returns p relative to the root when p lies inside it; false for a
// nil root (VerifyRelease has none).
func (u *updateRoot) rel(p string) (string, bool) {
	if u == nil || !filepath.IsAbs(p) {
		return "", false
	}
	rel, err := filepath.Rel(u.abs, filepath.Clean(p))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// readFile reads the file rel of the root through its os.Root: in the
// host's root "/" with the kernel's meaning of its links (rootfs), in
// any other a link leading out of the root is refused, naming it.
func (u *updateRoot) readFile(rel string) ([]byte, error) {
	if filepath.Clean(u.abs) == "/" {
		return rootfs.ReadFile(u.r, rel)
	}
	data, err := u.r.ReadFile(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if out := rootfs.Outside(u.r, rel); out != nil {
				return nil, fmt.Errorf("read %s: %w", rootfs.Host(u.r, rel), out)
			}
		}
		return nil, rootfs.Explain(u.r, "read", rel, err)
	}
	return data, nil
}

// name is rel (relative to the root) as it is looked up through the
// os.Root (rootfs.StateName: in "/" with the kernel's meaning of links).
func (u *updateRoot) name(rel string) (string, error) {
	return rootfs.StateName(u.r, rel)
}

// openDir opens the directory rel of the root through its os.Root,
// making it and its parents (0755) first when mkdir is set: a component
// leading out of the root is refused, naming it (rootfs.ErrOutside). It
// returns the open directory and a path that reaches it without
// resolving rel again, /proc/self/fd/N (the descriptor's own directory),
// for the code that takes paths: the fetcher, atomicfile and package
// lists write and rename files there by one name each. Without /proc the
// path is the directory's, after the check.
func (u *updateRoot) openDir(rel string, mkdir bool) (*os.File, string, error) {
	name, err := rootfs.StateDirName(u.r, rel)
	if err != nil {
		return nil, "", err
	}
	if mkdir {
		if err := u.r.MkdirAll(name, 0o755); err != nil {
			return nil, "", rootfs.Explain(u.r, "mkdir", name, err)
		}
	}
	f, err := u.r.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if out := rootfs.Outside(u.r, name); out != nil {
				return nil, "", fmt.Errorf("open %s: %w", rootfs.Host(u.r, name), out)
			}
			return nil, "", err
		}
		return nil, "", rootfs.Explain(u.r, "open", name, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.IsDir() {
		f.Close()
		return nil, "", fmt.Errorf("%s is not a directory", rootfs.Host(u.r, name))
	}
	return f, rootfs.FDPath(f, rootfs.Host(u.r, name)), nil
}

// hostPaths returns err with every descriptor path of dirs (at -> the
// folder's path under the root) in its text written as the folder's path
// (rootfs.HostPaths). A RefusedError or FetchError keeps its type, its
// Err rewritten: grey update prints their File and Err apart.
func hostPaths(err error, dirs map[string]string) error {
	switch e := err.(type) {
	case *RefusedError:
		c := *e
		c.Err = rootfs.HostPaths(e.Err, dirs)
		return &c
	case *FetchError:
		c := *e
		c.Err = rootfs.HostPaths(e.Err, dirs)
		return &c
	}
	return rootfs.HostPaths(err, dirs)
}
