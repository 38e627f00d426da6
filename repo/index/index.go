package index

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/version"
)

// Index is the packages of several inputs, read in place from their cache
// files. Its methods are safe for concurrent use until Close; the order of
// every answer is the inputs' order, then each file's.
type Index struct {
	files []*indexFile
	n     int

	mu   sync.Mutex
	errs []error // packages that failed to decode

	essential essentialMemo // see EssentialNames
}

type indexFile struct {
	m      *mapped
	origin string
	path   string
	// memo holds the decoded packages in chunks allocated on first use,
	// so that a command that decodes a few packages allocates little.
	memo []atomic.Pointer[memoChunk]
}

const memoChunkSize = 256

type memoChunk [memoChunkSize]atomicPackage

func (f *indexFile) slot(i uint32) *atomicPackage {
	c := &f.memo[i/memoChunkSize]
	chunk := c.Load()
	if chunk == nil {
		c.CompareAndSwap(nil, new(memoChunk))
		chunk = c.Load()
	}
	return &chunk[i%memoChunkSize]
}

// Ref designates one package of an Index.
type Ref struct{ file, pkg uint32 }

// Summary is what the index knows about a package without decoding its
// stanza. Its strings alias the cache file (see the package doc: valid until
// Close).
type Summary struct {
	Ref
	Name, Version, Architecture string
	// Description is the short description, the Description field's first
	// line.
	Description string
	// Origin is the package's Input.Origin.
	Origin string

	debKey uint32 // see pDebKey
}

// Provider is a package that provides a name, with the version its Provides
// field gives ("" when unversioned; a versioned Provides is always "=").
type Provider struct {
	Summary
	Version string
}

// LoadResult says what Load had to do besides mapping the caches.
type LoadResult struct {
	// Rebuilt holds one error per cache file that was missing or failed its
	// checks and was rebuilt from its Packages file (an *os.PathError for a
	// missing file, a *CorruptError for a damaged one).
	Rebuilt []error
	// Report is Build's report when anything was rebuilt.
	Report *Report
}

// Load maps the cache file of each input under cacheDir, first (re)building
// those that are missing or fail a check from the input's verified Packages
// file. The Index must be closed.
func Load(ctx context.Context, cacheDir string, inputs []Input) (*Index, *LoadResult, error) {
	for _, in := range inputs {
		if err := checkInput(in); err != nil {
			return nil, nil, err
		}
	}
	res := &LoadResult{}
	x := &Index{}
	maps := make([]*mapped, len(inputs))
	for i, in := range inputs {
		m, err := mapFile(CachePath(cacheDir, in), in.SHA256)
		if err != nil {
			res.Rebuilt = append(res.Rebuilt, err)
			continue
		}
		maps[i] = m
	}
	if len(res.Rebuilt) > 0 {
		rep, err := Build(ctx, cacheDir, inputs)
		if err != nil {
			closeAll(maps)
			return nil, nil, err
		}
		res.Report = rep
	}
	for i, in := range inputs {
		path := CachePath(cacheDir, in)
		if maps[i] == nil {
			m, err := mapFile(path, in.SHA256)
			if err != nil {
				closeAll(maps)
				return nil, nil, fmt.Errorf("index: freshly built cache unreadable: %w", err)
			}
			maps[i] = m
		}
		x.files = append(x.files, &indexFile{
			m: maps[i], origin: in.Origin, path: path,
			memo: make([]atomic.Pointer[memoChunk], (maps[i].n+memoChunkSize-1)/memoChunkSize),
		})
		x.n += maps[i].n
	}
	return x, res, nil
}

func closeAll(ms []*mapped) {
	for _, m := range ms {
		if m != nil {
			_ = m.close()
		}
	}
}

func decodeHex(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("SHA256 %q is not 64 hex digits", s)
	}
	return b, nil
}

// Close unmaps the cache files. Everything the Index returned stays valid:
// summaries, providers, names and decoded packages hold copies of the
// strings they carry, never the mapping's bytes.
func (x *Index) Close() error {
	var errs []error
	for _, f := range x.files {
		errs = append(errs, f.m.close())
	}
	x.files = nil
	x.n = 0
	return errors.Join(errs...)
}

// Len is the number of packages.
func (x *Index) Len() int { return x.n }

