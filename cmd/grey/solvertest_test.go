package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

func TestSolverTestCommand(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.edsp"), []byte("# expect: final app=1 lib=2\n"+solveScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	sh := testfixture.Tool(t, "sh", "dash")
	code, out, stderr := runGrey(t, "", "solver-test", dir, "--solver", "grey", "--solver", "echo="+sh+" -c cat", "--require", "grey")
	// "echo" answers with the scenario itself: not an answer.
	if code != 1 || !strings.Contains(out, "a  ") || !strings.Contains(out, "ok +2/-0 =") || !strings.Contains(out, "FAILED") || !strings.Contains(stderr, "echo failed on a") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr = runGrey(t, "", "--json", "solver-test", dir, "--require", "grey")
	var res []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res) != 1 || res[0]["expected"] != "yes" || res[0]["solver"] != "grey" {
		t.Fatalf("json: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, args := range [][]string{
		{"solver-test", filepath.Join(dir, "nothere")},
		{"solver-test", dir, "--solver", "nosuch"},
		{"solver-test", dir, "--solver", "x="},
		{"solver-test", dir, "--require", "apt"},
		{"solver-test", dir, "--solver", "grey", "--solver", "grey"},
	} {
		if code, _, stderr := runGrey(t, "", args...); code != 2 {
			t.Errorf("%q: exit %d %s", args, code, stderr)
		}
	}
}
