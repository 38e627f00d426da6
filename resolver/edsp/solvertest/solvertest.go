// Package solvertest runs a corpus of EDSP scenarios through any number of
// EDSP solvers (grey's resolver in process, apt's internal solver, apt-cudf's
// aspcud, or any program that reads a scenario on stdin and writes an answer
// on stdout), checks every answer with the independent checker
// (resolver/check) and compares it with the scenario's expected outcome.
// It is what `grey solver-test` prints.
//
// A corpus is a directory of scenario files (*.edsp, or *.edsp.gz, searched
// recursively).
// A scenario's expected outcome is either in its leading "#" lines or in a
// file beside it with the same name and the extension .expect (the same
// directives, one a line; see edsp.ParseExpectation). A scenario without one
// is still solved and checked.
package solvertest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/greypm/grey/resolver/edsp"
)

// Case is one scenario of a corpus.
type Case struct {
	// Name is the file's path relative to its corpus directory, without
	// .edsp.
	Name string
	// Path is the scenario file.
	Path string
	// Scenario is the parsed scenario.
	Scenario *edsp.Scenario
	// Input is what solvers read: the file without its leading comments
	// (apt's solver reads "#" lines as fields of the Request stanza).
	Input []byte
	// Expect is the expected outcome, nil when the scenario has none.
	Expect *edsp.Expectation
}

// Recommends reports whether the case is solved with Recommends (the
// expectation's "recommends:", off without one).
func (c *Case) Recommends() bool { return c.Expect != nil && c.Expect.Recommends }

// Load reads every *.edsp file under the given directories (or the files
// themselves), sorted by name. A file that is not a readable scenario, or
// whose expectation does not parse, is an error naming it.
func Load(paths []string) ([]*Case, error) {
	var cases []*Case
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("corpus: %w", err)
		}
		if !info.IsDir() {
			c, err := loadCase(filepath.Dir(root), root)
			if err != nil {
				return nil, err
			}
			cases = append(cases, c)
			continue
		}
		var files []string
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".edsp") || strings.HasSuffix(path, ".edsp.gz")) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("corpus %s: %w", root, err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("corpus %s: no *.edsp scenario", root)
		}
		sort.Strings(files)
		for _, f := range files {
			c, err := loadCase(root, f)
			if err != nil {
				return nil, err
			}
			cases = append(cases, c)
		}
	}
	return cases, nil
}

func loadCase(root, path string) (*Case, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", path, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("scenario %s: %w", path, err)
		}
	}
	sc, err := edsp.Read(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	rel, err := filepath.Rel(root, path)
	if err != nil {
		rel = filepath.Base(path)
	}
	c := &Case{
		Name:     strings.TrimSuffix(strings.TrimSuffix(filepath.ToSlash(rel), ".gz"), ".edsp"),
		Path:     path,
		Scenario: sc,
		Input:    stripComments(data),
	}
	lines := sc.Comments
	side := strings.TrimSuffix(strings.TrimSuffix(path, ".gz"), ".edsp") + ".expect"
	if b, err := os.ReadFile(side); err == nil {
		lines = append(append([]string(nil), lines...), strings.Split(string(b), "\n")...)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("expectation: %w", err)
	}
	if hasDirective(lines) {
		if c.Expect, err = edsp.ParseExpectation(lines); err != nil {
			return nil, fmt.Errorf("scenario %s: expectation: %w", path, err)
		}
	}
	return c, nil
}

// hasDirective reports whether any line is an "expect:" directive.
func hasDirective(lines []string) bool {
	for _, l := range lines {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "#"))
		if strings.HasPrefix(l, "expect:") {
			return true
		}
	}
	return false
}

// stripComments drops the leading "#" lines.
func stripComments(data []byte) []byte {
	for len(data) > 0 && data[0] == '#' {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return nil
		}
		data = data[i+1:]
	}
	return data
}

// Solver answers a scenario.
type Solver struct {
	// Name labels the solver's column.
	Name string
	// Command, when not empty, is a program and its arguments: it reads
	// the scenario on stdin and writes the answer on stdout. EDSP does not
	// carry apt's Install-Recommends, so "{recommends}" in an argument is
	// replaced by "yes" or "no" (the case's Recommends), and the
	// environment variable GREY_SOLVER_TEST_RECOMMENDS holds the same.
	Command []string
	// Func, when Command is empty, answers in process (grey's own
	// resolver: Builtin).
	Func func(ctx context.Context, c *Case) (*edsp.Answer, error)
	// Timeout bounds one run (0: one minute).
	Timeout time.Duration
}

