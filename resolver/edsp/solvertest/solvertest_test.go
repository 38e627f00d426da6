package solvertest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
)

const scenario = `Request: EDSP 0.5
Architecture: amd64
Install: a:amd64

Package: a
Architecture: amd64
Version: 1
APT-ID: 1
APT-Pin: 500
APT-Candidate: yes
Depends: b

Package: b
Architecture: amd64
Version: 1
APT-ID: 2
APT-Pin: 500
APT-Candidate: yes

Package: c
Architecture: amd64
Version: 1
APT-ID: 3
APT-Pin: 500
APT-Candidate: yes
Conflicts: a
`

// corpus writes a small corpus: one scenario with its expectation in its
// comments, one with it beside it (.expect), one without any.
func corpus(t *testing.T) string {
	dir := t.TempDir()
	files := map[string]string{
		"inline.edsp":       "# source: hand-written\n# expect: final a=1 b=1\n" + scenario,
		"sub/beside.edsp":   scenario,
		"sub/beside.expect": "expect: contains a\nexpect: absent c\n",
		"none.edsp":         scenario,
	}
	testfixture.WriteFiles(t, dir, files)
	return dir
}

func script(t *testing.T, body string) []string {
	sh := testfixture.Tool(t, "sh", "dash")
	return []string{sh, "-c", body}
}

