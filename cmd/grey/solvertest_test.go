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

// TestSolverTestAptSuite is the harness on the corpus converted from apt's
// own test suite (testdata/resolver/apt): grey, apt's internal solver and
// apt-cudf's aspcud side by side. grey and apt must agree with every
// expected outcome (grey's known differences aside); aspcud, whose
// criteria differ (no Recommends, fewest changes), must give valid answers.
func TestSolverTestAptSuite(t *testing.T) {
	testfixture.Tool(t, "/usr/lib/apt/solvers/apt", "apt-utils")
	testfixture.Tool(t, "/usr/lib/apt/solvers/aspcud", "apt-cudf")
	testfixture.Tool(t, "aspcud", "aspcud")
	corpus := filepath.Join(testfixture.RepoRoot(t), "testdata", "resolver", "apt")
	code, out, stderr := runGrey(t, "", "--json", "solver-test", corpus, "--solver", "grey", "--solver", "apt", "--solver", "aspcud", "--require", "grey", "--require", "apt")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	var res []struct {
		Scenario, Solver, Outcome, Expected string
		Valid                               bool
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range res {
		count[r.Solver]++
		if r.Expected == "known" {
			t.Logf("%s: a known difference of grey's", r.Scenario)
		}
	}
	if count["grey"] < 20 || count["grey"] != count["apt"] || count["apt"] != count["aspcud"] {
		t.Fatalf("results per solver: %v", count)
	}
}
