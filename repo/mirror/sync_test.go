package mirror

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/repo"
	"github.com/greypm/grey/repo/fetch"
	"github.com/greypm/grey/repo/sources"
)

// fixtureDebs lists the fixture's .deb files by their pool path.
func fixtureDebs(t *testing.T) map[string]string {
	fx := testfixture.Bookworm(t)
	out := map[string]string{}
	for _, archive := range []string{"debian", "debian-security"} {
		base := filepath.Join(fx, archive)
		err := filepath.Walk(filepath.Join(base, "pool"), func(p string, fi os.FileInfo, err error) error {
			if err == nil && strings.HasSuffix(p, ".deb") {
				rel, _ := filepath.Rel(base, p)
				out[filepath.ToSlash(rel)] = p
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) != 22 {
		t.Fatalf("the fixture has %d .debs, want 22", len(out))
	}
	return out
}

// checkFixtureMirror checks that the mirror serves the fixture: each
// InRelease byte-identical to upstream, each index at its name and by
// hash, and the 22 .debs identical.
func checkFixtureMirror(t *testing.T, dir string) {
	t.Helper()
	fx := testfixture.Bookworm(t)
	for _, s := range []struct{ archive, suite string }{{"debian", "bookworm"}, {"debian", "bookworm-updates"}, {"debian-security", "bookworm-security"}} {
		for _, f := range []string{"InRelease", "main/binary-amd64/Packages.xz"} {
			want, err := os.ReadFile(filepath.Join(fx, s.archive, "dists", s.suite, f))
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, "dists", s.suite, f))
			if err != nil || string(got) != string(want) {
				t.Errorf("dists/%s/%s differs from upstream (%v)", s.suite, f, err)
			}
		}
		byHash, _ := filepath.Glob(filepath.Join(dir, "dists", s.suite, "main/binary-amd64/by-hash/SHA256/*"))
		if len(byHash) != 1 {
			t.Errorf("dists/%s: %d by-hash files, want 1", s.suite, len(byHash))
		}
	}
	for rel, src := range fixtureDebs(t) {
		want, _ := os.ReadFile(src)
		got, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s differs from upstream (%v)", rel, err)
		}
	}
}

// TestFullSyncFixture mirrors the bookworm fixture's three suites over file://
// and over HTTP, checks the result byte for byte, that a second sync
// fetches nothing, and that real apt installs from the mirror and from a
// tagged snapshot of it with the upstream keyring.
func TestFullSyncFixture(t *testing.T) {
	t.Parallel()
	testfixture.WholeIndex(t)
	fx := testfixture.Bookworm(t)
	for _, tc := range []struct{ name, base string }{
		{"file", "file://" + fx},
		{"http", serveDir(t, fx)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMirror(t, fixtureSources(t, tc.base), nil)
			sum := syncOnce(t, m)
			t.Logf("first sync: %s", sum)
			if sum.Commit == "" || sum.Files != 25 || sum.Missing != 66483 {
				t.Errorf("first sync: %+v, want a commit, 25 files (3 indexes, 22 .debs), 66483 missing", sum)
			}
			checkFixtureMirror(t, m.Dir)
			before := servedHash(t, m.Dir)
			again := syncOnce(t, m)
			if again.Files != 0 || again.Commit != "" || slices.ContainsFunc(again.Suites, func(r SuiteResult) bool { return r.Status != Hit }) {
				t.Errorf("second sync: %+v, want three Hits and nothing fetched", again)
			}
			if servedHash(t, m.Dir) != before {
				t.Error("a no-op sync changed the served tree")
			}
			if _, err := TakeSnapshot(context.Background(), m, "s1", ""); err != nil {
				t.Fatal(err)
			}
			if tc.name == "file" {
				return // apt runs once, on the mirror served over HTTP
			}
			srv := httptest.NewServer(Handler(m))
			defer srv.Close()
			kr := filepath.Join(fx, "debian-archive-keyring.gpg")
			for _, root := range []string{srv.URL, srv.URL + "/snapshots/s1"} {
				var srcs []string
				for _, s := range []string{"bookworm", "bookworm-updates", "bookworm-security"} {
					// bookworm-security's Valid-Until is past at the real
					// clock apt reads.
					srcs = append(srcs, fmt.Sprintf("deb [signed-by=%s check-valid-until=no] %s %s main", kr, root, s))
				}
				out := newAptEnv(t, srcs...).updateAndDownload("hello")
				if !strings.Contains(out, "libc6") {
					t.Errorf("apt from %s: hello's closure lacks libc6:\n%s", root, out)
				}
			}
		})
	}
}

// TestFullGreyUpdateFromMirror: grey's own update verifies the mirror with the
// upstream keyring.
func TestFullGreyUpdateFromMirror(t *testing.T) {
	t.Parallel()
	testfixture.WholeIndex(t)
	fx := testfixture.Bookworm(t)
	m := newMirror(t, fixtureSources(t, "file://"+fx), nil)
	syncOnce(t, m)
	var srcs []*sources.Source
	for _, line := range fixtureSources(t, "file://"+m.Dir) {
		line = strings.Replace(line, "/debian-security ", " ", 1)
		line = strings.Replace(line, "/debian ", " ", 1)
		s, err := sources.Parse(line)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, s)
	}
	res, err := repo.Update(context.Background(), srcs, repo.Options{Root: t.TempDir(), Now: clock, Store: &repo.MemoryStore{}, Architectures: []string{"amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != repo.Get {
			t.Errorf("%s: %s", r.ID, r.Status)
		}
	}
}

// cancelAfter is a Fetcher that cancels the sync after n pool downloads,
// as a cut network or an interrupt would.
type cancelAfter struct {
	*fetch.Client
	n      int32
	cancel context.CancelFunc
}

func (c *cancelAfter) FetchAll(ctx context.Context, reqs []fetch.Request) []error {
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		if strings.HasSuffix(r.URL, ".deb") && atomic.AddInt32(&c.n, -1) < 0 {
			c.cancel()
		}
		if err := ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		errs[i] = c.Fetch(ctx, r.URL, r.Dest, r.Expect)
	}
	return errs
}

// TestSyncResumes interrupts a sync after a few .debs: the served tree is
// untouched, and the next sync fetches only what is left.
func TestSyncResumes(t *testing.T) {
	fx := testfixture.Bookworm(t)
	up := t.TempDir()
	k, kp := testKey(t, "up", t.TempDir())
	var pkgs []pkgSpec
	for i := range 10 {
		pkgs = append(pkgs, pkgSpec{name: fmt.Sprintf("p%d", i), version: "1.0"})
	}
	publishUpstream(t, up, k, clock().Add(-time.Hour), pkgs...)
	_ = fx
	m := newMirror(t, []string{fmt.Sprintf("deb [signed-by=%s] file://%s stable main", kp.Keyring, up)}, nil)
	before := servedHash(t, m.Dir)
	ctx, cancel := context.WithCancel(context.Background())
	f := &cancelAfter{Client: testFetcher(), n: 4, cancel: cancel}
	if _, err := Sync(ctx, m, SyncOptions{Now: clock, Fetcher: f}); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted sync: %v, want context.Canceled", err)
	}
	if servedHash(t, m.Dir) != before {
		t.Error("an interrupted sync changed the served tree")
	}
	sum := syncOnce(t, m)
	// Four .debs were staged before the cut; six are fetched now, and
	// the indexes were staged too.
	if sum.Reused != 4 || sum.Files != 6 {
		t.Errorf("resumed sync: %+v, want 4 reused and 6 fetched", sum)
	}
}
