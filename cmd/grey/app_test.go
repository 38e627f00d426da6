package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// buildLib builds, with "grey build", a package libgreet of version v
// whose one library file holds v.
func buildLib(t *testing.T, v string) string {
	t.Helper()
	tree := t.TempDir()
	for path, content := range map[string]string{
		"DEBIAN/control":                 fmt.Sprintf("Package: libgreet\nVersion: %s\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: test library\n", v),
		"usr/lib/libgreet/libgreet.so.1": "libgreet " + v + "\n",
	} {
		full := filepath.Join(tree, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "libgreet_"+v+"_all.deb")
	if code, _, errOut := greyAt(t, testfixture.Clock, "build", tree, "-o", out); code != 0 {
		t.Fatalf("build %s: %d %s", v, code, errOut)
	}
	return out
}

func sameInode(t *testing.T, a, b string) bool {
	t.Helper()
	ai, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	bi, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(ai, bi)
}

// TestAppTwoRootsRunRollback: two apps side by side from the bookworm
// fixture, each with its own version of a library built by "grey build";
// shared files are one inode; both run hello under bubblewrap; rollback
// only switches the link; remove prunes the store.
func TestAppTwoRootsRunRollback(t *testing.T) {
	testfixture.AppCommands(t)
	t.Parallel()
	testfixture.Bookworm(t)
	testfixture.Tool(t, "bwrap", "bubblewrap")
	root := t.TempDir()
	g := fixtureGrey(t, root)
	lib1, lib2 := buildLib(t, "1.0"), buildLib(t, "2.0")
	apps := filepath.Join(root, "var/lib/grey/apps")
	if code, out, errOut := g("app", "install", "hello", "hello", lib1); code != 0 || !strings.Contains(out, "hello: generation 1") {
		t.Fatalf("app install hello: %d %q %s", code, out, errOut)
	}
	if code, out, errOut := g("app", "install", "--command", "hello", "other", "hello", "busybox", lib2); code != 0 || !strings.Contains(out, "other: generation 1") {
		t.Fatalf("app install other: %d %q %s", code, out, errOut)
	}
	if code, _, errOut := g("app", "install", "bad", "no-such-package"); code != 100 || !strings.Contains(errOut, "no-such-package") {
		t.Errorf("app install of an unknown package: %d %s", code, errOut)
	}
	if _, err := os.Lstat(filepath.Join(apps, "bad")); !os.IsNotExist(err) {
		t.Errorf("a failed first install left its app directory: %v", err)
	}
	r1, r2 := filepath.Join(apps, "hello/current"), filepath.Join(apps, "other/current")
	for r, want := range map[string]string{r1: "libgreet 1.0\n", r2: "libgreet 2.0\n"} {
		b, err := os.ReadFile(filepath.Join(r, "usr/lib/libgreet/libgreet.so.1"))
		if err != nil || string(b) != want {
			t.Errorf("%s: library %q %v, want %q", r, b, err, want)
		}
	}
	// The host root has no package installed by either.
	if _, err := os.Stat(filepath.Join(root, "usr/bin/hello")); !os.IsNotExist(err) {
		t.Errorf("host root has usr/bin/hello: %v", err)
	}
	if !sameInode(t, filepath.Join(r1, "usr/bin/hello"), filepath.Join(r2, "usr/bin/hello")) {
		t.Error("usr/bin/hello is not one store object in both apps")
	}
	if sameInode(t, filepath.Join(r1, "usr/lib/libgreet/libgreet.so.1"), filepath.Join(r2, "usr/lib/libgreet/libgreet.so.1")) {
		t.Error("different library versions share an inode")
	}
	// Each app root is a dpkg root and a grey root.
	if dpkg, err := exec.LookPath("dpkg"); err == nil {
		b, err := exec.Command(dpkg, "--root="+r1, "-l", "libgreet").CombinedOutput()
		if err != nil || !strings.Contains(string(b), "ii  libgreet       1.0") {
			t.Errorf("dpkg -l in app root: %v\n%s", err, b)
		}
	}
	// Linking files to the store changes no content, mode or owner.
	for _, r := range []string{r1, r2} {
		if code, out, errOut := greyAt(t, testfixture.Clock, "--root", r, "verify"); code != 0 || out != "" {
			t.Errorf("grey --root %s verify: %d %q %s", r, code, out, errOut)
		}
		if dpkg, err := exec.LookPath("dpkg"); err == nil {
			if b, err := exec.Command(dpkg, "--root="+r, "--verify").CombinedOutput(); err != nil || len(b) != 0 {
				t.Errorf("dpkg --verify in %s: %v %s", r, err, b)
			}
		}
	}
	if code, out, errOut := greyAt(t, testfixture.Clock, "--root", r2, "installed"); code != 0 || !strings.Contains(out, "libgreet") || !strings.Contains(out, "2.0") {
		t.Errorf("grey --root APPROOT installed: %d %q %s", code, out, errOut)
	}

	for _, name := range []string{"hello", "other"} {
		if code, out, errOut := g("app", "run", name); code != 0 || out != "Hello, world!\n" {
			t.Errorf("app run %s: %d %q %s", name, code, out, errOut)
		}
	}
	if code, out, errOut := g("app", "run", "hello", "--", "-g", "hi there"); code != 0 || out != "hi there\n" {
		t.Errorf("app run hello -- -g: %d %q %s", code, out, errOut)
	}

	// The app root is read-only to the app; /tmp is its own and goes
	// away with it.
	hello, _ := os.ReadFile(filepath.Join(r2, "usr/bin/hello"))
	if code, _, errOut := g("app", "run", "--command", "busybox", "other", "--", "sh", "-c", "echo x > /usr/bin/hello"); code == 0 || !strings.Contains(errOut, "Read-only file system") {
		t.Errorf("write into the app root: %d %s", code, errOut)
	}
	if code, out, errOut := g("app", "run", "--command", "busybox", "other", "--", "sh", "-c", "echo y > /tmp/f && busybox cat /tmp/f"); code != 0 || out != "y\n" {
		t.Errorf("write into /tmp: %d %q %s", code, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(r2, "usr/bin/hello")); string(b) != string(hello) {
		t.Error("usr/bin/hello changed")
	}
	if _, err := os.Lstat(filepath.Join(r2, "tmp/f")); !os.IsNotExist(err) {
		t.Errorf("the app's /tmp reached its root: %v", err)
	}
	runAsNobody(t, root)

	// Generation 2 of hello has library 2.0.
	if code, out, errOut := g("app", "install", "hello", "hello", lib2); code != 0 || !strings.Contains(out, "hello: generation 2") {
		t.Fatalf("app install hello again: %d %q %s", code, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(r1, "usr/lib/libgreet/libgreet.so.1")); string(b) != "libgreet 2.0\n" {
		t.Errorf("generation 2 library %q", b)
	}
	if !sameInode(t, filepath.Join(apps, "hello/gen/2/usr/lib/libgreet/libgreet.so.1"), filepath.Join(r2, "usr/lib/libgreet/libgreet.so.1")) {
		t.Error("library 2.0 not shared between hello gen 2 and other")
	}

	// Rollback: the link changes, no file of any generation does.
	before := testfixture.InodeListing(t, filepath.Join(apps, "hello/gen"), true)
	if code, out, errOut := g("app", "rollback", "hello"); code != 0 || out != "hello: generation 1 is current\n" {
		t.Fatalf("rollback: %d %q %s", code, out, errOut)
	}
	if after := testfixture.InodeListing(t, filepath.Join(apps, "hello/gen"), true); before != after {
		t.Errorf("rollback touched the generations:\n%s", testfixture.DiffListings(before, after))
	}
	if l, err := os.Readlink(r1); err != nil || l != "gen/1" {
		t.Errorf("current -> %q %v", l, err)
	}
	if b, _ := os.ReadFile(filepath.Join(r1, "usr/lib/libgreet/libgreet.so.1")); string(b) != "libgreet 1.0\n" {
		t.Errorf("after rollback library %q", b)
	}
	if code, out, _ := g("app", "history", "hello"); code != 0 || !strings.Contains(out, "\n1*  ") || !strings.Contains(out, "\n2   ") {
		t.Errorf("history: %d\n%s", code, out)
	}
	if code, _, _ := g("app", "rollback", "hello", "7"); code != 100 {
		t.Errorf("rollback to a missing generation: %d, want 100", code)
	}
	if code, out, errOut := g("app", "rollback", "hello", "2"); code != 0 || out != "hello: generation 2 is current\n" {
		t.Errorf("rollback 2: %d %q %s", code, out, errOut)
	}
	code, out, _ := g("--json", "app", "list")
	var list []struct {
		Name       string
		Generation int
		Requested  []string
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 2 || list[0].Name != "hello" || list[0].Generation != 2 || list[1].Name != "other" || list[1].Generation != 1 {
		t.Errorf("app list --json: %d %v %s", code, err, out)
	}

	storeClean := func(after string) {
		t.Helper()
		n := 0
		filepath.WalkDir(filepath.Join(apps, ".store", "objects"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
				var st syscall.Stat_t
				if syscall.Lstat(p, &st) == nil && st.Nlink < 2 {
					t.Errorf("store object %s unreferenced after %s", p, after)
				}
			}
			return nil
		})
		if n == 0 {
			t.Errorf("empty store after %s", after)
		}
	}
	// Upgrade: the same request resolves to the same packages.
	if code, out, errOut := g("app", "upgrade", "hello"); code != 0 || out != "hello: up to date\n" {
		t.Errorf("upgrade: %d %q %s", code, out, errOut)
	}
	if code, out, errOut := g("app", "upgrade", "--all"); code != 0 || out != "hello: up to date\nother: up to date\n" {
		t.Errorf("upgrade --all: %d %q %s", code, out, errOut)
	}
	if code, _, _ := g("app", "upgrade"); code != 2 {
		t.Errorf("upgrade with neither a name nor --all: %d, want 2", code)
	}
	if _, err := os.Stat(filepath.Join(apps, "hello/gen/3")); !os.IsNotExist(err) {
		t.Errorf("upgrade with nothing new made generation 3: %v", err)
	}
	// gc keeps the current generation, deletes the older one.
	if code, out, errOut := g("app", "gc", "--keep", "1", "hello"); code != 0 || out != "hello: deleted 1 generations\n" {
		t.Errorf("gc: %d %q %s", code, out, errOut)
	}
	if code, out, _ := g("app", "history", "hello"); code != 0 || strings.Contains(out, "\n1") || !strings.Contains(out, "\n2*") {
		t.Errorf("history after gc:\n%s", out)
	}
	storeClean("gc")

	// Remove: the app is gone, the store keeps only what hello uses.
	if code, _, errOut := g("app", "remove", "other"); code != 0 {
		t.Fatalf("remove: %d %s", code, errOut)
	}
	if _, err := os.Lstat(filepath.Join(apps, "other")); !os.IsNotExist(err) {
		t.Errorf("other still there: %v", err)
	}
	if code, _, _ := g("app", "run", "other"); code != 100 {
		t.Errorf("run of a removed app: %d, want 100", code)
	}
	storeClean("remove")
	if code, out, _ := g("app", "run", "hello"); code != 0 || out != "Hello, world!\n" {
		t.Errorf("app run hello after removing other: %d %q", code, out)
	}
}

// runAsNobody runs "grey app run hello" as the unprivileged user nobody
// (uid 65534) on the apps root installed as root: it prints hello's
// greeting through an unprivileged user namespace. It needs root to
// change user, and a kernel that lets nobody make user namespaces (probed
// with bwrap itself; where it cannot, the reason is logged).
func runAsNobody(t *testing.T, root string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Log("not root: cannot run as another user")
		return
	}
	setpriv := testfixture.Tool(t, "setpriv", "util-linux")
	bwrap := testfixture.Tool(t, "bwrap", "bubblewrap")
	nobody := func(args ...string) *exec.Cmd {
		c := exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups"}, args...)...)
		c.Env = []string{"HOME=/nonexistent", "PATH=/usr/bin:/bin", testGreyEnv + "=1"}
		return c
	}
	if b, err := nobody(bwrap, "--ro-bind", "/", "/", "true").CombinedOutput(); err != nil {
		t.Logf("nobody cannot use bwrap here (%v: %s): unprivileged run not tested", err, b)
		return
	}
	bin := testGrey(t)
	// t.TempDir's directories are 0700: let nobody reach the binary and root.
	for _, d := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin)), root, filepath.Dir(root)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb strings.Builder
	c := nobody(bin, "--root", root, "app", "run", "hello")
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil || out.String() != "Hello, world!\n" {
		t.Errorf("app run as nobody: %v %q %s", err, out.String(), errb.String())
	}
}
