package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// TestAppGenerationsKilled kills a real grey process (a build with the
// faultinject tag) with SIGKILL at the step boundaries of "app
// rollback", "app gc", a first "app install" and "app remove" (TestAppUpgradeKilled
// does "app upgrade"); see each subtest.
func TestAppGenerationsKilled(t *testing.T) {
	testfixture.AppCommands(t)
	fx := testfixture.Bookworm(t)
	testfixture.Tool(t, "bwrap", "bubblewrap")
	k := &killRig{t: t, bin: buildGreyTags(t, t.TempDir(), "faultinject"), src: fixtureSourceArgs(fx)}
	t.Run("rollback", k.rollback)
	t.Run("gc", k.gc)
	t.Run("first install", k.firstInstall)
	t.Run("remove", k.remove)
}

// killRig runs the faultinject build of grey.
type killRig struct {
	t   *testing.T
	bin string
	src []string
}

// run runs the faultinject grey in root with env added.
func (k *killRig) run(root string, env []string, args ...string) (string, error) {
	cmd := exec.Command(k.bin, append(append([]string{"--root", root}, k.src...), args...)...)
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// killed runs grey in root with env and fails t unless SIGKILL ended it.
func (k *killRig) killed(t *testing.T, what, root string, env []string, args ...string) {
	t.Helper()
	out, err := k.run(root, env, args...)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("%s: not killed: %v\n%s", what, err, out)
	}
}

