package transaction

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb"
)

// shellTemplate is a root holding the fixture's libc6 and dash, made once
// per test binary and copied for each test that needs a shell.
var shellTemplate struct {
	once sync.Once
	dir  string
	err  error
}

// shellRoot returns a fresh root holding the fixture's libc6 and dash
// (installed without scripts), so maintainer scripts of test packages can
// run in it.
func shellRoot(t *testing.T) (string, *Root) {
	t.Helper()
	testfixture.Root(t)
	debs := fixtureDebs(t)
	shellTemplate.once.Do(func() {
		var plan Plan
		for _, d := range debs {
			b := filepath.Base(d)
			if strings.HasPrefix(b, "libc6_") || strings.HasPrefix(b, "dash_") {
				plan.Install = append(plan.Install, Install{Path: d})
			}
		}
		dir, err := os.MkdirTemp("", "grey-shell-template-")
		if err != nil {
			shellTemplate.err = err
			return
		}
		shellTemplate.dir = dir
		r, err := OpenRoot(context.Background(), dir, pkgdb.LockOptions{NoWait: true})
		if err != nil {
			shellTemplate.err = err
			return
		}
		_, shellTemplate.err = Apply(context.Background(), r.DB, plan, Options{Root: dir, NoScripts: true})
		if err := r.Close(); shellTemplate.err == nil {
			shellTemplate.err = err
		}
	})
	if shellTemplate.err != nil {
		t.Fatal(shellTemplate.err)
	}
	root := t.TempDir()
	if out, err := exec.Command("cp", "-a", shellTemplate.dir+"/.", root).CombinedOutput(); err != nil {
		t.Fatalf("copy the shell root: %v %s", err, out)
	}
	return root, openRoot(t, root)
}

func apply(t *testing.T, r *Root, plan Plan, opts Options) (*Result, error) {
	t.Helper()
	opts.Root = r.Dir
	opts.Sync = true
	return Apply(context.Background(), r.DB, plan, opts)
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// logScripts are maintainer scripts that append their name and
// arguments to /var/log/tp.log inside the root.
func logScripts() map[string]string {
	m := map[string]string{}
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
		m[s] = "#!/bin/sh\necho \"$DPKG_MAINTSCRIPT_NAME $*\" >> /var/log/tp.log\n"
	}
	return m
}

func TestBadInputsLeaveRootUnchanged(t *testing.T) {
	root, r := shellRoot(t)
	dir := t.TempDir()
	base := tpkg{name: "base", version: "1", files: []tentry{
		{name: "./usr/", typ: 'd'}, {name: "./usr/bin/", typ: 'd'}, {name: "./usr/bin/owned", body: "base\n"},
	}}.build(t, dir)
	if _, err := apply(t, r, Plan{Install: []Install{{Path: base}}}, Options{}); err != nil {
		t.Fatal(err)
	}
	good := tpkg{name: "good", version: "1", files: []tentry{
		{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'}, {name: "./usr/share/good/", typ: 'd'},
		{name: "./usr/share/good/a", body: "a\n"},
	}}.build(t, dir)
	truncated := filepath.Join(dir, "truncated.deb")
	whole, _ := os.ReadFile(good)
	if err := os.WriteFile(truncated, whole[:len(whole)-40], 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		plan Plan
		want error
		msg  string
	}{
		{"sha256 differs from the index", Plan{Install: []Install{{Path: good, SHA256: strings.Repeat("0", 64)}}}, ErrChecksum, "the index says"},
		{"truncated", Plan{Install: []Install{{Path: truncated}}}, archive.ErrTruncated, "truncated"},
		{"dot-dot entry", Plan{Install: []Install{{Path: tpkg{name: "evil", version: "1", files: []tentry{
			{name: "./usr/", typ: 'd'}, {name: "./usr/x", body: "x"}, {name: "./../../etc/passwd", body: "root::0:0::/:/bin/sh\n"},
		}}.build(t, dir)}}}, archive.ErrBadEntry, "leaves the root"},
		{"absolute symlink then a file through it", Plan{Install: []Install{{Path: tpkg{name: "evil2", version: "1", files: []tentry{
			{name: "./usr/", typ: 'd'}, {name: "./usr/lnk", typ: 's', link: "/tmp"}, {name: "./usr/lnk/planted", body: "x"},
		}}.build(t, dir)}}}, ErrUnsafePath, "through the symlink"},
		{"device node", Plan{Install: []Install{{Path: tpkg{name: "dev", version: "1", files: []tentry{
			{name: "./dev/", typ: 'd'}, {name: "./dev/null", typ: 'c'},
		}}.build(t, dir)}}}, ErrDevice, "char"},
		{"conflict with an installed package", Plan{Install: []Install{{Path: good}, {Path: tpkg{name: "other", version: "1", files: []tentry{
			{name: "./usr/", typ: 'd'}, {name: "./usr/bin/", typ: 'd'}, {name: "./usr/bin/new", body: "n"}, {name: "./usr/bin/owned", body: "other\n"},
		}}.build(t, dir)}}}, ErrConflict, "also in package base"},
		{"conflict inside the transaction", Plan{Install: []Install{
			{Path: tpkg{name: "c1", version: "1", files: []tentry{{name: "./opt/", typ: 'd'}, {name: "./opt/same", body: "1"}}}.build(t, dir)},
			{Path: tpkg{name: "c2", version: "1", files: []tentry{{name: "./opt/", typ: 'd'}, {name: "./opt/same", body: "2"}}}.build(t, dir)},
		}}, ErrConflict, "also in package c1"},
		{"removing an essential package", Plan{Remove: []Remove{{Name: "dash"}}}, ErrEssential, "essential"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := testfixture.TreeListing(t, root)
			_, err := apply(t, r, c.plan, Options{})
			if err == nil {
				t.Fatal("no error")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("error %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not say %q", err, c.msg)
			}
			if after := testfixture.TreeListing(t, root); after != before {
				t.Errorf("the root changed:\n%s", testfixture.DiffListings(before, after))
			}
		})
	}
	// A failing preinst does not stop the others (TestLifecycleAgainstDpkg
	// checks what it leaves against dpkg); the error says what failed.
	var se *ScriptError
	_, err := apply(t, r, Plan{Install: []Install{{Path: tpkg{name: "failing", version: "1",
		scripts: map[string]string{"preinst": "#!/bin/sh\necho refusing to install >&2\nexit 3\n"},
		files:   []tentry{{name: "./srv/", typ: 'd'}, {name: "./srv/f", body: "f"}}}.build(t, dir)}}}, Options{})
	if !errors.As(err, &se) || se.Script != "preinst" || se.Args[0] != "install" || !strings.Contains(err.Error(), "refusing to install") {
		t.Errorf("failing preinst: %v", err)
	}
	if _, err := os.Stat("/tmp/planted"); err == nil {
		t.Error("a file was planted outside the root")
	}
}

