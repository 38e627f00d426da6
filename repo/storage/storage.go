// Package storage is where a published tree is written: the one interface
// that `repo publish`, `mirror sync`, mirror snapshots and both garbage
// collections write through, with a local directory (Dir) and an
// S3-compatible bucket (S3) behind it.
//
// Names are slash-separated paths relative to the tree's root
// ("dists/stable/InRelease", "pool/main/h/hello/hello_2.10-3_amd64.deb").
// Writers rely on Put being atomic per object: a reader of a name sees the
// old content or the new, never a mix or a short object. Neither backend
// can replace several names at once, so writers order their writes (pool,
// by-hash, indexes, Release, InRelease last) to keep every state a client
// can observe verifiable.
package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Storage is a published tree's destination.
type Storage interface {
	// Put atomically creates or replaces name with the content of r,
	// creating what a name's parents need. sum, when not zero, is the
	// content's size and SHA256, which a backend may record so that
	// Exists need not read the object again. It need not be durable
	// before the next Sync.
	Put(ctx context.Context, name string, r io.Reader, sum Sum) error
	// Open opens name for reading; a missing name is an error wrapping
	// fs.ErrNotExist.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Exists reports whether name holds exactly sum's size bytes with
	// sum's SHA256; a missing name is false, not an error.
	Exists(ctx context.Context, name string, sum Sum) (bool, error)
	// List returns every name under prefix (a folder, "pool/"), sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes name; a missing name is not an error.
	Delete(ctx context.Context, name string) error
	// Sync makes every Put and Delete so far durable. Writers call it
	// before each write that makes earlier ones visible (InRelease).
	Sync(ctx context.Context) error
	// Lock keeps a second writer out of the tree until the returned
	// function is called; it fails at once, wrapping ErrLocked, when
	// another writer holds it.
	Lock(ctx context.Context) (unlock func() error, err error)
	// String names the tree for messages (a path, s3://bucket/prefix).
	String() string
}

// Sum is an object's size and lower-case hex SHA256.
type Sum struct {
	Size   int64
	SHA256 string
}

// IsZero reports whether s says nothing.
func (s Sum) IsZero() bool { return s.SHA256 == "" }

// Linker is a Storage that can make one folder an alias of another: a
// mirror snapshot's pool/ is the mirror's pool/, so a snapshot costs only
// its metadata. A Storage without it (an object store) gets a copy.
type Linker interface {
	// Link makes name an alias of target, a path relative to name's folder.
	Link(ctx context.Context, name, target string) error
}

// Copier is a Storage that copies an object without moving its bytes
// through the caller (S3's CopyObject).
type Copier interface {
	Copy(ctx context.Context, dst, src string, sum Sum) error
}

// ObjectInfo is what a listing tells of one object.
type ObjectInfo struct {
	Size int64
	// MD5 is the content's lower-case hex MD5 where the listing gives it
	// (S3's ETag of an object uploaded in one PUT), else empty.
	MD5 string
}

// Inventory is a Storage that lists a folder's objects with their sizes
// and MD5s in a few requests (S3: one per 1,000 objects), so that a
// writer learns what is already there without a request per object.
type Inventory interface {
	// Inventory returns every object under prefix ("" for the whole
	// tree), by name.
	Inventory(ctx context.Context, prefix string) (map[string]ObjectInfo, error)
}

// FileMover is a Storage that can take a local file as it is (a rename on
// one file system) instead of copying it.
type FileMover interface {
	// MoveFile stores the local file src as name, atomically, consuming
	// src.
	MoveFile(ctx context.Context, name, src string) error
}

// ErrLocked reports that another writer holds the tree's lock.
var ErrLocked = errors.New("another publish holds the repository lock")

// LockName is the lock file or object in a tree's root.
const LockName = ".grey-publish.lock"

// PutFile stores the local file src as name and consumes src: moved in
// where the storage can, else uploaded and removed.
func PutFile(ctx context.Context, st Storage, name, src string, sum Sum) error {
	if m, ok := st.(FileMover); ok {
		return m.MoveFile(ctx, name, src)
	}
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	err = st.Put(ctx, name, f, sum)
	f.Close()
	if err != nil {
		return err
	}
	return os.Remove(src)
}

// CopyObject makes dst hold src's content: server side where the storage
// can, else by reading src back.
func CopyObject(ctx context.Context, st Storage, dst, src string, sum Sum) error {
	if c, ok := st.(Copier); ok {
		return c.Copy(ctx, dst, src, sum)
	}
	r, err := st.Open(ctx, src)
	if err != nil {
		return err
	}
	defer r.Close()
	return st.Put(ctx, dst, r, sum)
}

// SumReader returns the size and SHA256 of r's content.
func SumReader(r io.Reader) (Sum, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return Sum{}, err
	}
	return Sum{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// SumBytes returns the size and SHA256 of data.
func SumBytes(data []byte) Sum {
	h := sha256.Sum256(data)
	return Sum{Size: int64(len(data)), SHA256: hex.EncodeToString(h[:])}
}

// checkName refuses names that are not clean relative paths.
func checkName(name string) error {
	if !fs.ValidPath(name) || name == "." || strings.Contains(name, "\\") {
		return fmt.Errorf("invalid repository path %q", name)
	}
	return nil
}

// Open returns the Storage a destination names: s3://BUCKET/PREFIX (see
// ParseS3URL) or a local directory.
func OpenURL(ctx context.Context, dest string) (Storage, error) {
	if strings.HasPrefix(dest, "s3://") {
		cfg, err := ParseS3URL(dest)
		if err != nil {
			return nil, err
		}
		return NewS3(ctx, cfg)
	}
	if strings.Contains(dest, "://") {
		return nil, fmt.Errorf("destination %s: only a directory or s3://BUCKET/PREFIX", dest)
	}
	return Dir{Root: dest}, nil
}

// IsURL reports whether dest names an object store rather than a directory.
func IsURL(dest string) bool { return strings.HasPrefix(dest, "s3://") }

// DryRun returns a Storage that reads from st but writes nothing: a
// publish through it checks every input and reports what it would add,
// remove and delete, and leaves the tree as it was.
func DryRun(st Storage) Storage { return dryRun{st} }

type dryRun struct{ st Storage }

func (d dryRun) Put(ctx context.Context, name string, r io.Reader, sum Sum) error {
	// Drain r so a reader that fails (an unreadable input) fails here too.
	_, err := io.Copy(io.Discard, r)
	return err
}

func (d dryRun) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return d.st.Open(ctx, name)
}

func (d dryRun) Exists(ctx context.Context, name string, sum Sum) (bool, error) {
	return d.st.Exists(ctx, name, sum)
}

func (d dryRun) List(ctx context.Context, prefix string) ([]string, error) {
	return d.st.List(ctx, prefix)
}

func (d dryRun) Delete(context.Context, string) error { return nil }

func (d dryRun) Sync(context.Context) error { return nil }

func (d dryRun) String() string { return d.st.String() }

// Lock takes the real lock, so that a dry run reads a tree that no
// publish is changing, except where no publish ever ran (there is no lock
// file): taking it would create the lock file and the directory.
func (d dryRun) Lock(ctx context.Context) (func() error, error) {
	if _, ok := d.st.(Dir); !ok {
		return func() error { return nil }, nil
	}
	r, err := d.st.Open(ctx, LockName)
	if errors.Is(err, fs.ErrNotExist) {
		return func() error { return nil }, nil
	}
	if err == nil {
		r.Close()
	}
	return d.st.Lock(ctx)
}
