package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/bytesize"
	"github.com/greypm/grey/repo"
	"github.com/greypm/grey/repo/fetch"
	"github.com/greypm/grey/repo/release"
	"github.com/greypm/grey/repo/sources"
	"github.com/greypm/grey/repo/storage"
)

// SyncOptions configure Sync.
type SyncOptions struct {
	// Now is the clock for the Release checks and the commit.
	Now func() time.Time
	// Fetcher downloads; nil means fetch.New() with its default bound on
	// parallel downloads.
	Fetcher repo.Fetcher
	// MaxFutureSkew overrides repo.DefaultMaxFutureSkew when positive.
	MaxFutureSkew time.Duration
}

// Suite statuses in a Summary.
const (
	// Hit: upstream's Release is the one the mirror already serves.
	Hit = "Hit"
	// Get: a new state was fetched and published.
	Get = "Get"
)

// SuiteResult is what a sync did with one suite.
type SuiteResult struct {
	Suite  string    `json:"suite"`
	Status string    `json:"status"`
	Date   time.Time `json:"date"`
	// Packages is the number of pool files the suite's indexes name (a
	// filtered suite: that it keeps).
	Packages int `json:"packages"`
}

// Summary reports a sync.
type Summary struct {
	Suites []SuiteResult `json:"suites"`
	// Files and Bytes count what was downloaded (indexes and pool).
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Reused counts pool files the mirror (or an interrupted sync)
	// already had.
	Reused int `json:"reused"`
	// Missing counts pool files upstream does not have (AllowMissing).
	Missing  int           `json:"missing"`
	Duration time.Duration `json:"duration"`
	// Commit is the git commit recording the new dists/, or "" when
	// nothing changed.
	Commit string `json:"commit,omitempty"`
}

// String is the one-line summary a sync prints.
func (s *Summary) String() string {
	var parts []string
	for _, r := range s.Suites {
		parts = append(parts, r.Status+" "+r.Suite)
	}
	out := fmt.Sprintf("%s; %d files, %s fetched, %d reused", strings.Join(parts, ", "), s.Files, bytesize.Format(s.Bytes), s.Reused)
	if s.Missing > 0 {
		out += fmt.Sprintf(", %d missing upstream", s.Missing)
	}
	return out + fmt.Sprintf(", %.2fs", s.Duration.Seconds())
}

// indexFile is one index file a Release lists, fetched into staging.
type indexFile struct {
	rel    release.File
	staged string // "" when upstream has none of its URLs
}

// indexDir is one component and architecture: the files of its folder.
type indexDir struct {
	component, arch string
	dir             string // "main/binary-amd64"
	files           []*indexFile
	pkgs            []*deb.Package // filtered mirrors: every package listed
}

// poolFile is one .deb to mirror.
type poolFile struct {
	name, sha  string
	size       int64
	url        string
	staged     string
	missing    bool
	downloaded bool
}

// suiteWork is one source's sync.
type suiteWork struct {
	src       *sources.Source
	suite     string // folder under dists/
	archs     []string
	vr        *repo.VerifiedRelease
	upstream  string // SHA256 of vr.Raw
	prev      *suiteState
	unchanged bool
	dirs      []*indexDir
	pool      []*poolFile
}

type syncer struct {
	m       *Mirror
	opts    SyncOptions
	st      *state
	sum     *Summary
	filter  string
	faults  faults
	staging string
	keys    *repo.Keyrings
}

