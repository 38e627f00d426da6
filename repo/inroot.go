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

// openRoot opens root; nil for no root, or one that does not exist yet
// (it holds no keyring, and the lists' directories make it).
func openRoot(root string) (*updateRoot, error) {
	if root == "" {
		return nil, nil
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("update: root %s: %w", root, err)
	}
	r, err := os.OpenRoot(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("update: root %s: %w", root, err)
	}
	return &updateRoot{r: r, abs: abs}, nil
}

func (u *updateRoot) close() {
	if u != nil {
		u.r.Close()
	}
}

// rel returns p relative to the root when p lies inside it.
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
