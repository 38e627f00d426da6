package resolver

import (
	"slices"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/deb/version"
)

// universe is the closure of a request: every candidate reachable from the
// requested and installed packages, each with a small integer id (its SAT
// variable is id+1). Names are interned once; satisfier lists are computed
// on first use and cached, as libsolv's whatprovides does.
type universe struct {
	idx     Index
	native  string
	foreign []string // the configured foreign architectures

	pkgs      []*deb.Package
	installed []bool
	auto      []bool
	// names interns every name seen (as a package or a provided name):
	// one lookup answers whether it is loaded, its real candidates and its
	// providers. nameList keeps them in creation order for deterministic
	// walks.
	names    map[string]*nameEntry
	nameList []*nameEntry
	// slab is the current chunk entries are cut from: one allocation per
	// entSlab entries instead of one per name.
	slab []nameEntry
	// nEntries counts every entry, listed or not: entries are numbered in
	// creation order so that per-name state elsewhere (the walk's index
	// of the chosen set) lives in slices, not string-keyed maps.
	nEntries int32
	// ent is each candidate's own name entry and provEnt the entries of
	// the names it provides (each once, in Provides order); negEnt, built
	// on first use, its Conflicts and Breaks possibilities with their
	// names' entries. They spare a string-keyed lookup at every visit.
	ent     []*nameEntry
	provEnt [][]*nameEntry
	negEnt  [][]negPos
	negDone []bool
	// both, when the index can, answers a name's two lists at once.
	both bothIndex
	// ids, when the index numbers its names (the in-memory index does),
	// replaces every string-keyed lookup of a candidate's names with an
	// index into gents (in pages of gentPage entries, allocated when
	// first touched: a small request touches a few, and a whole table
	// per solve cost more than it); info holds each candidate's numbered names (nil
	// for a candidate that did not come from such an index).
	ids   idIndex
	gents []*[gentPage]*nameEntry
	info  []*pkgNames
	// relOf caches, per candidate, the satisfiers of each relation of its
	// positive fields (Pre-Depends, then Depends, then Recommends):
	// slices indexed by id, not a map, because this lookup is the
	// resolver's innermost one. They are cut from chunks (relChunk is the
	// current one) that never move, so a slot's address stays valid while
	// the universe grows, and no growing copies them.
	relOf    [][]relCache
	relChunk []relCache
	// nHard is the count of each candidate's hard relations (Pre-Depends
	// and Depends), its first slots in relOf: loops over a candidate's
	// relations whose lists are cached (satisfiersAt) need not read the
	// package to find its fields.
	nHard []int32
	// relCache.ent holds, per slot, where the interned entries of the
	// relation's alternatives start in posEnt (-1: not interned yet).
	// Interning each name once spares a string-keyed lookup at every
	// later use. A numbered index's candidates need no posEnt: their
	// entries are found by number (relEnt), and ent only says they are
	// interned.
	posEnt []*nameEntry
	// scratch is relSatisfiers' list for a union of alternatives, reused.
	scratch []int
	// ints, ents and negPool are carve's pools of short lists.
	ints    []int
	ents    []*nameEntry
	negPool []negPos
	// arena is the current chunk of the satisfier lists (see arenaRoom)
	// and chunks every chunk by number: no allocation per list, and,
	// unlike one growing slice, no copy at every doubling and no old
	// arrays left behind.
	arena    []int
	chunks   [][]int
	isNewest []bool // apt's candidate: the newest of its name and architecture
	// eff is effArch of each candidate, as the very string u.native when
	// native (or "all"), or the configured foreign architecture's string:
	// comparing two of them compares pointers, not a package's bytes. ma
	// is each candidate's Multi-Arch. entrySatisfiers' common case reads
	// these two, not the package.
	eff       []string
	ma        []deb.MultiArch
	dirty     []*nameEntry // entries whose lists finish must sort
	recommend bool
	// onAdd, when set, is called after a candidate is added, so that
	// per-candidate slices elsewhere (the walk's) grow with the universe.
	onAdd func()
	// only, when set (Forbid-New-Install), holds the name and effective
	// architecture of every installed package: no other candidate enters
	// the universe, so nothing new can be chosen.
	only map[string]bool
}

// carve returns an empty slice of capacity n cut from *pool, which is
// replaced by a fresh chunk of max(size, n) elements when it has no room:
// the many short lists of a solve (a name's candidates, a candidate's
// Conflicts) share a few allocations. Appending past n moves the list
// elsewhere, as append does, and never overwrites a neighbour.
func carve[T any](pool *[]T, n, size int) []T {
	p := *pool
	if cap(p)-len(p) < n {
		p = make([]T, 0, max(size, n))
	}
	*pool = p[:len(p)+n]
	return p[len(p) : len(p) : len(p)+n]
}

