package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/transaction"
)

// rollbackFlags are the options of rollback, undo and redo.
type rollbackFlags struct {
	NoScripts bool `name:"no-scripts" help:"Do not run maintainer scripts."`
	NoSync    bool `name:"no-sync" help:"Do not fsync files before they replace the old ones (faster, not crash-safe)."`
	NoWait    bool `name:"no-wait" help:"Fail at once when another grey process is changing the root."`
	// AllowRemoveEssential lets the plan remove Essential or Protected
	// packages and what they need (an undo of the install that brought
	// them, a rollback to before it).
	AllowRemoveEssential bool `name:"allow-remove-essential" help:"Allow removing Essential and Protected packages and what they need (this may leave the system unusable)."`
}

// RollbackCmd returns the root to the state after a transaction.
type RollbackCmd struct {
	ID uint64 `arg:"" help:"Transaction number (see grey history)."`
	rollbackFlags
}

// Help explains rollback.
func (RollbackCmd) Help() string {
	return `Returns the root to the state right after transaction N: packages changed
since are put back as they were, packages installed since are purged. It
works offline: contents come from the content store (ROOT/var/lib/grey/store)
or, for what grey gc freed, from the package cache; when something needed is
in neither, grey names it and changes nothing.

The rollback is a transaction like any other (staged, journaled, recorded in
the history, so it can itself be undone). Maintainer scripts run as dpkg
would run them for the same change (a downgrade runs the new prerm upgrade,
the old preinst upgrade, ...) unless --no-scripts. A conffile you edited is
kept, and you are told.`
}

// Run rolls back.
func (c *RollbackCmd) Run(ctx context.Context, g *Globals) error {
	return runRollback(ctx, g, c.rollbackFlags, fmt.Sprintf("roll back to transaction %d", c.ID),
		func(db transaction.DB) (transaction.Target, error) { return transaction.TargetAfter(db, c.ID) })
}

// HistoryUndoCmd reverses one transaction.
type HistoryUndoCmd struct {
	ID uint64 `arg:"" help:"Transaction number."`
	rollbackFlags
}

// Run undoes transaction ID's changes, leaving later changes to other
// packages in place.
func (c *HistoryUndoCmd) Run(ctx context.Context, g *Globals) error {
	return runRollback(ctx, g, c.rollbackFlags, fmt.Sprintf("undo transaction %d", c.ID),
		func(db transaction.DB) (transaction.Target, error) { return transaction.TargetUndo(db, c.ID) })
}

// HistoryRedoCmd applies one transaction's changes again.
type HistoryRedoCmd struct {
	ID uint64 `arg:"" help:"Transaction number."`
	rollbackFlags
}

// Run redoes transaction ID's changes.
func (c *HistoryRedoCmd) Run(ctx context.Context, g *Globals) error {
	return runRollback(ctx, g, c.rollbackFlags, fmt.Sprintf("redo transaction %d", c.ID),
		func(db transaction.DB) (transaction.Target, error) { return transaction.TargetRedo(db, c.ID) })
}

func runRollback(ctx context.Context, g *Globals, fl rollbackFlags, what string, target func(transaction.DB) (transaction.Target, error)) error {
	root, err := openRoot(ctx, g, fl.NoWait)
	if err != nil {
		return err
	}
	defer root.Close()
	tg, err := target(root.DB)
	if errors.Is(err, transaction.ErrNoHistory) {
		return &exitError{Code: cli.ExitNotFound, Err: err}
	}
	if err != nil {
		return err
	}
	rp, err := transaction.PlanRollback(root.DB, root.Dir, tg)
	if err != nil {
		var me *transaction.MissingError
		if errors.As(err, &me) {
			return &exitError{Code: 1, Err: fmt.Errorf("cannot %s; nothing was changed: %w", what, err)}
		}
		return err
	}
	for _, n := range rp.Notes {
		fmt.Fprintf(g.Stderr, "grey: %s\n", n)
	}
	if len(rp.Plan.Install) == 0 && len(rp.Plan.Remove) == 0 {
		fmt.Fprintln(g.Stdout, "Nothing to do.")
		return nil
	}
	if !g.JSON {
		fmt.Fprintf(g.Stdout, "To %s:\n", what)
		for _, it := range rp.Plan.Install {
			if it.Snapshot != nil {
				fmt.Fprintf(g.Stdout, "  restore %s %s (from the content store)\n", it.Snapshot.Package.Name, it.Snapshot.Package.Version)
			} else {
				fmt.Fprintf(g.Stdout, "  restore from %s (from the package cache)\n", it.Path)
			}
		}
		for _, r := range rp.Plan.Remove {
			verb := "remove"
			if r.Purge {
				verb = "purge"
			}
			fmt.Fprintf(g.Stdout, "  %s %s\n", verb, r.Name)
		}
	}
	if g.DryRun {
		return nil
	}
	if err := confirmChange(g); err != nil {
		return err
	}
	res, err := transaction.Apply(ctx, root.DB, rp.Plan, transaction.Options{
		Root: root.Dir, NoScripts: fl.NoScripts, Sync: !fl.NoSync, ScriptOutput: g.Stderr,
		ForceEssential: fl.AllowRemoveEssential,
		Now:            g.Now, Command: commandLine(g), User: currentUser(),
	})
	if res != nil && !g.JSON {
		printResult(g.Stdout, res)
		if res.HistoryID != 0 {
			fmt.Fprintf(g.Stdout, "Recorded as transaction %d.\n", res.HistoryID)
		}
	}
	if g.JSON && res != nil {
		if werr := cli.WriteJSON(g.Stdout, map[string]any{"result": res, "notes": rp.Notes}); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}
