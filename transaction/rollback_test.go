package transaction

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb"
)

// installed returns the root's package records.
func installed(t *testing.T, r *Root) []*pkgdb.Package {
	t.Helper()
	var pkgs []*pkgdb.Package
	must(t, r.DB.View(func(tx *bolt.Tx) error {
		var err error
		pkgs, err = pkgdb.Packages(tx)
		return err
	}))
	return pkgs
}

// rollbackTo rolls r back to the state after transaction id.
func rollbackTo(t *testing.T, r *Root, id uint64) *Result {
	t.Helper()
	tg, err := TargetAfter(r.DB, id)
	must(t, err)
	rp, err := PlanRollback(r.DB, r.Dir, tg)
	must(t, err)
	res, err := Apply(context.Background(), r.DB, rp.Plan, Options{Root: r.Dir, NoScripts: true, ForceEssential: true})
	must(t, err)
	return res
}

// checkAt checks that the root is exactly as transaction id left it: the
// tree hash of the managed files on disk and the one the records give are
// the hash id recorded, and grey's and dpkg's verify are clean.
func checkAt(t *testing.T, r *Root, dpkg string, id uint64, label string) {
	t.Helper()
	e, err := entry(r.DB, id)
	must(t, err)
	pkgs := installed(t, r)
	disk, err := DiskTreeHash(context.Background(), r.Dir, pkgs)
	must(t, err)
	if disk != e.TreeHash || TreeHash(pkgs) != e.TreeHash {
		t.Errorf("%s: tree hash on disk %s, of the records %s; transaction %d recorded %s", label, disk, TreeHash(pkgs), id, e.TreeHash)
	}
	after := map[string]string{}
	for _, p := range pkgs {
		if p.Status == pkgdb.StatusInstalled {
			after[p.Name] = p.Version
		}
	}
	if len(after) != len(e.After) {
		t.Errorf("%s: installed %v, transaction %d had %v", label, after, id, e.After)
	}
	for n, v := range e.After {
		if after[n] != v {
			t.Errorf("%s: %s is %q, transaction %d had %q", label, n, after[n], id, v)
		}
	}
	if probs, err := Verify(context.Background(), r.DB, r.Dir, nil); err != nil || len(probs) != 0 {
		t.Errorf("%s: verify: %v %v", label, probs, err)
	}
	if b, err := exec.Command(dpkg, "--root="+r.Dir, "--verify").CombinedOutput(); err != nil || len(b) != 0 {
		t.Errorf("%s: dpkg --verify: %v\n%s", label, err, b)
	}
}

// TestRollbackEachPoint installs, upgrades, removes and installs again,
// then rolls back to every earlier point in turn (and forward to the last
// one), comparing the root with the tree hash recorded at that point.
func TestRollbackEachPoint(t *testing.T) {
	dpkg := testfixture.Tool(t, "dpkg", "dpkg")
	root := t.TempDir()
	r := openRoot(t, root)
	many1 := manyFiles(t, "many", "1.0", 60, false, nil, "")
	many2 := manyFiles(t, "many", "2.0", 60, true, nil, "")
	conf1 := manyFiles(t, "conf", "1.0", 5, false, map[string]string{"etc/conf.conf": "setting=1\n"}, "/etc/conf.conf\n")
	conf2 := manyFiles(t, "conf", "2.0", 5, true, map[string]string{"etc/conf.conf": "setting=2\n"}, "/etc/conf.conf\n")
	extra := manyFiles(t, "extra", "1.0", 8, false, nil, "")
	late := manyFiles(t, "late", "1.0", 8, false, map[string]string{"usr/share/many/d1/late": "shared dir"}, "")
	steps := []Plan{
		{Install: []Install{{Path: many1}, {Path: conf1}, {Path: extra}}},
		{Install: []Install{{Path: many2}, {Path: conf2}}},
		{Remove: []Remove{{Name: "extra"}}},
		{Install: []Install{{Path: late}}},
	}
	for i, p := range steps {
		res, err := Apply(context.Background(), r.DB, p, Options{Root: root, NoScripts: true})
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		if res.HistoryID != uint64(i+1) {
			t.Fatalf("step %d recorded as transaction %d", i+1, res.HistoryID)
		}
		checkAt(t, r, dpkg, res.HistoryID, "after step")
	}
	for _, id := range []uint64{3, 2, 1, 4, 1} {
		res := rollbackTo(t, r, id)
		checkAt(t, r, dpkg, id, fmt.Sprintf("rollback to %d", id))
		if res.HistoryID == 0 {
			t.Errorf("rollback to %d is not in the history", id)
		}
	}
	hist, err := ReadHistory(r.DB)
	must(t, err)
	if len(hist) != 9 {
		t.Errorf("%d history entries, want 9 (4 changes, 5 rollbacks)", len(hist))
	}
	// Undo of the last rollback (to 1) returns to the state after 4.
	tg, err := TargetUndo(r.DB, 9)
	must(t, err)
	rp, err := PlanRollback(r.DB, root, tg)
	must(t, err)
	if _, err := Apply(context.Background(), r.DB, rp.Plan, Options{Root: root, NoScripts: true}); err != nil {
		t.Fatal(err)
	}
	checkAt(t, r, dpkg, 4, "undo 9")
}

