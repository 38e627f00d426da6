package apps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/internal/testfixture"
)

// buildDeb builds a package with the given files (path -> content) into
// a temporary directory and returns its path.
func buildDeb(t *testing.T, name, version string, files map[string]string) string {
	t.Helper()
	return buildDebWith(t, name, version, "", files)
}

// buildDebWith is buildDeb with extra control fields (lines ending in a
// newline); a content "symlink:TARGET" makes a symbolic link.
func buildDebWith(t *testing.T, name, version, control string, files map[string]string) string {
	t.Helper()
	tree := t.TempDir()
	files["DEBIAN/control"] = fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: t <t@example.org>\n%sDescription: test\n", name, version, control)
	for p, c := range files {
		full := filepath.Join(tree, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(c, "symlink:"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), name+"_"+version+"_all.deb")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := archive.Build(context.Background(), tree, f, archive.BuildOptions{Compression: compress.Gzip}); err != nil {
		t.Fatal(err)
	}
	return out
}

// listing is testfixture.InodeListing without the ctime: a new
// generation linking to a shared object changes the inode's link count,
// hence its ctime.
func listing(t *testing.T, dir string) string {
	t.Helper()
	return testfixture.InodeListing(t, dir, false)
}

var errCrash = errors.New("crash")

// TestInstallCrashAtEveryStep stops a second install at every step
// boundary (as a crash there would): the app stays at generation 1, whose
// files are untouched, and no half-made generation is ever listed; the
// next install completes. Only the rename of "current" changes which
// generation is current.
func TestInstallCrashAtEveryStep(t *testing.T) {
	ctx := context.Background()
	v1 := buildDeb(t, "lib", "1.0", map[string]string{"usr/lib/lib.so": "v1\n", "usr/share/doc/lib/README": "same\n"})
	v2 := buildDeb(t, "lib", "2.0", map[string]string{"usr/lib/lib.so": "v2\n", "usr/share/doc/lib/README": "same\n"})
	a := Open(filepath.Join(t.TempDir(), "apps"))
	opts := func(deb string) InstallOptions { return InstallOptions{Local: []string{deb}, Requested: []string{deb}} }
	if m, err := a.Install(ctx, "app", opts(v1)); err != nil || m.Generation != 1 {
		t.Fatalf("install: %v %+v", err, m)
	}
	g1 := listing(t, a.Root("app", 1))
	steps := []string{"downloaded", "applied", "composed", "meta", "generation", "link"}
	complete := 1 // generations History lists
	for _, step := range steps {
		var seen []string
		a.step = func(s string) error {
			seen = append(seen, s)
			if cur, err := a.Current("app"); err != nil || cur != 1 {
				t.Errorf("%s: before the rename, current is %d %v", s, cur, err)
			}
			if s == step {
				return errCrash
			}
			return nil
		}
		if _, err := a.Install(ctx, "app", opts(v2)); !errors.Is(err, errCrash) {
			t.Fatalf("crash at %s: %v", step, err)
		}
		if seen[len(seen)-1] != step {
			t.Fatalf("steps %v do not reach %s", seen, step)
		}
		if cur, err := a.Current("app"); err != nil || cur != 1 {
			t.Errorf("after a crash at %s current is %d %v", step, cur, err)
		}
		if got := listing(t, a.Root("app", 1)); got != g1 {
			t.Errorf("crash at %s changed generation 1", step)
		}
		if step == "generation" || step == "link" {
			complete++ // the generation is complete, only not current
		}
		h, err := a.History("app")
		if err != nil || len(h) != complete || !h[0].Current {
			t.Errorf("after a crash at %s: history %d entries, %v", step, len(h), err)
		}
		if b, _ := os.ReadFile(filepath.Join(a.Dir, "app/current/usr/lib/lib.so")); string(b) != "v1\n" {
			t.Errorf("after a crash at %s the app sees %q", step, b)
		}
	}
	a.step = nil
	m, err := a.Install(ctx, "app", opts(v2))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(a.Dir, "app/current/usr/lib/lib.so")); string(b) != "v2\n" {
		t.Errorf("after the install the app sees %q (generation %d)", b, m.Generation)
	}
	if ents, _ := filepath.Glob(filepath.Join(a.Dir, "app/gen/.new-*")); len(ents) != 0 {
		t.Errorf("half-made generations left: %v", ents)
	}
	// The shared README is one store object in every generation.
	var inodes = map[uint64]bool{}
	for _, h := range must(a.History("app")) {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(a.Root("app", h.Generation), "usr/share/doc/lib/README"), &st); err != nil {
			t.Fatal(err)
		}
		inodes[st.Ino] = true
	}
	if len(inodes) != 1 {
		t.Errorf("README has %d inodes across generations, want 1", len(inodes))
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestSwitchCrash: a crash after the new link is written but before the
// rename leaves the old generation current; the next switch cleans up.
func TestSwitchCrash(t *testing.T) {
	ctx := context.Background()
	a := Open(filepath.Join(t.TempDir(), "apps"))
	for _, v := range []string{"1.0", "2.0"} {
		deb := buildDeb(t, "lib", v, map[string]string{"usr/lib/lib.so": v})
		if _, err := a.Install(ctx, "app", InstallOptions{Local: []string{deb}}); err != nil {
			t.Fatal(err)
		}
	}
	a.step = func(s string) error { return errCrash }
	if err := a.Switch("app", 1); !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	if cur, _ := a.Current("app"); cur != 2 {
		t.Errorf("current %d after a crash before the rename", cur)
	}
	a.step = nil
	if err := a.Switch("app", 1); err != nil {
		t.Fatal(err)
	}
	if cur, _ := a.Current("app"); cur != 1 {
		t.Errorf("current %d", cur)
	}
	var nf *NotFoundError
	if err := a.Switch("app", 9); !errors.As(err, &nf) {
		t.Errorf("switch to a missing generation: %v", err)
	}
}

func TestNames(t *testing.T) {
	a := Open(t.TempDir())
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"hello", true}, {"a.b+c_d-1", true}, {"", false}, {".store", false}, {"../x", false}, {"a/b", false}, {"-x", false}} {
		_, err := a.Current(tc.name)
		var in *InvalidNameError
		if got := !errors.As(err, &in); got != tc.ok {
			t.Errorf("%q: valid %v, want %v (%v)", tc.name, got, tc.ok, err)
		}
	}
}

