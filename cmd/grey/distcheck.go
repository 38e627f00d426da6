package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/resolver/distcheck"
)

// DistcheckCmd reports the packages that cannot be installed.
type DistcheckCmd struct {
	Explain         bool     `help:"Print the whole chain of relations behind each verdict, not only the first step."`
	Packages        []string `name:"packages" type:"existingfile" placeholder:"FILE" help:"Check these Packages files (plain or compressed) instead of the sources' index (the cache grey update verified) (repeatable)."`
	Arch            string   `name:"arch" default:"amd64" help:"Native architecture." placeholder:"ARCH"`
	ForeignArch     []string `name:"foreign-arch" help:"Further architectures whose packages take part (repeatable)." placeholder:"ARCH"`
	IgnoreEssential bool     `name:"ignore-essential" help:"Check each package on its own, without the Essential set (dose-distcheck's --deb-ignore-essential)."`
}

// Help explains the verdict and the exit status.
func (DistcheckCmd) Help() string {
	return `A package is installable when some consistent set of packages holds it
together with the Essential set: every Pre-Depends and Depends satisfied
(alternatives, versions, Provides, Multi-Arch), no Conflicts or Breaks, one
version per name and architecture. This is dose-distcheck's question, and the
verdicts match it on Debian's archive.

Prints one line per uninstallable package, "name version architecture: reason",
and with --explain the chain of relations below it. --json prints an array of
{package, version, architecture, reason, explanation}.

Exit status: 0 when every package is installable, 1 when some are not (as
dose-distcheck), 2 on bad usage or unreadable input.`
}

type distcheckJSON struct {
	Package      string   `json:"package"`
	Version      string   `json:"version"`
	Architecture string   `json:"architecture"`
	Reason       string   `json:"reason"`
	Explanation  []string `json:"explanation"`
}

// Run checks the index and prints the broken packages.
func (c *DistcheckCmd) Run(ctx context.Context, g *Globals) error {
	set, err := c.load(ctx, g)
	if err != nil {
		// Exit status 1 means "broken packages found": an input that
		// cannot be read is 2.
		var ee *exitError
		if !errors.As(err, &ee) {
			err = &exitError{Code: 2, Err: err}
		}
		return err
	}
	rep, err := distcheck.CheckSet(ctx, set, distcheck.Options{
		Architecture:    c.Arch,
		ForeignArchs:    c.ForeignArch,
		IgnoreEssential: c.IgnoreEssential,
	})
	if err != nil {
		return err
	}
	if g.JSON {
		out := make([]distcheckJSON, 0, len(rep.Broken))
		for _, b := range rep.Broken {
			out = append(out, distcheckJSON{b.Package.Name, b.Package.Version.String(), b.Package.Architecture, b.Reason, b.Explanation})
		}
		if err := writeDistcheckJSON(g, out); err != nil {
			return err
		}
	} else {
		var sb strings.Builder
		for _, b := range rep.Broken {
			fmt.Fprintf(&sb, "%s %s %s: %s\n", b.Package.Name, b.Package.Version, b.Package.Architecture, b.Reason)
			if c.Explain {
				for _, step := range b.Explanation[1:] {
					fmt.Fprintf(&sb, "  %s\n", step)
				}
			}
		}
		if _, err := fmt.Fprint(g.Stdout, sb.String()); err != nil {
			return err
		}
	}
	fmt.Fprintf(g.Stderr, "%d packages checked, %d cannot be installed\n", rep.Checked, len(rep.Broken))
	if len(rep.Broken) > 0 {
		return &exitError{Code: 1}
	}
	return nil
}

// load reads the --packages files, or the configured index, into a
// numbered set that keeps only what a check reads.
func (c *DistcheckCmd) load(ctx context.Context, g *Globals) (*distcheck.Set, error) {
	if len(c.Packages) == 0 {
		return loadConfiguredIndex(ctx, g)
	}
	set := distcheck.NewSet()
	for _, path := range c.Packages {
		f, err := os.Open(path)
		if err != nil {
			return nil, &exitError{Code: 2, Err: err}
		}
		err = set.Read(ctx, f, path)
		f.Close()
		if err != nil {
			return nil, &exitError{Code: 2, Err: err}
		}
	}
	return set, nil
}

// loadConfiguredIndex adds every package of the command's sources
// (--source lines, else the root's configured ones) from the index cache
// that grey update verified (openIndex) to a numbered set: each package is
// decoded afresh and dropped once the set has copied what it keeps, so a
// whole archive fits the check's memory budget.
func loadConfiguredIndex(ctx context.Context, g *Globals) (*distcheck.Set, error) {
	x, err := cli.OpenIndex(ctx, g)
	if err != nil {
		return nil, err
	}
	defer x.Close()
	set := distcheck.NewSet()
	i := 0
	for p := range x.Fresh() {
		if i++; i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if err := set.Add(p); err != nil {
			return nil, err
		}
	}
	if err := x.Err(); err != nil {
		return nil, &exitError{Code: 2, Err: err}
	}
	return set, nil
}

func writeDistcheckJSON(g *Globals, v []distcheckJSON) error {
	enc := json.NewEncoder(g.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
