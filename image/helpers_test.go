package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/repo/fetch"
	"github.com/greypm/grey/repo/key"
	"github.com/greypm/grey/repo/publish"
)

// testClock is the time the test repository is published and read at.
var testClock = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func testNow() time.Time { return testClock }

// testPkg is a package the test repository holds.
type testPkg struct {
	name, version, arch, depends string
	files                        map[string]string // path -> content
	conffiles                    []string
	// modes overrides files' modes.
	modes map[string]os.FileMode
	// control holds extra control fields ("Essential: yes\n").
	control string
	// postinst, when set, is the package's postinst script.
	postinst string
}

// defaultPkgs: greet depends on libgreet; tool is unrelated.
func defaultPkgs() []testPkg {
	return []testPkg{
		{name: "libgreet", version: "1.0-1", arch: "all", files: map[string]string{"usr/share/libgreet/words": "Hello\n"}},
		{name: "greet", version: "1.0-1", arch: "amd64", depends: "libgreet (>= 1.0)", files: map[string]string{
			"usr/bin/greet":       "#!/bin/sh\necho hi\n",
			"etc/greet.conf":      "GREETING=Hello\n",
			"usr/share/doc/greet": "",
			"usr/bin/greet-suid":  "#!/bin/sh\n",
			"usr/share/greet/key": "private\n",
		}, conffiles: []string{"/etc/greet.conf"}, modes: map[string]os.FileMode{
			"usr/bin/greet-suid":  0o755 | os.ModeSetuid,
			"usr/share/greet/key": 0o600,
		}},
		{name: "tool", version: "2.0-1", arch: "amd64", files: map[string]string{"usr/bin/tool": "tool\n"}},
	}
}

// buildDeb builds p into dir and returns the .deb's path.
func buildDeb(t *testing.T, dir string, p testPkg) string {
	t.Helper()
	tree := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(tree, "DEBIAN"), 0o755))
	ctl := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: test <t@example.org>\nDescription: test package %s\n", p.name, p.version, p.arch, p.name)
	if p.depends != "" {
		ctl += "Depends: " + p.depends + "\n"
	}
	ctl += p.control
	if p.postinst != "" {
		must(t, os.WriteFile(filepath.Join(tree, "DEBIAN", "postinst"), []byte(p.postinst), 0o755))
	}
	must(t, os.WriteFile(filepath.Join(tree, "DEBIAN", "control"), []byte(ctl), 0o644))
	if len(p.conffiles) > 0 {
		must(t, os.WriteFile(filepath.Join(tree, "DEBIAN", "conffiles"), []byte(strings.Join(p.conffiles, "\n")+"\n"), 0o644))
	}
	for path, content := range p.files {
		full := filepath.Join(tree, path)
		if content == "" {
			must(t, os.MkdirAll(full, 0o755))
			continue
		}
		must(t, os.MkdirAll(filepath.Dir(full), 0o755))
		mode := os.FileMode(0o644)
		if strings.Contains(path, "/bin/") {
			mode = 0o755
		}
		if m, ok := p.modes[path]; ok {
			mode = m
		}
		must(t, os.WriteFile(full, []byte(content), mode))
		must(t, os.Chmod(full, mode)) // past the umask; after write for setuid
	}
	out := filepath.Join(dir, fmt.Sprintf("%s_%s_%s.deb", p.name, p.version, p.arch))
	f, err := os.Create(out)
	must(t, err)
	_, err = archive.Build(context.Background(), tree, f, archive.BuildOptions{SourceDateEpoch: testClock})
	must(t, err)
	must(t, f.Close())
	return out
}

// testRepo publishes pkgs as a signed repository (suite "demo", component
// "main") and returns its directory and a source line for it.
func testRepo(t *testing.T, pkgs []testPkg) (repoDir, line string) {
	t.Helper()
	base := t.TempDir()
	debs := filepath.Join(base, "debs")
	must(t, os.MkdirAll(debs, 0o755))
	for _, p := range pkgs {
		buildDeb(t, debs, p)
	}
	return publishDebs(t, []string{debs})
}

// publishDebs publishes .deb files (or directories of them) as a signed
// repository (suite "demo", component "main") and returns its directory
// and a source line for it.
func publishDebs(t testing.TB, inputs []string) (repoDir, line string) {
	t.Helper()
	base := t.TempDir()
	k, err := key.Generate(context.Background(), key.Options{Name: "image test", Created: testClock.Add(-time.Hour)})
	must(t, err)
	paths, err := k.WriteFiles(filepath.Join(base, "key"))
	must(t, err)
	repoDir = filepath.Join(base, "repo")
	_, err = publish.Publish(context.Background(), publish.Dir{Root: repoDir}, publish.Options{
		Key: k, Suite: "demo", Components: []publish.Component{{Name: "main", Inputs: inputs}},
		Architectures: []string{"amd64"}, Date: testClock,
	})
	must(t, err)
	return repoDir, fmt.Sprintf("deb [signed-by=%s] file://%s demo main", paths.Keyring, repoDir)
}

// writeSpec writes a spec into a new directory and returns its path.
func writeSpec(t testing.TB, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.yaml")
	must(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

func specText(line string, extra string) string {
	return fmt.Sprintf("sources:\n  - %q\narchitecture: amd64\npackages: [greet]\nsource-date-epoch: 1767225600\n%s", line, extra)
}

// buildOpts are Build options for tests: a private state directory, the
// test clock, a fetcher without retries.
func buildOpts(t *testing.T, out string, locked bool) BuildOptions {
	t.Helper()
	o, err := ParseOutput(out)
	must(t, err)
	return BuildOptions{
		Output: o, Locked: locked, StateDir: t.TempDir(), TempDir: t.TempDir(), Now: testNow,
		Fetcher: fetch.New(fetch.WithRetries(1, 0)),
	}
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	must(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// treeSums maps every file of dir to its SHA256.
func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	must(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = sha256File(t, p)
		return nil
	}))
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
