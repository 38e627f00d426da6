package transaction

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/repo/fetch"
)

// fakeFetcher writes content to each request's destination, or fails.
type fakeFetcher struct {
	content []byte
	fail    bool
	asked   int
}

func (f *fakeFetcher) FetchAll(_ context.Context, reqs []fetch.Request) []error {
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		f.asked++
		if f.fail {
			errs[i] = errors.New("unreachable")
			continue
		}
		errs[i] = os.WriteFile(r.Dest, f.content, 0o644)
	}
	return errs
}

// TestDownloadCacheDirectories checks that the archive cache is created
// only when something is fetched, removed again when a failed download
// leaves it empty, and that Pending.Discard removes what Download fetched
// and nothing else.
func TestDownloadCacheDirectories(t *testing.T) {
	content := []byte("a package\n")
	sum := sha256.Sum256(content)
	pkg := func(name string) *deb.Package {
		return &deb.Package{Name: name, Version: version.MustParse("1:1.0"), Architecture: "all",
			Filename: "pool/" + name + ".deb", Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:])}
	}
	urlOf := func(p *deb.Package) (string, error) { return JoinURL("http://deb.example.org/debian", p.Filename) }
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }
	ctx := context.Background()

	t.Run("nothing to fetch", func(t *testing.T) {
		root := t.TempDir()
		pd := &Pending{}
		if _, err := pd.Download(ctx, DownloadOptions{Fetcher: &fakeFetcher{}, Dir: root, URL: urlOf}); err != nil {
			t.Fatal(err)
		}
		if exists(filepath.Join(root, "var")) {
			t.Fatal("a download of nothing created the cache")
		}
	})
	t.Run("failed download", func(t *testing.T) {
		root := t.TempDir()
		pd := &Pending{Install: []Wanted{{Package: pkg("a")}}}
		if _, err := pd.Download(ctx, DownloadOptions{Fetcher: &fakeFetcher{fail: true}, Dir: root, URL: urlOf}); err == nil {
			t.Fatal("no error")
		}
		if exists(filepath.Join(root, "var")) {
			t.Fatal("a failed download left the cache's folders")
		}
	})
	t.Run("discard after a refusal", func(t *testing.T) {
		root := t.TempDir()
		// The cache exists and holds another package, and b is cached.
		cache := filepath.Join(root, ArchivesDir)
		if err := os.MkdirAll(cache, 0o755); err != nil {
			t.Fatal(err)
		}
		other := filepath.Join(cache, "other_1.0_all.deb")
		if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(CachePath(root, pkg("b")), content, 0o644); err != nil {
			t.Fatal(err)
		}
		f := &fakeFetcher{content: content}
		pd := &Pending{Install: []Wanted{{Package: pkg("a")}, {Package: pkg("b")}}}
		plan, err := pd.Download(ctx, DownloadOptions{Fetcher: f, Dir: root, URL: urlOf})
		if err != nil {
			t.Fatal(err)
		}
		if f.asked != 1 || len(plan.Install) != 2 || filepath.Base(plan.Install[0].Path) != "a_1%3a1.0_all.deb" {
			t.Fatalf("asked %d, plan %+v", f.asked, plan.Install)
		}
		if err := pd.Discard(); err != nil {
			t.Fatal(err)
		}
		if exists(plan.Install[0].Path) || !exists(plan.Install[1].Path) || !exists(other) {
			t.Fatal("Discard removed the wrong files")
		}
	})
	t.Run("discard in a new root", func(t *testing.T) {
		root := t.TempDir()
		pd := &Pending{Install: []Wanted{{Package: pkg("a")}}}
		if _, err := pd.Download(ctx, DownloadOptions{Fetcher: &fakeFetcher{content: content}, Dir: root, URL: urlOf}); err != nil {
			t.Fatal(err)
		}
		if err := pd.Discard(); err != nil {
			t.Fatal(err)
		}
		if entries, _ := os.ReadDir(root); len(entries) != 0 {
			t.Fatalf("the root keeps %v", entries)
		}
	})
	// DownloadOptions.Archives (apt's Dir::Cache::archives): the files go
	// there, inside the root or outside it, and Discard removes what it made.
	for _, where := range []string{"outside", "inside"} {
		t.Run("archives "+where+" the root", func(t *testing.T) {
			root, other := t.TempDir(), t.TempDir()
			archives := filepath.Join(other, "x", "debs")
			if where == "inside" {
				archives = filepath.Join(root, "srv", "debs")
			}
			pd := &Pending{Install: []Wanted{{Package: pkg("a")}}}
			plan, err := pd.Download(ctx, DownloadOptions{Fetcher: &fakeFetcher{content: content}, Dir: root, Archives: archives, URL: urlOf})
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(archives, "a_1%3a1.0_all.deb"); len(plan.Install) != 1 || plan.Install[0].Path != want || !exists(want) {
				t.Fatalf("plan %+v, want %s", plan.Install, want)
			}
			if exists(filepath.Join(root, "var")) {
				t.Fatal("the root's own cache was made")
			}
			if err := pd.Discard(); err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{root, other} {
				if entries, _ := os.ReadDir(d); len(entries) != 0 {
					t.Fatalf("%s keeps %v", d, entries)
				}
			}
		})
	}
}

// destErrFetcher fails each request with an error naming its Dest.
type destErrFetcher struct{}

func (destErrFetcher) FetchAll(_ context.Context, reqs []fetch.Request) []error {
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		errs[i] = &os.PathError{Op: "open", Path: r.Dest + ".partial", Err: os.ErrPermission}
	}
	return errs
}

// TestDownloadErrorNamesCache: the fetcher writes into the root's cache
// through a descriptor's /proc/self/fd/N name; its errors name the
// cache's own path, and still unwrap to the fetcher's.
func TestDownloadErrorNamesCache(t *testing.T) {
	root := t.TempDir()
	p := &deb.Package{Name: "a", Version: version.MustParse("1"), Architecture: "all", Filename: "pool/a.deb", Size: 1, SHA256: "00"}
	urlOf := func(p *deb.Package) (string, error) { return JoinURL("http://deb.example.org/debian", p.Filename) }
	_, err := Download(context.Background(), destErrFetcher{}, root, []*deb.Package{p}, urlOf)
	if err == nil {
		t.Fatal("no error")
	}
	want := filepath.Join(root, ArchivesDir, "a_1_all.deb.partial")
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "/proc/") || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("error %q (%#v): want one naming %s, wrapping the permission error", err, err, want)
	}
}
