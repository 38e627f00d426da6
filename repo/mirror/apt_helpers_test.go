package mirror

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/internal/testdeb"
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

// testKey returns a fixed key; its files (PREFIX.key.asc, PREFIX.gpg) are
// written under dir.
func testKey(t testing.TB, seed, dir string) (*key.Key, key.Paths) {
	t.Helper()
	k := testdeb.Key(t, seed, key.Options{
		Name: "grey mirror test " + seed, Email: seed + "@example.org",
		Created: testfixture.Clock.Add(-365 * 24 * time.Hour),
	})
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
	return testdeb.Build(t, dir, testdeb.Spec{
		Name: s.name, Version: s.version, Arch: "amd64",
		Control:     s.extra + "Section: misc\nPriority: optional\n",
		Description: "test package " + s.name + "\n made by the mirror tests.",
		Files:       map[string]string{"usr/share/doc/" + s.name + "/README": s.name + " " + s.version + "\n"},
		Build:       archive.BuildOptions{TempDir: t.TempDir()},
	})
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
