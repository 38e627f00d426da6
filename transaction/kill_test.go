package transaction

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// greyBinary builds cmd/grey with the faultinject tag (see
// fault_inject.go): GREY_TEST_KILL_AT=N makes it SIGKILL itself at the
// Nth step boundary of a transaction.
func greyBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	out := filepath.Join(t.TempDir(), "grey")
	cmd := exec.Command(goTool, "build", "-tags", "faultinject", "-o", out, "../cmd/grey")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build grey with faultinject: %v\n%s", err, b)
	}
	return out
}

// rootTreeHash hashes the root like treeHash, without grey's own
// database, journal, store and package cache (which a transaction changes
// whether or not it completes).
func rootTreeHash(t testing.TB, root string) string {
	t.Helper()
	// dpkg's lock files are created by whoever locks first; they hold no state.
	return treeHash(t, root, "var/lib/grey", "var/cache/grey", "var/lib/dpkg/lock", "var/lib/dpkg/lock-frontend")
}

// killCase is one transaction to interrupt: args run against a copy of
// the root template.
type killCase struct {
	name     string
	template string   // prepared root, copied for every run
	args     []string // grey arguments after --root R
	// stride > 1 tests only every stride-th "rename" and every stride-th
	// "mkdir" boundary (the other kinds of boundary are all tested).
	stride int
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	if b, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, b)
	}
}

func runGrey(bin, root string, env []string, args ...string) (string, error) {
	cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// runKills runs c once to the end (the state after), then once per step
// boundary with a SIGKILL there, and checks that the next grey command
// leaves the root exactly as before or exactly as after, with grey verify
// and dpkg --verify clean. It returns the number of kill points tested.
func runKills(t *testing.T, bin, dpkg string, c killCase) int {
	t.Helper()
	work := t.TempDir()
	before := rootTreeHash(t, c.template)
	full := filepath.Join(work, "full")
	copyTree(t, c.template, full)
	logf := filepath.Join(work, "steps")
	if out, err := runGrey(bin, full, []string{"GREY_TEST_FAULT_LOG=" + logf}, c.args...); err != nil {
		t.Fatalf("%s: %v\n%s", c.name, err, out)
	}
	after := rootTreeHash(t, full)
	if after == before {
		t.Fatalf("%s changed nothing", c.name)
	}
	raw, err := os.ReadFile(logf)
	if err != nil {
		t.Fatal(err)
	}
	var points []int
	var names []string
	renames, mkdirs := 0, 0
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		n, step, _ := strings.Cut(l, " ")
		i, _ := strconv.Atoi(n)
		if step == "rename" {
			renames++
			if c.stride > 1 && renames%c.stride != 1 {
				continue
			}
		}
		if step == "mkdir" {
			mkdirs++
			if c.stride > 1 && mkdirs%c.stride != 1 {
				continue
			}
		}
		points = append(points, i)
		names = append(names, step)
	}
	// Two at a time: a run mostly waits on system calls.
	var mu sync.Mutex
	sawBefore, sawAfter := 0, 0
	next := make(chan int)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				side := killOnce(t, bin, dpkg, c, work, points[k], names[k], before, after)
				mu.Lock()
				switch side {
				case -1:
					sawBefore++
				case 1:
					sawAfter++
				}
				mu.Unlock()
			}
		}()
	}
	for k := range points {
		next <- k
	}
	close(next)
	wg.Wait()
	t.Logf("%s: %d kill points tested (%d boundaries, %d of them renames): %d left the state before, %d the state after",
		c.name, len(points), strings.Count(string(raw), "\n"), renames, sawBefore, sawAfter)
	if sawBefore == 0 || sawAfter == 0 {
		t.Errorf("%s: expected kill points on both sides of the commit (before %d, after %d)", c.name, sawBefore, sawAfter)
	}
	return len(points)
}