func TestUpgradeRunsScriptsAndDropsFiles(t *testing.T) {
	root, r := shellRoot(t)
	dpkg := testfixture.Tool(t, "dpkg", "dpkg")
	dir := t.TempDir()
	v1 := tpkg{name: "tp", version: "1.0", scripts: logScripts(), conffiles: []string{"/etc/tp.conf"}, files: []tentry{
		{name: "./etc/", typ: 'd'}, {name: "./etc/tp.conf", body: "setting=1\n"},
		{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'}, {name: "./usr/share/tp/", typ: 'd'},
		{name: "./usr/share/tp/a", body: "a1\n"}, {name: "./usr/share/tp/old", body: "old\n"},
		{name: "./usr/share/tp/old-link", typ: 's', link: "old"},
	}}.build(t, dir)
	v2 := tpkg{name: "tp", version: "2.0", scripts: logScripts(), conffiles: []string{"/etc/tp.conf"}, files: []tentry{
		{name: "./etc/", typ: 'd'}, {name: "./etc/tp.conf", body: "setting=2\n"},
		{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'}, {name: "./usr/share/tp/", typ: 'd'},
		{name: "./usr/share/tp/a", body: "a2\n"}, {name: "./usr/share/tp/new", body: "new\n"},
		{name: "./usr/share/tp/new-hard", typ: 'h', link: "./usr/share/tp/new"},
	}}.build(t, dir)
	logf := filepath.Join(root, "var/log/tp.log")
	if err := os.MkdirAll(filepath.Dir(logf), 0o755); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		plan    Plan
		log     string
		present []string
		absent  []string
		action  string
	}{
		{Plan{Install: []Install{{Path: v1}}}, "preinst install\npostinst configure \n",
			[]string{"usr/share/tp/old", "usr/share/tp/old-link", "etc/tp.conf"}, nil, "install"},
		{Plan{Install: []Install{{Path: v2}}}, "prerm upgrade 2.0\npreinst upgrade 1.0 2.0\npostrm upgrade 2.0\npostinst configure 1.0\n",
			[]string{"usr/share/tp/new", "usr/share/tp/new-hard"}, []string{"usr/share/tp/old", "usr/share/tp/old-link"}, "upgrade"},
		{Plan{Remove: []Remove{{Name: "tp"}}}, "prerm remove\npostrm remove\n",
			[]string{"etc/tp.conf"}, []string{"usr/share/tp", "usr/share/tp/a"}, "remove"},
		{Plan{Remove: []Remove{{Name: "tp", Purge: true}}}, "postrm purge\n",
			[]string{"usr/share"}, []string{"etc/tp.conf"}, "purge"},
	}
	for i, s := range steps {
		_ = os.Remove(logf)
		res, err := apply(t, r, s.plan, Options{})
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if len(res.Changes) != 1 || res.Changes[0].Action != s.action {
			t.Errorf("step %d: changes %+v, want %s", i, res.Changes, s.action)
		}
		if got, _ := os.ReadFile(logf); string(got) != s.log {
			t.Errorf("step %d: scripts ran\n%s\nwant\n%s", i, got, s.log)
		}
		for _, p := range s.present {
			if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
				t.Errorf("step %d: %v", i, err)
			}
		}
		for _, p := range s.absent {
			if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
				t.Errorf("step %d: %s still there", i, p)
			}
		}
		if probs, err := Verify(context.Background(), r.DB, root, nil); err != nil || len(probs) != 0 {
			t.Errorf("step %d: verify %v %v", i, probs, err)
		}
		if out, err := exec.Command(dpkg, "--root="+root, "--verify").CombinedOutput(); err != nil || len(out) != 0 {
			t.Errorf("step %d: dpkg --verify: %v %s", i, err, out)
		}
		if i == 1 {
			if got := readFile(t, filepath.Join(root, "usr/share/tp/a")); got != "a2\n" {
				t.Errorf("a = %q", got)
			}
			if got := readFile(t, filepath.Join(root, "etc/tp.conf")); got != "setting=2\n" {
				t.Errorf("unchanged conffile not updated: %q", got)
			}
			out, _ := exec.Command(dpkg, "--root="+root, "-l", "tp").CombinedOutput()
			if !strings.Contains(string(out), "ii  tp") || !strings.Contains(string(out), "2.0") {
				t.Errorf("dpkg -l:\n%s", out)
			}
		}
		if i == 2 {
			out, _ := exec.Command(dpkg, "--root="+root, "-l", "tp").CombinedOutput()
			if !strings.Contains(string(out), "rc  tp") {
				t.Errorf("dpkg -l after remove:\n%s", out)
			}
		}
	}
}

