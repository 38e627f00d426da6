package apps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// privateTop are the top-level directories of an app root whose files are
// never shared: configuration and state an app or a script may change.
var privateTop = map[string]bool{
	"etc": true, "var": true, "tmp": true, "run": true, "home": true,
	"root": true, "proc": true, "dev": true, "srv": true,
}

// storeDir is the shared content store of every app root.
func (a *Apps) storeDir() string { return filepath.Join(a.Dir, ".store", "objects") }

// share replaces each regular file of root outside privateTop by a hard
// link to the store object of the same content, mode and owner, adding the
// object when the store lacks it. It returns how many files are links to
// the store afterwards.
func (a *Apps) share(ctx context.Context, root string) (int, error) {
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		top, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
		if d.IsDir() {
			if p != root && privateTop[top] {
				return filepath.SkipDir
			}
			return ctx.Err()
		}
		if !d.Type().IsRegular() {
			return nil
		}
		linked, err := a.shareFile(p)
		if err != nil {
			return fmt.Errorf("share %s: %w", p, err)
		}
		if linked {
			n++
		}
		return nil
	})
	return n, err
}

// objectKey names a file's store object: content digest, permission bits
// and owner (a hard link shares all three).
func objectKey(p string, fi fs.FileInfo) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%s-%o-%d-%d", hex.EncodeToString(h.Sum(nil)), st.Mode&0o7777, st.Uid, st.Gid), nil
}

func (a *Apps) shareFile(p string) (bool, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return false, err
	}
	key, err := objectKey(p, fi)
	if err != nil {
		return false, err
	}
	obj := filepath.Join(a.storeDir(), key[:2], key)
	if oi, err := os.Lstat(obj); err == nil {
		if os.SameFile(oi, fi) {
			return true, nil
		}
		tmp := filepath.Join(filepath.Dir(p), ".grey-link-"+key[:16])
		os.Remove(tmp)
		if err := os.Link(obj, tmp); err != nil {
			if errors.Is(err, syscall.EMLINK) || errors.Is(err, syscall.EXDEV) {
				return false, nil // too many links, or another file system: keep the copy
			}
			return false, err
		}
		if err := os.Rename(tmp, p); err != nil {
			os.Remove(tmp)
			return false, err
		}
		return true, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(obj), 0o755); err != nil {
		return false, err
	}
	if err := os.Link(p, obj); err != nil {
		if errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EMLINK) {
			return false, nil
		}
		if errors.Is(err, os.ErrExist) {
			return a.shareFile(p) // added meanwhile: link to it
		}
		return false, err
	}
	return true, nil
}

// PruneStore removes the store objects no app root links to any more (a
// link count of one) and returns how many it removed.
func (a *Apps) PruneStore() (int, error) {
	n := 0
	err := filepath.WalkDir(a.storeDir(), func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink == 1 {
			if err := os.Remove(p); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	// Empty fan-out directories go too (os.Remove keeps the others).
	ents, _ := os.ReadDir(a.storeDir())
	for _, e := range ents {
		os.Remove(filepath.Join(a.storeDir(), e.Name()))
	}
	return n, nil
}
