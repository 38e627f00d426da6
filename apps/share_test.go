package apps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/pkgdb"
)

// countFiles counts the regular files under dir.
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// TestWarmAppAddsNoObjects: a second app with the same packages as the
// first, with and without maintainer scripts, links every file outside
// the private directories to the first app's store object and adds no
// object. Before, a warm app with scripts got a second object of every
// file: its copies already had the object's read-only mode, which was in
// the key.
func TestWarmAppAddsNoObjects(t *testing.T) {
	ctx := context.Background()
	for _, scripts := range []bool{false, true} {
		t.Run(map[bool]string{false: "no-scripts", true: "scripts"}[scripts], func(t *testing.T) {
			base := buildDeb(t, "base", "1", map[string]string{"usr/lib/.keep": "", "etc/base.conf": "base\n", "usr/lib/link": "symlink:.keep"})
			libx := buildDeb(t, "libx", "1", map[string]string{"usr/lib/libx.so": "libx\n", "usr/bin/x": "x\n"})
			a := Open(filepath.Join(t.TempDir(), "apps"))
			opts := InstallOptions{Local: []string{base, libx}, Scripts: scripts}
			if _, err := a.Install(ctx, "one", opts); err != nil {
				t.Fatal(err)
			}
			r1 := a.Root("one", 1)
			objects := countFiles(t, a.storeDir())
			m2, err := a.Install(ctx, "two", opts)
			if err != nil {
				t.Fatal(err)
			}
			if m2.FromStore != 2 {
				t.Errorf("%d packages from the store, want 2", m2.FromStore)
			}
			if got := countFiles(t, a.storeDir()); got != objects {
				t.Errorf("the second app made the store %d objects, was %d", got, objects)
			}
			r2 := a.Root("two", 1)
			// The info files the roots' history entries snapshot are
			// the blobs, in both roots.
			stored := 0
			filepath.WalkDir(filepath.Join(r2, "var/lib/grey/store"), func(p string, d fs.DirEntry, err error) error {
				if err != nil || !d.Type().IsRegular() {
					return nil
				}
				stored++
				fan := filepath.Base(filepath.Dir(p))
				for _, q := range []string{p, filepath.Join(r1, "var/lib/grey/store", fan, d.Name())} {
					if !sameFile(t, q, a.blobPath(fan+d.Name())) {
						t.Errorf("%s is not the blob", q)
					}
				}
				return nil
			})
			if stored == 0 {
				t.Error("no info file in the second root's content store")
			}
			for _, p := range []string{"usr/lib/libx.so", "usr/bin/x", "usr/lib/.keep"} {
				s1, s2 := statPair(t, r1, r2, p)
				if s1.Ino != s2.Ino {
					t.Errorf("%s: inodes %d and %d", p, s1.Ino, s2.Ino)
				}
			}
		})
	}
}

// TestCopyIntoKeepsModeAndTime: the copy a warm compose with scripts
// puts into the new root's content store has the record's mode and the
// object's modification time (a .py file's mtime goes into its .pyc).
func TestCopyIntoKeepsModeAndTime(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "obj")
	if err := os.WriteFile(src, []byte("print(1)\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2026, 10, 7, 12, 35, 7, 0, time.UTC)
	if err := os.Chtimes(src, mt, mt); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f    *pkgdb.File
		mode os.FileMode
	}{
		{&pkgdb.File{Mode: 0o444}, 0o444},
		{&pkgdb.File{Mode: 0o555}, 0o555},
		{nil, 0o644},
	} {
		dst := filepath.Join(dir, "store", "ab", strings.Repeat("c", 8)+tc.mode.String())
		if err := copyInto(src, dst, map[string]bool{}, tc.f); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(dst)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != tc.mode || !fi.ModTime().Equal(mt) {
			t.Errorf("%v: mode %v mtime %v, want %v %v", tc.f, fi.Mode(), fi.ModTime(), tc.mode, mt)
		}
	}
}

// TestManifestFollowsDirectoryLinks: on a merged /usr (made by usrmerge's
// maintainer script: the packages still say /lib/libx.so, the root has
// /lib -> usr/lib), the manifest names the object share linked
// /usr/lib/libx.so to, and keeps no blob of its content beside it (which
// doubled every file under /bin, /sbin and /lib in the store); and a
// warm compose's hints, by the packages' paths, find the files.
func TestManifestFollowsDirectoryLinks(t *testing.T) {
	ctx := context.Background()
	a := Open(filepath.Join(t.TempDir(), "apps"))
	root := t.TempDir()
	for _, d := range []string{"usr/lib", "var/lib/dpkg/info", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("usr/lib", filepath.Join(root, "lib")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/lib/libx.so"), []byte("libx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/x.conf"), []byte("conf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, keys, _, err := a.share(ctx, root, nil, nil)
	if err != nil || n != 1 {
		t.Fatalf("share: %d %v", n, err)
	}
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	rec := &pkgdb.Package{Name: "libx", Version: "1", Files: []pkgdb.File{
		{Path: "/lib", Type: pkgdb.TypeDir, Mode: 0o755},
		{Path: "/lib/libx.so", Type: pkgdb.TypeRegular, Mode: 0o644, SHA256: sum("libx\n")},
		{Path: "/etc/x.conf", Type: pkgdb.TypeRegular, Mode: 0o644, SHA256: sum("conf\n")},
	}}
	canon, err := newCanonical(root)
	if err != nil {
		t.Fatal(err)
	}
	defer canon.Close()
	m, err := a.makeManifest(root, rec, keys, canon)
	if err != nil || m == nil {
		t.Fatalf("manifest: %v %v", m, err)
	}
	if m.Objects["/lib/libx.so"] != keys["/usr/lib/libx.so"] {
		t.Errorf("manifest objects %v, share's keys %v", m.Objects, keys)
	}
	if _, err := os.Lstat(a.blobPath(sum("libx\n"))); err == nil {
		t.Error("/lib/libx.so has a blob beside its object")
	}
	if _, err := os.Lstat(a.blobPath(sum("conf\n"))); err != nil {
		t.Errorf("/etc/x.conf has no blob: %v", err)
	}
	// The hint by the package's path is taken (no hashing: a file
	// whose content no longer matches its key would be hashed again).
	n, keys2, _, err := a.share(ctx, root, map[string]string{"/lib/libx.so": keys["/usr/lib/libx.so"]}, nil)
	if err != nil || n != 1 || keys2["/usr/lib/libx.so"] != keys["/usr/lib/libx.so"] {
		t.Errorf("share with hints: %d %v %v", n, keys2, err)
	}
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	ai, err1 := os.Lstat(a)
	bi, err2 := os.Lstat(b)
	return err1 == nil && err2 == nil && os.SameFile(ai, bi)
}
