package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
)

// greydemoScript is greydemo's program: it prints the version its
// library package installed. busybox (from the bookworm fixture) is
// its shell.
const greydemoScript = "#!/bin/busybox sh\nread v < /usr/lib/greydemo/VERSION\necho \"greydemo with libgreydemo1 $v\"\n"

// buildTree builds, with "grey build", the package whose tree is files
// (path -> content; a path under usr/bin is executable) and whose
// control file is control, into dir/NAME_VERSION_all.deb.
func buildTree(t *testing.T, dir, name, version, control string, files map[string]string) string {
	t.Helper()
	tree := filepath.Join(dir, name+"-"+version)
	files["DEBIAN/control"] = "Package: " + name + "\nVersion: " + version + "\nArchitecture: all\nMaintainer: T <t@example.org>\n" + control
	testfixture.WriteFiles(t, tree, files)
	for p := range files {
		if strings.HasPrefix(p, "usr/bin/") {
			must(t, os.Chmod(filepath.Join(tree, p), 0o755))
		}
	}
	out := filepath.Join(dir, name+"_"+version+"_all.deb")
	if code, _, errOut := greyAt(t, testfixture.Clock, "build", tree, "-o", out); code != 0 {
		t.Fatalf("build %s %s: %d %s", name, version, code, errOut)
	}
	return out
}