// Sync brings the mirror up to date with its sources. Nothing in the served
// tree changes unless every source verified and every file was fetched and
// checked; then each suite switches in the order pool, by-hash, indexes,
// Release, InRelease, and dists/ is committed to the mirror's git history.
// A failed check is a *repo.RefusedError, a failed download a
// *repo.FetchError; either leaves the served tree as it was, and what was
// fetched stays staged for the next sync.
func Sync(ctx context.Context, m *Mirror, opts SyncOptions) (*Summary, error) {
	start := time.Now()
	if now, ok := faultClock(); ok {
		opts.Now = now
	}
	if opts.Now == nil {
		return nil, errors.New("mirror sync: no clock")
	}
	if opts.Fetcher == nil {
		opts.Fetcher = fetch.New()
	}
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := m.loadState()
	if err != nil {
		return nil, err
	}
	s := &syncer{m: m, opts: opts, st: st, sum: &Summary{}, filter: m.Config.filterKey(), faults: newFaults(), staging: m.meta("staging"), keys: repo.NewKeyrings()}
	if err := os.MkdirAll(s.staging, 0o755); err != nil {
		return nil, err
	}
	srcs, err := m.Config.ParsedSources()
	if err != nil {
		return nil, err
	}
	// 1. Verify every Release (the suites at once: each is a few small
	// requests, mostly waiting) and fetch the indexes of the changed
	// suites. The first error in the sources' order is reported.
	work := make([]*suiteWork, len(srcs))
	verrs := make([]error, len(srcs))
	var wg sync.WaitGroup
	for i, src := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work[i], verrs[i] = s.verify(ctx, src)
		}()
	}
	wg.Wait()
	for _, err := range verrs {
		if err != nil {
			return nil, err
		}
	}
	changed := slices.ContainsFunc(work, func(w *suiteWork) bool { return !w.unchanged })
	if changed && m.Config.Filtered() {
		// The closure spans every suite: one changed suite can change
		// what the others keep, so all are published again (a suite
		// whose selection is the same is rewritten byte for byte).
		for _, w := range work {
			w.unchanged = false
		}
	}
	if changed {
		var fetching []*suiteWork
		for _, w := range work {
			if !w.unchanged {
				fetching = append(fetching, w)
			}
		}
		if err := s.fetchIndexes(ctx, fetching); err != nil {
			return nil, err
		}
		// 2. The pool files to keep: everything listed, or the closure.
		if m.Config.Filtered() {
			if err := s.selectClosure(ctx, work); err != nil {
				return nil, err
			}
		} else {
			for _, w := range work {
				if !w.unchanged {
					if err := s.listPool(w); err != nil {
						return nil, err
					}
				}
			}
		}
		// 3. Fetch the pool.
		if err := s.fetchPool(ctx, work); err != nil {
			return nil, err
		}
		// 4. Publish: pool, then each suite's metadata, InRelease last.
		if err := s.writePool(ctx, work); err != nil {
			return nil, err
		}
		for _, w := range work {
			if w.unchanged {
				continue
			}
			if err := s.publish(ctx, w); err != nil {
				return nil, err
			}
		}
	}
	for _, w := range work {
		r := SuiteResult{Suite: w.suite, Status: Get, Date: w.vr.Release.Date, Packages: len(w.pool)}
		if w.unchanged {
			r.Status = Hit
			r.Packages = -1
		}
		s.sum.Suites = append(s.sum.Suites, r)
	}
	// 5. Record dists/ in git.
	if changed || !st.Committed {
		s.sum.Duration = time.Since(start)
		h, err := commitDists(m.Dir, commitMessage(m.Config.Name, work, s.sum), opts.Now())
		if err != nil {
			return nil, fmt.Errorf("mirror %s: commit dists: %w", m.Config.Name, err)
		}
		s.faults.at("commit")
		s.sum.Commit = h
		st.Committed = true
		if err := m.saveState(st); err != nil {
			return nil, err
		}
		s.cleanStaging(work)
	}
	s.sum.Duration = time.Since(start)
	return s.sum, nil
}

// filterKey identifies what the configuration selects: a suite published
// under another selection is not "unchanged" even with the same upstream.
func (c *Config) filterKey() string {
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %q %v %v %q", c.Architectures, c.Components, c.Packages, c.WithDeps, c.Recommends, c.Closure)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func (s *syncer) refuse(w *suiteWork, file, reason string, err error) error {
	return &repo.RefusedError{Source: w.src.String(), File: file, Reason: reason, Err: err}
}

