package image

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/repo"
	"github.com/greypm/grey/repo/index"
	"github.com/greypm/grey/resolver"
	"github.com/greypm/grey/transaction"
)

// ResolveOptions configure Resolve.
type ResolveOptions struct {
	// StateDir holds the verified metadata of the spec's sources (laid out
	// as a root: var/lib/grey/lists, the index cache and the database that
	// remembers accepted Release dates). It is never the image itself; keep
	// it between runs to skip unchanged downloads and index builds.
	StateDir string
	// Now is the clock for the Release checks (Valid-Until, Date).
	Now func() time.Time
	// Fetcher downloads; nil means the repo package's default.
	Fetcher repo.Fetcher
}

// SourceError is a source whose metadata could not be fetched or verified.
type SourceError struct {
	Results []repo.Result
}

func (e *SourceError) Error() string {
	var msgs []string
	for _, r := range e.Results {
		if r.Err != nil {
			msgs = append(msgs, fmt.Sprintf("%s %s: %v", r.Source.URI, r.Source.Suite, r.Err))
		}
	}
	return "sources not verified: " + strings.Join(msgs, "; ")
}

// Unwrap returns the per-source errors.
func (e *SourceError) Unwrap() []error {
	var out []error
	for _, r := range e.Results {
		if r.Err != nil {
			out = append(out, r.Err)
		}
	}
	return out
}

// Resolve updates the spec's sources into opts.StateDir (verifying them
// with the spec's keyrings only), resolves the spec's packages and returns
// the lock that pins them.
func Resolve(ctx context.Context, s *Spec, opts ResolveOptions) (*Lock, error) {
	if opts.StateDir == "" {
		return nil, errors.New("resolve: no state directory")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	lk, err := pkgdb.LockRoot(ctx, opts.StateDir, pkgdb.LockOptions{})
	if err != nil {
		return nil, err
	}
	defer lk.Unlock()
	db, err := pkgdb.Open(opts.StateDir, pkgdb.Options{})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	results, err := repo.Update(ctx, s.Sources, repo.Options{
		Root:          opts.StateDir,
		Now:           now,
		Store:         db,
		Fetcher:       opts.Fetcher,
		Architectures: []string{s.Architecture},
	})
	if err != nil {
		if results == nil {
			return nil, err
		}
		return nil, &SourceError{Results: results}
	}

	l := &Lock{Version: LockVersion, Request: RequestOf(s)}
	var inputs []index.Input
	base := map[string]string{}
	for _, r := range results {
		st := r.State
		base[st.SourceID] = r.Source.BaseURL().String()
		l.Sources = append(l.Sources, LockedSource{
			ID: st.SourceID, Line: r.Source.String(), Suite: st.Suite,
			Date: st.Release.Date.UTC().Format(time.RFC3339), Signer: st.Release.Signer,
		})
		for _, f := range st.Indexes {
			inputs = append(inputs, index.Input{Origin: st.SourceID, Path: f.Path, SHA256: f.SHA256})
		}
	}
	x, _, err := index.Load(ctx, filepath.Join(opts.StateDir, filepath.FromSlash(index.CacheDirIn)), inputs)
	if err != nil {
		return nil, err
	}
	defer x.Close()

	req := resolver.Request{Recommends: s.Recommends, Architecture: s.Architecture}
	for _, name := range s.Packages {
		j, err := resolver.ParseJob(name)
		if err != nil {
			return nil, fmt.Errorf("%s: packages: %w", s.Path, err)
		}
		req.Install = append(req.Install, j)
	}
	if s.Essential {
		ess, err := x.RequiredNames(ctx, s.Architecture)
		if err != nil {
			return nil, err
		}
		for _, n := range ess {
			req.Install = append(req.Install, resolver.Job{Name: n})
		}
	}
	// An image starts empty: nothing installed, so every package of the
	// plan is a new one.
	pending, err := transaction.Prepare(ctx, nil, x, transaction.ChangeRequest{Request: req})
	if err != nil {
		return nil, err
	}
	if len(pending.Install) == 0 {
		return nil, errNoPackages
	}
	for _, w := range pending.Install {
		p := w.Package
		b, ok := base[p.Origin]
		if !ok {
			return nil, fmt.Errorf("%s: from %q, which is none of the spec's sources", p, p.Origin)
		}
		u, err := transaction.JoinURL(b, p.Filename)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if p.SHA256 == "" {
			return nil, fmt.Errorf("%s: the index gives no SHA256 for it; it cannot be locked", p)
		}
		lp := LockedPackage{
			Name: p.Name, Version: p.Version.String(), Architecture: p.Architecture,
			Source: p.Origin, URL: u, Filename: p.Filename, SHA256: p.SHA256, Size: p.Size, Auto: w.Auto,
		}
		l.Packages = append(l.Packages, lp)
	}
	sortPackages(l.Packages)
	return l, nil
}

// debPackage is the lock entry as the transaction package takes it.
func (p LockedPackage) debPackage() (*deb.Package, error) {
	v, err := version.Parse(p.Version)
	if err != nil {
		return nil, fmt.Errorf("package %s: version %q: %w", p.Name, p.Version, err)
	}
	return &deb.Package{Name: p.Name, Version: v, Architecture: p.Architecture, Filename: p.Filename, SHA256: p.SHA256, Size: p.Size, Origin: p.Source}, nil
}
