package main

import (
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/repo/index"
)

// ListCmd lists available packages, as apt list.
type ListCmd struct {
	All        bool   `name:"all" short:"a" help:"List every available version, not only each package's candidate."`
	Installed  bool   `name:"installed" xor:"which" help:"List the packages installed in the root (as grey installed)."`
	Upgradable bool   `name:"upgradable" xor:"which" help:"List installed packages that have a newer candidate."`
	Pattern    string `arg:"" optional:"" help:"Glob pattern on package names (*, ?, [...]), as apt list takes."`
}

// Help explains the columns.
func (ListCmd) Help() string {
	return `Prints "name/suite version architecture" for the candidate (newest) version
of each package whose name matches PATTERN (every package without one), sorted
by name; with --all, every available version, newest first. The suite is the
one the source was configured with; the same .deb in several suites is one
line naming them all ("bookworm,bookworm-security"), as apt list prints it.`
}

type listJSON struct {
	Name         string   `json:"name"`
	Version      string   `json:"version"`
	Architecture string   `json:"architecture"`
	Suites       []string `json:"suites"`
	Sources      []string `json:"sources"`
	Candidate    bool     `json:"candidate"`
}

// Run lists.
func (c *ListCmd) Run(ctx context.Context, g *Globals) error {
	if c.Installed || c.Upgradable {
		if c.All || c.Pattern != "" {
			return &exitError{Code: 2, Err: fmt.Errorf("--installed and --upgradable take neither --all nor a pattern")}
		}
		return listInstalled(ctx, g, c.Upgradable)
	}
	if c.Pattern != "" {
		if _, err := path.Match(c.Pattern, ""); err != nil {
			return &exitError{Code: 2, Err: fmt.Errorf("pattern %q: %w", c.Pattern, err)}
		}
	}
	return cli.WithIndex(ctx, g, c.run)
}

func (c *ListCmd) run(ctx context.Context, g *Globals, x *cli.LoadedIndex, w io.Writer) error {
	var out []listJSON
	var b strings.Builder
	n := 0
	for name, vs := range x.ByName() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if ok, _ := path.Match(c.Pattern, name); c.Pattern != "" && !ok {
			continue
		}
		index.SortVersions(vs)
		groups := index.Group(vs)
		if !c.All {
			groups = groups[:1]
		}
		for k, group := range groups {
			s := group[0]
			var suites, srcs []string
			for _, o := range group {
				in := x.Inputs[o.Input()]
				if !slices.Contains(suites, in.Suite) {
					suites = append(suites, in.Suite)
				}
				if !slices.Contains(srcs, in.SourceID) {
					srcs = append(srcs, in.SourceID)
				}
			}
			if g.JSON {
				out = append(out, listJSON{strings.Clone(s.Name), strings.Clone(s.Version), strings.Clone(s.Architecture), suites, srcs, k == 0})
				continue
			}
			b.WriteString(s.Name)
			b.WriteByte('/')
			b.WriteString(strings.Join(suites, ","))
			b.WriteByte(' ')
			b.WriteString(s.Version)
			b.WriteByte(' ')
			b.WriteString(s.Architecture)
			b.WriteByte('\n')
		}
	}
	if g.JSON {
		if out == nil {
			out = []listJSON{}
		}
		return cli.WriteJSON(w, out)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
