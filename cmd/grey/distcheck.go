package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/greypm/grey/deb"
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
	pkgs, done, err := c.load(ctx, g)
	if err != nil {
		// Exit status 1 means "broken packages found": an input that
		// cannot be read is 2.
		var ee *exitError
		if !errors.As(err, &ee) {
			err = &exitError{Code: 2, Err: err}
		}
		return err
	}
	// The configured index's packages may point into its cache files.
	defer done()
	rep, err := distcheck.Check(ctx, pkgs, distcheck.Options{
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

// load reads the --packages files, or the configured index; done
// releases what the packages need.
func (c *DistcheckCmd) load(ctx context.Context, g *Globals) (pkgs []*deb.Package, done func(), err error) {
	if len(c.Packages) == 0 {
		return loadConfiguredIndex(ctx, g)
	}
	var all []*deb.Package
	for _, path := range c.Packages {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, &exitError{Code: 2, Err: err}
		}
		pkgs, err := distcheck.ReadPackages(ctx, f, path)
		f.Close()
		if err != nil {
			return nil, nil, &exitError{Code: 2, Err: err}
		}
		all = append(all, pkgs...)
	}
	return all, func() {}, nil
}

// loadConfiguredIndex decodes every package of the command's sources
// (--source lines, else the root's configured ones) from the index cache
// that grey update verified (openIndex), in the cache's compact form: no
// stanza text, strings packed, nothing kept by the index, so a whole
// archive fits the check's memory budget.
func loadConfiguredIndex(ctx context.Context, g *Globals) ([]*deb.Package, func(), error) {
	x, err := cli.OpenIndex(ctx, g)
	if err != nil {
		return nil, nil, err
	}
	defer x.Close()
	var all []*deb.Package
	sl := distcheck.NewSlimmer()
	for p := range x.Fresh() {
		all = append(all, sl.Slim(p))
	}
	if err := x.Err(); err != nil {
		return nil, nil, &exitError{Code: 2, Err: err}
	}
	return all, func() {}, nil
}

func writeDistcheckJSON(g *Globals, v []distcheckJSON) error {
	enc := json.NewEncoder(g.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
