package transaction

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/pkgdb"
)

// FuzzUndoStaging: whatever the staging log says, recovery removes
// nothing outside the root (nor the root itself).
func FuzzUndoStaging(f *testing.F) {
	f.Add([]byte("# install hello_2.10-3_amd64.deb\nd /usr/share/doc/hello\nf /usr/bin/.grey-new-0123456789abcdef\n"))
	f.Add([]byte("# x\nf /../outside\nd /..\nd /\nf ../../outside\nd ../\n"))
	f.Add([]byte("d \nf \n# \n"))
	f.Fuzz(func(t *testing.T, log []byte) {
		top := t.TempDir()
		root := filepath.Join(top, "root")
		outside := filepath.Join(top, "outside")
		must(t, os.MkdirAll(filepath.Join(root, filepath.FromSlash(journalDir)), 0o755))
		must(t, os.WriteFile(outside, []byte("keep"), 0o644))
		must(t, os.MkdirAll(filepath.Join(top, "emptydir"), 0o755))
		must(t, os.WriteFile(filepath.Join(root, filepath.FromSlash(journalDir), stagingLogName), log, 0o644))
		rfs, err := openRootFS(root)
		must(t, err)
		if _, err := undoStaging(rfs); err != nil {
			t.Logf("undoStaging: %v", err)
		}
		rfs.close()
		for _, p := range []string{outside, filepath.Join(top, "emptydir"), root} {
			if _, err := os.Lstat(p); err != nil {
				t.Fatalf("%s was removed by the log %q", p, log)
			}
		}
	})
}

// FuzzRecover: whatever journal the database holds, recovery changes
// nothing outside the root (nor removes the root).
func FuzzRecover(f *testing.F) {
	f.Add([]byte(`{"summary":"install a","phase":"renaming","staged":["/usr/.grey-new-00"],"created":["/usr/share/a"],"paths":[{"rel":"/usr/bin/a","exists":false},{"rel":"/etc/a.conf","exists":true,"file":{"path":"/etc/a.conf","type":"file","mode":420,"size":3,"sha256":"00"}}],"admin_existed":false}`))
	f.Add([]byte(`{"summary":"x","phase":"renaming","staged":["/../outside","../../outside"],"created":["/..","/"],"paths":[{"rel":"/../outside","exists":false},{"rel":"/..","exists":false}],"admin":[{"rel":"../../outside","exists":true,"file":{"type":"file"}}],"admin_copy":"/..","admin_existed":true}`))
	f.Add([]byte(`{"summary":"remove a","phase":"committed","removed":[{"name":"a","info_name":"../../../outside"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var j pkgdb.Journal
		if json.Unmarshal(data, &j) != nil {
			return
		}
		top := t.TempDir()
		root := filepath.Join(top, "root")
		outside := filepath.Join(top, "outside")
		must(t, os.MkdirAll(root, 0o755))
		must(t, os.WriteFile(outside, []byte("keep"), 0o644))
		db, err := pkgdb.Open(root, pkgdb.Options{})
		must(t, err)
		defer db.Close()
		must(t, db.Update(func(tx *bolt.Tx) error { return pkgdb.PutJournal(tx, &j) }))
		if _, err := Recover(context.Background(), root, db); err != nil {
			t.Logf("recover: %v", err)
		}
		if b, err := os.ReadFile(outside); err != nil || string(b) != "keep" {
			t.Fatalf("recovery of %s touched a file outside the root: %q %v", data, b, err)
		}
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(pkgdb.Path))); err != nil {
			t.Fatalf("recovery of %s removed the database: %v", data, err)
		}
	})
}
