package transaction

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/repo"
	"github.com/greypm/grey/repo/sources"
	"github.com/greypm/grey/resolver"
)

// This file is the library entry point for changing a root, in three
// steps a caller can put its own questions between (as apko's
// FixateWorld and InstallPackages):
//
//	srcs, err := sources.Load(dir)                                       // the root's sources
//	x, _, _, err := lists.OpenIndex(ctx, dir, srcs, compress.SystemDecoder()) // their verified index
//	pending, err := transaction.Prepare(ctx, root.DB, x, transaction.ChangeRequest{...})
//	// show pending.Resolved, ask the user ...
//	plan, err := pending.Download(ctx, transaction.DownloadOptions{URL: transaction.SourceURLs(srcs), ...})
//	result, err := transaction.Apply(ctx, root.DB, plan, options)
//
// `grey install/remove/upgrade/full-upgrade/autoremove`, image builds and
// app roots all go through it; the command line adds only flags, the
// prompt and the output.

// ChangeRequest is what a caller asks of a root.
type ChangeRequest struct {
	// Request is the resolver's request. Prepare fills Installed from the
	// root's database and, when empty, Architecture with the host's.
	// ForeignArchs are the root's other architectures (Architectures:
	// what dpkg --add-architecture and grey arch add enabled); candidates
	// of any other architecture are not considered.
	Request resolver.Request
	// Local are .deb files to install as they are; their dependencies
	// resolve from the index, as with "apt install ./x.deb".
	Local []string
	// Reinstall also installs again the packages Request.Install names
	// that the plan keeps as they are (their candidate of exactly the
	// installed version).
	Reinstall bool
	// Purge removes the conffiles of removed packages too; packages
	// Request.Remove names of which only conffiles remain are purged.
	Purge bool
}

// Wanted is one package a change installs.
type Wanted struct {
	Package *deb.Package
	// Auto is the automatic-installation mark it gets.
	Auto bool
	// Path is a local .deb installed as it is; "" means Download fetches
	// the package from its source.
	Path string
}

// Pending is a resolved change, not yet downloaded nor applied.
type Pending struct {
	// Resolved is the resolver's plan (nil for a Pending built from a
	// lock, as image builds do).
	Resolved *resolver.Plan
	// Reinstall are the packages installed again (ChangeRequest.Reinstall).
	Reinstall []*deb.Package
	// Install are all packages to install: the resolver's new packages,
	// upgrades and downgrades (in that order, marked as it says), then
	// Reinstall (marked automatic: a reinstall keeps the mark).
	Install []Wanted
	// Remove are the removals, then purges of config-files packages.
	Remove []Remove
	// NotInstalled are names the request asked to remove that some
	// source has but the root does not: apt says "Package 'x' is not
	// installed, so not removed" and goes on.
	NotInstalled []string

	// cache is what Download added to the archive cache: the files it
	// fetched and the directories it made (deepest first).
	cache archiveCache
}

