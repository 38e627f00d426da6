package publish

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// newAptEnv is a private apt configuration with one sources line.
func newAptEnv(t *testing.T, source string) *testfixture.AptEnv {
	t.Helper()
	return testfixture.NewAptEnv(t, testfixture.AptOptions{Sources: []string{source}})
}

// publishForApt publishes three packages: greet (amd64) depends on
// greet-lib (amd64) and greet-data (all).
func publishForApt(t *testing.T) (repo, keyring string) {
	t.Helper()
	in := t.TempDir()
	opts := baseOptions(t, testDebs(t, in)...)
	repo = t.TempDir()
	if _, err := Publish(context.Background(), Dir{Root: repo}, opts); err != nil {
		t.Fatal(err)
	}
	return repo, writeKeyring(t, opts.Key, t.TempDir())
}

func TestAptAcceptsRepository(t *testing.T) {
	aptGet := testfixtureTool(t)
	repo, keyring := publishForApt(t)
	var mu sync.Mutex
	var requests []string
	files := http.FileServer(http.Dir(repo))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.URL.Path)
		mu.Unlock()
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()
	for _, tc := range []struct{ name, uri string }{
		{"file", "file://" + repo},
		{"http", srv.URL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newAptEnv(t, fmt.Sprintf("deb [signed-by=%s] %s stable main", keyring, tc.uri))
			out, err := e.Run(ctx, aptGet, "update")
			if err != nil || strings.Contains(out, "W: ") || strings.Contains(out, "E: ") {
				t.Fatalf("apt-get update: %v\n%s", err, out)
			}
			out, err = e.Run(ctx, aptGet, "install", "--download-only", "-y", "greet")
			if err != nil {
				t.Fatalf("apt-get install --download-only: %v\n%s", err, out)
			}
			for _, want := range []string{"greet-lib amd64 1.0-1", "greet-data all 1.0", "greet amd64 2:1.2-3", "Download complete"} {
				if !strings.Contains(out, want) {
					t.Errorf("apt-get install output lacks %q:\n%s", want, out)
				}
			}
			if tc.name == "http" {
				// Acquire-By-Hash: yes made apt fetch the index by hash.
				mu.Lock()
				byHash := slices.ContainsFunc(requests, func(p string) bool {
					return strings.HasPrefix(p, "/dists/stable/main/binary-amd64/by-hash/SHA256/")
				})
				mu.Unlock()
				if !byHash {
					t.Errorf("apt fetched no index by hash; requests: %v", requests)
				}
			}
			if tc.name == "file" {
				// apt uses file:// packages in place; it has checked
				// their hashes against the index all the same.
				return
			}
			entries, err := os.ReadDir(e.Archives)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range entries {
				if !d.IsDir() && d.Name() != "lock" {
					got = append(got, d.Name())
				}
			}
			// apt names downloads NAME_VERSION_ARCH.deb, the epoch's
			// colon written %3a.
			want := []string{"greet-data_1.0_all.deb", "greet-lib_1.0-1_amd64.deb", "greet_2%3a1.2-3_amd64.deb"}
			if !slices.Equal(got, want) {
				t.Errorf("downloaded %v, want %v\n%s", got, want, out)
			}
		})
	}
}

func TestAptRejectsTamperedInRelease(t *testing.T) {
	aptGet := testfixtureTool(t)
	repo, keyring := publishForApt(t)
	p := filepath.Join(repo, "dists/stable/InRelease")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "Label: grey test", "Label: grey tesT", 1)
	if bad == string(data) {
		t.Fatal("nothing to tamper with")
	}
	if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newAptEnv(t, fmt.Sprintf("deb [signed-by=%s] file://%s stable main", keyring, repo))
	out, err := e.Run(context.Background(), aptGet, "update")
	t.Logf("apt-get update:\n%s", out)
	// apt 2.6 reports the bad signature, refuses the source ("is not
	// signed") and exits 100.
	if err == nil {
		t.Fatalf("apt-get update accepted a tampered InRelease:\n%s", out)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 100 {
		t.Errorf("apt-get update: %v, want exit status 100", err)
	}
	for _, want := range []string{"BADSIG", "is not signed"} {
		if !strings.Contains(out, want) {
			t.Errorf("apt-get update output lacks %q:\n%s", want, out)
		}
	}
	// Nothing from the refused repository is usable.
	out, err = e.Run(context.Background(), aptGet, "install", "--download-only", "-y", "greet")
	if err == nil {
		t.Errorf("apt installed from a refused repository:\n%s", out)
	}
}

func TestAptRejectsTamperedIndex(t *testing.T) {
	aptGet := testfixtureTool(t)
	repo, keyring := publishForApt(t)
	// Corrupt every copy of the xz index (plain name and by-hash) while
	// keeping its size, as a broken mirror would.
	dir := filepath.Join(repo, "dists/stable/main/binary-amd64")
	rel, err := os.ReadFile(filepath.Join(repo, "dists/stable/Release"))
	if err != nil {
		t.Fatal(err)
	}
	_, lists := parseRelease(t, rel)
	for _, e := range lists["SHA256"] {
		if e.path != "main/binary-amd64/Packages.xz" {
			continue
		}
		for _, p := range []string{filepath.Join(dir, "Packages.xz"), filepath.Join(dir, "by-hash/SHA256", e.hash)} {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 0xff
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	e := newAptEnv(t, fmt.Sprintf("deb [signed-by=%s] file://%s stable main", keyring, repo))
	out, err := e.Run(context.Background(), aptGet, "update")
	if err == nil || !strings.Contains(out, "Hash Sum mismatch") {
		t.Errorf("apt-get update on a corrupted index: %v\n%s", err, out)
	}
}

func testfixtureTool(t *testing.T) string {
	return testfixture.Tool(t, "apt-get", "apt")
}
