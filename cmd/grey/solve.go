package main

import (
	"bufio"
	"context"
	"fmt"

	"github.com/greypm/grey/resolver/edsp"
)

// SolveCmd answers a dependency problem given in apt's EDSP format.
type SolveCmd struct {
	EDSP                bool `name:"edsp" default:"true" help:"Read an EDSP 0.5 scenario on stdin and write an EDSP answer on stdout (the only format, on by default)."`
	NoInstallRecommends bool `name:"no-install-recommends" help:"Do not install Recommends (apt's APT::Install-Recommends=false)."`
	Progress            bool `name:"progress" default:"true" negatable:"" help:"Write EDSP Progress stanzas before the answer."`
}

// Help explains how apt uses the command.
func (SolveCmd) Help() string {
	return `grey works as an apt external solver (EDSP, apt-doc's
external-dependency-solver-protocol). Install a script as /usr/lib/apt/solvers/grey:

  #!/bin/sh
  exec grey solve

then "apt-get --solver grey install PKG" lets grey decide. The answer lists
packages by APT-ID; an unsatisfiable request is answered with an Error stanza
that explains why, and exit status 0, as the protocol requires. A scenario
that cannot be read is answered with an Error stanza too, and exit status 1.`
}

// Run reads the scenario, solves it and writes the answer. Every failure
// is answered with an EDSP Error stanza on stdout (apt shows its message to
// the user): an unsatisfiable request with exit status 0, as the protocol
// asks; a scenario that cannot be read, or a solver failure, with the
// message on stderr too and exit status 1.
func (c *SolveCmd) Run(ctx context.Context, g *Globals) error {
	if !c.EDSP {
		return &exitError{Code: 2, Err: fmt.Errorf("solve: EDSP is the only input format")}
	}
	out := bufio.NewWriter(g.Stdout)
	fail := func(id string, err error) error {
		// The answer so far is progress only: an Error stanza follows.
		werr := edsp.WriteAnswer(out, &edsp.Answer{Error: &edsp.ErrorReport{ID: id, Message: "grey: " + err.Error()}})
		if ferr := out.Flush(); werr == nil {
			werr = ferr
		}
		if werr != nil {
			err = fmt.Errorf("%w (and writing the Error stanza: %v)", err, werr)
		}
		return &exitError{Code: 1, Err: fmt.Errorf("solve: %w", err)}
	}
	if c.Progress {
		if err := edsp.WriteProgress(out, g.Now(), 0, "grey: reading the scenario"); err != nil {
			return err
		}
		// apt shows progress as it comes.
		if err := out.Flush(); err != nil {
			return fmt.Errorf("solve: %w", err)
		}
	}
	sc, err := edsp.Read(g.Stdin)
	if err != nil {
		return fail("grey-bad-scenario", err)
	}
	for _, w := range sc.Warnings {
		fmt.Fprintf(g.Stderr, "grey solve: warning: %s\n", w)
	}
	if c.Progress {
		if err := edsp.WriteProgress(out, g.Now(), 10, fmt.Sprintf("grey: solving over %d packages", len(sc.Packages))); err != nil {
			return err
		}
	}
	ans, _, err := sc.Solve(ctx, edsp.Options{Recommends: !c.NoInstallRecommends})
	if err != nil {
		return fail("grey-failure", err)
	}
	if c.Progress {
		if err := edsp.WriteProgress(out, g.Now(), 100, "grey: writing the answer"); err != nil {
			return err
		}
	}
	if err := edsp.WriteAnswer(out, ans); err != nil {
		return err
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("solve: %w", err)
	}
	return nil
}
