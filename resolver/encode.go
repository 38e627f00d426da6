package resolver

import (
	"github.com/greypm/grey/deb/relation"
)

// ruleKind says what a rule stands for, so an explanation can say it.
type ruleKind uint8

const (
	ruleInstall   ruleKind = iota // the request asks for one of lits
	ruleRemove                    // the request removes pkg
	ruleDepends                   // pkg's field relation needs one of lits
	ruleConflict                  // pkg's Conflicts/Breaks hits other
	ruleOneVer                    // pkg and other are versions of one name
	ruleEssential                 // an installed Essential name stays
	ruleKeep                      // upgrade (not full) keeps the name
)

// rule is one clause with its meaning.
type rule struct {
	kind   ruleKind
	pkg    int // subject package id, or -1
	other  int // second package id (conflict, one version), or -1
	field  string
	rel    relation.Relation
	job    *Job
	clause []int
}

// encoding is the closure's rules; clause variables are ids+1.
type encoding struct {
	rules []rule
	// member, when set, restricts the encoding to these candidates.
	member []bool
	// arena holds every clause's literals (one growing slice).
	arena []int
}

func lit(id int) int { return id + 1 }

// encode builds the hard rules of the closure: dependencies, conflicts,
// one version per name (the request's own rules are added by
// requestRules). With a member set, only the members are encoded and every
// other candidate is left out, as if assumed false: a model of that
// smaller problem, with the others false, is a model of the whole one.
func encode(u *universe, req *Request, member []bool) *encoding {
	e := &encoding{member: member}
	// Sizing the rule list once saves re-copying it as it grows.
	nrules := 0
	for id, p := range u.pkgs {
		if e.in(id) {
			nrules += len(p.PreDepends) + len(p.Depends) + len(p.Conflicts) + len(p.Breaks) + 1
		}
	}
	e.rules = make([]rule, 0, nrules+len(req.Install)+len(req.Remove)+len(req.Installed))
	for id, p := range u.pkgs {
		if !e.in(id) {
			continue
		}
		fs, _ := u.positive(p)
		for fi := range fs[:2] {
			f := &fs[fi]
			for ri, rel := range f.rels {
				sats := u.relSatisfiers(id, f, ri)
				if containsInt(sats, id) {
					// A package that satisfies its own dependency makes
					// the clause true whenever it applies.
					continue
				}
				start := len(e.arena)
				e.arena = append(e.arena, -lit(id))
				for _, s := range sats {
					if e.in(s) {
						e.arena = append(e.arena, lit(s))
					}
				}
				cl := e.arena[start:len(e.arena):len(e.arena)]
				e.rules = append(e.rules, rule{kind: ruleDepends, pkg: id, other: -1, field: f.name(), rel: rel, clause: cl})
			}
		}
		from := u.effArch(p)
		for _, f := range [2]struct {
			name string
			d    relation.Dependency
		}{{"Conflicts", p.Conflicts}, {"Breaks", p.Breaks}} {
			for _, rel := range f.d {
				for i := range rel {
					for _, q := range u.satisfiers(from, &rel[i], true) {
						// A package never conflicts with itself (through
						// its own Provides) nor with other versions of its
						// name: the one-version rule covers those.
						if q == id || u.pkgs[q].Name == p.Name || !e.in(q) {
							continue
						}
						e.rules = append(e.rules, rule{kind: ruleConflict, pkg: id, other: q, field: f.name,
							rel: relation.Relation{rel[i]}, clause: e.pair(-lit(id), -lit(q))})
					}
				}
			}
		}
	}
	for _, ne := range u.nameList {
		ids := ne.real
		for i := 0; i < len(ids); i++ {
			for j := i + 1; j < len(ids); j++ {
				a, b := ids[i], ids[j]
				if !e.in(a) || !e.in(b) || u.coinstallable(a, b) {
					continue
				}
				e.rules = append(e.rules, rule{kind: ruleOneVer, pkg: a, other: b, clause: e.pair(-lit(a), -lit(b))})
			}
		}
	}
	return e
}

// pair returns a two-literal clause stored in the arena.
func (e *encoding) pair(a, b int) []int {
	start := len(e.arena)
	e.arena = append(e.arena, a, b)
	return e.arena[start:len(e.arena):len(e.arena)]
}

// in reports whether candidate id is encoded.
func (e *encoding) in(id int) bool { return e.member == nil || e.member[id] }
