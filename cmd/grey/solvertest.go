package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/resolver/edsp/solvertest"
)

// SolverTestCmd runs a corpus of EDSP scenarios through several solvers.
type SolverTestCmd struct {
	Corpus  []string      `arg:"" name:"corpus" type:"path" help:"Directories of EDSP scenarios (*.edsp, searched recursively) or scenario files."`
	Solver  []string      `name:"solver" placeholder:"NAME[=COMMAND]" help:"A solver to run (repeatable): grey (the built-in resolver), apt, aspcud, mccs or packup by name alone, or NAME=COMMAND for any EDSP solver program. Default: grey."`
	Require []string      `name:"require" placeholder:"NAME" help:"Exit 1 unless this solver agrees with every expected outcome (repeatable)."`
	Timeout time.Duration `name:"timeout" default:"1m" help:"Time allowed to one solver on one scenario."`
}

// Help explains the corpus, the table and the exit status.
func (SolverTestCmd) Help() string {
	return `Every scenario is an EDSP request file as apt writes it (apt-get --solver
dump). Its expected outcome, when it has one, is in its leading "#" lines or
in NAME.expect beside it, one directive a line:

  recommends: yes|no           solve with Recommends on or off (default no)
  expect: final a=1 b:i386=2   the exact final set
  expect: contains a / absent b / valid / size N P% / error WORD...
  source: where the scenario comes from

Each solver reads the scenario (without the comments) on stdin and writes an
EDSP answer on stdout. "{recommends}" in a COMMAND is replaced by yes or no.
Every answer is checked by grey's independent checker (resolver/check: every
dependency met, no conflict, one version per name, the request honoured,
APT candidates only under Strict-Pinning).

The table has one row per scenario and, for each solver: ok (a valid answer),
INVALID, error (no solution) or FAILED (crash, timeout, unreadable answer);
+installs/-removes; = or ≠ the expected outcome (- without one; ≈ a
difference of grey's that the scenario's known-failure line explains); the
time.
Summaries and every problem follow.

Exit status: 0, or 1 when some answer is invalid, some solver failed, or a
--require'd solver disagrees with an expected outcome; 2 on bad usage or an
unreadable corpus.`
}

// Run loads the corpus, runs the solvers and prints the table.
func (c *SolverTestCmd) Run(ctx context.Context, g *Globals) error {
	cases, err := solvertest.Load(c.Corpus)
	if err != nil {
		return &exitError{Code: 2, Err: fmt.Errorf("solver-test: %w", err)}
	}
	specs := c.Solver
	if len(specs) == 0 {
		specs = []string{"grey"}
	}
	var solvers []solvertest.Solver
	names := map[string]bool{}
	for _, spec := range specs {
		s, err := parseSolverSpec(spec)
		if err != nil {
			return &exitError{Code: 2, Err: fmt.Errorf("solver-test: %w", err)}
		}
		if names[s.Name] {
			return &exitError{Code: 2, Err: fmt.Errorf("solver-test: solver %s named twice", s.Name)}
		}
		names[s.Name] = true
		s.Timeout = c.Timeout
		solvers = append(solvers, s)
	}
	for _, r := range c.Require {
		if !names[r] {
			return &exitError{Code: 2, Err: fmt.Errorf("solver-test: --require %s: no such --solver", r)}
		}
	}
	results := solvertest.Run(ctx, cases, solvers)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("solver-test: %w", err)
	}
	if g.JSON {
		// One object per scenario and solver.
		if err := cli.WriteJSON(g.Stdout, results); err != nil {
			return fmt.Errorf("solver-test: %w", err)
		}
	} else if err := solvertest.WriteTable(g.Stdout, results); err != nil {
		return fmt.Errorf("solver-test: %w", err)
	}
	required := map[string]bool{}
	for _, r := range c.Require {
		required[r] = true
	}
	var bad []string
	for _, r := range results {
		switch {
		case r.Outcome == "failure":
			bad = append(bad, fmt.Sprintf("%s failed on %s", r.Solver, r.Case))
		case r.Outcome == "answer" && !r.Valid:
			bad = append(bad, fmt.Sprintf("%s answered %s invalidly", r.Solver, r.Case))
		case required[r.Solver] && r.Expected == "no":
			bad = append(bad, fmt.Sprintf("%s disagrees with the expected outcome of %s", r.Solver, r.Case))
		}
	}
	if len(bad) > 0 {
		return &exitError{Code: 1, Err: fmt.Errorf("solver-test: %d problems: %s", len(bad), strings.Join(bad, "; "))}
	}
	return nil
}

// parseSolverSpec reads NAME or NAME=COMMAND.
func parseSolverSpec(spec string) (solvertest.Solver, error) {
	name, command, hasCmd := strings.Cut(spec, "=")
	if name == "" {
		return solvertest.Solver{}, fmt.Errorf("--solver %q: no name", spec)
	}
	if hasCmd {
		args := strings.Fields(command)
		if len(args) == 0 {
			return solvertest.Solver{}, fmt.Errorf("--solver %q: empty command", spec)
		}
		return solvertest.Solver{Name: name, Command: args}, nil
	}
	if name == "grey" {
		return solvertest.Builtin(name), nil
	}
	if s, ok := solvertest.Known(name); ok {
		return s, nil
	}
	return solvertest.Solver{}, fmt.Errorf("--solver %q: unknown solver; give NAME=COMMAND", spec)
}