// Builtin is grey's resolver, in process, as `grey solve` runs it.
func Builtin(name string) Solver {
	return Solver{Name: name, Func: func(ctx context.Context, c *Case) (*edsp.Answer, error) {
		a, _, err := c.Scenario.Solve(ctx, edsp.Options{Recommends: c.Recommends()})
		return a, err
	}}
}

// Known are the solvers `grey solver-test` knows by name alone: apt's
// internal solver (package apt-utils), told whether to follow Recommends,
// and apt-cudf's CUDF solvers (package apt-cudf with aspcud, mccs or
// packup), under apt's solver directory.
func Known(name string) (Solver, bool) {
	switch name {
	case "apt":
		return Solver{Name: name, Command: []string{"/usr/lib/apt/solvers/apt", "-o", "APT::Install-Recommends={recommends}"}}, true
	case "aspcud", "mccs", "packup":
		return Solver{Name: name, Command: []string{"/usr/lib/apt/solvers/" + name}}, true
	}
	return Solver{}, false
}

// Result is one solver's outcome (an expected error is met by any Error
// answer of an outside solver; grey's message must also hold the
// expectation's words) on one case.
type Result struct {
	Case   string `json:"scenario"`
	Solver string `json:"solver"`
	// Outcome is "answer" (a solution), "error" (an Error stanza: no
	// solution) or "failure" (the solver crashed, timed out or wrote
	// something that is not an answer).
	Outcome string `json:"outcome"`
	// Valid: the checker accepts the solution (an Error answer or a
	// failure is not valid).
	Valid bool `json:"valid"`
	// Install and Remove count the solution's stanzas.
	Install int `json:"install"`
	Remove  int `json:"remove"`
	// Expected is "yes" or "no" (the answer agrees with the expected
	// outcome or not), "-" when the case has none, "known" when grey's
	// valid answer differs as the scenario's known-failure line says.
	Expected string `json:"expected"`
	// Problems are the checker's violations, the differences from the
	// expectation, the error message or the failure.
	Problems []string `json:"problems,omitempty"`
	// Seconds is the solver's wall time.
	Seconds float64 `json:"seconds"`
}

// Run solves every case with every solver, one at a time, in order.
func Run(ctx context.Context, cases []*Case, solvers []Solver) []Result {
	var out []Result
	for _, c := range cases {
		for _, s := range solvers {
			out = append(out, runOne(ctx, c, s))
		}
	}
	return out
}

func runOne(ctx context.Context, c *Case, s Solver) Result {
	r := Result{Case: c.Name, Solver: s.Name, Expected: "-"}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	ans, err := solve(ctx, c, s)
	r.Seconds = time.Since(start).Seconds()
	if err != nil {
		r.Outcome = "failure"
		r.Problems = []string{err.Error()}
		if c.Expect != nil {
			r.Expected = "no"
		}
		return r
	}
	if ans.Error != nil {
		r.Outcome = "error"
		r.Problems = []string{"error: " + oneLine(ans.Error.Message)}
	} else {
		r.Outcome = "answer"
		r.Install, r.Remove = len(ans.Install), len(ans.Remove)
		v := c.Scenario.Validate(ans)
		r.Valid = len(v) == 0
		r.Problems = append(r.Problems, v...)
	}
	if c.Expect != nil {
		e := c.Expect
		if len(s.Command) > 0 {
			// The words an error message must hold are grey's
			// explanations; another solver agrees by failing.
			cp := *e
			cp.ErrWords = nil
			e = &cp
		}
		d := c.Scenario.Compare(e, ans)
		r.Expected = "yes"
		if len(d) > 0 || (ans.Error == nil && !r.Valid) {
			r.Expected = "no"
			if e.Known != "" && len(s.Command) == 0 && r.Valid {
				// A difference of grey's, documented in the scenario.
				r.Expected = "known"
				d = append(d, "known: "+e.Known)
			}
		}
		r.Problems = append(r.Problems, d...)
	}
	return r
}