// verify fetches and checks one source's Release.
func (s *syncer) verify(ctx context.Context, src *sources.Source) (*suiteWork, error) {
	w := &suiteWork{src: src, suite: src.Suite, prev: s.st.Suites[src.Suite]}
	w.archs = s.m.Config.Architectures
	if len(w.archs) == 0 {
		w.archs = src.Archs([]string{repo.HostArch()})
	}
	var last time.Time
	if w.prev != nil {
		last = w.prev.Date
	}
	vr, err := repo.VerifyRelease(ctx, src, repo.VerifyOptions{
		Now: s.opts.Now, Fetcher: s.opts.Fetcher, Architectures: w.archs,
		MaxFutureSkew: s.opts.MaxFutureSkew, Last: last, Keyrings: s.keys,
	})
	if err != nil {
		return nil, err
	}
	w.vr = vr
	sum := sha256.Sum256(vr.Raw)
	w.upstream = hex.EncodeToString(sum[:])
	w.unchanged = w.prev != nil && w.prev.Upstream == w.upstream && w.prev.Filter == s.filter
	return w, nil
}

// isIndexName reports whether base is a file of a binary-ARCH folder a
// client fetches: Packages in any compression, and the folder's Release.
func isIndexName(base string) bool {
	return base == "Release" || base == "Packages" || strings.HasPrefix(base, "Packages.")
}

// pendingIndex is an index file to fetch: the URLs to try in turn.
type pendingIndex struct {
	w     *suiteWork
	f     *indexFile
	dest  string
	tries []string
}

// fetchIndexes plans every index file of the suites' chosen components and
// architectures, in every compression their Release files list, and
// fetches them all in one bounded batch (the suites at once).
func (s *syncer) fetchIndexes(ctx context.Context, work []*suiteWork) error {
	var queue []*pendingIndex
	for _, w := range work {
		q, err := s.planIndexes(w)
		if err != nil {
			return err
		}
		queue = append(queue, q...)
	}
	for len(queue) > 0 {
		reqs := make([]fetch.Request, len(queue))
		for i, p := range queue {
			reqs[i] = fetch.Request{URL: p.tries[0], Dest: p.dest, Expect: fetch.Expect{Size: p.f.rel.Size, SHA256: p.f.rel.Hash}}
		}
		errs := s.opts.Fetcher.FetchAll(ctx, reqs)
		var next []*pendingIndex
		for i, p := range queue {
			url := p.tries[0]
			p.tries = p.tries[1:]
			if err := errs[i]; err != nil {
				if fetch.IsNotFound(err) {
					if len(p.tries) > 0 {
						next = append(next, p)
					}
					continue // upstream has no such file: not mirrored
				}
				return s.fetchErr(p.w, url, err)
			}
			p.f.staged = p.dest
			s.sum.Files++
			s.sum.Bytes += p.f.rel.Size
			s.faults.at("index")
		}
		queue = next
	}
	for _, w := range work {
		for _, d := range w.dirs {
			if d.best() == nil {
				return &repo.FetchError{Source: w.src.String(), File: w.vr.Dist + d.dir + "/Packages", Err: errors.New("upstream has none of the Packages files its Release lists")}
			}
		}
	}
	return nil
}