// poolSize is the size of the chunks carve cuts short lists from.
const poolSize = 1024

// relCache is one relation's cached satisfiers (sat) and where its
// alternatives' interned entries start in posEnt (ent, -1: not yet).
type relCache struct {
	sat relSlot
	ent int32
}

// relSlot locates a relation's satisfier list in the arena; n < 0 means
// not computed yet. Both are int32: a slot is one of the universe's most
// numerous records (one per relation of every candidate), and 12 bytes
// per relCache instead of 24 halve the chunks a large solve allocates.
type relSlot struct{ off, n int32 }

// nameEntry is one interned name.
type nameEntry struct {
	name   string // empty when gid >= 0
	id     int32  // creation order
	gid    int32  // the index's number of the name, -1: none
	listed bool   // in nameList
	loaded bool   // the index was asked for its candidates and providers
	dirty  bool   // listed in universe.dirty
	real   []int  // candidates of that name, newest first after finish
	prov   []int  // candidates that provide it
	// walk is the preferred walk's index of its chosen set under this
	// name: kept here, not in slices indexed by the entry's number that
	// had to grow with the universe.
	walk nameWalk
	// plain caches the satisfiers of the bare name (no version, no
	// qualifier) from the native architecture, the commonest possibility:
	// its arena slot once the name is loaded (its lists are then final).
	plain relSlot
}

// nameWalk indexes the walk's chosen set under one name: the chosen
// candidates of that name (byName) and providing it (byProv), and the
// chosen set's Conflicts and Breaks possibilities on it (neg).
type nameWalk struct {
	byName, byProv []int
	neg            []negEntry
}

// negPos is one Conflicts or Breaks possibility of a candidate with the
// entry of its name.
type negPos struct {
	e *nameEntry
	// k numbers the possibility among the candidate's Conflicts, then
	// Breaks, and pos is the possibility once negPossibility found it:
	// most are never read, since their name has no candidate the walk or
	// the answer holds.
	k   int32
	pos *relation.Possibility
}

// idIndex is an Index that numbers every name it knows (package names,
// provided names and the names its packages' relations mention) and gives,
// with each candidate, its names' numbers: a solve then interns a name by
// number, not by hashing its string, as libsolv's pool does.
type idIndex interface {
	// nameID returns name's number.
	nameID(name string) (int32, bool)
	// numNames is the count of numbered names.
	numNames() int
	// byID returns Packages and Providers of the name numbered id, each
	// candidate with its numbered names.
	byID(id int32) (pkgs []*deb.Package, pkgN []*pkgNames, provs []*deb.Package, provN []*pkgNames)
}

// pkgNames is a candidate's names, numbered by its idIndex.
type pkgNames struct {
	name  int32
	provs []int32 // provided names, each once, in Provides order
	// rels numbers the possibilities of Pre-Depends, Depends and
	// Recommends, in order; relOff gives each relation's first, in the
	// universe's slot order (Pre-Depends, then Depends, then Recommends).
	rels   []int32
	relOff []int32
	// plain marks, parallel to rels, the bare names (no version, no
	// architecture qualifier): their satisfiers depend on the name alone
	// (universe.plainSlot), so the walk need not read the possibility.
	plain []bool
	negs  []int32 // the possibilities of Conflicts, then Breaks
}

// bothIndex is an Index that answers Packages and Providers of a name
// with one lookup.
type bothIndex interface {
	both(name string) (pkgs, providers []*deb.Package)
}

// candCap is the initial capacity of the per-candidate slices: a desktop's
// universe (gnome, kde-full) has 2,500-4,000 candidates, and growing a
// dozen slices step by step was a tenth of such a solve; larger ones cost
// a small request more (fresh memory) than they save a large one.
const candCap = 1024

// relChunkSize is the size of a chunk of relation slots (see relOf).
const relChunkSize = 4096

// gentPage is the size of a page of universe.gents.
const gentPage = 64

// arenaShift sets the size of a chunk of satisfier lists, arenaChunk.
const (
	arenaShift = 12
	arenaChunk = 1 << arenaShift
)

// entSlab is the number of name entries allocated at once.
const entSlab = 256

