package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/repo"
	"github.com/greypm/grey/repo/index"
	"github.com/greypm/grey/repo/sources"
)

// exitNotFound is apt-cache's status when no package matches.
const exitNotFound = 100

// loadedIndex is the package index of the command's sources, with how to
// name each of its inputs.
type loadedIndex struct {
	*index.Index
	// inputs describe the index's inputs, in Load's order.
	inputs []inputInfo
}

// inputInfo names one input the way apt names a Packages file.
type inputInfo struct {
	SourceID string
	// Suite is the suite as configured (bookworm-security).
	Suite string
	// Label reads "URI SUITE/COMPONENT ARCH Packages", as apt-cache policy
	// prints it.
	Label string
}

// openIndex loads the index of the command's sources (--source lines, else
// the root's configured sources) from their verified state in the root,
// building the cache under ROOT/var/cache/grey/index where it is missing or
// stale. A source that was never updated is an error naming it. Commands
// that read the index (show, policy, install...) share it; close it.
func openIndex(ctx context.Context, g *Globals) (*loadedIndex, error) {
	srcs, err := commandSources(g)
	if err != nil {
		return nil, err
	}
	if len(srcs) == 0 {
		return nil, &exitError{2, fmt.Errorf("no sources: add them to %s or give --source", filepath.Join(g.Root, sources.ListFile))}
	}
	var (
		inputs []index.Input
		infos  []inputInfo
		seen   = map[string]bool{}
		dec    = compress.SystemDecoder()
	)
	for _, s := range srcs {
		id := s.ID()
		if !s.IsBinary() || seen[id] {
			continue
		}
		seen[id] = true
		st, err := repo.LoadState(g.Root, id)
		if errors.Is(err, repo.ErrNoState) {
			return nil, fmt.Errorf("source %s: %w", s, err)
		}
		if err != nil {
			return nil, err
		}
		for _, f := range st.Indexes {
			inputs = append(inputs, index.Input{Origin: st.SourceID, Path: f.Path, SHA256: f.SHA256, Decoder: dec})
			dist := st.Suite
			if f.Component != "" {
				dist += "/" + f.Component
			}
			label := strings.TrimSpace(strings.Join([]string{st.URI, dist, f.Arch, "Packages"}, " "))
			infos = append(infos, inputInfo{SourceID: st.SourceID, Suite: st.Suite, Label: label})
		}
	}
	x, res, err := index.Load(ctx, filepath.Join(g.Root, filepath.FromSlash(index.CacheDirIn)), inputs)
	if err != nil {
		return nil, err
	}
	if res.Report != nil {
		for _, e := range res.Report.Skipped {
			fmt.Fprintf(g.Stderr, "grey: warning: %v\n", e)
		}
	}
	return &loadedIndex{Index: x, inputs: infos}, nil
}

// withIndex runs a command that reads the index: it opens the index, lets
// run write its output to a buffer, and prints it only if the cache files
// held up. A cache file found damaged on the way (the index checks each
// block when it first reads it, and removes a damaged file) is rebuilt and
// the command run again, once.
func withIndex(ctx context.Context, g *Globals, run func(context.Context, *Globals, *loadedIndex, io.Writer) error) error {
	for attempt := 0; ; attempt++ {
		x, err := openIndex(ctx, g)
		if err != nil {
			return err
		}
		var out bytes.Buffer
		err = run(ctx, g, x, &out)
		xerr := x.Err()
		x.Close()
		var ce *index.CorruptError
		if attempt == 0 && errors.As(xerr, &ce) {
			fmt.Fprintf(g.Stderr, "grey: warning: %v: rebuilding it\n", ce)
			continue
		}
		if xerr != nil {
			return xerr
		}
		if _, werr := g.Stdout.Write(out.Bytes()); werr != nil {
			return werr
		}
		return err
	}
}

// notFoundError is the exit status and message for names the index does
// not have, or nil when every name was found.
func notFoundError(missing []error) error {
	if len(missing) == 0 {
		return nil
	}
	return &exitError{exitNotFound, errors.Join(missing...)}
}

