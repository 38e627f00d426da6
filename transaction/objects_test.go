package transaction

import (
	"context"
	"errors"
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
func TestSnapshotObjects(t *testing.T) {
	src := t.TempDir()
	r := openRoot(t, src)
	deb := manyFiles(t, "many", "1.0", 6, false, nil, "")
	if _, err := Apply(context.Background(), r.DB, Plan{Install: []Install{{Path: deb}}}, Options{Root: src, NoScripts: true}); err != nil {
		t.Fatal(err)
	}
	e, err := entry(r.DB, 1)
	must(t, err)
	var snap *pkgdb.Snapshot
	must(t, r.DB.View(func(tx *bolt.Tx) error {
		var err error
		snap, err = pkgdb.GetSnapshot(tx, e.Snapshots["many"])
		return err
	}))
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

	install := func(t *testing.T, objects map[string]string) (string, error) {
		dst := t.TempDir()
		d := openRoot(t, dst)
		// The info files come from the root's own content store.
		for _, sum := range snap.Info {
			b, err := OpenStore(src).Read(sum)
			must(t, err)
			_, err = OpenStore(dst).AddBytes(b)
			must(t, err)
		}
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