func newUniverse(idx Index, native string, foreign []string, recommends bool) *universe {
	both, _ := idx.(bothIndex)
	ids, _ := idx.(idIndex)
	u := &universe{
		both:      both,
		ids:       ids,
		info:      make([]*pkgNames, 0, candCap),
		idx:       idx,
		native:    native,
		foreign:   foreign,
		recommend: recommends,
		pkgs:      make([]*deb.Package, 0, candCap),
		installed: make([]bool, 0, candCap),
		auto:      make([]bool, 0, candCap),
		isNewest:  make([]bool, 0, candCap),
		eff:       make([]string, 0, candCap),
		ent:       make([]*nameEntry, 0, candCap),
		provEnt:   make([][]*nameEntry, 0, candCap),
		negEnt:    make([][]negPos, 0, candCap),
		negDone:   make([]bool, 0, candCap),
		relOf:     make([][]relCache, 0, candCap),
	}
	if ids != nil {
		u.gents = make([]*[gentPage]*nameEntry, ids.numNames()/gentPage+1)
		// Only names the index does not number (an installed package's
		// unknown Provides, say) go through the map.
		u.names = make(map[string]*nameEntry)
	} else {
		// Sized for a desktop's closure: growing the map step by step
		// cost a tenth of a large solve.
		u.names = make(map[string]*nameEntry, 2048)
	}
	return u
}

// archOK reports whether candidates of architecture a belong in the
// universe (native, "all" or a configured foreign one) and returns the
// architecture their dependencies resolve in (effArch) as the universe's
// own string: u.native or the foreign one.
func (u *universe) archOK(a string) (string, bool) {
	if a == u.native || a == "all" {
		return u.native, true
	}
	for _, f := range u.foreign {
		if a == f {
			return f, true
		}
	}
	return "", false
}

// entry returns the interned entry of name, creating it, and lists it in
// nameList.
func (u *universe) entry(name string) *nameEntry {
	return u.list(u.intern(name))
}

// list adds e to nameList once.
func (u *universe) list(e *nameEntry) *nameEntry {
	if !e.listed {
		e.listed = true
		u.nameList = append(u.nameList, e)
	}
	return e
}

// intern returns the entry of name, creating it without listing it: the
// names of Conflicts and Breaks are interned for lookups only, and
// nameList (which orders the encoding's rules) keeps the order in which
// names first matter for the closure.
func (u *universe) intern(name string) *nameEntry {
	if u.ids != nil {
		if g, ok := u.ids.nameID(name); ok {
			return u.internID(g)
		}
	}
	e := u.names[name]
	if e == nil {
		e = u.newEntry(-1)
		e.name = name
		u.names[name] = e
	}
	return e
}

// internID is intern for the name the index numbers g.
func (u *universe) internID(g int32) *nameEntry {
	pg := u.gents[g/gentPage]
	if pg == nil {
		pg = new([gentPage]*nameEntry)
		u.gents[g/gentPage] = pg
	}
	e := pg[g%gentPage]
	if e == nil {
		// The name's string stays in the index: nothing reads it from a
		// numbered entry, and fetching it missed the cache.
		e = u.newEntry(g)
		pg[g%gentPage] = e
	}
	return e
}

// newEntry returns a new entry numbered g by the index (-1: none).
func (u *universe) newEntry(g int32) *nameEntry {
	if len(u.slab) == cap(u.slab) {
		u.slab = make([]nameEntry, 0, entSlab)
	}
	u.slab = u.slab[:len(u.slab)+1]
	e := &u.slab[len(u.slab)-1]
	e.id, e.gid, e.plain = u.nEntries, g, relSlot{n: -1}
	u.nEntries++
	return e
}

// peekID returns the entry of the name the index numbers g, or nil when
// there is none yet.
func (u *universe) peekID(g int32) *nameEntry {
	if pg := u.gents[g/gentPage]; pg != nil {
		return pg[g%gentPage]
	}
	return nil
}

// entryID is entry for the name the index numbers g.
func (u *universe) entryID(g int32) *nameEntry {
	return u.list(u.internID(g))
}

// lookup returns the entry of name, or nil.
func (u *universe) lookup(name string) *nameEntry {
	if u.ids != nil {
		if g, ok := u.ids.nameID(name); ok {
			if pg := u.gents[g/gentPage]; pg != nil {
				return pg[g%gentPage]
			}
			return nil
		}
	}
	return u.names[name]
}

// negs returns id's Conflicts and Breaks possibilities, in field order,
// with their names' entries.
func (u *universe) negs(id int) []negPos {
	if u.negDone[id] {
		return u.negEnt[id]
	}
	var out []negPos
	if info := u.info[id]; info != nil {
		// The index's numbers name every possibility: the package's
		// fields are not read.
		if len(info.negs) > 0 {
			out = carve(&u.negPool, len(info.negs), poolSize)
		}
		for k, g := range info.negs {
			out = append(out, negPos{e: u.internID(g), k: int32(k)})
		}
	} else {
		p := u.pkgs[id]
		k := int32(0)
		for _, d := range [2]relation.Dependency{p.Conflicts, p.Breaks} {
			for _, rel := range d {
				for i := range rel {
					out = append(out, negPos{e: u.intern(rel[i].Name), k: k, pos: &rel[i]})
					k++
				}
			}
		}
	}
	u.negEnt[id], u.negDone[id] = out, true
	return out
}

