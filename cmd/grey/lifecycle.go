package main

import (
	"context"
	"fmt"
	"io"

	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/transaction"
)

// AuditCmd reports packages left half-way, as dpkg --audit.
type AuditCmd struct{}

// Help explains the report.
func (AuditCmd) Help() string {
	return `Reports what "dpkg --audit" reports, with the same text: packages that
must be reinstalled, that are unpacked but not configured, half-configured,
half-installed or waiting for triggers, and installed packages whose list
or md5sums file is missing. Prints nothing when all is well. "grey configure
--pending" finishes unpacked and half-configured packages.`
}

// Run audits.
func (c *AuditCmd) Run(ctx context.Context, g *Globals) error {
	root, err := openView(ctx, g)
	if err != nil {
		return err
	}
	defer root.Close()
	probs, err := transaction.Audit(root.DB, root.Dir)
	if err != nil {
		return err
	}
	if g.JSON {
		if probs == nil {
			probs = []transaction.AuditProblem{}
		}
		return cli.WriteJSON(g.Stdout, probs)
	}
	_, err = io.WriteString(g.Stdout, transaction.FormatAudit(probs))
	return err
}

// ConfigureCmd configures packages left unpacked or half-configured.
type ConfigureCmd struct {
	Pending bool `short:"a" required:"" help:"Configure every unpacked or half-configured package (as dpkg --configure --pending)."`
	NoWait  bool `name:"no-wait" help:"Fail at once if another grey process holds the root."`
}

// Help explains configure.
func (ConfigureCmd) Help() string {
	return `Runs "postinst configure" for every package that an earlier command left
unpacked or half-configured (a maintainer script failed, or a dependency's
did), dependencies first, as "dpkg --configure --pending" does. A package
whose dependencies are still not configured stays as it is. The exit
status is 1 when a package is still not configured.`
}

// Run configures.
func (c *ConfigureCmd) Run(ctx context.Context, g *Globals) error {
	root, err := openRoot(ctx, g, c.NoWait)
	if err != nil {
		return err
	}
	defer root.Close()
	return configurePending(ctx, g, root)
}

// configurePending configures root's pending packages and prints what it
// did.
func configurePending(ctx context.Context, g *Globals, root *transaction.Root) error {
	res, err := transaction.Configure(ctx, root.DB, transaction.Options{
		Root: root.Dir, ScriptOutput: g.Stderr, Now: g.Now, Command: commandLine(g), User: currentUser(),
	})
	if g.JSON {
		if werr := cli.WriteJSON(g.Stdout, map[string]any{"result": res}); werr != nil && err == nil {
			err = werr
		}
		return err
	}
	if res != nil {
		for _, ch := range res.Changes {
			fmt.Fprintf(g.Stdout, "Configured %s %s\n", ch.Name, ch.NewVersion)
		}
		if len(res.Changes) == 0 && err == nil {
			fmt.Fprintln(g.Stdout, "Nothing to configure.")
		}
	}
	return err
}
