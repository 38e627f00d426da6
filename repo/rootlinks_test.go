package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/rootfs"
	"github.com/greypm/grey/internal/testfixture"
)

// TestAttackKeyringLinkOutOfRoot: an apt source's keyring is named by its
// path inside the root (sources.LoadApt resolved it there); a link
// swapped in on the way since (usr/share/keyrings -> a host directory)
// must not make grey trust a keyring outside the root. The update is
// refused naming the link, nothing is written, and the outside is as it
// was (issue 12, item 9: the keyring was read by its path). A link that
// stays inside the root is followed.
func TestAttackKeyringLinkOutOfRoot(t *testing.T) {
	repo := newTestRepo(t)
	repo.publish(t, pub{suite: "stable", date: testfixture.Clock.Add(-24 * time.Hour), packages: 2})
	key, err := os.ReadFile(repo.keyring)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		target func(root, outside string) string // the link's target
		refuse bool
	}{
		{"absolute link out", func(_, outside string) string { return outside }, true},
		{"relative link climbing out", func(root, outside string) string {
			return strings.Repeat("../", strings.Count(root, "/")+2) + strings.TrimPrefix(outside, "/")
		}, true},
		{"link inside the root", func(root, _ string) string { return "../../srv/keys" }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			outside := filepath.Join(t.TempDir(), "keyrings")
			for _, p := range []string{filepath.Join(outside, "test.gpg"), filepath.Join(root, "srv/keys/test.gpg")} {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, p, key)
			}
			link := filepath.Join(root, "usr/share/keyrings")
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(c.target(root, outside), link); err != nil {
				t.Fatal(err)
			}
			before := testfixture.TreeListing(t, outside)
			line := strings.Replace(repo.line("stable"), repo.keyring, filepath.Join(link, "test.gpg"), 1)
			results, err := Update(context.Background(), parseSources(t, line), options(root, newMemStore(), testfixture.Clock))
			if !c.refuse {
				if err != nil || results[0].Status != Get {
					t.Fatalf("%s: %v", results[0].Status, err)
				}
				return
			}
			if results[0].Status != Refused || !errors.Is(err, rootfs.ErrOutside) || !strings.Contains(err.Error(), link+" (-> ") {
				t.Errorf("%s: %v; want a refusal saying %s leads out of the root", results[0].Status, err, link)
			}
			if _, err := os.Stat(filepath.Join(root, ListsDir)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("lists written: %v", err)
			}
			if got := testfixture.TreeListing(t, outside); got != before {
				t.Errorf("outside the root changed:\n%s", testfixture.DiffListings(before, got))
			}
		})
	}
}