func TestCheckUserNS(t *testing.T) {
	for _, tc := range []struct {
		files map[string]string
		bad   bool
	}{
		{map[string]string{"user/max_user_namespaces": "15000\n"}, false},
		{map[string]string{"user/max_user_namespaces": "0\n"}, true},
		{map[string]string{"user/max_user_namespaces": "100\n", "kernel/unprivileged_userns_clone": "0\n"}, true},
		{map[string]string{}, false},
	} {
		dir := t.TempDir()
		for p, c := range tc.files {
			os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
			os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644)
		}
		err := checkUserNS(dir)
		var ne *NoUserNamespacesError
		if errors.As(err, &ne) != tc.bad {
			t.Errorf("%v: %v", tc.files, err)
		}
		if tc.bad && !strings.Contains(err.Error(), "user namespaces are not available") {
			t.Errorf("message %q", err)
		}
	}
}

// TestFailedFirstInstallLeavesNothing: a first install that fails (a
// crash at any step, here injected) leaves no apps directory behind.
func TestFailedFirstInstallLeavesNothing(t *testing.T) {
	ctx := context.Background()
	deb := buildDeb(t, "lib", "1.0", map[string]string{"usr/lib/lib.so": "v1\n"})
	for _, step := range []string{"downloaded", "applied", "composed", "meta", "generation"} {
		base := t.TempDir()
		a := Open(filepath.Join(base, "apps"))
		a.step = func(s string) error {
			if s == step {
				return errCrash
			}
			return nil
		}
		if _, err := a.Install(ctx, "app", InstallOptions{Local: []string{deb}}); !errors.Is(err, errCrash) {
			t.Fatalf("%s: %v", step, err)
		}
		if ents, _ := os.ReadDir(base); len(ents) != 0 {
			t.Errorf("failure at %s left %v", step, ents)
		}
	}
	// A failure of a later install keeps the app.
	a := Open(filepath.Join(t.TempDir(), "apps"))
	if _, err := a.Install(ctx, "app", InstallOptions{Local: []string{deb}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Install(ctx, "app", InstallOptions{Local: []string{"/nonexistent.deb"}}); err == nil {
		t.Fatal("install of a missing .deb succeeded")
	}
	if cur, err := a.Current("app"); err != nil || cur != 1 {
		t.Errorf("after a failed second install: %d %v", cur, err)
	}
}

// TestWarmStoreInstallsWithoutUnpacking: a second app with the same .debs
// takes every package from the store's manifests (a local .deb is only
// hashed, to find its manifest), its shared files are the first app's inodes, its
// private files (/etc) are its own, and its database records the same
// packages and files. Removing both apps empties the store: objects,
// manifests and blobs.
func TestWarmStoreInstallsWithoutUnpacking(t *testing.T) {
	ctx := context.Background()
	lib := buildDeb(t, "lib", "1.0", map[string]string{"usr/lib/lib.so": "lib\n", "etc/lib.conf": "conf\n", "usr/share/doc/lib/README": "doc\n"})
	tool := buildDeb(t, "tool", "2.0", map[string]string{"usr/bin/tool": "tool\n"})
	a := Open(filepath.Join(t.TempDir(), "apps"))
	opts := InstallOptions{Local: []string{lib, tool}}
	m1, err := a.Install(ctx, "one", opts)
	if err != nil || m1.FromStore != 0 {
		t.Fatalf("first: %v %+v", err, m1)
	}
	// The same files under another path: manifests go by content.
	dir := t.TempDir()
	var moved []string
	for _, p := range opts.Local {
		q := filepath.Join(dir, filepath.Base(p))
		if err := os.Rename(p, q); err != nil {
			t.Fatal(err)
		}
		moved = append(moved, q)
	}
	m2, err := a.Install(ctx, "two", InstallOptions{Local: moved})
	if err != nil {
		t.Fatal(err)
	}
	if m2.FromStore != 2 || m2.SharedFiles != m1.SharedFiles {
		t.Errorf("second: %d from the store, %d shared (first %d)", m2.FromStore, m2.SharedFiles, m1.SharedFiles)
	}
	r1, r2 := a.Root("one", 1), a.Root("two", 1)
	for _, p := range []string{"usr/lib/lib.so", "usr/bin/tool", "usr/share/doc/lib/README"} {
		s1, s2 := statPair(t, r1, r2, p)
		if s1.Ino != s2.Ino || s2.Mode&0o222 != 0 {
			t.Errorf("%s: inodes %d %d, mode %o", p, s1.Ino, s2.Ino, s2.Mode)
		}
	}
	var e1, e2 syscall.Stat_t
	syscall.Stat(filepath.Join(r1, "etc/lib.conf"), &e1)
	syscall.Stat(filepath.Join(r2, "etc/lib.conf"), &e2)
	if e1.Ino == e2.Ino || e2.Mode&0o200 == 0 {
		t.Errorf("etc/lib.conf shared or read-only: %d %d %o", e1.Ino, e2.Ino, e2.Mode)
	}
	// A private copy keeps the package's time, as unpacking gives it.
	if e1.Mtim != e2.Mtim {
		t.Errorf("etc/lib.conf's time: %v from the .deb, %v from the store", e1.Mtim, e2.Mtim)
	}
	if b, err := os.ReadFile(filepath.Join(r2, "etc/lib.conf")); err != nil || string(b) != "conf\n" {
		t.Errorf("etc/lib.conf %q %v", b, err)
	}
	st1, err := os.ReadFile(filepath.Join(r1, "var/lib/dpkg/status"))
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := os.ReadFile(filepath.Join(r2, "var/lib/dpkg/status"))
	if string(st1) != string(st2) {
		t.Errorf("dpkg status differs:\n%s\n---\n%s", st1, st2)
	}
	for _, f := range []string{"lib.list", "lib.md5sums", "tool.list", "tool.md5sums"} {
		b1, _ := os.ReadFile(filepath.Join(r1, "var/lib/dpkg/info", f))
		b2, err := os.ReadFile(filepath.Join(r2, "var/lib/dpkg/info", f))
		if err != nil || string(b1) != string(b2) {
			t.Errorf("info %s: %v\n%s---\n%s", f, err, b1, b2)
		}
	}
	for _, n := range []string{"one", "two"} {
		if err := a.Remove(n); err != nil {
			t.Fatal(err)
		}
	}
	var left []string
	filepath.WalkDir(filepath.Join(a.Dir, ".store"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Errorf("store after removing every app: %v", left)
	}
}

// statPair stats the file rel in two roots, to compare their inodes.
func statPair(t *testing.T, r1, r2, rel string) (s1, s2 syscall.Stat_t) {
	t.Helper()
	if err := syscall.Stat(filepath.Join(r1, rel), &s1); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(filepath.Join(r2, rel), &s2); err != nil {
		t.Fatal(err)
	}
	return s1, s2
}

// TestLockAfterRename: a lock waited for while the holder renamed the
// app's directory away (Remove, gc of an app that never completed a
// generation) is taken again on the new directory's lock file, not
// held on the old one.
func TestLockAfterRename(t *testing.T) {
	a := Open(filepath.Join(t.TempDir(), "apps"))
	unlock, err := a.lock("x")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error)
	go func() {
		u, err := a.lock("x")
		if err == nil {
			_, err = os.Stat(filepath.Join(a.Dir, "x", "lock"))
			u()
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond) // let it wait on the old file (passes without too)
	if err := os.Rename(filepath.Join(a.Dir, "x"), filepath.Join(a.Dir, ".removed-x")); err != nil {
		t.Fatal(err)
	}
	unlock()
	if err := <-got; err != nil {
		t.Errorf("the lock after the rename: %v (not taken on x/lock)", err)
	}
}

// TestGCIncompleteApp: gc removes an app directory that a first install
// left without a current generation, but never a directory of the apps
// directory that no install made.
func TestGCIncompleteApp(t *testing.T) {
	a := Open(filepath.Join(t.TempDir(), "apps"))
	for _, d := range []string{"half/gen/.new-1/usr", "other/data"} {
		if err := os.MkdirAll(filepath.Join(a.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	names, err := a.Names()
	if err != nil || strings.Join(names, " ") != "half" {
		t.Errorf("Names: %v %v", names, err)
	}
	if _, err := a.GC("half", 1); err != nil {
		t.Errorf("gc half: %v", err)
	}
	var nf *NotFoundError
	if _, err := a.GC("other", 1); !errors.As(err, &nf) {
		t.Errorf("gc other: %v, want no app", err)
	}
	if ents, _ := os.ReadDir(a.Dir); len(ents) != 1 || ents[0].Name() != "other" {
		t.Errorf("left %v, want only other", ents)
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "other/data")); err != nil {
		t.Error(err)
	}
}