// ok runs grey in root and fails t unless it exits 0.
func (k *killRig) ok(t *testing.T, root string, env []string, args ...string) string {
	t.Helper()
	out, err := k.run(root, env, args...)
	if err != nil {
		t.Fatalf("grey %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// steps returns the app step boundaries (STEP#N) a run logged to log.
func steps(t *testing.T, log string) []string {
	t.Helper()
	raw, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("no steps logged: %v", err)
	}
	return strings.Split(strings.TrimSpace(string(raw)), "\n")
}

// sample returns about n of points, the first and the last among them.
func sample(points []string, n int) []string {
	if len(points) <= n {
		return points
	}
	var out []string
	stride := len(points)/n + 1
	for i := 0; i < len(points); i += stride {
		out = append(out, points[i])
	}
	if out[len(out)-1] != points[len(points)-1] {
		out = append(out, points[len(points)-1])
	}
	return out
}

// appWithGenerations installs app NAME in a new root with libgreet 1.0
// and upgrades it once per further version, so that generation N has
// libgreet vers[N-1].
func (k *killRig) appWithGenerations(t *testing.T, name string, vers ...string) (root string, g func(args ...string) (int, string, string)) {
	t.Helper()
	root = t.TempDir()
	g = fixtureGrey(t, root)
	lib := filepath.Join(t.TempDir(), "libgreet.deb")
	for i, v := range vers {
		copyFile(t, buildLib(t, v), lib)
		args := []string{"app", "upgrade", "--no-sync", name}
		if i == 0 {
			args = []string{"app", "install", "--no-sync", "--command", "hello", name, "hello", lib}
		}
		if code, out, errOut := g(args...); code != 0 || !strings.Contains(out, name+": generation "+strconv.Itoa(i+1)) {
			t.Fatalf("%v: %d %q %s", args, code, out, errOut)
		}
	}
	return root, g
}

// sees checks that app name in root runs and sees libgreet v.
func (k *killRig) sees(t *testing.T, what, root, name, v string) {
	t.Helper()
	apps := filepath.Join(root, "var/lib/grey/apps")
	if b, err := os.ReadFile(filepath.Join(apps, name, "current/usr/lib/libgreet/libgreet.so.1")); err != nil || string(b) != "libgreet "+v+"\n" {
		t.Errorf("%s: the app sees %q %v, want libgreet %s", what, b, err, v)
	}
	if out, err := k.run(root, nil, "app", "run", name); err != nil || out != "Hello, world!\n" {
		t.Errorf("%s: app run: %v %q", what, err, out)
	}
}

// rollback: "app rollback" killed at each of its boundaries (the new
// link made beside "current", the rename done), in both directions,
// leaves the app at the old or the new generation: "current" is one of
// them, the app runs and sees that generation's library, no file of
// either generation changed, and the next rollback (not killed) works
// over whatever the kill left (.current-new).
func (k *killRig) rollback(t *testing.T) {
	t.Parallel()
	root, _ := k.appWithGenerations(t, "r", "1.0", "2.0")
	apps := filepath.Join(root, "var/lib/grey/apps")
	listings := map[int]string{}
	for _, gen := range []int{1, 2} {
		listings[gen] = testfixture.TreeListing(t, filepath.Join(apps, "r/gen", strconv.Itoa(gen)))
	}
	log := filepath.Join(t.TempDir(), "steps")
	k.ok(t, root, []string{"GREY_TEST_APP_FAULT_LOG=" + log}, "app", "rollback", "r", "1")
	points := steps(t, log)
	if strings.Join(points, " ") != "link#1 switched#1" {
		t.Fatalf("rollback's boundaries: %v", points)
	}
	// After the rename the new generation is current, before it the old.
	after := map[string]bool{"switched#1": true}
	for _, p := range points {
		for _, dir := range [][2]int{{1, 2}, {2, 1}} {
			from, to := dir[0], dir[1]
			what := "rollback " + strconv.Itoa(from) + "->" + strconv.Itoa(to) + " killed at " + p
			k.ok(t, root, nil, "app", "rollback", "r", strconv.Itoa(from))
			k.killed(t, what, root, []string{"GREY_TEST_APP_KILL_AT=" + p}, "app", "rollback", "r", strconv.Itoa(to))
			want := from
			if after[p] {
				want = to
			}
			if l, err := os.Readlink(filepath.Join(apps, "r/current")); err != nil || l != "gen/"+strconv.Itoa(want) {
				t.Errorf("%s: current -> %q %v, want gen/%d", what, l, err, want)
			}
			k.sees(t, what, root, "r", map[int]string{1: "1.0", 2: "2.0"}[want])
			if out := k.ok(t, root, nil, "app", "history", "r"); !strings.Contains(out, "2") {
				t.Errorf("%s: app history:\n%s", what, out)
			}
		}
	}
	for gen, l := range listings {
		if d := testfixture.DiffListings(l, testfixture.TreeListing(t, filepath.Join(apps, "r/gen", strconv.Itoa(gen)))); d != "" {
			t.Errorf("generation %d changed by the rollbacks:\n%s", gen, d)
		}
	}
	k.ok(t, root, nil, "app", "rollback", "r", "2")
	k.ok(t, root, nil, "app", "rollback", "r")
	k.sees(t, "the last rollback (to the previous generation)", root, "r", "1.0")
}

// storeNames lists the files under apps/.store and every generation's
// metadata, relative to apps, sorted.
func storeNames(t *testing.T, apps string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(apps, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(apps, p)
		parts := strings.Split(rel, string(filepath.Separator))
		// Below NAME/gen/N and NAME/state/N only N itself.
		if len(parts) > 3 && (parts[1] == "gen" || parts[1] == "state") {
			return filepath.SkipDir
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// gc: "app gc --keep 1" killed at each of its boundaries (each removed
// generation's metadata, root, seal and state; each store object
// removed; the objects done, before manifests and blobs) never touches
// the current generation (2, after a rollback from 4): every remaining
// generation is complete (app verify clean) and runs (made current in
// turn), and the next
// gc (not killed) leaves exactly what an uninterrupted gc leaves —
// nothing referenced deleted, nothing unreferenced left — and no store
// object that no root links to. With generations 1 and 3 removed and
// their libgreet objects pruned there are 11 boundaries: all are tested.
func (k *killRig) gc(t *testing.T) {
	t.Parallel()
	pristine, g := k.appWithGenerations(t, "c", "1.0", "2.0", "3.0", "4.0")
	if code, out, errOut := g("app", "rollback", "c", "2"); code != 0 {
		t.Fatalf("rollback: %d %q %s", code, out, errOut)
	}
	// Every generation has its private state, as one that ran has.
	vers := map[int]string{1: "1.0", 2: "2.0", 3: "3.0", 4: "4.0"}
	runAll := func(what, root string) {
		t.Helper()
		var h []struct{ Generation int }
		if err := json.Unmarshal([]byte(k.ok(t, root, nil, "--json", "app", "history", "c")), &h); err != nil || len(h) < 2 {
			t.Fatalf("%s: app history: %v %v", what, h, err)
		}
		for _, m := range append(h, struct{ Generation int }{2}) {
			k.ok(t, root, nil, "app", "rollback", "c", strconv.Itoa(m.Generation))
			k.sees(t, what+", generation "+strconv.Itoa(m.Generation), root, "c", vers[m.Generation])
		}
	}
	runAll("before gc", pristine)
	apps := func(root string) string { return filepath.Join(root, "var/lib/grey/apps") }
	current := testfixture.TreeListing(t, filepath.Join(apps(pristine), "c/gen/2"))
	copyRoot := func() string { return copiedRoot(t, pristine) }
	// An uninterrupted gc numbers the boundaries and says what is left.
	ref := copyRoot()
	log := filepath.Join(t.TempDir(), "steps")
	k.ok(t, ref, []string{"GREY_TEST_APP_FAULT_LOG=" + log}, "app", "gc", "--keep", "1", "c")
	want := storeNames(t, apps(ref))
	points := steps(t, log)
	if !strings.Contains(strings.Join(points, " "), "gc-meta#2") || !strings.Contains(strings.Join(points, " "), "store-object#1") {
		t.Fatalf("gc's boundaries: %v", points)
	}
	points = sample(points, 16)
	for _, p := range points {
		what := "gc killed at " + p
		root := copyRoot()
		k.killed(t, what, root, []string{"GREY_TEST_APP_KILL_AT=" + p}, "app", "gc", "--keep", "1", "c")
		if l, err := os.Readlink(filepath.Join(apps(root), "c/current")); err != nil || l != "gen/2" {
			t.Errorf("%s: current -> %q %v", what, l, err)
		}
		if d := testfixture.DiffListings(current, testfixture.TreeListing(t, filepath.Join(apps(root), "c/gen/2"))); d != "" {
			t.Errorf("%s: the current generation changed:\n%s", what, d)
		}
		if out, err := k.run(root, nil, "app", "verify", "c"); err != nil {
			t.Errorf("%s: app verify: %v\n%s", what, err, out)
		}
		runAll(what, root)
		k.ok(t, root, nil, "app", "gc", "--keep", "1", "c")
		if d := testfixture.DiffListings(strings.Join(want, "\n"), strings.Join(storeNames(t, apps(root)), "\n")); d != "" {
			t.Errorf("%s: the next gc leaves, against an uninterrupted gc:\n%s", what, d)
		}
		k.sees(t, what+", then gc", root, "c", "2.0")
		if out, err := k.run(root, nil, "app", "verify", "c"); err != nil {
			t.Errorf("%s, then gc: app verify: %v\n%s", what, err, out)
		}
	}
	// What an uninterrupted gc leaves: generations 2 (current) and 4
	// (the newest), and only store objects some root links to.
	for _, n := range want {
		if strings.HasPrefix(n, "c/gen/") && !strings.Contains(n, "2") && !strings.Contains(n, "4") && n != "c/gen" {
			t.Errorf("gc --keep 1 left %s", n)
		}
	}
	err := filepath.WalkDir(filepath.Join(apps(ref), ".store/objects"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil && fi.Sys().(*syscall.Stat_t).Nlink < 2 {
			t.Errorf("store object %s is linked by no root", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d kill points", len(points))
}

// firstInstall: a first "app install" killed at the app's steps and at
// boundaries spread over the transaction that composes its root leaves
// no app: "app list" does not show it and "app run" says it does not
// exist; the next "app gc" removes what the kill left (the app's
// directory and its store objects: the apps directory is as before),
// and an install then makes generation 1.
func (k *killRig) firstInstall(t *testing.T) {
	t.Parallel()
	root, g := k.appWithGenerations(t, "old", "1.0")
	apps := filepath.Join(root, "var/lib/grey/apps")
	before := storeNames(t, apps)
	install := []string{"app", "install", "--no-sync", "--command", "hello", "fresh", "hello", "libgreet"}
	// libgreet is a local .deb: the transaction unpacks it, the rest
	// comes from the store.
	lib := filepath.Join(t.TempDir(), "libgreet.deb")
	copyFile(t, buildLib(t, "5.0"), lib)
	install[len(install)-1] = lib
	log := filepath.Join(t.TempDir(), "steps")
	k.killed(t, "numbering", root, []string{"GREY_TEST_APP_KILL_AT=link", "GREY_TEST_FAULT_LOG=" + log}, install...)
	var points [][2]string
	for _, s := range []string{"downloaded", "applied", "composed", "meta", "generation", "link"} {
		points = append(points, [2]string{"GREY_TEST_APP_KILL_AT", s})
	}
	var txn []string
	for _, l := range steps(t, log) {
		n, _, _ := strings.Cut(l, " ")
		txn = append(txn, n)
	}
	for _, n := range sample(txn, 24) {
		points = append(points, [2]string{"GREY_TEST_KILL_AT", n})
	}
	check := func(what string) {
		t.Helper()
		if code, out, _ := g("app", "list"); code != 0 || strings.Contains(out, "fresh") {
			t.Errorf("%s: app list: %d\n%s", what, code, out)
		}
		if code, _, _ := g("app", "run", "fresh"); code != 100 {
			t.Errorf("%s: app run: %d, want 100", what, code)
		}
	}
	check("after the numbering run")
	for _, p := range points {
		what := "first install killed at " + p[1]
		k.killed(t, what, root, []string{p[0] + "=" + p[1]}, install...)
		check(what)
		k.ok(t, root, nil, "app", "gc")
		if d := testfixture.DiffListings(strings.Join(before, "\n"), strings.Join(storeNames(t, apps), "\n")); d != "" {
			t.Errorf("%s: after app gc the apps directory, against before the install:\n%s", what, d)
		}
	}
	t.Logf("%d kill points (%d transaction boundaries)", len(points), len(txn))
	if code, out, errOut := g(install...); code != 0 || !strings.Contains(out, "fresh: generation 1") {
		t.Errorf("install after the kills: %d %q %s", code, out, errOut)
	}
	k.sees(t, "the installed app", root, "fresh", "5.0")
	k.sees(t, "the other app", root, "old", "1.0")
}

// remove: "app remove" killed at each of its boundaries (launchers
// removed; the app's directory renamed away; that directory deleted;
// each store object pruned) leaves the app either whole (listed, it
// runs; a second remove then removes it) or gone (not listed, "app run"
// says no app), the other app untouched and running, and after the next
// "app gc" the apps directory is what an uninterrupted remove leaves:
// no directory of the removed app and no store object only it used.
func (k *killRig) remove(t *testing.T) {
	t.Parallel()
	pristine, g := k.appWithGenerations(t, "gone", "1.0", "2.0")
	lib := filepath.Join(t.TempDir(), "libgreet.deb")
	copyFile(t, buildLib(t, "7.0"), lib)
	if code, out, errOut := g("app", "install", "--no-sync", "--command", "hello", "keep", "hello", lib); code != 0 {
		t.Fatalf("install keep: %d %q %s", code, out, errOut)
	}
	k.sees(t, "before", pristine, "keep", "7.0")
	apps := func(root string) string { return filepath.Join(root, "var/lib/grey/apps") }
	keep := testfixture.TreeListing(t, filepath.Join(apps(pristine), "keep"))
	copyRoot := func() string { return copiedRoot(t, pristine) }
	ref := copyRoot()
	log := filepath.Join(t.TempDir(), "steps")
	k.ok(t, ref, []string{"GREY_TEST_APP_FAULT_LOG=" + log}, "app", "remove", "gone")
	k.ok(t, ref, nil, "app", "gc")
	want := strings.Join(storeNames(t, apps(ref)), "\n")
	if strings.Contains(want, "gone") {
		t.Fatalf("an uninterrupted remove and gc leave\n%s", want)
	}
	points := steps(t, log)
	for _, p := range points {
		what := "remove killed at " + p
		root := copyRoot()
		k.killed(t, what, root, []string{"GREY_TEST_APP_KILL_AT=" + p}, "app", "remove", "gone")
		if out, err := k.run(root, nil, "app", "list"); err != nil {
			t.Errorf("%s: app list: %v\n%s", what, err, out)
		} else if strings.Contains(out, "gone") {
			k.sees(t, what, root, "gone", "2.0")
			k.ok(t, root, nil, "app", "remove", "gone")
		} else if out, err := k.run(root, nil, "app", "run", "gone"); err == nil || !strings.Contains(out, "no app gone") {
			t.Errorf("%s: app run of the removed app: %v %q", what, err, out)
		}
		if d := testfixture.DiffListings(keep, testfixture.TreeListing(t, filepath.Join(apps(root), "keep"))); d != "" {
			t.Errorf("%s: the other app changed:\n%s", what, d)
		}
		k.sees(t, what, root, "keep", "7.0")
		k.ok(t, root, nil, "app", "gc")
		if d := testfixture.DiffListings(want, strings.Join(storeNames(t, apps(root)), "\n")); d != "" {
			t.Errorf("%s: after the next gc, against an uninterrupted remove:\n%s", what, d)
		}
		if out, err := k.run(root, nil, "app", "verify"); err != nil {
			t.Errorf("%s: app verify: %v\n%s", what, err, out)
		}
	}
	t.Logf("%d kill points: %v", len(points), points)
}

// copiedRoot returns a copy of the root at from (cp -a) in a new
// temporary directory.
func copiedRoot(t *testing.T, from string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "root")
	if out, err := exec.Command("cp", "-a", from, dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	return dir
}