// notFound is the error for names the index does not have; like apt-cache,
// it names the providers of a virtual package.
func (x *loadedIndex) notFound(name string) error {
	var provs []string
	for _, p := range x.ProvidersOf(name) {
		if !slices.Contains(provs, p.Name) {
			provs = append(provs, p.Name)
		}
	}
	if len(provs) > 0 {
		return fmt.Errorf("%s is a virtual package provided by: %s", name, strings.Join(provs, ", "))
	}
	return fmt.Errorf("no package %s", name)
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

type showJSON struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Architecture string            `json:"architecture"`
	Source       string            `json:"source"`
	Fields       map[string]string `json:"fields"`
}

// Run prints the stanzas.
func (c *ShowCmd) Run(ctx context.Context, g *Globals) error {
	return withIndex(ctx, g, c.run)
}

func (c *ShowCmd) run(ctx context.Context, g *Globals, x *loadedIndex, w io.Writer) error {
	var out []showJSON
	var missing []error
	buf := make([]byte, 0, 4096)
	for _, name := range c.Packages {
		groups := x.Distinct(name)
		if len(groups) == 0 {
			missing = append(missing, x.notFound(name))
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
				out = append(out, showJSON{p.Name, p.Version.String(), p.Architecture, x.inputs[s.Input()].SourceID, fields})
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
		if err := writeJSON(g.Stdout, out); err != nil {
			return err
		}
	}
	return notFoundError(missing)
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

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
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
			return &exitError{2, fmt.Errorf("pattern %q: %w", p, err)}
		}
		res = append(res, re)
	}
	return withIndex(ctx, g, func(ctx context.Context, g *Globals, x *loadedIndex, w io.Writer) error {
		return searchIndex(ctx, g, x, w, res)
	})
}

func searchIndex(ctx context.Context, g *Globals, x *loadedIndex, w io.Writer, res []*regexp.Regexp) error {
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
		return writeJSON(w, hits)
	}
	if len(hits) == 0 {
		return &exitError{exitNotFound, nil}
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
			return &exitError{2, fmt.Errorf("--installed and --upgradable take neither --all nor a pattern")}
		}
		return listInstalled(ctx, g, c.Upgradable)
	}
	if c.Pattern != "" {
		if _, err := path.Match(c.Pattern, ""); err != nil {
			return &exitError{2, fmt.Errorf("pattern %q: %w", c.Pattern, err)}
		}
	}
	return withIndex(ctx, g, c.run)
}

func (c *ListCmd) run(ctx context.Context, g *Globals, x *loadedIndex, w io.Writer) error {
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
				in := x.inputs[o.Input()]
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
		return writeJSON(w, out)
	}
	_, err := io.WriteString(w, b.String())
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

type policyJSON struct {
	Name      string          `json:"name"`
	Candidate string          `json:"candidate"`
	Versions  []policyVersion `json:"versions"`
}

type policyVersion struct {
	Version      string   `json:"version"`
	Architecture string   `json:"architecture"`
	Sources      []string `json:"sources"`
	Packages     []string `json:"packages"`
	Candidate    bool     `json:"candidate"`
}

// Run prints the table.
func (c *PolicyCmd) Run(ctx context.Context, g *Globals) error {
	return withIndex(ctx, g, c.run)
}

func (c *PolicyCmd) run(ctx context.Context, g *Globals, x *loadedIndex, w io.Writer) error {
	var out []policyJSON
	var missing []error
	var b strings.Builder
	for _, name := range c.Packages {
		groups := x.Distinct(name)
		if len(groups) == 0 {
			missing = append(missing, x.notFound(name))
			continue
		}
		cand := groups[0][0].Version
		pj := policyJSON{Name: name, Candidate: cand}
		fmt.Fprintf(&b, "%s:\n  Candidate: %s\n  Version table:\n", name, cand)
		for k, group := range groups {
			s := group[0]
			mark := "   "
			if k == 0 {
				mark = " * "
			}
			fmt.Fprintf(&b, "  %s%s %s\n", mark, s.Version, s.Architecture)
			pv := policyVersion{Version: s.Version, Architecture: s.Architecture, Candidate: k == 0}
			for _, o := range group {
				in := x.inputs[o.Input()]
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
			out = []policyJSON{}
		}
		if err := writeJSON(w, out); err != nil {
			return err
		}
	} else if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return notFoundError(missing)
}