// negPossibility returns possibility k of id's Conflicts, then Breaks
// (negs must have listed them).
func (u *universe) negPossibility(id int, k int32) *relation.Possibility {
	np := &u.negEnt[id][k]
	if np.pos != nil {
		return np.pos
	}
	p := u.pkgs[id]
	for _, d := range [2]relation.Dependency{p.Conflicts, p.Breaks} {
		for _, rel := range d {
			if int(k) < len(rel) {
				np.pos = &rel[k]
				return np.pos
			}
			k -= int32(len(rel))
		}
	}
	return nil
}

// real returns the candidates named name.
func (u *universe) real(name string) []int {
	if e := u.lookup(name); e != nil {
		return e.real
	}
	return nil
}

// prov returns the candidates providing name.
func (u *universe) prov(name string) []int {
	if e := u.lookup(name); e != nil {
		return e.prov
	}
	return nil
}

// push appends id to a short list of candidates, which starts with room
// for two cut from the universe's pool (most names have one or two).
func (u *universe) push(l []int, id int) []int {
	if cap(l) == 0 {
		l = carve(&u.ints, 2, poolSize)
	}
	return append(l, id)
}

func (u *universe) markDirty(e *nameEntry) {
	if !e.dirty {
		e.dirty = true
		u.dirty = append(u.dirty, e)
	}
}

// add puts p in the universe (once per name, version and architecture) and
// returns its id, or -1 when its architecture is not configured.
//
// info, when not nil, is p's numbered names (see idIndex).
func (u *universe) add(p *deb.Package, info *pkgNames, installed, auto bool) int {
	if info != nil {
		// The index lists a package under its name and under every name
		// it provides: when it is already here, its name's entry holds
		// it, and nothing else need be read.
		if e := u.peekID(info.name); e != nil {
			for _, id := range e.real {
				if u.pkgs[id] == p {
					if installed {
						u.installed[id], u.auto[id] = true, auto
					}
					return id
				}
			}
		}
	}
	eff, ok := u.archOK(p.Architecture)
	if !ok {
		return -1
	}
	if u.only != nil && !installed && !u.only[p.Name+":"+u.effArch(p)] {
		return -1
	}
	var e *nameEntry
	if info != nil {
		e = u.entryID(info.name)
	} else {
		e = u.entry(p.Name)
	}
	// A package added before (the index lists it under its name and under
	// every name it provides) is found among its name's candidates, and
	// the installed record and the index's record of one version are one
	// candidate.
	for _, id := range e.real {
		q := u.pkgs[id]
		if q == p || q.Architecture == p.Architecture && version.Compare(q.Version, p.Version) == 0 {
			if installed {
				u.installed[id], u.auto[id] = true, auto
			}
			return id
		}
	}
	id := len(u.pkgs)
	if id == cap(u.pkgs) {
		u.reserve()
	}
	u.pkgs = append(u.pkgs, p)
	u.installed = append(u.installed, installed)
	u.auto = append(u.auto, auto)
	u.isNewest = append(u.isNewest, false)
	u.eff = append(u.eff, eff)
	u.ma = append(u.ma, p.MultiArch)
	// A relation's names are interned on first use: the relations of
	// most candidates (older versions, providers the walk never takes)
	// are never looked at.
	nHard := len(p.PreDepends) + len(p.Depends)
	nrel := nHard + len(p.Recommends)
	if cap(u.relChunk)-len(u.relChunk) < nrel {
		u.relChunk = make([]relCache, 0, max(relChunkSize, nrel))
	}
	start := len(u.relChunk)
	for k := nrel; k > 0; k-- {
		u.relChunk = append(u.relChunk, relCache{relSlot{n: -1}, -1})
	}
	u.relOf = append(u.relOf, u.relChunk[start:len(u.relChunk):len(u.relChunk)])
	u.nHard = append(u.nHard, int32(nHard))
	e.real = u.push(e.real, id)
	u.ent = append(u.ent, e)
	u.info = append(u.info, info)
	u.negEnt = append(u.negEnt, nil)
	u.negDone = append(u.negDone, false)
	u.markDirty(e)
	var provs []*nameEntry
	if info != nil {
		if n := len(info.provs); n > 0 {
			provs = carve(&u.ents, n, poolSize)
		}
	} else if n := len(p.Provides); n > 0 {
		provs = carve(&u.ents, n, poolSize)
	}
	provide := func(pe *nameEntry) {
		if l := pe.prov; len(l) == 0 || l[len(l)-1] != id {
			pe.prov = u.push(l, id)
			u.markDirty(pe)
			provs = append(provs, pe)
		}
	}
	if info != nil {
		for _, g := range info.provs {
			provide(u.entryID(g))
		}
	} else {
		for _, rel := range p.Provides {
			for _, pos := range rel {
				provide(u.entry(pos.Name))
			}
		}
	}
	u.provEnt = append(u.provEnt, provs)
	if u.onAdd != nil {
		u.onAdd()
	}
	return id
}

