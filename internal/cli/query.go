package cli

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/repo/index"
)

// Queries are the read-only index commands. Both binaries embed them in
// their command trees; the front answers them without the whole tool.
type Queries struct {
	Show   ShowCmd   `cmd:"" help:"Show the available versions of packages (as apt-cache show)."`
	Search SearchCmd `cmd:"" help:"Search package names and descriptions (as apt-cache search)."`
	Policy PolicyCmd `cmd:"" help:"Show the candidate and every available version of packages (as apt-cache policy)."`
}

// ShowCmd prints package stanzas as apt-cache show does.
type ShowCmd struct {
	Packages []string `arg:"" name:"package" help:"Package names."`
}

// Help says what is printed.
func (ShowCmd) Help() string {
	return `Prints every available version of each package, newest first, as its stanza
appears in the repository's Packages file, each followed by a blank line, in
the field order apt-cache show uses (Description-md5 right after
Description). With --json, prints a list of objects with the
package's name, version, architecture, source and fields.`
}

// ShowEntry is one version in show --json output.
type ShowEntry struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Architecture string            `json:"architecture"`
	Source       string            `json:"source"`
	Fields       map[string]string `json:"fields"`
}

// Run prints the stanzas.
func (c *ShowCmd) Run(ctx context.Context, g *Globals) error {
	return WithIndex(ctx, g, c.run)
}

