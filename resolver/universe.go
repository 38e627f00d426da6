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
//
// This file builds it and adds candidates; the rest is in files by job:
// names.go interns names, closure.go loads candidates from the index,
// order.go orders them, satisfiers.go answers positive relations,
// conflicts.go negative ones, and arena.go holds the memory pools.
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
	// arena holds every satisfier list.
	arena    satArena
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
	// orig holds, for a candidate whose architecture restriction lists
	// ("foo [amd64]", "[!i386]") left something out, the package the
	// index gave: pkgs holds its fields as they apply on its
	// architecture (forArch), the plan and the request's Rank the
	// index's package.
	orig map[int]*deb.Package
	// only, when set (Forbid-New-Install), holds the name and effective
	// architecture of every installed package: no other candidate enters
	// the universe, so nothing new can be chosen.
	only map[string]bool
	// sameBuild tells an installed package and a candidate of its name,
	// version and architecture apart (Request.SameBuild).
	sameBuild func(installed, candidate *deb.Package) bool
	// policy, when set, picks each name's candidate (isNewest) and keeps
	// versions of negative priority out, except of the names a job
	// selects by version or release (named).
	policy Policy
	named  map[string]bool
}

// candCap is the initial capacity of the per-candidate slices: a desktop's
// universe (gnome, kde-full) has 2,500-4,000 candidates, and growing a
// dozen slices step by step was a tenth of such a solve; larger ones cost
// a small request more (fresh memory) than they save a large one.
const candCap = 1024

// relChunkSize is the size of a chunk of relation slots (see relOf).
const relChunkSize = 4096

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

// effArch is the architecture a package's dependencies resolve in
// (deb.EffectiveArch).
func (u *universe) effArch(p *deb.Package) string {
	return deb.EffectiveArch(p.Architecture, u.native)
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
		if q != p && u.installed[id] && !installed && u.sameBuild != nil && q.Architecture == p.Architecture &&
			version.Compare(q.Version, p.Version) == 0 && !u.sameBuild(q, p) {
			// A rebuild of the installed version: another candidate.
			continue
		}
		if q == p || q.Architecture == p.Architecture && version.Compare(q.Version, p.Version) == 0 {
			if installed {
				u.installed[id], u.auto[id] = true, auto
			}
			return id
		}
	}
	if u.policy != nil && !installed && !u.named[p.Name] && u.policy.Priority(p, false) < 0 {
		return -1
	}
	id := len(u.pkgs)
	if id == cap(u.pkgs) {
		u.reserve()
	}
	if info == nil || info.archs {
		if q := forArch(p, eff); q != p {
			if u.orig == nil {
				u.orig = make(map[int]*deb.Package)
			}
			u.orig[id] = p
			// The index's numbers count the relations left out.
			p, info = q, nil
		}
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

// forArch returns p with the relationship fields the resolver reads as
// they apply on architecture eff (relation.Dependency.ForArch: the
// alternatives an architecture restriction list excludes left out, and
// the relations left without one), or p itself when nothing is left out.
func forArch(p *deb.Package, eff string) *deb.Package {
	fs := [...]relation.Dependency{p.PreDepends, p.Depends, p.Recommends, p.Suggests, p.Conflicts, p.Breaks}
	changed := false
	for i, d := range fs {
		if r := d.ForArch(eff); len(r) != len(d) || len(r) > 0 && &r[0] != &d[0] {
			fs[i], changed = r, true
		}
	}
	if !changed {
		return p
	}
	q := *p
	q.PreDepends, q.Depends, q.Recommends, q.Suggests, q.Conflicts, q.Breaks = fs[0], fs[1], fs[2], fs[3], fs[4], fs[5]
	return &q
}

// original returns the index's package of candidate id (see orig).
func (u *universe) original(id int) *deb.Package {
	if p, ok := u.orig[id]; ok {
		return p
	}
	return u.pkgs[id]
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

func (u *universe) markDirty(e *nameEntry) {
	if !e.dirty {
		e.dirty = true
		u.dirty = append(u.dirty, e)
	}
}