func TestConffileEditKept(t *testing.T) {
	root := t.TempDir()
	r := openRoot(t, root)
	dir := t.TempDir()
	p := tpkg{name: "cf", version: "1", conffiles: []string{"/etc/cf.conf"}, files: []tentry{
		{name: "./etc/", typ: 'd'}, {name: "./etc/cf.conf", body: "shipped\n"},
	}}.build(t, dir)
	var seen []Progress
	if _, err := apply(t, r, Plan{Install: []Install{{Path: p}}}, Options{Progress: func(p Progress) { seen = append(seen, p) }}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0].Phase != "unpack" || seen[0].Done != 1 || seen[0].Total != 1 || seen[1].Phase != "configure" {
		t.Errorf("progress %+v", seen)
	}
	conf := filepath.Join(root, "etc/cf.conf")
	if err := os.WriteFile(conf, []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := apply(t, r, Plan{Install: []Install{{Path: p}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Conffiles) != 1 || res.Conffiles[0].NewPath != "/etc/cf.conf.dpkg-new" {
		t.Errorf("notes %+v", res.Conffiles)
	}
	if got := readFile(t, conf); got != "edited\n" {
		t.Errorf("edit lost: %q", got)
	}
	if got := readFile(t, conf+".dpkg-new"); got != "shipped\n" {
		t.Errorf(".dpkg-new: %q", got)
	}
	probs, err := Verify(context.Background(), r.DB, root, nil)
	if err != nil || len(probs) != 1 || probs[0].Kind != KindModifiedConffile || probs[0].IsError() {
		t.Errorf("verify: %+v %v", probs, err)
	}
	// Remove keeps the edited conffile; purge removes it and .dpkg-new.
	if _, err := apply(t, r, Plan{Remove: []Remove{{Name: "cf"}}}, Options{}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, conf); got != "edited\n" {
		t.Errorf("remove touched the conffile: %q", got)
	}
	if _, err := apply(t, r, Plan{Remove: []Remove{{Name: "cf", Purge: true}}}, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{conf, conf + ".dpkg-new", filepath.Join(root, "etc")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s survived the purge", p)
		}
	}
}

func TestReplacesMovesOwnership(t *testing.T) {
	root := t.TempDir()
	r := openRoot(t, root)
	dir := t.TempDir()
	old := tpkg{name: "old", version: "1", files: []tentry{{name: "./bin/", typ: 'd'}, {name: "./bin/tool", body: "old\n"}, {name: "./bin/other", body: "o\n"}}}.build(t, dir)
	neu := tpkg{name: "neu", version: "1", extra: "Replaces: old (<< 2)\n", files: []tentry{{name: "./bin/", typ: 'd'}, {name: "./bin/tool", body: "new\n"}}}.build(t, dir)
	for _, p := range []string{old, neu} {
		if _, err := apply(t, r, Plan{Install: []Install{{Path: p}}}, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := apply(t, r, Plan{Remove: []Remove{{Name: "old"}}}, Options{}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(root, "bin/tool")); got != "new\n" {
		t.Errorf("tool = %q", got)
	}
	if _, err := os.Lstat(filepath.Join(root, "bin/other")); err == nil {
		t.Error("old's other file survived its removal")
	}
	_ = r.DB.View(func(tx *bolt.Tx) error {
		if o := pkgdb.Owners(tx, "/bin/tool"); len(o) != 1 || o[0] != "neu" {
			t.Errorf("owners %v", o)
		}
		return nil
	})
	if probs, _ := Verify(context.Background(), r.DB, root, nil); len(probs) != 0 {
		t.Errorf("verify %v", probs)
	}
}
