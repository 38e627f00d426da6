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

// states returns the Status of every package record of the root.
func states(t *testing.T, r *Root) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := r.DB.View(func(tx *bolt.Tx) error {
		pkgs, err := pkgdb.Packages(tx)
		for _, p := range pkgs {
			out[p.Name] = p.Status
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFailingPostinstOfRealPackages is the 22-package install
// whose base-files postinst failed (no group utmp for its chown): before,
// all 22 were recorded installed and dpkg --audit was clean. Now
// base-files is half-configured, the 21 others are configured, the error
// and the history entry say so, dpkg --audit and Audit agree, and once
// the cause is fixed Configure finishes it.
func TestFailingPostinstOfRealPackages(t *testing.T) {
	testfixture.Root(t)
	dpkg := testfixture.Tool(t, "dpkg", "dpkg")
	root := t.TempDir()
	seedUsers(t, root)
	if err := os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := openRoot(t, root)
	var plan Plan
	for _, d := range fixtureDebs(t) {
		plan.Install = append(plan.Install, Install{Path: d})
	}
	res, err := Apply(context.Background(), r.DB, plan, Options{Root: root})
	var fe *FailedError
	if !errors.As(err, &fe) || len(fe.Failures) != 1 || fe.Failures[0].Package != "base-files" {
		t.Fatalf("install without group utmp: %v", err)
	}
	var se *ScriptError
	if !errors.As(err, &se) || se.Package != "base-files" || se.Script != "postinst" {
		t.Errorf("the error does not carry base-files' ScriptError: %v", err)
	}
	st := states(t, r)
	if st["base-files"] != pkgdb.StatusHalfConfigured {
		t.Errorf("base-files is %q", st["base-files"])
	}
	ii := 0
	for _, s := range st {
		if s == pkgdb.StatusInstalled {
			ii++
		}
	}
	if ii != 21 {
		t.Errorf("%d packages installed, want 21: %v", ii, st)
	}
	var h *pkgdb.HistoryEntry
	_ = r.DB.View(func(tx *bolt.Tx) error { h, _ = pkgdb.GetHistory(tx, res.HistoryID); return nil })
	if h == nil || len(h.Failed) != 1 || h.Failed[0].Package != "base-files" || h.Failed[0].Status != pkgdb.StatusHalfConfigured {
		t.Errorf("history entry's failures: %+v", h)
	}
	audit, _ := exec.Command(dpkg, "--root="+root, "--audit").CombinedOutput()
	if !strings.Contains(string(audit), "only half configured") || !strings.Contains(string(audit), " base-files ") {
		t.Errorf("dpkg --audit:\n%s", audit)
	}
	probs, err := Audit(r.DB, root)
	if err != nil || FormatAudit(probs) != string(audit) {
		t.Errorf("Audit %v:\n%s\ndpkg --audit:\n%s", err, FormatAudit(probs), audit)
	}

	seedUsers(t, root)
	res, err = Configure(context.Background(), r.DB, Options{Root: root})
	if err != nil || len(res.Changes) != 1 || res.Changes[0].Name != "base-files" {
		t.Fatalf("Configure: %+v %v", res, err)
	}
	if out, _ := exec.Command(dpkg, "--root="+root, "--audit").CombinedOutput(); len(out) != 0 {
		t.Errorf("dpkg --audit after configure:\n%s", out)
	}
	if probs, err := Audit(r.DB, root); err != nil || len(probs) != 0 {
		t.Errorf("Audit after configure: %v %v", probs, err)
	}
	res, err = Configure(context.Background(), r.DB, Options{Root: root})
	if err != nil || len(res.Changes) != 0 {
		t.Errorf("a second Configure: %+v %v", res, err)
	}
}

// TestBootstrapPreinstFailure is the first finding: hello's
// closure into an empty root has no shell, so libc6's preinst cannot run.
// Before, all four were recorded installed and dpkg --audit was clean.
// Now libc6 must be reinstalled and what depends on it is left unpacked,
// and dpkg --audit says so.
func TestBootstrapPreinstFailure(t *testing.T) {
	testfixture.Root(t)
	dpkg := testfixture.Tool(t, "dpkg", "dpkg")
	root := t.TempDir()
	r := openRoot(t, root)
	var plan Plan
	for _, d := range fixtureDebs(t) {
		for _, p := range []string{"hello_", "libc6_", "libgcc-s1_", "gcc-12-base_"} {
			if strings.HasPrefix(filepath.Base(d), p) {
				plan.Install = append(plan.Install, Install{Path: d})
			}
		}
	}
	_, err := Apply(context.Background(), r.DB, plan, Options{Root: root})
	var fe *FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("install into an empty root: %v", err)
	}
	st := states(t, r)
	want := map[string]string{
		"libc6":       pkgdb.StatusHalfInstalled,
		"libgcc-s1":   pkgdb.StatusUnpacked,
		"hello":       pkgdb.StatusUnpacked,
		"gcc-12-base": pkgdb.StatusInstalled,
	}
	for n, s := range want {
		if st[n] != s {
			t.Errorf("%s is %q, want %q", n, st[n], s)
		}
	}
	audit, _ := exec.Command(dpkg, "--root="+root, "--audit").CombinedOutput()
	for _, s := range []string{"in a mess", " libc6:amd64 ", "unpacked but not yet configured", " hello "} {
		if !strings.Contains(string(audit), s) {
			t.Errorf("dpkg --audit does not say %q:\n%s", s, audit)
		}
	}
	probs, err := Audit(r.DB, root)
	if err != nil || FormatAudit(probs) != string(audit) {
		t.Errorf("Audit %v:\n%s\ndpkg --audit:\n%s", err, FormatAudit(probs), audit)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/bin/hello")); err != nil {
		t.Errorf("hello's files: %v", err)
	}
}

// TestEssentialGuard: a plan that removes an Essential or Protected
// package, or one the Essential set needs, is refused with a message
// naming the package and why, and nothing changes; whatever made the plan
// (here a removal and the undo of the transaction that installed them).
func TestEssentialGuard(t *testing.T) {
	root, r := shellRoot(t) // transaction 1 installed libc6 and dash (Essential)
	dir := t.TempDir()
	prot := tpkg{name: "prot", version: "1", extra: "Protected: yes\n", files: []tentry{{name: "./opt/", typ: 'd'}, {name: "./opt/prot", body: "p"}}}.build(t, dir)
	leaf := tpkg{name: "leaf", version: "1", extra: "Depends: libc6\n", files: []tentry{{name: "./opt/", typ: 'd'}, {name: "./opt/leaf", body: "l"}}}.build(t, dir)
	if _, err := apply(t, r, Plan{Install: []Install{{Path: prot}, {Path: leaf}}}, Options{NoScripts: true}); err != nil {
		t.Fatal(err)
	}
	undo, err := TargetUndo(r.DB, 1)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := PlanRollback(r.DB, root, undo)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		plan Plan
		want string
	}{
		{"Essential", Plan{Remove: []Remove{{Name: "dash"}}}, "remove dash: it is Essential"},
		{"Protected", Plan{Remove: []Remove{{Name: "prot", Purge: true}}}, "remove prot: it is Protected"},
		{"needed by an Essential package", Plan{Remove: []Remove{{Name: "libc6"}, {Name: "leaf"}}}, "remove libc6: the Essential package dash needs it (dash Pre-Depends libc6)"},
		{"undo of the install of the Essential set", rp.Plan, "it is Essential"},
	} {
		before := treeHash(t, root)
		_, err := apply(t, r, c.plan, Options{})
		var ee *EssentialError
		if !errors.As(err, &ee) || !errors.Is(err, ErrEssential) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an EssentialError saying %q", c.name, err, c.want)
		}
		if treeHash(t, root) != before {
			t.Errorf("%s: the root changed", c.name)
		}
	}
	// A package nothing Essential needs goes; with ForceEssential the
	// undo goes through.
	if _, err := apply(t, r, Plan{Remove: []Remove{{Name: "leaf"}}}, Options{}); err != nil {
		t.Errorf("removing leaf: %v", err)
	}
	if _, err := apply(t, r, rp.Plan, Options{ForceEssential: true, NoScripts: true}); err != nil {
		t.Errorf("forced undo: %v", err)
	}
	if st := states(t, r); st["dash"] != "" || st["libc6"] != "" {
		t.Errorf("after the forced undo: %v", st)
	}
}

