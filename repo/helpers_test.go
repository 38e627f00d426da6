package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/repo/key"
	"github.com/greypm/grey/repo/sources"
)

func newMemStore() *MemoryStore { return &MemoryStore{} }

// fixtureLines are the three sources of the bookworm fixture at dir.
func fixtureLines(dir string) []string {
	kr := filepath.Join(dir, "debian-archive-keyring.gpg")
	return []string{
		fmt.Sprintf("deb [signed-by=%s] file://%s/debian bookworm main", kr, dir),
		fmt.Sprintf("deb [signed-by=%s] file://%s/debian bookworm-updates main", kr, dir),
		fmt.Sprintf("deb [signed-by=%s] file://%s/debian-security bookworm-security main", kr, dir),
	}
}

func parseSources(t testing.TB, lines ...string) []*sources.Source {
	t.Helper()
	var out []*sources.Source
	for _, l := range lines {
		s, err := sources.Parse(l)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func options(root string, store ReleaseStore, at time.Time) Options {
	return Options{Root: root, Now: func() time.Time { return at }, Store: store, Architectures: []string{"amd64"}}
}

// copyFixture copies the metadata of the fixture (no pool) into a writable
// folder, for tests that tamper with it.
func copyFixture(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() && d.Name() == "pool" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// treeHashes returns the SHA256 of every file under dir, by relative path.
func treeHashes(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}

func sameTree(t testing.TB, before, after map[string]string) {
	t.Helper()
	if len(before) != len(after) {
		t.Fatalf("lists changed: %d files before, %d after", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("lists changed: %s", k)
		}
	}
}

// countStanzas counts the packages in a stored index.
func countStanzas(t testing.TB, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := control.NewReaderName(f, path)
	defer r.Close()
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
}

// checkUsable asserts that a state's files are there and match it.
func checkUsable(t testing.TB, st *State) {
	t.Helper()
	for _, ix := range st.Indexes {
		data, err := os.ReadFile(ix.Path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != ix.SHA256 || int64(len(data)) != ix.Size {
			t.Fatalf("%s does not match its state", ix.Path)
		}
	}
	if _, err := os.Stat(st.Release.File); err != nil {
		t.Fatal(err)
	}
}

func resultOf(t testing.TB, results []Result, suiteSuffix string) Result {
	t.Helper()
	for _, r := range results {
		if strings.HasSuffix(r.ID, "_dists_"+suiteSuffix) {
			return r
		}
	}
	t.Fatalf("no result for %s", suiteSuffix)
	return Result{}
}

func refusal(t testing.TB, r Result) *RefusedError {
	t.Helper()
	var re *RefusedError
	if r.Status != Refused || !errors.As(r.Err, &re) {
		t.Fatalf("%s: status %s, err %v; want Refused", r.ID, r.Status, r.Err)
	}
	return re
}

// testRepo is a small repository signed with a key made in the test.
type testRepo struct {
	dir     string
	keyring string
	key     *key.Key
}

var keyCreated = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newTestRepo(t testing.TB) *testRepo {
	t.Helper()
	k, err := key.Generate(context.Background(), key.Options{Name: "grey test repository", Created: keyCreated})
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	r := &testRepo{dir: filepath.Join(base, "repo"), keyring: filepath.Join(base, "test.gpg"), key: k}
	var buf bytes.Buffer
	if err := k.WritePublicKeyring(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.keyring, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *testRepo) line(suite string) string {
	return fmt.Sprintf("deb [signed-by=%s] file://%s %s main", r.keyring, r.dir, suite)
}

// pub says how to publish one generation of the test repository.
type pub struct {
	suite      string
	date       time.Time
	validUntil time.Time
	packages   int  // number of stanzas
	byHashOnly bool // Acquire-By-Hash, indexes only under by-hash/
	detached   bool // Release + Release.gpg instead of InRelease
	unsigned   bool // Release alone
	corruptXz  bool // Packages.xz published with a byte flipped
	missingXz  bool // Packages.xz listed in the Release but not published
}

func (r *testRepo) publish(t testing.TB, p pub) {
	t.Helper()
	dist := filepath.Join(r.dir, "dists", p.suite)
	bin := filepath.Join(dist, "main", "binary-amd64")
	if err := os.RemoveAll(dist); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	var pkgs bytes.Buffer
	for i := range p.packages {
		fmt.Fprintf(&pkgs, "Package: pkg%d\nVersion: %d.0\nArchitecture: amd64\nFilename: pool/main/p/pkg%d.deb\nSize: 100\nDescription: test package %s\n\n",
			i, p.date.Unix(), i, p.suite)
	}
	var xz bytes.Buffer
	w, err := compress.NewWriter(&xz, compress.Xz)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(pkgs.Bytes())
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"Packages": pkgs.Bytes(), "Packages.xz": xz.Bytes()}
	var rel bytes.Buffer
	fmt.Fprintf(&rel, "Origin: grey-test\nSuite: %s\nCodename: %s\nDate: %s\n", p.suite, p.suite, p.date.UTC().Format(time.RFC1123))
	if !p.validUntil.IsZero() {
		fmt.Fprintf(&rel, "Valid-Until: %s\n", p.validUntil.UTC().Format(time.RFC1123))
	}
	if p.byHashOnly {
		rel.WriteString("Acquire-By-Hash: yes\n")
	}
	rel.WriteString("Architectures: amd64\nComponents: main\nSHA256:\n")
	for _, name := range []string{"Packages", "Packages.xz"} {
		sum := sha256.Sum256(files[name])
		hash := hex.EncodeToString(sum[:])
		fmt.Fprintf(&rel, " %s %d main/binary-amd64/%s\n", hash, len(files[name]), name)
		data := files[name]
		if p.corruptXz && name == "Packages.xz" {
			data = bytes.Clone(data)
			data[len(data)/2] ^= 0x40
		}
		if p.missingXz && name == "Packages.xz" {
			continue
		}
		target := filepath.Join(bin, name)
		if p.byHashOnly {
			target = filepath.Join(bin, "by-hash", "SHA256", hash)
			os.MkdirAll(filepath.Dir(target), 0o755)
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	at := p.date
	switch {
	case p.unsigned:
		writeFile(t, filepath.Join(dist, "Release"), rel.Bytes())
	case p.detached:
		writeFile(t, filepath.Join(dist, "Release"), rel.Bytes())
		var sig bytes.Buffer
		if err := r.key.DetachSign(&sig, rel.Bytes(), at); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dist, "Release.gpg"), sig.Bytes())
	default:
		var in bytes.Buffer
		if err := r.key.ClearSign(&in, rel.Bytes(), at); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dist, "InRelease"), in.Bytes())
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixtureDir returns the fixture or skips.
func fixtureDir(t testing.TB) string { return testfixture.Bookworm(t) }
