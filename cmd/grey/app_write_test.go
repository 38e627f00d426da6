package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// writeEverywhere is a busybox sh script that tries to change every file
// and directory it can reach from / (but the kernel's and the home, which
// is bound from outside on purpose, and $SKIP and $SKIP2): it appends to every regular file,
// makes it mode 0777, and creates a file and a directory named $MARK in
// every directory. It prints how
// many appends worked.
const writeEverywhere = `n=0
for f in $(/bin/busybox find / \( -path /proc -o -path /sys -o -path /dev -o -path "$SKIP" -o -path "$SKIP2" \) -prune -o -type f -print 2>/dev/null); do
	if echo x 2>/dev/null >> "$f"; then n=$((n+1)); fi
	/bin/busybox chmod 0777 "$f" 2>/dev/null
done
for d in $(/bin/busybox find / \( -path /proc -o -path /sys -o -path /dev -o -path "$SKIP" -o -path "$SKIP2" \) -prune -o -type d -print 2>/dev/null); do
	/bin/busybox touch "$d/$MARK" 2>/dev/null
	/bin/busybox mkdir "$d/$MARK-dir" 2>/dev/null
done
echo "appended $n"
`

// buildWriter builds, with "grey build", the package "writer": /bin/sh
// (a link to busybox, for maintainer scripts) and a postinst that runs
// writeEverywhere inside the root being composed (but the package
// databases, which a script that wrote into them would break).
func buildWriter(t *testing.T) string {
	t.Helper()
	tree := t.TempDir()
	for path, content := range map[string]string{
		"DEBIAN/control":       "Package: writer\nVersion: 1\nArchitecture: all\nMaintainer: t <t@example.org>\nDepends: busybox\nDescription: writes everywhere\n",
		"DEBIAN/postinst":      "#!/bin/sh\nSKIP=/var/lib/dpkg SKIP2=/var/lib/grey MARK=grey-script\n" + writeEverywhere + "exit 0\n",
		"usr/share/writer/own": "writer's own file\n",
	} {
		full := filepath.Join(tree, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(path, "DEBIAN/postinst") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(tree, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("busybox", filepath.Join(tree, "bin/sh")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "writer_1_all.deb")
	if code, _, errOut := greyAt(t, testfixture.Clock, "build", tree, "-o", out); code != 0 {
		t.Fatalf("build writer: %d %s", code, errOut)
	}
	return out
}

// hostListing lists the host root without its apps directory.
func hostListing(t *testing.T, root string) string {
	t.Helper()
	var keep []string
	for _, l := range strings.Split(testfixture.TreeListing(t, root), "\n") {
		if !strings.HasPrefix(l, "var/lib/grey/apps/") && !strings.HasPrefix(l, "var/lib/grey/apps ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestAppWritesStayPrivate is issue 16's write invariant: a write through
// one app root never changes another app root, the store or the host.
// App b (hello, busybox) is installed first. App a (the same packages and
// "writer") is composed with maintainer scripts, and writer's postinst
// appends to, chmods and creates in everything it reaches inside a's new
// root; then a runs writeEverywhere as the app, under bubblewrap. Before
// and after each, b's root, every store object that existed and the host
// root are compared byte for byte (testfixture.TreeListing): the script
// only changes a's own files (they become new store objects), the app
// only its private copies of /etc and /var (a/state), and a's generation
// itself not at all.
func TestAppWritesStayPrivate(t *testing.T) {
	testfixture.AppCommands(t)
	testfixture.Bookworm(t)
	testfixture.Tool(t, "bwrap", "bubblewrap")
	root := t.TempDir()
	home := t.TempDir()
	t.Setenv("HOME", home)
	g := fixtureGrey(t, root)
	writer := buildWriter(t)
	apps := filepath.Join(root, "var/lib/grey/apps")
	store := filepath.Join(apps, ".store")
	if code, out, errOut := g("app", "install", "b", "hello", "busybox"); code != 0 {
		t.Fatalf("app install b: %d %q %s", code, out, errOut)
	}
	bRoot := filepath.Join(apps, "b/gen/1")
	b0, s0, h0 := testfixture.TreeListing(t, bRoot), testfixture.TreeListing(t, store), hostListing(t, root)

	// Store objects (and the blobs of manifests) are read-only and owned
	// by the package's owner (root): an app running as another user can
	// neither write nor chmod them.
	filepath.WalkDir(store, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(p, filepath.Join(store, "manifests")) {
			fi, _ := d.Info()
			if fi.Mode().Perm()&0o222 != 0 {
				t.Errorf("store object %s has mode %v", p, fi.Mode())
			}
		}
		return nil
	})

	// As a maintainer script.
	code, out, errOut := g("app", "install", "--scripts", "a", "hello", "busybox", writer)
	if code != 0 {
		t.Fatalf("app install a: %d %q %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "appended ") || strings.Contains(errOut, "appended 0\n") {
		t.Errorf("the postinst wrote nothing (a test that cannot fail): %s", errOut)
	}
	aRoot := filepath.Join(apps, "a/gen/1")
	if b, err := os.ReadFile(filepath.Join(aRoot, "usr/share/writer/own")); err != nil || !strings.HasSuffix(string(b), "x\n") {
		t.Errorf("the postinst did not change a's own file: %q %v", b, err)
	}
	if d := testfixture.DiffListings(b0, testfixture.TreeListing(t, bRoot)); d != "" {
		t.Errorf("a's maintainer script changed app b:\n%s", d)
	}
	after := map[string]bool{}
	for _, l := range strings.Split(testfixture.TreeListing(t, store), "\n") {
		after[l] = true
	}
	for _, l := range strings.Split(s0, "\n") {
		if !after[l] {
			t.Errorf("a's maintainer script changed a store object (only additions allowed): %s", l)
		}
	}
	if d := testfixture.DiffListings(h0, hostListing(t, root)); d != "" {
		t.Errorf("a's maintainer script changed the host root:\n%s", d)
	}

	// As the app, under bubblewrap.
	b1, s1, h1, a1 := testfixture.TreeListing(t, bRoot), testfixture.TreeListing(t, store), hostListing(t, root), testfixture.TreeListing(t, aRoot)
	code, out, errOut = g("app", "run", "--command", "busybox", "a", "--", "sh", "-c", "SKIP="+home+" SKIP2=/nonexistent MARK=grey-run\n"+writeEverywhere)
	if code != 0 || !strings.HasPrefix(out, "appended ") || out == "appended 0\n" {
		t.Fatalf("app run a: %d %q %s", code, out, errOut)
	}
	t.Logf("as the app: %s", strings.TrimSpace(out))
	for what, c := range map[string][2]string{
		"app b":          {b1, testfixture.TreeListing(t, bRoot)},
		"the store":      {s1, testfixture.TreeListing(t, store)},
		"the host root":  {h1, hostListing(t, root)},
		"a's generation": {a1, testfixture.TreeListing(t, aRoot)},
	} {
		if d := testfixture.DiffListings(c[0], c[1]); d != "" {
			t.Errorf("the app's writes changed %s:\n%s", what, d)
		}
	}
	// The writes went to a's private copies, which the next run sees.
	state := filepath.Join(apps, "a/state/1")
	for _, p := range []string{"etc/grey-run", "var/lib/dpkg/grey-run"} {
		if _, err := os.Lstat(filepath.Join(state, p)); err != nil {
			t.Errorf("private copy lacks %s: %v", p, err)
		}
	}
	if code, out, _ := g("app", "run", "--command", "busybox", "a", "--", "ls", "/var/lib/dpkg/grey-run", "/usr/grey-run"); code == 0 || out != "/var/lib/dpkg/grey-run\n" {
		t.Errorf("second run: %d %q", code, out)
	}
	if code, out, errOut := g("app", "run", "--command", "hello", "b"); code != 0 || out != "Hello, world!\n" {
		t.Errorf("app b after a's writes: %d %q %s", code, out, errOut)
	}
	t.Run("nobody", func(t *testing.T) { writesAsNobody(t, root) })
}

// asNobody returns a command running name as uid and gid 65534
// (nobody), without supplementary groups, with only HOME, PATH and
// testGreyEnv set (so that a testGrey copy runs grey).
func asNobody(home, name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	c.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", testGreyEnv + "=1"}
	return c
}

// nobodyCanRun prepares running the built grey as nobody: root is
// needed to change user, and the kernel must let nobody make user
// namespaces (probed with bwrap). It makes dirs (t.TempDir's, 0700)
// reachable and returns nobody's home, a fresh directory it owns.
func nobodyCanRun(t *testing.T, dirs ...string) string {
	t.Helper()
	testfixture.Root(t)
	bwrap := testfixture.Tool(t, "bwrap", "bubblewrap")
	home := t.TempDir()
	if err := os.Chown(home, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	for _, d := range append(dirs, filepath.Dir(home)) {
		for ; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if b, err := asNobody(home, bwrap, "--ro-bind", "/", "/", "true").CombinedOutput(); err != nil {
		testfixture.Missing(t, fmt.Sprintf("unprivileged user namespaces for nobody (bwrap: %v: %s)", err, b))
	}
	return home
}

// writesAsNobody is TestAppWritesStayPrivate's write as an unprivileged
// user: grey (testGrey) runs app a as nobody (uid 65534), whose
// writeEverywhere changes only nobody's own private copies of a's /etc
// and /var ($HOME/.local/state/grey/apps/a/1), never app b, the store,
// the host root, a's generation or root's private copies (a/state).
func writesAsNobody(t *testing.T, root string) {
	bin := testGrey(t)
	home := nobodyCanRun(t, filepath.Dir(bin), root)
	apps := filepath.Join(root, "var/lib/grey/apps")
	trees := map[string]string{
		"app b": filepath.Join(apps, "b/gen/1"), "the store": filepath.Join(apps, ".store"),
		"a's generation": filepath.Join(apps, "a/gen/1"), "root's copies of a's /etc and /var": filepath.Join(apps, "a/state"),
	}
	before := map[string]string{"the host root": hostListing(t, root)}
	for what, dir := range trees {
		before[what] = testfixture.TreeListing(t, dir)
	}
	var out, errb strings.Builder
	c := asNobody(home, bin, "--root", root, "app", "run", "--command", "busybox", "a", "--", "sh", "-c",
		"SKIP="+home+" SKIP2=/nonexistent MARK=grey-nobody\n"+writeEverywhere)
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil || !strings.HasPrefix(out.String(), "appended ") || out.String() == "appended 0\n" {
		t.Fatalf("app run a as nobody: %v %q %s", err, out.String(), errb.String())
	}
	t.Logf("as nobody: %s", strings.TrimSpace(out.String()))
	after := map[string]string{"the host root": hostListing(t, root)}
	for what, dir := range trees {
		after[what] = testfixture.TreeListing(t, dir)
	}
	for what := range before {
		if d := testfixture.DiffListings(before[what], after[what]); d != "" {
			t.Errorf("nobody's writes as app a changed %s:\n%s", what, d)
		}
	}
	state := filepath.Join(home, ".local/state/grey/apps/a/1")
	for _, p := range []string{"etc/grey-nobody", "var/grey-nobody"} {
		fi, err := os.Lstat(filepath.Join(state, p))
		if err != nil {
			t.Errorf("nobody's private copy lacks %s: %v", p, err)
		} else if fi.Sys().(*syscall.Stat_t).Uid != 65534 {
			t.Errorf("%s is not nobody's", p)
		}
	}
	for _, p := range []string{"etc/grey-nobody", "var/grey-nobody"} {
		if _, err := os.Lstat(filepath.Join(apps, "a/state/1", p)); !os.IsNotExist(err) {
			t.Errorf("nobody's write reached root's copy: %s %v", p, err)
		}
	}
	out.Reset()
	c = asNobody(home, bin, "--root", root, "app", "run", "--command", "hello", "b")
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil || out.String() != "Hello, world!\n" {
		t.Errorf("app b as nobody after a's writes: %v %q %s", err, out.String(), errb.String())
	}
}

// TestAppsDirFlagAndConfig: --apps-dir and Grey::Apps-Dir put the app
// roots elsewhere inside the root; app list shows sizes: two apps of the
// same .deb share it, so each one's unique bytes are less than its disk
// bytes, and removing one makes the other's all unique.
func TestAppsDirFlagAndConfig(t *testing.T) {
	testfixture.AppCommands(t)
	root := t.TempDir()
	deb := buildLib(t, "1.0")
	g := func(args ...string) (int, string, string) {
		t.Helper()
		return greyAt(t, testfixture.Clock, append([]string{"--root", root}, args...)...)
	}
	for _, n := range []string{"x", "y"} {
		if code, out, errOut := g("app", "install", "--apps-dir", "/srv/apps", n, deb); code != 0 {
			t.Fatalf("app install --apps-dir: %d %q %s", code, out, errOut)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "srv/apps/x/current")); err != nil {
		t.Errorf("no app under --apps-dir: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "var/lib/grey/apps")); !os.IsNotExist(err) {
		t.Errorf("the default apps directory was made: %v", err)
	}
	if code, out, _ := g("app", "list"); code != 0 || strings.Contains(out, "x ") {
		t.Errorf("app list without the flag: %d %q", code, out)
	}
	if err := os.MkdirAll(filepath.Join(root, "etc/grey"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/grey/grey.conf"), []byte("Grey::Apps-Dir \"/srv/apps\";\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sizes := func() map[string][3]int64 {
		t.Helper()
		code, out, errOut := g("--json", "app", "list")
		var l []struct {
			Name string
			Size struct {
				Apparent int64 `json:"apparent_bytes"`
				Disk     int64 `json:"disk_bytes"`
				Unique   int64 `json:"unique_bytes"`
			}
		}
		if err := json.Unmarshal([]byte(out), &l); code != 0 || err != nil {
			t.Fatalf("app list --json with Grey::Apps-Dir: %d %v %s %s", code, err, out, errOut)
		}
		m := map[string][3]int64{}
		for _, e := range l {
			m[e.Name] = [3]int64{e.Size.Apparent, e.Size.Disk, e.Size.Unique}
		}
		return m
	}
	s := sizes()
	if len(s) != 2 || s["x"][0] == 0 || s["x"][2] >= s["x"][1] {
		t.Errorf("sizes of two apps sharing a package (apparent, disk, unique): %v", s)
	}
	if code, out, _ := g("app", "list"); code != 0 || !strings.Contains(out, "UNIQUE") || !strings.Contains(out, "\nx ") {
		t.Errorf("app list: %d\n%s", code, out)
	}
	// gc without a name goes through every app.
	if code, out, errOut := g("app", "gc"); code != 0 || out != "x: deleted 0 generations\ny: deleted 0 generations\n" {
		t.Errorf("app gc of every app: %d %q %s", code, out, errOut)
	}
	if code, _, errOut := g("app", "remove", "y"); code != 0 {
		t.Fatalf("remove: %d %s", code, errOut)
	}
	if s := sizes(); s["x"][2] != s["x"][1] {
		t.Errorf("after removing y, x's unique %d != disk %d", s["x"][2], s["x"][1])
	}
}

// TestAppInstallSpec: an app from an image spec (the fixture's sources,
// hello, extra files, a group and a user): the lock is written beside the
// spec, --locked installs exactly it (and a second app from it comes from
// the store), a changed spec is refused with --locked and taken by an
// upgrade, which re-resolves it. The spec's files, users and groups are
// in the app root as grey image build writes them (byte for byte; a
// file outside /etc and /var is a store object, so without write bits),
// and a change of them alone makes a new generation.
func TestAppInstallSpec(t *testing.T) {
	testfixture.AppCommands(t)
	t.Parallel()
	fx := testfixture.Bookworm(t)
	root := t.TempDir()
	dir := t.TempDir()
	spec := filepath.Join(dir, "app.yaml")
	if err := os.WriteFile(filepath.Join(dir, "tool.sh"), []byte("#!/bin/sh\necho tool\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	motd := "hello from the spec\n"
	write := func(pkgs string) {
		t.Helper()
		if err := os.WriteFile(spec, []byte(fmt.Sprintf(
			"sources:\n  - \"deb [signed-by=%s/debian-archive-keyring.gpg] file://%s/debian bookworm main\"\npackages: [%s]\n"+
				"files:\n  - {path: /etc/motd, content: %q, mode: \"0640\", gid: 1000}\n  - {path: /usr/local/bin/tool, source: tool.sh, mode: \"0755\"}\n"+
				"groups:\n  - {name: app, gid: 1000, members: [app]}\nusers:\n  - {name: app, uid: 1000, gid: 1000, home: /home/app, shell: /bin/sh, gecos: \"\"}\n",
			fx, fx, pkgs, motd)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("hello")
	g := func(args ...string) (int, string, string) {
		t.Helper()
		return greyAt(t, testfixture.Clock, append([]string{"--root", root}, args...)...)
	}
	if code, _, _ := g("app", "install", "--locked", "--spec", spec, "x"); code != 2 {
		t.Errorf("--locked without a lock: %d, want 2", code)
	}
	if code, out, errOut := g("app", "install", "--spec", spec, "x"); code != 0 || !strings.Contains(out, "x: generation 1") {
		t.Fatalf("app install --spec: %d %q %s", code, out, errOut)
	}
	lock := filepath.Join(dir, "app.lock")
	if _, err := os.Stat(lock); err != nil {
		t.Fatalf("no lock: %v", err)
	}
	if code, out, errOut := g("app", "install", "--locked", "--spec", spec, "y"); code != 0 || !strings.Contains(out, "taken from the store") {
		t.Fatalf("app install --locked: %d %q %s", code, out, errOut)
	}
	for _, n := range []string{"x", "y"} {
		if _, err := os.Stat(filepath.Join(root, "var/lib/grey/apps", n, "current/usr/bin/hello")); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	// The spec's extras, as grey image build writes them.
	img := filepath.Join(t.TempDir(), "img")
	if code, _, errOut := g("image", "build", "--locked", "--state-dir", t.TempDir(), spec, "-o", img); code != 0 {
		t.Fatalf("image build: %d %s", code, errOut)
	}
	xRoot := filepath.Join(root, "var/lib/grey/apps/x/current")
	for _, f := range []struct {
		path string
		mode os.FileMode
		gid  uint32
	}{{"etc/motd", 0o640, 1000}, {"etc/passwd", 0o644, 0}, {"etc/group", 0o644, 0}, {"usr/local/bin/tool", 0o555, 0}} {
		want, err := os.ReadFile(filepath.Join(img, f.path))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(xRoot, f.path))
		if err != nil || string(got) != string(want) {
			t.Errorf("app root's %s: %q %v, image's %q", f.path, got, err, want)
			continue
		}
		fi, _ := os.Stat(filepath.Join(xRoot, f.path))
		if fi.Mode().Perm() != f.mode || fi.Sys().(*syscall.Stat_t).Gid != f.gid {
			t.Errorf("app root's %s: mode %v gid %d, want %v %d", f.path, fi.Mode(), fi.Sys().(*syscall.Stat_t).Gid, f.mode, f.gid)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(xRoot, "etc/passwd")); !strings.Contains(string(b), "app:x:1000:1000::/home/app:/bin/sh\n") {
		t.Errorf("etc/passwd: %q", b)
	}
	// Only the extras changed: upgrade makes a generation with them.
	motd = "changed\n"
	write("hello")
	if code, out, errOut := g("app", "upgrade", "x"); code != 0 || !strings.Contains(out, "x: generation 2") {
		t.Fatalf("app upgrade after the spec's files changed: %d %q %s", code, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(xRoot, "etc/motd")); string(b) != motd {
		t.Errorf("etc/motd after upgrade: %q", b)
	}
	if code, out, _ := g("app", "upgrade", "x"); code != 0 || out != "x: up to date\n" {
		t.Errorf("upgrade of an unchanged spec: %d %q", code, out)
	}
	if code, _, _ := g("app", "install", "--spec", spec, "z", "hello"); code != 2 {
		t.Errorf("--spec with packages: %d, want 2", code)
	}
	write("hello, busybox")
	if code, _, errOut := g("app", "install", "--locked", "--spec", spec, "z"); code != 2 || !strings.Contains(errOut, "app.lock") {
		t.Errorf("--locked with a stale lock: %d %s", code, errOut)
	}
	if code, out, errOut := g("app", "upgrade", "x"); code != 0 || !strings.Contains(out, "x: generation 3") {
		t.Fatalf("app upgrade of a spec app: %d %q %s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/grey/apps/x/current/bin/busybox")); err != nil {
		t.Errorf("upgrade did not take the changed spec: %v", err)
	}
	if code, out, _ := g("app", "upgrade", "x"); code != 0 || out != "x: up to date\n" {
		t.Errorf("second upgrade: %d %q", code, out)
	}
}

// TestAppExport: an app's current generation as a tar file (every file
// of the root, links to the store written as files) and an OCI layout.
func TestAppExport(t *testing.T) {
	testfixture.AppCommands(t)
	t.Parallel()
	root := t.TempDir()
	g := func(args ...string) (int, string, string) {
		t.Helper()
		return greyAt(t, testfixture.Clock, append([]string{"--root", root}, args...)...)
	}
	if code, out, errOut := g("app", "install", "x", buildLib(t, "1.0")); code != 0 {
		t.Fatalf("app install: %d %q %s", code, out, errOut)
	}
	dir := t.TempDir()
	tarPath := filepath.Join(dir, "x.tar")
	if code, out, errOut := g("app", "export", "x", "-o", tarPath); code != 0 || !strings.Contains(out, "generation 1") {
		t.Fatalf("app export: %d %q %s", code, out, errOut)
	}
	b, err := exec.Command(testfixture.Tool(t, "tar", "tar"), "-tvf", tarPath).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "usr/lib/libgreet/libgreet.so.1") || !strings.Contains(string(b), "var/lib/dpkg/status") {
		t.Errorf("tar -tvf: %v\n%s", err, b)
	}
	if code, _, errOut := g("app", "export", "x", "-o", "oci:"+filepath.Join(dir, "oci")); code != 0 {
		t.Fatalf("app export oci: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "oci", "index.json")); err != nil {
		t.Errorf("no OCI index: %v", err)
	}
	if code, _, _ := g("app", "export", "x", "-o", filepath.Join(dir, "plain")); code != 2 {
		t.Errorf("export to a directory: %d, want 2", code)
	}
	if code, _, _ := g("app", "export", "nope", "-o", tarPath); code != 100 {
		t.Errorf("export of a missing app: %d, want 100", code)
	}
}
