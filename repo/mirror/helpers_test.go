package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/repo/fetch"
)

// fixtureSources are the bookworm fixture's three suites as source lines,
// under base (file://FIXTURE or an HTTP server's URL serving it).
func fixtureSources(t testing.TB, base string) []string {
	kr := filepath.Join(testfixture.Bookworm(t), "debian-archive-keyring.gpg")
	return []string{
		fmt.Sprintf("deb [signed-by=%s] %s/debian bookworm main", kr, base),
		fmt.Sprintf("deb [signed-by=%s] %s/debian bookworm-updates main", kr, base),
		fmt.Sprintf("deb [signed-by=%s] %s/debian-security bookworm-security main", kr, base),
	}
}

// serveDir serves dir over HTTP on loopback for the test's duration.
func serveDir(t testing.TB, dir string) string {
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL
}

func clock() time.Time { return testfixture.Clock }

func testFetcher() *fetch.Client {
	return fetch.New(fetch.WithConcurrency(8), fetch.WithRetries(1, time.Millisecond))
}

// newMirror creates a mirror of srcs (amd64, missing pool files allowed:
// the fixture is a slice of the archive) in a fresh directory.
func newMirror(t testing.TB, srcs []string, mod func(*Config)) *Mirror {
	t.Helper()
	root := t.TempDir()
	c := Config{Name: "m", Sources: srcs, Architectures: []string{"amd64"}, AllowMissing: true}
	if mod != nil {
		mod(&c)
	}
	m, err := Create(root, filepath.Join(root, "mirror"), c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func syncOnce(t testing.TB, m *Mirror) *Summary {
	t.Helper()
	sum, err := Sync(context.Background(), m, SyncOptions{Now: clock, Fetcher: testFetcher()})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return sum
}

// servedHash hashes the served tree: every file and link under dir but
// the mirror's private folders, by path and content.
func servedHash(t testing.TB, dir string) string {
	t.Helper()
	h := sha256.New()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() && (rel == ".git" || rel == MetaDir) {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			names = append(names, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, n)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %v\n", n, fi.Mode())
		if fi.Mode()&fs.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			fmt.Fprintln(h, l)
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(h, f)
		f.Close()
	}
	return hex.EncodeToString(h.Sum(nil))
}

func lines(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
