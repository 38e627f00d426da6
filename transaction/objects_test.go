package transaction

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/pkgdb"
)

// TestSnapshotObjects: a Snapshot install whose Install.Objects names
// files outside the root (a per-app store's objects) links each into the
// root, so the root's file is the object's inode, with nothing of it in
// the root's content store; an object whose size, mode or type is not the
// record's is refused with an ObjectError naming it, and the root is left
// as it was.
// snapshotObjects installs a package of regular files into a root, takes
// its history snapshot, and copies each regular file outside any root as
// an object (by path), as a per-app store holds them. It returns the
// root, the .deb, the snapshot, the objects and the regular files.
func snapshotObjects(t *testing.T) (string, string, *pkgdb.Snapshot, map[string]string, []pkgdb.File) {
	src := t.TempDir()
	r := openRoot(t, src)
	deb := manyFiles(t, "many", "1.0", 6, false, nil, "")
	if _, err := Apply(context.Background(), r.DB, Plan{Install: []Install{{Path: deb}}}, Options{Root: src, NoScripts: true}); err != nil {
		t.Fatal(err)
	}
	snap := historySnapshot(t, r, 1, "many")
	// The objects: copies of the installed files outside any root.
	objDir := t.TempDir()
	objects := map[string]string{}
	var regular []pkgdb.File
	for _, f := range snap.Package.Files {
		if f.Type != pkgdb.TypeRegular {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, f.Path))
		must(t, err)
		p := filepath.Join(objDir, f.SHA256)
		must(t, os.WriteFile(p, b, 0o600))
		must(t, os.Chmod(p, os.FileMode(f.Mode&0o777)))
		objects[f.Path] = p
		regular = append(regular, f)
	}
	if len(regular) < 2 {
		t.Fatalf("%d regular files", len(regular))
	}
	return src, deb, snap, objects, regular

}

// freshRoot returns a new root whose content store holds snap's info files.
func freshRoot(t *testing.T, src string, snap *pkgdb.Snapshot) (string, *Root) {
	dst := t.TempDir()
	d := openRoot(t, dst)
	for _, sum := range snap.Info {
		b, err := OpenStore(src).Read(sum)
		must(t, err)
		_, err = OpenStore(dst).AddBytes(b)
		must(t, err)
	}
	return dst, d
}

func TestSnapshotObjects(t *testing.T) {
	src, deb, snap, objects, regular := snapshotObjects(t)

	install := func(t *testing.T, objects map[string]string) (string, error) {
		dst, d := freshRoot(t, src, snap)
		_, err := Apply(context.Background(), d.DB, Plan{Install: []Install{{Snapshot: snap, Objects: objects}}},
			Options{Root: dst, NoScripts: true})
		return dst, err
	}

	t.Run("linked", func(t *testing.T) {
		dst, err := install(t, objects)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range regular {
			var a, b syscall.Stat_t
			must(t, syscall.Lstat(objects[f.Path], &a))
			must(t, syscall.Lstat(filepath.Join(dst, f.Path), &b))
			if a.Ino != b.Ino {
				t.Errorf("%s is not the object's inode", f.Path)
			}
			if OpenStore(dst).Has(f.SHA256) {
				t.Errorf("%s's content is in the root's store", f.Path)
			}
		}
	})

	t.Run("refused with scripts", func(t *testing.T) {
		dst := t.TempDir()
		d := openRoot(t, dst)
		_, err := Apply(context.Background(), d.DB, Plan{Install: []Install{{Snapshot: snap, Objects: objects}}}, Options{Root: dst})
		if err == nil || !strings.Contains(err.Error(), "maintainer scripts") {
			t.Fatalf("Objects with scripts: %v", err)
		}
		if _, err := Apply(context.Background(), d.DB, Plan{Install: []Install{{Path: deb, Objects: objects}}}, Options{Root: dst, NoScripts: true}); err == nil || !strings.Contains(err.Error(), "snapshot") {
			t.Fatalf("Objects with a .deb: %v", err)
		}
	})

	victim := regular[0]
	for _, tc := range []struct {
		name, want string
		spoil      func(p string)
	}{
		{"size", "bytes, the package's file has", func(p string) {
			must(t, os.Chmod(p, 0o644))
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			must(t, err)
			f.WriteString("more")
			f.Close()
			must(t, os.Chmod(p, os.FileMode(victim.Mode&0o777)))
		}},
		{"mode", "mode 4755", func(p string) { must(t, syscall.Chmod(p, 0o4755)) }},
		{"type", "not a regular file", func(p string) {
			must(t, os.Remove(p))
			must(t, os.Symlink("elsewhere", p))
		}},
		{"missing", "no such file", func(p string) { must(t, os.Remove(p)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spoiled := map[string]string{}
			for k, v := range objects {
				spoiled[k] = v
			}
			p := filepath.Join(t.TempDir(), "object")
			b, err := os.ReadFile(objects[victim.Path])
			must(t, err)
			must(t, os.WriteFile(p, b, os.FileMode(victim.Mode&0o777)))
			tc.spoil(p)
			spoiled[victim.Path] = p
			dst, err := install(t, spoiled)
			var oe *ObjectError
			if !errors.As(err, &oe) || oe.Object != p || oe.Path != victim.Path || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an ObjectError for %s saying %q", err, p, tc.want)
			}
			if _, err := os.Lstat(filepath.Join(dst, victim.Path)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the refused install left %s: %v", victim.Path, err)
			}
		})
	}
}