func TestLoad(t *testing.T) {
	cases, err := Load([]string{corpus(t)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cases {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, " "); got != "inline none sub/beside" {
		t.Fatalf("cases %q", got)
	}
	if cases[0].Expect == nil || cases[0].Expect.Source != "hand-written" || cases[1].Expect != nil || cases[2].Expect == nil || cases[2].Expect.Absent[0] != "c" {
		t.Fatalf("expectations: %+v %+v %+v", cases[0].Expect, cases[1].Expect, cases[2].Expect)
	}
	if bytes.HasPrefix(cases[0].Input, []byte("#")) {
		t.Fatalf("comments left in the solver's input")
	}
	for _, bad := range []string{"sub/beside.expect", "inline.edsp"} {
		dir := corpus(t)
		text := "expect: maybe\n"
		if strings.HasSuffix(bad, ".edsp") {
			text = "Request: EDSP 0.5\nArchitecture: amd64\n\nPackage: x\n"
		}
		if err := os.WriteFile(filepath.Join(dir, bad), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load([]string{dir}); err == nil || !strings.Contains(err.Error(), strings.TrimSuffix(strings.TrimSuffix(bad, ".expect"), ".edsp")) {
			t.Errorf("broken %s: %v", bad, err)
		}
	}
	if _, err := Load([]string{t.TempDir()}); err == nil {
		t.Errorf("an empty corpus is accepted")
	}
}

// TestRun: each kind of outcome, from grey and from scripted solvers.
func TestRun(t *testing.T) {
	cases, err := Load([]string{corpus(t)})
	if err != nil {
		t.Fatal(err)
	}
	solvers := []Solver{
		Builtin("grey"),
		// Installs a without b: invalid.
		{Name: "broken", Command: script(t, `cat >/dev/null; printf 'Install: 1\n'`)},
		// Exits 1 without an answer.
		{Name: "crash", Command: script(t, `cat >/dev/null; echo boom >&2; exit 1`)},
		// No solution, in apt-cudf's form (a lone Message field).
		{Name: "unsat", Command: script(t, `cat >/dev/null; printf 'Message: (UNSAT) none\n'`)},
		// Never answers.
		{Name: "slow", Command: script(t, `sleep 5`), Timeout: 100 * time.Millisecond},
		// Checks that the comments are gone and {recommends} is replaced.
		{Name: "args", Command: script(t, `head -c1 | grep -q R && [ "$0" = no ] && [ "$GREY_SOLVER_TEST_RECOMMENDS" = no ] && printf 'Install: 1\n\nInstall: 2\n'`)},
	}
	solvers[5].Command = append(solvers[5].Command, "{recommends}")
	results := Run(context.Background(), cases, solvers)
	if len(results) != len(cases)*len(solvers) {
		t.Fatalf("%d results", len(results))
	}
	got := map[string]Result{}
	for _, r := range results {
		got[r.Case+"/"+r.Solver] = r
	}
	want := []struct {
		key, outcome, expected string
		valid                  bool
		install                int
	}{
		{"inline/grey", "answer", "yes", true, 2},
		{"none/grey", "answer", "-", true, 2},
		{"sub/beside/grey", "answer", "yes", true, 2},
		{"inline/broken", "answer", "no", false, 1},
		{"none/broken", "answer", "-", false, 1},
		{"inline/crash", "failure", "no", false, 0},
		{"none/crash", "failure", "-", false, 0},
		{"inline/unsat", "error", "no", false, 0},
		{"inline/slow", "failure", "no", false, 0},
		{"inline/args", "answer", "yes", true, 2},
	}
	for _, w := range want {
		r := got[w.key]
		if r.Outcome != w.outcome || r.Expected != w.expected || r.Valid != w.valid || r.Install != w.install {
			t.Errorf("%s: %+v, want outcome %s expected %s valid %v install %d", w.key, r, w.outcome, w.expected, w.valid, w.install)
		}
	}
	if p := strings.Join(got["inline/crash"].Problems, " "); !strings.Contains(p, "boom") {
		t.Errorf("crash problems lack stderr: %q", p)
	}
	var b strings.Builder
	if err := WriteTable(&b, results); err != nil {
		t.Fatal(err)
	}
	table := b.String()
	for _, w := range []string{
		"scenario", "grey", "broken",
		"ok +2/-0 =", "INVALID +1/-0 ≠", "FAILED ≠", "error ≠", "ok +2/-0 -",
		"grey: 3 scenarios, 3 valid answers, 0 errors, 0 invalid, 0 failures; as expected 2 of 2 (0 known differences)",
		"broken: 3 scenarios, 0 valid answers, 0 errors, 3 invalid, 0 failures; as expected 0 of 2 (0 known differences)",
		"inline [broken]: ",
	} {
		if !strings.Contains(table, w) {
			t.Errorf("table lacks %q:\n%s", w, table)
		}
	}
}

// TestOutsideSolvers runs the hand-written rules corpus's first cases
// through apt's internal solver and apt-cudf's aspcud: their answers are
// read, checked, and agree with grey's on these plain cases.
func TestOutsideSolvers(t *testing.T) {
	var solvers []Solver
	for _, name := range []string{"apt", "aspcud"} {
		s, _ := Known(name)
		testfixture.Tool(t, s.Command[0], map[string]string{"apt": "apt-utils", "aspcud": "apt-cudf aspcud"}[name])
		solvers = append(solvers, s)
	}
	dir := filepath.Join(testfixture.RepoRoot(t), "testdata", "resolver", "rules")
	var files []string
	for _, n := range []string{"basic-install", "alternative-first", "missing-dependency", "conflicts-removes-installed", "virtual-single-provider"} {
		files = append(files, filepath.Join(dir, n+".edsp"))
	}
	cases, err := Load(files)
	if err != nil {
		t.Fatal(err)
	}
	results := Run(context.Background(), cases, append([]Solver{Builtin("grey")}, solvers...))
	for _, r := range results {
		if r.Outcome == "failure" || (r.Outcome == "answer" && !r.Valid) {
			t.Errorf("%s [%s]: %s %v", r.Case, r.Solver, r.Outcome, r.Problems)
		}
		// aspcud prefers fewer packages to the first alternative.
		if r.Expected != "yes" && !(r.Solver == "aspcud" && r.Case == "alternative-first") {
			t.Errorf("%s [%s]: not as expected: %v", r.Case, r.Solver, r.Problems)
		}
	}
}