// TestAttackListsLinkOutOfRoot: grey update writes a source's verified
// metadata into var/lib/grey/lists/ID, downloading it into
// var/lib/grey/partial/ID first; in a root where one of those folders is
// a symbolic link out of it, the update fails naming the link, and
// nothing outside is written, renamed or removed (issue 12, item 9: they
// were reached by joining paths). Each folder is opened through the
// root's os.Root and its files reached by one name in its descriptor.
func TestAttackListsLinkOutOfRoot(t *testing.T) {
	repo := newTestRepo(t)
	srcs := parseSources(t, repo.line("stable"))
	id := srcs[0].ID()
	for _, state := range []string{"var/lib/grey", ListsDir, ListsDir + "/" + id, stagingDir, stagingDir + "/" + id} {
		t.Run(state, func(t *testing.T) {
			root := t.TempDir()
			store := newMemStore()
			repo.publish(t, pub{suite: "stable", date: testfixture.Clock.Add(-48 * time.Hour), packages: 2})
			if _, err := Update(context.Background(), srcs, options(root, store, testfixture.Clock)); err != nil {
				t.Fatal(err)
			}
			// A newer Release: the update has files to write.
			repo.publish(t, pub{suite: "stable", date: testfixture.Clock.Add(-24 * time.Hour), packages: 3})
			link := filepath.Join(root, state)
			outside := filepath.Join(t.TempDir(), "outside")
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(link, outside); errors.Is(err, os.ErrNotExist) {
				if err := os.MkdirAll(outside, 0o755); err != nil {
					t.Fatal(err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, link); err != nil {
				t.Fatal(err)
			}
			before := testfixture.TreeListing(t, outside)
			results, err := Update(context.Background(), srcs, options(root, store, testfixture.Clock))
			if results[0].Status == Get || !errors.Is(err, rootfs.ErrOutside) || !strings.Contains(err.Error(), link+" (-> "+outside+") leads out of the root") {
				t.Errorf("%s: %v; want an error saying %s leads out of the root", results[0].Status, err, link)
			}
			if got := testfixture.TreeListing(t, outside); got != before {
				t.Errorf("outside the root changed:\n%s", testfixture.DiffListings(before, got))
			}
		})
	}
}

// TestUpdateErrorsNameRealPaths: the lists and staging folders are
// reached through descriptors (/proc/self/fd/N, updateRoot.openDir), but
// an error writing or renaming a file in them names the file by its path
// under the root, as the project's errors do, never by the descriptor's
// path. Each case puts a directory in the way of a file the update
// writes: the downloaded index in partial/ID (the fetcher), the Release
// and state.json in lists/ID (atomicfile, lists.Write) and the index
// renamed into lists/ID.
func TestUpdateErrorsNameRealPaths(t *testing.T) {
	repo := newTestRepo(t)
	repo.publish(t, pub{suite: "stable", date: testfixture.Clock.Add(-24 * time.Hour), packages: 2})
	srcs := parseSources(t, repo.line("stable"))
	id := srcs[0].ID()
	// A first update elsewhere gives the names the files are stored by.
	results, err := Update(context.Background(), srcs, options(t.TempDir(), newMemStore(), testfixture.Clock))
	if err != nil {
		t.Fatal(err)
	}
	st := results[0].State
	if len(st.Indexes) == 0 {
		t.Fatal("no index")
	}
	release, index := filepath.Base(st.Release.File), filepath.Base(st.Indexes[0].Path)
	for _, c := range []struct{ name, file string }{
		{"download into partial", stagingDir + "/" + id + "/" + index},
		{"Release into lists", ListsDir + "/" + id + "/" + release},
		{"index renamed into lists", ListsDir + "/" + id + "/" + index},
		{"state.json", ListsDir + "/" + id + "/" + stateFile},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			file := filepath.Join(root, c.file)
			// A directory that is not empty: no rename replaces it.
			if err := os.MkdirAll(filepath.Join(file, "in-the-way"), 0o755); err != nil {
				t.Fatal(err)
			}
			results, err := Update(context.Background(), srcs, options(root, newMemStore(), testfixture.Clock))
			if err == nil || results[0].Status == Get {
				t.Fatalf("%s: %v; want a failure", results[0].Status, err)
			}
			msg := err.Error()
			if strings.Contains(msg, "/proc/self/fd") || !strings.Contains(msg, file) {
				t.Errorf("error %q: want it to name %s, not a /proc/self/fd path", msg, file)
			}
			if msg := results[0].Err.Error(); strings.Contains(msg, "/proc/self/fd") {
				t.Errorf("result's error %q names a /proc/self/fd path", msg)
			}
		})
	}
}

// TestHostPaths: a descriptor's path is replaced alone or as a folder,
// never as the start of a longer descriptor number, and the error keeps
// its chain and its type.
func TestHostPaths(t *testing.T) {
	dirs := map[string]string{"/proc/self/fd/7": "/r/lists/x", "/proc/self/fd/9": "/r/partial/x"}
	for _, c := range []struct{ in, want string }{
		{"rename /proc/self/fd/9/a.partial /proc/self/fd/7/a: file exists", "rename /r/partial/x/a.partial /r/lists/x/a: file exists"},
		{"sync /proc/self/fd/7: bad", "sync /r/lists/x: bad"},
		{"open /proc/self/fd/71/a and /proc/self/fd/7", "open /proc/self/fd/71/a and /r/lists/x"},
		{"no path", "no path"},
	} {
		base := &os.PathError{Op: "op", Path: "p", Err: os.ErrExist}
		err := hostPaths(&FetchError{Source: "s", File: "f", Err: fmt.Errorf("%s: %w", c.in, base)}, dirs)
		var fe *FetchError
		if !errors.As(err, &fe) || !errors.Is(err, os.ErrExist) {
			t.Errorf("%q: lost its chain: %#v", c.in, err)
			continue
		}
		if got, want := fe.Err.Error(), c.want+": op p: file already exists"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
