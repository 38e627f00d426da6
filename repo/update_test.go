package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/repo/fetch"
)

func TestFixtureUpdate(t *testing.T) {
	dir := fixtureDir(t)
	root := t.TempDir()
	store := newMemStore()
	srcs := parseSources(t, fixtureLines(dir)...)
	results, err := Update(context.Background(), srcs, options(root, store, testfixture.Clock))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"bookworm": 63440, "bookworm-updates": 38, "bookworm-security": 3028}
	total := 0
	for suite, n := range want {
		r := resultOf(t, results, suite)
		if r.Status != Get || r.State == nil || len(r.State.Indexes) != 1 {
			t.Fatalf("%s: %+v", suite, r)
		}
		ix := r.State.Indexes[0]
		if ix.Name != "main/binary-amd64/Packages.xz" || ix.Component != "main" || ix.Arch != "amd64" {
			t.Fatalf("%s: index %+v", suite, ix)
		}
		checkUsable(t, r.State)
		if suite == "bookworm" && raceEnabled {
			// Decompressing 50 MB of xz takes a minute under -race: check
			// that the stored file is the README's 63,440-stanza index
			// (checkUsable hashed it), and count it in runs without -race.
			if ix.SHA256 != "9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5" || ix.Size != 8790396 {
				t.Fatalf("bookworm main index %+v", ix)
			}
			total += n
			continue
		}
		got := countStanzas(t, ix.Path)
		if got != n {
			t.Fatalf("%s: %d stanzas, want %d", suite, got, n)
		}
		total += got
	}
	if total != 66506 {
		t.Fatalf("%d stanzas in all", total)
	}

	// What the index cache reads.
	states, err := States(root)
	if err != nil || len(states) != 3 {
		t.Fatalf("States: %d, %v", len(states), err)
	}
	sec, err := LoadState(root, resultOf(t, results, "bookworm-security").ID)
	if err != nil {
		t.Fatal(err)
	}
	if sec.Release.Codename != "bookworm-security" || !sec.Release.ValidUntil.Equal(time.Date(2026, 12, 1, 0, 34, 33, 0, time.UTC)) ||
		sec.Indexes[0].SHA256 != "ee8ab5a3ce537673f0833471f7e8659185ba0a2e615dc54127315057d2455376" || sec.Release.Signer == "" {
		t.Fatalf("security state %+v", sec)
	}
	if d, ok, _ := store.LastAccepted(sec.SourceID); !ok || !d.Equal(sec.Release.Date) {
		t.Fatalf("store has %v for security", d)
	}

	// The same again: nothing changed, so every source is a Hit and the
	// lists stay byte for byte.
	before := treeHashes(t, filepath.Join(root, ListsDir))
	results, err = Update(context.Background(), srcs, options(root, store, testfixture.Clock.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Status != Hit || r.Downloaded != 0 {
			t.Fatalf("second update %s: %s, %d bytes", r.ID, r.Status, r.Downloaded)
		}
	}
	sameTree(t, before, treeHashes(t, filepath.Join(root, ListsDir)))

	// A damaged local index is noticed and fetched again.
	ix := resultOf(t, results, "bookworm-updates").State.Indexes[0]
	flipAt(t, ix.Path, 10)
	results, err = Update(context.Background(), srcs, options(root, store, testfixture.Clock.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if r := resultOf(t, results, "bookworm-updates"); r.Status != Get || r.Downloaded != ix.Size {
		t.Fatalf("after local damage: %s, %d bytes", r.Status, r.Downloaded)
	}
	after := treeHashes(t, filepath.Join(root, ListsDir))
	for k, v := range before {
		if after[k] != v && !strings.HasSuffix(k, stateFile) { // its Accepted time moved
			t.Fatalf("%s differs after the repair", k)
		}
	}
	if _, err := os.Stat(filepath.Join(root, stagingDir)); err == nil {
		entries, _ := os.ReadDir(filepath.Join(root, stagingDir))
		if len(entries) != 0 {
			t.Fatalf("staging not cleaned: %v", entries)
		}
	}
}

func TestFixtureExpired(t *testing.T) {
	dir := fixtureDir(t)
	root := t.TempDir()
	store := newMemStore()
	srcs := parseSources(t, fixtureLines(dir)...)
	if _, err := Update(context.Background(), srcs, options(root, store, testfixture.Clock)); err != nil {
		t.Fatal(err)
	}
	before := treeHashes(t, filepath.Join(root, ListsDir))
	results, err := Update(context.Background(), srcs, options(root, store, testfixture.ExpiredClock))
	if err == nil {
		t.Fatal("expired metadata accepted")
	}
	re := refusal(t, resultOf(t, results, "bookworm-security"))
	if !strings.Contains(re.Source, "debian-security bookworm-security") || !strings.HasSuffix(re.File, "dists/bookworm-security/InRelease") ||
		!strings.Contains(re.Reason, "expired") || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("refusal %+v", re)
	}
	for _, s := range []string{"bookworm", "bookworm-updates"} {
		if r := resultOf(t, results, s); r.Status != Hit {
			t.Fatalf("%s at the expired clock: %s %v", s, r.Status, r.Err)
		}
	}
	after := treeHashes(t, filepath.Join(root, ListsDir))
	secDir := resultOf(t, results, "bookworm-security").ID
	for k, v := range before {
		if strings.HasPrefix(k, secDir+"/") && after[k] != v {
			t.Fatalf("refused source's %s changed", k)
		}
	}
	r := resultOf(t, results, "bookworm-security")
	if r.State == nil {
		t.Fatal("refused result lost the previous state")
	}
	checkUsable(t, r.State)

	// check-valid-until=no accepts it, as apt does.
	kr := filepath.Join(dir, "debian-archive-keyring.gpg")
	lenient := parseSources(t, fmt.Sprintf("deb [signed-by=%s check-valid-until=no] file://%s/debian-security bookworm-security main", kr, dir))
	if _, err := Update(context.Background(), lenient, options(t.TempDir(), newMemStore(), testfixture.ExpiredClock)); err != nil {
		t.Fatalf("check-valid-until=no: %v", err)
	}
}

// TestFixtureTampered refuses each kind of bad metadata and keeps what was
// accepted before.
func TestFixtureTampered(t *testing.T) {
	dir := fixtureDir(t)
	other := newTestRepo(t) // its keyring is the wrong one for Debian
	for _, c := range []struct {
		name   string
		suite  string
		before bool // accept the good metadata first
		tamper func(t *testing.T, fix string)
		line   func(t *testing.T, fix string) string
		reason string
	}{
		{"flipped byte in InRelease", "bookworm-updates", true, func(t *testing.T, fix string) {
			flip(t, filepath.Join(fix, "debian/dists/bookworm-updates/InRelease"), "Packages.xz")
		}, nil, "signature check failed"},
		{"flipped byte in Packages.xz", "bookworm-updates", false, func(t *testing.T, fix string) {
			flipAt(t, filepath.Join(fix, "debian/dists/bookworm-updates/main/binary-amd64/Packages.xz"), 1000)
		}, nil, "sha256 differs from the Release"},
		{"wrong keyring", "bookworm-updates", true, nil, func(_ *testing.T, fix string) string {
			return fmt.Sprintf("deb [signed-by=%s] file://%s/debian bookworm-updates main", other.keyring, fix)
		}, "signature check failed"},
		{"another suite's Release", "bookworm", true, func(t *testing.T, fix string) {
			data, err := os.ReadFile(filepath.Join(fix, "debian/dists/bookworm-updates/InRelease"))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(fix, "debian/dists/bookworm/InRelease"), data)
		}, nil, `Release is for suite "oldstable-updates" (codename "bookworm-updates"), not "bookworm"`},
		{"older Release after a newer one", "bookworm-updates", true, func(t *testing.T, fix string) {
			// A validly signed Release for the same suite, dated before
			// the one accepted, vouching for the same index.
			rel, err := os.ReadFile(filepath.Join(dir, "debian/dists/bookworm-updates/InRelease"))
			if err != nil {
				t.Fatal(err)
			}
			body := "Origin: Debian\nSuite: oldstable-updates\nCodename: bookworm-updates\nDate: Fri, 20 Nov 2026 00:00:00 UTC\nArchitectures: amd64\nComponents: main\nSHA256:\n"
			for _, l := range strings.Split(string(rel), "\n") {
				if strings.HasSuffix(l, " main/binary-amd64/Packages.xz") {
					body += l + "\n"
				}
			}
			var in bytes.Buffer
			if err := other.key.ClearSign(&in, []byte(body), time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(fix, "debian/dists/bookworm-updates/InRelease"), in.Bytes())
		}, func(t *testing.T, fix string) string {
			return fmt.Sprintf("deb [signed-by=%s] file://%s/debian bookworm-updates main", both(t, fix, other.keyring), fix)
		}, "older than the Release accepted before"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fix := copyFixture(t, dir)
			root := t.TempDir()
			store := newMemStore()
			good := fmt.Sprintf("deb [signed-by=%s/debian-archive-keyring.gpg] file://%s/debian %s main", fix, fix, c.suite)
			if c.line != nil && c.tamper != nil {
				good = c.line(t, fix) // the same source before and after
			}
			if c.before {
				if _, err := Update(context.Background(), parseSources(t, good), options(root, store, testfixture.Clock)); err != nil {
					t.Fatal(err)
				}
			}
			before := treeHashes(t, filepath.Join(root, ListsDir))
			if c.tamper != nil {
				c.tamper(t, fix)
			}
			line := good
			if c.line != nil {
				line = c.line(t, fix)
			}
			results, err := Update(context.Background(), parseSources(t, line), options(root, store, testfixture.Clock))
			if err == nil {
				t.Fatal("accepted")
			}
			re := refusal(t, results[0])
			if !strings.Contains(re.Reason, c.reason) || !strings.Contains(re.Source, c.suite) || re.File == "" {
				t.Fatalf("refusal %v, want reason %q", re, c.reason)
			}
			sameTree(t, before, treeHashes(t, filepath.Join(root, ListsDir)))
			if c.before {
				st, err := LoadState(root, results[0].ID)
				if err != nil {
					t.Fatal(err)
				}
				checkUsable(t, st)
			} else if _, err := LoadState(root, results[0].ID); !errors.Is(err, ErrNoState) {
				t.Fatalf("state after a refused first update: %v", err)
			}
		})
	}
}

