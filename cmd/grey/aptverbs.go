package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/repo/fetch"
	"github.com/greypm/grey/resolver"
	"github.com/greypm/grey/transaction"
)

// This file has the verbs apt users reach for that are not changes of a
// root: download, clean, autoclean, depends and rdepends.

// DownloadCmd fetches packages' .deb files into the current directory.
type DownloadCmd struct {
	Packages []string `arg:"" name:"package" help:"PKG or PKG=VERSION."`
	Jobs     int      `help:"Download at most N packages at once (default 4, or grey.conf's Grey::Parallel-Downloads)." placeholder:"N"`
}

// Help says what is fetched and where.
func (DownloadCmd) Help() string {
	return `Downloads each package's candidate (or the version given with =VERSION) into
the current directory, as apt-get download does: the same file, named as apt
names it (NAME_VERSION_ARCH.deb, an epoch's colon written %3a), checked
against the Size and SHA256 of the signed index. Dependencies are not
downloaded; nothing in the root changes.`
}

// Run downloads.
func (c *DownloadCmd) Run(ctx context.Context, g *Globals) error {
	srcs, err := cli.CommandSources(g)
	if err != nil {
		return err
	}
	x, err := cli.OpenIndex(ctx, g)
	if err != nil {
		return err
	}
	defer x.Close()
	var pkgs []*deb.Package
	for _, a := range c.Packages {
		j, err := resolver.ParseJob(a)
		if err != nil {
			return &exitError{Code: cli.ExitUsage, Err: err}
		}
		p, err := pickVersion(x.Packages(j.Name), j)
		if err != nil {
			return &exitError{Code: cli.ExitNotFound, Err: err}
		}
		pkgs = append(pkgs, p)
	}
	jobs, err := g.Jobs(c.Jobs)
	if err != nil {
		return err
	}
	fetcher, err := newFetcher(g, fetch.WithConcurrency(jobs))
	if err != nil {
		return err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	urlOf := transaction.SourceURLs(srcs)
	var reqs []fetch.Request
	for _, p := range pkgs {
		if p.SHA256 == "" {
			return fmt.Errorf("%s: the index gives no SHA256 for it; refusing an unverifiable download", p)
		}
		u, err := urlOf(p)
		if err != nil {
			return err
		}
		dest := filepath.Join(cwd, transaction.CacheName(p))
		reqs = append(reqs, fetch.Request{URL: u, Dest: dest, Expect: fetch.Expect{Size: p.Size, SHA256: p.SHA256}})
	}
	var errs []error
	for i, err := range fetcher.FetchAll(ctx, reqs) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pkgs[i], err))
			continue
		}
		if !g.JSON {
			fmt.Fprintf(g.Stdout, "Downloaded %s\n", filepath.Base(reqs[i].Dest))
		}
	}
	if g.JSON {
		var out []map[string]string
		for i, r := range reqs {
			out = append(out, map[string]string{"package": pkgs[i].Name, "version": pkgs[i].Version.String(), "file": r.Dest})
		}
		if err := cli.WriteJSON(g.Stdout, out); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// pickVersion returns the version of a name that j selects: the given
// version, else the candidate (the newest, as the resolver takes it).
func pickVersion(ps []*deb.Package, j resolver.Job) (*deb.Package, error) {
	var best *deb.Package
	for _, p := range ps {
		if j.Arch != "" && p.Architecture != j.Arch {
			continue
		}
		if j.Version != "" {
			if p.Version.String() == j.Version {
				return p, nil
			}
			continue
		}
		if best == nil || version.Compare(p.Version, best.Version) > 0 {
			best = p
		}
	}
	if best == nil {
		if j.Version != "" && len(ps) > 0 {
			return nil, fmt.Errorf("version %s of %s is not in any source", j.Version, j.Name)
		}
		return nil, &transaction.UnknownPackageError{Name: j.Name}
	}
	return best, nil
}

// CleanCmd empties the download cache.
type CleanCmd struct{}

// Help says what goes.
func (CleanCmd) Help() string {
	return `Deletes every downloaded package file from the root's cache
(ROOT/var/cache/grey/archives), as apt-get clean does. The content store,
which rollback needs, is not touched (see gc).`
}

// Run cleans.
func (c *CleanCmd) Run(g *Globals) error {
	return cleanCache(g, func(string) bool { return true })
}

// AutocleanCmd deletes cached packages that can no longer be downloaded.
type AutocleanCmd struct{}

// Help says what goes.
func (AutocleanCmd) Help() string {
	return `Deletes the downloaded package files that no source offers any more (an
older version, a package gone from the archive), as apt-get autoclean does;
the ones still offered stay in the cache.`
}

// Run cleans what no source offers.
func (c *AutocleanCmd) Run(ctx context.Context, g *Globals) error {
	x, err := cli.OpenIndex(ctx, g)
	if err != nil {
		return err
	}
	defer x.Close()
	offered := map[string]bool{}
	for p := range x.All() {
		offered[transaction.CacheName(p)] = true
	}
	return cleanCache(g, func(name string) bool { return !offered[name] })
}

// cleanCache deletes the .deb files (and partial downloads) of the root's
// archive cache that drop says to, and prints what went.
func cleanCache(g *Globals, drop func(name string) bool) error {
	dir, err := archivesDir(g, g.Root)
	if err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	var removed []string
	var n int64
	for _, e := range ents {
		name := e.Name()
		partial := strings.HasSuffix(name, ".partial")
		if !e.Type().IsRegular() || !(strings.HasSuffix(name, ".deb") || partial) {
			continue
		}
		if !partial && !drop(name) {
			continue
		}
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("clean %s: %w", dir, err)
		}
		removed = append(removed, name)
	}
	if g.JSON {
		if removed == nil {
			removed = []string{}
		}
		return cli.WriteJSON(g.Stdout, map[string]any{"removed": removed, "bytes": n})
	}
	for _, r := range removed {
		fmt.Fprintf(g.Stdout, "Del %s\n", r)
	}
	return nil
}

