// Package testfixture locates the shared Debian fixture and host tools for
// tests. A test that needs either skips with a message naming what is missing
// on a developer's machine, and fails instead when CI=true, so a fresh clone's
// `make test` passes while CI checks everything.
package testfixture

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Clock is the instant at which the bookworm fixture's signatures are all
// valid (bookworm-security expires on 2026-12-01).
var Clock = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// ExpiredClock is an instant at which bookworm-security's Valid-Until has passed.
var ExpiredClock = time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)

// RepoRoot returns the directory holding go.mod, found by walking up from the
// test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test directory")
		}
		dir = parent
	}
}

// Missing skips the test, or fails it under CI=true, naming what is missing.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("missing under CI: %s", what)
	}
	t.Skipf("skipped: %s is missing on this machine", what)
}

// Bookworm returns the path of ../shared/testdata/debian-bookworm, the real
// Debian archive slice, or skips the test when it is absent.
func Bookworm(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(RepoRoot(t)), "shared", "testdata", "debian-bookworm")
	if _, err := os.Stat(filepath.Join(dir, "debian-archive-keyring.gpg")); err != nil {
		Missing(t, "../shared/testdata/debian-bookworm (the Debian fixture)")
	}
	return dir
}

// Tool returns the absolute path of a host program, or skips the test when it
// is not installed; pkg names the Debian package that provides it.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" (apt-get install "+pkg+")")
	}
	return p
}

// Root skips the test unless it runs as root (chroot, ownership), failing
// under CI where the suite always runs as root.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "root privileges")
	}
}

// WholeIndex marks a test that reads the whole 50 MB bookworm index. Under the
// race detector such a test takes minutes, so it skips there; `make test`
// runs the tests named TestFull* again without -race in a second pass, where
// they run in seconds. Name every test that calls WholeIndex TestFull*.
func WholeIndex(t testing.TB) {
	t.Helper()
	if RaceEnabled {
		t.Skip("whole-index test: make test runs it without -race (go test -run '^TestFull')")
	}
}

// AppCommands marks a test of whole "grey app" command flows (cmd/grey's
// TestApp*): grey composes roots in-process and runs bubblewrap, which
// under the race detector took three of the race pass's twelve minutes
// in cmd/grey while adding nothing the apps package's own race-tested
// units do not cover. So they skip there; `make test` runs the tests
// named TestApp* again without -race in its second pass.
func AppCommands(t testing.TB) {
	t.Helper()
	if RaceEnabled {
		t.Skip("app command test: make test runs it without -race (go test -run '^TestApp')")
	}
}

// Indexes are the fixture's three Packages indexes, relative to Bookworm().
var Indexes = []string{
	"debian/dists/bookworm/main/binary-amd64/Packages.xz",
	"debian/dists/bookworm-updates/main/binary-amd64/Packages.xz",
	"debian-security/dists/bookworm-security/main/binary-amd64/Packages.xz",
}