func (c *ShowCmd) run(ctx context.Context, g *Globals, x *LoadedIndex, w io.Writer) error {
	var out []ShowEntry
	var missing []error
	buf := make([]byte, 0, 4096)
	for _, name := range c.Packages {
		groups := x.Distinct(name)
		if len(groups) == 0 {
			missing = append(missing, x.NotFound(name))
			continue
		}
		for _, group := range groups {
			// The same .deb from several sources is shown once, from
			// the first, as apt-cache does.
			s := group[0]
			p, err := x.Decode(s.Ref)
			if err != nil {
				return err
			}
			if g.JSON {
				fields := make(map[string]string, len(p.Stanza.Fields))
				for _, f := range p.Stanza.Fields {
					fields[f.Name] = f.Value
				}
				out = append(out, ShowEntry{p.Name, p.Version.String(), p.Architecture, x.Inputs[s.Input()].SourceID, fields})
				continue
			}
			if buf, err = control.AppendStanza(buf[:0], aptShowOrder(p.Stanza)); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			buf = append(buf, '\n')
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
	}
	if g.JSON {
		if err := WriteJSON(g.Stdout, out); err != nil {
			return err
		}
	}
	return NotFoundError(missing)
}

// aptShowOrder returns st with its fields in the order apt-cache show
// prints them: the fields before Description as they are, then Description
// directly followed by Description-md5, then the other fields, without
// further Description* fields (apt-cache prints the description of the
// user's language there, which grey does not fetch).
func aptShowOrder(st *control.Stanza) *control.Stanza {
	d := slices.IndexFunc(st.Fields, func(f control.Field) bool { return strings.EqualFold(f.Name, "Description") })
	if d < 0 {
		return st
	}
	out := &control.Stanza{Line: st.Line, Fields: make([]control.Field, 0, len(st.Fields))}
	out.Fields = append(out.Fields, st.Fields[:d+1]...)
	for _, f := range st.Fields[d+1:] {
		if strings.EqualFold(f.Name, "Description-md5") {
			out.Fields = append(out.Fields, f)
		}
	}
	for _, f := range st.Fields[d+1:] {
		if len(f.Name) < len("Description") || !strings.EqualFold(f.Name[:len("Description")], "Description") {
			out.Fields = append(out.Fields, f)
		}
	}
	return out
}

// SearchCmd finds packages by regular expressions, as apt-cache search.
type SearchCmd struct {
	Patterns []string `arg:"" name:"regex" help:"Regular expressions (RE2 syntax, case-insensitive); a package must match all of them."`
}

// Help says what is matched.
func (SearchCmd) Help() string {
	return `Prints "name - short description" for each package whose name or short
description matches every pattern, sorted by name; the description is the
candidate version's. Patterns are case-insensitive, as in apt-cache search.
Exits with status 100 when nothing matches.`
}

// Run searches.
func (c *SearchCmd) Run(ctx context.Context, g *Globals) error {
	var res []*regexp.Regexp
	for _, p := range c.Patterns {
		re, err := regexp.Compile("(?i)" + p)
		if err != nil {
			return &ExitError{Code: 2, Err: fmt.Errorf("pattern %q: %w", p, err)}
		}
		res = append(res, re)
	}
	return WithIndex(ctx, g, func(ctx context.Context, g *Globals, x *LoadedIndex, w io.Writer) error {
		return searchIndex(ctx, g, x, w, res)
	})
}

func searchIndex(ctx context.Context, g *Globals, x *LoadedIndex, w io.Writer, res []*regexp.Regexp) error {
	hits, err := x.Search(ctx, res[0])
	if err != nil {
		return err
	}
	hits = slices.DeleteFunc(hits, func(h index.SearchHit) bool {
		for _, re := range res[1:] {
			if !re.MatchString(h.Name) && !re.MatchString(h.Description) {
				return true
			}
		}
		return false
	})
	if g.JSON {
		if hits == nil {
			hits = []index.SearchHit{}
		}
		return WriteJSON(w, hits)
	}
	if len(hits) == 0 {
		return &ExitError{Code: ExitNotFound, Err: nil}
	}
	var b strings.Builder
	for _, h := range hits {
		b.WriteString(h.Name)
		b.WriteString(" - ")
		b.WriteString(h.Description)
		b.WriteByte('\n')
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// PolicyCmd shows where each version of a package comes from, as
// apt-cache policy.
type PolicyCmd struct {
	Packages []string `arg:"" name:"package" help:"Package names."`
}

// Help explains the marks.
func (PolicyCmd) Help() string {
	return `For each package, prints its candidate (the version grey would install: the
newest; grey has no pinning) and every available version, newest first, with
the Packages files it comes from (one version when the same .deb is in
several). The candidate is marked with "*".`
}

// PolicyEntry is one package in policy --json output.
type PolicyEntry struct {
	Name      string          `json:"name"`
	Candidate string          `json:"candidate"`
	Versions  []PolicyVersion `json:"versions"`
}

// PolicyVersion is one available version in a PolicyEntry.
type PolicyVersion struct {
	Version      string   `json:"version"`
	Architecture string   `json:"architecture"`
	Sources      []string `json:"sources"`
	Packages     []string `json:"packages"`
	Candidate    bool     `json:"candidate"`
}

// Run prints the table.
func (c *PolicyCmd) Run(ctx context.Context, g *Globals) error {
	return WithIndex(ctx, g, c.run)
}

func (c *PolicyCmd) run(ctx context.Context, g *Globals, x *LoadedIndex, w io.Writer) error {
	var out []PolicyEntry
	var missing []error
	var b strings.Builder
	for _, name := range c.Packages {
		groups := x.Distinct(name)
		if len(groups) == 0 {
			missing = append(missing, x.NotFound(name))
			continue
		}
		cand := groups[0][0].Version
		pj := PolicyEntry{Name: name, Candidate: cand}
		fmt.Fprintf(&b, "%s:\n  Candidate: %s\n  Version table:\n", name, cand)
		for k, group := range groups {
			s := group[0]
			mark := "   "
			if k == 0 {
				mark = " * "
			}
			fmt.Fprintf(&b, "  %s%s %s\n", mark, s.Version, s.Architecture)
			pv := PolicyVersion{Version: s.Version, Architecture: s.Architecture, Candidate: k == 0}
			for _, o := range group {
				in := x.Inputs[o.Input()]
				pv.Sources = append(pv.Sources, in.SourceID)
				pv.Packages = append(pv.Packages, in.Label)
				fmt.Fprintf(&b, "        %s\n", in.Label)
			}
			pj.Versions = append(pj.Versions, pv)
		}
		out = append(out, pj)
	}
	if g.JSON {
		if out == nil {
			out = []PolicyEntry{}
		}
		if err := WriteJSON(w, out); err != nil {
			return err
		}
	} else if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return NotFoundError(missing)
}