// DependsCmd lists a package's relations, as apt-cache depends.
type DependsCmd struct {
	Packages []string `arg:"" name:"package" help:"Packages whose candidate's relations to list."`
}

// Run lists the candidate's relations in apt-cache depends's form:
// alternatives marked with "|", virtual names in <>, and the providers of
// a virtual name listed under it.
func (c *DependsCmd) Run(ctx context.Context, g *Globals) error {
	x, err := cli.OpenIndex(ctx, g)
	if err != nil {
		return err
	}
	defer x.Close()
	var b strings.Builder
	for _, name := range c.Packages {
		j, err := resolver.ParseJob(name)
		if err != nil {
			return &exitError{Code: cli.ExitUsage, Err: err}
		}
		p, err := pickVersion(x.Packages(j.Name), j)
		if err != nil {
			return &exitError{Code: cli.ExitNotFound, Err: err}
		}
		b.WriteString(p.Name + "\n")
		for _, f := range []struct {
			name string
			dep  relation.Dependency
		}{
			{"PreDepends", p.PreDepends}, {"Depends", p.Depends}, {"Recommends", p.Recommends},
			{"Suggests", p.Suggests}, {"Conflicts", p.Conflicts}, {"Breaks", p.Breaks},
			{"Replaces", p.Replaces}, {"Enhances", p.Enhances},
		} {
			for _, rel := range f.dep {
				for i, alt := range rel {
					bar := " "
					if i < len(rel)-1 {
						bar = "|"
					}
					real := len(x.Packages(alt.Name)) > 0
					shown := alt.Name
					if !real {
						shown = "<" + alt.Name + ">"
					}
					fmt.Fprintf(&b, " %s%s: %s\n", bar, f.name, shown)
					if !real {
						var provs []string
						for _, pr := range x.Providers(alt.Name) {
							provs = append(provs, pr.Name)
						}
						sort.Strings(provs)
						for _, pr := range dedupe(provs) {
							fmt.Fprintf(&b, "    %s\n", pr)
						}
					}
				}
			}
		}
	}
	_, err = fmt.Fprint(g.Stdout, b.String())
	return err
}

// RdependsCmd lists the packages whose relations name a package.
type RdependsCmd struct {
	Packages []string `arg:"" name:"package" help:"Packages to find the reverse dependencies of."`
}

// Run lists, as apt-cache rdepends, every package of the index that
// depends on, pre-depends on, recommends or suggests the name (directly or
// as one alternative: marked "|"), sorted by name.
func (c *RdependsCmd) Run(ctx context.Context, g *Globals) error {
	x, err := cli.OpenIndex(ctx, g)
	if err != nil {
		return err
	}
	defer x.Close()
	want := map[string][]string{}
	for _, name := range c.Packages {
		if len(x.Packages(name)) == 0 && len(x.Providers(name)) == 0 {
			return &exitError{Code: cli.ExitNotFound, Err: &transaction.UnknownPackageError{Name: name}}
		}
		want[name] = nil
	}
	for p := range x.All() {
		for _, dep := range []relation.Dependency{p.PreDepends, p.Depends, p.Recommends, p.Suggests} {
			for _, rel := range dep {
				for _, alt := range rel {
					if _, ok := want[alt.Name]; ok {
						mark := " "
						if len(rel) > 1 {
							mark = "|"
						}
						want[alt.Name] = append(want[alt.Name], mark+p.Name)
					}
				}
			}
		}
	}
	var b strings.Builder
	for _, name := range c.Packages {
		rev := want[name]
		sort.Slice(rev, func(i, j int) bool {
			if rev[i][1:] != rev[j][1:] {
				return rev[i][1:] < rev[j][1:]
			}
			return rev[i] < rev[j]
		})
		fmt.Fprintf(&b, "%s\nReverse Depends:\n", name)
		for _, r := range dedupe(rev) {
			fmt.Fprintf(&b, " %s\n", r)
		}
	}
	_, err = fmt.Fprint(g.Stdout, b.String())
	return err
}

func dedupe(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
