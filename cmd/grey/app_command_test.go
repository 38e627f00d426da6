package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// TestAppUpgradeKeepsCommand: a command given on the command line
// (app install --command, app upgrade --command) sticks across upgrades
// until app upgrade --command or --reset-command changes it, whatever
// the spec's command: says; an app that follows its spec takes its
// command: again (the default program when it has none); a generation
// written before command_from existed upgrades as it did then (the
// spec's command: when it has one, else the generation's). Each step
// also checks the current generation's recorded command and where it
// came from, and runs the app to see which program starts. At the end,
// an upgrade after a rollback makes a new generation identical to the
// newer one (as Nix does) rather than switching back to it.
func TestAppUpgradeKeepsCommand(t *testing.T) {
	testfixture.AppCommands(t)
	testfixture.Tool(t, "bwrap", "bubblewrap")
	fx := testfixture.Bookworm(t)
	root := t.TempDir()
	// A user's writable state of an app goes here, not into theirs.
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	g := fixtureGrey(t, root)
	apps := filepath.Join(root, "var/lib/grey/apps")
	spec := filepath.Join(t.TempDir(), "app.yaml")
	writeSpec := func(command string) {
		t.Helper()
		text := fmt.Sprintf("sources:\n  - \"deb [signed-by=%s/debian-archive-keyring.gpg] file://%s/debian bookworm main\"\npackages: [hello, busybox]\n", fx, fx)
		if command != "" {
			text += "command: " + command + "\n"
		}
		if err := os.WriteFile(spec, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// forget makes generation gen of app look as one written before
	// command_from existed.
	forget := func(app string, gen int) {
		t.Helper()
		p := filepath.Join(apps, app, "gen", strconv.Itoa(gen)+".json")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m["command_from"]; !ok {
			t.Fatalf("%s has no command_from: %s", p, b)
		}
		delete(m, "command_from")
		if b, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// runs says which program "app run" starts: hello prints its -g
	// text, busybox runs its applet echo.
	runs := func(app string) string {
		t.Helper()
		if code, out, _ := g("app", "run", app, "--", "-g", "ok"); code == 0 && out == "ok\n" {
			return "hello"
		}
		if code, out, _ := g("app", "run", app, "--", "echo", "ok"); code == 0 && out == "ok\n" {
			return "busybox"
		}
		return "neither"
	}

	const none = "-" // spec: leave the spec as it is
	for _, st := range []struct {
		name string
		spec string // the spec's command: before the step ("" = none, "-" = unchanged)
		old  int    // when set, make this generation of app one from before command_from
		args []string
		code int
		out  string // in stdout (stderr when code != 0)
		app  string
		gen  int    // the current generation after the step
		cmd  string // its recorded command
		from string // and where it came from
		runs string // the program app run starts ("" = not checked)
	}{
		{name: "install --command over the spec's command:", spec: "hello",
			args: []string{"app", "install", "--spec", spec, "--command", "busybox", "pinned"},
			out:  "pinned: generation 1", app: "pinned", gen: 1, cmd: "busybox", from: "flag", runs: "busybox"},
		{name: "upgrade keeps --command", spec: none,
			args: []string{"app", "upgrade", "pinned"},
			out:  "pinned: up to date", app: "pinned", gen: 1, cmd: "busybox", from: "flag", runs: "busybox"},
		{name: "upgrade keeps --command when command: changes", spec: "/usr/bin/hello",
			args: []string{"app", "upgrade", "pinned"},
			out:  "pinned: up to date", app: "pinned", gen: 1, cmd: "busybox", from: "flag"},
		{name: "upgrade --command changes it", spec: none,
			args: []string{"app", "upgrade", "--command", "/usr/bin/hello", "pinned"},
			out:  "pinned: generation 2", app: "pinned", gen: 2, cmd: "/usr/bin/hello", from: "flag", runs: "hello"},
		{name: "and it sticks", spec: "/bin/busybox",
			args: []string{"app", "upgrade", "pinned"},
			out:  "pinned: up to date", app: "pinned", gen: 2, cmd: "/usr/bin/hello", from: "flag"},
		{name: "upgrade --command of the same command is up to date", spec: none,
			args: []string{"app", "upgrade", "--command", "/usr/bin/hello", "pinned"},
			out:  "pinned: up to date", app: "pinned", gen: 2, cmd: "/usr/bin/hello", from: "flag"},
		{name: "upgrade --reset-command takes the spec's again", spec: "hello",
			args: []string{"app", "upgrade", "--reset-command", "pinned"},
			out:  "pinned: generation 3", app: "pinned", gen: 3, cmd: "hello", from: "spec", runs: "hello"},
		{name: "then follows the spec", spec: "/bin/busybox",
			args: []string{"app", "upgrade", "pinned"},
			out:  "pinned: generation 4", app: "pinned", gen: 4, cmd: "/bin/busybox", from: "spec", runs: "busybox"},
		{name: "--command and --reset-command together", spec: none,
			args: []string{"app", "upgrade", "--command", "hello", "--reset-command", "pinned"},
			code: 2, out: "--reset-command", app: "pinned", gen: 4, cmd: "/bin/busybox", from: "spec"},
		{name: "--command with --all", spec: none,
			args: []string{"app", "upgrade", "--all", "--command", "hello"},
			code: 2, out: "--command", app: "pinned", gen: 4, cmd: "/bin/busybox", from: "spec"},

		// An app named hello, so that its default program is hello.
		{name: "install follows the spec's command:", spec: "/bin/busybox",
			args: []string{"app", "install", "--spec", spec, "hello"},
			out:  "hello: generation 1", app: "hello", gen: 1, cmd: "/bin/busybox", from: "spec", runs: "busybox"},
		{name: "a spec that drops command: gives the default program", spec: "",
			args: []string{"app", "upgrade", "hello"},
			out:  "hello: generation 2", app: "hello", gen: 2, cmd: "", from: "spec", runs: "hello"},

		// Generations from before command_from upgrade as they did.
		{name: "old: install --command over command:", spec: "hello",
			args: []string{"app", "install", "--spec", spec, "--command", "busybox", "legacy"},
			out:  "legacy: generation 1", app: "legacy", gen: 1, cmd: "busybox", from: "flag"},
		{name: "old: upgrade takes the spec's command:", spec: none, old: 1,
			args: []string{"app", "upgrade", "legacy"},
			out:  "legacy: generation 2", app: "legacy", gen: 2, cmd: "hello", from: "spec", runs: "hello"},
		{name: "old: install --command, spec without command:", spec: "",
			args: []string{"app", "install", "--spec", spec, "--command", "busybox", "legacy2"},
			out:  "legacy2: generation 1", app: "legacy2", gen: 1, cmd: "busybox", from: "flag"},
		{name: "old: upgrade keeps the generation's command", spec: none, old: 1,
			args: []string{"app", "upgrade", "legacy2"},
			out:  "legacy2: up to date", app: "legacy2", gen: 1, cmd: "busybox", from: "", runs: "busybox"},

		// An app of package arguments.
		{name: "packages: install --command", spec: none,
			args: []string{"app", "install", "--command", "busybox", "box", "busybox"},
			out:  "box: generation 1", app: "box", gen: 1, cmd: "busybox", from: "flag", runs: "busybox"},
		{name: "packages: upgrade keeps it", spec: none,
			args: []string{"app", "upgrade", "box"},
			out:  "box: up to date", app: "box", gen: 1, cmd: "busybox", from: "flag"},
		{name: "packages: upgrade --command", spec: none,
			args: []string{"app", "upgrade", "--command", "/bin/busybox", "box"},
			out:  "box: generation 2", app: "box", gen: 2, cmd: "/bin/busybox", from: "flag", runs: "busybox"},
		{name: "packages: upgrade --reset-command", spec: none,
			args: []string{"app", "upgrade", "--reset-command", "box"},
			out:  "box: generation 3", app: "box", gen: 3, cmd: "", from: "", runs: "neither"},
	} {
		if st.spec != none {
			writeSpec(st.spec)
		}
		if st.old > 0 {
			forget(st.app, st.old)
		}
		code, out, errOut := g(st.args...)
		text := out
		if st.code != 0 {
			text = errOut
		}
		if code != st.code || !strings.Contains(text, st.out) {
			t.Errorf("%s: %v: %d %q %s, want %d and %q", st.name, st.args, code, out, errOut, st.code, st.out)
		}
		m := currentMeta(t, g, st.app)
		if m.Generation != st.gen || m.Command != st.cmd || m.CommandFrom != st.from {
			t.Errorf("%s: current generation %d, command %q from %q; want %d, %q from %q", st.name, m.Generation, m.Command, m.CommandFrom, st.gen, st.cmd, st.from)
		}
		if st.runs != "" {
			if got := runs(st.app); got != st.runs {
				t.Errorf("%s: app run %s starts %s, want %s", st.name, st.app, got, st.runs)
			}
		}
	}

	// After a rollback, an upgrade makes a new generation identical to
	// the newer one (as Nix does), with its own fresh state, rather than
	// switching back to it; rollback to the newer one is the switch
	// forward, which finds its state again.
	writeSpec("/bin/busybox") // as it was for generation 4
	if code, out, errOut := g("app", "run", "pinned", "--", "sh", "-c", "echo 4 >/etc/marker"); code != 0 {
		t.Fatalf("app run pinned writing /etc/marker: %d %q %s", code, out, errOut)
	}
	if code, out, errOut := g("app", "rollback", "pinned"); code != 0 || !strings.Contains(out, "generation 3 is current") {
		t.Fatalf("app rollback pinned: %d %q %s", code, out, errOut)
	}
	if code, out, errOut := g("app", "upgrade", "pinned"); code != 0 || !strings.Contains(out, "pinned: generation 5") {
		t.Errorf("app upgrade after rollback: %d %q %s, want generation 5", code, out, errOut)
	}
	h := appHistory(t, g, "pinned")
	if len(h) != 5 {
		t.Fatalf("pinned has %d generations, want 5", len(h))
	}
	four, five := h[3], h[4]
	if !five.Current || !slices.Equal(four.Packages, five.Packages) || four.Command != five.Command || four.CommandFrom != five.CommandFrom {
		t.Errorf("generation 5 (current %v, %v, %q from %q) is not generation 4 again (%v, %q from %q)",
			five.Current, five.Packages, five.Command, five.CommandFrom, four.Packages, four.Command, four.CommandFrom)
	}
	if code, out, _ := g("app", "run", "pinned", "--", "cat", "/etc/marker"); code == 0 {
		t.Errorf("generation 5 has generation 4's state: /etc/marker is %q", out)
	}
	if code, out, errOut := g("app", "rollback", "pinned", "4"); code != 0 || !strings.Contains(out, "generation 4 is current") {
		t.Fatalf("app rollback pinned 4: %d %q %s", code, out, errOut)
	}
	if code, out, errOut := g("app", "run", "pinned", "--", "cat", "/etc/marker"); code != 0 || out != "4\n" {
		t.Errorf("generation 4's state after rolling forward: %d %q %s, want \"4\\n\"", code, out, errOut)
	}
}

// appMeta is the part of an app generation's JSON these tests read.
type appMeta struct {
	Generation  int      `json:"generation"`
	Packages    []string `json:"packages"`
	Command     string   `json:"command"`
	CommandFrom string   `json:"command_from"`
	Current     bool     `json:"current"`
}

// appHistory returns "grey --json app history app".
func appHistory(t *testing.T, g func(...string) (int, string, string), app string) []appMeta {
	t.Helper()
	code, out, errOut := g("--json", "app", "history", app)
	if code != 0 {
		t.Fatalf("app history %s: %d %s", app, code, errOut)
	}
	var h []appMeta
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("app history %s: %v: %s", app, err, out)
	}
	return h
}

// currentMeta returns the current generation of app from its history.
func currentMeta(t *testing.T, g func(...string) (int, string, string), app string) appMeta {
	t.Helper()
	for _, m := range appHistory(t, g, app) {
		if m.Current {
			return m
		}
	}
	t.Fatalf("app %s has no current generation", app)
	return appMeta{}
}
