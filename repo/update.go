// Package repo brings a root's view of its package sources up to date
// (grey update) and reads what it stored.
//
// For each source Update fetches the signed Release (InRelease, else
// Release and Release.gpg), verifies it against that source's own signed-by
// keyring, checks that it is current (Valid-Until), not from the future, for
// the suite the source names, and not older than the last Release accepted
// for the source in this root. Then it fetches the Packages index of each
// component and architecture and checks its size and SHA256 against the
// Release. Only when all of that holds is the source's new state made
// current, in one rename; a refused or failed update leaves the previous
// verified state as it was.
//
// The sub-packages do the parts: sources reads source definitions, fetch
// downloads, trust checks signatures, release parses Release files.
package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/internal/atomicfile"
	"github.com/greypm/grey/repo/fetch"
	"github.com/greypm/grey/repo/lists"
	"github.com/greypm/grey/repo/release"
	"github.com/greypm/grey/repo/sources"
	"github.com/greypm/grey/repo/trust"
)

// ReleaseStore keeps, per source, the Date of the last Release accepted in
// a root. It lives in the root's database (package pkgdb implements it), not
// in a cache that can be wiped, because it is what refuses a replayed older
// Release (a metadata rollback).
type ReleaseStore interface {
	// LastAccepted returns the last accepted Date, and false when none is.
	LastAccepted(sourceID string) (time.Time, bool, error)
	// Accept records date as the last accepted Date of the source.
	Accept(sourceID string, date time.Time) error
}

// Fetcher downloads files; *fetch.Client is the implementation.
type Fetcher interface {
	fetch.Fetcher
	// FetchAll runs several downloads, returning one error per request.
	FetchAll(ctx context.Context, reqs []fetch.Request) []error
}

// DefaultMaxFutureSkew is how far after the local clock a Release's Date
// may lie before it is refused as coming from the future: clocks differ a
// little between an archive and its clients.
const DefaultMaxFutureSkew = 10 * time.Minute

// maxReleaseSize bounds an InRelease, Release or Release.gpg read into
// memory (Debian's largest InRelease is a few hundred KiB).
const maxReleaseSize = 32 << 20

// Options configure Update.
type Options struct {
	// Root is the root whose lists are updated.
	Root string
	// Now is the clock for Valid-Until, Date and key validity checks.
	Now func() time.Time
	// Store records the last accepted Release date per source; required.
	Store ReleaseStore
	// Fetcher downloads; nil means fetch.New().
	Fetcher Fetcher
	// Architectures are fetched for sources without an arch option; nil
	// means the host's (HostArch).
	Architectures []string
	// MaxFutureSkew overrides DefaultMaxFutureSkew when positive.
	MaxFutureSkew time.Duration
	// Parallel is how many sources are updated at once; 0 means 4.
	Parallel int
}

// Status says what an update did with one source.
type Status string

// The outcomes of one source's update.
const (
	// Hit: the Release had not changed; it was verified again and the
	// stored state kept.
	Hit Status = "Hit"
	// Get: a new Release was verified and its indexes stored.
	Get Status = "Get"
	// Refused: the metadata failed a check (signature, date, suite,
	// rollback, hash); the previous state is kept.
	Refused Status = "Refused"
	// Failed: the metadata could not be fetched or stored; the previous
	// state is kept.
	Failed Status = "Err"
)

// Result is the outcome for one source.
type Result struct {
	// ID is the source's ID (its folder under ListsDir).
	ID string
	// Source is the source as configured (the first of several entries
	// that share one suite).
	Source *sources.Source
	Status Status
	// State is the source's current verified state after the update: the
	// new one for Hit and Get, the previous one (or nil) otherwise.
	State *State
	// Err is a *RefusedError for Refused, another error for Failed.
	Err error
	// Downloaded counts the bytes fetched (index files reused from the
	// previous state are not counted).
	Downloaded int64
}

