package main

import (
	"github.com/alecthomas/kong"
	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/internal/clidoc"
	"github.com/greypm/grey/internal/config"
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
	return clidoc.ManPage(g.Stdout, k.Model, c.Date, cli.ExitStatuses(), manSections()...)
}

// ManSections are grey(1)'s CONFIGURATION and ENVIRONMENT sections, from
// the settings grey reads.
func manSections() []clidoc.Section {
	conf := clidoc.Section{Title: "Configuration", Intro: "ROOT/" + config.File + ", in apt.conf(5)'s syntax, holds defaults; -o NAME=VALUE sets one for a single command. " +
		"A command's flag wins over -o, -o over the file, the file over the built-in default. " +
		"Settings grey does not read are ignored in the file and refused with -o. " +
		"The network settings (Acquire::http::Proxy, Acquire::https::CAInfo, Acquire::http::Timeout, Acquire::Retries and others) are described in docs/repositories.md."}
	for _, s := range config.Settings() {
		text := s.Meaning + "; default " + s.Default
		if s.Flag != "" {
			text += "; the flag " + s.Flag + " wins over it"
		}
		conf.Items = append(conf.Items, clidoc.Item{Term: s.Name, Text: text})
	}
	env := clidoc.Section{Title: "Environment", Items: []clidoc.Item{
		{Term: "NO_COLOR", Text: "when set and not empty, no colour with --color=auto (the default)"},
		{Term: "http_proxy, https_proxy, no_proxy", Text: "proxies, where grey.conf names none"},
		{Term: "GREY_CORE", Text: "the path of grey-core, the whole tool, which grey runs for every command but show, search and policy"},
	}}
	return []clidoc.Section{conf, env}
}