// killOnce runs c killed at boundary n, recovers with grey verify and
// checks the root: -1 when it is the state before, 1 after, 0 neither.
// Roots are left for the test's cleanup: this machine's ext4 slows down
// after many deletions.
func killOnce(t *testing.T, bin, dpkg string, c killCase, work string, n int, step, before, after string) int {
	r := filepath.Join(work, strconv.Itoa(n))
	if b, err := exec.Command("cp", "-a", c.template, r).CombinedOutput(); err != nil {
		t.Errorf("cp -a: %v\n%s", err, b)
		return 0
	}
	out, err := runGrey(bin, r, []string{"GREY_TEST_KILL_AT=" + strconv.Itoa(n)}, c.args...)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("%s: kill at %d (%s): grey was not killed: %v\n%s", c.name, n, step, err, out)
		return 0
	}
	vout, verr := runGrey(bin, r, nil, "verify")
	side := 0
	switch rootTreeHash(t, r) {
	case before:
		side = -1
	case after:
		side = 1
	default:
		t.Errorf("%s: kill at %d (%s): root is neither the state before nor after; recovery said:\n%s", c.name, n, step, vout)
	}
	if verr != nil {
		t.Errorf("%s: kill at %d (%s): grey verify: %v\n%s", c.name, n, step, verr, vout)
	}
	// Every kill that left something to undo must say so.
	if side == -1 && !strings.Contains(vout, "recovered: undid ") {
		t.Errorf("%s: kill at %d (%s): no recovery message:\n%s", c.name, n, step, vout)
	}
	if b, err := exec.Command(dpkg, "--root="+r, "--verify").CombinedOutput(); err != nil || len(b) != 0 {
		t.Errorf("%s: kill at %d (%s): dpkg --verify: %v\n%s", c.name, n, step, err, b)
	}
	if _, err := os.Stat(filepath.Join(r, journalDir)); err == nil {
		t.Errorf("%s: kill at %d (%s): the journal directory is still there after recovery", c.name, n, step)
	}
	return side
}

// manyFiles is a package with n files under usr/share/NAME, version v:
// files below keep stay identical between versions, the rest change, a
// tenth are dropped by the later version and others added.
func manyFiles(t *testing.T, name, v string, n int, later bool, extra map[string]string, conffiles string) string {
	files := map[string]string{}
	for i := range n {
		switch {
		case later && i%10 == 0:
			continue // dropped
		case i%3 == 0:
			files[fmt.Sprintf("usr/share/%s/d%d/f%d", name, i%7, i)] = "same " + strconv.Itoa(i)
		default:
			files[fmt.Sprintf("usr/share/%s/d%d/f%d", name, i%7, i)] = v + " content " + strconv.Itoa(i)
		}
	}
	if later {
		for i := range n / 10 {
			files[fmt.Sprintf("usr/share/%s/new/g%d", name, i)] = "new " + strconv.Itoa(i)
		}
		files["usr/share/"+name+"/link"] = "->d1/f1"
	}
	for k, v := range extra {
		files[k] = v
	}
	debian := map[string]string{"control": "Package: " + name + "\nVersion: " + v + "\nArchitecture: all\nMaintainer: T <t@example.org>\nDescription: test\n"}
	if conffiles != "" {
		debian["conffiles"] = conffiles
	}
	return buildTree(t, name+"-"+v, files, debian)
}

// killUpgradeRemove interrupts (b) the upgrade of a package with n files
// (a tenth dropped, a tenth added, two thirds changed), (c) the removal
// of it and a package with a conffile and (d) the rollback of the upgrade,
// at every step boundary except that only every stride-th file rename is
// a kill point.
func killUpgradeRemove(t *testing.T, n, stride int) {
	dpkg := testfixture.Tool(t, "dpkg", "dpkg")
	bin := greyBinary(t)
	v1 := manyFiles(t, "many", "1.0", n, false, nil, "")
	v2 := manyFiles(t, "many", "2.0", n, true, nil, "")
	conf := manyFiles(t, "conf", "1.0", 20, false, map[string]string{"etc/conf.conf": "setting=1\n"}, "/etc/conf.conf\n")

	base := filepath.Join(t.TempDir(), "base")
	must(t, os.MkdirAll(base, 0o755))
	if out, err := runGrey(bin, base, nil, "install", "-y", "--no-scripts", "--no-sync", v1, conf); err != nil {
		t.Fatalf("install v1: %v\n%s", err, out)
	}
	total := runKills(t, bin, dpkg, killCase{name: "upgrade", template: base, stride: stride,
		args: []string{"install", "-y", "--no-scripts", "--no-sync", v2}})
	total += runKills(t, bin, dpkg, killCase{name: "remove", template: base, stride: stride,
		args: []string{"remove", "-y", "--no-scripts", "--no-sync", "many", "conf"}})
	// (d) the rollback of that upgrade, from the content store.
	upgraded := filepath.Join(t.TempDir(), "upgraded")
	copyTree(t, base, upgraded)
	if out, err := runGrey(bin, upgraded, nil, "install", "-y", "--no-scripts", "--no-sync", v2); err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	total += runKills(t, bin, dpkg, killCase{name: "rollback", template: upgraded, stride: stride,
		args: []string{"rollback", "-y", "--no-scripts", "--no-sync", "1"}})
	t.Logf("kill points tested: %d", total)
}