// Prepare resolves req against idx and the installed packages of db (nil:
// an empty root). Nothing changes; an unsatisfiable request is a
// *resolver.Unsatisfiable.
func Prepare(ctx context.Context, db DB, idx resolver.Index, req ChangeRequest) (*Pending, error) {
	rq := req.Request
	if db != nil {
		installed, err := InstalledSet(db)
		if err != nil {
			return nil, err
		}
		rq.Installed = installed
	}
	if rq.Architecture == "" {
		rq.Architecture = repo.HostArch()
	}
	if idx == nil {
		idx = resolver.NewMemIndex(nil)
	}
	locals, err := readDebs(req.Local)
	if err != nil {
		return nil, err
	}
	li := &localIndex{base: idx}
	localPath := map[*deb.Package]string{}
	rq.Install = append([]resolver.Job(nil), rq.Install...)
	for i, f := range req.Local {
		p := locals[i]
		p.Origin = "local"
		li.extra = append(li.extra, p)
		localPath[p] = f
		rq.Install = append(rq.Install, resolver.Job{Name: p.Name, Version: p.Version.String(), Arch: p.Architecture})
	}
	notInstalled, err := checkRemovals(db, li, rq)
	if err != nil {
		return nil, err
	}
	// Held packages (dpkg's selection: apt-mark hold, grey mark hold)
	// keep their version and stay, even when named, as apt-get -y keeps
	// them: a *HeldError refuses a plan that would change one.
	var held map[string]string
	if db != nil {
		if held, err = Held(db); err != nil {
			return nil, err
		}
	}
	rp, err := resolver.Solve(ctx, HoldIndex(li, held, nil), rq)
	if err != nil {
		return nil, err
	}
	if err := CheckHolds(rp, held, nil); err != nil {
		return nil, err
	}
	pd := &Pending{Resolved: rp, NotInstalled: notInstalled}
	for _, p := range ToFetch(rp) {
		w := Wanted{Package: p, Path: localPath[p]}
		if r, ok := rp.Reason(p); ok {
			w.Auto = r.Auto
		}
		pd.Install = append(pd.Install, w)
	}
	if req.Reinstall {
		pd.Reinstall = reinstallCandidates(li, rp, rq.Install)
		for _, p := range pd.Reinstall {
			pd.Install = append(pd.Install, Wanted{Package: p, Auto: true, Path: localPath[p]})
		}
	}
	if db != nil {
		// Packages a failure left to be reinstalled (dpkg's reinstreq,
		// half-installed) are, as apt reinstalls them on its next run.
		re, err := reinstRequired(db, li, rp, pd.Reinstall)
		if err != nil {
			return nil, err
		}
		for _, p := range re {
			pd.Reinstall = append(pd.Reinstall, p)
			pd.Install = append(pd.Install, Wanted{Package: p, Auto: true, Path: localPath[p]})
		}
	}
	instances := map[string]int{}
	for _, p := range rq.Installed {
		instances[p.Name]++
	}
	for _, p := range rp.Remove {
		name := p.Name
		if instances[name] > 1 {
			name += ":" + p.Architecture // which of the name's instances
		}
		pd.Remove = append(pd.Remove, Remove{Name: name, Purge: req.Purge})
	}
	if req.Purge && db != nil {
		// Purging a package of which only conffiles remain: the resolver
		// does not see it as installed, so add it here.
		pd.Remove = append(pd.Remove, configOnly(db, req.Request.Remove, pd.Remove)...)
	}
	return pd, nil
}

// DownloadOptions say where Download gets packages from and puts them.
type DownloadOptions struct {
	// Fetcher downloads; required when anything is to be fetched.
	Fetcher Fetcher
	// Dir is the root whose archive cache (ArchivesDir) receives the files.
	Dir string
	// Archives, when set, is the archive cache instead of Dir's
	// ArchivesDir (apt's Dir::Cache::archives).
	Archives string
	// URL gives each package's download URL (SourceURLs for a root's
	// sources).
	URL URLFunc
	// DownloadOnly: the packages are not to be installed (install
	// --download-only), so only the downloads' sizes are checked against
	// the free space, not their Installed-Size.
	DownloadOnly bool
}

// Download fetches the packages of p that are not local files into the
// archive cache (see the package function Download) and returns the
// concrete Plan for Apply. Before anything is fetched it checks the free
// space as apt does: the downloads against the cache's file system, the
// Installed-Size of every package to install against the root's (both
// together when they are one file system; checkFreeSpace); ErrNoSpace
// refuses the plan with nothing changed. A failed download changes
// nothing outside the cache.
func (p *Pending) Download(ctx context.Context, o DownloadOptions) (Plan, error) {
	var remote []*deb.Package
	var install int64
	for _, w := range p.Install {
		if w.Path == "" {
			remote = append(remote, w.Package)
		}
		install += w.Package.InstalledSize * 1024
	}
	if o.DownloadOnly {
		install = 0
	}
	var got []Install
	switch {
	case o.Fetcher != nil:
		var err error
		if got, p.cache, err = download(ctx, o.Fetcher, o.Dir, o.Archives, remote, o.URL, install); err != nil {
			return Plan{}, err
		}
	case len(remote) > 0:
		return Plan{}, errors.New("download: no fetcher")
	default:
		if err := checkFreeSpace(o.Dir, o.Archives, 0, install); err != nil {
			return Plan{}, err
		}
	}
	pl := Plan{Remove: append([]Remove(nil), p.Remove...)}
	for _, w := range p.Install {
		var it Install
		if w.Path != "" {
			it = Install{Path: w.Path}
		} else {
			it, got = got[0], got[1:]
		}
		it.Auto = w.Auto
		pl.Install = append(pl.Install, it)
	}
	return pl, nil
}

