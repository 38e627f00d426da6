package transaction

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/rootfs"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/repo/fetch"
	"github.com/greypm/grey/resolver"
)

// ArchivesDir is where downloaded packages are kept, relative to the root.
const ArchivesDir = "var/cache/grey/archives"

// InstalledSet returns the root's installed packages as the resolver
// takes them: every package whose files are there, configured or not
// (config-files and not-installed records are not installed for it).
func InstalledSet(db DB) ([]resolver.Installed, error) {
	var out []resolver.Installed
	err := db.View(func(tx *bolt.Tx) error {
		pkgs, err := pkgdb.Packages(tx)
		if err != nil {
			return err
		}
		for _, p := range pkgs {
			if !p.IsInstalled() {
				continue
			}
			d, err := DebPackage(p)
			if err != nil {
				return err
			}
			out = append(out, resolver.Installed{Package: d, Auto: p.Auto})
		}
		return nil
	})
	return out, err
}

// DebPackage decodes an installed record's control stanza.
func DebPackage(p *pkgdb.Package) (*deb.Package, error) {
	st, err := control.ParseOne([]byte(p.Control))
	if err != nil {
		return nil, fmt.Errorf("installed %s: %w", p.Name, err)
	}
	d, err := deb.FromStanza(st)
	if err != nil {
		return nil, fmt.Errorf("installed %s: %w", p.Name, err)
	}
	d.Origin = "installed"
	return d, nil
}

// Fetcher downloads files in parallel; *fetch.Client implements it.
type Fetcher interface {
	FetchAll(ctx context.Context, reqs []fetch.Request) []error
}

// URLFunc returns the download URL of a candidate (its source's base URL
// joined with its Filename).
type URLFunc func(p *deb.Package) (string, error)

// DownloadError lists the packages that could not be downloaded.
type DownloadError struct {
	Errs []error
}

func (e *DownloadError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return "download failed: " + strings.Join(msgs, "; ")
}

// Unwrap returns the individual errors.
func (e *DownloadError) Unwrap() []error { return e.Errs }

// CachePath is where pkg's .deb is kept in a root's archive cache, named
// as apt names it (name_version_arch.deb, the epoch's colon escaped).
func CachePath(root string, p *deb.Package) string {
	return filepath.Join(root, ArchivesDir, CacheName(p))
}

// CacheName is the file name of pkg's .deb in an archive cache
// (name_version_arch.deb, the epoch's colon escaped), as apt names it.
func CacheName(p *deb.Package) string {
	v := strings.ReplaceAll(p.Version.String(), ":", "%3a")
	return p.Name + "_" + v + "_" + p.Architecture + ".deb"
}

// archivesOf returns the archive cache directory: archives when set (apt's
// Dir::Cache::archives), else root's ArchivesDir.
func archivesOf(root, archives string) string {
	if archives == "" {
		return filepath.Join(root, ArchivesDir)
	}
	return archives
}

// Download fetches pkgs into the root's archive cache, all at once (the
// fetcher bounds the concurrency), each verified by the Size and SHA256 the
// index gives. It returns one Install per package, in order, carrying
// those hashes so Apply checks them again. A package already in the cache
// with the right hash is not fetched again. Nothing outside the cache
// changes, so a failed download leaves the root as it was; the cache
// directory is created only when something is to be fetched, and removed
// again, with the parents it made, when the download fails and leaves it
// empty. A cache inside the root is reached through the root's os.Root
// (archiveCache).
func Download(ctx context.Context, f Fetcher, root string, pkgs []*deb.Package, urlOf URLFunc) ([]Install, error) {
	out, _, err := download(ctx, f, root, "", pkgs, urlOf, 0)
	return out, err
}

