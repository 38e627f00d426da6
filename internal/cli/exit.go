package cli

// The exit statuses of every grey command: docs/cli.md's table, the man
// page's EXIT STATUS section and the commands all use these.
const (
	// ExitOK is success (and, for compare-versions or distcheck, "yes").
	ExitOK = 0
	// ExitFailed is an operation that failed or was refused.
	ExitFailed = 1
	// ExitUsage is bad usage or bad input.
	ExitUsage = 2
	// ExitNotFound is what the command line names not existing or not
	// being had (a package, history entry, owner; an unsatisfiable
	// request), as apt-get and apt-cache exit.
	ExitNotFound = 100
)

// ExitStatuses returns the exit statuses with their meanings, one
// "CODE<TAB>meaning" line each, as the man page prints them.
func ExitStatuses() []string {
	return []string{
		"0\tsuccess; deb compare-versions: the relation holds; distcheck: every package installable",
		"1\tthe operation failed or was refused (a refused or failed source in update, a bad signature, a failed transaction); deb compare-versions: the relation does not hold; distcheck: some packages are not installable; check: some installed package's dependencies are unmet",
		"2\tbad usage or bad input: unknown flags, an invalid version, an unreadable or malformed file, no sources configured",
		"100\twhat the command line names does not exist or cannot be had (as apt-get and apt-cache): no such package, history entry or owner, a package not installed, an unsatisfiable request or one that would change a held package",
	}
}