// planIndexes lists the index files of one suite to fetch, and marks
// those already staged.
func (s *syncer) planIndexes(w *suiteWork) ([]*pendingIndex, error) {
	rel := w.vr.Release
	comps := s.m.Config.Components
	if len(comps) == 0 {
		comps = w.src.Components
	}
	archs := slices.Clone(w.archs)
	if slices.Contains(rel.Architectures, "all") && !rel.NoSupportArchAll && !slices.Contains(archs, "all") {
		archs = append(archs, "all")
	}
	for _, c := range comps {
		if len(rel.Components) > 0 && !slices.Contains(rel.Components, c) && !slices.ContainsFunc(rel.Components, func(rc string) bool { return path.Base(rc) == c }) {
			return nil, s.refuse(w, w.vr.URL, fmt.Sprintf("has no component %q (it has %s)", c, strings.Join(rel.Components, " ")), nil)
		}
		for _, a := range archs {
			if !rel.HasArchitecture(a) {
				continue
			}
			d := &indexDir{component: c, arch: a, dir: c + "/binary-" + a}
			for _, f := range rel.SHA256 {
				if path.Dir(f.Path) == d.dir && isIndexName(path.Base(f.Path)) {
					d.files = append(d.files, &indexFile{rel: f})
				}
			}
			if !slices.ContainsFunc(d.files, func(f *indexFile) bool { return strings.HasPrefix(path.Base(f.rel.Path), "Packages") }) {
				return nil, s.refuse(w, w.vr.URL, fmt.Sprintf("lists no %s/Packages index", d.dir), nil)
			}
			w.dirs = append(w.dirs, d)
		}
	}
	if len(w.dirs) == 0 {
		return nil, s.refuse(w, w.vr.URL, fmt.Sprintf("has none of the architectures %s", strings.Join(w.archs, " ")), nil)
	}
	// Each file: by hash first (it stays consistent while upstream
	// changes), then its plain name; staged under its hash, so a file an
	// interrupted sync fetched is not fetched again.
	var queue []*pendingIndex
	for _, d := range w.dirs {
		for _, f := range d.files {
			dest := filepath.Join(s.staging, "index-"+f.rel.Hash)
			if ok, _ := fileHas(dest, f.rel.Size, f.rel.Hash); ok {
				f.staged = dest
				continue
			}
			p := &pendingIndex{w: w, f: f, dest: dest}
			if rel.AcquireByHash {
				p.tries = append(p.tries, w.vr.Dist+d.dir+"/by-hash/SHA256/"+f.rel.Hash)
			}
			p.tries = append(p.tries, w.vr.Dist+f.rel.Path)
			queue = append(queue, p)
		}
	}
	return queue, nil
}

// fetchErr turns a download error into a refusal (the content is not what
// the Release vouches for) or a fetch error.
func (s *syncer) fetchErr(w *suiteWork, url string, err error) error {
	var mm *fetch.MismatchError
	var tl *fetch.TooLargeError
	switch {
	case errors.As(err, &mm):
		return s.refuse(w, url, mm.What+" differs from what the metadata says", err)
	case errors.As(err, &tl):
		return s.refuse(w, url, "larger than the metadata says", err)
	}
	return &repo.FetchError{Source: w.src.String(), File: url, Err: err}
}

// best is the fetched Packages file to read: plain first (no decoding),
// then xz, gz, then any other.
func (d *indexDir) best() *indexFile {
	rank := func(f *indexFile) int {
		switch path.Base(f.rel.Path) {
		case "Packages":
			return 0
		case "Packages.xz":
			return 1
		case "Packages.gz":
			return 2
		}
		return 3
	}
	var out *indexFile
	for _, f := range d.files {
		if f.staged == "" || !strings.HasPrefix(path.Base(f.rel.Path), "Packages") {
			continue
		}
		if out == nil || rank(f) < rank(out) {
			out = f
		}
	}
	return out
}

// readIndex calls fn for every stanza of the directory's Packages index.
func (d *indexDir) readIndex(fn func(*control.Stanza) error) error {
	f := d.best()
	fh, err := os.Open(f.staged)
	if err != nil {
		return err
	}
	defer fh.Close()
	// The host's xz, when there is one, decodes twice as fast beside
	// this process (bookworm main: 50 MB).
	dec, _, err := compress.SystemDecoder().NewReader(fh)
	if err != nil {
		return fmt.Errorf("read %s: %w", f.rel.Path, err)
	}
	defer dec.Close()
	r := control.NewReaderName(dec, f.rel.Path)
	defer r.Close()
	for {
		st, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", f.rel.Path, err)
		}
		if err := fn(st); err != nil {
			return fmt.Errorf("read %s: %w", f.rel.Path, err)
		}
	}
}

// poolEntry reads the pool file a stanza names.
func poolEntry(w *suiteWork, st *control.Stanza) (*poolFile, error) {
	name := st.Get("Filename")
	if err := poolName(name); err != nil {
		return nil, fmt.Errorf("package %s: %w", st.Get("Package"), err)
	}
	size, err := strconv.ParseInt(st.Get("Size"), 10, 64)
	if err != nil || size < 0 {
		return nil, fmt.Errorf("package %s: invalid Size %q", st.Get("Package"), st.Get("Size"))
	}
	sum := strings.ToLower(st.Get("SHA256"))
	if len(sum) != 64 {
		return nil, fmt.Errorf("package %s: no SHA256 to check %s against", st.Get("Package"), name)
	}
	return &poolFile{name: name, sha: sum, size: size, url: archiveRoot(w.src) + name}, nil
}

