package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/pkgdb/dpkgdb"
	"github.com/greypm/grey/repo/index"
	"github.com/greypm/grey/repo/policy"
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
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	// File is the Packages file the stanza comes from, as apt names it:
	// "URI SUITE/COMPONENT ARCH Packages".
	File   string            `json:"file"`
	Fields map[string]string `json:"fields"`
}

// splitSelector splits apt's "name=version" and "name/release".
func splitSelector(arg string) (name, ver, rel string) {
	name, ver, _ = strings.Cut(arg, "=")
	name, rel, _ = strings.Cut(name, "/")
	return name, ver, rel
}

// inRelease reports whether some record of group comes from a release
// whose suite or codename is rel.
func (x *LoadedIndex) inRelease(group []index.Summary, rel string) bool {
	files := x.Policy.Files()
	for _, s := range group {
		if policy.InRelease(&files[s.Input()], rel) {
			return true
		}
	}
	return false
}

// Run prints the stanzas.
func (c *ShowCmd) Run(ctx context.Context, g *Globals) error {
	return WithIndex(ctx, g, c.run)
}

func (c *ShowCmd) run(ctx context.Context, g *Globals, x *LoadedIndex, w io.Writer) error {
	var out []ShowEntry
	var missing []error
	buf := make([]byte, 0, 4096)
	for _, arg := range c.Packages {
		name, ver, rel := splitSelector(arg)
		groups := x.Distinct(name)
		groups = slices.DeleteFunc(groups, func(group []index.Summary) bool {
			return ver != "" && group[0].Version != ver || rel != "" && !x.inRelease(group, rel)
		})
		if len(groups) == 0 {
			missing = append(missing, x.NotFound(arg))
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
				out = append(out, ShowEntry{p.Name, p.Version.String(), p.Architecture, x.Inputs[s.Input()].Label, fields})
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

// PolicyCmd shows where each version of a package comes from and its pin
// priority, as apt-cache policy.
type PolicyCmd struct {
	Packages []string `arg:"" optional:"" name:"package" help:"Package names (none: the priority of every package file, and the pinned packages)."`
}

// Help explains the table.
func (PolicyCmd) Help() string {
	return `For each package, prints the installed version, the candidate (the version
grey would install: the one of highest pin priority, from the root's apt
preferences, etc/apt/preferences and etc/apt/preferences.d, as apt_preferences(5)
says), and every available version, newest first, with its priority and the
Packages files it comes from with theirs. "***" marks the installed version.
The output is apt-cache policy's, line for line. Without a package, prints the
priority of every Packages file and the pins that name packages.`
}

// PolicyEntry is one package in policy --json output.
type PolicyEntry struct {
	Name string `json:"name"`
	// Installed is "" when the package is not installed.
	Installed string `json:"installed,omitempty"`
	// Candidate is "" when the package has no candidate.
	Candidate string          `json:"candidate"`
	Versions  []PolicyVersion `json:"versions"`
}

// PolicyVersion is one available version in a PolicyEntry.
type PolicyVersion struct {
	Version      string       `json:"version"`
	Architecture string       `json:"architecture"`
	Priority     int          `json:"priority"`
	Installed    bool         `json:"installed,omitempty"`
	Candidate    bool         `json:"candidate"`
	Files        []PolicyFile `json:"files"`
}

// PolicyFile is one Packages file a version is available from (or dpkg's
// status file for the installed version), named as apt names it.
type PolicyFile struct {
	Priority int `json:"priority"`
	// File reads "URI SUITE/COMPONENT ARCH Packages", or
	// "/var/lib/dpkg/status".
	File string `json:"file"`
	// Release is apt's release line: "v=12,o=Debian,a=stable,n=bookworm,...".
	Release string `json:"release"`
}

// Run prints the table.
func (c *PolicyCmd) Run(ctx context.Context, g *Globals) error {
	return WithIndex(ctx, g, c.run)
}

func (c *PolicyCmd) run(ctx context.Context, g *Globals, x *LoadedIndex, w io.Writer) error {
	installed, err := installedVersions(g.Root)
	if err != nil {
		return err
	}
	if len(c.Packages) == 0 {
		return policyFiles(g, x, w)
	}
	native := deb.HostArch()
	var out []PolicyEntry
	var missing []error
	var b strings.Builder
	for _, arg := range c.Packages {
		name, arch, _ := strings.Cut(arg, ":")
		if arch == "" {
			arch = native
		}
		pe, ok := policyEntry(x, name, arch, installed[name+":"+arch])
		if !ok && arch == native {
			// An arch-all package is its native name too, as in apt.
			pe, ok = policyEntry(x, name, "all", installed[name+":all"])
		}
		if !ok {
			missing = append(missing, x.NotFound(arg))
			continue
		}
		pe.Name = arg
		out = append(out, pe)
		inst, cand := pe.Installed, pe.Candidate
		if inst == "" {
			inst = "(none)"
		}
		if cand == "" {
			cand = "(none)"
		}
		fmt.Fprintf(&b, "%s:\n  Installed: %s\n  Candidate: %s\n  Version table:\n", arg, inst, cand)
		for _, v := range pe.Versions {
			mark := "     "
			if v.Installed {
				mark = " *** "
			}
			fmt.Fprintf(&b, "%s%s %d\n", mark, v.Version, v.Priority)
			for _, f := range v.Files {
				fmt.Fprintf(&b, "       %4d %s\n", f.Priority, f.File)
			}
		}
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

// policyEntry builds the policy of name on arch: the index's versions
// (one per version and .deb, as Distinct groups them), the installed
// version (ip, nil when none) among them when apt would merge it with
// one (deb.SameBuild) or on its own, and the candidate.
func policyEntry(x *LoadedIndex, name, arch string, ip *deb.Package) (PolicyEntry, bool) {
	pol := x.Policy
	decoded := x.Packages(name)
	type entry struct {
		v   policy.Version
		pkg *deb.Package // the index's record, nil for the installed one
	}
	var vs []entry
	for _, group := range x.Distinct(name) {
		s := group[0]
		if s.Architecture != arch {
			continue
		}
		e := entry{v: policy.Version{Name: name, Architecture: arch, Version: s.Version}}
		for _, o := range group {
			e.v.Files = append(e.v.Files, o.Input())
		}
		for _, p := range decoded {
			if p.Architecture == arch && p.Version.String() == s.Version {
				// Source pins ("Package: src:NAME") need the source
				// package, which only the decoded stanza has.
				e.v.Source = p.Source
				if !p.SourceVersion.IsZero() {
					e.v.SourceVersion = p.SourceVersion.String()
				}
				e.pkg = p
				break
			}
		}
		vs = append(vs, e)
	}
	instVer := ""
	if ip != nil {
		instVer = ip.Version.String()
		at := -1
		for i := range vs {
			if vs[i].v.Version == instVer && vs[i].pkg != nil && deb.SameBuild(ip, vs[i].pkg) {
				at = i
				break
			}
		}
		if at < 0 {
			// A version of its own, after the versions that sort before
			// or equal to it.
			at = len(vs)
			for i := range vs {
				if c, err := version.CompareStrings(instVer, vs[i].v.Version); err == nil && c > 0 {
					at = i
					break
				}
			}
			v := policy.Version{Name: name, Architecture: arch, Version: instVer, Source: ip.Source}
			vs = slices.Insert(vs, at, entry{v: v})
		}
		vs[at].v.Installed = true
		vs[at].v.Files = append(vs[at].v.Files, len(pol.Files())-1)
	}
	if len(vs) == 0 {
		return PolicyEntry{}, false
	}
	list := make([]policy.Version, len(vs))
	for i := range vs {
		list[i] = vs[i].v
	}
	pe := PolicyEntry{Installed: instVer}
	cand := pol.Policy.Candidate(list)
	if cand >= 0 {
		pe.Candidate = list[cand].Version
	}
	files := pol.Files()
	for i, v := range list {
		pv := PolicyVersion{Version: v.Version, Architecture: arch, Priority: pol.Policy.Priority(v), Installed: v.Installed, Candidate: i == cand}
		for _, f := range v.Files {
			pv.Files = append(pv.Files, PolicyFile{Priority: pol.FilePriority(f), File: files[f].Describe, Release: files[f].RelStr()})
		}
		pe.Versions = append(pe.Versions, pv)
	}
	return pe, true
}

// policyFiles prints what apt-cache policy prints without a package: each
// Packages file with its priority, release and origin, then the pins that
// name packages.
func policyFiles(g *Globals, x *LoadedIndex, w io.Writer) error {
	pol := x.Policy
	files := pol.Files()
	type fileJSON struct {
		PolicyFile
		Origin string `json:"origin,omitempty"`
	}
	var out []fileJSON
	var b strings.Builder
	b.WriteString("Package files:\n")
	// dpkg's status file (the last file) first, as apt-cache lists it.
	for k := range files {
		i := (k + len(files) - 1) % len(files)
		f := &files[i]
		fj := fileJSON{PolicyFile{Priority: pol.FilePriority(i), File: f.Describe, Release: f.RelStr()}, f.Site}
		out = append(out, fj)
		fmt.Fprintf(&b, "%4d %s\n", fj.Priority, fj.File)
		if fj.Release != "" {
			fmt.Fprintf(&b, "     release %s\n", fj.Release)
		}
		if f.Site != "" {
			fmt.Fprintf(&b, "     origin %s\n", f.Site)
		}
	}
	b.WriteString("Pinned packages:\n")
	if g.JSON {
		return WriteJSON(w, out)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// installedVersions reads dpkg's status file in root: the package of every
// package instance ("name:arch") that apt counts as installed (any state
// but not-installed and config-files). A root without one has none.
func installedVersions(root string) (map[string]*deb.Package, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", root, err)
	}
	defer r.Close()
	name := path.Join(dpkgdb.AdminDir, "status")
	data, err := r.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]*deb.Package{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(root, name), err)
	}
	entries, err := dpkgdb.ParseStatus(filepath.Join(root, name), data)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*deb.Package, len(entries))
	for _, e := range entries {
		if st := e.State(); st == "not-installed" || st == "config-files" {
			continue
		}
		p, err := deb.FromStanza(e.Fields)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(root, name), err)
		}
		p.Origin = "installed"
		out[e.Key()] = p
	}
	return out, nil
}

// Candidate returns apt's candidate version of name on arch under the
// root's pins ("" for none), given the installed package of that name and
// architecture (nil when none): the version install and upgrade move to.
func (x *LoadedIndex) Candidate(name, arch string, installed *deb.Package) string {
	pe, ok := policyEntry(x, name, arch, installed)
	if !ok {
		return ""
	}
	return pe.Candidate
}
