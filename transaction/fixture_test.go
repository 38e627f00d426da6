package transaction

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb"
)

// TestInstallFixtureScripts installs the 22 real packages into an empty
// root with maintainer scripts on, then checks the result with the real
// dpkg and by running hello inside the root.
func TestInstallFixtureScripts(t *testing.T) {
	testfixture.Root(t)
	dpkg := testfixture.Tool(t, "dpkg", "dpkg")
	debs := fixtureDebs(t)
	root := t.TempDir()
	seedUsers(t, root)
	r := openRoot(t, root)
	var plan Plan
	for _, d := range debs {
		plan.Install = append(plan.Install, Install{Path: d})
	}
	var out strings.Builder
	res, err := Apply(context.Background(), r.DB, plan, Options{Root: root, Sync: true, ScriptOutput: &out})
	if err != nil {
		t.Fatalf("install: %v\nscript output:\n%s", err, out.String())
	}
	if len(res.Changes) != 22 {
		t.Errorf("%d changes, want 22", len(res.Changes))
	}
	hello, err := exec.Command("chroot", root, "/usr/bin/hello").CombinedOutput()
	if err != nil || string(hello) != "Hello, world!\n" {
		t.Errorf("chroot hello: %q, %v", hello, err)
	}
	list, err := exec.Command(dpkg, "--root="+root, "-l").CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg -l: %v\n%s", err, list)
	}
	ii := 0
	for _, l := range strings.Split(string(list), "\n") {
		if strings.HasPrefix(l, "ii ") {
			ii++
		}
	}
	if ii != 22 {
		t.Errorf("dpkg -l shows %d packages as ii, want 22:\n%s", ii, list)
	}
	verify, err := exec.Command(dpkg, "--root="+root, "--verify").CombinedOutput()
	if err != nil || len(verify) != 0 {
		t.Errorf("dpkg --verify: %v\n%s", err, verify)
	}
	probs, err := Verify(context.Background(), r.DB, root, nil)
	if err != nil || len(probs) != 0 {
		t.Errorf("Verify: %v %v", probs, err)
	}

	// An edited conffile survives a reinstall; the package's version is
	// written beside it and verify calls it a modified conffile.
	protocols := filepath.Join(root, "etc/protocols")
	if err := os.WriteFile(protocols, []byte("# edited by the admin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	netbase := ""
	for _, d := range debs {
		if strings.HasPrefix(filepath.Base(d), "netbase_") {
			netbase = d
		}
	}
	res, err = Apply(context.Background(), r.DB, Plan{Install: []Install{{Path: netbase}}}, Options{Root: root, Sync: true, ScriptOutput: &out})
	if err != nil {
		t.Fatalf("reinstall netbase: %v", err)
	}
	if len(res.Conffiles) != 1 || res.Conffiles[0].Path != "/etc/protocols" {
		t.Errorf("conffile notes %+v", res.Conffiles)
	}
	if b, _ := os.ReadFile(protocols); string(b) != "# edited by the admin\n" {
		t.Errorf("edit lost: %q", b)
	}
	if _, err := os.Stat(protocols + ".dpkg-new"); err != nil {
		t.Error(err)
	}
	probs, err = Verify(context.Background(), r.DB, root, nil)
	if err != nil || len(probs) != 1 || probs[0].Kind != KindModifiedConffile || probs[0].Path != "/etc/protocols" {
		t.Errorf("verify after the edit: %v %v", probs, err)
	}

	// Removing hello leaves nothing of it and keeps the directories other
	// packages own; dash is Essential and stays unless forced.
	var helloFiles []string
	_ = r.DB.View(func(tx *bolt.Tx) error {
		p, _ := pkgdb.GetPackage(tx, "hello")
		for _, f := range p.Files {
			if f.Type != pkgdb.TypeDir {
				helloFiles = append(helloFiles, f.Path)
			}
		}
		return nil
	})
	if _, err := Apply(context.Background(), r.DB, Plan{Remove: []Remove{{Name: "hello"}}}, Options{Root: root, Sync: true}); err != nil {
		t.Fatal(err)
	}
	for _, f := range helloFiles {
		if _, err := os.Lstat(filepath.Join(root, f)); err == nil {
			t.Errorf("%s survived the removal of hello", f)
		}
	}
	for _, d := range []string{"usr/bin", "usr/share/doc", "usr/share/man/man1"} {
		if fi, err := os.Stat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
			t.Errorf("shared directory %s: %v", d, err)
		}
	}
	_, err = Apply(context.Background(), r.DB, Plan{Remove: []Remove{{Name: "dash"}}}, Options{Root: root})
	if !errors.Is(err, ErrEssential) {
		t.Errorf("removing dash: %v", err)
	}
	if out, err := exec.Command(dpkg, "--root="+root, "--verify").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "??5?????? c /etc/protocols" {
		t.Errorf("dpkg --verify after the edit and removal: %v\n%s", err, out)
	}
}

// seedUsers writes the /etc/passwd and /etc/group that base-passwd (an
// Essential package outside the fixture's closure) would install:
// base-files' postinst chowns to root:utmp and root:mail, which needs them.
func seedUsers(t *testing.T, root string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":  "root:x:0:\nmail:x:8:\nutmp:x:43:\nstaff:x:50:\n",
	}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