// TestKillUpgradeRemove: a 300-file package, every 15th rename (every
// 50th in the race pass of make test, which runs the package's tests on
// two busy cores; TestFullKillUpgradeEveryRename covers every rename).
func TestKillUpgradeRemove(t *testing.T) {
	stride := 15
	if testfixture.RaceEnabled {
		stride = 50
	}
	killUpgradeRemove(t, 300, stride)
}

// TestFullKillUpgradeEveryRename: a 60-file package, every rename a kill
// point (about 150 runs of grey; the non-race pass of make test).
func TestFullKillUpgradeEveryRename(t *testing.T) {
	testfixture.WholeIndex(t)
	killUpgradeRemove(t, 60, 1)
}

// TestFullKillFixture interrupts (a) the install of the fixture's
// 22-package closure into an empty root: every boundary except renames,
// which are sampled (every 40th).
func TestFullKillFixture(t *testing.T) {
	testfixture.WholeIndex(t)
	dpkg := testfixture.Tool(t, "dpkg", "dpkg")
	debs := fixtureDebs(t)
	bin := greyBinary(t)
	// The state before is an empty root as grey leaves it once opened:
	// its own database and package cache directories exist.
	empty := filepath.Join(t.TempDir(), "empty")
	must(t, os.MkdirAll(filepath.Join(empty, "var/cache/grey/archives"), 0o755))
	if out, err := runGrey(bin, empty, nil, "verify"); err != nil {
		t.Fatalf("open the empty root: %v\n%s", err, out)
	}
	args := append([]string{"install", "-y", "--no-scripts", "--no-sync"}, debs...)
	n := runKills(t, bin, dpkg, killCase{name: "fixture install", template: empty, args: args, stride: 40})
	t.Logf("kill points tested: %d", n)
}