// reserve at least doubles the capacity of every per-candidate slice at
// once. Left to append, each of them grew by a quarter at a time (Go's
// rule for large slices), five copies of each on a desktop's universe.
func (u *universe) reserve() {
	n := max(len(u.pkgs), candCap)
	u.pkgs = slices.Grow(u.pkgs, n)
	u.installed = slices.Grow(u.installed, n)
	u.auto = slices.Grow(u.auto, n)
	u.isNewest = slices.Grow(u.isNewest, n)
	u.eff = slices.Grow(u.eff, n)
	u.ma = slices.Grow(u.ma, n)
	u.relOf = slices.Grow(u.relOf, n)
	u.nHard = slices.Grow(u.nHard, n)
	u.ent = slices.Grow(u.ent, n)
	u.info = slices.Grow(u.info, n)
	u.negEnt = slices.Grow(u.negEnt, n)
	u.negDone = slices.Grow(u.negDone, n)
	u.provEnt = slices.Grow(u.provEnt, n)
}

// load fetches every candidate named name or providing it; it returns the
// ids that are new to the universe.
func (u *universe) load(name string, out []int) []int {
	return u.loadEntry(u.entry(name), out)
}

func (u *universe) loadEntry(e *nameEntry, out []int) []int {
	if e.loaded {
		return out
	}
	e.loaded = true
	if e.gid >= 0 {
		pkgs, pkgN, provs, provN := u.ids.byID(e.gid)
		for k, list := range [2][]*deb.Package{pkgs, provs} {
			infos := pkgN
			if k == 1 {
				infos = provN
			}
			for i, p := range list {
				n := len(u.pkgs)
				if id := u.add(p, infos[i], false, false); id == n {
					out = append(out, id)
				}
			}
		}
		return out
	}
	var lists [2][]*deb.Package
	if u.both != nil {
		lists[0], lists[1] = u.both.both(e.name)
	} else {
		lists[0], lists[1] = u.idx.Packages(e.name), u.idx.Providers(e.name)
	}
	for _, list := range lists {
		for _, p := range list {
			n := len(u.pkgs)
			if id := u.add(p, nil, false, false); id == n {
				out = append(out, id)
			}
		}
	}
	return out
}

// close grows the universe from the given ids until every name that a
// Depends or Pre-Depends of a member mentions is loaded. Conflicts and
// Breaks never pull packages in (a conflict with a package outside the
// closure cannot matter), and neither do Recommends: they are soft, so
// the preferred walk loads their candidates when it reaches them.
func (u *universe) close(work []int) {
	for len(work) > 0 {
		id := work[len(work)-1]
		work = work[:len(work)-1]
		p := u.pkgs[id]
		for _, d := range [2]relation.Dependency{p.PreDepends, p.Depends} {
			for _, rel := range d {
				for i := range rel {
					if e := u.entry(rel[i].Name); !e.loaded {
						work = u.loadEntry(e, work)
					}
				}
			}
		}
	}
	u.finish()
}

// closeAll loads the whole hard closure of the universe's candidates.
func (u *universe) closeAll() {
	work := make([]int, len(u.pkgs))
	for id := range work {
		work[id] = id
	}
	u.close(work)
}

// finish orders candidates (newest first, native architecture first) so
// that every later walk is deterministic, and records apt's candidate
// version of every name and architecture.
func (u *universe) finish() {
	for _, e := range u.dirty {
		ids := e.real
		// better is a total order (ids break ties), so any sort gives
		// the one answer; most names have a single candidate.
		if len(ids) > 1 {
			slices.SortFunc(ids, u.betterCmp)
		}
		for i, id := range ids {
			// Sorted newest first: the first of each architecture.
			u.isNewest[id] = true
			for _, prev := range ids[:i] {
				if u.pkgs[prev].Architecture == u.pkgs[id].Architecture {
					u.isNewest[id] = false
					break
				}
			}
		}
		if ps := e.prov; len(ps) > 1 {
			slices.SortFunc(ps, u.betterCmp)
		}
		e.dirty = false
	}
	u.dirty = u.dirty[:0]
}

