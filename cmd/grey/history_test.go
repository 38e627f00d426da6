package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/internal/testfixture"
)

// TestHistoryRollbackCommands: history lists transactions as JSON with the
// injected clock, rollback and redo move between them offline, gc frees
// what only old transactions needed, and a rollback that needs it then
// names what is missing and changes nothing.
func TestHistoryRollbackCommands(t *testing.T) {
	dir := t.TempDir()
	now := testfixture.Clock
	v1 := buildDeb(t, dir, "tp", "1.0", map[string]string{"usr/share/tp/keep": "1\n", "usr/share/tp/gone": "g\n"})
	v2 := buildDeb(t, dir, "tp", "2.0", map[string]string{"usr/share/tp/keep": "2\n", "usr/share/tp/new": "n\n"})
	root := filepath.Join(dir, "root")
	must(t, os.Mkdir(root, 0o755))
	g := func(args ...string) (int, string, string) {
		t.Helper()
		return greyAt(t, now, append([]string{"--root", root}, args...)...)
	}
	for _, d := range []string{v1, v2} {
		if code, out, errOut := g("-y", "install", "--no-scripts", d); code != 0 {
			t.Fatalf("install %s: %d %s %s", d, code, out, errOut)
		}
	}
	code, out, errOut := g("--json", "history")
	if code != 0 {
		t.Fatalf("history: %d %s", code, errOut)
	}
	var hist []struct {
		ID       uint64    `json:"id"`
		Time     time.Time `json:"time"`
		Command  string    `json:"command"`
		Upgraded []struct {
			Name       string `json:"name"`
			OldVersion string `json:"old_version"`
			NewVersion string `json:"new_version"`
		} `json:"upgraded"`
		Installed []json.RawMessage `json:"installed"`
	}
	must(t, json.Unmarshal([]byte(out), &hist))
	if len(hist) != 2 || hist[0].ID != 1 || hist[1].ID != 2 || len(hist[0].Installed) != 1 ||
		len(hist[1].Upgraded) != 1 || hist[1].Upgraded[0].OldVersion != "1.0" || hist[1].Upgraded[0].NewVersion != "2.0" ||
		!hist[1].Time.Equal(now) || !strings.Contains(hist[1].Command, "install --no-scripts "+v2) {
		t.Fatalf("history --json:\n%s", out)
	}
	// An id that is not there: said once, by its number (issue 18: "no
	// transaction 99 in the history: no such transaction" said it twice).
	for _, args := range [][]string{{"-y", "rollback", "99"}, {"-y", "history", "undo", "99"}} {
		code, _, errOut := g(args...)
		if code != 100 || errOut != "grey: no transaction 99 in the history\n" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
	keep := filepath.Join(root, "usr/share/tp/keep")
	if code, out, errOut := g("-y", "rollback", "--no-scripts", "1"); code != 0 || !strings.Contains(out, "Downgraded tp 2.0 -> 1.0") || !strings.Contains(out, "transaction 3") {
		t.Fatalf("rollback 1: %d %s %s", code, out, errOut)
	}
	if b, _ := os.ReadFile(keep); string(b) != "1\n" {
		t.Errorf("after rollback: keep = %q", b)
	}
	if code, out, errOut := g("-y", "history", "redo", "--no-scripts", "2"); code != 0 || !strings.Contains(out, "Upgraded tp 1.0 -> 2.0") {
		t.Fatalf("history redo 2: %d %s %s", code, out, errOut)
	}
	if code, out, _ := g("history", "show", "3"); code != 0 || !strings.Contains(out, "Downgraded tp 2.0 -> 1.0") {
		t.Errorf("history show 3: %d %s", code, out)
	}
	if code, out, errOut := g("gc", "--keep", "1"); code != 0 || strings.Contains(out, "Freed 0 ") {
		t.Fatalf("gc --keep 1: %d %s %s", code, out, errOut)
	}
	code, _, errOut = g("-y", "rollback", "--no-scripts", "1")
	if code != 1 || !strings.Contains(errOut, "nothing was changed") || !strings.Contains(errOut, "tp 1.0: /usr/share/tp/gone (sha256 ") {
		t.Errorf("rollback after gc: %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(keep); string(b) != "2\n" {
		t.Errorf("the failed rollback changed the root: keep = %q", b)
	}
	if code, _, _ := g("history", "show", "99"); code != cli.ExitNotFound {
		t.Errorf("history show 99: exit %d", code)
	}
}