// TestFreshStagesInPlace: with Options.Fresh, a snapshot install into an
// empty root stages its Objects files at their own names, so the commit
// renames none of them (without Fresh it renames each); a copy of the root
// taken at each step boundary before the commit recovers to an empty
// root, one taken after it to the installed package; Fresh is refused
// with scripts and in a root with packages installed.
func TestFreshStagesInPlace(t *testing.T) {
	src, deb, snap, objects, regular := snapshotObjects(t)
	for _, fresh := range []bool{false, true} {
		t.Run(fmt.Sprintf("fresh=%v", fresh), func(t *testing.T) {
			dst, d := freshRoot(t, src, snap)
			copies := map[string]string{}
			renames := 0
			opts := Options{Root: dst, NoScripts: true, Fresh: fresh, atStep: func(step string) {
				switch step {
				case "rename":
					renames++
				case "staged", "journal", "renamed", "committed":
					c := filepath.Join(t.TempDir(), "root")
					copyTree(t, dst, c)
					copies[step] = c
				}
			}}
			if _, err := Apply(context.Background(), d.DB, Plan{Install: []Install{{Snapshot: snap, Objects: objects}}}, opts); err != nil {
				t.Fatal(err)
			}
			if fresh && renames != 0 || !fresh && renames < len(regular) {
				t.Errorf("%d renames in the commit for %d files", renames, len(regular))
			}
			for _, f := range regular {
				var a, b syscall.Stat_t
				must(t, syscall.Lstat(objects[f.Path], &a))
				must(t, syscall.Lstat(filepath.Join(dst, f.Path), &b))
				if a.Ino != b.Ino {
					t.Errorf("%s is not the object's inode", f.Path)
				}
			}
			if len(copies) != 4 {
				t.Fatalf("copies at %v", copies)
			}
			for step, c := range copies {
				r := openRoot(t, c) // recovers
				pkgs := installed(t, r)
				_, err := os.Lstat(filepath.Join(c, regular[0].Path))
				if step == "committed" {
					if len(pkgs) != 1 || err != nil {
						t.Errorf("after %s: %d installed, %s: %v", step, len(pkgs), regular[0].Path, err)
					}
					continue
				}
				if len(pkgs) != 0 || !errors.Is(err, os.ErrNotExist) {
					t.Errorf("crash after %s: %d installed, %s: %v", step, len(pkgs), regular[0].Path, err)
				}
				filepath.WalkDir(filepath.Join(c, "usr"), func(p string, e os.DirEntry, err error) error {
					if err == nil && !e.IsDir() {
						t.Errorf("crash after %s: %s left", step, p)
					}
					return nil
				})
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		dst, d := freshRoot(t, src, snap)
		if _, err := Apply(context.Background(), d.DB, Plan{Install: []Install{{Snapshot: snap}}}, Options{Root: dst, Fresh: true}); err == nil || !strings.Contains(err.Error(), "Fresh") {
			t.Errorf("Fresh with scripts: %v", err)
		}
		if _, err := Apply(context.Background(), d.DB, Plan{Install: []Install{{Path: deb}}}, Options{Root: dst, NoScripts: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := Apply(context.Background(), d.DB, Plan{Install: []Install{{Snapshot: snap, Objects: objects}}}, Options{Root: dst, NoScripts: true, Fresh: true}); err == nil || !strings.Contains(err.Error(), "Fresh") {
			t.Errorf("Fresh with a package installed: %v", err)
		}
	})
}

// historySnapshot returns the snapshot of package name in r's history
// entry id.
func historySnapshot(t *testing.T, r *Root, id uint64, name string) *pkgdb.Snapshot {
	t.Helper()
	e, err := entry(r.DB, id)
	must(t, err)
	var snap *pkgdb.Snapshot
	must(t, r.DB.View(func(tx *bolt.Tx) error {
		var err error
		snap, err = pkgdb.GetSnapshot(tx, e.Snapshots[name])
		return err
	}))
	return snap
}
