package repo

import (
	"context"
	"errors"
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