// hostState lists the host root byte for byte (testfixture.TreeListing)
// without what an app command writes there by design (docs/apps.md):
// the apps directory and the archive cache its downloads go into.
func hostState(t *testing.T, root string) string {
	t.Helper()
	var keep []string
	for _, l := range strings.Split(testfixture.TreeListing(t, root), "\n") {
		rel, _, _ := strings.Cut(l, " ")
		if rel == "var/lib/grey/apps" || strings.HasPrefix(rel, "var/lib/grey/apps/") ||
			rel == "var/cache/grey/archives" || strings.HasPrefix(rel, "var/cache/grey/archives/") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// storeObjectOf returns the path of the store object that file is a
// hard link to ("" if none).
func storeObjectOf(t *testing.T, apps, file string) string {
	t.Helper()
	want, err := os.Stat(file)
	must(t, err)
	found := ""
	err = filepath.WalkDir(filepath.Join(apps, ".store/objects"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if fi, err := os.Lstat(p); err == nil && os.SameFile(fi, want) {
			found = p
		}
		return nil
	})
	must(t, err)
	return found
}

// TestAppUpgradeFromRepository is an app upgrade as a user meets it: a
// newer version of a library appears in a source's index. A repository
// made with "grey repo publish" (signed by a key from "grey key
// generate", read through file://, beside the bookworm fixture's
// suites) first holds libgreydemo1 1.0 and greydemo, a program that
// prints the library's version; apps demo and other are installed from
// it, and app legacy with libgreydemo1=1.0. Then libgreydemo1 2.0 is
// published into the same repository (1.0 leaves it) and "grey update"
// run: "app upgrade demo" makes demo's generation 2, which prints 2.0,
// while other stays at 1.0 until "app upgrade --all" upgrades it; that
// --all fails for legacy (exit 100, naming it; with --json one array
// holding its error), goes on to other, and leaves legacy at 1.0. Once
// legacy is removed a second --all changes nothing. Rollback prints 1.0
// again and touches no file of any generation; gc deletes the old
// generations and, once no generation links it, library 1.0's store
// object and the store's manifest of its .deb. The host root is byte
// for byte as before, outside the apps directory and the archive cache.
func TestAppUpgradeFromRepository(t *testing.T) {
	testfixture.AppCommands(t)
	fx := testfixture.Bookworm(t)
	testfixture.Tool(t, "bwrap", "bubblewrap")
	t.Parallel()
	dir, root := t.TempDir(), t.TempDir()
	apps := filepath.Join(root, "var/lib/grey/apps")
	repoDir := filepath.Join(dir, "repo")
	key := newTestKey(t, dir, "greydemo", testfixture.Clock.Add(-3*time.Hour))
	lib := func(v string) string {
		return buildTree(t, dir, "libgreydemo1", v, "Description: demo library\n",
			map[string]string{"usr/lib/greydemo/VERSION": v + "\n"})
	}
	prog := buildTree(t, dir, "greydemo", "1.0", "Depends: libgreydemo1 (>= 1.0), busybox\nDescription: demo program\n",
		map[string]string{"usr/bin/greydemo": greydemoScript})

	args := append([]string{"--root", root}, fixtureSourceArgs(fx)...)
	args = append(args, "--source", key.source(repoDir))
	g := func(a ...string) (int, string, string) {
		t.Helper()
		return greyAt(t, testfixture.Clock, append(args[:len(args):len(args)], a...)...)
	}
	update := func() {
		t.Helper()
		if code, _, errOut := g("update"); code != 0 {
			t.Fatalf("update: %d %s", code, errOut)
		}
	}
	run := func(app, want string) {
		t.Helper()
		if code, out, errOut := g("app", "run", app); code != 0 || out != "greydemo with libgreydemo1 "+want+"\n" {
			t.Errorf("app run %s: %d %q %s, want library %s", app, code, out, errOut, want)
		}
	}
	current := func(app string, want int) {
		t.Helper()
		if l, err := os.Readlink(filepath.Join(apps, app, "current")); err != nil || l != fmt.Sprintf("gen/%d", want) {
			t.Errorf("%s/current -> %q %v, want gen/%d", app, l, err, want)
		}
	}
	mustRun := func(want string, a ...string) {
		t.Helper()
		if code, out, errOut := g(a...); code != 0 || !strings.Contains(out, want) {
			t.Fatalf("%v: %d %q %s, want %q", a, code, out, errOut, want)
		}
	}

	// Version 1.0, two apps.
	lib1, lib2 := lib("1.0"), lib("2.0")
	key.publish(testfixture.Clock.Add(-2*time.Hour), repoDir, lib1, prog)
	update()
	host := hostState(t, root)
	mustRun("demo: generation 1 ", "app", "install", "--command", "greydemo", "demo", "greydemo")
	mustRun("other: generation 1 ", "app", "install", "--command", "greydemo", "other", "greydemo")
	mustRun("legacy: generation 1 ", "app", "install", "--command", "greydemo", "legacy", "greydemo", "libgreydemo1=1.0")
	run("demo", "1.0")
	run("other", "1.0")
	run("legacy", "1.0")
	v1 := filepath.Join(apps, "demo/gen/1/usr/lib/greydemo/VERSION")
	if !sameInode(t, v1, filepath.Join(apps, "other/gen/1/usr/lib/greydemo/VERSION")) {
		t.Error("library 1.0 is not one store object in both apps")
	}
	// The store's manifest of a .deb (what it installed: the warm
	// store's record) is named by the .deb's SHA-256.
	manifest := func(deb string) string {
		b, err := os.ReadFile(deb)
		must(t, err)
		return filepath.Join(apps, ".store/manifests", fmt.Sprintf("%x.json", sha256.Sum256(b)))
	}
	if _, err := os.Stat(manifest(lib1)); err != nil {
		t.Errorf("no store manifest of libgreydemo1 1.0: %v", err)
	}
	obj1 := storeObjectOf(t, apps, v1)
	if obj1 == "" {
		t.Fatal("library 1.0 is not linked to a store object")
	}
	if d := testfixture.DiffListings(host, hostState(t, root)); d != "" {
		t.Errorf("app install and run changed the host root:\n%s", d)
	}

	// Version 2.0 of the library into the same repository.
	key.publish(testfixture.Clock.Add(-time.Hour), repoDir, lib2, prog)
	update()
	host = hostState(t, root)
	run("demo", "1.0") // an update alone changes no app
	mustRun("demo: generation 2 ", "app", "upgrade", "demo")
	current("demo", 2)
	run("demo", "2.0")
	// The other app stays at 1.0 until it is upgraded itself.
	current("other", 1)
	run("other", "1.0")
	if code, out, _ := g("app", "history", "demo"); code != 0 || !strings.Contains(out, "\n1   ") || !strings.Contains(out, "\n2*  ") {
		t.Errorf("history demo: %d\n%s", code, out)
	}
	// --all: legacy's request cannot be had any more (exit 100, named);
	// the apps after it are upgraded all the same. With --json, one
	// array with an object for each app.
	code, out, errOut := g("--json", "app", "upgrade", "--all")
	if code != 100 || !strings.Contains(errOut, "grey: app legacy: ") || !strings.Contains(errOut, "libgreydemo1 has no version 1.0") {
		t.Errorf("upgrade --all: %d %s", code, errOut)
	}
	var all []struct {
		Name       string
		UpToDate   bool `json:"up_to_date"`
		Generation int
		Error      string
	}
	if err := json.Unmarshal([]byte(out), &all); err != nil || len(all) != 3 ||
		all[0].Name != "demo" || !all[0].UpToDate ||
		all[1].Name != "legacy" || !strings.Contains(all[1].Error, "no version 1.0") ||
		all[2].Name != "other" || all[2].Generation != 2 {
		t.Errorf("upgrade --all --json: %v %+v\n%s", err, all, out)
	}
	current("other", 2)
	run("other", "2.0")
	if !sameInode(t, filepath.Join(apps, "demo/gen/2/usr/lib/greydemo/VERSION"), filepath.Join(apps, "other/gen/2/usr/lib/greydemo/VERSION")) {
		t.Error("library 2.0 is not one store object in both apps")
	}
	// Each generation is a grey root with its own database.
	for gen, want := range map[string]string{"demo/gen/1": "libgreydemo1 1.0 all", "demo/gen/2": "libgreydemo1 2.0 all"} {
		if code, out, errOut := greyAt(t, testfixture.Clock, "--root", filepath.Join(apps, gen), "installed"); code != 0 || !strings.Contains(out, want) {
			t.Errorf("grey --root %s installed: %d %q %s, want %q", gen, code, out, errOut, want)
		}
	}
	current("legacy", 1)
	run("legacy", "1.0")
	if code, _, errOut := g("app", "upgrade", "legacy"); code != 100 || !strings.HasPrefix(errOut, "grey: app legacy: ") {
		t.Errorf("upgrade legacy: %d %s", code, errOut)
	}
	mustRun("legacy: removed", "app", "remove", "legacy")
	// Now nothing is newer: --all is a no-op.
	before := testfixture.TreeListing(t, apps)
	if code, out, errOut := g("app", "upgrade", "--all"); code != 0 || out != "demo: up to date\nother: up to date\n" {
		t.Errorf("upgrade --all again: %d %q %s", code, out, errOut)
	}
	if d := testfixture.DiffListings(before, testfixture.TreeListing(t, apps)); d != "" {
		t.Errorf("an upgrade with nothing new changed the apps directory:\n%s", d)
	}

	// Rollback: the link changes, no file of either generation does.
	gens := testfixture.InodeListing(t, filepath.Join(apps, "demo/gen"), true)
	mustRun("demo: generation 1 is current", "app", "rollback", "demo")
	if d := testfixture.DiffListings(gens, testfixture.InodeListing(t, filepath.Join(apps, "demo/gen"), true)); d != "" {
		t.Errorf("rollback touched demo's generations:\n%s", d)
	}
	current("demo", 1)
	run("demo", "1.0")
	run("other", "2.0")
	// gc never deletes the current generation, even an older one.
	mustRun("demo: deleted 0 generations", "app", "gc", "--keep", "1", "demo")
	mustRun("demo: generation 2 is current", "app", "rollback", "demo", "2")

	// gc of demo deletes its generation 1; library 1.0 stays while
	// other's generation 1 links it, and goes with that.
	v2 := filepath.Join(apps, "demo/gen/2/usr/lib/greydemo/VERSION")
	shell := storeObjectOf(t, apps, filepath.Join(apps, "demo/gen/2/bin/busybox"))
	mustRun("demo: deleted 1 generations", "app", "gc", "--keep", "1", "demo")
	if _, err := os.Lstat(filepath.Join(apps, "demo/gen/1")); !os.IsNotExist(err) {
		t.Errorf("demo/gen/1 after gc: %v", err)
	}
	if _, err := os.Stat(obj1); err != nil {
		t.Errorf("library 1.0's object went while other's generation 1 links it: %v", err)
	}
	mustRun("demo: deleted 0 generations\nother: deleted 1 generations\n", "app", "gc", "--keep", "1")
	if _, err := os.Lstat(obj1); !os.IsNotExist(err) {
		t.Errorf("library 1.0's object %s after gc: %v", obj1, err)
	}
	if _, err := os.Lstat(manifest(lib1)); !os.IsNotExist(err) {
		t.Errorf("libgreydemo1 1.0's manifest after gc: %v", err)
	}
	if _, err := os.Stat(manifest(lib2)); err != nil {
		t.Errorf("libgreydemo1 2.0's manifest after gc: %v", err)
	}
	if shell == "" || storeObjectOf(t, apps, v2) == "" {
		t.Errorf("busybox (%q) or library 2.0 not in the store", shell)
	} else if _, err := os.Stat(shell); err != nil {
		t.Errorf("busybox's object after gc: %v", err)
	}
	err := filepath.WalkDir(filepath.Join(apps, ".store/objects"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil || st.Nlink < 2 {
			t.Errorf("store object %s unreferenced after gc: %v", p, err)
		}
		return nil
	})
	must(t, err)
	if code, out, _ := g("app", "history", "demo"); code != 0 || strings.Contains(out, "\n1") || !strings.Contains(out, "\n2*") {
		t.Errorf("history after gc: %d\n%s", code, out)
	}
	run("demo", "2.0")
	run("other", "2.0")
	if d := testfixture.DiffListings(host, hostState(t, root)); d != "" {
		t.Errorf("app upgrade, rollback and gc changed the host root:\n%s", d)
	}
}
