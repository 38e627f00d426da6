package transaction

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// ownerMode returns "MODE UID:GID" of p, as ls -n shows the parts that
// matter (type, permissions with setuid/setgid/sticky, owner).
func ownerMode(t *testing.T, p string) string {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		return "missing"
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%v %d:%d", fi.Mode(), st.Uid, st.Gid)
}

// TestDpkgOwnersAndModes reproduces the image findings of issue 11 on
// test packages: a setgid root:shadow file kept 2755 (the owner was set
// after the mode, which cleared the bit), a root:staff directory (it was
// root:root: directories were never chowned), names mapped through the
// root's passwd and group with numeric ids as fallback, and statoverrides.
func TestDpkgOwnersAndModes(t *testing.T) {
	testfixture.Root(t)
	dir := t.TempDir()
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	// The root's names differ from the tar's numeric ids: the names win.
	must(t, os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n# comment\nman:x:6:12::/:/bin/false\nman:x:77:77:dup:/:/bin/false\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nshadow:x:142:\nmail:x:8:\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(root, "var/lib/dpkg"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "var/lib/dpkg/statoverride"), []byte("man mail 4750 /usr/bin/over\n#0 #99 2770 /var/spool/over\n"), 0o644))
	deb := tpkg{name: "owners", version: "1", files: []tentry{
		{name: "./", typ: 'd'},
		{name: "./usr/", typ: 'd'},
		{name: "./usr/bin/", typ: 'd'},
		{name: "./usr/bin/chage", body: "x", mode: 0o2755, gname: "shadow", gid: 42},
		{name: "./usr/bin/suid", body: "x", mode: 0o4755, uname: "man", gname: "nogroup-here", uid: 6, gid: 65534},
		{name: "./usr/bin/over", body: "x", mode: 0o755},
		{name: "./usr/bin/link", typ: 's', link: "chage", uname: "man", uid: 6},
		{name: "./var/", typ: 'd'},
		{name: "./var/local/", typ: 'd', mode: 0o2775, gname: "staff", gid: 50},
		{name: "./var/spool/", typ: 'd'},
		{name: "./var/spool/over/", typ: 'd', mode: 0o755},
		{name: "./var/mail/", typ: 'd', mode: 0o2775, gname: "mail", gid: 999},
	}}.build(t, dir)
	r := openRoot(t, root)
	if _, err := apply(t, r, Plan{Install: []Install{{Path: deb}}}, Options{Root: root, NoScripts: true}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range []string{"usr/bin/chage", "usr/bin/suid", "usr/bin/over", "usr/bin/link", "var/local", "var/spool/over", "var/mail"} {
		got[p] = ownerMode(t, filepath.Join(root, p))
	}
	want := map[string]string{
		"usr/bin/chage":  "grwxr-xr-x 0:142",   // name shadow -> 142, setgid kept
		"usr/bin/suid":   "urwxr-xr-x 6:65534", // first man line; unknown group: numeric
		"usr/bin/over":   "urwxr-x--- 6:8",     // statoverride by names
		"usr/bin/link":   "Lrwxrwxrwx 6:0",
		"var/local":      "dgrwxrwxr-x 0:50", // unknown name staff: numeric 50
		"var/spool/over": "dgrwxrwx--- 0:99", // statoverride by #ids
		"var/mail":       "dgrwxrwxr-x 0:8",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// The database records what is on disk, so verify finds nothing.
	if rep, err := Verify(context.Background(), r.DB, root, nil); err != nil || len(rep) != 0 {
		t.Errorf("verify: %v %v", rep, err)
	}

	// A broken statoverride is an error naming it, before anything is
	// written.
	must(t, os.WriteFile(filepath.Join(root, "var/lib/dpkg/statoverride"), []byte("nobody root 0644 /x\n"), 0o644))
	deb2 := tpkg{name: "other", version: "1", files: []tentry{{name: "./usr/bin/other", body: "y"}}}.build(t, dir)
	_, err := apply(t, r, Plan{Install: []Install{{Path: deb2}}}, Options{Root: root, NoScripts: true})
	if err == nil || !strings.Contains(err.Error(), "/var/lib/dpkg/statoverride: line 1: unknown user \"nobody\"") {
		t.Errorf("broken statoverride: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "usr/bin/other")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("usr/bin/other written: %v", err)
	}
}

// TestDiversions: a path registered with dpkg-divert goes to its divert-to
// name for every package but the diverting one, on unpack and on removal,
// and the two copies never conflict.
func TestDiversions(t *testing.T) {
	testfixture.Root(t)
	dir := t.TempDir()
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "var/lib/dpkg"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "var/lib/dpkg/diversions"),
		[]byte("/usr/bin/tool\n/usr/bin/tool.distrib\ndiverter\n/etc/local.conf\n/etc/local.conf.orig\n:\n"), 0o644))
	orig := tpkg{name: "orig", version: "1", conffiles: []string{"/etc/local.conf"}, files: []tentry{
		{name: "./usr/", typ: 'd'}, {name: "./usr/bin/", typ: 'd'},
		{name: "./usr/bin/tool", body: "original\n", mode: 0o755},
		{name: "./etc/", typ: 'd'}, {name: "./etc/local.conf", body: "pkg\n"},
	}}.build(t, dir)
	div := tpkg{name: "diverter", version: "1", files: []tentry{
		{name: "./usr/", typ: 'd'}, {name: "./usr/bin/", typ: 'd'},
		{name: "./usr/bin/tool", body: "wrapper\n", mode: 0o755},
	}}.build(t, dir)
	r := openRoot(t, root)
	check := fileChecker(t, root)
	if _, err := apply(t, r, Plan{Install: []Install{{Path: orig}}}, Options{Root: root, NoScripts: true}); err != nil {
		t.Fatal(err)
	}
	check("orig", map[string]string{"usr/bin/tool": "missing", "usr/bin/tool.distrib": "original\n", "etc/local.conf": "missing", "etc/local.conf.orig": "pkg\n"})
	// dpkg's list keeps the package's own name.
	if b, _ := os.ReadFile(filepath.Join(root, "var/lib/dpkg/info/orig.list")); !strings.Contains(string(b), "/usr/bin/tool\n") {
		t.Errorf("orig.list:\n%s", b)
	}
	if _, err := apply(t, r, Plan{Install: []Install{{Path: div}}}, Options{Root: root, NoScripts: true}); err != nil {
		t.Fatalf("diverting package: %v", err)
	}
	check("diverter", map[string]string{"usr/bin/tool": "wrapper\n", "usr/bin/tool.distrib": "original\n"})
	// grey verify looks for each copy where it is.
	if rep, err := Verify(context.Background(), r.DB, root, nil); err != nil || len(rep) != 0 {
		t.Errorf("verify: %v %v", rep, err)
	}
	if _, err := apply(t, r, Plan{Remove: []Remove{{Name: "orig"}}}, Options{Root: root, NoScripts: true}); err != nil {
		t.Fatal(err)
	}
	// A removed package's conffile stays, at its divert-to name.
	check("remove orig", map[string]string{"usr/bin/tool": "wrapper\n", "usr/bin/tool.distrib": "missing", "etc/local.conf.orig": "pkg\n"})
	// A rollback restores orig's copy where the diversion sends it.
	rollbackTo(t, r, 2)
	check("rollback", map[string]string{"usr/bin/tool": "wrapper\n", "usr/bin/tool.distrib": "original\n"})
	if _, err := apply(t, r, Plan{Remove: []Remove{{Name: "orig"}}}, Options{Root: root, NoScripts: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := apply(t, r, Plan{Remove: []Remove{{Name: "diverter"}}}, Options{Root: root, NoScripts: true}); err != nil {
		t.Fatal(err)
	}
	check("remove diverter", map[string]string{"usr/bin/tool": "missing"})

	// No package may ship a divert-to name, as with dpkg.
	bad := tpkg{name: "bad", version: "1", files: []tentry{{name: "./usr/bin/tool.distrib", body: "x"}}}.build(t, dir)
	if _, err := apply(t, r, Plan{Install: []Install{{Path: bad}}}, Options{Root: root, NoScripts: true}); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "which is the diverted version of /usr/bin/tool") {
		t.Errorf("shipping a divert-to name: %v", err)
	}

	// With dpkg itself: the same root, dpkg -S and --verify agree.
	dpkg := testfixture.Tool(t, "dpkg", "dpkg")
	if _, err := apply(t, r, Plan{Install: []Install{{Path: orig}}}, Options{Root: root, NoScripts: true}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(dpkg, "--root="+root, "--verify", "orig").CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("dpkg --verify orig: %v\n%s", err, out)
	}
	if out, err := exec.Command(dpkg, "--root="+root, "-S", "/usr/bin/tool").CombinedOutput(); err != nil || !strings.Contains(string(out), "diversion by diverter from: /usr/bin/tool") || !strings.Contains(string(out), "orig: /usr/bin/tool") {
		t.Errorf("dpkg -S /usr/bin/tool: %v\n%s", err, out)
	}

	// A broken diversions file is an error naming it.
	must(t, os.WriteFile(filepath.Join(root, "var/lib/dpkg/diversions"), []byte("/a\n/b\n"), 0o644))
	_, err := apply(t, r, Plan{Remove: []Remove{{Name: "orig"}}}, Options{Root: root, NoScripts: true})
	if err == nil || !strings.Contains(err.Error(), "/var/lib/dpkg/diversions: 2 lines") {
		t.Errorf("broken diversions: %v", err)
	}
}

// FuzzDpkgFiles feeds arbitrary passwd, group, statoverride and diversions
// files to their parsers: no panic, and what is accepted is well formed
// (absolute clean paths, modes within 07777 and ids not negative).
func FuzzDpkgFiles(f *testing.F) {
	f.Add("root:x:0:0::/:/bin/sh\nman:x:6:12::/:/bin/false\n", "root:x:0:\nstaff:x:50:\n", "root staff 2775 /var/local\n#0 #50 0644 /etc/x\n", "/usr/bin/x\n/usr/bin/x.distrib\npkg\n/a\n/b\n:\n")
	f.Add("+::::::\n::0:0\nx:y:z\n", "a:b:99999999999:\n", "root root 9999 /x\nroot root 0644 x\nnobody root 0644 /x\n", "/a\n/b\n")
	f.Fuzz(func(t *testing.T, passwd, group, overrides, diversions string) {
		users := parseIDFile([]byte(passwd), 2)
		groups := parseIDFile([]byte(group), 2)
		for _, m := range []map[string]int{users, groups} {
			for n, id := range m {
				if n == "" || id < 0 {
					t.Fatalf("bad entry %q %d", n, id)
				}
			}
		}
		if ov, err := parseStatOverride([]byte(overrides), users, groups); err == nil {
			for p, o := range ov {
				if !strings.HasPrefix(p, "/") || filepath.Clean(p) != p || modeWord(o.mode) > 0o7777 || o.uid < 0 || o.gid < 0 {
					t.Fatalf("accepted %q %+v", p, o)
				}
			}
		}
		if dv, err := parseDiversions([]byte(diversions)); err == nil {
			for from, d := range dv {
				if !strings.HasPrefix(from, "/") || !strings.HasPrefix(d.to, "/") {
					t.Fatalf("accepted %q -> %+v", from, d)
				}
			}
		}
	})
}

// TestLoadDpkgFilesStaysInRoot: the root's passwd, group, statoverride
// and diversions files are read through its os.Root, links followed
// inside the root as in a chroot: a link to a host file (absolute, or
// climbing with "..") reads the root's own copy of that path, never the
// host's (issue 12, item 9).
func TestLoadDpkgFilesStaysInRoot(t *testing.T) {
	base := t.TempDir()
	root, host := filepath.Join(base, "root"), filepath.Join(base, "host")
	for p, s := range map[string]string{
		host + "/passwd":                "evil:x:0:0::/:/bin/sh\n",
		host + "/diversions":            "/usr/bin/x\n/usr/bin/x.evil\n:\n",
		root + host + "/passwd":         "app:x:1001:1001::/:/bin/sh\n",
		root + "/etc/group":             "app:x:1001:\n",
		root + host + "/diversions":     "/usr/bin/y\n/usr/bin/y.real\n:\n",
		root + "/var/lib/dpkg/.present": "",
	} {
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(s), 0o644))
	}
	must(t, os.Symlink(host+"/passwd", filepath.Join(root, passwdFile)))
	must(t, os.Symlink("../../../../../../../../../.."+host+"/diversions", filepath.Join(root, diversionsFile)))
	must(t, os.Symlink("statoverride", filepath.Join(root, statOverrideFile))) // a loop
	r, err := os.OpenRoot(root)
	must(t, err)
	defer r.Close()
	if _, err := loadDpkgFiles(r); !errors.Is(err, syscall.ELOOP) || !strings.Contains(err.Error(), "/"+statOverrideFile+" in "+root) {
		t.Errorf("a statoverride link to itself: %v", err)
	}
	must(t, os.Remove(filepath.Join(root, statOverrideFile)))
	d, err := loadDpkgFiles(r)
	must(t, err)
	if _, ok := d.users["evil"]; ok || d.users["app"] != 1001 {
		t.Errorf("users %v: the host's passwd was read", d.users)
	}
	if _, ok := d.diversions["/usr/bin/x"]; ok || d.diversions["/usr/bin/y"].to != "/usr/bin/y.real" {
		t.Errorf("diversions %v: the host's file was read", d.diversions)
	}
}
