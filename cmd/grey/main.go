// Command grey is a binary package manager for Debian-format packages: it
// resolves dependencies with a SAT solver, changes roots in atomic
// transactions, and composes reproducible image roots.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/greypm/grey/internal/cli"
)

// Globals are the flags every command takes (package cli, which the front
// binary shares).
type Globals = cli.Globals

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
	// SolverTest: the resolver test harness (solvertest.go).
	SolverTest SolverTestCmd `cmd:"" name:"solver-test" help:"Run a corpus of EDSP scenarios through EDSP solvers, check every answer and print one table."`
	Update     UpdateCmd     `cmd:"" help:"Fetch and verify the package lists of every source."`
	Mirror     MirrorCmd     `cmd:"" help:"Keep verified, snapshotted mirrors of Debian archives (see docs/mirror.md)."`
	// Show, Search and Policy: the read-only queries the front binary
	// answers itself.
	cli.Queries
	List ListCmd `cmd:"" help:"List available packages (as apt list)."`
	Why  WhyCmd  `cmd:"" help:"Explain why a package is (or would be) installed: the chain of relations from a requested package."`

	Install     InstallCmd     `cmd:"" help:"Install packages (names or ./FILE.deb) with their dependencies."`
	Remove      RemoveCmd      `cmd:"" help:"Remove packages (--purge: with their conffiles)."`
	Upgrade     UpgradeCmd     `cmd:"" help:"Upgrade installed packages without removing any."`
	FullUpgrade FullUpgradeCmd `cmd:"" name:"full-upgrade" help:"Upgrade everything, removing packages where needed."`
	Autoremove  AutoremoveCmd  `cmd:"" help:"Remove automatically installed packages that nothing needs."`
	Installed   InstalledCmd   `cmd:"" help:"List installed packages (--upgradable: those with a newer version)."`
	Files       FilesCmd       `cmd:"" help:"List the files an installed package owns."`
	Owns        OwnsCmd        `cmd:"" help:"Name the packages that own a path."`
	Verify      VerifyCmd      `cmd:"" help:"Check installed files against the database."`
	Audit       AuditCmd       `cmd:"" help:"Report packages left unpacked, half-configured or half-installed (as dpkg --audit)."`
	Arch        ArchCmd        `cmd:"" help:"List, add and remove the root's architectures (dpkg's var/lib/dpkg/arch)."`
	Configure   ConfigureCmd   `cmd:"" help:"Configure packages left unpacked or half-configured (as dpkg --configure --pending)."`
	Mark        MarkCmd        `cmd:"" help:"Mark packages as automatically or manually installed."`
	History     HistoryCmd     `cmd:"" help:"List and show transactions."`
	Gc          GcCmd          `cmd:"" help:"Free contents of the content store that no kept transaction needs."`
	Rollback    RollbackCmd    `cmd:"" help:"Return the root to the state after a transaction, offline."`

	Image ImageCmd `cmd:"" help:"Compose reproducible root file systems (directory, tar, OCI) from a spec and a lock."`
	App   AppCmd   `cmd:"" help:"Per-app roots: install, run, roll back and remove applications in their own Debian roots (docs/apps.md)."`

	Download  DownloadCmd  `cmd:"" help:"Download packages' .deb files into the current directory (as apt-get download)."`
	Clean     CleanCmd     `cmd:"" help:"Delete every downloaded package file from the cache (as apt-get clean)."`
	Autoclean AutocleanCmd `cmd:"" help:"Delete the cached package files no source offers any more (as apt-get autoclean)."`
	Check     CheckCmd     `cmd:"" help:"Report installed packages whose dependencies, conflicts or breaks do not hold (as apt-get check)."`
	Depends   DependsCmd   `cmd:"" help:"List a package's relations (as apt-cache depends)."`
	Rdepends  RdependsCmd  `cmd:"" help:"List the packages whose relations name a package (as apt-cache rdepends)."`

	Completion CompletionCmd `cmd:"" help:"Print a shell completion script (bash, zsh, fish)."`
	Manpage    ManpageCmd    `cmd:"" hidden:"" help:"Print the grey(1) man page in roff."`
}

// exitError carries a process exit status through kong's Run chain.
type exitError = cli.ExitError

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, time.Now)
	stop()
	os.Exit(code)
}

// run parses args and runs one command; it returns the process exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, now func() time.Time) int {
	var c CLI
	return cli.Run(ctx, &c, &c.Globals, args, stdin, stdout, stderr, now)
}
