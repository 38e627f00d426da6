package cli

import (
	"strings"

	"github.com/alecthomas/kong"
)

// Reorder lets a command's own options come before the command, as apt
// takes them (`grey --no-scripts install x`): kong accepts the global flags
// anywhere but a command's flags only after it, so Reorder moves every
// option before the command that is not a global flag to just after the
// command's words (`install`, `mirror sync`), keeping their order and
// their values. It reads app's model only; a flag no command has is left
// where it is, for kong to name. After "--" nothing moves.
func Reorder(app *kong.Application, args []string) []string {
	out, node, end := reorder(app, args)
	return optionShort(node, out, end)
}

// SettingShort is apt's short form of --option (-o NAME=VALUE). It is not
// in the kong model, because build and image build have their own -o (the
// output); optionShort turns it into --option.
const SettingShort = "-o"

// optionShort turns every -o before "--" into --option, except where the
// command (node, nil when none was found) has its own -o and the value is
// not a setting (a NAME with "::", "=", a VALUE): "build dir -o x.deb"
// stays, "build dir -o APT::Color=0" is the option.
//
// A command with passthrough arguments (app run NAME ARGS...) gets its
// arguments as they are: nothing is turned after its first argument
// (end is the index after the command's words in args).
func optionShort(node *kong.Node, args []string, end int) []string {
	own, passthrough := false, false
	for n := node; n != nil && !own; n = n.Parent {
		for _, f := range n.Flags {
			own = own || f.Short == 'o'
		}
	}
	if node != nil {
		for _, p := range node.Positional {
			passthrough = passthrough || p.Passthrough || p.PassthroughMode != kong.PassThroughModeNone
		}
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || passthrough && i >= end && !strings.HasPrefix(a, "-") {
			return append(out, args[i:]...)
		}
		if !strings.HasPrefix(a, SettingShort) || strings.HasPrefix(a, "--") {
			out = append(out, a)
			continue
		}
		v, next := a[2:], false
		if v == "" && i+1 < len(args) {
			v, next = args[i+1], true
		}
		if own && !looksLikeSetting(v) {
			out = append(out, a)
			continue
		}
		out = append(out, "--option="+v)
		if next {
			i++
		}
	}
	return out
}

// looksLikeSetting reports whether v is NAME=VALUE with a "::" in NAME, as
// every setting grey reads has.
func looksLikeSetting(v string) bool {
	name, _, ok := strings.Cut(v, "=")
	return ok && strings.Contains(name, "::")
}

func reorder(app *kong.Application, args []string) (out []string, node *kong.Node, end int) {
	global := flagIndex(app.Flags)
	if f := global["--option"]; f != nil {
		global[SettingShort] = f
	}
	every := map[string]*kong.Flag{}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for k, f := range flagIndex(n.Flags) {
			if _, ok := every[k]; !ok {
				every[k] = f
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	for _, c := range app.Children {
		walk(c)
	}

	var kept, moved []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || a == "-" || !strings.HasPrefix(a, "-") {
			if a != "--" && a != "-" {
				// The command: its words, then the moved options.
				node = child(app.Node, a)
				if node == nil {
					return args, nil, len(args)
				}
				out = append(append([]string(nil), kept...), a)
				j := i + 1
				for ; j < len(args); j++ {
					next := child(node, args[j])
					if next == nil {
						break
					}
					out = append(out, args[j])
					node = next
				}
				end = len(out)
				out = append(out, moved...)
				return append(out, args[j:]...), node, end
			}
			return args, nil, len(args)
		}
		key, inline := flagKey(a)
		f, isGlobal := global[key]
		if !isGlobal {
			f = every[key]
		}
		n := 1 // the flag and, unless it is a switch or has =VALUE, its value
		if f != nil && !f.IsBool() && !f.IsCounter() && !inline && i+1 < len(args) {
			n = 2
		}
		if f == nil || isGlobal {
			kept = append(kept, args[i:i+n]...)
		} else {
			moved = append(moved, args[i:i+n]...)
		}
		i += n - 1
	}
	return args, nil, len(args)
}

// flagKey returns how a flag argument names its flag ("--jobs" for
// "--jobs=3", "-o" for "-oA=B") and whether the value is in the argument.
func flagKey(a string) (key string, inline bool) {
	if strings.HasPrefix(a, "--") {
		if k, _, ok := strings.Cut(a, "="); ok {
			return k, true
		}
		return a, false
	}
	return a[:2], len(a) > 2
}

// flagIndex maps every spelling of the flags ("--name", "--alias", "-x")
// to its flag.
func flagIndex(flags []*kong.Flag) map[string]*kong.Flag {
	m := map[string]*kong.Flag{}
	for _, f := range flags {
		m["--"+f.Name] = f
		for _, a := range f.Aliases {
			m["--"+a] = f
		}
		if f.Short != 0 {
			m["-"+string(f.Short)] = f
		}
	}
	return m
}

// child returns n's command named name (or by an alias), or nil.
func child(n *kong.Node, name string) *kong.Node {
	for _, c := range n.Children {
		if c.Type != kong.CommandNode {
			continue
		}
		if c.Name == name {
			return c
		}
		for _, a := range c.Aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}
