package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/repo/key"
	"github.com/greypm/grey/repo/publish"
)

// aptEnv runs apt-get in a private apt configuration (testfixture.AptEnv)
// over the given sources lines.
type aptEnv struct {
	*testfixture.AptEnv
	t      *testing.T
	aptGet string
}

func newAptEnv(t *testing.T, sourceLines ...string) *aptEnv {
	t.Helper()
	aptGet := testfixture.Tool(t, "apt-get", "apt")
	return &aptEnv{AptEnv: testfixture.NewAptEnv(t, testfixture.AptOptions{Sources: sourceLines}), t: t, aptGet: aptGet}
}

func (e *aptEnv) run(args ...string) (string, error) {
	return e.Run(context.Background(), e.aptGet, args...)
}

// updateAndDownload runs apt-get update (which must be clean) and
// apt-get install --download-only pkgs, which must succeed.
func (e *aptEnv) updateAndDownload(pkgs ...string) string {
	e.t.Helper()
	out, err := e.run("update")
	if err != nil || strings.Contains(out, "W: ") || strings.Contains(out, "E: ") || strings.Contains(out, "Err:") {
		e.t.Fatalf("apt-get update: %v\n%s", err, out)
	}
	out, err = e.run(append([]string{"install", "--download-only", "--no-install-recommends", "-y"}, pkgs...)...)
	if err != nil || !strings.Contains(out, "Download complete") && !strings.Contains(out, "Download-only mode") {
		e.t.Fatalf("apt-get install --download-only %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	return out
}

// seededRand is a deterministic entropy stream, so tests get the same key.
type seededRand struct {
	seed string
	n    int
	buf  []byte
}

func (r *seededRand) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) {
		h := sha256.Sum256([]byte(r.seed + strconv.Itoa(r.n)))
		r.n++
		r.buf = append(r.buf, h[:]...)
	}
	copy(p, r.buf)
	r.buf = r.buf[len(p):]
	return len(p), nil
}

// testKey returns a fixed key; its files (PREFIX.key.asc, PREFIX.gpg) are
// written under dir.
func testKey(t testing.TB, seed, dir string) (*key.Key, key.Paths) {
	t.Helper()
	k, err := key.Generate(context.Background(), key.Options{
		Name: "grey mirror test " + seed, Email: seed + "@example.org",
		Created: testfixture.Clock.Add(-365 * 24 * time.Hour), Rand: &seededRand{seed: seed},
	})
	if err != nil {
		t.Fatal(err)
	}
	paths, err := k.WriteFiles(filepath.Join(dir, seed))
	if err != nil {
		t.Fatal(err)
	}
	return k, paths
}

// pkgSpec is a tiny package: name, version, and more control lines.
type pkgSpec struct{ name, version, extra string }

func buildDeb(t testing.TB, dir string, s pkgSpec) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctl := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: Test <test@example.org>\n%sSection: misc\nPriority: optional\nDescription: test package %s\n made by the mirror tests.\n",
		s.name, s.version, s.extra, s.name)
	if err := os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(ctl), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(root, "usr", "share", "doc", s.name)
	if err := os.MkdirAll(doc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(doc, "README"), []byte(s.name+" "+s.version+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	res, err := archive.Build(context.Background(), root, &buf, archive.BuildOptions{
		SourceDateEpoch: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
		TempDir:         t.TempDir(),
	})
	if err != nil {
		t.Fatalf("build %s: %v", s.name, err)
	}
	out := filepath.Join(dir, res.FileName())
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// publishUpstream publishes pkgs as suite "stable" of the repository in
// repoDir, dated date, signed by k (what grey repo publish does).
func publishUpstream(t testing.TB, repoDir string, k *key.Key, date time.Time, pkgs ...pkgSpec) {
	t.Helper()
	in := t.TempDir()
	var debs []string
	for _, p := range pkgs {
		debs = append(debs, buildDeb(t, in, p))
	}
	_, err := publish.Publish(context.Background(), publish.Dir{Root: repoDir}, publish.Options{
		Key: k, Suite: "stable", Origin: "test", Label: "test",
		Components:    []publish.Component{{Name: "main", Inputs: debs}},
		Architectures: []string{"amd64"}, Date: date,
	})
	if err != nil {
		t.Fatal(err)
	}
}