// TestPreDependsConfiguredFirst: a package whose preinst needs its
// Pre-Depends configured, installed in one plan with it (and listed
// first): the pre-dependency is unpacked and configured in a first stage,
// as apt orders it, so the preinst finds it; before, every preinst ran
// before anything was unpacked and this one failed.
func TestPreDependsConfiguredFirst(t *testing.T) {
	_, r := shellRoot(t)
	dir := t.TempDir()
	files := func(name string) []tentry {
		return []tentry{{name: "./opt/", typ: 'd'}, {name: "./opt/" + name, body: name}}
	}
	base := tpkg{name: "pbase", version: "1", scripts: map[string]string{"postinst": "#!/bin/sh\n: > /opt/pbase-configured\n"},
		files: files("pbase")}.build(t, dir)
	mid := tpkg{name: "pmid", version: "1", extra: "Depends: pbase\n", files: files("pmid")}.build(t, dir)
	user := tpkg{name: "puser", version: "1", extra: "Pre-Depends: pmid\n", scripts: map[string]string{
		"preinst": "#!/bin/sh\n[ -e /opt/pbase-configured ] || { echo pbase is not configured >&2; exit 1; }\n"},
		files: files("puser")}.build(t, dir)
	plan := Plan{Install: []Install{{Path: user}, {Path: mid}, {Path: base}}}
	if st := preDependStages(plan, Options{Root: r.Dir}); len(st) != 2 || len(st[0].Install) != 2 || st[1].Install[0].Path != user {
		t.Fatalf("stages %+v", st)
	}
	res, err := apply(t, r, plan, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 3 {
		t.Errorf("changes %+v", res.Changes)
	}
	for n, s := range states(t, r) {
		if s != pkgdb.StatusInstalled {
			t.Errorf("%s is %q", n, s)
		}
	}
}
