package main

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/transaction"
)

// HistoryCmd groups the history commands.
type HistoryCmd struct {
	List HistoryListCmd `cmd:"" default:"withargs" help:"List the transactions (the default)."`
	Show HistoryShowCmd `cmd:"" help:"Show one transaction in full."`
	Undo HistoryUndoCmd `cmd:"" help:"Reverse one transaction (the packages it changed go back; later changes to others stay)."`
	Redo HistoryRedoCmd `cmd:"" help:"Apply one transaction's changes again."`
}

// Help explains what the history holds.
func (HistoryCmd) Help() string {
	return `Every change grey makes to a root is one transaction, numbered from 1:
its time, command line, user, the requested ("world") set, the installed
packages before and after with their versions, and a hash of the managed
files after. "grey rollback N" returns the root to the state after
transaction N from the content store, without any repository.`
}

// HistoryListCmd lists the transactions.
type HistoryListCmd struct{}

// Run prints one line per transaction, or a JSON array with --json.
func (c *HistoryListCmd) Run(ctx context.Context, g *Globals) error {
	root, err := openView(ctx, g)
	if err != nil {
		return err
	}
	defer root.Close()
	hist, err := transaction.ReadHistory(root.DB)
	if err != nil {
		return err
	}
	sums := make([]transaction.HistorySummary, 0, len(hist))
	for _, e := range hist {
		sums = append(sums, transaction.Summarize(e))
	}
	if g.JSON {
		return cli.WriteJSON(g.Stdout, sums)
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tCOMMAND\tCHANGES")
	for _, s := range sums {
		cmd := s.Command
		if len(cmd) > 60 {
			cmd = cmd[:57] + "..." // history show N prints it whole
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.ID, s.Time.Format("2006-01-02 15:04:05"), cmd, changeCounts(s))
	}
	return tw.Flush()
}

func changeCounts(s transaction.HistorySummary) string {
	var parts []string
	for _, c := range []struct {
		n    int
		verb string
	}{{len(s.Installed), "installed"}, {len(s.Upgraded), "upgraded"}, {len(s.Downgraded), "downgraded"}, {len(s.Removed), "removed"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.verb))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no version changes")
	}
	if len(s.Failed) > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", len(s.Failed)))
	}
	return strings.Join(parts, ", ")
}

// HistoryShowCmd shows one transaction.
type HistoryShowCmd struct {
	ID uint64 `arg:"" help:"Transaction number."`
}

// Run prints the transaction's changes.
func (c *HistoryShowCmd) Run(ctx context.Context, g *Globals) error {
	root, err := openView(ctx, g)
	if err != nil {
		return err
	}
	defer root.Close()
	e, err := historyEntry(root, c.ID)
	if err != nil {
		return err
	}
	s := transaction.Summarize(e)
	if g.JSON {
		return cli.WriteJSON(g.Stdout, map[string]any{"summary": s, "before": e.Before, "after": e.After})
	}
	fmt.Fprintf(g.Stdout, "Transaction %d\nTime:      %s\nCommand:   %s\nUser:      %s\nTree hash: %s\nWorld:     %s\n",
		s.ID, s.Time.Format("2006-01-02 15:04:05 MST"), s.Command, s.User, s.TreeHash, strings.Join(s.World, " "))
	for _, grp := range []struct {
		title string
		l     []transaction.VersionChange
	}{{"Installed", s.Installed}, {"Upgraded", s.Upgraded}, {"Downgraded", s.Downgraded}, {"Removed", s.Removed}} {
		for _, v := range grp.l {
			switch {
			case v.OldVersion != "" && v.NewVersion != "":
				fmt.Fprintf(g.Stdout, "  %-10s %s %s -> %s\n", grp.title, v.Name, v.OldVersion, v.NewVersion)
			case v.NewVersion != "":
				fmt.Fprintf(g.Stdout, "  %-10s %s %s\n", grp.title, v.Name, v.NewVersion)
			default:
				fmt.Fprintf(g.Stdout, "  %-10s %s %s\n", grp.title, v.Name, v.OldVersion)
			}
		}
	}
	for _, f := range s.Failed {
		// The state dpkg -l would show, and what failed.
		state := f.Status
		if w := strings.Fields(f.Status); len(w) == 3 {
			state = w[2]
		}
		fmt.Fprintf(g.Stdout, "  %-10s %s left %s: %s\n", "Failed", f.Package, state, strings.SplitN(f.Error, "\n", 2)[0])
	}
	return nil
}

func historyEntry(root *transaction.Root, id uint64) (*pkgdb.HistoryEntry, error) {
	hist, err := transaction.ReadHistory(root.DB)
	if err != nil {
		return nil, err
	}
	for _, e := range hist {
		if e.ID == id {
			return e, nil
		}
	}
	return nil, &exitError{Code: cli.ExitNotFound, Err: fmt.Errorf("no transaction %d in the history of %s (it has %d)", id, root.Dir, len(hist))}
}

// commandLine is the command as the history records it.
func commandLine(g *Globals) []string {
	return append([]string{"grey"}, g.Args...)
}

// currentUser names who ran grey: the user sudo ran it for, else the
// process's user.
func currentUser() string {
	if s := os.Getenv("SUDO_USER"); s != "" {
		return s
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}
