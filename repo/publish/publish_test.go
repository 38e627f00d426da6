package publish

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/testfixture"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func baseOptions(t testing.TB, inputs ...string) Options {
	return Options{
		Key:           testKey(t),
		Suite:         "stable",
		Codename:      "grey1",
		Origin:        "grey",
		Label:         "grey test",
		Components:    []Component{{Name: "main", Inputs: inputs}},
		Architectures: []string{"amd64"},
		Date:          clock,
	}
}

// fixtureDebs returns some real Debian packages from the fixture.
func fixtureDebs(t testing.TB) []string {
	root := testfixture.Bookworm(t)
	var out []string
	for _, p := range []string{
		"debian/pool/main/h/hello/hello_2.10-3_amd64.deb",
		"debian/pool/main/b/busybox/busybox_1.35.0-4+deb12u1+b1_amd64.deb",
		"debian/pool/main/b/base-files/base-files_12.4+deb12u15_amd64.deb",
		"debian/pool/main/libm/libmd/libmd0_1.0.4-2_amd64.deb",
	} {
		out = append(out, filepath.Join(root, p))
	}
	return out
}

// testDebs builds a dependency pair, an Architecture: all package and one
// with fields outside dpkg's list (sorted after the known ones).
func testDebs(t testing.TB, dir string) []string {
	return []string{
		buildDeb(t, dir, debSpec{name: "greet-lib", version: "1.0-1", arch: "amd64", content: "lib"}),
		buildDeb(t, dir, debSpec{name: "greet", version: "2:1.2-3", arch: "amd64",
			extra: "Source: greet-src (1.2-3)\nDepends: greet-lib (>= 1.0), greet-data\nX-Custom: yes\nOriginal-Maintainer: Someone <s@example.org>\n", content: "greet"}),
		buildDeb(t, dir, debSpec{name: "greet-data", version: "1.0", arch: "all", extra: "Multi-Arch: foreign\n", content: "data"}),
	}
}

