package image

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/transaction"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// fixtureSpec copies examples/debian-minimal.yaml into a temporary
// directory with its sources pointed at the frozen Debian fixture (and its
// keyring), the only change. With small set, the sources are replaced by
// one repository published (with a test key) from the fixture's 22 .deb
// files: the same packages and spec, without indexing all of bookworm,
// which takes minutes under the race detector. It returns the spec's path
// and the clock to read it at.
func fixtureSpec(t testing.TB, small bool) (string, time.Time) {
	t.Helper()
	fix := testfixture.Bookworm(t)
	b, err := os.ReadFile(filepath.Join(testfixture.RepoRoot(t), "examples", "debian-minimal.yaml"))
	must(t, err)
	text := string(b)
	if !small {
		text = strings.NewReplacer(
			"/usr/share/keyrings/debian-archive-keyring.gpg", filepath.Join(fix, "debian-archive-keyring.gpg"),
			"http://deb.debian.org/debian-security", "file://"+filepath.Join(fix, "debian-security"),
			"http://deb.debian.org/debian", "file://"+filepath.Join(fix, "debian"),
		).Replace(text)
		if strings.Contains(text, "deb.debian.org") {
			t.Fatal("a source still points at deb.debian.org")
		}
		return writeSpec(t, text), testfixture.Clock
	}
	var debs []string
	for _, pool := range []string{"debian/pool", "debian-security/pool"} {
		must(t, filepath.Walk(filepath.Join(fix, pool), func(p string, fi os.FileInfo, err error) error {
			if err == nil && strings.HasSuffix(p, ".deb") {
				debs = append(debs, p)
			}
			return err
		}))
	}
	_, line := publishDebs(t, debs)
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "  - \"deb ") {
			continue
		}
		lines = append(lines, l)
		if l == "sources:" {
			lines = append(lines, fmt.Sprintf("  - %q", line))
		}
	}
	return writeSpec(t, strings.Join(lines, "\n")), testClock
}

// TestDebianMinimal builds the Debian example against the fixture at the
// fixture's clock: 22 packages, all "ii" for dpkg, grey's database
// consistent with the files, the extra file and account in place.
func TestDebianMinimal(t *testing.T) {
	// Under -race the 22 .deb files come from a small repository of
	// their own (see fixtureSpec); the full archive is covered without it.
	path, clock := fixtureSpec(t, raceEnabled)
	s, err := ReadSpec(path)
	must(t, err)
	out := filepath.Join(t.TempDir(), "root")
	opts := buildOpts(t, out, false)
	opts.Now = func() time.Time { return clock }
	res, err := Build(context.Background(), s, opts)
	must(t, err)
	if len(res.Packages) != 22 {
		t.Errorf("locked %d packages, want the fixture's 22", len(res.Packages))
	}
	lock, err := ReadLock(LockPath(s.Path))
	must(t, err)
	if !raceEnabled {
		// The lock of the real archive, with the fixture's path made
		// neutral, is a golden file: it pins what resolution gives.
		b, err := os.ReadFile(LockPath(s.Path))
		must(t, err)
		fix := testfixture.Bookworm(t)
		// Source IDs spell the path with "_" for "/".
		got := strings.NewReplacer(fix, "FIXTURE", strings.ReplaceAll(strings.TrimPrefix(fix, "/"), "/", "_"), "FIXTURE").Replace(string(b))
		golden := filepath.Join("testdata", "debian-minimal.lock.golden")
		if *update {
			must(t, os.MkdirAll("testdata", 0o755))
			must(t, os.WriteFile(golden, []byte(got), 0o644))
		}
		want, err := os.ReadFile(golden)
		must(t, err)
		if got != string(want) {
			t.Errorf("lock differs from %s (go test -update to accept):\n%s", golden, got)
		}
	}
	for _, p := range lock.Packages {
		if p.Name == "liblzma5" && !raceEnabled && !strings.Contains(p.Source, "security") {
			t.Errorf("liblzma5 from %s, want the security source (newer)", p.Source)
		}
	}

	db, err := pkgdb.Open(out, pkgdb.Options{})
	must(t, err)
	probs, err := transaction.Verify(context.Background(), db, out, nil)
	must(t, err)
	must(t, db.Close())
	if len(probs) != 0 {
		t.Errorf("verify: %v", probs)
	}
	if b, err := os.ReadFile(filepath.Join(out, "etc", "passwd")); err != nil || !strings.HasSuffix(string(b), "app:x:1000:1000::/home/app:/bin/sh\n") {
		t.Errorf("etc/passwd: %q %v", b, err)
	}

	dpkg := testfixture.Tool(t, "dpkg", "dpkg")
	b, err := exec.Command(dpkg, "--root="+out, "-l").CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg -l: %v\n%s", err, b)
	}
	ii := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "ii ") {
			ii++
		} else if len(l) > 2 && l[0] != '|' && l[0] != '+' && !strings.HasPrefix(l, "Desired") {
			t.Errorf("dpkg -l: %s", l)
		}
	}
	if ii != 22 {
		t.Errorf("dpkg -l: %d packages ii, want 22\n%s", ii, b)
	}
}
