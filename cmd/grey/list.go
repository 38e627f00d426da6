package main

import (
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/repo/index"
	"github.com/greypm/grey/transaction"
)

// ListCmd lists available packages, as apt list.
type ListCmd struct {
	All        bool   `name:"all" short:"a" help:"List every available version, not only each package's candidate."`
	Installed  bool   `name:"installed" xor:"which" help:"List the packages installed in the root (as grey installed)."`
	Upgradable bool   `name:"upgradable" xor:"which" help:"List installed packages that have a newer candidate."`
	Pattern    string `arg:"" optional:"" help:"Glob pattern on package names (*, ?, [...]), as apt list takes."`
}

// keep reports whether a line of the listing is printed: with --installed
// the installed versions, with --upgradable the candidates of upgradable
// packages (apt list's filters); everything otherwise.
func (c *ListCmd) keep(status string) bool {
	switch {
	case c.Installed:
		return strings.HasPrefix(status, "installed")
	case c.Upgradable:
		return strings.HasPrefix(status, "upgradable from: ")
	}
	return true
}

// Help explains the columns.
func (ListCmd) Help() string {
	return `Prints "name/suite version architecture" for the candidate (newest) version
of each package whose name matches PATTERN (every package without one), sorted
by name; with --all, every available version, newest first. The suite is the
one the source was configured with; the same .deb in several suites is one
line naming them all ("bookworm,bookworm-security"), as apt list prints it.

What the root has installed is marked as apt list marks it: [installed],
[installed,automatic], [upgradable from: OLD] on the candidate of an older
installed version, [installed,upgradable to: NEW] (with --all),
[residual-config] when only conffiles remain, and "NAME/now VERSION ARCH
[installed,local]" for an installed version no source has; the installed
version's suites end in "now" ("bookworm,now"). --installed prints only the
installed versions' lines, --upgradable only the "upgradable from" lines, in
the same form (with --json, they print grey installed's rows). The name is
green on a terminal (--color, APT::Color, NO_COLOR).`
}

type listJSON struct {
	Name         string   `json:"name"`
	Version      string   `json:"version"`
	Architecture string   `json:"architecture"`
	Suites       []string `json:"suites"`
	Sources      []string `json:"sources"`
	Candidate    bool     `json:"candidate"`
	// Status is what apt list prints in brackets: installed,
	// installed,automatic, installed,local, upgradable from: V,
	// installed,upgradable to: V, residual-config; "" for none.
	Status string `json:"status,omitempty"`
}

// Run lists.
func (c *ListCmd) Run(ctx context.Context, g *Globals) error {
	if c.Installed || c.Upgradable {
		if c.All || c.Pattern != "" {
			return &exitError{Code: 2, Err: fmt.Errorf("--installed and --upgradable take neither --all nor a pattern")}
		}
		if g.JSON {
			// The JSON of grey installed: dpkg's status and state
			// (host tests read it).
			return listInstalled(ctx, g, c.Upgradable)
		}
	}
	if c.Pattern != "" {
		if _, err := path.Match(c.Pattern, ""); err != nil {
			return &exitError{Code: 2, Err: fmt.Errorf("pattern %q: %w", c.Pattern, err)}
		}
	}
	inst, err := installedByName(ctx, g)
	if err != nil {
		return err
	}
	return cli.WithIndex(ctx, g, func(ctx context.Context, g *Globals, x *cli.LoadedIndex, w io.Writer) error {
		return c.run(ctx, g, x, inst, w)
	})
}

// installedByName returns the root's installed packages (and those whose
// conffiles remain) by name.
func installedByName(ctx context.Context, g *Globals) (map[string][]*pkgdb.Package, error) {
	pkgs, err := viewPackages(ctx, g)
	if err != nil {
		return nil, err
	}
	out := map[string][]*pkgdb.Package{}
	for _, p := range pkgs {
		if p.IsInstalled() || p.State() == "config-files" {
			out[p.Name] = append(out[p.Name], p)
		}
	}
	return out, nil
}

// listLine is one line of list's output before it is printed.
type listLine struct {
	listJSON
	order int
}

// listStatus returns apt list's bracket for a version of a package
// (candidate: whether it is the candidate, whose version is cand) given
// the installed package p of its architecture (nil for none).
func listStatus(p *pkgdb.Package, ver string, candidate bool, cand string) string {
	if p == nil {
		return ""
	}
	if p.State() == "config-files" {
		if candidate {
			return "residual-config"
		}
		return ""
	}
	c, err := version.CompareStrings(p.Version, ver)
	if err != nil {
		return ""
	}
	switch {
	case c == 0 && !candidate && cand != "":
		return "installed,upgradable to: " + cand
	case c == 0 && p.Auto:
		return "installed,automatic"
	case c == 0:
		return "installed"
	case c < 0 && candidate:
		return "upgradable from: " + p.Version
	}
	return ""
}

