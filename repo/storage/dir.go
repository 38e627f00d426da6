package storage

import (
	"context"
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

// Dir is a Storage on a local directory, which any static web server can
// serve.
type Dir struct {
	// Root is the tree's root; it is created when missing.
	Root string
}

var (
	_ Storage   = Dir{}
	_ Linker    = Dir{}
	_ FileMover = Dir{}
)

// TmpSuffix marks a file being written. The name is fixed, not random, so
// a write interrupted by a crash leaves at most one stale temporary per
// file, and the next write of that file overwrites it.
const TmpSuffix = ".grey-tmp"

func (d Dir) String() string { return d.Root }

// Path returns the local path of name, refusing names that would leave Root.
func (d Dir) Path(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	return filepath.Join(d.Root, filepath.FromSlash(name)), nil
}

// Put writes r to a temporary file beside name and renames it over name.
// It does not fsync: one syncfs in Sync costs what a thousand fsyncs of
// pool files would (each is milliseconds on a virtual disk).
func (d Dir) Put(ctx context.Context, name string, r io.Reader, _ Sum) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.Path(name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp := p + TmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	// The umask could leave the file unreadable to the web server.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// MoveFile renames src over name (copying it first when src is on another
// file system).
func (d Dir) MoveFile(ctx context.Context, name, src string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.Path(name)
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
		var f *os.File
		if f, err = os.Open(src); err == nil {
			err = d.Put(ctx, name, f, Sum{})
			f.Close()
			if err == nil {
				err = os.Remove(src)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// Open opens name under Root.
func (d Dir) Open(_ context.Context, name string) (io.ReadCloser, error) {
	p, err := d.Path(name)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// Exists checks the size, then the SHA256 of name's content.
func (d Dir) Exists(_ context.Context, name string, sum Sum) (bool, error) {
	p, err := d.Path(name)
	if err != nil {
		return false, err
	}
	return FileHas(p, sum)
}

// FileHas reports whether the local file p holds sum's size bytes with
// its SHA256; a missing file is false, not an error.
func FileHas(p string, sum Sum) (bool, error) {
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
	if !fi.Mode().IsRegular() || fi.Size() != sum.Size {
		return false, nil
	}
	got, err := SumReader(f)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", p, err)
	}
	return got.SHA256 == sum.SHA256, nil
}

// List walks prefix; a missing prefix lists nothing.
func (d Dir) List(ctx context.Context, prefix string) ([]string, error) {
	p := d.Root
	if prefix = strings.TrimSuffix(prefix, "/"); prefix != "" {
		var err error
		if p, err = d.Path(prefix); err != nil {
			return nil, err
		}
	}
	var out []string
	err := filepath.WalkDir(p, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == p {
				return filepath.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.Type().IsRegular() && !strings.HasSuffix(path, TmpSuffix) {
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

// Delete removes name and then each parent folder, up to Root, that the
// removal left empty, so that a package dropped from the pool does not
// leave an empty pool/main/h/hello/ behind.
func (d Dir) Delete(_ context.Context, name string) error {
	p, err := d.Path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	root := filepath.Clean(d.Root)
	for dir := filepath.Dir(p); dir != root && strings.HasPrefix(dir, root); dir = filepath.Dir(dir) {
		// Fails on a directory that is not empty, which ends the walk.
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// Sync flushes the whole file system holding Root (syncfs(2)): file data,
// then the directory entries of every rename and removal.
func (d Dir) Sync(context.Context) error {
	f, err := os.Open(d.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", d.Root, err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", d.Root, err)
	}
	return nil
}

// Lock takes an exclusive flock on Root/.grey-publish.lock, failing at once
// (rather than waiting) when another writer holds it.
func (d Dir) Lock(context.Context) (func() error, error) {
	if err := os.MkdirAll(d.Root, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", d.Root, err)
	}
	p := filepath.Join(d.Root, LockName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", p, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", p, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return f.Close, nil
}

// Link makes name a symbolic link to target, replacing what name was.
func (d Dir) Link(_ context.Context, name, target string) error {
	p, err := d.Path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + TmpSuffix
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	return nil
}
