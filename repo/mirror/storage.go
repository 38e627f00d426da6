package mirror

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
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Storage is where a mirror's served tree is written. Names are
// slash-separated paths relative to the tree's root
// ("dists/bookworm/InRelease", "pool/main/h/hello/hello_2.10-3_amd64.deb").
// A sync writes in the order pool, by-hash, indexes, Release, InRelease, and
// relies on Write being atomic per object: a reader of a name sees the old
// content or the new, never a mix. A local directory implements it (Dir);
// an object store can, with the same four operations.
type Storage interface {
	// Write stores the content of the local file src as name, atomically,
	// creating what a name's parents need. src is consumed: the caller
	// must not use it afterwards (a local directory renames it in).
	Write(ctx context.Context, name, src string) error
	// Exists reports whether name holds exactly size bytes with the given
	// SHA256 (lower-case hex).
	Exists(ctx context.Context, name string, size int64, sha256 string) (bool, error)
	// List returns every name under prefix (a folder, "pool/"), sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes name; a missing name is not an error.
	Delete(ctx context.Context, name string) error
}

// Syncer is a Storage that buffers writes and can make them durable; a
// sync calls it before each write that makes earlier ones visible
// (InRelease).
type Syncer interface {
	Sync() error
}

// Linker is a Storage that can make one folder an alias of another: a
// snapshot's pool/ is the mirror's pool/, so a snapshot costs only its
// metadata.
type Linker interface {
	// Link makes name an alias of target, a path relative to name's folder.
	Link(ctx context.Context, name, target string) error
}

// Dir is a Storage on a local directory: the mirror directory itself.
type Dir struct {
	Root string
}

var (
	_ Storage = Dir{}
	_ Syncer  = Dir{}
	_ Linker  = Dir{}
)

// tmpSuffix marks an object being written into place.
const tmpSuffix = ".grey-tmp"

func (d Dir) path(name string) (string, error) {
	if !fs.ValidPath(name) || name == "." || strings.Contains(name, "\\") {
		return "", fmt.Errorf("invalid mirror path %q", name)
	}
	return filepath.Join(d.Root, filepath.FromSlash(name)), nil
}

// Write renames src over name (copying it first when src is on another
// file system).
func (d Dir) Write(ctx context.Context, name, src string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Chmod(src, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	err = os.Rename(src, p)
	if errors.Is(err, syscall.EXDEV) {
		err = copyInto(src, p)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func copyInto(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + tmpSuffix
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	return os.Remove(src)
}

// Exists checks the size, then the SHA256 of name's content.
func (d Dir) Exists(ctx context.Context, name string, size int64, sum string) (bool, error) {
	p, err := d.path(name)
	if err != nil {
		return false, err
	}
	return fileHas(p, size, sum)
}

// fileHas reports whether the local file p holds size bytes with SHA256
// sum; a missing file is false, not an error.
func fileHas(p string, size int64, sum string) (bool, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() || fi.Size() != size {
		return false, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)) == sum, nil
}

// List walks prefix; a missing prefix lists nothing.
func (d Dir) List(ctx context.Context, prefix string) ([]string, error) {
	p, err := d.path(strings.TrimSuffix(prefix, "/"))
	if err != nil {
		return nil, err
	}
	var out []string
	err = filepath.WalkDir(p, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == p {
				return filepath.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.Type().IsRegular() && !strings.HasSuffix(path, tmpSuffix) {
			rel, err := filepath.Rel(d.Root, path)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	sort.Strings(out)
	return out, nil
}

// Delete removes name and then each parent folder the removal left empty,
// up to Root.
func (d Dir) Delete(ctx context.Context, name string) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	root := filepath.Clean(d.Root)
	for dir := filepath.Dir(p); dir != root && strings.HasPrefix(dir, root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// Sync flushes the file system holding Root (syncfs(2)).
func (d Dir) Sync() error {
	f, err := os.Open(d.Root)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", d.Root, err)
	}
	return nil
}

// Link makes name a symbolic link to target, replacing what name was.
func (d Dir) Link(ctx context.Context, name, target string) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + tmpSuffix
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	return nil
}