func (c *ListCmd) run(ctx context.Context, g *Globals, x *cli.LoadedIndex, inst map[string][]*pkgdb.Package, w io.Writer) error {
	var lines []listLine
	seen := map[string]bool{} // name, version and architecture in the index
	// Without pins the candidate is the newest version; with them, apt's
	// candidate is asked for name by name (it reads the stanzas).
	pinned := !x.Policy.Policy.Trivial()
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
		for _, group := range groups {
			seen[name+" "+group[0].Version+" "+group[0].Architecture] = true
		}
		cand := map[string]string{} // the candidate version by architecture
		for _, group := range groups {
			if _, ok := cand[group[0].Architecture]; !ok {
				cand[group[0].Architecture] = group[0].Version
			}
		}
		if pinned {
			// apt's candidate under the root's pins, which is not the
			// newest version when a preference says otherwise.
			for arch := range cand {
				var ip *deb.Package
				for _, q := range inst[name] {
					if q.Architecture == arch && q.IsInstalled() {
						if d, err := transaction.DebPackage(q); err == nil {
							ip = d
						}
					}
				}
				cand[arch] = x.Candidate(name, arch, ip)
			}
		}
		candSeen := map[string]bool{}
		for _, group := range groups {
			s := group[0]
			var p *pkgdb.Package
			for _, q := range inst[name] {
				if q.Architecture == s.Architecture {
					p = q
				}
			}
			isCand := s.Version == cand[s.Architecture] && !candSeen[s.Architecture]
			if isCand {
				candSeen[s.Architecture] = true
			}
			if !c.All && !c.Installed && !isCand {
				continue
			}
			if !c.All && p != nil && p.IsInstalled() {
				if cmp, err := version.CompareStrings(p.Version, s.Version); err == nil && cmp > 0 {
					continue // the installed version is newer: its local line stands for it
				}
			}
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
			upTo := ""
			if cv := cand[s.Architecture]; cv != s.Version {
				upTo = cv
			}
			status := listStatus(p, s.Version, isCand, upTo)
			if !c.keep(status) {
				continue
			}
			if strings.HasPrefix(status, "installed") {
				// apt names the status file's archive, "now", last.
				suites = append(suites, "now")
			}
			lines = append(lines, listLine{listJSON{strings.Clone(s.Name), strings.Clone(s.Version), strings.Clone(s.Architecture), suites, srcs, isCand,
				status}, len(lines)})
		}
	}
	// Installed versions no source has: "name/now VERSION ARCH
	// [installed,local]", as apt list prints them.
	for name, ps := range inst {
		if ok, _ := path.Match(c.Pattern, name); c.Pattern != "" && !ok {
			continue
		}
		for _, p := range ps {
			if !p.IsInstalled() || seen[name+" "+p.Version+" "+p.Architecture] {
				continue
			}
			status := "installed,local"
			cv := candidateOf(x, name, p.Architecture)
			if pinned {
				if d, err := transaction.DebPackage(p); err == nil {
					cv = x.Candidate(name, p.Architecture, d)
				}
			}
			if cv != "" {
				if cmp, err := version.CompareStrings(p.Version, cv); err == nil && cmp < 0 {
					if !c.All && !c.Installed {
						continue // the candidate's line says "upgradable from"
					}
					status = "installed,upgradable to: " + cv
				}
			}
			if !c.keep(status) {
				continue
			}
			lines = append(lines, listLine{listJSON{p.Name, p.Version, p.Architecture, []string{"now"}, []string{}, false, status}, len(lines)})
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].Name < lines[j].Name })
	if g.JSON {
		out := make([]listJSON, len(lines))
		for i, l := range lines {
			out[i] = l.listJSON
		}
		return cli.WriteJSON(w, out)
	}
	// apt's APT::Color::Highlight (green) on the name.
	hi, neutral := "", ""
	if g.Colorize(g.Stdout) {
		hi, neutral = "\x1b[32m", "\x1b[0m"
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(hi)
		b.WriteString(l.Name)
		b.WriteString(neutral)
		b.WriteByte('/')
		b.WriteString(strings.Join(l.Suites, ","))
		b.WriteByte(' ')
		b.WriteString(l.Version)
		b.WriteByte(' ')
		b.WriteString(l.Architecture)
		if l.Status != "" {
			b.WriteString(" [")
			b.WriteString(l.Status)
			b.WriteByte(']')
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// candidateOf returns the newest version of name for arch in the index,
// or "".
func candidateOf(x *cli.LoadedIndex, name, arch string) string {
	best := ""
	for _, p := range x.Packages(name) {
		if p.Architecture != arch {
			continue
		}
		if v := p.Version.String(); best == "" {
			best = v
		} else if cmp, err := version.CompareStrings(v, best); err == nil && cmp > 0 {
			best = v
		}
	}
	return best
}
