// Package cli is grey's command-line layer that both of its binaries share:
// the global flags, exit statuses, how a command line is parsed and run, and
// the read-only index commands (show, policy, search).
//
// grey is two programs (see docs/architecture.md): bin/grey, a small front
// that answers the read-only queries itself, and bin/grey-core, the whole
// tool, which the front execs for every other command. The front links only
// this package and what the index needs, so a query starts in a fraction of
// the time the whole tool takes just to start.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/alecthomas/kong"
	"github.com/greypm/grey/internal/config"
	"github.com/greypm/grey/repo/sources"
)

// Globals are the flags every command takes.
type Globals struct {
	Root    string   `help:"Operate on the root file system at DIR." default:"/" type:"path" placeholder:"DIR"`
	JSON    bool     `name:"json" help:"Print machine-readable JSON instead of tables."`
	Sources []string `name:"source" sep:"none" help:"Use this source line instead of the configured ones (repeatable)." placeholder:"LINE"`
	Yes     bool     `short:"y" name:"yes" aliases:"assume-yes" help:"Answer yes to the confirmation prompt (--assume-yes as in apt-get)."`
	DryRun  bool     `name:"dry-run" short:"s" aliases:"simulate,just-print,no-act,recon" help:"Show what would be done without changing anything (-s, --simulate, --just-print, --no-act, --recon as in apt-get)."`
	// Options are -o NAME=VALUE settings, over grey.conf's (apt's -o).
	// -o is its short form (Reorder: not in the model, because build and
	// image build have their own -o).
	Options []string `name:"option" also-short:"o" sep:"none" help:"Set a configuration setting for this command, over ROOT/etc/grey/grey.conf (-o NAME=VALUE, as apt's -o; apt's names, e.g. APT::Install-Recommends=false)." placeholder:"NAME=VALUE"`
	// Quiet is apt's -q: any level omits progress indicators.
	Quiet int `short:"q" name:"quiet" type:"counter" help:"Omit progress indicators, for logs (-q; -qq is the same in grey, and unlike apt's does not imply -y); the default is grey.conf's quiet."`
	// Color is auto, always or never ("" when not given).
	Color string `name:"color" aliases:"colour" values:"auto,always,never" help:"Colour the output: auto (on a terminal, unless NO_COLOR is set), always or never; the default is grey.conf's APT::Color, else auto." placeholder:"WHEN"`
	// TargetRelease is apt's -t (APT::Default-Release).
	TargetRelease string `name:"target-release" short:"t" aliases:"default-release" help:"Prefer the versions of this release (a suite or codename: priority 990), as apt's -t." placeholder:"RELEASE"`
	// ShowVersion is --version (the field has another name because the
	// whole tool also has a version command).
	ShowVersion VersionFlag `name:"version" help:"Print grey's version and exit."`

	// Stdout and Stderr are where commands write; tests replace them.
	Stdout io.Writer `kong:"-"`
	Stderr io.Writer `kong:"-"`
	Stdin  io.Reader `kong:"-"`
	// Now is the clock; tests inject a fixed one.
	Now func() time.Time `kong:"-"`
	// Args is the command line after the program name, for the history.
	Args []string `kong:"-"`
	// Getenv reads the environment (NO_COLOR); tests replace it.
	Getenv func(string) string `kong:"-"`
	// Terminal reports whether a writer is a terminal (progress and
	// colour are drawn only there); nil is IsTerminal. Tests replace it.
	Terminal func(io.Writer) bool `kong:"-"`

	// cfg is grey.conf with the -o settings over it (settle).
	cfg *config.Config
}

// ExitError carries a process exit status through kong's Run chain.
type ExitError struct {
	// Code is the exit status.
	Code int
	// Err is printed after "grey: " unless nil.
	Err error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// CommandSources returns the --source lines when given, else the sources
// configured in the root.
func CommandSources(g *Globals) ([]*sources.Source, error) {
	if len(g.Sources) == 0 {
		return sources.Load(g.Root)
	}
	var out []*sources.Source
	for _, line := range g.Sources {
		s, err := sources.Parse(line)
		if err != nil {
			return nil, &ExitError{Code: 2, Err: fmt.Errorf("--source %q: %w", line, err)}
		}
		out = append(out, s)
	}
	return out, nil
}

// WriteJSON prints v as indented JSON, the form every --json output takes.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Run parses args into the command tree cli (a pointer to a struct that
// embeds Globals, which g points to), runs the chosen command, and returns
// the process exit status: 0, the status of an ExitError, 1 for any other
// error, 2 for a command line kong refuses.
func Run(ctx context.Context, cli any, g *Globals, args []string, stdin io.Reader, stdout, stderr io.Writer, now func() time.Time) int {
	g.Stdout, g.Stderr, g.Stdin, g.Now, g.Args = stdout, stderr, stdin, now, args
	if g.Getenv == nil {
		g.Getenv = os.Getenv
	}
	exit := -1
	parser, err := kong.New(cli,
		kong.Name("grey"),
		kong.Description("A binary package manager for Debian-format packages."),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Writers(stdout, stderr),
		kong.Exit(func(c int) { exit = c; panic(exitSentinel{}) }),
		kong.BindTo(ctx, (*context.Context)(nil)),
	)
	if err != nil {
		fmt.Fprintf(stderr, "grey: %v\n", err)
		return 2
	}
	code := parseAndRun(parser, g, args, stderr)
	if exit >= 0 {
		return exit
	}
	return code
}

// exitSentinel unwinds kong's Exit hook (after --help) back to run.
type exitSentinel struct{}

func parseAndRun(parser *kong.Kong, g *Globals, args []string, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(exitSentinel); !ok {
				panic(r)
			}
		}
	}()
	kctx, err := parser.Parse(Reorder(parser.Model, args))
	if err != nil {
		fmt.Fprintf(stderr, "grey: %v\n", err)
		return 2
	}
	if err := g.settle(); err != nil {
		fmt.Fprintf(stderr, "grey: %v\n", err)
		return ExitUsage
	}
	if err := kctx.Run(g); err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			if ee.Err != nil {
				fmt.Fprintf(stderr, "grey: %v\n", ee.Err)
			}
			return ee.Code
		}
		fmt.Fprintf(stderr, "grey: %v\n", err)
		return 1
	}
	return 0
}
