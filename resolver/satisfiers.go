package resolver

import (
	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
)

// Positive relations (Pre-Depends, Depends, Recommends) and the
// candidates that satisfy each, computed on first use and cached.

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

// satisfiers returns the ids of the universe's candidates that satisfy
// possibility pos of a package of architecture from: real packages of that
// name with a matching version, then providers. A Provides without a
// version never satisfies a versioned possibility; "Provides: foo (= 1.0)"
// does when 1.0 fits.
//
// The names of pos must be loaded (or the universe complete) for the
// answer to be whole.
func (u *universe) satisfiers(from string, pos *relation.Possibility, conflict bool) []int {
	return u.arena.slice(u.satisfiersSlot(from, pos, conflict))
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
	u.arena.room(len(e.real) + len(e.prov))
	start := len(u.arena.cur)
	for _, id := range e.real {
		if u.archSatisfies(id, pos, from, conflict) && (pos.Op == relation.NoOp || pos.Satisfies(u.pkgs[id].Version)) {
			u.arena.cur = append(u.arena.cur, id)
		}
	}
	for _, id := range e.prov {
		if !u.archSatisfies(id, pos, from, conflict) || !providesMatch(u.pkgs[id], pos) {
			continue
		}
		if containsInt(u.arena.cur[start:], id) {
			continue
		}
		u.arena.cur = append(u.arena.cur, id)
	}
	return u.arena.slot(start)
}

// plainSlot is entrySatisfiers for a bare name (no version, no
// architecture qualifier) from a native candidate, e loaded: computed
// once per name, then cached. Every provider in e.prov provides the very
// name, without a version constraint to check.
func (u *universe) plainSlot(e *nameEntry) relSlot {
	if e.plain.n >= 0 {
		return e.plain
	}
	u.arena.room(len(e.real) + len(e.prov))
	start := len(u.arena.cur)
	for _, id := range e.real {
		if u.ma[id] == deb.MultiArchForeign || u.eff[id] == u.native {
			u.arena.cur = append(u.arena.cur, id)
		}
	}
	for _, id := range e.prov {
		if u.ma[id] == deb.MultiArchForeign || u.eff[id] == u.native {
			if !containsInt(u.arena.cur[start:], id) {
				u.arena.cur = append(u.arena.cur, id)
			}
		}
	}
	e.plain = u.arena.slot(start)
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

// providesMatch reports whether one of q's Provides entries satisfies pos
// (relation.Possibility.ProvidedBy).
func providesMatch(q *deb.Package, pos *relation.Possibility) bool {
	for _, rel := range q.Provides {
		for i := range rel {
			if pos.ProvidedBy(&rel[i]) {
				return true
			}
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
		return u.arena.slice(slot.sat)
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
		return u.arena.slice(slot.sat)
	}
	// Each alternative's list lands in the arena; the union, gathered in
	// a scratch list kept across calls, is written after them.
	union := u.scratch[:0]
	for i := range n {
		for _, s := range u.arena.slice(alt(i)) {
			if !containsInt(union, s) {
				union = append(union, s)
			}
		}
	}
	u.scratch = union
	u.arena.room(len(union))
	start := len(u.arena.cur)
	u.arena.cur = append(u.arena.cur, union...)
	slot.sat = u.arena.slot(start)
	return u.arena.slice(slot.sat)
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
	return u.arena.slice(u.entrySatisfiers(u.eff[id], &rel[i], e, false))
}
