package pkgdb

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestMigrate2To3: a schema 2 database (installed set, no history) gains
// the journal, history and snapshot buckets and keeps its packages (and
// goes on to the current schema).
func TestMigrate2To3(t *testing.T) {
	root := writeOldDB(t, 2, func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists([]byte(bucketReleases)); err != nil {
			return err
		}
		if err := EnsureInstalledBuckets(tx); err != nil {
			return err
		}
		return PutPackage(tx, &Package{Name: "hello", Version: "1", Status: StatusInstalled})
	})
	db := openMigrated(t, root)
	err := db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketJournal, bucketHistory, bucketSnapshots} {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s missing", name)
			}
		}
		p, err := GetPackage(tx, "hello")
		if err != nil || p == nil {
			t.Errorf("hello lost: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHistoryAndJournal: ids increase from 1, snapshots are stored once
// per content, the journal is one entry that is replaced and deleted.
func TestHistoryAndJournal(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snap := &Snapshot{Package: &Package{Name: "a", Version: "1"}, Info: map[string]string{"postinst": "ab"}}
	err = db.Update(func(tx *bolt.Tx) error {
		k1, err := PutSnapshot(tx, snap)
		if err != nil {
			return err
		}
		k2, err := PutSnapshot(tx, &Snapshot{Package: &Package{Name: "a", Version: "1"}, Info: map[string]string{"postinst": "ab"}})
		if err != nil {
			return err
		}
		k3, err := PutSnapshot(tx, &Snapshot{Package: &Package{Name: "a", Version: "2"}})
		if err != nil {
			return err
		}
		if k1 != k2 || k1 == k3 {
			t.Errorf("snapshot keys %s %s %s: equal content must share a key, different must not", k1, k2, k3)
		}
		for i := 1; i <= 3; i++ {
			id, err := AppendHistory(tx, &HistoryEntry{Time: time.Unix(int64(i), 0), Snapshots: map[string]string{"a": k1}})
			if err != nil {
				return err
			}
			if id != uint64(i) {
				t.Errorf("entry %d got id %d", i, id)
			}
		}
		if err := PutJournal(tx, &Journal{Summary: "install a", Phase: JournalRenaming}); err != nil {
			return err
		}
		return PutJournal(tx, &Journal{Summary: "install b", Phase: JournalCommitted})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		hist, err := History(tx)
		if err != nil || len(hist) != 3 || hist[0].ID != 1 || hist[2].ID != 3 {
			t.Errorf("history: %v %v", hist, err)
		}
		last, err := LastHistory(tx)
		if err != nil || last == nil || last.ID != 3 {
			t.Errorf("last: %v %v", last, err)
		}
		if e, err := GetHistory(tx, 2); err != nil || e == nil || !e.Time.Equal(time.Unix(2, 0)) {
			t.Errorf("entry 2: %v %v", e, err)
		}
		if e, err := GetHistory(tx, 9); err != nil || e != nil {
			t.Errorf("entry 9: %v %v", e, err)
		}
		s, err := GetSnapshot(tx, hist[0].Snapshots["a"])
		if err != nil || s.Package.Name != "a" || s.Info["postinst"] != "ab" {
			t.Errorf("snapshot: %+v %v", s, err)
		}
		j, err := GetJournal(tx)
		if err != nil || j == nil || j.Summary != "install b" {
			t.Errorf("journal: %+v %v", j, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.Update(DeleteJournal))
	must(db.View(func(tx *bolt.Tx) error {
		if j, err := GetJournal(tx); err != nil || j != nil {
			t.Errorf("journal after delete: %+v %v", j, err)
		}
		return nil
	}))
}

// TestPutSnapshotEncoded: a snapshot stored from the record's stored form
// is the one PutSnapshot stores (same key), with and without info files.
func TestPutSnapshotEncoded(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := &Package{Name: "a<b>&", Version: "1", Status: StatusInstalled, Control: "Package: a\n",
		Files: []File{{Path: "/usr/a", Type: TypeRegular, MD5: "00"}}}
	for _, info := range []map[string]string{nil, {}, {"postinst": "ab", "prerm": "cd<"}} {
		err := db.Update(func(tx *bolt.Tx) error {
			want, err := PutSnapshot(tx, &Snapshot{Package: p, Info: info})
			if err != nil {
				return err
			}
			enc, err := EncodePackages([]*Package{p})
			if err != nil {
				return err
			}
			got, err := PutSnapshotEncoded(tx, p.Key(), enc[0], info)
			if err != nil {
				return err
			}
			if got != want {
				t.Errorf("info %v: key %s, PutSnapshot's %s", info, got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
