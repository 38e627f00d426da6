package resolver

import (
	"github.com/greypm/grey/deb"
)

// Interned names: every package or provided name a solve meets has one
// nameEntry, found by the index's number when it numbers its names
// (idIndex) and by string otherwise.

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
	// archs is set when a relationship field the resolver reads has an
	// architecture restriction list: the universe then reduces the
	// package for its architecture (forArch) and does without these
	// numbers.
	archs bool
}

// bothIndex is an Index that answers Packages and Providers of a name
// with one lookup.
type bothIndex interface {
	both(name string) (pkgs, providers []*deb.Package)
}

// gentPage is the size of a page of universe.gents.
const gentPage = 64

// entSlab is the number of name entries allocated at once.
const entSlab = 256

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