// newestOf returns apt's candidate of id's name and architecture.
func (u *universe) newestOf(id int) int {
	p := u.pkgs[id]
	for _, o := range u.ent[id].real {
		if u.isNewest[o] && u.pkgs[o].Architecture == p.Architecture {
			return o
		}
	}
	return id
}

// betterCmp is better as a comparison for slices.SortFunc.
func (u *universe) betterCmp(a, b int) int {
	switch {
	case a == b:
		return 0
	case u.better(a, b):
		return -1
	}
	return 1
}

// better orders two candidates: newer version first, then the native
// architecture, then name, then id (first loaded).
func (u *universe) better(a, b int) bool {
	pa, pb := u.pkgs[a], u.pkgs[b]
	if pa.Name != pb.Name {
		return pa.Name < pb.Name
	}
	if c := version.Compare(pa.Version, pb.Version); c != 0 {
		return c > 0
	}
	if na, nb := pa.Architecture == u.native, pb.Architecture == u.native; na != nb {
		return na
	}
	if pa.Architecture != pb.Architecture {
		return pa.Architecture < pb.Architecture
	}
	return a < b
}

// depField is one positive relationship field of a package. It is kept
// small (it is built for every package visit): the field's name comes
// from its code, and so does its hardness.
type depField struct {
	code int // 0 Pre-Depends, 1 Depends, 2 Recommends
	off  int // the field's first slot in the package's relOf
	rels relation.Dependency
}

// name is the field's name as in a control file.
func (f *depField) name() string {
	switch f.code {
	case 0:
		return "Pre-Depends"
	case 1:
		return "Depends"
	}
	return "Recommends"
}

// hard reports whether the field must hold (Recommends need not).
func (f *depField) hard() bool { return f.code < 2 }

// positive returns the fields that pull packages in, in apt's order of
// importance, and how many of them apply (Recommends only when on).
func (u *universe) positive(p *deb.Package) ([3]depField, int) {
	np, nd := len(p.PreDepends), len(p.Depends)
	f := [3]depField{{0, 0, p.PreDepends}, {1, np, p.Depends}, {2, np + nd, p.Recommends}}
	if u.recommend {
		return f, 3
	}
	return f, 2
}

// effArch is the architecture a package's dependencies resolve in:
// packages of architecture "all" behave as native ones.
func (u *universe) effArch(p *deb.Package) string {
	if p.Architecture == "all" {
		return u.native
	}
	return p.Architecture
}

// satisfiers returns the ids of the universe's candidates that satisfy
// possibility pos of a package of architecture from: real packages of that
// name with a matching version, then providers. A Provides without a
// version never satisfies a versioned possibility; "Provides: foo (= 1.0)"
// does when 1.0 fits.
//
// The names of pos must be loaded (or the universe complete) for the
// answer to be whole.
func (u *universe) satisfiers(from string, pos *relation.Possibility, conflict bool) []int {
	return u.slice(u.satisfiersSlot(from, pos, conflict))
}

// slice returns the arena's list at slot r, capped so nobody appends to it.
func (u *universe) slice(r relSlot) []int {
	if r.n <= 0 {
		return nil
	}
	c := u.chunks[r.off>>arenaShift]
	i := int(r.off & (arenaChunk - 1))
	return c[i : i+int(r.n) : i+int(r.n)]
}

// arenaRoom makes room for n more entries in the arena's current chunk,
// starting a new one when they do not fit: a list never spans two chunks,
// and chunks never move.
func (u *universe) arenaRoom(n int) {
	if cap(u.arena)-len(u.arena) < n || u.chunks == nil {
		c := make([]int, max(arenaChunk, n))
		u.chunks = append(u.chunks, c)
		u.arena = c[:0]
	}
}

// arenaSlot returns the slot of the list written in the current chunk
// from start to its end. An empty list is the zero slot. A chunk's lists
// start below arenaChunk (a larger chunk holds one list, at 0), so the
// chunk's number and the list's start share off.
func (u *universe) arenaSlot(start int) relSlot {
	n := len(u.arena) - start
	if n == 0 {
		return relSlot{}
	}
	return relSlot{int32((len(u.chunks)-1)<<arenaShift | start), int32(n)}
}

// satisfiersSlot computes satisfiers into the arena and returns where.
func (u *universe) satisfiersSlot(from string, pos *relation.Possibility, conflict bool) relSlot {
	e := u.lookup(pos.Name)
	if e == nil {
		return relSlot{0, 0}
	}
	return u.entrySatisfiers(from, pos, e, conflict)
}