// archiveCache is an archive cache as download fills it and
// Pending.Discard empties it. A cache inside a root other than "/" is
// reached through the root's os.Root: its directories are made, its
// files looked at and removed there (a link leading out of the root is
// refused, naming it), and the fetcher writes into a descriptor of the
// directory opened through it (/proc/self/fd/N/name), so that the
// directory swapped for a symlink during the download is not written
// through. A cache configured outside the root (Dir::Cache::archives) is
// reached by its path.
type archiveCache struct {
	dir  string // the cache's host path
	root string // the root's host path when the cache is inside it, else ""
	rel  string // dir relative to root (root set)

	// fetched and created are what download added: the files it
	// fetched and the directories it made (deepest first), host paths.
	fetched, created []string
}

func newArchiveCache(root, archives string) archiveCache {
	c := archiveCache{dir: archivesOf(root, archives)}
	abs, err := filepath.Abs(root)
	if err != nil || filepath.Clean(abs) == "/" {
		return c // nothing is outside the host's root
	}
	dir, err := filepath.Abs(c.dir)
	if err != nil {
		return c
	}
	if r, err := filepath.Rel(abs, dir); err == nil && filepath.IsLocal(r) {
		c.root, c.rel = abs, r
	}
	return c
}

// relOf returns host (a path below the cache's root) relative to it.
func (c *archiveCache) relOf(host string) string {
	abs, _ := filepath.Abs(host)
	r, _ := filepath.Rel(c.root, abs)
	return r
}

// openRoot opens the cache's root, nil for a cache outside it.
func (c *archiveCache) openRoot() (*os.Root, error) {
	if c.root == "" {
		return nil, nil
	}
	r, err := os.OpenRoot(c.root)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", c.root, err)
	}
	return r, nil
}

// open opens the cached file host for reading (through r when set).
func (c *archiveCache) open(r *os.Root, host string) (*os.File, error) {
	if r == nil {
		return os.Open(host)
	}
	return r.Open(c.relOf(host))
}

