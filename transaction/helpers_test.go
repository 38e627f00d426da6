package transaction

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb"
)

// fixtureDebs returns the 22 .deb files of the bookworm fixture, sorted by
// file name.
func fixtureDebs(t testing.TB) []string {
	t.Helper()
	dir := testfixture.Bookworm(t)
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".deb") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return filepath.Base(out[i]) < filepath.Base(out[j]) })
	if len(out) != 22 {
		t.Fatalf("fixture has %d .deb files, want 22", len(out))
	}
	return out
}

// treeHash hashes every path under root with its type, mode, size,
// content and link target (not times, which creating and removing a
// staged file changes in the parent directory).
func treeHash(t testing.TB, root string, skipDirs ...string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if slices.Contains(skipDirs, filepath.ToSlash(rel)) {
			if !d.IsDir() {
				return nil
			}
			return fs.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%v\x00", rel, fi.Mode())
		switch {
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			fmt.Fprintf(h, "->%s", l)
		}
		h.Write([]byte{0})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// openRoot opens a root for a test and closes it at the end.
func openRoot(t testing.TB, dir string) *Root {
	t.Helper()
	r, err := OpenRoot(context.Background(), dir, pkgdb.LockOptions{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