// entrySatisfiers is satisfiersSlot for a possibility whose name's entry
// e is known.
func (u *universe) entrySatisfiers(from string, pos *relation.Possibility, e *nameEntry, conflict bool) relSlot {
	if !conflict && e.loaded && pos.Op == relation.NoOp && pos.ArchQual == "" && from == u.native {
		return u.plainSlot(e)
	}
	u.arenaRoom(len(e.real) + len(e.prov))
	start := len(u.arena)
	for _, id := range e.real {
		if u.archSatisfies(id, pos, from, conflict) && (pos.Op == relation.NoOp || pos.Satisfies(u.pkgs[id].Version)) {
			u.arena = append(u.arena, id)
		}
	}
	for _, id := range e.prov {
		if !u.archSatisfies(id, pos, from, conflict) || !providesMatch(u.pkgs[id], pos) {
			continue
		}
		if containsInt(u.arena[start:], id) {
			continue
		}
		u.arena = append(u.arena, id)
	}
	return u.arenaSlot(start)
}

// plainSlot is entrySatisfiers for a bare name (no version, no
// architecture qualifier) from a native candidate, e loaded: computed
// once per name, then cached. Every provider in e.prov provides the very
// name, without a version constraint to check.
func (u *universe) plainSlot(e *nameEntry) relSlot {
	if e.plain.n >= 0 {
		return e.plain
	}
	u.arenaRoom(len(e.real) + len(e.prov))
	start := len(u.arena)
	for _, id := range e.real {
		if u.ma[id] == deb.MultiArchForeign || u.eff[id] == u.native {
			u.arena = append(u.arena, id)
		}
	}
	for _, id := range e.prov {
		if u.ma[id] == deb.MultiArchForeign || u.eff[id] == u.native {
			if !containsInt(u.arena[start:], id) {
				u.arena = append(u.arena, id)
			}
		}
	}
	e.plain = u.arenaSlot(start)
	return e.plain
}

// archSatisfies is deb.ArchSatisfies for candidate id. Its commonest
// case, a dependency without an architecture qualifier, is answered from
// the candidate's cached Multi-Arch and effective architecture (the same
// test: Multi-Arch: foreign, or the architecture "all" counting as
// native, equal to from) without reading the package.
func (u *universe) archSatisfies(id int, pos *relation.Possibility, from string, conflict bool) bool {
	if !conflict && pos.ArchQual == "" {
		return u.ma[id] == deb.MultiArchForeign || u.eff[id] == from
	}
	return deb.ArchSatisfies(u.pkgs[id], pos, from, u.native, conflict)
}

// providesMatch reports whether one of q's Provides entries for pos.Name
// satisfies pos's version constraint.
func providesMatch(q *deb.Package, pos *relation.Possibility) bool {
	for _, rel := range q.Provides {
		for i := range rel {
			pr := &rel[i]
			if pr.Name != pos.Name {
				continue
			}
			if pos.Op == relation.NoOp {
				return true
			}
			if pr.Op == relation.EQ && pos.Satisfies(pr.Version) {
				return true
			}
		}
	}
	return false
}