// Discard puts the archive cache back as it was before Download: it
// removes the files Download fetched and the directories it created, when
// empty. A caller calls it when Apply refuses the plan and changes nothing
// (a nil Result), so that a refused command leaves no package that failed
// verification, nor anything else, in the cache; after a change the
// downloads stay, as the cache of what is installed. It returns the first
// error of a removal.
func (p *Pending) Discard() error {
	c := p.cache
	p.cache = archiveCache{}
	if len(c.fetched) == 0 && len(c.created) == 0 {
		return nil
	}
	r, err := c.openRoot()
	if err != nil {
		return fmt.Errorf("discard: %w", err)
	}
	if r != nil {
		defer r.Close()
	}
	var first error
	for _, f := range c.fetched {
		if err := c.remove(r, f); err != nil && !errors.Is(err, os.ErrNotExist) && first == nil {
			first = fmt.Errorf("discard %s: %w", f, err)
		}
	}
	c.removeEmpty(r, c.created)
	return first
}

// SourceURLs is the URLFunc of packages from srcs: a package's Origin
// names its source (Source.ID), whose base URL is joined with its Filename.
func SourceURLs(srcs []*sources.Source) URLFunc {
	base := map[string]string{}
	for _, s := range srcs {
		base[s.ID()] = s.BaseURL().String()
	}
	return func(p *deb.Package) (string, error) {
		b, ok := base[p.Origin]
		if !ok {
			return "", fmt.Errorf("%s: no source %s to download it from", p, p.Origin)
		}
		return JoinURL(b, p.Filename)
	}
}

// configOnly returns purges for the named packages that are in the
// config-files state and not already in have.
func configOnly(db DB, jobs []resolver.Job, have []Remove) []Remove {
	var out []Remove
	_ = db.View(func(tx *bolt.Tx) error {
		for _, j := range jobs {
			p, _ := pkgdb.GetPackage(tx, j.Name)
			if p == nil || !p.IsConfigFiles() {
				continue
			}
			dup := false
			for _, h := range have {
				dup = dup || h.Name == j.Name
			}
			if !dup {
				out = append(out, Remove{Name: j.Name, Purge: true})
			}
		}
		return nil
	})
	return out
}

