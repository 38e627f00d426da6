// Command grey is a binary package manager for Debian-format packages: it
// resolves dependencies with a SAT solver, changes roots in atomic
// transactions, and composes reproducible image roots.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
)

// Globals are the flags every command takes.
type Globals struct {
	Root    string   `help:"Operate on the root file system at DIR." default:"/" type:"path" placeholder:"DIR"`
	JSON    bool     `name:"json" help:"Print machine-readable JSON instead of tables."`
	Sources []string `name:"source" help:"Use this source line instead of the configured ones (repeatable)." placeholder:"LINE"`
	Yes     bool     `short:"y" name:"yes" help:"Answer yes to the confirmation prompt."`
	DryRun  bool     `name:"dry-run" help:"Show what would be done without changing anything."`

	// Stdout and Stderr are where commands write; tests replace them.
	Stdout io.Writer `kong:"-"`
	Stderr io.Writer `kong:"-"`
	Stdin  io.Reader `kong:"-"`
	// Now is the clock; tests inject a fixed one.
	Now func() time.Time `kong:"-"`
	// Args is the command line after the program name, for the history.
	Args []string `kong:"-"`
}

// CLI is the whole command tree. Each command group lives in its own file.
type CLI struct {
	Globals

	Version   VersionCmd   `cmd:"" help:"Print grey's version."`
	Build     BuildCmd     `cmd:"" help:"Build a .deb from a directory tree (as dpkg-deb --build), reproducibly."`
	Deb       DebCmd       `cmd:"" help:"Inspect .deb files and compare versions (as dpkg-deb and dpkg --compare-versions)."`
	Key       KeyCmd       `cmd:"" help:"Make repository signing keys."`
	Repo      RepoCmd      `cmd:"" help:"Publish signed repositories that apt and grey can use."`
	Solve     SolveCmd     `cmd:"" help:"Answer an apt EDSP dependency problem on stdin (grey as an apt external solver)."`
	Distcheck DistcheckCmd `cmd:"" help:"Report the packages of an index that cannot be installed (as dose-distcheck)."`
	Update    UpdateCmd    `cmd:"" help:"Fetch and verify the package lists of every source."`
	Show      ShowCmd      `cmd:"" help:"Show the available versions of packages (as apt-cache show)."`
	Search    SearchCmd    `cmd:"" help:"Search package names and descriptions (as apt-cache search)."`
	List      ListCmd      `cmd:"" help:"List available packages (as apt list)."`
	Policy    PolicyCmd    `cmd:"" help:"Show the candidate and every available version of packages (as apt-cache policy)."`
	Why       WhyCmd       `cmd:"" help:"Explain why a package is (or would be) installed: the chain of relations from a requested package."`

	Install     InstallCmd     `cmd:"" help:"Install packages (names or ./FILE.deb) with their dependencies."`
	Remove      RemoveCmd      `cmd:"" help:"Remove packages (--purge: with their conffiles)."`
	Upgrade     UpgradeCmd     `cmd:"" help:"Upgrade installed packages without removing any."`
	FullUpgrade FullUpgradeCmd `cmd:"" name:"full-upgrade" help:"Upgrade everything, removing packages where needed."`
	Autoremove  AutoremoveCmd  `cmd:"" help:"Remove automatically installed packages that nothing needs."`
	Installed   InstalledCmd   `cmd:"" help:"List installed packages (--upgradable: those with a newer version)."`
	Files       FilesCmd       `cmd:"" help:"List the files an installed package owns."`
	Owns        OwnsCmd        `cmd:"" help:"Name the packages that own a path."`
	Verify      VerifyCmd      `cmd:"" help:"Check installed files against the database."`
	Mark        MarkCmd        `cmd:"" help:"Mark packages as automatically or manually installed."`
	History     HistoryCmd     `cmd:"" help:"List and show transactions."`
	Gc          GcCmd          `cmd:"" help:"Free contents of the content store that no kept transaction needs."`
	Rollback    RollbackCmd    `cmd:"" help:"Return the root to the state after a transaction, offline."`

	Image ImageCmd `cmd:"" help:"Compose reproducible root file systems (directory, tar, OCI) from a spec and a lock."`
}

// exitError carries a process exit status through kong's Run chain.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, time.Now)
	stop()
	os.Exit(code)
}

// run parses args and runs one command; it returns the process exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, now func() time.Time) int {
	var cli CLI
	cli.Stdout, cli.Stderr, cli.Stdin, cli.Now, cli.Args = stdout, stderr, stdin, now, args
	exit := -1
	parser, err := kong.New(&cli,
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
	code := parseAndRun(parser, &cli, args, stderr)
	if exit >= 0 {
		return exit
	}
	return code
}

// exitSentinel unwinds kong's Exit hook (after --help) back to run.
type exitSentinel struct{}

func parseAndRun(parser *kong.Kong, cli *CLI, args []string, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(exitSentinel); !ok {
				panic(r)
			}
		}
	}()
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "grey: %v\n", err)
		return 2
	}
	if err := kctx.Run(&cli.Globals); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintf(stderr, "grey: %v\n", ee.err)
			}
			return ee.code
		}
		fmt.Fprintf(stderr, "grey: %v\n", err)
		return 1
	}
	return 0
}