// TestRollbackKeepsEditedConffile: a conffile the user edited survives a
// rollback to a version that ships another one; the package's version is
// written beside it and the user told.
func TestRollbackKeepsEditedConffile(t *testing.T) {
	root := t.TempDir()
	r := openRoot(t, root)
	conf1 := manyFiles(t, "conf", "1.0", 3, false, map[string]string{"etc/conf.conf": "setting=1\n"}, "/etc/conf.conf\n")
	conf2 := manyFiles(t, "conf", "2.0", 3, true, map[string]string{"etc/conf.conf": "setting=2\n"}, "/etc/conf.conf\n")
	for _, d := range []string{conf1, conf2} {
		if _, err := Apply(context.Background(), r.DB, Plan{Install: []Install{{Path: d}}}, Options{Root: root, NoScripts: true}); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(root, "etc/conf.conf")
	must(t, os.WriteFile(p, []byte("mine\n"), 0o644))
	res := rollbackTo(t, r, 1)
	if got := readFile(t, p); got != "mine\n" {
		t.Errorf("edited conffile after rollback: %q", got)
	}
	if got := readFile(t, p+".dpkg-new"); got != "setting=1\n" {
		t.Errorf("package version beside it: %q", got)
	}
	if len(res.Conffiles) != 1 || res.Conffiles[0].Path != "/etc/conf.conf" {
		t.Errorf("user not told: %+v", res.Conffiles)
	}
	// The store's copy of the conffile is a copy: editing the root's
	// file did not change it.
	store := OpenStore(root)
	for _, f := range installed(t, r)[0].Files {
		if f.Path == "/etc/conf.conf" {
			must(t, store.Check(f.SHA256))
		}
	}
}

// TestRollbackAfterGC: once gc freed the contents an earlier point needs
// (and no .deb is cached), rollback names what is missing and changes
// nothing.
func TestRollbackAfterGC(t *testing.T) {
	root := t.TempDir()
	r := openRoot(t, root)
	v1 := manyFiles(t, "many", "1.0", 30, false, nil, "")
	v2 := manyFiles(t, "many", "2.0", 30, true, nil, "")
	for _, d := range []string{v1, v2} {
		if _, err := Apply(context.Background(), r.DB, Plan{Install: []Install{{Path: d}}}, Options{Root: root, NoScripts: true}); err != nil {
			t.Fatal(err)
		}
	}
	// With both entries kept, nothing rollback 1 needs goes.
	if _, err := GC(context.Background(), root, r.DB, 2); err != nil {
		t.Fatal(err)
	}
	tg, err := TargetAfter(r.DB, 1)
	must(t, err)
	if _, err := PlanRollback(r.DB, root, tg); err != nil {
		t.Fatalf("gc --keep 2 freed what rollback 1 needs: %v", err)
	}
	res, err := GC(context.Background(), root, r.DB, 1)
	must(t, err)
	if res.Freed == 0 {
		t.Fatal("gc --keep 1 freed nothing")
	}
	before := treeHash(t, root)
	_, err = PlanRollback(r.DB, root, tg)
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("rollback after gc: %v, want a MissingError", err)
	}
	if !strings.Contains(err.Error(), "many 1.0: /usr/share/many/d") || !strings.Contains(err.Error(), "sha256 ") {
		t.Errorf("error does not name the missing contents: %v", err)
	}
	if treeHash(t, root) != before {
		t.Error("the root changed")
	}
}

