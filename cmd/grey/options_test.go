package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
)

// publishedRoot publishes debs in a signed repository, updates an empty
// root from it and returns a function running grey on that root (with
// the repository as its --source, at a time its signature is valid).
func publishedRoot(t *testing.T, dir string, debs ...string) (root string, g func(args ...string) (int, string, string)) {
	root, g, _ = publishedRootAgain(t, dir, debs...)
	return root, g
}

// publishedRootAgain is publishedRoot that also returns a function that
// publishes other debs in the repository's place and updates the root.
func publishedRootAgain(t *testing.T, dir string, debs ...string) (root string, g func(args ...string) (int, string, string), republish func(debs ...string)) {
	t.Helper()
	now := testfixture.Clock
	key := newTestKey(t, dir, "options test", now)
	repoDir := filepath.Join(dir, "repo")
	root = filepath.Join(dir, "root")
	must(t, os.Mkdir(root, 0o755))
	at := now
	g = func(args ...string) (int, string, string) {
		t.Helper()
		return greyAt(t, at.Add(time.Hour), append([]string{"--root", root, "--source", key.source(repoDir)}, args...)...)
	}
	republish = func(debs ...string) {
		t.Helper()
		at = at.Add(time.Hour) // a newer Date than the last Release's
		must(t, os.RemoveAll(repoDir))
		key.publish(at, repoDir, debs...)
		if code, _, errOut := g("update"); code != 0 {
			t.Fatalf("update: %s", errOut)
		}
	}
	republish(debs...)
	return root, g, republish
}

// TestListMarks reproduces issue 18's "list marks nothing [installed]":
// grey list marks what the root has as apt list does, and colours the
// name green only when asked (or on a terminal without NO_COLOR).
func TestListMarks(t *testing.T) {
	dir := t.TempDir()
	app := buildScriptDeb(t, dir, "lmapp", "1", "Depends: lmauto\n", nil)
	auto := buildScriptDeb(t, dir, "lmauto", "1", "", nil)
	up1 := buildScriptDeb(t, dir, "lmup", "1.0", "", nil)
	up2 := buildScriptDeb(t, dir, "lmup", "2.0", "", nil)
	other := buildScriptDeb(t, dir, "lmother", "1", "", nil)
	local := buildScriptDeb(t, dir, "lmlocal", "1", "", nil)
	_, g, republish := publishedRootAgain(t, dir, app, auto, up1, other)
	if code, out, _ := g("list", "lm*"); code != 0 || out != "lmapp/stable 1 all\nlmauto/stable 1 all\nlmother/stable 1 all\nlmup/stable 1.0 all\n" {
		t.Errorf("list before any install: %d %q", code, out)
	}
	if code, out, errOut := g("-y", "--no-scripts", "install", "lmapp", "lmup", local); code != 0 {
		t.Fatalf("install: %d\n%s\n%s", code, out, errOut)
	}
	republish(app, auto, up2, other)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "lm*"}, `lmapp/stable,now 1 all [installed]
lmauto/stable,now 1 all [installed,automatic]
lmlocal/now 1 all [installed,local]
lmother/stable 1 all
lmup/stable 2.0 all [upgradable from: 1.0]
`},
		{[]string{"list", "--all", "lmup"}, `lmup/stable 2.0 all [upgradable from: 1.0]
lmup/now 1.0 all [installed,upgradable to: 2.0]
`},
		{[]string{"--color=always", "list", "lmapp"}, "\x1b[32mlmapp\x1b[0m/stable,now 1 all [installed]\n"},
		{[]string{"-o", "APT::Color=1", "list", "lmapp"}, "\x1b[32mlmapp\x1b[0m/stable,now 1 all [installed]\n"},
		{[]string{"list", "lmapp"}, "lmapp/stable,now 1 all [installed]\n"}, // piped
		// apt list --installed and --upgradable: the same lines, filtered.
		{[]string{"list", "--installed"}, `lmapp/stable,now 1 all [installed]
lmauto/stable,now 1 all [installed,automatic]
lmlocal/now 1 all [installed,local]
lmup/now 1.0 all [installed,upgradable to: 2.0]
`},
		{[]string{"list", "--upgradable"}, "lmup/stable 2.0 all [upgradable from: 1.0]\n"},
	} {
		if code, out, errOut := g(tc.args...); code != 0 || out != tc.want {
			t.Errorf("grey %q: %d %s\n%s\nwant\n%s", tc.args, code, errOut, out, tc.want)
		}
	}
	code, out, _ := g("--json", "list", "lmup")
	var rows []listJSON
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil || len(rows) != 1 || rows[0].Status != "upgradable from: 1.0" {
		t.Errorf("list --json lmup: %d %v %s", code, err, out)
	}
}