// Err returns the failures seen so far, or nil: packages that did not
// decode, and cache files found corrupt after Load (Load checks only their
// headers; each block is checked when it is first read). Answers given
// after such a failure may be incomplete: packages that fail to decode are
// left out, and a corrupt block reads as empty. A corrupt cache file is
// removed when the damage is found, so the next Load rebuilds it: a caller
// that sees a *CorruptError here should Close, Load again and retry.
func (x *Index) Err() error {
	x.mu.Lock()
	errs := slices.Clone(x.errs)
	x.mu.Unlock()
	for _, f := range x.files {
		if err := f.m.err.Load(); err != nil && !slices.ContainsFunc(errs, func(e error) bool { return e == error(err) }) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// summary returns package i of file fi with its strings copied out of
// the mapping (one allocation), as every exported answer carries them:
// the Index may be closed while they are in use.
func (x *Index) summary(fi, i int) Summary {
	return detach(x.summaryView(fi, i), "")
}

// detach copies s's strings and extra out of the mapping, in one
// allocation; it returns s and the copy of extra.
func detach(s Summary, extra string) Summary {
	var b strings.Builder
	b.Grow(len(s.Name) + len(s.Version) + len(s.Architecture) + len(s.Description) + len(extra))
	for _, f := range []string{s.Name, s.Version, s.Architecture, s.Description, extra} {
		b.WriteString(f)
	}
	all, at := b.String(), 0
	cut := func(f string) string {
		at += len(f)
		return all[at-len(f) : at]
	}
	s.Name, s.Version, s.Architecture, s.Description = cut(s.Name), cut(s.Version), cut(s.Architecture), cut(s.Description)
	return s
}

// summaryView is summary with strings that alias the mapping, for
// internal passes that copy what they keep.
func (x *Index) summaryView(fi, i int) Summary {
	f := x.files[fi]
	v := f.m.view
	r := v.pkg(i)
	return Summary{
		Ref:          Ref{uint32(fi), uint32(i)},
		Name:         v.name(int(le32(r, pName))),
		Version:      v.str(le32(r, pVerOff), le32(r, pVerLen)),
		Architecture: v.str(le32(r, pArchOff), le32(r, pArchLen)),
		Description:  v.str(le32(r, pDescOff), le32(r, pDescLen)),
		Origin:       f.origin,
		debKey:       le32(r, pDebKey),
	}
}

// Decode returns the package r designates, decoding its stanza on first use.
// The result is shared by every caller: do not modify it.
func (x *Index) Decode(r Ref) (*deb.Package, error) {
	if int(r.file) >= len(x.files) || int(r.pkg) >= x.files[r.file].m.n {
		return nil, fmt.Errorf("index: no package %d in file %d", r.pkg, r.file)
	}
	f := x.files[r.file]
	slot := f.slot(r.pkg)
	if p := slot.Load(); p != nil {
		return p, nil
	}
	p, err := f.decode(int(r.pkg))
	if err != nil {
		return nil, x.fail(f, err)
	}
	if slot.CompareAndSwap(nil, p) {
		return p, nil
	}
	return slot.Load(), nil
}

// fail records a package of f that did not decode and returns the error
// that Err will report.
func (x *Index) fail(f *indexFile, err error) error {
	var ce *CorruptError
	if !errors.As(err, &ce) {
		err = fmt.Errorf("index cache %s: %w", f.path, err)
	}
	x.mu.Lock()
	x.errs = append(x.errs, err)
	x.mu.Unlock()
	return err
}

func (f *indexFile) decode(i int) (*deb.Package, error) {
	t, err := f.m.text(i)
	if err != nil {
		return nil, err
	}
	st, err := decodeCanonical(string(t), int(le32(f.m.pkg(i), pLine)))
	if err != nil {
		return nil, fmt.Errorf("stanza %d: %w", i, err)
	}
	p, err := deb.FromStanza(st)
	if err != nil {
		return nil, err
	}
	p.Origin = f.origin
	return p, nil
}

func (x *Index) decodeAll(rs []Ref) []*deb.Package {
	if len(rs) == 0 {
		return nil
	}
	out := make([]*deb.Package, 0, len(rs))
	for _, r := range rs {
		if p, err := x.Decode(r); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// Lookup returns the packages called name without decoding them.
func (x *Index) Lookup(name string) []Summary {
	var out []Summary
	for fi, f := range x.files {
		for _, i := range f.m.namePackages(name) {
			out = append(out, x.summary(fi, int(i)))
		}
	}
	return out
}

// Packages returns every package called name (all versions, all
// architectures), decoded. It satisfies the resolver's Index interface.
func (x *Index) Packages(name string) []*deb.Package {
	var rs []Ref
	for fi, f := range x.files {
		for _, i := range f.m.namePackages(name) {
			rs = append(rs, Ref{uint32(fi), i})
		}
	}
	return x.decodeAll(rs)
}

// ProvidersOf returns the packages whose Provides field names name, with the
// version provided, without decoding them.
func (x *Index) ProvidersOf(name string) []Provider {
	out := x.providersView(name)
	for i := range out {
		p := &out[i]
		p.Summary = detach(p.Summary, p.Version)
		p.Version = strings.Clone(p.Version)
	}
	return out
}

// providersView is ProvidersOf with strings that alias the mapping.
func (x *Index) providersView(name string) []Provider {
	var out []Provider
	for fi, f := range x.files {
		v := f.m.view
		start, count, ok := v.find(secProvs, secPHash, v.nprovs, name)
		if !ok {
			continue
		}
		for k := start; k < start+count; k++ {
			e := v.rec(secPPost, k, ppostSize)
			if int(le32(e, ppPkg)) >= v.n {
				v.corrupt("provides posting %d: package %d of %d", k, le32(e, ppPkg), v.n)
				continue
			}
			out = append(out, Provider{
				Summary: x.summaryView(fi, int(le32(e, ppPkg))),
				Version: v.str(le32(e, ppVerOff), le32(e, ppVerLen)),
			})
		}
	}
	return out
}

// Providers returns the packages whose Provides field names name, whatever
// the version, decoded. It satisfies the resolver's Index interface.
func (x *Index) Providers(name string) []*deb.Package {
	var rs []Ref
	for _, p := range x.providersView(name) {
		rs = append(rs, p.Ref)
	}
	return x.decodeAll(rs)
}

// Summaries yields every package in index order without decoding it.
func (x *Index) Summaries() iter.Seq[Summary] {
	return func(yield func(Summary) bool) {
		for fi, f := range x.files {
			for i := 0; i < f.m.n; i++ {
				if !yield(x.summary(fi, i)) {
					return
				}
			}
		}
	}
}

// refs yields every package's Ref in index order.
func (x *Index) refs() iter.Seq[Ref] {
	return func(yield func(Ref) bool) {
		for fi, f := range x.files {
			for i := 0; i < f.m.n; i++ {
				if !yield(Ref{uint32(fi), uint32(i)}) {
					return
				}
			}
		}
	}
}

// All yields every package in index order, decoded (and memoized: a full
// pass keeps all of them in memory until the Index is dropped).
func (x *Index) All() iter.Seq[*deb.Package] {
	return func(yield func(*deb.Package) bool) {
		for s := range x.refs() {
			x.files[s.file].m.releaseText(int(s.pkg))
			p, err := x.Decode(s)
			if err != nil {
				continue
			}
			if !yield(p) {
				return
			}
		}
	}
}

// Names yields every distinct package name once, in byte order (copies,
// valid after Close).
func (x *Index) Names() iter.Seq[string] {
	return func(yield func(string) bool) {
		x.merge(func(name string, _ []int) bool { return yield(strings.Clone(name)) })
	}
}

// ByName yields every distinct package name once, in byte order, with its
// packages in index order (never none), without a lookup per name: the
// sorted name tables of the inputs are merged. The slice is reused between
// calls; the strings are copies, valid after Close.
func (x *Index) ByName() iter.Seq2[string, []Summary] {
	return func(yield func(string, []Summary) bool) {
		for name, group := range x.byName() {
			for i := range group {
				group[i] = detach(group[i], "")
			}
			if !yield(strings.Clone(name), group) {
				return
			}
		}
	}
}

// byName is ByName with strings that alias the mapping.
func (x *Index) byName() iter.Seq2[string, []Summary] {
	return func(yield func(string, []Summary) bool) {
		var group []Summary
		x.merge(func(name string, at []int) bool {
			group = group[:0]
			for fi, pos := range at {
				if pos < 0 {
					continue
				}
				v := x.files[fi].m.view
				r := v.rec(secNames, pos, nameSize)
				p := v.span(secNPost, 4*uint64(le32(r, nPostStart)), 4*uint64(le32(r, nPostCount)))
				if len(p) == 0 {
					v.corrupt("name %q has no packages", name)
				}
				for i := 0; i < len(p); i += 4 {
					if k := int(le32(p, i)); k < v.n {
						group = append(group, x.summaryView(fi, k))
					} else {
						v.corrupt("name posting of %q: package %d of %d", name, k, v.n)
					}
				}
			}
			if len(group) == 0 {
				return true // a damaged table's name, reported above
			}
			return yield(name, group)
		})
	}
}

// merge calls f for each distinct name of the inputs' sorted name tables,
// with the name's position in each table (-1 where it is absent), until f
// returns false.
func (x *Index) merge(f func(name string, at []int) bool) {
	pos := make([]int, len(x.files))
	at := make([]int, len(x.files))
	cur := make([]string, len(x.files))
	for fi, file := range x.files {
		if file.m.nnames > 0 {
			cur[fi] = file.m.name(0)
		}
	}
	for {
		best, found := "", false
		for fi, file := range x.files {
			if pos[fi] < file.m.nnames && (!found || cur[fi] < best) {
				best, found = cur[fi], true
			}
		}
		if !found {
			return
		}
		for fi, file := range x.files {
			at[fi] = -1
			if pos[fi] < file.m.nnames && cur[fi] == best {
				at[fi] = pos[fi]
				// A corrupt table may repeat a name or be unsorted; the
				// walk still advances one entry per step and ends.
				if pos[fi]++; pos[fi] < file.m.nnames {
					cur[fi] = file.m.name(pos[fi])
				}
			}
		}
		if !f(best, at) {
			return
		}
	}
}

// Versions returns the packages called name, newest version first; equal
// versions keep index order, so the first of them comes from the earliest
// input. Versions that do not parse sort last.
func (x *Index) Versions(name string) []Summary {
	out := x.Lookup(name)
	SortVersions(out)
	return out
}

// SortVersions sorts summaries newest version first, keeping the order of
// equal versions; versions that do not parse sort last.
func SortVersions(ss []Summary) {
	if len(ss) < 2 {
		return
	}
	type keyed struct {
		s  Summary
		v  version.Version
		ok bool
	}
	ks := make([]keyed, len(ss))
	for i, s := range ss {
		v, err := version.Parse(s.Version)
		ks[i] = keyed{s, v, err == nil}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		switch {
		case a.ok && b.ok:
			return version.Compare(b.v, a.v)
		case a.ok:
			return -1
		case b.ok:
			return 1
		}
		return 0
	})
	for i := range ks {
		ss[i] = ks[i].s
	}
}

// Candidate returns the version of name that would be installed: the
// newest (no pinning yet), the earliest input's on a tie.
func (x *Index) Candidate(name string) (Summary, bool) {
	vs := x.Versions(name)
	if len(vs) == 0 {
		return Summary{}, false
	}
	return vs[0], true
}

// SearchHit is one package Search found.
type SearchHit struct {
	// Name is the package name; Description its candidate's short
	// description. The JSON names are lower-case, as in every other
	// --json output.
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Search returns, sorted by name, each package name that re matches in the
// name or in the short description of any of its versions, with its
// candidate's short description, as apt-cache search prints them. The
// strings are copies, valid after Close.
func (x *Index) Search(ctx context.Context, re *regexp.Regexp) ([]SearchHit, error) {
	var out []SearchHit
	n := 0
	for name, group := range x.byName() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		match := re.MatchString(name)
		for i := 0; i < len(group) && !match; i++ {
			match = re.MatchString(group[i].Description)
		}
		if match {
			SortVersions(group)
			out = append(out, SearchHit{Name: strings.Clone(name), Description: strings.Clone(group[0].Description)})
		}
	}
	return out, nil
}

// atomicPackage is one memo slot: decoded once, then shared.
type atomicPackage = atomic.Pointer[deb.Package]

// CacheDirIn is where the index cache of a root lives, relative to it.
const CacheDirIn = "var/cache/grey/index"

// Input returns the position, in the inputs given to Load, of the input the
// package comes from.
func (r Ref) Input() int { return int(r.file) }

// Distinct groups the packages called name as apt does when it builds its
// cache: packages with the same version, architecture and .deb (SHA256) in
// several inputs are one version available from several places. Groups come
// newest first, as Versions orders them; within a group, index order, so
// the first is the record apt-cache show prints.
func (x *Index) Distinct(name string) [][]Summary {
	return Group(x.Versions(name))
}

// Group splits summaries sorted by SortVersions into groups of identical
// packages (see Distinct), keeping their order.
func Group(ss []Summary) [][]Summary {
	var groups [][]Summary
	for _, s := range ss {
		i := slices.IndexFunc(groups, func(g []Summary) bool {
			return s.debKey != 0 && g[0].debKey == s.debKey && g[0].Version == s.Version && g[0].Architecture == s.Architecture
		})
		if i < 0 {
			groups = append(groups, []Summary{s})
			continue
		}
		groups[i] = append(groups[i], s)
	}
	return groups
}
