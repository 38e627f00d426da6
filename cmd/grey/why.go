package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/resolver"
	"github.com/greypm/grey/transaction"
)

// WhyCmd explains why a package is, or would be, installed.
type WhyCmd struct {
	Package      string   `arg:"" name:"package" help:"The package to explain (NAME or NAME:ARCH)."`
	Install      []string `name:"install" short:"i" help:"Explain the plan that installs these packages too (repeatable): why PACKAGE would be installed." placeholder:"PKG"`
	PackagesFile []string `name:"packages" help:"Read candidates from this Packages file (plain or compressed, repeatable) instead of the sources' index." type:"existingfile" placeholder:"FILE"`
	NoRecommends bool     `name:"no-install-recommends" help:"Plan without Recommends."`
	Arch         string   `name:"arch" help:"Native architecture." default:"amd64"`
}

// Help describes the chain and where the state comes from.
func (WhyCmd) Help() string {
	return `Prints the chain of relations that puts PACKAGE in the root: it starts at a
package that was asked for (or installed by hand), and each next line is
pulled in by the one before, through a Depends, Pre-Depends or Recommends:

  nginx                 requested
  nginx-common          Depends of nginx: nginx-common (= 1.22.1-9+deb12u3)

The installed set is read from the root (--root) when it has a grey
database. With --install, the chain is that of the plan installing those
packages, so "grey why libc6 -i hello" says why installing hello would bring
libc6. Candidates come from the sources' index (see --source), or from
Packages files given with --packages.`
}

// whyStepJSON is one link of the chain in --json output.
type whyStepJSON struct {
	Package   string `json:"package"`
	Version   string `json:"version"`
	Arch      string `json:"architecture"`
	Requested bool   `json:"requested,omitempty"`
	Installed bool   `json:"installed,omitempty"`
	By        string `json:"by,omitempty"`
	Field     string `json:"field,omitempty"`
	Relation  string `json:"relation,omitempty"`
}

// Run solves the (possibly empty) request against the root's state and
// prints the chain.
func (c *WhyCmd) Run(ctx context.Context, g *Globals) error {
	rec, err := g.Recommends(c.NoRecommends)
	if err != nil {
		return err
	}
	req := resolver.Request{Recommends: rec, Architecture: c.Arch}
	for _, a := range c.Install {
		j, err := resolver.ParseJob(a)
		if err != nil {
			return &exitError{Code: 2, Err: err}
		}
		req.Install = append(req.Install, j)
	}
	installed, err := whyInstalled(ctx, g)
	if err != nil {
		return err
	}
	req.Installed = installed
	if len(req.Install) == 0 && len(req.Installed) == 0 {
		// Nothing installed and nothing asked: explain what installing the
		// package itself would bring, which is only itself.
		j, err := resolver.ParseJob(c.Package)
		if err != nil {
			return &exitError{Code: 2, Err: err}
		}
		req.Install = []resolver.Job{j}
	}
	var idx resolver.Index
	if len(c.PackagesFile) > 0 {
		var all []*deb.Package
		for _, f := range c.PackagesFile {
			ps, err := readPackagesFile(f)
			if err != nil {
				return err
			}
			all = append(all, ps...)
		}
		idx = resolver.NewMemIndex(all)
	} else {
		x, err := cli.OpenIndex(ctx, g)
		if err != nil {
			return err
		}
		defer x.Close()
		idx = x
		req.Policy = x.Policy
	}
	plan, err := resolver.Solve(ctx, idx, req)
	if err != nil {
		return &exitError{Code: 1, Err: err}
	}
	chain, err := resolver.Why(plan, c.Package)
	if err != nil && !known(idx, installed, c.Package) {
		// apt says "Unable to locate package" for a name it has never
		// heard of; "not in the resulting set" would suggest it exists.
		return &exitError{Code: cli.ExitNotFound, Err: fmt.Errorf("no such package: %s (no source has it and it is not installed)", c.Package)}
	}
	if err != nil {
		if len(c.Install) == 0 {
			err = fmt.Errorf("%w (to ask why installing something would bring it, add -i PKG)", err)
		}
		return &exitError{Code: 1, Err: err}
	}
	if g.JSON {
		out := make([]whyStepJSON, 0, len(chain))
		for _, st := range chain {
			s := whyStepJSON{Package: st.Package.Name, Version: st.Package.Version.String(), Arch: st.Package.Architecture,
				Requested: st.Reason.Requested, Installed: st.Reason.Installed, Field: st.Reason.Field}
			if st.Reason.By != nil {
				s.By = st.Reason.By.Name
				s.Relation = st.Reason.Relation.String()
			}
			out = append(out, s)
		}
		return cli.WriteJSON(g.Stdout, out)
	}
	width, vwidth := 0, 0
	for _, st := range chain {
		width = max(width, len(st.Package.Name))
		vwidth = max(vwidth, len(st.Package.Version.String()))
	}
	for _, st := range chain {
		var why string
		switch r := st.Reason; {
		case r.Requested:
			why = "requested"
		case r.Installed && r.Auto:
			why = "installed (automatically)"
		case r.Installed:
			why = "installed"
		case r.By != nil:
			why = fmt.Sprintf("%s of %s: %s", r.Field, r.By.Name, r.Relation)
		}
		if _, err := fmt.Fprintf(g.Stdout, "%-*s  %-*s  %s\n", width, st.Package.Name, vwidth, st.Package.Version, why); err != nil {
			return err
		}
	}
	return nil
}

// whyInstalled reads the root's installed set when it has a grey database,
// and none otherwise (a fresh root, or a Packages-file experiment).
func whyInstalled(ctx context.Context, g *Globals) ([]resolver.Installed, error) {
	if _, err := os.Stat(filepath.Join(g.Root, filepath.FromSlash(pkgdb.Path))); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	r, err := openView(ctx, g)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return transaction.InstalledSet(r.DB)
}

// readPackagesFile reads a Packages file named on the command line.
func readPackagesFile(path string) ([]*deb.Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return resolver.ReadPackages(f, path, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
}

// known reports whether a package named name (NAME or NAME:ARCH) is
// installed or a candidate in idx, under its own name or as a provided one.
func known(idx resolver.Index, installed []resolver.Installed, name string) bool {
	name, _, _ = strings.Cut(name, ":")
	for _, p := range installed {
		if p.Name == name {
			return true
		}
	}
	return len(idx.Packages(name)) > 0 || len(idx.Providers(name)) > 0
}