func TestPackagesMatchDpkgScanpackages(t *testing.T) {
	scan := testfixture.Tool(t, "dpkg-scanpackages", "dpkg-dev")
	in := t.TempDir()
	debs := append(testDebs(t, in), fixtureDebs(t)...)
	out := t.TempDir()
	res, err := Publish(context.Background(), Dir{Root: out}, baseOptions(t, debs...))
	if err != nil {
		t.Fatal(err)
	}
	if res.Packages != len(debs) || len(res.Indexes) != 1 || res.Indexes[0].Packages != len(debs) {
		t.Fatalf("result %+v", res)
	}
	got, err := os.ReadFile(filepath.Join(out, "dists/stable/main/binary-amd64/Packages"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(scan, "--arch", "amd64", "pool/main")
	cmd.Dir = out
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-scanpackages: %v\n%s", err, stderr.String())
	}
	// Compare field by field first, for a readable failure ...
	gs, err := control.ParseAll(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := control.ParseAll(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != len(ws) {
		t.Fatalf("%d stanzas, dpkg-scanpackages wrote %d", len(gs), len(ws))
	}
	for i := range gs {
		if !slices.Equal(gs[i].Fields, ws[i].Fields) {
			t.Errorf("stanza %d (%s):\n got  %q\n want %q", i, gs[i].Get("Package"), gs[i].Fields, ws[i].Fields)
		}
	}
	// ... then byte for byte: grey writes dpkg's field order, sort and layout.
	if !bytes.Equal(got, want) {
		t.Errorf("Packages differs from dpkg-scanpackages output:\n%s\n---\n%s", got, want)
	}
	if !strings.Contains(string(got), "Filename: pool/main/g/greet-src/greet_1.2-3_amd64.deb\n") {
		t.Error("pool path does not use the source name or keeps the epoch")
	}
	if !strings.Contains(string(got), "Filename: pool/main/libm/libmd/libmd0_1.0.4-2_amd64.deb\n") {
		t.Error("lib* sources are not pooled under their four-letter prefix")
	}
}

func TestReleaseLists(t *testing.T) {
	in := t.TempDir()
	opts := baseOptions(t, testDebs(t, in)...)
	opts.Architectures = []string{"arm64", "amd64"}
	opts.ValidFor = 7 * 24 * time.Hour
	out := t.TempDir()
	res, err := Publish(context.Background(), Dir{Root: out}, opts)
	if err != nil {
		t.Fatal(err)
	}
	// greet-data (all) is in both indexes; the amd64 packages only in one.
	want := []IndexSummary{{"main", "amd64", 3}, {"main", "arm64", 1}}
	if !slices.Equal(res.Indexes, want) {
		t.Errorf("indexes %+v, want %+v", res.Indexes, want)
	}
	rel, err := os.ReadFile(filepath.Join(out, "dists/stable/Release"))
	if err != nil {
		t.Fatal(err)
	}
	st, lists := parseRelease(t, rel)
	fields := map[string]string{
		"Origin": "grey", "Label": "grey test", "Suite": "stable", "Codename": "grey1",
		"Date": "Wed, 25 Nov 2026 10:16:37 UTC", "Valid-Until": "Wed, 02 Dec 2026 10:16:37 UTC",
		"Acquire-By-Hash": "yes", "Architectures": "amd64 arm64", "Components": "main",
	}
	for name, v := range fields {
		if got := st.Get(name); got != v {
			t.Errorf("Release %s = %q, want %q", name, got, v)
		}
	}
	var names []string
	for _, f := range st.Fields {
		names = append(names, f.Name)
	}
	wantOrder := []string{"Origin", "Label", "Suite", "Codename", "Date", "Valid-Until", "Acquire-By-Hash", "Architectures", "Components", "MD5Sum", "SHA256"}
	if !slices.Equal(names, wantOrder) {
		t.Errorf("Release fields %v, want %v", names, wantOrder)
	}
	var paths []string
	for _, e := range lists["SHA256"] {
		paths = append(paths, e.path)
	}
	wantPaths := []string{
		"main/binary-amd64/Packages", "main/binary-amd64/Packages.gz", "main/binary-amd64/Packages.xz",
		"main/binary-arm64/Packages", "main/binary-arm64/Packages.gz", "main/binary-arm64/Packages.xz",
	}
	if !slices.Equal(paths, wantPaths) {
		t.Errorf("SHA256 list %v, want %v", paths, wantPaths)
	}
	if len(lists["MD5Sum"]) != len(wantPaths) {
		t.Errorf("MD5Sum list has %d entries", len(lists["MD5Sum"]))
	}
	// Every listed file, under its plain name, has the listed size and hash.
	for _, e := range lists["SHA256"] {
		data, err := os.ReadFile(filepath.Join(out, "dists/stable", e.path))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(data)) != e.size || sha256Hex(data) != e.hash {
			t.Errorf("%s: size %d hash %s, Release says %d %s", e.path, len(data), sha256Hex(data), e.size, e.hash)
		}
	}
	// The compressed indexes decompress to the plain one.
	for _, arch := range []string{"amd64", "arm64"} {
		dir := filepath.Join(out, "dists/stable/main/binary-"+arch)
		plain, _ := os.ReadFile(filepath.Join(dir, "Packages"))
		for _, ext := range []string{".gz", ".xz"} {
			f, err := os.Open(filepath.Join(dir, "Packages"+ext))
			if err != nil {
				t.Fatal(err)
			}
			stanzas, err := control.ParseAll(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			var buf []byte
			for _, s := range stanzas {
				buf, _ = control.AppendStanza(buf, s)
				buf = append(buf, '\n')
			}
			if !bytes.Equal(buf, plain) {
				t.Errorf("Packages%s of %s differs from Packages", ext, arch)
			}
		}
	}
	checkConsistent(t, out, "stable", opts.Key)
}

func TestSignaturesVerifyWithGpgv(t *testing.T) {
	gpgv := testfixture.Tool(t, "gpgv", "gpgv")
	in := t.TempDir()
	opts := baseOptions(t, testDebs(t, in)[:1]...)
	out := t.TempDir()
	if _, err := Publish(context.Background(), Dir{Root: out}, opts); err != nil {
		t.Fatal(err)
	}
	ring := writeKeyring(t, opts.Key, t.TempDir())
	dists := filepath.Join(out, "dists/stable")
	for _, args := range [][]string{
		{filepath.Join(dists, "InRelease")},
		{filepath.Join(dists, "Release.gpg"), filepath.Join(dists, "Release")},
	} {
		cmd := exec.Command(gpgv, append([]string{"--homedir", t.TempDir(), "--keyring", ring}, args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("gpgv %v: %v\n%s", args, err, b)
		}
	}
}

func TestReproducible(t *testing.T) {
	in := t.TempDir()
	debs := testDebs(t, in)
	var trees []map[string][]byte
	for i := 0; i < 2; i++ {
		out := t.TempDir()
		opts := baseOptions(t, debs...)
		if i == 1 {
			slices.Reverse(opts.Components[0].Inputs) // input order must not matter
		}
		if _, err := Publish(context.Background(), Dir{Root: out}, opts); err != nil {
			t.Fatal(err)
		}
		trees = append(trees, readTree(t, out))
	}
	if len(trees[0]) != len(trees[1]) {
		t.Fatalf("%d files vs %d", len(trees[0]), len(trees[1]))
	}
	for name, data := range trees[0] {
		if !bytes.Equal(data, trees[1][name]) {
			t.Errorf("%s differs between two publishes of the same inputs", name)
		}
	}
}

// readTree returns every regular file under root but the lock file.
func readTree(t testing.TB, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == lockName {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRepublishKeepsHistory(t *testing.T) {
	in := t.TempDir()
	a := buildDeb(t, in, debSpec{name: "pkg-a", version: "1", arch: "amd64", content: "a"})
	b1 := buildDeb(t, in, debSpec{name: "pkg-b", version: "1", arch: "amd64", content: "b1"})
	b2 := buildDeb(t, in, debSpec{name: "pkg-b", version: "2", arch: "amd64", content: "b2"})
	c := buildDeb(t, in, debSpec{name: "pkg-c", version: "1", arch: "all", content: "c"})
	out := t.TempDir()
	k := testKey(t)
	gens := [][]string{{a, b1}, {a, b2, c}, {a, c}, {c}, {c}}
	var releases [][]byte
	var byHash []map[string]bool
	for i, set := range gens {
		opts := baseOptions(t, set...)
		opts.Key = k
		opts.Date = clock.Add(time.Duration(i) * time.Hour)
		res, err := Publish(context.Background(), Dir{Root: out}, opts)
		if err != nil {
			t.Fatalf("generation %d: %v", i, err)
		}
		releases = append(releases, checkConsistent(t, out, "stable", k))
		byHash = append(byHash, listByHash(t, releases[i]))
		switch i {
		case 1:
			wantAdded := []string{"pool/main/p/pkg-b/pkg-b_2_amd64.deb", "pool/main/p/pkg-c/pkg-c_1_all.deb"}
			if !slices.Equal(res.Added, wantAdded) || !slices.Equal(res.Removed, []string{"pool/main/p/pkg-b/pkg-b_1_amd64.deb"}) {
				t.Errorf("generation 1: added %v removed %v", res.Added, res.Removed)
			}
		case 3:
			// Generation 0 is now beyond the three kept: its own files go.
			if !slices.Contains(res.Deleted, "pool/main/p/pkg-b/pkg-b_1_amd64.deb") {
				t.Errorf("generation 3 deleted %v, want pkg-b 1 among them", res.Deleted)
			}
		}
		// Every by-hash file of the kept generations is still there,
		// and so is every pool file their indexes name.
		for j := max(0, i-DefaultKeep+1); j <= i; j++ {
			for f := range byHash[j] {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("after generation %d, generation %d's %s is gone", i, j, f)
				}
			}
		}
	}
	// Generation 0's pkg-b 1 and its by-hash indexes are gone; pkg-a, last
	// published in generation 2, is still kept.
	if _, err := os.Stat(filepath.Join(out, "pool/main/p/pkg-b/pkg-b_1_amd64.deb")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pool file of a package dropped 3 generations ago: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "pool/main/p/pkg-a/pkg-a_1_amd64.deb")); err != nil {
		t.Errorf("pool file still referenced by a kept generation: %v", err)
	}
	for f := range byHash[0] {
		if !byHash[2][f] && !byHash[3][f] && !byHash[4][f] {
			if _, err := os.Stat(filepath.Join(out, f)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("by-hash file %s of generation 0 not collected: %v", f, err)
			}
		}
	}
	// The empty pool directory of pkg-b went with its last file.
	if _, err := os.Stat(filepath.Join(out, "pool/main/p/pkg-b")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty pool directory left behind: %v", err)
	}
}

// listByHash returns the by-hash paths a Release text names.
func listByHash(t testing.TB, release []byte) map[string]bool {
	_, lists := parseRelease(t, release)
	out := map[string]bool{}
	for alg, entries := range lists {
		for _, e := range entries {
			out["dists/stable/"+filepath.Dir(e.path)+"/by-hash/"+alg+"/"+e.hash] = true
		}
	}
	return out
}

func TestRepublishSameIsUnchanged(t *testing.T) {
	in := t.TempDir()
	opts := baseOptions(t, testDebs(t, in)...)
	out := t.TempDir()
	if _, err := Publish(context.Background(), Dir{Root: out}, opts); err != nil {
		t.Fatal(err)
	}
	before := readTree(t, out)
	res, err := Publish(context.Background(), Dir{Root: out}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Unchanged || len(res.Added) != 0 || len(res.Removed) != 0 || len(res.Deleted) != 0 {
		t.Errorf("second identical publish: %+v", res)
	}
	after := readTree(t, out)
	if len(before) != len(after) {
		t.Fatalf("files %d -> %d", len(before), len(after))
	}
	for n, d := range before {
		if !bytes.Equal(d, after[n]) {
			t.Errorf("%s changed", n)
		}
	}
}

// TestGolden publishes real Debian packages from the fixture with the fixed
// test key at the fixed clock and compares the index, Release and
// InRelease with testdata/ (go test -update rewrites them).
func TestGolden(t *testing.T) {
	out := t.TempDir()
	opts := baseOptions(t, fixtureDebs(t)...)
	opts.ValidFor = 7 * 24 * time.Hour
	if _, err := Publish(context.Background(), Dir{Root: out}, opts); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ repo, golden string }{
		{"dists/stable/main/binary-amd64/Packages", "Packages.golden"},
		{"dists/stable/Release", "Release.golden"},
		{"dists/stable/InRelease", "InRelease.golden"},
	} {
		got, err := os.ReadFile(filepath.Join(out, f.repo))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", f.golden)
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (go test -update writes it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s:\n%s", f.repo, golden, got)
		}
	}
}
