package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// TestLifecycleCommands, on a real Debian root (adopted from dpkg): an
// install whose postinst fails exits 1 and says what it left; grey audit
// prints what dpkg --audit prints; a retry of the same command picks up
// the pending configure (it said "Nothing to do." before); install -f
// finishes once the cause is fixed; and history undo of the adoption,
// which would remove the Essential set, is refused and changes nothing.
func TestLifecycleCommands(t *testing.T) {
	testfixture.Root(t)
	dpkg := testfixture.Tool(t, "dpkg", "dpkg")
	root := testfixture.DebianRoot(t, testfixture.RootSpec{})
	// Local packages only: the root's apt sources would need an update.
	for _, p := range []string{"etc/apt/sources.list", "etc/apt/sources.list.d"} {
		must(t, os.RemoveAll(filepath.Join(root, p)))
	}
	dir := t.TempDir()
	fails := buildScriptDeb(t, dir, "lcfail", "1", "", map[string]string{
		"postinst": "#!/bin/sh\necho \"lcfail postinst $*\"\n[ -e /var/tmp/lcfail-ok ] || { echo refusing >&2; exit 1; }\n",
	})
	dependent := buildScriptDeb(t, dir, "lcdep", "1", "Depends: lcfail\n", nil)
	g := func(args ...string) (int, string, string) {
		t.Helper()
		return greyAt(t, testfixture.Clock, append([]string{"--root", root}, args...)...)
	}
	audit := func() string {
		t.Helper()
		out, err := exec.Command(dpkg, "--root="+root, "--audit").CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg --audit: %v %s", err, out)
		}
		return string(out)
	}

	code, out, errOut := g("-y", "install", fails, dependent)
	if code == 0 || !strings.Contains(out, "Left lcfail half-configured") || !strings.Contains(out, "Left lcdep unpacked") || !strings.Contains(errOut, "refusing") {
		t.Fatalf("install: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := g("history"); code != 0 || !strings.Contains(out, "2 installed, 2 failed") {
		t.Errorf("history: %d\n%s", code, out)
	}
	if code, out, _ := g("history", "show", "2"); code != 0 || !strings.Contains(out, "Failed     lcfail left half-configured: lcfail postinst configure failed") ||
		!strings.Contains(out, "Failed     lcdep left unpacked: dependency problems") {
		t.Errorf("history show 2: %d\n%s", code, out)
	}
	want := audit()
	if !strings.Contains(want, "half configured") || !strings.Contains(want, " lcfail ") || !strings.Contains(want, " lcdep ") {
		t.Errorf("dpkg --audit:\n%s", want)
	}
	if code, out, _ := g("audit"); code != 0 || out != want {
		t.Errorf("grey audit: %d\n%s\ndpkg --audit:\n%s", code, out, want)
	}
	// The same command again: the plan is empty, the pending configure
	// runs (and fails again: exit 1).
	if code, out, errOut := g("-y", "install", fails, dependent); code == 0 || strings.Contains(out, "Nothing to do") || !strings.Contains(errOut, "refusing") {
		t.Errorf("retry: %d\n%s\n%s", code, out, errOut)
	}
	must(t, os.WriteFile(filepath.Join(root, "var/tmp/lcfail-ok"), nil, 0o644))
	if code, out, errOut := g("-y", "install", "-f"); code != 0 || !strings.Contains(out, "Configured lcfail 1") || !strings.Contains(out, "Configured lcdep 1") {
		t.Errorf("install -f: %d\n%s\n%s", code, out, errOut)
	}
	if got := audit(); got != "" {
		t.Errorf("dpkg --audit after install -f:\n%s", got)
	}
	if code, out, _ := g("audit"); code != 0 || out != "" {
		t.Errorf("grey audit after install -f: %d %q", code, out)
	}
	if code, out, _ := g("configure", "--pending"); code != 0 || !strings.Contains(out, "Nothing to configure") {
		t.Errorf("configure --pending with nothing pending: %d %q", code, out)
	}

	// Undo of the adoption would purge the Essential set.
	status := filepath.Join(root, "var/lib/dpkg/status")
	before, err := os.ReadFile(status)
	must(t, err)
	code, out, errOut = g("-y", "history", "undo", "1")
	if code == 0 || !strings.Contains(errOut, "it is Essential") || !strings.Contains(errOut, "--allow-remove-essential") {
		t.Errorf("history undo 1: %d\n%s\n%s", code, out, errOut)
	}
	if after, _ := os.ReadFile(status); string(after) != string(before) {
		t.Error("the refused undo changed dpkg's status")
	}
	if _, err := os.Stat(filepath.Join(root, "usr/bin/dpkg")); err != nil {
		t.Error(err)
	}
}

// TestArchCommands: grey arch shares dpkg's arch file both ways.
func TestArchCommands(t *testing.T) {
	testfixture.Root(t)
	dpkg := testfixture.Tool(t, "dpkg", "dpkg")
	root := t.TempDir()
	g := func(args ...string) (int, string, string) {
		t.Helper()
		return greyAt(t, testfixture.Clock, append([]string{"--root", root}, args...)...)
	}
	foreign := func() string {
		t.Helper()
		out, err := exec.Command(dpkg, "--root="+root, "--print-foreign-architectures").CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg --print-foreign-architectures: %v %s", err, out)
		}
		return string(out)
	}
	if code, out, _ := g("arch", "list"); code != 0 || out != "amd64\n" {
		t.Errorf("arch list: %d %q", code, out)
	}
	if code, _, errOut := g("arch", "add", "i386"); code != 0 {
		t.Fatalf("arch add i386: %d %s", code, errOut)
	}
	if got := foreign(); got != "i386\n" {
		t.Errorf("dpkg sees foreign %q", got)
	}
	if out, err := exec.Command(dpkg, "--root="+root, "--add-architecture", "armhf").CombinedOutput(); err != nil {
		t.Fatalf("dpkg --add-architecture: %v %s", err, out)
	}
	if code, out, _ := g("arch"); code != 0 || out != "amd64\ni386\narmhf\n" {
		t.Errorf("arch list after dpkg added armhf: %d %q", code, out)
	}
	if code, _, _ := g("arch", "add", "b@d"); code != 2 {
		t.Errorf("arch add b@d: exit %d", code)
	}
	if code, _, errOut := g("arch", "remove", "i386"); code != 0 {
		t.Errorf("arch remove i386: %d %s", code, errOut)
	}
	if got := foreign(); got != "armhf\n" {
		t.Errorf("dpkg sees foreign %q after remove", got)
	}
}