func solve(ctx context.Context, c *Case, s Solver) (*edsp.Answer, error) {
	if len(s.Command) == 0 {
		if s.Func == nil {
			return nil, fmt.Errorf("solver %s: no command", s.Name)
		}
		return s.Func(ctx, c)
	}
	rec := "no"
	if c.Recommends() {
		rec = "yes"
	}
	args := make([]string, len(s.Command)-1)
	for i, a := range s.Command[1:] {
		args[i] = strings.ReplaceAll(a, "{recommends}", rec)
	}
	cmd := exec.CommandContext(ctx, s.Command[0], args...)
	cmd.Stdin = bytes.NewReader(c.Input)
	cmd.Env = append(os.Environ(), "GREY_SOLVER_TEST_RECOMMENDS="+rec)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, ctx.Err())
	}
	ans, err := edsp.ReadAnswer(&stdout, c.Scenario)
	if err != nil {
		return nil, fmt.Errorf("%s: unreadable answer: %w%s", s.Name, err, tail(stderr.Bytes()))
	}
	if runErr != nil && ans.Error == nil {
		return nil, fmt.Errorf("%s: %w%s", s.Name, runErr, tail(stderr.Bytes()))
	}
	return ans, nil
}

// tail is the end of a solver's stderr, for a failure message.
func tail(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	if len(b) > 300 {
		b = b[len(b)-300:]
	}
	return ": " + oneLine(string(b))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// WriteTable prints the results as one table: a row per scenario, for each
// solver its outcome (ok: a valid answer; INVALID; error; FAILED), the
// answer's installs/removes, agreement with the expected outcome (=, ≠ or
// -) and the time; then a summary line per solver and the problems found.
func WriteTable(w io.Writer, results []Result) error {
	var solvers []string
	seen := map[string]bool{}
	byCase := map[string]map[string]Result{}
	var cases []string
	for _, r := range results {
		if !seen[r.Solver] {
			seen[r.Solver] = true
			solvers = append(solvers, r.Solver)
		}
		if byCase[r.Case] == nil {
			byCase[r.Case] = map[string]Result{}
			cases = append(cases, r.Case)
		}
		byCase[r.Case][r.Solver] = r
	}
	var b strings.Builder
	width := len("scenario")
	for _, c := range cases {
		width = max(width, len(c))
	}
	fmt.Fprintf(&b, "%-*s", width, "scenario")
	for _, s := range solvers {
		fmt.Fprintf(&b, "  %-28s", s)
	}
	b.WriteString("\n")
	for _, c := range cases {
		fmt.Fprintf(&b, "%-*s", width, c)
		for _, s := range solvers {
			r, ok := byCase[c][s]
			cell := ""
			if ok {
				cell = cellText(r)
			}
			fmt.Fprintf(&b, "  %-28s", cell)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, s := range solvers {
		var n, valid, errs, fails, agree, expected, known int
		var secs float64
		for _, r := range results {
			if r.Solver != s {
				continue
			}
			n++
			secs += r.Seconds
			switch {
			case r.Outcome == "answer" && r.Valid:
				valid++
			case r.Outcome == "error":
				errs++
			case r.Outcome == "failure":
				fails++
			}
			if r.Expected != "-" {
				expected++
				if r.Expected == "yes" {
					agree++
				}
				if r.Expected == "known" {
					known++
				}
			}
		}
		fmt.Fprintf(&b, "%s: %d scenarios, %d valid answers, %d errors, %d invalid, %d failures; as expected %d of %d (%d known differences); %.2f s\n",
			s, n, valid, errs, n-valid-errs-fails, fails, agree, expected, known, secs)
	}
	var probs []string
	for _, r := range results {
		if r.Expected == "no" || r.Expected == "known" || (r.Outcome == "answer" && !r.Valid) || r.Outcome == "failure" {
			for _, p := range r.Problems {
				probs = append(probs, fmt.Sprintf("%s [%s]: %s", r.Case, r.Solver, p))
			}
		}
	}
	if len(probs) > 0 {
		b.WriteString("\n" + strings.Join(probs, "\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cellText is one table cell: outcome, +installs/-removes, agreement, time.
func cellText(r Result) string {
	var what string
	switch {
	case r.Outcome == "failure":
		what = "FAILED"
	case r.Outcome == "error":
		what = "error"
	case r.Valid:
		what = fmt.Sprintf("ok +%d/-%d", r.Install, r.Remove)
	default:
		what = fmt.Sprintf("INVALID +%d/-%d", r.Install, r.Remove)
	}
	agree := map[string]string{"yes": "=", "no": "≠", "-": "-", "known": "≈"}[r.Expected]
	return fmt.Sprintf("%s %s %s", what, agree, formatSeconds(r.Seconds))
}

func formatSeconds(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%.0fms", s*1000)
	}
	return fmt.Sprintf("%.1fs", s)
}
