package publish

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Storage is where a repository is written. Names are slash-separated paths
// relative to the repository root ("dists/stable/InRelease"). Publish
// never writes outside it, and relies on Put being atomic: a reader of a
// name sees the old content or the new, never a mix or a short file.
type Storage interface {
	// Put atomically creates or replaces name with the content of r,
	// creating parent directories as needed. It need not be durable
	// before the next Sync.
	Put(name string, r io.Reader) error
	// Sync makes every Put and Remove so far durable: after a crash, each
	// file is as Sync left it. Publish calls it before each write that
	// makes earlier ones visible to clients (the state, InRelease).
	Sync() error
	// Open opens name for reading; a missing name is an error wrapping
	// fs.ErrNotExist.
	Open(name string) (io.ReadCloser, error)
	// Remove deletes name; removing a missing name is not an error.
	Remove(name string) error
	// Lock takes an exclusive lock on the repository so that two publishes
	// cannot interleave; the returned function releases it.
	Lock() (unlock func() error, err error)
}

// Dir is a Storage on a local directory.
type Dir struct {
	// Root is the repository root; it is created when missing.
	Root string
}

var _ Storage = Dir{}

// tmpSuffix marks a file being written. The name is fixed, not random, so a
// publish interrupted by a crash leaves at most one stale temporary per
// file, and the next publish of that file overwrites it.
const tmpSuffix = ".grey-tmp"

// lockName is the lock file in the repository root.
const lockName = ".grey-publish.lock"

func (d Dir) path(name string) (string, error) {
	if !fs.ValidPath(name) || name == "." || strings.Contains(name, "\\") {
		return "", fmt.Errorf("invalid repository path %q", name)
	}
	return filepath.Join(d.Root, filepath.FromSlash(name)), nil
}

// Put writes r to a temporary file beside name and renames it over name.
// It does not fsync: one syncfs in Sync costs what a thousand fsyncs of
// pool files would (each is milliseconds on a virtual disk).
func (d Dir) Put(name string, r io.Reader) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp := p + tmpSuffix
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

// Sync flushes the whole file system holding Root (syncfs(2)): file data,
// then the directory entries of every rename and removal.
func (d Dir) Sync() error {
	f, err := os.Open(d.Root)
	if err != nil {
		return fmt.Errorf("sync %s: %w", d.Root, err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", d.Root, err)
	}
	return nil
}

// Open opens name under Root.
func (d Dir) Open(name string) (io.ReadCloser, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// Remove deletes name and then each parent directory, up to Root, that the
// removal left empty, so that a package dropped from the pool does not leave
// an empty pool/main/h/hello/ behind.
func (d Dir) Remove(name string) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
		// Fails on a directory that is not empty, which ends the walk.
		if os.Remove(filepath.Join(d.Root, filepath.FromSlash(dir))) != nil {
			break
		}
	}
	return nil
}

// Lock takes an exclusive flock on Root/.grey-publish.lock, failing at once
// (rather than waiting) when another publish holds it.
func (d Dir) Lock() (func() error, error) {
	if err := os.MkdirAll(d.Root, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", d.Root, err)
	}
	p := filepath.Join(d.Root, lockName)
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

// ErrLocked reports that another publish is writing the same repository.
var ErrLocked = errors.New("another publish holds the repository lock")

// DryRun returns a Storage that reads from st but writes nothing: Publish
// through it checks every input and reports what it would add, remove and
// delete, and leaves the repository as it was.
func DryRun(st Storage) Storage { return dryRun{st} }

type dryRun struct{ st Storage }

func (d dryRun) Put(name string, r io.Reader) error {
	// Drain r so a reader that fails (an unreadable input) fails here too.
	_, err := io.Copy(io.Discard, r)
	return err
}

func (d dryRun) Open(name string) (io.ReadCloser, error) { return d.st.Open(name) }

func (d dryRun) Remove(string) error { return nil }

func (d dryRun) Sync() error { return nil }

// Lock takes the real lock, so that a dry run reads a repository that no
// publish is changing, except where no publish ever ran (there is no lock
// file): taking it would create the lock file and the directory.
func (d dryRun) Lock() (func() error, error) {
	r, err := d.st.Open(lockName)
	if errors.Is(err, fs.ErrNotExist) {
		return func() error { return nil }, nil
	}
	if err == nil {
		r.Close()
	}
	return d.st.Lock()
}
