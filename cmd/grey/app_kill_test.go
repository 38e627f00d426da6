package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// TestAppUpgradeKilled kills a real "grey app upgrade" process (a build
// with the faultinject tag) with SIGKILL at each of the app's step
// boundaries (downloaded, applied, composed, meta, generation, link) and
// at 24 step boundaries spread over the transaction that composes the new
// root (458 of them: hello and libc6 from the store, libgreet unpacked). After each kill the app is still at generation 1: "current" is
// gen/1, generation 1 is byte for byte as before (testfixture.TreeListing),
// grey verify is clean in it and the app still runs with its library
// 1.0. The next upgrade, not killed, cleans up whatever the kills left
// (half-made .new-N directories) and makes the new generation current;
// gc then removes the generations that were complete but never current.
// A first install killed at each app step leaves no app behind.
func TestAppUpgradeKilled(t *testing.T) {
	testfixture.AppCommands(t)
	t.Parallel()
	fx := testfixture.Bookworm(t)
	testfixture.Tool(t, "bwrap", "bubblewrap")
	root := t.TempDir()
	g := fixtureGrey(t, root)
	src := fixtureSourceArgs(fx)
	lib := filepath.Join(t.TempDir(), "libgreet.deb")
	copyFile(t, buildLib(t, "1.0"), lib)
	if code, out, errOut := g("app", "install", "--command", "hello", "k", "hello", lib); code != 0 {
		t.Fatalf("app install: %d %q %s", code, out, errOut)
	}
	// The upgrade finds libgreet 2.0 at the same path.
	copyFile(t, buildLib(t, "2.0"), lib)

	bin := buildGreyTags(t, t.TempDir(), "faultinject")
	apps := filepath.Join(root, "var/lib/grey/apps")
	gen1 := filepath.Join(apps, "k/gen/1")
	listing := testfixture.TreeListing(t, gen1)
	upgrade := func(env ...string) (string, error) {
		cmd := exec.Command(bin, append(append([]string{"--root", root}, src...), "app", "upgrade", "--no-sync", "k")...)
		cmd.Env = append(os.Environ(), env...)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	// One run killed at the last step before the rename numbers the
	// transaction's boundaries.
	logf := filepath.Join(t.TempDir(), "steps")
	points := [][2]string{}
	for _, s := range []string{"link", "downloaded", "applied", "composed", "meta", "generation"} {
		points = append(points, [2]string{"GREY_TEST_APP_KILL_AT", s})
	}
	check := func(what string, out string, err error) {
		t.Helper()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("%s: not killed: %v\n%s", what, err, out)
		}
		if l, err := os.Readlink(filepath.Join(apps, "k/current")); err != nil || l != "gen/1" {
			t.Errorf("%s: current -> %q %v", what, l, err)
		}
		if d := testfixture.DiffListings(listing, testfixture.TreeListing(t, gen1)); d != "" {
			t.Errorf("%s: generation 1 changed:\n%s", what, d)
		}
		if b, err := os.ReadFile(filepath.Join(apps, "k/current/usr/lib/libgreet/libgreet.so.1")); err != nil || string(b) != "libgreet 1.0\n" {
			t.Errorf("%s: the app sees %q %v", what, b, err)
		}
	}
	out, err := upgrade("GREY_TEST_APP_KILL_AT=link", "GREY_TEST_FAULT_LOG="+logf)
	check("kill at link", out, err)
	raw, err := os.ReadFile(logf)
	if err != nil {
		t.Fatalf("no transaction steps logged: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	stride := len(lines)/24 + 1 // 24 of them: each run costs a second or two
	for i := 0; i < len(lines); i += stride {
		n, _, _ := strings.Cut(lines[i], " ")
		points = append(points, [2]string{"GREY_TEST_KILL_AT", n})
	}
	for _, p := range points[1:] {
		what := "kill at " + p[1]
		if p[0] == "GREY_TEST_KILL_AT" {
			i, _ := strconv.Atoi(p[1])
			what = "kill at transaction step " + lines[i-1]
		}
		out, err := upgrade(p[0] + "=" + p[1])
		check(what, out, err)
	}
	t.Logf("%d kill points (%d transaction boundaries, every %dth tested)", len(points), len(lines), stride)
	if code, out, errOut := g("app", "run", "k"); code != 0 || out != "Hello, world!\n" {
		t.Errorf("app run after the kills: %d %q %s", code, out, errOut)
	}
	if code, _, errOut := greyAt(t, testfixture.Clock, "--root", gen1, "verify"); code != 0 {
		t.Errorf("grey verify in generation 1: %d %s", code, errOut)
	}

	// The next upgrade completes and cleans up.
	if out, err := upgrade(); err != nil || !strings.Contains(out, "k: generation ") {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(apps, "k/current/usr/lib/libgreet/libgreet.so.1")); err != nil || string(b) != "libgreet 2.0\n" {
		t.Errorf("after the upgrade the app sees %q %v", b, err)
	}
	if left, _ := filepath.Glob(filepath.Join(apps, "k/gen/.new-*")); len(left) != 0 {
		t.Errorf("half-made generations left: %v", left)
	}
	// A first install killed at any app step leaves no app: "app list"
	// does not show it, "app run" says it does not exist, and the next
	// install makes generation 1.
	for _, step := range []string{"downloaded", "applied", "composed", "meta", "generation", "link"} {
		cmd := exec.Command(bin, append(append([]string{"--root", root}, src...), "app", "install", "--no-sync", "fresh", "hello")...)
		cmd.Env = append(os.Environ(), "GREY_TEST_APP_KILL_AT="+step)
		b, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("first install killed at %s: not killed: %v\n%s", step, err, b)
		}
		if code, out, _ := g("app", "list"); code != 0 || strings.Contains(out, "fresh") {
			t.Errorf("after a first install killed at %s, app list: %d\n%s", step, code, out)
		}
		if code, _, _ := g("app", "run", "fresh"); code != 100 {
			t.Errorf("after a first install killed at %s, app run: %d, want 100", step, code)
		}
	}
	if code, out, errOut := g("app", "install", "--no-sync", "fresh", "hello"); code != 0 || !strings.Contains(out, "fresh: generation ") {
		t.Errorf("install after the kills: %d %q %s", code, out, errOut)
	}
	if left, _ := filepath.Glob(filepath.Join(apps, "fresh/gen/.new-*")); len(left) != 0 {
		t.Errorf("half-made generations of fresh left: %v", left)
	}
	if code, out, errOut := g("app", "gc", "--keep", "1", "k"); code != 0 {
		t.Errorf("gc: %d %q %s", code, out, errOut)
	}
	if ents, _ := os.ReadDir(filepath.Join(apps, "k/gen")); len(ents) != 3 { // N, N.json, N.seal
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("after gc --keep 1: %v", names)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildGreyTags builds cmd/grey with build tags into dir.
func buildGreyTags(t *testing.T, dir, tags string) string {
	t.Helper()
	bin := filepath.Join(dir, "grey-under-test")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-tags", tags, "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