// mkdirAll makes the cache directory and its missing parents (below the
// root, or "/" for a cache outside it) and records those it created,
// deepest first.
func (c *archiveCache) mkdirAll(r *os.Root) error {
	base, rel := string(filepath.Separator), c.dir
	if r != nil {
		base, rel = c.root, c.rel
	}
	var missing []string
	for d := filepath.Clean(rel); d != "." && d != string(filepath.Separator); d = filepath.Dir(d) {
		var err error
		if r != nil {
			_, err = r.Lstat(d)
		} else {
			_, err = os.Lstat(d)
		}
		if err == nil {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		var err error
		if r != nil {
			err = r.Mkdir(missing[i], 0o755)
			if err != nil && !errors.Is(err, os.ErrExist) {
				err = rootfs.Explain(r, "mkdir", missing[i], err)
			}
		} else {
			err = os.Mkdir(missing[i], 0o755)
		}
		if err != nil && !errors.Is(err, os.ErrExist) {
			c.removeEmpty(r, hostsOf(base, missing[i+1:]))
			return err
		}
	}
	c.created = hostsOf(base, missing)
	return nil
}

func hostsOf(base string, rels []string) []string {
	out := make([]string, len(rels))
	for i, d := range rels {
		out[i] = filepath.Join(base, d)
	}
	return out
}

// remove removes the file host (through r when set).
func (c *archiveCache) remove(r *os.Root, host string) error {
	if r == nil {
		return os.Remove(host)
	}
	if err := r.Remove(c.relOf(host)); err != nil {
		return rootfs.Explain(r, "remove", c.relOf(host), err)
	}
	return nil
}

// removeEmpty removes each directory of dirs (deepest first, host
// paths) that is empty; it stops at the first that is not.
func (c *archiveCache) removeEmpty(r *os.Root, dirs []string) {
	for _, d := range dirs {
		if c.remove(r, d) != nil {
			return
		}
	}
}

// download is Download that also returns what it added to the cache
// (its fetched and created), so that a caller can put the cache back as
// it was (Pending.Discard). install is the Installed-Size, in bytes, of
// the packages the caller will install with them: it is checked against
// the root's free space with the downloads, before anything is fetched
// (checkFreeSpace). archives is the cache directory ("" for root's
// ArchivesDir).
func download(ctx context.Context, f Fetcher, root, archives string, pkgs []*deb.Package, urlOf URLFunc, install int64) (out []Install, cache archiveCache, err error) {
	if err := checkStateInsideDir(root); err != nil { // statedirs.go
		return nil, cache, err
	}
	cache = newArchiveCache(root, archives)
	r, err := cache.openRoot()
	if err != nil {
		return nil, cache, err
	}
	if r != nil {
		defer r.Close()
	}
	out = make([]Install, len(pkgs))
	var reqs []fetch.Request
	var names []string
	var who []*deb.Package
	for i, p := range pkgs {
		if p.SHA256 == "" {
			return nil, cache, fmt.Errorf("%s: the index gives no SHA256 for it; refusing an unverifiable download", p)
		}
		dest := filepath.Join(cache.dir, CacheName(p))
		out[i] = Install{Path: dest, SHA256: p.SHA256, Size: p.Size}
		if f, err := cache.open(r, dest); err == nil {
			err = checkFile(f, out[i])
			f.Close()
			if err == nil {
				continue
			}
		}
		u, err := urlOf(p)
		if err != nil {
			return nil, cache, err
		}
		reqs = append(reqs, fetch.Request{URL: u, Expect: fetch.Expect{Size: p.Size, SHA256: p.SHA256}})
		names = append(names, CacheName(p))
		who = append(who, p)
	}
	var need int64
	for _, r := range reqs {
		need += r.Expect.Size
	}
	if err := checkFreeSpace(root, archives, need, install); err != nil { // space.go
		return nil, cache, err
	}
	if len(reqs) == 0 {
		return out, cache, nil
	}
	if err := cache.mkdirAll(r); err != nil {
		return nil, cache, fmt.Errorf("archive cache: %w", err)
	}
	via := cache.dir
	if r != nil {
		d, err := r.OpenFile(cache.rel, os.O_RDONLY|syscall.O_DIRECTORY, 0)
		if err != nil {
			cache.removeEmpty(r, cache.created)
			return nil, cache, fmt.Errorf("archive cache: %w", rootfs.Explain(r, "open", cache.rel, err))
		}
		defer d.Close()
		// The fetcher writes by path: the descriptor's /proc name is
		// the directory itself, whatever is renamed meanwhile. Without
		// /proc, the cache's path (checked above) is all there is.
		via = rootfs.FDPath(d, cache.dir)
	}
	for i := range reqs {
		reqs[i].Dest = filepath.Join(via, names[i])
	}
	var errs []error
	for i, err := range f.FetchAll(ctx, reqs) {
		if err != nil {
			err = rootfs.HostPaths(err, map[string]string{via: cache.dir})
			errs = append(errs, fmt.Errorf("%s: %w", who[i], err))
			continue
		}
		cache.fetched = append(cache.fetched, filepath.Join(cache.dir, names[i]))
	}
	if len(errs) > 0 {
		// Verified downloads stay for the next attempt, and so do the
		// .partial files of cut transfers (they are resumed); a
		// directory left empty goes.
		cache.removeEmpty(r, cache.created)
		return nil, archiveCache{}, &DownloadError{Errs: errs}
	}
	return out, cache, nil
}

// JoinURL joins a source's base URL and a Filename from its index.
func JoinURL(base, filename string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("source URL %s: %w", base, err)
	}
	for _, part := range strings.Split(filename, "/") {
		if part == ".." {
			return "", fmt.Errorf("filename %q leaves the archive", filename)
		}
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path.Clean("/"+filename)
	return u.String(), nil
}

// ToFetch lists the packages of rp that need a .deb: new ones, upgrades
// and downgrades, in that order.
func ToFetch(rp *resolver.Plan) []*deb.Package {
	out := append([]*deb.Package(nil), rp.Install...)
	for _, c := range rp.Upgrade {
		out = append(out, c.To)
	}
	for _, c := range rp.Downgrade {
		out = append(out, c.To)
	}
	return out
}