// TestRollbackDamagedStore: a stored content that no longer has its hash
// is not restored: the rollback fails with the root unchanged, the damaged
// content is dropped, and the next attempt says it is missing.
func TestRollbackDamagedStore(t *testing.T) {
	root := t.TempDir()
	r := openRoot(t, root)
	v1 := manyFiles(t, "many", "1.0", 10, false, nil, "")
	v2 := manyFiles(t, "many", "2.0", 10, true, nil, "")
	for _, d := range []string{v1, v2} {
		if _, err := Apply(context.Background(), r.DB, Plan{Install: []Install{{Path: d}}}, Options{Root: root, NoScripts: true}); err != nil {
			t.Fatal(err)
		}
	}
	snap := historySnapshot(t, r, 1, "many")
	var victim pkgdb.File
	for _, f := range snap.Package.Files {
		if f.Type == pkgdb.TypeRegular && strings.Contains(f.Path, "/f1") {
			victim = f
			break
		}
	}
	store := OpenStore(root)
	must(t, os.WriteFile(store.Path(victim.SHA256), []byte("tampered"), 0o644))
	before := rootTreeHash(t, root) // the store itself changes: the damaged content goes
	tg, err := TargetAfter(r.DB, 1)
	must(t, err)
	rp, err := PlanRollback(r.DB, root, tg)
	must(t, err)
	if _, err := Apply(context.Background(), r.DB, rp.Plan, Options{Root: root, NoScripts: true}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("rollback from a damaged store: %v", err)
	}
	if rootTreeHash(t, root) != before {
		t.Error("the failed rollback changed the root")
	}
	if _, err := PlanRollback(r.DB, root, tg); err == nil || !strings.Contains(err.Error(), victim.Path) {
		t.Errorf("second attempt: %v, want the damaged content named as missing", err)
	}
}

// TestRollbackFromRoot: a fresh install enters no file content into the
// store (contents are stored when they leave the root); a rollback that
// needs contents still in the root takes them from there, offline, and
// one changed in place since it was recorded counts as missing.
func TestRollbackFromRoot(t *testing.T) {
	dpkg := testfixture.Tool(t, "dpkg", "dpkg")
	for _, edit := range []bool{false, true} {
		t.Run(fmt.Sprintf("edited=%v", edit), func(t *testing.T) {
			root := t.TempDir()
			r := openRoot(t, root)
			v1 := manyFiles(t, "many", "1.0", 20, false, nil, "")
			if _, err := Apply(context.Background(), r.DB, Plan{Install: []Install{{Path: v1}}}, Options{Root: root, NoScripts: true}); err != nil {
				t.Fatal(err)
			}
			store := OpenStore(root)
			var victim pkgdb.File
			for _, f := range installed(t, r)[0].Files {
				if f.Type != pkgdb.TypeRegular {
					continue
				}
				if store.Has(f.SHA256) {
					t.Errorf("%s is in the store after a fresh install", f.Path)
				}
				victim = f
			}
			// The record changes, the files do not: rollback 1 must put
			// the record back, with every content from the root.
			must(t, r.DB.Update(func(tx *bolt.Tx) error { return pkgdb.SetAuto(tx, "many", true) }))
			if edit {
				must(t, os.WriteFile(filepath.Join(root, victim.Path), []byte("edited in place"), 0o644))
			}
			tg, err := TargetAfter(r.DB, 1)
			must(t, err)
			rp, err := PlanRollback(r.DB, root, tg)
			if edit {
				var me *MissingError
				if !errors.As(err, &me) || !strings.Contains(err.Error(), victim.Path) {
					t.Fatalf("rollback with %s edited: %v, want a MissingError naming it", victim.Path, err)
				}
				return
			}
			must(t, err)
			if len(rp.Plan.Install) != 1 || rp.Plan.Install[0].Snapshot == nil {
				t.Fatalf("plan %+v, want many from its snapshot", rp.Plan)
			}
			if _, err := Apply(context.Background(), r.DB, rp.Plan, Options{Root: root, NoScripts: true, Sync: true}); err != nil {
				t.Fatal(err)
			}
			checkAt(t, r, dpkg, 1, "rollback from the root")
			if p := installed(t, r)[0]; p.Auto {
				t.Error("the mark was not rolled back")
			}
		})
	}
}
