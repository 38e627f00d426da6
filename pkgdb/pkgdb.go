// Package pkgdb is a root's database: one bbolt file at
// ROOT/var/lib/grey/grey.db holding what grey knows about that root.
//
// The file carries a schema version. Open migrates an older file forward,
// one step at a time, inside one write transaction, and refuses a file
// written by a newer grey rather than guess at its layout.
//
// Buckets so far:
//
//	meta      "schema" → the schema version, 4 bytes big-endian
//	releases  source id → the Date of the last Release accepted for that
//	          source (metadata rollback protection; see ReleaseStore in
//	          package repo)
package pkgdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/greypm/grey/internal/rootfs"
)

// SchemaVersion is the schema this build of grey reads and writes.
const SchemaVersion = 4

// Path is where the database lives inside a root.
const Path = "var/lib/grey/grey.db"

// Bucket and key names.
const (
	bucketMeta     = "meta"
	bucketReleases = "releases"
	keySchema      = "schema"
)

// migration returns the step that moves a database from schema version v
// to v+1. Version 0 is a new, empty file. A later schema adds a case here and
// raises SchemaVersion.
func migration(v uint32) func(tx *bolt.Tx) error {
	switch v {
	case 0:
		return func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists([]byte(bucketReleases))
			return err
		}
	case 1:
		return EnsureInstalledBuckets
	case 2:
		return EnsureHistoryBuckets
	case 3:
		return rebuildPathIndex
	}
	return nil
}

// DB is an open root database. Only one process can hold it open at a time
// (bbolt takes an exclusive file lock), which is also what keeps two grey
// processes from changing one root at once.
type DB struct {
	bolt *bolt.DB
	path string
}

// NewerSchemaError reports a database written by a newer grey.
type NewerSchemaError struct {
	Path     string
	Version  uint32
	Supports uint32
}

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("%s: schema version %d is newer than this grey supports (%d): upgrade grey", e.Path, e.Version, e.Supports)
}

// ErrLocked reports that another process holds the database open.
var ErrLocked = errors.New("database is in use by another grey process")

// Options tune Open.
type Options struct {
	// LockTimeout is how long Open waits for another process to release the
	// database; 0 waits 30 seconds.
	LockTimeout time.Duration
}

// Open opens (creating if needed) the database of the root at root and
// brings its schema up to date. The file and its directory are reached
// through an os.Root of root (inroot.go): a var/lib/grey or grey.db that
// leads out of the root is refused, naming it (rootfs.ErrOutside).
func Open(root string, opts Options) (*DB, error) {
	path := filepath.Join(root, filepath.FromSlash(Path))
	r, err := makeRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	defer r.Close()
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	// A large first mapping (address space only) spares the remaps, each
	// of which re-reads every node in memory, while one write transaction
	// grows the file: adopting a dpkg database of 150,000 paths remapped
	// a dozen times.
	var openErr error
	b, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: timeout, InitialMmapSize: 256 << 20, OpenFile: openIn(r, path, true, &openErr)})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, dbOpenErr(path, openErr, err)
	}
	db := &DB{bolt: b, path: path}
	if err := db.migrate(); err != nil {
		b.Close()
		return nil, err
	}
	return db, nil
}

// openIn is bbolt's OpenFile for the database of the root r, whose path
// on this machine is path: the file Path opened through r
// (openStateFile), its directory made first when mkdir is set. Its error
// is kept in *failed. bbolt opens the database by this function again
// (Tx.WriteTo with a WriteFlag) by the name of the file it opened, which
// is path; any other file (Tx.CopyFile's destination) it refuses, so it
// never opens the database in another's place.
func openIn(r *os.Root, path string, mkdir bool, failed *error) func(string, int, os.FileMode) (*os.File, error) {
	return func(name string, flag int, perm os.FileMode) (*os.File, error) {
		if filepath.Clean(name) != filepath.Clean(path) {
			return nil, fmt.Errorf("open %s: only the database %s is opened through its root", name, path)
		}
		f, err := openStateFile(r, Path, flag, perm, mkdir)
		*failed = err
		return f, err
	}
}

// dbOpenErr is the error of bolt.Open: openIn's (which names the path)
// when opening the file failed, else bbolt's with the path.
func dbOpenErr(path string, openErr, err error) error {
	if openErr != nil {
		return fmt.Errorf("open database: %w", openErr)
	}
	return fmt.Errorf("open %s: %w", path, err)
}

