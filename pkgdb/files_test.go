package pkgdb

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestMigrate3To4: a schema 3 database's per-path index ("paths", one key
// per path) is replaced by the per-directory one, rebuilt from the
// package records: every path keeps its owners.
func TestMigrate3To4(t *testing.T) {
	recs := []*Package{
		{Name: "a", Version: "1", Status: StatusInstalled, Files: []File{{Path: "/usr", Type: TypeDir}, {Path: "/usr/bin", Type: TypeDir}, {Path: "/usr/bin/a", Type: TypeRegular}}},
		{Name: "b", Version: "1", Status: StatusInstalled, Instance: "b:i386", Files: []File{{Path: "/usr", Type: TypeDir}, {Path: "/usr/bin/b", Type: TypeRegular}}},
	}
	root := writeOldDB(t, 3, func(tx *bolt.Tx) error {
		for _, name := range []string{bucketReleases, "packages", "paths", "journal", "history", "snapshots"} {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		// Schema 3's layout, written by hand: the records and one paths
		// key per path with NUL-separated owners.
		old := map[string]string{"/usr": "a\x00b:i386", "/usr/bin": "a", "/usr/bin/a": "a", "/usr/bin/b": "b:i386"}
		for k, v := range old {
			if err := tx.Bucket([]byte("paths")).Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		for _, p := range recs {
			v, _ := json.Marshal(p)
			if err := tx.Bucket([]byte("packages")).Put([]byte(p.Key()), v); err != nil {
				return err
			}
		}
		return nil
	})
	db := openMigrated(t, root)
	want := map[string][]string{"/usr": {"a", "b:i386"}, "/usr/bin": {"a"}, "/usr/bin/a": {"a"}, "/usr/bin/b": {"b:i386"}, "/usr/bin/c": nil, "/": nil}
	_ = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("paths")) != nil {
			t.Error("schema 3's paths bucket kept")
		}
		for p, w := range want {
			if got := Owners(tx, p); !reflect.DeepEqual(got, w) {
				t.Errorf("owners of %s = %v, want %v", p, got, w)
			}
		}
		return nil
	})
}

// TestPathIndex: owners through puts and deletes of many packages
// sharing directories, with names a line-based index would break on;
// the index holds one key per directory and none for an emptied one.
func TestPathIndex(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	odd := "/usr/share/we\x00ird\nname"
	var batch []*Package
	for i := 0; i < 50; i++ {
		p := &Package{Name: fmt.Sprintf("p%02d", i), Status: StatusInstalled, Files: []File{
			{Path: "/usr", Type: TypeDir}, {Path: "/usr/share", Type: TypeDir},
			{Path: fmt.Sprintf("/usr/share/p%02d", i), Type: TypeRegular},
		}}
		if i == 7 {
			p.Files = append(p.Files, File{Path: odd, Type: TypeRegular}, File{Path: "/", Type: TypeDir}, File{Path: "/usr/", Type: TypeDir})
		}
		batch = append(batch, p)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return PutPackages(tx, batch) }); err != nil {
		t.Fatal(err)
	}
	check := func(step string, want map[string][]string) {
		t.Helper()
		_ = db.View(func(tx *bolt.Tx) error {
			for p, w := range want {
				if got := Owners(tx, p); !reflect.DeepEqual(got, w) {
					t.Errorf("%s: owners of %q = %v, want %v", step, p, got, w)
				}
			}
			return nil
		})
	}
	all := make([]string, 50)
	for i := range all {
		all[i] = fmt.Sprintf("p%02d", i)
	}
	check("put 50", map[string][]string{"/usr": all, "/usr/share": all, "/usr/share/p03": {"p03"}, odd: {"p07"}, "/": {"p07"}, "/usr/": {"p07"}, "/usr/share/p50": nil})
	err = db.Update(func(tx *bolt.Tx) error {
		for i := 0; i < 50; i += 2 {
			if err := DeletePackage(tx, all[i]); err != nil {
				return err
			}
		}
		p := *batch[7]
		p.Files = p.Files[:2] // p07 gives up its own files
		return PutPackage(tx, &p)
	})
	if err != nil {
		t.Fatal(err)
	}
	var odds []string
	for i := 1; i < 50; i += 2 {
		odds = append(odds, all[i])
	}
	check("half deleted", map[string][]string{"/usr": odds, "/usr/share/p02": nil, "/usr/share/p03": {"p03"}, "/usr/share/p07": nil, odd: nil, "/": nil})
	err = db.Update(func(tx *bolt.Tx) error {
		for i := 1; i < 50; i += 2 {
			if err := DeletePackage(tx, all[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDirs).ForEach(func(k, _ []byte) error {
			t.Errorf("directory key %q left with no package", k)
			return nil
		})
	})
	check("all deleted", map[string][]string{"/usr": nil, "/usr/share/p03": nil})
}

// FuzzDecodeDir: a corrupt index value is an error, never a panic, and a
// valid one decodes to the same entries once encoded again.
func FuzzDecodeDir(f *testing.F) {
	f.Add(appendDir(nil, []dirEntry{{base: "a", owners: []string{"x", "y"}}, {base: "b", owners: []string{"z"}}}))
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, v []byte) {
		_ = lookupDir(v, "a")
		ents, err := decodeDir(v, "/d/")
		if err != nil {
			return
		}
		again, err := decodeDir(appendDir(nil, ents), "/d/")
		if err != nil || len(again) != len(ents) {
			t.Fatalf("round trip of %q: %v", v, err)
		}
		for i := range ents {
			if again[i].base != ents[i].base || !slices.Equal(again[i].owners, ents[i].owners) {
				t.Errorf("round trip of %q: %v -> %v", v, ents, again)
			}
		}
	})
}