// TestOptionsWhereAptTakesThem reproduces issue 18's "grey --no-scripts
// install x" and "grey --no-install-recommends install x" (unknown flags
// before), and holds the order of precedence of Recommends: flag, then
// -o APT::Install-Recommends, then grey.conf, then the default (true).
func TestOptionsWhereAptTakesThem(t *testing.T) {
	dir := t.TempDir()
	app := buildScriptDeb(t, dir, "optapp", "1", "Recommends: optrec\n", map[string]string{"postinst": "#!/bin/sh\nexit 1\n"})
	rec := buildScriptDeb(t, dir, "optrec", "1", "", nil)
	root, g := publishedRoot(t, dir, app, rec)
	conf := filepath.Join(root, "etc/grey/grey.conf")
	writeConf := func(s string) {
		t.Helper()
		must(t, os.MkdirAll(filepath.Dir(conf), 0o755))
		must(t, os.WriteFile(conf, []byte(s), 0o644))
	}
	planned := func(args ...string) []string {
		t.Helper()
		code, out, errOut := g(append(args, "--json")...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errOut)
		}
		var r struct {
			Plan planJSON `json:"plan"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%q: %v\n%s", args, err, out)
		}
		var names []string
		for _, e := range r.Plan.Install {
			names = append(names, e.Name)
		}
		slices.Sort(names)
		return names
	}
	both, alone := "optapp optrec", "optapp"
	for _, tc := range []struct {
		conf string
		args string
		want string
	}{
		{"", "install -s optapp", both},
		{"", "--no-install-recommends install -s optapp", alone},
		{"", "-s --no-install-recommends install optapp", alone},
		{"", "install optapp --simulate --no-install-recommends", alone},
		{"", "--just-print install optapp --no-install-recommends", alone},
		{"", "--no-act install optapp", both},
		{"", "--recon install optapp", both},
		{"", "-o APT::Install-Recommends=false install -s optapp", alone},
		{"", "install -s -o APT::Install-Recommends=0 optapp", alone},
		{`APT::Install-Recommends "false";`, "install -s optapp", alone},
		{`APT::Install-Recommends "false";`, "-o APT::Install-Recommends=true install -s optapp", both},
		{`APT::Install-Recommends "true";`, "-o APT::Install-Recommends=true --no-install-recommends install -s optapp", alone},
		{`APT { Install-Recommends "no"; Get::Simulate "true"; };`, "install optapp", alone},
	} {
		writeConf(tc.conf)
		if got := strings.Join(planned(strings.Fields(tc.args)...), " "); got != tc.want {
			t.Errorf("grey.conf %q, grey %s: plan %q, want %q", tc.conf, tc.args, got, tc.want)
		}
	}
	must(t, os.Remove(conf))

	// -o APT::Get::Assume-Yes answers the prompt (stdin is empty: no);
	// --no-scripts before the verb skips the postinst that fails.
	// Dir::Cache::archives: absolute from -o, relative (to
	// ROOT/var/cache/grey) from grey.conf; clean empties the same place.
	cache := filepath.Join(dir, "cache")
	if code, out, errOut := g("-o", "Dir::Cache::archives="+cache, "-d", "-y", "install", "optapp"); code != 0 || !strings.Contains(out, cache) {
		t.Fatalf("install -d into %s: %d %s %s", cache, code, out, errOut)
	}
	for _, f := range []string{filepath.Join(cache, "optapp_1_all.deb"), filepath.Join(cache, "optrec_1_all.deb")} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "var/cache/grey/archives")); err == nil {
		t.Error("install -d with Dir::Cache::archives wrote to the root's own cache")
	}
	if code, _, errOut := g("clean", "-o", "Dir::Cache::archives="+cache); code != 0 {
		t.Errorf("clean: %d %s", code, errOut)
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 0 {
		t.Errorf("clean left %v in %s", ents, cache)
	}
	writeConf(`Dir::Cache::archives "debs";`)
	if code, _, errOut := g("-d", "-y", "install", "optapp"); code != 0 {
		t.Fatalf("install -d with grey.conf's Dir::Cache::archives: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "var/cache/grey/debs/optapp_1_all.deb")); err != nil {
		t.Error(err)
	}
	must(t, os.Remove(conf))

	// --fix-broken and -f before the verb, with nothing to finish.
	for _, f := range []string{"--fix-broken", "-f"} {
		if code, out, errOut := g("--assume-yes", f, "install"); code != 0 || !strings.Contains(out, "Nothing to") {
			t.Errorf("grey --assume-yes %s install: %d %q %q", f, code, out, errOut)
		}
	}
	code, out, errOut := g("--no-scripts", "-o", "APT::Get::Assume-Yes=true", "--no-install-recommends", "install", "optapp")
	if code != 0 || !strings.Contains(out, "Installed optapp 1") {
		t.Fatalf("grey --no-scripts -o APT::Get::Assume-Yes=true install optapp: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := g("installed"); code != 0 || out != "optapp 1 all [installed]\n" {
		t.Errorf("installed: %d %q", code, out)
	}

	// -o is a global option: every verb takes it, and refuses a setting
	// grey does not read or a malformed one, changing nothing.
	for _, args := range [][]string{
		{"-o", "APT::Get::Purge=true", "remove", "optapp"},
		{"remove", "-o", "Dpkg::Options::=--force-confold", "optapp"},
		{"-o", "APT::Get::Assume-Yes", "remove", "optapp"},
		{"-o", "APT::Get::Assume-Yes=sure", "remove", "optapp"},
		{"list", "-o", "APT::Color=bright"},
		{"update", "-o", "Acquire::Retries=many"},
	} {
		code, out, errOut := g(args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "-o") {
			t.Errorf("grey %q: exit %d, %q %q; want 2 and a message naming -o", args, code, out, errOut)
		}
	}
	if code, out, _ := g("installed"); code != 0 || out != "optapp 1 all [installed]\n" {
		t.Errorf("installed after the refusals: %d %q", code, out)
	}
	for _, args := range [][]string{
		{"-o", "APT::Color=false", "deb", "compare-versions", "1", "lt", "2"},
		{"history", "-o", "Acquire::Retries=1"},
		{"-o", "Grey::Parallel-Downloads=1", "--no-wait", "remove", "-y", "--no-scripts", "optapp"},
	} {
		if code, _, errOut := g(args...); code != 0 {
			t.Errorf("grey %q: exit %d: %s", args, code, errOut)
		}
	}
}
