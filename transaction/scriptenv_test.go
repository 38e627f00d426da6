package transaction

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envScript checks, from a maintainer script, what scripts may expect of
// the system: the /dev nodes mmdebstrap gives a chroot, /proc, and a
// policy-rc.d that forbids starting services. It writes to /dev/null,
// which (with no /dev) used to leave a regular file /dev/null in images.
const envScript = `#!/bin/sh
set -e
echo discarded >/dev/null
for d in null zero full random urandom tty; do
	[ -c /dev/$d ] || { echo "no /dev/$d"; exit 1; }
done
[ -L /dev/fd ] || { echo "no /dev/fd"; exit 1; }
read stat </proc/self/stat || { echo "no /proc"; exit 1; }
[ -x /usr/sbin/policy-rc.d ] || { echo "no policy-rc.d"; exit 1; }
rc=0
/usr/sbin/policy-rc.d ssh start || rc=$?
[ $rc = 101 ] || { echo "policy-rc.d said $rc"; exit 1; }
echo "$DPKG_MAINTSCRIPT_NAME environment ok"
`

// TestScriptEnvironment runs scripts that need /dev, /proc and
// policy-rc.d in a root that has none of them, and checks that the root
// holds nothing of that environment afterwards (no /dev, no /proc, no
// policy-rc.d, no mount seen from the host).
func TestScriptEnvironment(t *testing.T) {
	root, r := shellRoot(t)
	for _, p := range []string{"dev", "proc", "usr/sbin/policy-rc.d"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Fatalf("the shell root already has /%s", p)
		}
	}
	// The admin's /usr/sbin, not a package's: it stays after the purge.
	must(t, os.MkdirAll(filepath.Join(root, "usr/sbin"), 0o755))
	before := listTree(t, root)
	deb := tpkg{name: "envtest", version: "1",
		scripts: map[string]string{"preinst": envScript, "postinst": envScript, "prerm": envScript, "postrm": envScript},
		files:   []tentry{{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'}, {name: "./usr/share/envtest", body: "x\n"}},
	}.build(t, t.TempDir())
	var out bytes.Buffer
	if _, err := apply(t, r, Plan{Install: []Install{{Path: deb}}}, Options{ScriptOutput: &out}); err != nil {
		t.Fatalf("install: %v\n%s", err, out.String())
	}
	if _, err := apply(t, r, Plan{Remove: []Remove{{Name: "envtest", Purge: true}}}, Options{ScriptOutput: &out}); err != nil {
		t.Fatalf("remove: %v\n%s", err, out.String())
	}
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
		if !strings.Contains(out.String(), s+" environment ok") {
			t.Errorf("%s did not see its environment:\n%s", s, out.String())
		}
	}
	for _, p := range []string{"dev", "proc", "usr/sbin/policy-rc.d"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("/%s left in the root", p)
		}
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), root) {
		t.Errorf("mounts left under %s:\n%s", root, mounts)
	}
	// The root is as before, apart from grey's and dpkg's records.
	after := listTree(t, root)
	for p := range after {
		if !before[p] && !strings.HasPrefix(p, "var/lib/") {
			t.Errorf("left in the root: /%s", p)
		}
	}
}

// listTree returns every path under root.
func listTree(t *testing.T, root string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// outsideWatch is a script output that looks, at every write (while a
// script runs), whether anything appeared in the directory dir.
type outsideWatch struct {
	t    *testing.T
	dir  string
	seen []string
}

func (w *outsideWatch) Write(b []byte) (int, error) {
	ents, err := os.ReadDir(w.dir)
	if err != nil {
		w.t.Error(err)
	}
	for _, e := range ents {
		w.seen = append(w.seen, e.Name())
	}
	return len(b), nil
}

// TestAttackScriptEnvStaysInRoot: the scripts' environment (the mount
// points /dev and /proc, the policy-rc.d file it mounts on) is made and
// mounted through the root's os.Root and descriptors (issue 12, item 9).
// A root whose /usr/sbin is a link to a host directory gets no file
// there while its scripts run: the link is followed inside the root,
// where nothing is (so no policy-rc.d); joining paths created the file to
// mount on in the host directory.
func TestAttackScriptEnvStaysInRoot(t *testing.T) {
	root, r := shellRoot(t)
	outside := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "usr"), 0o755))
	must(t, os.RemoveAll(filepath.Join(root, "usr/sbin")))
	must(t, os.Symlink(outside, filepath.Join(root, "usr/sbin")))
	deb := tpkg{name: "envtest", version: "1",
		scripts: map[string]string{"postinst": "#!/bin/sh\necho postinst ran\n"},
		files:   []tentry{{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'}, {name: "./usr/share/envtest", body: "x\n"}},
	}.build(t, t.TempDir())
	w := &outsideWatch{t: t, dir: outside}
	if _, err := apply(t, r, Plan{Install: []Install{{Path: deb}}}, Options{ScriptOutput: w}); err != nil {
		t.Fatalf("install: %v", err)
	}
	if len(w.seen) > 0 {
		t.Errorf("while the script ran, %s held %v", outside, w.seen)
	}
	if ents, _ := os.ReadDir(outside); len(ents) > 0 {
		t.Errorf("%s holds %d names afterwards", outside, len(ents))
	}
}
