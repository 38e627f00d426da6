package main

import (
	"github.com/alecthomas/kong"
	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/internal/clidoc"
)

// CompletionCmd prints a shell completion script made from the command
// model.
type CompletionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"The shell: bash, zsh or fish."`
}

// Help explains where the script goes.
func (CompletionCmd) Help() string {
	return `Prints a completion script for grey's commands and flags. make install puts
them where each shell looks (bash-completion, zsh site-functions, fish
vendor_completions.d); to try one at once: source <(grey completion bash).`
}

// Run writes the script.
func (c *CompletionCmd) Run(g *Globals, k *kong.Context) error {
	return clidoc.Completion(g.Stdout, k.Model, c.Shell)
}

// ManpageCmd prints grey(1), made from the command model; make install
// installs it.
type ManpageCmd struct {
	Date string `help:"The date printed on the page (make install passes the last commit's date, so the page is reproducible)." placeholder:"YYYY-MM-DD"`
}

// Run writes the page.
func (c *ManpageCmd) Run(g *Globals, k *kong.Context) error {
	return clidoc.ManPage(g.Stdout, k.Model, c.Date, cli.ExitStatuses())
}
