// Command grey-front is the program installed as grey, the one users run.
// It answers the read-only index queries (show, search, policy) itself and
// hands every other command line, unchanged, to the whole tool, grey-core,
// by exec.
//
// Why two programs: the whole tool links OpenPGP, HTTP, the SAT solver,
// bbolt and YAML, and a Go program runs every linked package's
// initialisation and touches its pages before main. That start-up alone
// (about 4 ms here) is more than half of what apt-cache show takes in all,
// while a query itself needs a few hundred microseconds. The front links
// only the index, so a query pays for what it uses; every other command pays
// one extra exec (about 2 ms), next to work measured in tenths of seconds.
// apt is split the same way (apt-cache, apt-get).
//
// grey-core is looked for at $GREY_CORE, then beside this program, then in
// ../lib/grey/ from it. grey-core on its own is the complete tool.
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/greypm/grey/internal/cli"
)

// frontCLI is the command tree of the queries; its flags and help are the
// whole tool's, from the same types.
type frontCLI struct {
	cli.Globals
	cli.Queries
}

// coreName is the file name of the whole tool.
const coreName = "grey-core"

func main() {
	args := os.Args[1:]
	if !cli.IsQuery(args) {
		os.Exit(execCore(args))
	}
	// No signal handler: a query changes nothing but the index cache,
	// which is written to a temporary file (named with the pid, so a later
	// run removes it) and renamed into place, so the default action of
	// SIGINT and SIGTERM is safe. Installing one would start two goroutines
	// and their threads, a quarter of a query's CPU time.
	var c frontCLI
	os.Exit(cli.Run(context.Background(), &c, &c.Globals, args, os.Stdin, os.Stdout, os.Stderr, time.Now))
}

// execCore replaces this process with grey-core; it returns only when that
// fails, with the status a shell gives a command it cannot run.
func execCore(args []string) int {
	core, err := findCore(os.Getenv("GREY_CORE"), os.Executable)
	if err != nil {
		fmt.Fprintf(os.Stderr, "grey: %v\n", err)
		return 127
	}
	argv := append([]string{os.Args[0]}, args...)
	err = syscall.Exec(core, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "grey: run %s: %v\n", core, err)
	return 126
}

// findCore returns the path of grey-core: env when set, else the first of
// the places beside the executable that holds a regular file.
func findCore(env string, executable func() (string, error)) (string, error) {
	if env != "" {
		return env, nil
	}
	exe, err := executable()
	if err != nil {
		return "", fmt.Errorf("find %s: %w", coreName, err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	dir := filepath.Dir(exe)
	candidates := []string{
		filepath.Join(dir, coreName),
		filepath.Join(dir, "..", "lib", "grey", coreName),
	}
	for _, c := range candidates {
		fi, err := os.Stat(c)
		if err == nil && fi.Mode().IsRegular() {
			return c, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("find %s: %w", coreName, err)
		}
	}
	return "", fmt.Errorf("this command needs %s, the whole tool, which is at none of %s and %s; GREY_CORE may name it (grey itself answers only show, search and policy)",
		coreName, candidates[0], candidates[1])
}