// both writes a keyring holding Debian's keys and the test key, so that one
// source accepts Releases signed by either.
func both(t *testing.T, fix, testKeyring string) string {
	t.Helper()
	a, err := os.ReadFile(filepath.Join(fix, "debian-archive-keyring.gpg"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(testKeyring)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(fix, "both.gpg")
	writeFile(t, path, append(a, b...))
	return path
}

func flip(t *testing.T, path, near string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(near))
	if i < 0 {
		t.Fatalf("%q not in %s", near, path)
	}
	flipAt(t, path, i)
}

func flipAt(t *testing.T, path string, i int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[i] ^= 0x01
	writeFile(t, path, data)
}

// TestTestRepo covers what the fixture cannot: newer and older Releases
// signed by a key of the test, detached signatures, by-hash, dates.
func TestTestRepo(t *testing.T) {
	d1 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	d2 := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	now := testfixture.Clock
	type step struct {
		pub    pub
		status Status
		reason string // for Refused
	}
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"rollback to an older Release", []step{
			{pub{date: d2, packages: 3}, Get, ""},
			{pub{date: d1, packages: 2}, Refused, "older than the Release accepted before"},
		}},
		{"newer Release replaces the old", []step{
			{pub{date: d1, packages: 2}, Get, ""},
			{pub{date: d2, packages: 5}, Get, ""},
			{pub{date: d2, packages: 5}, Hit, ""},
		}},
		{"corrupt index in a newer Release", []step{
			{pub{date: d1, packages: 2}, Get, ""},
			{pub{date: d2, packages: 4, corruptXz: true}, Refused, "sha256 differs"},
		}},
		{"fallback to plain Packages", []step{
			{pub{date: d1, packages: 2, missingXz: true}, Get, ""},
			{pub{date: d1, packages: 2, missingXz: true}, Hit, ""},
		}},
		{"detached signature", []step{{pub{date: d1, packages: 2, detached: true}, Get, ""}}},
		{"unsigned Release", []step{{pub{date: d1, packages: 2, unsigned: true}, Refused, "not signed"}}},
		{"by-hash only", []step{{pub{date: d1, packages: 2, byHashOnly: true}, Get, ""}}},
		{"dated in the future", []step{{pub{date: now.Add(time.Hour), packages: 1}, Refused, "in the future"}}},
		{"within the clock skew", []step{{pub{date: now.Add(5 * time.Minute), packages: 1}, Get, ""}}},
		{"expired", []step{{pub{date: d1, validUntil: d2, packages: 1}, Refused, "expired"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			repo := newTestRepo(t)
			root := t.TempDir()
			store := newMemStore()
			srcs := parseSources(t, repo.line("stable"))
			var accepted map[string]string
			var lastState *State
			for i, s := range c.steps {
				s.pub.suite = "stable"
				repo.publish(t, s.pub)
				results, err := Update(context.Background(), srcs, options(root, store, now))
				r := results[0]
				if r.Status != s.status {
					t.Fatalf("step %d: %s (%v), want %s", i, r.Status, err, s.status)
				}
				lists := treeHashes(t, filepath.Join(root, ListsDir))
				if s.status == Refused {
					if re := refusal(t, r); !strings.Contains(re.Error(), s.reason) {
						t.Fatalf("step %d: %v, want %q", i, re, s.reason)
					}
					if accepted != nil {
						sameTree(t, accepted, lists)
						checkUsable(t, r.State)
						if r.State.Release.Date != lastState.Release.Date {
							t.Fatal("refused result reports another state")
						}
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				checkUsable(t, r.State)
				if n := countStanzas(t, r.State.Indexes[0].Path); n != s.pub.packages {
					t.Fatalf("step %d: %d stanzas, want %d", i, n, s.pub.packages)
				}
				// Exactly the new state's files remain.
				if want := 2 + len(r.State.Indexes) + btoi(r.State.Release.Signature != ""); len(lists) != want {
					t.Fatalf("step %d: %d files in the lists, want %d: %v", i, len(lists), want, lists)
				}
				accepted, lastState = lists, r.State
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestRollbackSurvivesWipedLists: the last accepted date lives in the
// store, so deleting the lists does not reopen a rollback.
func TestRollbackSurvivesWipedLists(t *testing.T) {
	repo := newTestRepo(t)
	root := t.TempDir()
	store := newMemStore()
	srcs := parseSources(t, repo.line("stable"))
	repo.publish(t, pub{suite: "stable", date: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), packages: 1})
	if _, err := Update(context.Background(), srcs, options(root, store, testfixture.Clock)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, ListsDir)); err != nil {
		t.Fatal(err)
	}
	repo.publish(t, pub{suite: "stable", date: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), packages: 1})
	results, _ := Update(context.Background(), srcs, options(root, store, testfixture.Clock))
	if re := refusal(t, results[0]); !strings.Contains(re.Reason, "rollback") {
		t.Fatalf("%v", re)
	}
}

func TestTrustOptions(t *testing.T) {
	repo := newTestRepo(t)
	repo.publish(t, pub{suite: "stable", date: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), packages: 1, unsigned: true})
	for _, c := range []struct {
		line   string
		status Status
		reason string
	}{
		{fmt.Sprintf("deb file://%s stable main", repo.dir), Refused, "no signed-by keyring"},
		{fmt.Sprintf("deb [trusted=yes] file://%s stable main", repo.dir), Get, ""},
		{fmt.Sprintf("deb [signed-by=%s] file://%s stable main", filepath.Join(repo.dir, "nope.gpg"), repo.dir), Refused, "unusable signed-by keyring"},
		{fmt.Sprintf("deb [signed-by=%s] file://%s testing main", repo.keyring, repo.dir), Failed, "neither InRelease nor Release"},
	} {
		results, _ := Update(context.Background(), parseSources(t, c.line), options(t.TempDir(), newMemStore(), testfixture.Clock))
		r := results[0]
		if r.Status != c.status || (c.reason != "" && !strings.Contains(r.Err.Error(), c.reason)) {
			t.Errorf("%s: %s %v, want %s %q", c.line, r.Status, r.Err, c.status, c.reason)
		}
	}
}

// TestFixtureOverHTTP serves the fixture on loopback and cuts the
// connection in the middle of bookworm's Packages.xz once.
func TestFixtureOverHTTP(t *testing.T) {
	dir := fixtureDir(t)
	files := http.FileServer(http.Dir(dir))
	var cut atomic.Bool
	var ranged atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/bookworm/main/binary-amd64/Packages.xz") {
			if r.Header.Get("Range") != "" {
				ranged.Store(true)
			}
			if cut.CompareAndSwap(false, true) {
				hj := w.(http.Hijacker)
				conn, buf, err := hj.Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				data, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(r.URL.Path)))
				fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nLast-Modified: Wed, 25 Nov 2026 00:00:00 GMT\r\n\r\n", len(data))
				buf.Write(data[:3_000_000])
				buf.Flush()
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
				return
			}
		}
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()
	kr := filepath.Join(dir, "debian-archive-keyring.gpg")
	srcs := parseSources(t,
		fmt.Sprintf("deb [signed-by=%s] %s/debian bookworm main", kr, srv.URL),
		fmt.Sprintf("deb [signed-by=%s] %s/debian bookworm-updates main", kr, srv.URL),
		fmt.Sprintf("deb [signed-by=%s] %s/debian-security bookworm-security main", kr, srv.URL),
	)
	opts := options(t.TempDir(), newMemStore(), testfixture.Clock)
	opts.Fetcher = fetch.New(fetch.WithSleep(func(context.Context, time.Duration) error { return nil }))
	results, err := Update(context.Background(), srcs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !cut.Load() || !ranged.Load() {
		t.Fatalf("cut %v, resumed with Range %v", cut.Load(), ranged.Load())
	}
	for _, r := range results {
		if r.Status != Get {
			t.Fatalf("%s: %s", r.ID, r.Status)
		}
		checkUsable(t, r.State)
	}
	if n := countStanzas(t, resultOf(t, results, "bookworm-security").State.Indexes[0].Path); n != 3028 {
		t.Fatalf("security: %d stanzas", n)
	}
}

func TestOneFailureKeepsOthers(t *testing.T) {
	dir := fixtureDir(t)
	lines := fixtureLines(dir)
	lines = append(lines, fmt.Sprintf("deb [signed-by=%s/debian-archive-keyring.gpg] file://%s/nowhere bookworm main", dir, dir))
	root := t.TempDir()
	results, err := Update(context.Background(), parseSources(t, lines...), options(root, newMemStore(), testfixture.Clock))
	if err == nil || len(results) != 4 || results[3].Status != Failed {
		t.Fatalf("err %v, results %d", err, len(results))
	}
	var fe *FetchError
	if !errors.As(results[3].Err, &fe) || !strings.Contains(fe.File, "nowhere") {
		t.Fatalf("failure %v", results[3].Err)
	}
	states, _ := States(root)
	if len(states) != 3 {
		t.Fatalf("%d sources kept, want 3", len(states))
	}
}

// TestFlatRepository: "deb URI ./" has its Release and Packages in one
// folder, without dists/ or components.
func TestFlatRepository(t *testing.T) {
	repo := newTestRepo(t)
	repo.publish(t, pub{suite: "stable", date: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), packages: 3})
	// Move the suite's files into a flat layout.
	flat := filepath.Join(t.TempDir(), "flat")
	if err := os.MkdirAll(flat, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(repo.dir, "dists/stable/main/binary-amd64")
	var rel bytes.Buffer
	rel.WriteString("Origin: flat\nDate: Tue, 24 Nov 2026 00:00:00 UTC\nSHA256:\n")
	for _, name := range []string{"Packages", "Packages.xz"} {
		data, err := os.ReadFile(filepath.Join(bin, name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(flat, name), data)
		fmt.Fprintf(&rel, " %s %d %s\n", sha256hex(data), len(data), name)
	}
	var in bytes.Buffer
	if err := repo.key.ClearSign(&in, rel.Bytes(), time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(flat, "InRelease"), in.Bytes())
	srcs := parseSources(t, fmt.Sprintf("deb [signed-by=%s] file://%s ./", repo.keyring, flat))
	results, err := Update(context.Background(), srcs, options(t.TempDir(), newMemStore(), testfixture.Clock))
	if err != nil {
		t.Fatal(err)
	}
	st := results[0].State
	if len(st.Indexes) != 1 || st.Indexes[0].Name != "Packages.xz" || st.Indexes[0].Component != "" {
		t.Fatalf("flat state %+v", st.Indexes)
	}
	if n := countStanzas(t, st.Indexes[0].Path); n != 3 {
		t.Fatalf("%d stanzas", n)
	}
}

// TestArchitectures: an architecture the suite does not have is skipped, as
// apt does; a suite with none of the wanted ones is refused.
func TestArchitectures(t *testing.T) {
	repo := newTestRepo(t)
	repo.publish(t, pub{suite: "stable", date: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), packages: 1})
	for _, c := range []struct {
		archs  string
		status Status
	}{
		{"amd64,arm64", Get},
		{"arm64", Refused},
	} {
		line := fmt.Sprintf("deb [signed-by=%s arch=%s] file://%s stable main", repo.keyring, c.archs, repo.dir)
		results, _ := Update(context.Background(), parseSources(t, line), options(t.TempDir(), newMemStore(), testfixture.Clock))
		if r := results[0]; r.Status != c.status || (c.status == Get && len(r.State.Indexes) != 1) {
			t.Fatalf("arch=%s: %s %v", c.archs, r.Status, r.Err)
		}
	}
	// Two entries of one suite are updated together, their components
	// merged; conflicting signed-by is an error.
	results, err := Update(context.Background(), parseSources(t, repo.line("stable"), repo.line("stable")), options(t.TempDir(), newMemStore(), testfixture.Clock))
	if err != nil || len(results) != 1 {
		t.Fatalf("duplicate entries: %d results, %v", len(results), err)
	}
	other := fmt.Sprintf("deb [signed-by=/elsewhere.gpg] file://%s stable main", repo.dir)
	results, err = Update(context.Background(), parseSources(t, repo.line("stable"), other), options(t.TempDir(), newMemStore(), testfixture.Clock))
	if err == nil || results[0].Status != Failed || !strings.Contains(err.Error(), "must agree on signed-by") {
		t.Fatalf("conflicting entries: %v", err)
	}
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
