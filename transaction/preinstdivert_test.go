package transaction

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// divertScripts are the maintainer scripts of a package that diverts
// path away from the package that ships it, as config-package-dev and
// dpkg-divert(1) show: added in preinst install, removed in postrm
// remove and abort-install.
func divertScripts(pkg, path string) map[string]string {
	return map[string]string{
		"preinst": "#!/bin/sh\nset -e\nif [ \"$1\" = install ]; then\n" +
			"  dpkg-divert --package " + pkg + " --add --rename --divert " + path + ".distrib " + path + "\nfi\n",
		"postrm": "#!/bin/sh\nset -e\nif [ \"$1\" = remove ] || [ \"$1\" = abort-install ]; then\n" +
			"  dpkg-divert --package " + pkg + " --remove --rename --divert " + path + ".distrib " + path + "\nfi\n",
	}
}

// TestPreinstDiversion: a diversion that a package's preinst adds
// (dpkg-divert --add in preinst) is honoured when that package and the
// others of the same transaction are unpacked, as dpkg reads diversions
// after the preinst ran: the diverting package ships a path another
// package owns, which is a conflict without the diversion. A preinst that
// diverts something else leaves the conflict: the package is not
// installed (postrm abort-install runs) and the owner's file stays.
func TestPreinstDiversion(t *testing.T) {
	root := testfixture.DebianRoot(t, testfixture.RootSpec{})
	dir := t.TempDir()
	file := func(body string) []tentry {
		return []tentry{{name: "./usr/", typ: 'd'}, {name: "./usr/bin/", typ: 'd'},
			{name: "./usr/bin/greytool", body: body, mode: 0o755}}
	}
	orig := tpkg{name: "orig", version: "1", files: file("original\n")}.build(t, dir)
	div := tpkg{name: "diverter", version: "1", scripts: divertScripts("diverter", "/usr/bin/greytool"),
		files: file("wrapper\n")}.build(t, dir)
	r := openRoot(t, root)
	var out bytes.Buffer
	check := fileChecker(t, root)
	dpkg := func(args ...string) string {
		t.Helper()
		b, err := exec.Command("dpkg", append([]string{"--root=" + root}, args...)...).CombinedOutput()
		if err != nil {
			t.Errorf("dpkg %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return string(b)
	}
	audit := func(step string) {
		t.Helper()
		if o := dpkg("--audit"); o != "" {
			t.Errorf("%s: dpkg --audit:\n%s", step, o)
		}
		if rep, err := Verify(t.Context(), r.DB, root, nil); err != nil || len(rep) != 0 {
			t.Errorf("%s: grey verify: %v %v", step, rep, err)
		}
	}

	// The owner first, then the diverting package alone.
	if _, err := apply(t, r, Plan{Install: []Install{{Path: orig}}}, Options{ScriptOutput: &out}); err != nil {
		t.Fatalf("install orig: %v\n%s", err, out.String())
	}
	if _, err := apply(t, r, Plan{Install: []Install{{Path: div}}}, Options{ScriptOutput: &out}); err != nil {
		t.Fatalf("install diverter over orig: %v\n%s", err, out.String())
	}
	check("diverter after orig", map[string]string{"usr/bin/greytool": "wrapper\n", "usr/bin/greytool.distrib": "original\n"})
	if o := dpkg("-S", "/usr/bin/greytool"); !strings.Contains(o, "diversion by diverter from: /usr/bin/greytool") || !strings.Contains(o, "diverter: /usr/bin/greytool") {
		t.Errorf("dpkg -S /usr/bin/greytool:\n%s", o)
	}
	dpkg("--verify", "orig", "diverter")
	audit("diverter after orig")
	// Its removal takes the diversion away (postrm) and orig's file back.
	if _, err := apply(t, r, Plan{Remove: []Remove{{Name: "diverter"}}}, Options{ScriptOutput: &out}); err != nil {
		t.Fatalf("remove diverter: %v\n%s", err, out.String())
	}
	check("diverter removed", map[string]string{"usr/bin/greytool": "original\n", "usr/bin/greytool.distrib": "missing"})
	audit("diverter removed")
	if _, err := apply(t, r, Plan{Remove: []Remove{{Name: "orig"}}}, Options{ScriptOutput: &out}); err != nil {
		t.Fatal(err)
	}

	// Both in one transaction: orig's copy goes to the divert-to name.
	if _, err := apply(t, r, Plan{Install: []Install{{Path: orig}, {Path: div}}}, Options{ScriptOutput: &out}); err != nil {
		t.Fatalf("install orig and diverter together: %v\n%s", err, out.String())
	}
	check("together", map[string]string{"usr/bin/greytool": "wrapper\n", "usr/bin/greytool.distrib": "original\n"})
	dpkg("--verify", "orig", "diverter")
	audit("together")
	if _, err := apply(t, r, Plan{Remove: []Remove{{Name: "diverter"}, {Name: "orig"}}}, Options{ScriptOutput: &out}); err != nil {
		t.Fatal(err)
	}
	check("both removed", map[string]string{"usr/bin/greytool": "missing", "usr/bin/greytool.distrib": "missing"})

	// A preinst that diverts another path does not make the conflict go:
	// the package fails as dpkg's unpack would, and is undone.
	if _, err := apply(t, r, Plan{Install: []Install{{Path: orig}}}, Options{ScriptOutput: &out}); err != nil {
		t.Fatal(err)
	}
	other := tpkg{name: "other", version: "1", scripts: divertScripts("other", "/usr/bin/elsewhere"),
		files: file("other\n")}.build(t, dir)
	res, err := apply(t, r, Plan{Install: []Install{{Path: other}}}, Options{ScriptOutput: &out})
	if !errors.Is(err, ErrConflict) {
		t.Errorf("other's conflict: %v (%+v)", err, res)
	}
	check("other refused", map[string]string{"usr/bin/greytool": "original\n"})
	if b, _ := os.ReadFile(filepath.Join(root, "var/lib/dpkg/diversions")); bytes.Contains(b, []byte("elsewhere")) {
		t.Errorf("other's diversion left after its abort-install:\n%s", b)
	}
	if o := dpkg("-l", "other"); strings.Contains(o, "ii  other") {
		t.Errorf("other installed:\n%s", o)
	}
	audit("other refused")
}