// reinstallCandidates finds, for each requested package the plan keeps as
// it is, the candidate of exactly the installed version.
func reinstallCandidates(idx resolver.Index, rp *resolver.Plan, jobs []resolver.Job) []*deb.Package {
	var out []*deb.Package
	for _, k := range rp.Keep {
		requested := false
		for _, j := range jobs {
			requested = requested || j.Name == k.Name
		}
		if !requested {
			continue
		}
		for _, c := range idx.Packages(k.Name) {
			if c.Architecture == k.Architecture && c.Version.String() == k.Version.String() && c.Origin != "installed" && c.SHA256 != "" {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// localIndex adds local .deb files to the sources' candidates, so their
// dependencies resolve like any package's.
type localIndex struct {
	base  resolver.Index
	extra []*deb.Package
}

func (x *localIndex) Packages(name string) []*deb.Package {
	var out []*deb.Package
	for _, p := range x.extra {
		if p.Name == name {
			out = append(out, p)
		}
	}
	return append(out, x.base.Packages(name)...)
}

func (x *localIndex) Providers(name string) []*deb.Package {
	var out []*deb.Package
	for _, p := range x.extra {
		for _, rel := range p.Provides {
			for _, pos := range rel {
				if pos.Name == name {
					out = append(out, p)
				}
			}
		}
	}
	return append(out, x.base.Providers(name)...)
}

// EssentialNames lets full-upgrade install missing Essential packages
// (resolver.EssentialIndex): the base index's Essential names, then those
// of the local files, each once.
func (x *localIndex) EssentialNames() []string {
	var names []string
	if ei, ok := x.base.(resolver.EssentialIndex); ok {
		names = ei.EssentialNames()
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		seen[n] = true
	}
	for _, p := range x.extra {
		if p.Essential && !seen[p.Name] {
			seen[p.Name] = true
			names = append(names, p.Name)
		}
	}
	return names
}

// readDebs reads the control part of each file, two at a time (an xz
// control member costs a decoder's dictionary each).
func readDebs(paths []string) ([]*deb.Package, error) {
	out := make([]*deb.Package, len(paths))
	errs := make([]error, len(paths))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = readDeb(paths[i])
			}
		}()
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	return out, errors.Join(errs...)
}

func readDeb(path string) (*deb.Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ctl, err := archive.ReadControl(f, path)
	if err != nil {
		return nil, err
	}
	p, err := deb.FromStanza(ctl.Fields)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// UnknownPackageError is a request naming a package that is neither
// installed nor known to any source (apt: "Unable to locate package").
type UnknownPackageError struct {
	// Name is the package as the request named it.
	Name string
}

func (e *UnknownPackageError) Error() string {
	return "Unable to locate package " + e.Name
}

// checkRemovals sorts the names rq asks to remove that are not installed:
// a name some source has (or a config-files package, which --purge
// handles) is returned, to be reported and skipped as apt does; a name
// nobody has is an *UnknownPackageError, as a typo should be.
func checkRemovals(db DB, idx resolver.Index, rq resolver.Request) ([]string, error) {
	var out []string
	for _, j := range rq.Remove {
		installed := false
		for _, p := range rq.Installed {
			if p.Name == j.Name && (j.Arch == "" || j.Arch == p.Architecture || p.Architecture == "all") {
				installed = true
				break
			}
		}
		if installed {
			continue
		}
		if db != nil && len(configOnly(db, []resolver.Job{j}, nil)) > 0 {
			continue
		}
		if len(idx.Packages(j.Name)) == 0 && len(idx.Providers(j.Name)) == 0 {
			return nil, &UnknownPackageError{Name: j.Name}
		}
		out = append(out, j.Name)
	}
	return out, nil
}

// ReinstallError is a package that must be reinstalled (a failure left
// it half-installed) of which no source has the installed version.
type ReinstallError struct {
	Package, Version string
}

func (e *ReinstallError) Error() string {
	return fmt.Sprintf("The package %s needs to be reinstalled, but I can't find an archive for it (version %s)", e.Package, e.Version)
}

// reinstRequired returns, for every package of the root that a failure
// left half-installed or flagged reinstreq and that is still selected for
// installation, the candidate of exactly its version, unless the plan
// already changes it (or reinstalls it).
func reinstRequired(db DB, idx resolver.Index, rp *resolver.Plan, already []*deb.Package) ([]*deb.Package, error) {
	var recs []*pkgdb.Package
	err := db.View(func(tx *bolt.Tx) error {
		pkgs, err := pkgdb.Packages(tx)
		for _, p := range pkgs {
			if w := p.Want(); w != "install" && w != "hold" {
				continue
			}
			if strings.Fields(p.Status + "  ")[1] == "reinstreq" || p.State() == pkgdb.StateHalfInstalled {
				recs = append(recs, p)
			}
		}
		return err
	})
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	planned := map[string]bool{}
	note := func(p *deb.Package) { planned[p.Name+":"+p.Architecture] = true }
	for _, p := range rp.Remove {
		note(p)
	}
	for _, p := range ToFetch(rp) {
		note(p)
	}
	for _, c := range rp.Upgrade {
		note(c.From)
	}
	for _, c := range rp.Downgrade {
		note(c.From)
	}
	for _, p := range already {
		note(p)
	}
	var out []*deb.Package
	for _, rec := range recs {
		if planned[rec.Name+":"+rec.Architecture] {
			continue
		}
		var found *deb.Package
		for _, c := range idx.Packages(rec.Name) {
			if c.Architecture == rec.Architecture && c.Version.String() == rec.Version && c.Origin != "installed" && (c.SHA256 != "" || c.Origin == "local") {
				found = c
				break
			}
		}
		if found == nil {
			return nil, &ReinstallError{Package: rec.Key(), Version: rec.Version}
		}
		out = append(out, found)
	}
	return out, nil
}