func archiveRoot(src *sources.Source) string {
	u := src.URI.String()
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

// listPool lists every pool file the suite's indexes name.
func (s *syncer) listPool(w *suiteWork) error {
	seen := map[string]bool{}
	for _, d := range w.dirs {
		err := d.readIndex(func(st *control.Stanza) error {
			p, err := poolEntry(w, st)
			if err != nil {
				return err
			}
			if !seen[p.name] {
				seen[p.name] = true
				w.pool = append(w.pool, p)
			}
			return nil
		})
		if err != nil {
			return s.refuse(w, w.vr.Dist+d.best().rel.Path, "unusable index", err)
		}
	}
	return nil
}

// servedPool returns the pool files the indexes the mirror serves now
// name, with their SHA256: files the mirror itself fetched, checked and
// wrote. A local mirror trusts such a file when its size is right, instead
// of reading it again (a full Debian pool is hundreds of GB); a mirror
// in a bucket keeps its dists/ in its directory too.
func (s *syncer) servedPool() map[string]string {
	var d Dir
	switch st := s.m.Storage.(type) {
	case Dir:
		d = st
	case *remoteTree:
		d = st.local
	default:
		return nil
	}
	out := map[string]string{}
	for _, st := range s.st.Suites {
		done := map[string]bool{}
		for _, name := range st.Files {
			dir, _, ok := strings.Cut(name, "/by-hash/SHA256/")
			if !ok || !strings.Contains(path.Base(dir), "binary-") || done[dir] {
				continue
			}
			done[dir] = true
			fh, err := os.Open(filepath.Join(d.Root, filepath.FromSlash(name)))
			if err != nil {
				continue
			}
			dec, _, err := compress.SystemDecoder().NewReader(fh)
			if err == nil {
				r := control.NewReaderName(dec, name)
				for {
					stz, err := r.Next()
					if err != nil {
						break
					}
					out[stz.Get("Filename")] = strings.ToLower(stz.Get("SHA256")) + " " + stz.Get("Size")
				}
				r.Close()
				dec.Close()
			}
			fh.Close()
		}
	}
	return out
}

// present reports whether the mirror holds p: by size alone for a file
// the served indexes already name with the same SHA256, else by content.
// In a bucket, inv (one listing of pool/) answers for sizes and for
// names that are not there, without a request per file.
func (s *syncer) present(ctx context.Context, served map[string]string, inv map[string]storage.ObjectInfo, p *poolFile) (bool, error) {
	named := served[p.name] == p.sha+" "+strconv.FormatInt(p.size, 10)
	if inv != nil {
		o, ok := inv[p.name]
		if !ok || o.Size != p.size {
			return false, nil
		}
		if named {
			return true, nil
		}
	}
	if named {
		if d, ok := s.m.Storage.(Dir); ok {
			if fi, err := os.Stat(filepath.Join(d.Root, filepath.FromSlash(p.name))); err == nil && fi.Mode().IsRegular() && fi.Size() == p.size {
				return true, nil
			}
		}
	}
	return s.m.Storage.Exists(ctx, p.name, storage.Sum{Size: p.size, SHA256: p.sha})
}

// fetchPool downloads every pool file the mirror lacks into staging.
func (s *syncer) fetchPool(ctx context.Context, work []*suiteWork) error {
	served := s.servedPool()
	var inv map[string]storage.ObjectInfo
	if l, ok := s.m.Storage.(storage.Inventory); ok {
		var err error
		if inv, err = l.Inventory(ctx, "pool/"); err != nil {
			return err
		}
	}
	byName := map[string]*poolFile{}
	var reqs []fetch.Request
	var files []*poolFile
	var owners []*suiteWork
	for _, w := range work {
		for i, p := range w.pool {
			if q, ok := byName[p.name]; ok {
				if q.sha != p.sha || q.size != p.size {
					return s.refuse(w, p.url, fmt.Sprintf("two suites name different files %s", p.name), nil)
				}
				w.pool[i] = q
				continue
			}
			byName[p.name] = p
			ok, err := s.present(ctx, served, inv, p)
			if err != nil {
				return err
			}
			if ok {
				s.sum.Reused++
				continue
			}
			p.staged = filepath.Join(s.staging, "pool-"+p.sha)
			if ok, _ := fileHas(p.staged, p.size, p.sha); ok {
				s.sum.Reused++
				p.downloaded = true
				continue
			}
			reqs = append(reqs, fetch.Request{URL: p.url, Dest: p.staged, Expect: fetch.Expect{Size: p.size, SHA256: p.sha}})
			files = append(files, p)
			owners = append(owners, w)
		}
	}
	errs := s.opts.Fetcher.FetchAll(ctx, reqs)
	var first error
	for i, err := range errs {
		p := files[i]
		if err == nil {
			p.downloaded = true
			s.sum.Files++
			s.sum.Bytes += p.size
			continue
		}
		if fetch.IsNotFound(err) && s.m.Config.AllowMissing {
			p.missing = true
			s.sum.Missing++
			continue
		}
		err = s.fetchErr(owners[i], p.url, err)
		var re *repo.RefusedError
		if first == nil || errors.As(err, &re) && !errors.As(first, &re) {
			first = err
		}
	}
	if first != nil {
		return first
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil
}

// writePool moves the fetched pool files into the served tree: no client
// is told of them before the indexes naming them are published.
func (s *syncer) writePool(ctx context.Context, work []*suiteWork) error {
	done := map[string]bool{}
	for _, w := range work {
		for _, p := range w.pool {
			if !p.downloaded || p.missing || done[p.name] {
				continue
			}
			done[p.name] = true
			if err := storage.PutFile(ctx, s.m.Storage, p.name, p.staged, storage.Sum{Size: p.size, SHA256: p.sha}); err != nil {
				return err
			}
			s.faults.at("pool")
		}
	}
	return nil
}

// outFile is one dists/ file to publish.
type outFile struct {
	rel    string // relative to dists/SUITE/
	staged string
	size   int64
	sha    string
}

// publish switches one suite to its new state: by-hash copies, plain index
// names, Release and Release.gpg, InRelease last.
func (s *syncer) publish(ctx context.Context, w *suiteWork) error {
	dists := "dists/" + w.suite + "/"
	var files []outFile
	var top []outFile // Release, Release.gpg, InRelease, in that order
	if s.m.Config.Filtered() {
		var err error
		files, top, err = s.filteredFiles(w)
		if err != nil {
			return err
		}
	} else {
		for _, d := range w.dirs {
			for _, f := range d.files {
				if f.staged != "" {
					files = append(files, outFile{rel: f.rel.Path, staged: f.staged, size: f.rel.Size, sha: f.rel.Hash})
				}
			}
		}
		var err error
		top, err = s.upstreamTop(w)
		if err != nil {
			return err
		}
	}
	var names []string
	for _, f := range files {
		name := dists + path.Dir(f.rel) + "/by-hash/SHA256/" + f.sha
		names = append(names, name)
		if err := s.put(ctx, name, f); err != nil {
			return err
		}
		s.faults.at("by-hash")
	}
	for _, f := range files {
		names = append(names, dists+f.rel)
		if err := s.put(ctx, dists+f.rel, f); err != nil {
			return err
		}
		s.faults.at("index")
	}
	if err := s.m.Storage.Sync(ctx); err != nil {
		return err
	}
	for _, f := range top {
		names = append(names, dists+f.rel)
		if err := s.put(ctx, dists+f.rel, f); err != nil {
			return err
		}
		s.faults.at(f.rel)
	}
	// The signed files of another form than this state's (upstream moved
	// from InRelease to Release and Release.gpg, or back) would describe
	// an old state: they go once the new ones are in place.
	for _, stale := range []string{"InRelease", "Release", "Release.gpg"} {
		if !slices.ContainsFunc(top, func(f outFile) bool { return f.rel == stale }) {
			if err := s.m.Storage.Delete(ctx, dists+stale); err != nil {
				return err
			}
		}
	}
	if err := s.m.Storage.Sync(ctx); err != nil {
		return err
	}
	sort.Strings(names)
	s.st.Suites[w.suite] = &suiteState{Upstream: w.upstream, Date: w.vr.Release.Date, Filter: s.filter, Files: slices.Compact(names)}
	s.st.Committed = false
	if err := s.m.saveState(s.st); err != nil {
		return err
	}
	s.faults.at("state")
	return nil
}

// upstreamTop stages the upstream's own signed files.
func (s *syncer) upstreamTop(w *suiteWork) ([]outFile, error) {
	var top []outFile
	if w.vr.SigURL != "" {
		f, err := s.stageBytes("Release", w.vr.Raw)
		if err != nil {
			return nil, err
		}
		g, err := s.stageBytes("Release.gpg", w.vr.Sig)
		if err != nil {
			return nil, err
		}
		return append(top, f, g), nil
	}
	f, err := s.stageBytes(path.Base(w.vr.URL), w.vr.Raw)
	if err != nil {
		return nil, err
	}
	return append(top, f), nil
}

// stageBytes writes data to a staging file.
func (s *syncer) stageBytes(rel string, data []byte) (outFile, error) {
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	p := filepath.Join(s.staging, "meta-"+h)
	if ok, _ := fileHas(p, int64(len(data)), h); !ok {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return outFile{}, err
		}
	}
	return outFile{rel: rel, staged: p, size: int64(len(data)), sha: h}, nil
}

// put writes a staged file as name unless name already holds it. The
// staged file is kept (one file is written under several names): a
// copy, or on one file system a hard link, is handed to the storage.
func (s *syncer) put(ctx context.Context, name string, f outFile) error {
	ok, err := s.m.Storage.Exists(ctx, name, storage.Sum{Size: f.size, SHA256: f.sha})
	if err != nil || ok {
		return err
	}
	tmp := filepath.Join(s.staging, "put.tmp")
	_ = os.Remove(tmp)
	if err := os.Link(f.staged, tmp); err != nil {
		if err := copyFile(f.staged, tmp); err != nil {
			return err
		}
	}
	return storage.PutFile(ctx, s.m.Storage, name, tmp, storage.Sum{Size: f.size, SHA256: f.sha})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return createFrom(dst, in)
}

// createFrom writes what r holds to a new file dst (truncating one there).
func createFrom(dst string, r io.Reader) error {
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func commitMessage(name string, work []*suiteWork, sum *Summary) string {
	var b strings.Builder
	var changed []string
	for _, w := range work {
		if !w.unchanged {
			changed = append(changed, w.suite)
		}
	}
	if len(changed) == 0 {
		changed = append(changed, "recorded")
	}
	fmt.Fprintf(&b, "sync %s: %s\n\n", name, strings.Join(changed, " "))
	for _, w := range work {
		status := Get
		if w.unchanged {
			status = Hit
		}
		fmt.Fprintf(&b, "%s %s: Date %s (upstream %s)\n", status, w.suite, w.vr.Release.Date.UTC().Format(time.RFC1123), w.vr.URL)
	}
	fmt.Fprintf(&b, "\n%d files, %d bytes fetched, %d reused, %d missing upstream, %.2fs\n", sum.Files, sum.Bytes, sum.Reused, sum.Missing, sum.Duration.Seconds())
	return b.String()
}

// cleanStaging removes what a finished sync staged, except the upstream
// indexes it used: a filtered mirror reads them again to compute a closure
// when another suite changes.
func (s *syncer) cleanStaging(work []*suiteWork) {
	keep := map[string]bool{}
	for _, w := range work {
		for _, d := range w.dirs {
			for _, f := range d.files {
				keep["index-"+f.rel.Hash] = true
			}
		}
	}
	entries, err := os.ReadDir(s.staging)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !keep[e.Name()] {
			_ = os.RemoveAll(filepath.Join(s.staging, e.Name()))
		}
	}
}
