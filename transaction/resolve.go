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

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
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
// empty.
func Download(ctx context.Context, f Fetcher, root string, pkgs []*deb.Package, urlOf URLFunc) ([]Install, error) {
	out, _, _, err := download(ctx, f, root, "", pkgs, urlOf, 0)
	return out, err
}

// download is Download that also returns the cache files it fetched and
// the directories it created (deepest first), so that a caller can put the
// cache back as it was (Pending.Discard). install is the Installed-Size,
// in bytes, of the packages the caller will install with them: it is
// checked against the root's free space with the downloads, before
// anything is fetched (checkFreeSpace). archives is the cache directory
// ("" for root's ArchivesDir).
func download(ctx context.Context, f Fetcher, root, archives string, pkgs []*deb.Package, urlOf URLFunc, install int64) (out []Install, fetched, created []string, err error) {
	if err := checkStateInsideDir(root); err != nil { // statedirs.go: the cache is reached by its path
		return nil, nil, nil, err
	}
	archives = archivesOf(root, archives)
	out = make([]Install, len(pkgs))
	var reqs []fetch.Request
	var who []*deb.Package
	for i, p := range pkgs {
		if p.SHA256 == "" {
			return nil, nil, nil, fmt.Errorf("%s: the index gives no SHA256 for it; refusing an unverifiable download", p)
		}
		dest := filepath.Join(archives, CacheName(p))
		out[i] = Install{Path: dest, SHA256: p.SHA256, Size: p.Size}
		if f, err := os.Open(dest); err == nil {
			err = checkFile(f, out[i])
			f.Close()
			if err == nil {
				continue
			}
		}
		u, err := urlOf(p)
		if err != nil {
			return nil, nil, nil, err
		}
		reqs = append(reqs, fetch.Request{URL: u, Dest: dest, Expect: fetch.Expect{Size: p.Size, SHA256: p.SHA256}})
		who = append(who, p)
	}
	var need int64
	for _, r := range reqs {
		need += r.Expect.Size
	}
	if err := checkFreeSpace(root, archives, need, install); err != nil { // space.go
		return nil, nil, nil, err
	}
	if len(reqs) == 0 {
		return out, nil, nil, nil
	}
	base, rel := root, ArchivesDir
	if r, rerr := filepath.Rel(root, archives); rerr != nil || !filepath.IsLocal(r) {
		base, rel = string(filepath.Separator), archives // a cache outside the root
	} else {
		rel = r
	}
	if created, err = mkdirAllCreated(base, rel); err != nil {
		return nil, nil, nil, fmt.Errorf("archive cache: %w", err)
	}
	var errs []error
	for i, err := range f.FetchAll(ctx, reqs) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", who[i], err))
			continue
		}
		fetched = append(fetched, reqs[i].Dest)
	}
	if len(errs) > 0 {
		// Verified downloads stay for the next attempt, and so do the
		// .partial files of cut transfers (they are resumed); a
		// directory left empty goes.
		removeEmpty(created)
		return nil, nil, nil, &DownloadError{Errs: errs}
	}
	return out, fetched, created, nil
}

// mkdirAllCreated makes root/rel and its missing parents (inside root),
// and returns the directories it created, deepest first.
func mkdirAllCreated(root, rel string) ([]string, error) {
	var missing []string
	for d := filepath.Clean(rel); d != "." && d != string(filepath.Separator); d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(root, d)); err == nil {
			break
		}
		missing = append(missing, filepath.Join(root, d))
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			removeEmpty(missing[i+1:])
			return nil, err
		}
	}
	return missing, nil
}

// removeEmpty removes each directory of dirs (deepest first) that is
// empty; it stops at the first that is not.
func removeEmpty(dirs []string) {
	for _, d := range dirs {
		if os.Remove(d) != nil {
			return
		}
	}
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
