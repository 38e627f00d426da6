package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
)

// installTreeHash hashes a root's paths, modes, contents and link targets
// (not times).
func installTreeHash(t *testing.T, root string, skip ...string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		for _, s := range skip {
			if rel == s {
				return filepath.SkipDir
			}
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%v\x00", rel, fi.Mode())
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			h.Write([]byte(l))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestInstallCommandFixture runs the install acceptance on the real
// fixture through the CLI: update, install the closure with scripts,
// check it with dpkg and by running hello, then a conffile edit, removals
// and a corrupted download.
func TestFullInstallCommandFixture(t *testing.T) {
	t.Parallel()
	// The same acceptance runs under -race at the library level
	// (transaction.TestInstallFixtureScripts); this one needs the full
	// bookworm index, so it runs in make test's non-race pass.
	testfixture.WholeIndex(t)
	testfixture.Root(t)
	dpkg := testfixture.Tool(t, "dpkg", "dpkg")
	fx := testfixture.Bookworm(t)
	root := t.TempDir()
	// base-passwd, Essential but outside the fixture's closure, would
	// provide these; base-files' postinst chowns to root:utmp.
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nmail:x:8:\nutmp:x:43:\nstaff:x:50:\n"), 0o644))
	g := fixtureGrey(t, root)
	src := fixtureSourceArgs(fx)
	// The fixture is the --no-install-recommends closure (libc6 recommends
	// libidn2-0, which the fixture does not carry).
	code, out, errOut := g("-y", "install", "--no-install-recommends", "hello", "busybox", "dash", "grep", "sed", "netbase", "base-files", "zlib1g")
	if code != 0 {
		t.Fatalf("install: %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "22 to install, 0 to upgrade") || !strings.Contains(out, "install  hello") {
		t.Errorf("plan table:\n%s", out)
	}
	if b, err := exec.Command("chroot", root, "/usr/bin/hello").CombinedOutput(); err != nil || string(b) != "Hello, world!\n" {
		t.Errorf("chroot hello: %q %v", b, err)
	}
	list, _ := exec.Command(dpkg, "--root="+root, "-l").CombinedOutput()
	if n := strings.Count(string(list), "\nii  "); n != 22 {
		t.Errorf("dpkg -l: %d ii\n%s", n, list)
	}
	if b, err := exec.Command(dpkg, "--root="+root, "--verify").CombinedOutput(); err != nil || len(b) != 0 {
		t.Errorf("dpkg --verify: %v %s", err, b)
	}
	if code, out, errOut := g("verify"); code != 0 || out != "" {
		t.Errorf("grey verify: %d %q %s", code, out, errOut)
	}
	if code, out, _ := g("owns", "/usr/bin/hello"); code != 0 || out != "hello: /usr/bin/hello\n" {
		t.Errorf("owns: %d %q", code, out)
	}
	if code, out, _ := g("files", "hello"); code != 0 || !strings.Contains(out, "/usr/bin/hello\n") {
		t.Errorf("files: %d %q", code, out)
	}
	if code, out, _ := g("installed"); code != 0 || !strings.Contains(out, "libc6 2.36-9+deb12u14 amd64 [installed,automatic]\n") || !strings.Contains(out, "hello 2.10-3 amd64 [installed]\n") {
		t.Errorf("installed: %d\n%s", code, out)
	}

	// A reinstall keeps an edited conffile and says so.
	protocols := filepath.Join(root, "etc/protocols")
	must(t, os.WriteFile(protocols, []byte("# mine\n"), 0o644))
	code, out, errOut = g("-y", "install", "--reinstall", "netbase")
	if code != 0 || !strings.Contains(out, "Kept your changed /etc/protocols") {
		t.Errorf("reinstall netbase: %d\n%s\n%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(protocols); string(b) != "# mine\n" {
		t.Errorf("edit lost: %q", b)
	}
	if _, err := os.Stat(protocols + ".dpkg-new"); err != nil {
		t.Error(err)
	}
	code, out, _ = g("verify")
	if code != 0 || !strings.Contains(out, "netbase: /etc/protocols: modified conffile") {
		t.Errorf("verify after the edit: %d %q", code, out)
	}
	code, out, _ = g("--json", "verify")
	var probs []map[string]string
	if err := json.Unmarshal([]byte(out), &probs); code != 0 || err != nil || len(probs) != 1 || probs[0]["kind"] != "modified conffile" {
		t.Errorf("verify --json: %d %s %v", code, out, err)
	}

	// mark auto makes netbase (which nothing needs) a candidate for
	// autoremove; --dry-run --json shows the plan and changes nothing.
	if code, out, _ := g("mark", "auto", "netbase"); code != 0 || out != "netbase set to auto\n" {
		t.Errorf("mark: %d %q", code, out)
	}
	code, out, _ = g("--dry-run", "--json", "autoremove")
	var dry struct {
		Plan struct {
			Remove []struct{ Name string } `json:"remove"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &dry); code != 0 || err != nil || len(dry.Plan.Remove) != 1 || dry.Plan.Remove[0].Name != "netbase" {
		t.Errorf("autoremove --dry-run --json: %d %v\n%s", code, err, out)
	}
	// remove of a name nobody has is apt's "Unable to locate package"
	// (exit 100, it was "Nothing to do." and 0); of a known package that
	// is not installed, apt's note and success; nothing changes either way.
	if code, out, errOut := g("-y", "remove", "helo"); code != 100 || !strings.Contains(errOut, "Unable to locate package helo") {
		t.Errorf("remove helo: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := g("-y", "remove", "nginx"); code != 0 || !strings.Contains(out, "Package 'nginx' is not installed, so not removed") {
		t.Errorf("remove nginx: %d %q %q", code, out, errOut)
	}
	// apt-get's spellings of --dry-run, before and after the command.
	for _, args := range [][]string{{"-s", "--json", "autoremove"}, {"--json", "autoremove", "--simulate"}} {
		code, out2, _ := g(args...)
		if code != 0 || out2 != out {
			t.Errorf("%q: %d\n%s\nwant the --dry-run output:\n%s", args, code, out2, out)
		}
	}
	if code, _, _ := g("mark", "manual", "netbase"); code != 0 {
		t.Errorf("mark manual: %d", code)
	}

	// Essential packages stay unless forced; nothing changes.
	before := installTreeHash(t, root)
	if code, _, errOut := g("-y", "remove", "dash"); code == 0 || !strings.Contains(errOut, "Essential") {
		t.Errorf("remove dash: %d %s", code, errOut)
	}
	if installTreeHash(t, root) != before {
		t.Error("refused removal changed the root")
	}
	// Answering no changes nothing either.
	var outb strings.Builder
	code = run(t.Context(), append(append([]string{"--root", root}, src...), "remove", "hello"), strings.NewReader("n\n"), &outb, io.Discard, func() time.Time { return testfixture.Clock })
	if code != exitAborted || installTreeHash(t, root) != before {
		t.Errorf("answer no: %d\n%s", code, outb.String())
	}

	// remove hello, then autoremove: nothing of hello stays; shared
	// directories do.
	if code, out, errOut := g("-y", "remove", "hello"); code != 0 {
		t.Fatalf("remove hello: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := g("-y", "autoremove"); code != 0 {
		t.Fatalf("autoremove: %d %s", code, errOut)
	}
	for _, p := range []string{"usr/bin/hello", "usr/share/doc/hello", "usr/share/man/man1/hello.1.gz", "var/lib/dpkg/info/hello.list"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s survived", p)
		}
	}
	for _, p := range []string{"usr/bin", "usr/share/doc", "usr/share/man/man1"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("shared directory: %v", err)
		}
	}

	// A mirror whose hello .deb does not match its signed index: the
	// download fails and the root is unchanged.
	mirror := t.TempDir()
	must(t, os.Symlink(filepath.Join(fx, "debian", "dists"), filepath.Join(mirror, "dists")))
	helloDeb := "pool/main/h/hello/hello_2.10-3_amd64.deb"
	must(t, os.MkdirAll(filepath.Join(mirror, filepath.Dir(helloDeb)), 0o755))
	good, err := os.ReadFile(filepath.Join(fx, "debian", helloDeb))
	must(t, err)
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 0xff
	must(t, os.WriteFile(filepath.Join(mirror, helloDeb), bad, 0o644))
	badSrc := []string{"--source", fmt.Sprintf("deb [signed-by=%s/debian-archive-keyring.gpg] file://%s bookworm main", fx, mirror)}
	if code, _, errOut := greyAt(t, testfixture.Clock, append(append([]string{"--root", root}, badSrc...), "update")...); code != 0 {
		t.Fatalf("update bad mirror: %s", errOut)
	}
	must(t, os.RemoveAll(filepath.Join(root, "var/cache/grey/archives")))
	// Caches may change (the new source's index cache is built, a
	// partial download may be kept for resuming); the system may not.
	before = installTreeHash(t, root, "var/cache/grey")
	code, _, errOut = greyAt(t, testfixture.Clock, append(append([]string{"--root", root}, badSrc...), "-y", "install", "--no-install-recommends", "hello")...)
	if code == 0 || !strings.Contains(errOut, "download failed") {
		t.Errorf("install from a bad mirror: %d %s", code, errOut)
	}
	if installTreeHash(t, root, "var/cache/grey") != before {
		t.Error("failed download changed the root")
	}
}

// TestUpgradeCommandPublished upgrades a package from a repository grey
// published itself: install 1.0, republish with 2.0, update, then
// "installed --upgradable", "upgrade" and "full-upgrade".
func TestUpgradeCommandPublished(t *testing.T) {
	dir := t.TempDir()
	now := testfixture.Clock
	key := newTestKey(t, dir, "upgrade test", now)
	v1 := buildDeb(t, dir, "tp", "1.0", map[string]string{"usr/share/tp/keep": "1\n", "usr/share/tp/gone": "g\n"})
	v2 := buildDeb(t, dir, "tp", "2.0", map[string]string{"usr/share/tp/keep": "2\n", "usr/share/tp/new": "n\n"})
	repoDir := filepath.Join(dir, "repo")
	root := filepath.Join(dir, "root")
	must(t, os.Mkdir(root, 0o755))
	g := func(at time.Time, args ...string) (int, string, string) {
		t.Helper()
		return greyAt(t, at, append([]string{"--root", root, "--source", key.source(repoDir)}, args...)...)
	}
	key.publish(now, repoDir, v1)
	if code, _, errOut := g(now.Add(time.Hour), "update"); code != 0 {
		t.Fatalf("update: %s", errOut)
	}
	if code, out, errOut := g(now.Add(time.Hour), "-y", "install", "--no-scripts", "tp"); code != 0 || !strings.Contains(out, "Installed tp 1.0") {
		t.Fatalf("install: %d %s %s", code, out, errOut)
	}
	key.publish(now.Add(2*time.Hour), repoDir, v2)
	if code, _, errOut := g(now.Add(3*time.Hour), "update"); code != 0 {
		t.Fatalf("update: %s", errOut)
	}
	if code, out, _ := g(now.Add(3*time.Hour), "installed", "--upgradable"); code != 0 || out != "tp 2.0 all [upgradable from: 1.0]\n" {
		t.Errorf("installed --upgradable: %d %q", code, out)
	}
	if code, out, _ := g(now.Add(3*time.Hour), "list", "--upgradable"); code != 0 || out != "tp/stable 2.0 all [upgradable from: 1.0]\n" {
		t.Errorf("list --upgradable: %d %q", code, out)
	}
	if code, out, _ := g(now.Add(3*time.Hour), "list", "--installed"); code != 0 || out != "tp/now 1.0 all [installed,upgradable to: 2.0]\n" {
		t.Errorf("list --installed: %d %q", code, out)
	}
	if code, _, _ := g(now.Add(3*time.Hour), "list", "--installed", "--upgradable"); code != 2 {
		t.Errorf("list --installed --upgradable: exit %d, want 2", code)
	}
	code, out, errOut := g(now.Add(3*time.Hour), "-y", "upgrade", "--no-scripts")
	if code != 0 || !strings.Contains(out, "upgrade  tp") || !strings.Contains(out, "Upgraded tp 1.0 -> 2.0") {
		t.Fatalf("upgrade: %d\n%s\n%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "usr/share/tp/keep")); string(b) != "2\n" {
		t.Errorf("keep = %q", b)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/share/tp/gone")); err == nil {
		t.Error("a file 2.0 dropped survived the upgrade")
	}
	if code, out, _ := g(now.Add(3*time.Hour), "verify"); code != 0 || out != "" {
		t.Errorf("verify: %d %q", code, out)
	}
	if code, out, _ := g(now.Add(3*time.Hour), "-y", "full-upgrade"); code != 0 || !strings.Contains(out, "Nothing to do.") {
		t.Errorf("full-upgrade: %d %q", code, out)
	}
}