func containsInt(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// relSatisfiers returns the satisfiers of relation number ri of field
// f.code of package id, all alternatives in alternative order, without
// repeats. The answer is cached: the relation's names are loaded (the
// closure does it for hard relations, the walk for Recommends), so it
// cannot change later.
func (u *universe) relSatisfiers(id int, f *depField, ri int) []int {
	return u.satisfiersOf(id, f.off+ri, f)
}

// satisfiersAt is relSatisfiers for id's relation slot k (slots follow
// Pre-Depends, then Depends, then Recommends). It reads the package only
// for what the index's numbers do not say: a relation of bare names
// (pkgNames.plain) from a native candidate is resolved from the numbers
// alone, and a cached list from its slot.
func (u *universe) satisfiersAt(id, k int) []int {
	return u.satisfiersOf(id, k, nil)
}

// satisfiersOf computes relSatisfiers of id's relation slot k; f, when
// not nil, is the slot's field (else it is read from the package when
// needed).
func (u *universe) satisfiersOf(id, k int, f *depField) []int {
	slot := &u.relOf[id][k]
	if slot.sat.n >= 0 {
		return u.slice(slot.sat)
	}
	from := u.eff[id]
	// rel is read from the package only when needed: the index's numbers
	// give the alternatives' count and names, and say which are bare.
	var rel relation.Relation
	var gids []int32
	var plain []bool
	if info := u.info[id]; info != nil {
		first, end := int(info.relOff[k]), len(info.rels)
		if k+1 < len(info.relOff) {
			end = int(info.relOff[k+1])
		}
		gids, plain = info.rels[first:end], info.plain[first:end]
	} else {
		rel = u.relation(id, k, f)
	}
	n := len(rel)
	if gids != nil {
		n = len(gids)
	}
	// The alternatives' entries, looked up once here (most relations
	// have one to three alternatives: the array stays on the stack).
	var buf [8]*nameEntry
	ents := buf[:0]
	if gids != nil {
		// The index's numbers find the entries again (relEnt): they
		// need listing, in this order, not storing.
		for _, g := range gids {
			ents = append(ents, u.entryID(g))
		}
		slot.ent = 0
	} else {
		if slot.ent < 0 {
			slot.ent = int32(len(u.posEnt))
			for i := range rel {
				u.posEnt = append(u.posEnt, u.entry(rel[i].Name))
			}
		}
		ents = append(ents, u.posEnt[slot.ent:int(slot.ent)+n]...)
	}
	// The list is final once every name of the relation is loaded: the
	// index returns all candidates and providers of a name at once.
	loaded := false
	for _, e := range ents {
		if !e.loaded {
			u.loadEntry(e, nil)
			loaded = true
		}
	}
	if loaded {
		u.finish()
	}
	// alt computes alternative i's list into the arena.
	alt := func(i int) relSlot {
		if plain != nil && plain[i] && from == u.native {
			return u.plainSlot(ents[i])
		}
		if rel == nil {
			rel = u.relation(id, k, f)
		}
		return u.entrySatisfiers(from, &rel[i], ents[i], false)
	}
	if n == 1 {
		slot.sat = alt(0)
		return u.slice(slot.sat)
	}
	// Each alternative's list lands in the arena; the union, gathered in
	// a scratch list kept across calls, is written after them.
	union := u.scratch[:0]
	for i := range n {
		for _, s := range u.slice(alt(i)) {
			if !containsInt(union, s) {
				union = append(union, s)
			}
		}
	}
	u.scratch = union
	u.arenaRoom(len(union))
	start := len(u.arena)
	u.arena = append(u.arena, union...)
	slot.sat = u.arenaSlot(start)
	return u.slice(slot.sat)
}

// relIDs returns the index's numbers of the names of relation ri of field
// f of candidate id (n alternatives), or nil when the index numbers none.
func (u *universe) relIDs(id int, f *depField, ri, n int) []int32 {
	info := u.info[id]
	if info == nil {
		return nil
	}
	first := int(info.relOff[f.off+ri])
	return info.rels[first : first+n]
}

// relEnt returns the entry of alternative i of a relation whose names
// relSatisfiers has interned: by the index's number gids[i], or from
// posEnt when the index numbers none.
func (u *universe) relEnt(gids []int32, slot *relCache, i int) *nameEntry {
	if gids != nil {
		return u.internID(gids[i])
	}
	return u.posEnt[int(slot.ent)+i]
}

// numPositive returns how many of id's relation slots pull packages in:
// the hard ones, and the Recommends when they are on.
func (u *universe) numPositive(id int) int {
	if u.recommend {
		return len(u.relOf[id])
	}
	return int(u.nHard[id])
}

// relation returns id's relation at slot k; f, when not nil, is its field.
func (u *universe) relation(id, k int, f *depField) relation.Relation {
	if f == nil {
		ff, ri := u.slotField(id, k)
		return ff.rels[ri]
	}
	return f.rels[k-f.off]
}

// slotField returns the field of id's relation slot k and the relation's
// number in it.
func (u *universe) slotField(id, k int) (depField, int) {
	fs, _ := u.positive(u.pkgs[id])
	fi := 0
	for fi < 2 && k >= fs[fi+1].off {
		fi++
	}
	return fs[fi], k - fs[fi].off
}

// altSatisfiers returns the satisfiers of alternative i alone of relation
// ri of field f of package id.
func (u *universe) altSatisfiers(id int, f *depField, ri, i int) []int {
	all := u.relSatisfiers(id, f, ri) // interns the relation's names
	rel := f.rels[ri]
	if len(rel) == 1 {
		return all
	}
	e := u.relEnt(u.relIDs(id, f, ri, len(rel)), &u.relOf[id][f.off+ri], i)
	return u.slice(u.entrySatisfiers(u.eff[id], &rel[i], e, false))
}

// coinstallable reports whether two different candidates of the same name
// may be installed together: only Multi-Arch: same ones of different
// architectures can, and dpkg wants them at the same version.
func (u *universe) coinstallable(a, b int) bool {
	pa, pb := u.pkgs[a], u.pkgs[b]
	return pa.MultiArch == deb.MultiArchSame && pb.MultiArch == deb.MultiArchSame &&
		pa.Architecture != pb.Architecture && pa.Architecture != "all" && pb.Architecture != "all" &&
		version.Compare(pa.Version, pb.Version) == 0
}
