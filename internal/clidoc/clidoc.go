// Package clidoc writes grey's man page and shell completions from its kong
// model, so neither can drift from `--help`: a new command, flag or help
// text appears in both the next time they are generated (`make install`
// does).
//
// The man page is written here rather than with a man-page library: the ones
// for kong (mango, mango-kong) stamp the page with the current time, and an
// installed file that changes on every build is not reproducible. roff for
// one page is a handful of macros.
//
// Two tags of a flag's field say what kong's model cannot hold:
// also-short:"o" is a short form kong does not parse itself (grey turns -o
// into --option before parsing, since build has its own -o), written in the
// man page and offered by the completions; values:"auto,always,never" are
// the values the completions offer after the flag (kong's enum tag, when
// set, serves the same).
package clidoc

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/alecthomas/kong"
)

// command is one visible command of the model, with its path from the root.
type command struct {
	path []string
	node *kong.Node
}

// commands lists every visible command node under n, depth first, in the
// model's order.
func commands(n *kong.Node, path []string) []command {
	var out []command
	for _, c := range n.Children {
		if c.Hidden || c.Type != kong.CommandNode {
			continue
		}
		p := append(append([]string{}, path...), c.Name)
		out = append(out, command{p, c})
		out = append(out, commands(c, p)...)
	}
	return out
}

// flags returns n's own visible flags (not its parents').
func flags(n *kong.Node) []*kong.Flag {
	var out []*kong.Flag
	for _, f := range n.Flags {
		if !f.Hidden {
			out = append(out, f)
		}
	}
	return out
}

func flagNames(f *kong.Flag) []string {
	names := []string{"--" + f.Name}
	if f.Short != 0 {
		names = append(names, "-"+string(f.Short))
	}
	if s := alsoShort(f); s != "" {
		names = append(names, "-"+s)
	}
	for _, a := range f.Aliases {
		names = append(names, "--"+a)
	}
	if f.IsBool() && f.Tag != nil && f.Tag.Negatable != "" {
		names = append(names, "--no-"+f.Name)
	}
	return names
}

// alsoShort is f's short form outside kong's model (the also-short tag),
// or "".
func alsoShort(f *kong.Flag) string {
	if f.Tag == nil {
		return ""
	}
	return f.Tag.Get("also-short")
}

// flagValues returns the values the completions offer after f: its kong
// enum, else its values tag.
func flagValues(f *kong.Flag) []string {
	if f.Enum != "" {
		return f.EnumSlice()
	}
	if f.Tag == nil || f.Tag.Get("values") == "" {
		return nil
	}
	return strings.Split(f.Tag.Get("values"), ",")
}

// valueFlags returns, for every visible flag of the model that has values
// to complete, its names written with dashes ("--color", "--colour"), in the
// model's order.
func valueFlags(app *kong.Application) (names [][]string, values [][]string) {
	seen := map[*kong.Flag]bool{}
	visit := func(n *kong.Node) {
		for _, f := range flags(n) {
			if vs := flagValues(f); len(vs) > 0 && !seen[f] {
				seen[f] = true
				names = append(names, flagNames(f))
				values = append(values, vs)
			}
		}
	}
	visit(app.Node)
	for _, c := range commands(app.Node, nil) {
		visit(c.node)
	}
	return names, values
}

// caseBoth is a bash case pattern over "PREV:PREVPREV" that matches when
// the word being completed is the value of one of the flags named (a
// pattern "--color|--colour"): after the flag, or after its "=".
func caseBoth(names string) string {
	var ps []string
	for _, n := range strings.Split(names, "|") {
		ps = append(ps, n+":*", "=:"+n)
	}
	return strings.Join(ps, "|")
}

// eqPattern is a case pattern matching NAME=... for the flags named.
func eqPattern(names string) string {
	var ps []string
	for _, n := range strings.Split(names, "|") {
		ps = append(ps, n+"=*")
	}
	return strings.Join(ps, "|")
}

// subcommandNames returns the visible child command names of n (aliases
// included), sorted.
func subcommandNames(n *kong.Node) []string {
	var out []string
	for _, c := range n.Children {
		if c.Hidden || c.Type != kong.CommandNode {
			continue
		}
		out = append(out, c.Name)
		out = append(out, c.Aliases...)
	}
	sort.Strings(out)
	return out
}