// Close releases the database.
func (db *DB) Close() error { return db.bolt.Close() }

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Schema returns the database's schema version.
func (db *DB) Schema() (uint32, error) {
	var v uint32
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		v, err = schemaOf(tx, db.path)
		return err
	})
	return v, err
}

func schemaOf(tx *bolt.Tx, path string) (uint32, error) {
	meta := tx.Bucket([]byte(bucketMeta))
	if meta == nil {
		return 0, nil
	}
	raw := meta.Get([]byte(keySchema))
	if raw == nil {
		return 0, nil
	}
	if len(raw) != 4 {
		return 0, fmt.Errorf("%s: corrupt schema version (%d bytes)", path, len(raw))
	}
	return binary.BigEndian.Uint32(raw), nil
}

func (db *DB) migrate() error {
	// A write transaction that changes nothing still rewrites bbolt's meta
	// page; reading first keeps an up-to-date file byte-for-byte unchanged.
	if v, err := db.Schema(); err == nil && v == SchemaVersion {
		return nil
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		v, err := schemaOf(tx, db.path)
		if err != nil {
			return err
		}
		if v > SchemaVersion {
			return &NewerSchemaError{Path: db.path, Version: v, Supports: SchemaVersion}
		}
		if v == SchemaVersion {
			return nil
		}
		meta, err := tx.CreateBucketIfNotExists([]byte(bucketMeta))
		if err != nil {
			return err
		}
		for ; v < SchemaVersion; v++ {
			step := migration(v)
			if step == nil {
				return fmt.Errorf("%s: no migration from schema %d", db.path, v)
			}
			if err := step(tx); err != nil {
				return fmt.Errorf("%s: migrate schema %d to %d: %w", db.path, v, v+1, err)
			}
		}
		return meta.Put([]byte(keySchema), binary.BigEndian.AppendUint32(nil, SchemaVersion))
	})
}

// LastAccepted returns the Date of the last Release accepted for the
// source, and false when none was.
func (db *DB) LastAccepted(sourceID string) (time.Time, bool, error) {
	var t time.Time
	var ok bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket([]byte(bucketReleases)).Get([]byte(sourceID))
		if raw == nil {
			return nil
		}
		if len(raw) != 8 {
			return fmt.Errorf("%s: corrupt release date for %s", db.path, sourceID)
		}
		t = time.Unix(0, int64(binary.BigEndian.Uint64(raw))).UTC()
		ok = true
		return nil
	})
	return t, ok, err
}

// Accept records date as the last accepted Release date of the source. It
// never moves the record backwards: a date older than the stored one leaves
// it as it is, so a caller's mistake cannot reopen a rollback.
func (db *DB) Accept(sourceID string, date time.Time) error {
	// A write transaction costs an fsync even when it changes nothing.
	if last, ok, err := db.LastAccepted(sourceID); err == nil && ok && !last.Before(date) {
		return nil
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketReleases))
		if raw := b.Get([]byte(sourceID)); len(raw) == 8 && int64(binary.BigEndian.Uint64(raw)) >= date.UnixNano() {
			return nil
		}
		return b.Put([]byte(sourceID), binary.BigEndian.AppendUint64(nil, uint64(date.UnixNano())))
	})
}

// CopyDB copies the database of the root at root, as of one consistent
// read transaction, to where the root dst keeps its database, opening the
// original read-only (a user who cannot write the root can still read
// it). A root without a database gives no copy and no error.
func CopyDB(root, dst string) error {
	path := filepath.Join(root, filepath.FromSlash(Path))
	r, err := openRoot(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no root, so no database to copy
	}
	if err != nil {
		return fmt.Errorf("copy database: %w", err)
	}
	defer r.Close()
	rel, err := stateName(r, Path)
	if err != nil {
		return fmt.Errorf("copy database: %w", err)
	}
	if _, err := r.Lstat(rel); errors.Is(err, os.ErrNotExist) {
		if out := rootfs.Outside(r, rel); out != nil {
			return fmt.Errorf("copy database: %w", out)
		}
		return nil
	}
	out := filepath.Join(dst, filepath.FromSlash(Path))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("copy database: %w", err)
	}
	var openErr error
	b, err := bolt.Open(path, 0o644, &bolt.Options{ReadOnly: true, Timeout: 30 * time.Second, OpenFile: openIn(r, path, false, &openErr)})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return dbOpenErr(path, openErr, err)
	}
	defer b.Close()
	f, err := os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("copy database: %w", err)
	}
	err = b.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(f)
		return err
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", path, out, err)
	}
	return nil
}