// TestKillNewDirectories interrupts the install, into an empty root, of a
// package that ships new directories (dpkg's var/lib/dpkg and
// var/lib/dpkg/alternatives among them, as the dpkg package does) at every
// boundary, including right after each directory's mkdir: every
// directory a transaction creates is logged before it is made, so
// recovery removes it (issue 12, item 6: two of four random kills left
// empty var/lib/dpkg and var/lib/dpkg/alternatives behind).
func TestKillNewDirectories(t *testing.T) {
	dpkg := testfixture.Tool(t, "dpkg", "dpkg")
	bin := greyBinary(t)
	files := []tentry{
		{name: "./var/", typ: 'd'}, {name: "./var/lib/", typ: 'd'}, {name: "./var/lib/dpkg/", typ: 'd'},
		{name: "./var/lib/dpkg/alternatives/", typ: 'd'}, {name: "./var/lib/dpkg/parts/", typ: 'd'},
		{name: "./opt/", typ: 'd'}, {name: "./opt/a/", typ: 'd'}, {name: "./opt/a/b/", typ: 'd', mode: 0o750},
		{name: "./opt/a/b/c/", typ: 'd'}, {name: "./opt/a/b/c/f", body: "f\n"}, {name: "./opt/a/g", body: "g\n"},
		{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'}, {name: "./usr/share/doc/", typ: 'd'},
		{name: "./usr/share/doc/dirs/", typ: 'd'}, {name: "./usr/share/doc/dirs/copyright", body: "c\n"},
	}
	deb := tpkg{name: "dirs", version: "1", files: files}.build(t, t.TempDir())
	empty := filepath.Join(t.TempDir(), "empty")
	must(t, os.MkdirAll(filepath.Join(empty, "var/cache/grey/archives"), 0o755))
	if out, err := runGrey(bin, empty, nil, "verify"); err != nil {
		t.Fatalf("open the empty root: %v\n%s", err, out)
	}
	n := runKills(t, bin, dpkg, killCase{name: "new directories", template: empty,
		args: []string{"install", "-y", "--no-scripts", "--no-sync", deb}})
	t.Logf("kill points tested: %d", n)
}

// TestInterruptedSeenByEveryCommand: after a kill in the middle of an
// upgrade, read-only commands (installed, files, verify, history) do not
// answer as if the root were clean: each undoes the transaction first and
// says so, or, when the undo cannot be done (its contents are gone from
// the store), fails naming the interrupted transaction (issue 12, item 3).
func TestInterruptedSeenByEveryCommand(t *testing.T) {
	bin := greyBinary(t)
	v1 := manyFiles(t, "many", "1.0", 30, false, nil, "")
	v2 := manyFiles(t, "many", "2.0", 30, true, nil, "")
	base := filepath.Join(t.TempDir(), "base")
	must(t, os.MkdirAll(base, 0o755))
	if out, err := runGrey(bin, base, nil, "install", "-y", "--no-scripts", "--no-sync", v1); err != nil {
		t.Fatalf("install v1: %v\n%s", err, out)
	}
	before := rootTreeHash(t, base)
	logf := filepath.Join(t.TempDir(), "steps")
	probe := filepath.Join(t.TempDir(), "probe")
	copyTree(t, base, probe)
	upgrade := []string{"install", "-y", "--no-scripts", "--no-sync", v2}
	if out, err := runGrey(bin, probe, []string{"GREY_TEST_FAULT_LOG=" + logf}, upgrade...); err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(logf)
	must(t, err)
	kill := ""
	for _, l := range strings.Split(string(raw), "\n") {
		if n, step, _ := strings.Cut(l, " "); step == "rename" {
			kill = n // the first rename: the root is half changed
			break
		}
	}
	killed := func(name string) string {
		r := filepath.Join(t.TempDir(), name)
		copyTree(t, base, r)
		if _, err := runGrey(bin, r, []string{"GREY_TEST_KILL_AT=" + kill}, upgrade...); err == nil {
			t.Fatal("the upgrade was not killed")
		}
		return r
	}
	for _, cmd := range [][]string{{"installed"}, {"files", "many"}, {"verify"}, {"history"}} {
		r := killed(cmd[0])
		out, err := runGrey(bin, r, nil, cmd...)
		if err != nil || !strings.Contains(out, "recovered: undid interrupted upgrade many") {
			t.Errorf("grey %s after the kill: %v, and it does not say it undid the upgrade:\n%s", cmd[0], err, out)
		}
		if got := rootTreeHash(t, r); got != before {
			t.Errorf("grey %s after the kill: the root is not the state before:\n%s", cmd[0], testfixture.DiffListings(testfixture.TreeListing(t, base), testfixture.TreeListing(t, r)))
		}
		if cmd[0] == "installed" && !strings.Contains(out, "many 1.0") {
			t.Errorf("grey installed:\n%s", out)
		}
	}
	// The undo needs the old contents from the store; without them every
	// command refuses to answer, naming the transaction.
	r := killed("nostore")
	must(t, os.RemoveAll(filepath.Join(r, StoreDir)))
	for _, cmd := range [][]string{{"installed"}, {"verify"}, {"installed"}} {
		out, err := runGrey(bin, r, nil, cmd...)
		if err == nil || !strings.Contains(out, "undo interrupted upgrade many") || strings.Contains(out, "many 1.0") {
			t.Errorf("grey %s with the undo impossible: %v\n%s", cmd[0], err, out)
		}
	}
}
