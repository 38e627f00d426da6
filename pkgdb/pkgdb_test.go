package pkgdb

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestReleasesRoundTrip(t *testing.T) {
	root := t.TempDir()
	db, err := Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.Schema(); err != nil || v != SchemaVersion {
		t.Fatalf("schema %d, %v", v, err)
	}
	if _, ok, err := db.LastAccepted("a"); ok || err != nil {
		t.Fatalf("empty db: %v %v", ok, err)
	}
	d1 := time.Date(2026, 11, 24, 2, 12, 15, 0, time.UTC)
	for _, step := range []struct {
		accept time.Time
		want   time.Time
	}{
		{d1, d1},
		{d1.Add(time.Hour), d1.Add(time.Hour)},
		{d1, d1.Add(time.Hour)}, // never backwards
	} {
		if err := db.Accept("a", step.accept); err != nil {
			t.Fatal(err)
		}
		got, ok, err := db.LastAccepted("a")
		if err != nil || !ok || !got.Equal(step.want) {
			t.Fatalf("after Accept(%v): %v %v %v", step.accept, got, ok, err)
		}
	}
	if _, ok, _ := db.LastAccepted("b"); ok {
		t.Fatal("source b has a date")
	}
	db.Close()

	// Reopening keeps the record.
	db, err = Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, ok, _ := db.LastAccepted("a"); !ok || !got.Equal(d1.Add(time.Hour)) {
		t.Fatalf("after reopen: %v", got)
	}
	if db.Path() != filepath.Join(root, "var/lib/grey/grey.db") {
		t.Fatalf("path %s", db.Path())
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	root := t.TempDir()
	db, err := Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := db.Path()
	db.Close()
	b, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketMeta)).Put([]byte(keySchema), binary.BigEndian.AppendUint32(nil, SchemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	_, err = Open(root, Options{})
	var ns *NewerSchemaError
	if !errors.As(err, &ns) || ns.Version != SchemaVersion+1 {
		t.Fatalf("err = %v, want a newer-schema error", err)
	}
}

func TestLocked(t *testing.T) {
	root := t.TempDir()
	db, err := Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := Open(root, Options{LockTimeout: 50 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
}

func TestMigrateFromEmptyFile(t *testing.T) {
	// A bbolt file with no schema at all is version 0.
	db := openMigrated(t, writeOldDB(t, 0, nil))
	if err := db.Accept("x", time.Unix(1, 0)); err != nil {
		t.Fatalf("releases bucket missing after migration: %v", err)
	}
}

// writeOldDB writes the database of a new root as an older grey left it
// and returns the root: fill runs in one update with the meta bucket, which
// then gets schema's number. Schema 0 writes a bbolt file with no schema
// at all (fill must be nil).
func writeOldDB(t *testing.T, schema uint32, fill func(tx *bolt.Tx) error) string {
	t.Helper()
	root := t.TempDir()
	path := filepath.Join(root, filepath.FromSlash(Path))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	if schema > 0 {
		err = b.Update(func(tx *bolt.Tx) error {
			meta, err := tx.CreateBucketIfNotExists([]byte(bucketMeta))
			if err != nil {
				return err
			}
			if err := fill(tx); err != nil {
				return err
			}
			return meta.Put([]byte(keySchema), binary.BigEndian.AppendUint32(nil, schema))
		})
	}
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// openMigrated opens root's database (closed at the test's end) and
// checks that it was migrated to the current schema.
func openMigrated(t *testing.T, root string) *DB {
	t.Helper()
	db, err := Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if v, err := db.Schema(); err != nil || v != SchemaVersion {
		t.Fatalf("schema %d after migration: %v", v, err)
	}
	return db
}
