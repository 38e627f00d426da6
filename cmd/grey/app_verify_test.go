package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
)

// TestAppStoreDamage: root writing into app a's root directly (outside
// "grey app run", which would keep it read-only) writes into the store
// object app b shares. grey detects it: "app run b" refuses the
// generation (size and time differ from its seal), "app verify" lists
// the file in both apps, and also finds a write that kept the size and
// the time (by hashing the object); "app verify --repair" puts the
// package's bytes back from the .deb in the archive cache, into one new
// inode both apps link to, and both run again. A third app composed
// while an object is damaged never links to it.
func TestAppStoreDamage(t *testing.T) {
	testfixture.AppCommands(t)
	t.Parallel()
	testfixture.Root(t) // only root can write into the read-only objects
	fx := testfixture.Bookworm(t)
	testfixture.Tool(t, "bwrap", "bubblewrap")
	root := t.TempDir()
	src := fixtureSourceArgs(fx)
	g := func(args ...string) (int, string, string) {
		t.Helper()
		return greyAt(t, testfixture.Clock, append(append([]string{"--root", root}, src...), args...)...)
	}
	if code, _, errOut := g("update"); code != 0 {
		t.Fatalf("update: %d %s", code, errOut)
	}
	for _, n := range []string{"a", "b"} {
		if code, out, errOut := g("app", "install", "--command", "hello", n, "hello"); code != 0 {
			t.Fatalf("app install %s: %d %q %s", n, code, out, errOut)
		}
	}
	apps := filepath.Join(root, "var/lib/grey/apps")
	aHello, bHello := filepath.Join(apps, "a/gen/1/usr/bin/hello"), filepath.Join(apps, "b/gen/1/usr/bin/hello")
	aDoc, bDoc := filepath.Join(apps, "a/gen/1/usr/share/doc/hello/copyright"), filepath.Join(apps, "b/gen/1/usr/share/doc/hello/copyright")
	if !sameInode(t, aHello, bHello) || !sameInode(t, aDoc, bDoc) {
		t.Fatal("hello's files are not one store object in both apps")
	}
	hello, _ := os.ReadFile(bHello)
	doc, _ := os.ReadFile(bDoc)
	if code, out, errOut := g("app", "verify"); code != 0 || out != "" {
		t.Fatalf("app verify of intact apps: %d %q %s", code, out, errOut)
	}

	// Root appends to a's hello outside bubblewrap: b's changes with it.
	f, err := os.OpenFile(aHello, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("root was here\n")
	f.Close()
	if b, _ := os.ReadFile(bHello); bytes.Equal(b, hello) {
		t.Fatal("the write did not reach b (a test that cannot fail)")
	}
	// And rewrites a byte of a's copyright file, keeping its size and time.
	fi, _ := os.Stat(aDoc)
	damaged := bytes.Clone(doc)
	damaged[0] ^= 1
	if err := os.WriteFile(aDoc, damaged, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(aDoc, time.Time{}, fi.ModTime()); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := g("app", "run", "b")
	if code != 1 || out != "" || !strings.Contains(errOut, "app b generation 1: 1 shared file(s) changed outside grey") || !strings.Contains(errOut, "/usr/bin/hello: size ") || !strings.Contains(errOut, "grey app verify --repair") {
		t.Errorf("app run of a damaged app: %d %q %s", code, out, errOut)
	}
	code, out, errOut = g("--json", "app", "verify")
	var found []struct {
		Name, Path, Problem string
		Repaired            bool
	}
	if err := json.Unmarshal([]byte(out), &found); err != nil || code != 1 || !strings.Contains(errOut, "4 shared file(s) changed outside grey") {
		t.Fatalf("app verify --json: %d %v %q %s", code, err, out, errOut)
	}
	got := map[string]bool{}
	for _, d := range found {
		got[d.Name+" "+d.Path] = true
	}
	for _, w := range []string{"a /usr/bin/hello", "b /usr/bin/hello", "a /usr/share/doc/hello/copyright", "b /usr/share/doc/hello/copyright"} {
		if !got[w] {
			t.Errorf("app verify did not find %s: %s", w, out)
		}
	}
	if code, out, _ := g("app", "verify", "b"); code != 1 || strings.Contains(out, "a 1") || !strings.Contains(out, "b 1 /usr/share/doc/hello/copyright: store object content has SHA-256") {
		t.Errorf("app verify b: %d %q", code, out)
	}

	code, out, errOut = g("app", "verify", "--repair")
	if code != 0 || strings.Count(out, "(repaired)") != 4 {
		t.Fatalf("app verify --repair: %d %q %s", code, out, errOut)
	}
	for p, want := range map[string][]byte{aHello: hello, bHello: hello, aDoc: doc, bDoc: doc} {
		if b, _ := os.ReadFile(p); !bytes.Equal(b, want) {
			t.Errorf("%s not repaired", p)
		}
	}
	if !sameInode(t, aHello, bHello) || !sameInode(t, aDoc, bDoc) {
		t.Error("repaired files are not one store object in both apps")
	}
	if code, out, errOut := g("app", "verify"); code != 0 || out != "" {
		t.Errorf("app verify after repair: %d %q %s", code, out, errOut)
	}
	for _, n := range []string{"a", "b"} {
		if code, out, errOut := g("app", "run", n); code != 0 || out != "Hello, world!\n" {
			t.Errorf("app run %s after repair: %d %q %s", n, code, out, errOut)
		}
		if code, out, errOut := greyAt(t, testfixture.Clock, "--root", filepath.Join(apps, n, "current"), "verify"); code != 0 || out != "" {
			t.Errorf("grey verify in %s after repair: %d %q %s", n, code, out, errOut)
		}
	}

	// A new app composed while an object is damaged never links to it,
	// from the warm store (its manifest names the object, whose size is
	// not the file's: the package is unpacked from its .deb instead) or
	// from the .debs alone (no manifests): either way share keeps the
	// package's bytes as a private copy.
	if f, err = os.OpenFile(aHello, os.O_WRONLY|os.O_APPEND, 0); err != nil {
		t.Fatal(err)
	}
	f.WriteString("again\n")
	f.Close()
	for _, app := range []string{"c", "d"} {
		if app == "d" {
			if err := os.Rename(filepath.Join(apps, ".store/manifests"), filepath.Join(root, "manifests")); err != nil {
				t.Fatal(err)
			}
		}
		code, out, errOut := g("app", "install", "--command", "hello", app, "hello")
		if code != 0 {
			t.Fatalf("app install %s beside a damaged object: %d %q %s", app, code, out, errOut)
		}
		// hello's three dependencies come from the store, hello not.
		if app == "c" && !strings.Contains(out, "(4 packages, 3 taken from the store") {
			t.Errorf("app install c took hello from the damaged store: %q", out)
		}
		h := filepath.Join(apps, app, "gen/1/usr/bin/hello")
		if b, _ := os.ReadFile(h); !bytes.Equal(b, hello) || sameInode(t, h, aHello) {
			t.Errorf("app %s linked to the damaged object", app)
		}
		if code, out, errOut := g("app", "run", app); code != 0 || out != "Hello, world!\n" {
			t.Errorf("app run %s: %d %q %s", app, code, out, errOut)
		}
	}
}