// RefusedError is metadata that failed a check.
type RefusedError struct {
	// Source is the source's one-line form.
	Source string
	// File is the URL (or local path, for a keyring) of the refused file.
	File   string
	Reason string
	Err    error
}

func (e *RefusedError) Error() string {
	s := fmt.Sprintf("%s: %s refused: %s", e.Source, e.File, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *RefusedError) Unwrap() error { return e.Err }

// FetchError is metadata that could not be downloaded.
type FetchError struct {
	Source string
	File   string
	Err    error
}

func (e *FetchError) Error() string { return fmt.Sprintf("%s: %s: %v", e.Source, e.File, e.Err) }

func (e *FetchError) Unwrap() error { return e.Err }

// HostArch returns the Debian name of the architecture grey runs on
// (deb.HostArch).
func HostArch() string { return deb.HostArch() }

// Update updates every binary source ("deb") in srcs and returns one Result
// per suite, in the order the suites first appear. Entries naming the same
// suite of the same archive (the same ID) are updated together, their
// components and architectures merged. The error is nil only when every
// source was updated; a source that fails does not stop the others, and
// what they accepted is kept (as apt does).
func Update(ctx context.Context, srcs []*sources.Source, opts Options) ([]Result, error) {
	if opts.Store == nil {
		return nil, errors.New("update: no release store")
	}
	if opts.Now == nil {
		return nil, errors.New("update: no clock")
	}
	fetchDefaults(&opts.Fetcher, &opts.Architectures, &opts.MaxFutureSkew)
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	groups, results := groupSources(srcs, opts.Architectures)
	root, err := openRoot(opts.Root)
	if err != nil {
		return nil, err
	}
	defer root.close()
	keys := &keyrings{files: map[string]*keyringFile{}, root: root}
	sem := make(chan struct{}, opts.Parallel)
	var wg sync.WaitGroup
	for i, g := range groups {
		if results[i].Err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = Result{ID: g.id, Source: g.src, Status: Failed, Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			results[i] = (&updater{opts: opts, g: g, keys: keys, root: root}).run(ctx)
		}()
	}
	wg.Wait()
	// A staging directory exists only while something is in it: what was
	// committed has been moved out, what was refused removed; a failed
	// source keeps its .partial files there for the next update to resume.
	// Removed through the root's os.Root (unlinkat, never following a
	// link).
	if staging, err := root.name(stagingDir); err == nil {
		for _, g := range groups {
			_ = root.r.Remove(path.Join(staging, g.id))
		}
		_ = root.r.Remove(staging)
	}
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return results, errors.Join(errs...)
}

// group is the entries of one suite, merged.
type group struct {
	id         string
	src        *sources.Source
	name       string // one-line form, for messages
	components []string
	archs      []string
}

func groupSources(srcs []*sources.Source, defArchs []string) ([]*group, []Result) {
	var groups []*group
	var results []Result
	byID := map[string]int{}
	for _, s := range srcs {
		if !s.IsBinary() {
			continue
		}
		id := s.ID()
		i, ok := byID[id]
		if !ok {
			byID[id] = len(groups)
			groups = append(groups, &group{id: id, src: s, name: s.String()})
			results = append(results, Result{ID: id, Source: s})
			i = len(groups) - 1
		} else if !sameTrust(groups[i].src, s) {
			results[i].Status = Failed
			results[i].Err = fmt.Errorf("%s: conflicts with %s: entries for one suite must agree on signed-by and trusted", s.String(), groups[i].name)
		}
		g := groups[i]
		for _, c := range s.Components {
			if !slices.Contains(g.components, c) {
				g.components = append(g.components, c)
			}
		}
		for _, a := range s.Archs(defArchs) {
			if !slices.Contains(g.archs, a) {
				g.archs = append(g.archs, a)
			}
		}
	}
	return groups, results
}

func sameTrust(a, b *sources.Source) bool {
	return slices.Equal(a.SignedBy, b.SignedBy) && a.SignedByKey == b.SignedByKey && a.Trusted == b.Trusted
}

// updater updates one suite.
type updater struct {
	opts Options
	g    *group
	keys *keyrings
	// stored is true when the store already holds the Release's Date.
	stored bool
	now    time.Time
	// staging holds this update's downloads until they are committed;
	// lists is the source's folder. Both are paths on this machine, as
	// the State names its files; the files are reached through
	// descriptors of the folders opened through the root (stageAt,
	// listsAt: see at).
	staging, lists string
	root           *updateRoot
	// stageDir, listsDir are the folders opened through the root
	// (updateRoot.openDir), nil until then; stageAt, listsAt the paths
	// that reach them without resolving their paths again.
	stageDir, listsDir *os.File
	stageAt, listsAt   string
}

// at is the path by which the file host of the staging or lists folder is
// reached: by its one name in the folder's open descriptor. "" (which
// opens nothing) while the folder is not open.
func (u *updater) at(host string) string {
	dir, base := filepath.Dir(host), filepath.Base(host)
	switch {
	case dir == u.lists && u.listsAt != "":
		return filepath.Join(u.listsAt, base)
	case dir == u.staging && u.stageAt != "":
		return filepath.Join(u.stageAt, base)
	}
	return ""
}

// openLists opens the source's lists folder through the root, making it
// when mkdir is set; a missing one, not made, stays closed.
func (u *updater) openLists(mkdir bool) error {
	if u.listsDir != nil {
		return nil
	}
	f, at, err := u.root.openDir(path.Join(ListsDir, u.g.id), mkdir)
	if errors.Is(err, fs.ErrNotExist) && !mkdir {
		return nil
	}
	if err != nil {
		return err
	}
	u.listsDir, u.listsAt = f, at
	return nil
}

// closeDirs closes the folders openLists and update opened.
func (u *updater) closeDirs() {
	for _, f := range []*os.File{u.listsDir, u.stageDir} {
		if f != nil {
			f.Close()
		}
	}
	u.listsDir, u.stageDir, u.listsAt, u.stageAt = nil, nil, "", ""
}

func (u *updater) refuse(file, reason string, err error) error {
	return &RefusedError{Source: u.g.name, File: file, Reason: reason, Err: err}
}

func (u *updater) run(ctx context.Context) Result {
	g := u.g
	res := Result{ID: g.id, Source: g.src, Status: Failed}
	u.now = u.opts.Now()
	u.lists = filepath.Join(u.opts.Root, filepath.FromSlash(ListsDir), g.id)
	u.staging = filepath.Join(u.opts.Root, filepath.FromSlash(stagingDir), g.id)
	defer u.closeDirs()
	if err := u.openLists(false); err != nil {
		res.Err = &FetchError{Source: g.name, File: u.lists, Err: err}
		return res
	}
	var prev *State
	if u.listsAt != "" {
		var err error
		if prev, err = lists.LoadDir(u.listsAt); err != nil {
			prev = nil // none yet, or a damaged manifest this update replaces
		} else {
			prev.Rebase(u.listsAt, u.lists)
		}
	}
	res.State = prev
	st, downloaded, err := u.update(ctx, prev)
	res.Downloaded = downloaded
	if err != nil {
		// The folders are open still: their descriptors' paths in the
		// error are written as the folders' paths under the root.
		res.Err = hostPaths(err, map[string]string{u.listsAt: u.lists, u.stageAt: u.staging})
		var re *RefusedError
		if errors.As(err, &re) {
			res.Status = Refused
			// Nothing of a refused update is worth keeping.
			u.removeStaging()
		}
		return res
	}
	res.State = st
	res.Status = Get
	if prev != nil && prev.Release.SHA256 == st.Release.SHA256 && downloaded == 0 {
		res.Status = Hit
	}
	return res
}

// keyrings parses each keyring file once per Update: sources of one archive
// usually share one, and reading a keyring checks every self-signature in
// it, which costs more than checking the Release.
type keyrings struct {
	mu    sync.Mutex
	files map[string]*keyringFile
	root  *updateRoot
}

type keyringFile struct {
	once sync.Once
	kr   *trust.Keyring
	err  error
}

func (k *keyrings) load(path string) (*trust.Keyring, error) {
	k.mu.Lock()
	f, ok := k.files[path]
	if !ok {
		f = &keyringFile{}
		k.files[path] = f
	}
	k.mu.Unlock()
	f.once.Do(func() { f.kr, f.err = k.read(path) })
	return f.kr, f.err
}

// read reads the keyring file p. One inside the root (an apt source's
// keyring, which sources.LoadApt resolved inside the root and names by
// its path there) is read through the root's os.Root, so a link swapped
// in on the way since (usr/share/keyrings -> /elsewhere) cannot lead out
// of the root: it is refused, naming the link (rootfs.ErrOutside). One
// outside the root (a keyring grey's own sources name on this machine)
// is read by its path.
func (k *keyrings) read(p string) (*trust.Keyring, error) {
	rel, ok := k.root.rel(p)
	if !ok {
		return trust.LoadKeyring(p)
	}
	data, err := k.root.readFile(rel)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return trust.ParseKeyring(data, p)
}

// keyring returns the keyring of the source's signed-by option and the
// fingerprints the signer is restricted to (none: any key of the keyring).
func (u *updater) keyring() (*trust.Keyring, []string, error) {
	s := u.g.src
	var rings []*trust.Keyring
	var names, fprs []string
	for _, sb := range s.SignedBy {
		if isFingerprint(sb) {
			fprs = append(fprs, strings.ToUpper(strings.TrimSuffix(sb, "!")))
			continue
		}
		p := sb
		if !filepath.IsAbs(p) && s.File != "" {
			// A relative path is relative to the file that names it.
			p = filepath.Join(filepath.Dir(s.File), p)
		}
		kr, err := u.keys.load(p)
		if err != nil {
			return nil, nil, u.refuse(p, "unusable signed-by keyring", err)
		}
		rings = append(rings, kr)
		names = append(names, p)
	}
	if s.SignedByKey != "" {
		kr, err := trust.ParseKeyring([]byte(s.SignedByKey), "inline Signed-By key")
		if err != nil {
			return nil, nil, u.refuse("Signed-By", "unusable inline signed-by key", err)
		}
		rings = append(rings, kr)
		names = append(names, kr.Name)
	}
	switch len(rings) {
	case 0:
		return nil, fprs, nil
	case 1:
		return rings[0], fprs, nil
	}
	return trust.Join(strings.Join(names, ", "), rings...), fprs, nil
}

func isFingerprint(s string) bool {
	s = strings.TrimSuffix(s, "!")
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// signed is a fetched and verified Release.
type signed struct {
	url, sigURL string // where the Release (InRelease) and Release.gpg came from
	raw, sig    []byte
	rel         *release.Release
	signer      string
}

// fetchRelease gets and verifies the Release of the suite.
func (u *updater) fetchRelease(ctx context.Context, dist string) (*signed, error) {
	s := u.g.src
	trusted := s.Trusted == sources.Yes
	if s.Trusted == sources.No {
		return nil, u.refuse(dist+"InRelease", "the source is marked trusted=no", nil)
	}
	kr, fprs, err := u.keyring()
	if err != nil {
		return nil, err
	}
	if kr == nil && len(fprs) > 0 {
		return nil, u.refuse(dist+"InRelease", "signed-by names only fingerprints; grey has no global keyring, give a keyring file", nil)
	}
	if kr == nil && !trusted {
		return nil, u.refuse(dist+"InRelease", "no signed-by keyring (grey trusts per source only, never a global keyring)", nil)
	}
	f := u.opts.Fetcher
	out := &signed{url: dist + "InRelease"}
	var text []byte
	var signer *trust.Signer
	out.raw, err = f.ReadSmall(ctx, out.url, maxReleaseSize)
	switch {
	case err == nil:
		if kr != nil {
			text, signer, err = kr.VerifyClearsigned(out.raw, u.now)
			if err != nil {
				return nil, u.refuse(out.url, "signature check failed", err)
			}
		} else if text, err = trust.ClearsignedText(out.raw); err != nil {
			return nil, u.refuse(out.url, "unreadable clearsigned file", err)
		}
	case fetch.IsNotFound(err):
		out.url = dist + "Release"
		if out.raw, err = f.ReadSmall(ctx, out.url, maxReleaseSize); err != nil {
			if fetch.IsNotFound(err) {
				return nil, &FetchError{Source: u.g.name, File: dist + "InRelease", Err: errors.New("neither InRelease nor Release exists")}
			}
			return nil, &FetchError{Source: u.g.name, File: out.url, Err: err}
		}
		text = out.raw
		if kr != nil {
			out.sigURL = dist + "Release.gpg"
			out.sig, err = f.ReadSmall(ctx, out.sigURL, maxReleaseSize)
			if fetch.IsNotFound(err) {
				return nil, u.refuse(out.url, "not signed: no InRelease and no Release.gpg", nil)
			}
			if err != nil {
				return nil, &FetchError{Source: u.g.name, File: out.sigURL, Err: err}
			}
			if signer, err = kr.VerifyDetached(out.raw, out.sig, u.now); err != nil {
				return nil, u.refuse(out.sigURL, "signature check failed", err)
			}
		}
	default:
		return nil, &FetchError{Source: u.g.name, File: out.url, Err: err}
	}
	if signer != nil {
		out.signer = signer.Primary
		if len(fprs) > 0 && !slices.Contains(fprs, signer.Primary) && !slices.Contains(fprs, signer.Fingerprint) {
			return nil, u.refuse(out.url, "signed by "+signer.Primary+", not by a key signed-by names", nil)
		}
	}
	if out.rel, err = release.Parse(text); err != nil {
		return nil, u.refuse(out.url, "unreadable Release", err)
	}
	return out, nil
}

// check applies the freshness, suite and rollback rules to a verified
// Release.
func (u *updater) check(sr *signed, prev *State) error {
	s, rel := u.g.src, sr.rel
	validUntil := rel.ValidUntil
	if s.ValidUntilMax > 0 {
		if limit := rel.Date.Add(s.ValidUntilMax); validUntil.IsZero() || limit.Before(validUntil) {
			validUntil = limit
		}
	}
	if s.ValidUntilMin > 0 && !validUntil.IsZero() {
		if floor := rel.Date.Add(s.ValidUntilMin); floor.After(validUntil) {
			validUntil = floor
		}
	}
	if s.CheckValidUntil.Bool(true) && !validUntil.IsZero() && u.now.After(validUntil) {
		return u.refuse(sr.url, fmt.Sprintf("expired: valid until %s, now %s", stamp(validUntil), stamp(u.now)), nil)
	}
	if rel.Date.After(u.now.Add(u.opts.MaxFutureSkew)) {
		return u.refuse(sr.url, fmt.Sprintf("dated %s, in the future (now %s)", stamp(rel.Date), stamp(u.now)), nil)
	}
	if !s.Flat {
		want := s.ExpandSuite(u.g.archs0())
		if want != rel.Suite && want != rel.Codename {
			return u.refuse(sr.url, fmt.Sprintf("Release is for suite %q (codename %q), not %q", rel.Suite, rel.Codename, want), nil)
		}
	}
	last, ok, err := u.opts.Store.LastAccepted(u.g.id)
	if err != nil {
		return &FetchError{Source: u.g.name, File: sr.url, Err: fmt.Errorf("read the last accepted Release date: %w", err)}
	}
	u.stored = ok && last.Equal(rel.Date)
	if prev != nil && (!ok || prev.Release.Date.After(last)) {
		last, ok = prev.Release.Date, true
	}
	if ok && rel.Date.Before(last) {
		return u.refuse(sr.url, fmt.Sprintf("dated %s, older than the Release accepted before (%s): a rollback", stamp(rel.Date), stamp(last)), nil)
	}
	return nil
}

func (g *group) archs0() string {
	if len(g.archs) == 0 {
		return ""
	}
	return g.archs[0]
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// wanted is one index to store, with the files the Release offers for it,
// best first.
type wanted struct {
	component, arch string
	cands           []release.File
}

// plan lists the indexes to fetch: per component and architecture the
// Packages files the Release lists, .xz preferred, then .gz, then plain.
func (u *updater) plan(sr *signed) ([]wanted, error) {
	rel := sr.rel
	var out []wanted
	add := func(component, arch, dir string) error {
		w := wanted{component: component, arch: arch}
		for _, ext := range []string{".xz", ".gz", ""} {
			if f, ok := rel.Lookup(dir + "Packages" + ext); ok {
				w.cands = append(w.cands, f)
			}
		}
		if len(w.cands) == 0 {
			return u.refuse(sr.url, fmt.Sprintf("lists no %sPackages index", dir), nil)
		}
		out = append(out, w)
		return nil
	}
	if u.g.src.Flat {
		return out, add("", "", "")
	}
	archs := slices.Clone(u.g.archs)
	if slices.Contains(rel.Architectures, "all") && !rel.NoSupportArchAll && !slices.Contains(archs, "all") {
		archs = append(archs, "all")
	}
	for _, c := range u.g.components {
		for _, a := range archs {
			if !rel.HasArchitecture(a) {
				continue // apt skips an architecture the suite does not have
			}
			if err := add(c, a, c+"/binary-"+a+"/"); err != nil {
				return nil, err
			}
		}
	}
	if len(out) == 0 {
		return nil, u.refuse(sr.url, fmt.Sprintf("has none of the architectures %s", strings.Join(u.g.archs, " ")), nil)
	}
	return out, nil
}

// localName is the content-addressed file name of a verified file.
func localName(hash, name string) string {
	return hash + "-" + strings.ReplaceAll(name, "/", "_")
}

func (u *updater) update(ctx context.Context, prev *State) (*State, int64, error) {
	s := u.g.src
	dist := s.DistURL(u.g.archs0()).String()
	sr, err := u.fetchRelease(ctx, dist)
	if err != nil {
		return nil, 0, err
	}
	if err := u.check(sr, prev); err != nil {
		return nil, 0, err
	}
	plan, err := u.plan(sr)
	if err != nil {
		return nil, 0, err
	}
	f, at, err := u.root.openDir(path.Join(stagingDir, u.g.id), true)
	if err != nil {
		return nil, 0, &FetchError{Source: u.g.name, File: u.staging, Err: err}
	}
	u.stageDir, u.stageAt = f, at
	indexes, downloaded, err := u.fetchIndexes(ctx, dist, sr.rel, plan)
	if err != nil {
		return nil, downloaded, err
	}
	if downloaded == 0 && u.unchanged(prev, sr, indexes) {
		// The same Release and the same files: nothing to write. The
		// store may still lack the date (a new database, lists kept).
		if !u.stored {
			if err := u.opts.Store.Accept(u.g.id, sr.rel.Date); err != nil {
				return nil, 0, &FetchError{Source: u.g.name, File: sr.url, Err: fmt.Errorf("record the accepted Release date: %w", err)}
			}
		}
		if name, err := u.root.name(path.Join(stagingDir, u.g.id)); err == nil {
			_ = u.root.r.Remove(name)
		}
		return prev, 0, nil
	}
	st, err := u.commit(sr, indexes)
	if err != nil {
		return nil, downloaded, &FetchError{Source: u.g.name, File: u.lists, Err: err}
	}
	return st, downloaded, nil
}

// unchanged reports whether a verified Release and its indexes are exactly
// what prev already holds.
func (u *updater) unchanged(prev *State, sr *signed, indexes []IndexFile) bool {
	if prev == nil || len(prev.Indexes) != len(indexes) {
		return false
	}
	sum := sha256.Sum256(sr.raw)
	if prev.Release.SHA256 != hex.EncodeToString(sum[:]) || !fileMatches(u.at(prev.Release.File), release.File{Size: int64(len(sr.raw)), Hash: prev.Release.SHA256}) {
		return false
	}
	for i, ix := range indexes {
		if prev.Indexes[i] != ix {
			return false
		}
	}
	return true
}

// attempt is one URL to try for an index.
type attempt struct {
	url  string
	file release.File
}

func (u *updater) fetchIndexes(ctx context.Context, dist string, rel *release.Release, plan []wanted) ([]IndexFile, int64, error) {
	out := make([]IndexFile, len(plan))
	queue := make([][]attempt, len(plan))
	for i, w := range plan {
		for _, f := range w.cands {
			if rel.AcquireByHash {
				queue[i] = append(queue[i], attempt{dist + path.Dir(f.Path) + "/by-hash/SHA256/" + f.Hash, f})
			}
			queue[i] = append(queue[i], attempt{dist + f.Path, f})
		}
	}
	// Reuse what the lists already hold with the right hash.
	pending := make([]int, 0, len(plan))
	for i, w := range plan {
		reused := false
		for _, f := range w.cands { // the one stored may be a fallback (.gz)
			local := filepath.Join(u.lists, localName(f.Hash, f.Path))
			if fileMatches(u.at(local), f) {
				out[i] = IndexFile{Component: w.component, Arch: w.arch, Name: f.Path, Path: local, SHA256: f.Hash, Size: f.Size}
				reused = true
				break
			}
		}
		if !reused {
			pending = append(pending, i)
		}
	}
	var downloaded int64
	// Each round tries the next URL of every index not yet fetched; a
	// missing file (a mirror without by-hash, or without .xz) falls back to
	// the next.
	for len(pending) > 0 {
		reqs := make([]fetch.Request, len(pending))
		for j, i := range pending {
			a := queue[i][0]
			reqs[j] = fetch.Request{URL: a.url, Dest: u.at(filepath.Join(u.staging, localName(a.file.Hash, a.file.Path))),
				Expect: fetch.Expect{Size: a.file.Size, SHA256: a.file.Hash}}
		}
		errs := u.opts.Fetcher.FetchAll(ctx, reqs)
		var next []int
		var firstErr error
		for j, i := range pending {
			a := queue[i][0]
			queue[i] = queue[i][1:]
			err := errs[j]
			if err == nil {
				downloaded += a.file.Size
				out[i] = IndexFile{Component: plan[i].component, Arch: plan[i].arch, Name: a.file.Path,
					Path: filepath.Join(u.lists, localName(a.file.Hash, a.file.Path)), SHA256: a.file.Hash, Size: a.file.Size}
				continue
			}
			var mm *fetch.MismatchError
			var tl *fetch.TooLargeError
			switch {
			case fetch.IsNotFound(err) && len(queue[i]) > 0:
				next = append(next, i)
				continue
			case errors.As(err, &mm):
				err = u.refuse(a.url, fmt.Sprintf("%s differs from the Release", mm.What), err)
			case errors.As(err, &tl):
				err = u.refuse(a.url, "larger than the Release says", err)
			default:
				err = &FetchError{Source: u.g.name, File: a.url, Err: err}
			}
			if firstErr == nil || isRefusal(err) && !isRefusal(firstErr) {
				firstErr = err
			}
		}
		if firstErr != nil {
			return nil, downloaded, firstErr
		}
		pending = next
	}
	return out, downloaded, nil
}

func isRefusal(err error) bool {
	var re *RefusedError
	return errors.As(err, &re)
}

// fileMatches reports whether path holds exactly f (size and SHA256).
func fileMatches(path string, f release.File) bool {
	fh, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer fh.Close()
	if fi, err := fh.Stat(); err != nil || fi.Size() != f.Size {
		return false
	}
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return false
	}
	return hex.EncodeToString(h.Sum(nil)) == f.Hash
}

// commit moves the staged files into the source's lists folder, writes the
// new manifest (the switch), records the Release date, and removes what
// the old state alone used.
func (u *updater) commit(sr *signed, indexes []IndexFile) (*State, error) {
	if err := u.openLists(true); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(sr.raw)
	hash := hex.EncodeToString(sum[:])
	rel := sr.rel
	st := &State{
		Version:  lists.FormatVersion,
		SourceID: u.g.id,
		Source:   u.g.name,
		URI:      u.g.src.URI.String(),
		Suite:    u.g.src.Suite,
		Accepted: u.now.UTC(),
		Release: ReleaseInfo{
			File:   filepath.Join(u.lists, localName(hash, path.Base(sr.url))),
			SHA256: hash, Signer: sr.signer,
			Origin: rel.Origin, Label: rel.Label, Suite: rel.Suite, Codename: rel.Codename, Version: rel.Version,
			Date: rel.Date, ValidUntil: rel.ValidUntil, Architectures: rel.Architectures, Components: rel.Components,
			AcquireByHash: rel.AcquireByHash,
			NotAutomatic:  rel.NotAutomatic, ButAutomaticUpgrades: rel.ButAutomaticUpgrades,
		},
		Indexes: indexes,
	}
	if !fileMatches(u.at(st.Release.File), release.File{Size: int64(len(sr.raw)), Hash: hash}) {
		if err := atomicfile.Write(u.at(st.Release.File), sr.raw, 0o644); err != nil {
			return nil, err
		}
	}
	if sr.sig != nil {
		ss := sha256.Sum256(sr.sig)
		st.Release.Signature = filepath.Join(u.lists, localName(hex.EncodeToString(ss[:]), "Release.gpg"))
		if err := atomicfile.Write(u.at(st.Release.Signature), sr.sig, 0o644); err != nil {
			return nil, err
		}
	}
	keep := map[string]bool{stateFile: true, filepath.Base(st.Release.File): true, filepath.Base(st.Release.Signature): true}
	for _, ix := range indexes {
		name := filepath.Base(ix.Path)
		keep[name] = true
		staged := u.at(filepath.Join(u.staging, name))
		if _, err := os.Lstat(staged); err == nil {
			if err := os.Rename(staged, u.at(ix.Path)); err != nil {
				return nil, err
			}
		}
	}
	if err := atomicfile.SyncDir(u.listsAt); err != nil {
		return nil, err
	}
	if err := lists.Write(u.listsAt, st); err != nil {
		return nil, err
	}
	if !u.stored {
		if err := u.opts.Store.Accept(u.g.id, rel.Date); err != nil {
			return nil, fmt.Errorf("record the accepted Release date: %w", err)
		}
	}
	// Files only the previous state used are garbage now.
	if entries, err := u.listsDir.ReadDir(-1); err == nil {
		for _, e := range entries {
			if !keep[e.Name()] {
				_ = os.RemoveAll(filepath.Join(u.listsAt, e.Name()))
			}
		}
	}
	u.removeStaging()
	return st, nil
}

// removeStaging removes the source's staging folder through the root
// (never following a link).
func (u *updater) removeStaging() {
	if name, err := u.root.name(path.Join(stagingDir, u.g.id)); err == nil {
		_ = u.root.r.RemoveAll(name)
	}
}