// roffEscape makes text safe in a roff body line: backslashes doubled, a
// leading dot or quote protected, hyphens as minus signs where they are
// options.
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'") {
			line = `\&` + line
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// ManPage writes grey(1) in roff: name, synopsis, the description, the
// global options, then every command with its arguments, flags and
// detailed help, and the exit status table given by exitStatus (lines of
// "CODE<TAB>meaning"). date is the page's date (from the build, so the page
// is reproducible).
//
// extra are sections printed after the commands (CONFIGURATION,
// ENVIRONMENT).
func ManPage(w io.Writer, app *kong.Application, date string, exitStatus []string, extra ...Section) error {
	var b strings.Builder
	name := app.Name
	help := strings.TrimSpace(app.Help)
	fmt.Fprintf(&b, ".TH %s 1 %q %q %q\n", strings.ToUpper(name), date, name, "grey manual")
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", name, roffEscape(strings.TrimSuffix(help, ".")))
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGUMENTS\\fR]\n", name)
	fmt.Fprintf(&b, ".SH DESCRIPTION\n%s\n", roffEscape(help))
	if d := strings.TrimSpace(app.Detail); d != "" {
		fmt.Fprintf(&b, ".PP\n%s\n", roffEscape(d))
	}
	b.WriteString(".SH GLOBAL OPTIONS\n")
	writeFlags(&b, flags(app.Node))
	b.WriteString(".SH COMMANDS\n")
	for _, c := range commands(app.Node, nil) {
		if len(c.node.Children) > 0 && c.node.DefaultCmd == nil && len(c.node.Positional) == 0 && len(flags(c.node)) == 0 {
			// A group such as "repo": its commands follow, each with its
			// own entry.
			fmt.Fprintf(&b, ".SS %s\n%s\n", roffEscape(strings.Join(c.path, " ")), roffEscape(c.node.Help))
			continue
		}
		fmt.Fprintf(&b, ".SS %s\n", roffEscape(strings.Join(c.path, " ")+positionalSummary(c.node)))
		b.WriteString(roffEscape(c.node.Help) + "\n")
		if d := strings.TrimSpace(c.node.Detail); d != "" {
			fmt.Fprintf(&b, ".PP\n%s\n", roffEscape(d))
		}
		if fs := flags(c.node); len(fs) > 0 {
			b.WriteString(".PP\nOptions:\n")
			writeFlags(&b, fs)
		}
	}
	for _, sec := range extra {
		fmt.Fprintf(&b, ".SH %s\n", roffEscape(strings.ToUpper(sec.Title)))
		if sec.Intro != "" {
			b.WriteString(roffEscape(sec.Intro) + "\n")
		}
		for _, it := range sec.Items {
			fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", roffEscape(it.Term), roffEscape(it.Text))
		}
	}
	if len(exitStatus) > 0 {
		b.WriteString(".SH EXIT STATUS\n")
		for _, line := range exitStatus {
			code, meaning, _ := strings.Cut(line, "\t")
			fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", roffEscape(code), roffEscape(meaning))
		}
	}
	b.WriteString(".SH SEE ALSO\n.BR apt (8),\n.BR apt\\-get (8),\n.BR dpkg (1),\n.BR sources.list (5)\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Section is a man page section of prose and tagged paragraphs.
type Section struct {
	Title string
	Intro string
	Items []Item
}

// Item is one tagged paragraph: a term in bold, then its text.
type Item struct {
	Term, Text string
}

func positionalSummary(n *kong.Node) string {
	var s string
	for _, p := range n.Positional {
		arg := strings.ToUpper(p.Name)
		if p.IsCumulative() {
			arg += "..."
		}
		if !p.Required {
			arg = "[" + arg + "]"
		}
		s += " " + arg
	}
	return s
}

func writeFlags(b *strings.Builder, fs []*kong.Flag) {
	for _, f := range fs {
		names := strings.Join(flagNames(f), ", ")
		if !f.IsBool() && !f.IsCounter() {
			ph := f.FormatPlaceHolder()
			names += " " + ph
		}
		fmt.Fprintf(b, ".TP\n.B %s\n%s\n", roffEscape(names), roffEscape(f.Help))
	}
}

// Completion writes a completion script for shell ("bash", "zsh" or
// "fish") that completes grey's commands, subcommands and flags at every
// level, from the model.
func Completion(w io.Writer, app *kong.Application, shell string) error {
	switch shell {
	case "bash":
		return bash(w, app)
	case "zsh":
		return zsh(w, app)
	case "fish":
		return fish(w, app)
	}
	return fmt.Errorf("no completion for shell %q (bash, zsh, fish)", shell)
}

// levels returns, for the root and every command with children or flags,
// its path joined by spaces ("" for the root), the words that may follow
// it (subcommands and flags, the globals included everywhere since kong
// accepts them after the command).
func levels(app *kong.Application) (paths []string, words map[string][]string) {
	global := flags(app.Node)
	var globalWords []string
	for _, f := range global {
		globalWords = append(globalWords, flagNames(f)...)
	}
	words = map[string][]string{}
	add := func(path string, n *kong.Node) {
		ws := append([]string{}, subcommandNames(n)...)
		if n != app.Node {
			for _, f := range flags(n) {
				ws = append(ws, flagNames(f)...)
			}
		}
		for _, g := range globalWords {
			if !slices.Contains(ws, g) {
				ws = append(ws, g)
			}
		}
		words[path] = ws
		paths = append(paths, path)
	}
	add("", app.Node)
	for _, c := range commands(app.Node, nil) {
		add(strings.Join(c.path, " "), c.node)
		for _, a := range c.node.Aliases {
			alias := append(append([]string{}, c.path[:len(c.path)-1]...), a)
			add(strings.Join(alias, " "), c.node)
		}
	}
	return paths, words
}

// shellDialect is what bash's and zsh's completion functions write
// differently; both walk the words typed so far the same way to find the
// command path, then offer that path's words.
type shellDialect struct {
	header  string // the file's first lines
	first   string // index of the first word after the program name
	word    string // the i-th word typed
	current string // the index of the word being completed
	declare string // declares the candidates variable
	assign  func(words []string) string
	// values offers a flag's values (the words given) when the word
	// being completed is that flag's value; names are the flag's
	// spellings as a case pattern ("--color|--colour").
	values func(names string, values []string) string
	finish string // hands the candidates to the shell
	footer string // registers the function
}

func bash(w io.Writer, app *kong.Application) error {
	return posixCompletion(w, app, shellDialect{
		header:  fmt.Sprintf("# bash completion for %s, generated from its command model.\n", app.Name),
		first:   "1",
		word:    "${COMP_WORDS[i]}",
		current: "COMP_CWORD",
		declare: "local words",
		assign:  func(ws []string) string { return fmt.Sprintf("words=%q", strings.Join(ws, " ")) },
		// bash splits --color=al into "--color" "=" "al".
		values: func(names string, vs []string) string {
			return fmt.Sprintf("    case \"${COMP_WORDS[COMP_CWORD-1]}:${COMP_WORDS[COMP_CWORD-2]}\" in\n"+
				"        %s) COMPREPLY=($(compgen -W %q -- \"${COMP_WORDS[COMP_CWORD]}\")); return ;;\n    esac\n",
				caseBoth(names), strings.Join(vs, " "))
		},
		finish: "    local cur=\"${COMP_WORDS[COMP_CWORD]}\"\n" +
			"    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n" +
			"    if [ ${#COMPREPLY[@]} -eq 0 ]; then COMPREPLY=($(compgen -f -- \"$cur\")); fi\n",
		footer: fmt.Sprintf("complete -F _%s %s\n", app.Name, app.Name),
	})
}

func zsh(w io.Writer, app *kong.Application) error {
	return posixCompletion(w, app, shellDialect{
		header:  fmt.Sprintf("#compdef %s\n# zsh completion for %s, generated from its command model.\n", app.Name, app.Name),
		first:   "2",
		word:    "${words[i]}",
		current: "CURRENT",
		declare: "local -a candidates",
		assign:  func(ws []string) string { return "candidates=(" + strings.Join(ws, " ") + ")" },
		values: func(names string, vs []string) string {
			return fmt.Sprintf("    case \"${words[CURRENT-1]}\" in\n        %s) compadd %s; return ;;\n    esac\n", names, strings.Join(vs, " ")) +
				fmt.Sprintf("    case \"${words[CURRENT]}\" in\n        %s) compadd -P \"${words[CURRENT]%%%%=*}=\" %s; return ;;\n    esac\n",
					eqPattern(names), strings.Join(vs, " "))
		},
		finish: "    compadd -a candidates\n    _files\n",
		footer: fmt.Sprintf("compdef _%s %s\n", app.Name, app.Name),
	})
}

// posixCompletion writes a completion function for a shell of sh's
// dialect: the command path is found by matching the non-flag words typed
// so far against the model's paths, then that level's words are offered.
func posixCompletion(w io.Writer, app *kong.Application, sh shellDialect) error {
	paths, words := levels(app)
	var b strings.Builder
	b.WriteString(sh.header)
	fmt.Fprintf(&b, "_%s() {\n", app.Name)
	names, values := valueFlags(app)
	for i := range names {
		b.WriteString(sh.values(strings.Join(names[i], "|"), values[i]))
	}
	b.WriteString("    local cmdpath word i\n")
	b.WriteString("    cmdpath=\"\"\n")
	fmt.Fprintf(&b, "    for ((i = %s; i < %s; i++)); do\n", sh.first, sh.current)
	fmt.Fprintf(&b, "        word=\"%s\"\n", sh.word)
	b.WriteString("        [[ $word == -* ]] && continue\n")
	b.WriteString("        case \"${cmdpath:+$cmdpath }$word\" in\n")
	for _, p := range paths {
		if p == "" {
			continue
		}
		fmt.Fprintf(&b, "            %q) cmdpath=%q ;;\n", p, p)
	}
	b.WriteString("        esac\n")
	b.WriteString("    done\n")
	fmt.Fprintf(&b, "    %s\n", sh.declare)
	b.WriteString("    case \"$cmdpath\" in\n")
	for _, p := range paths {
		fmt.Fprintf(&b, "        %q) %s ;;\n", p, sh.assign(words[p]))
	}
	b.WriteString("    esac\n")
	b.WriteString(sh.finish)
	b.WriteString("}\n")
	b.WriteString(sh.footer)
	_, err := io.WriteString(w, b.String())
	return err
}

func fish(w io.Writer, app *kong.Application) error {
	var b strings.Builder
	name := app.Name
	fmt.Fprintf(&b, "# fish completion for %s, generated from its command model.\n", name)
	for _, f := range flags(app.Node) {
		b.WriteString(fishFlag(name, "", f))
	}
	// Top-level commands: offered while no command has been given yet.
	top := subcommandNames(app.Node)
	for _, c := range app.Node.Children {
		if c.Hidden || c.Type != kong.CommandNode {
			continue
		}
		fmt.Fprintf(&b, "complete -c %s -n %q -a %s -d %s\n", name, "not __fish_seen_subcommand_from "+strings.Join(top, " "), fishQuote(c.Name), fishQuote(c.Help))
	}
	for _, c := range commands(app.Node, nil) {
		cond := "__fish_seen_subcommand_from " + c.node.Name
		if subs := subcommandNames(c.node); len(subs) > 0 {
			for _, s := range c.node.Children {
				if s.Hidden || s.Type != kong.CommandNode {
					continue
				}
				fmt.Fprintf(&b, "complete -c %s -n %q -a %s -d %s\n", name, cond+"; and not __fish_seen_subcommand_from "+strings.Join(subs, " "), fishQuote(s.Name), fishQuote(s.Help))
			}
		}
		for _, f := range flags(c.node) {
			b.WriteString(fishFlag(name, cond, f))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fishFlag(name, cond string, f *kong.Flag) string {
	s := "complete -c " + name
	if cond != "" {
		s += fmt.Sprintf(" -n %q", cond)
	}
	s += " -l " + f.Name
	if f.Short != 0 {
		s += " -s " + string(f.Short)
	}
	if a := alsoShort(f); a != "" && f.Short == 0 {
		s += " -s " + a
	}
	for _, a := range f.Aliases {
		s += " -l " + a
	}
	if vs := flagValues(f); len(vs) > 0 {
		s += " -x -a " + fishQuote(strings.Join(vs, " "))
	} else if !f.IsBool() && !f.IsCounter() {
		s += " -r"
	}
	return s + " -d " + fishQuote(f.Help) + "\n"
}

func fishQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}
