package resolver

import (
	"sort"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/deb/version"
)

// greedy computes the preferred assignment the way apt's MarkInstall does:
// depth first from the request, each dependency not already satisfied by
// a chosen package gets the first installable solution in apt's order
// (see aptOrder). The SAT solve is then steered towards this assignment;
// when it is consistent (the usual case) the solver reproduces it without
// a single conflict.
type greedy struct {
	s      *state
	u      *universe
	chosen []bool
	order  []int
	// dead marks candidates that can never be installed: a hard relation
	// without any live satisfier, or a remove job.
	dead []bool
	// rejected marks candidates the walk took back (their relations could
	// not be met); they are not chosen again, so the walk ends.
	rejected []bool
	// protected marks the request's packages: nothing the walk takes
	// later may displace them.
	protected []bool
}

func newGreedy(s *state) *greedy {
	n := len(s.u.pkgs)
	g := &greedy{s: s, u: s.u, chosen: make([]bool, n), dead: make([]bool, n), rejected: make([]bool, n), protected: make([]bool, n)}
	g.computeDead()
	return g
}

// computeDead finds candidates whose hard relations cannot be satisfied
// at all, to a fixpoint; apt would fail to MarkInstall them and try the
// next alternative, and so does the greedy walk.
func (g *greedy) computeDead() {
	copy(g.dead, g.s.removed)
	for changed := true; changed; {
		changed = false
		for i := range g.s.enc.rules {
			r := &g.s.enc.rules[i]
			if r.kind != ruleDepends || g.dead[r.pkg] {
				continue
			}
			live := false
			for _, l := range r.clause[1:] {
				if !g.dead[l-1] {
					live = true
					break
				}
			}
			if !live {
				g.dead[r.pkg] = true
				changed = true
			}
		}
	}
}

// canInstall reports whether the walk may take id now. As apt's
// MarkInstall does, a candidate whose own Conflicts or Breaks hit packages
// the walk chose earlier may still be taken (mark then drops those), unless
// one of them was requested; a chosen package whose relations hit the
// candidate, or another chosen version of its name, blocks it.
func (g *greedy) canInstall(id int) bool {
	if g.dead[id] || g.rejected[id] {
		return false
	}
	if g.chosen[id] {
		return true
	}
	for _, c := range g.s.enc.conflicts[id] {
		if !g.chosen[c] {
			continue
		}
		if g.protected[c] || !containsInt(g.s.enc.hits[id], c) {
			return false
		}
	}
	return true
}

func (g *greedy) choose(id int) {
	g.chosen[id] = true
	g.order = append(g.order, id)
}

func (g *greedy) unchoose(id int) {
	g.chosen[id] = false
	for i, o := range g.order {
		if o == id {
			g.order = append(g.order[:i], g.order[i+1:]...)
			break
		}
	}
}

func (g *greedy) run() {
	u, s := g.u, g.s
	// Installed packages first: kept at their version, or the newest
	// candidate when the request upgrades them.
	for id := range u.pkgs {
		if !u.installed[id] || s.removed[id] {
			continue
		}
		p := u.pkgs[id]
		target := id
		if s.upgrade[p.Name] {
			if n, ok := u.newest[p.Name+"\x00"+p.Architecture]; ok && !g.dead[n] && !s.removed[n] {
				target = n
			}
		}
		if !g.chosen[target] && g.canInstall(target) {
			g.choose(target)
		}
	}
	for _, id := range append([]int(nil), g.order...) {
		if !u.installed[id] {
			g.deps(id)
		}
	}
	for _, ids := range s.jobs {
		pick := -1
		for _, id := range ids {
			if g.chosen[id] {
				pick = id
				break
			}
		}
		if pick >= 0 {
			continue
		}
		for _, id := range ids {
			if !g.dead[id] {
				pick = id
				break
			}
		}
		if pick < 0 {
			pick = ids[0]
		}
		// The request wins over what is installed: drop what it conflicts with.
		for _, c := range s.enc.conflicts[pick] {
			if g.chosen[c] && !g.protected[c] {
				g.unchoose(c)
			}
		}
		g.protected[pick] = true
		g.mark(pick)
	}
	// Installed packages whose dependencies the walk broke (or that were
	// broken already) get a solution, or leave the preferred set.
	for changed := true; changed; {
		changed = false
		for _, id := range append([]int(nil), g.order...) {
			if !g.chosen[id] || g.hardOK(id) {
				continue
			}
			g.deps(id)
			if !g.hardOK(id) {
				g.unchoose(id)
				g.rejected[id] = true
				changed = true
			}
		}
	}
}

// hardOK reports whether every hard relation of id has a chosen satisfier.
func (g *greedy) hardOK(id int) bool {
	p := g.u.pkgs[id]
	for _, f := range g.u.positive(p) {
		if !f.hard {
			continue
		}
		for _, rel := range f.rels {
			if !g.satisfied(id, rel) {
				return false
			}
		}
	}
	return true
}

func (g *greedy) satisfied(id int, rel relation.Relation) bool {
	for _, s := range g.u.relSatisfiers(id, rel) {
		if g.chosen[s] {
			return true
		}
	}
	return false
}

// mark takes id and satisfies its relations depth first, dropping earlier
// choices its Conflicts and Breaks hit. As apt's MarkInstall fails early,
// it reports false (and takes id back) when a hard relation of id finds
// no solution.
func (g *greedy) mark(id int) bool {
	if g.chosen[id] {
		return true
	}
	for _, c := range g.s.enc.hits[id] {
		if g.chosen[c] && !g.protected[c] {
			g.unchoose(c)
		}
	}
	g.choose(id)
	if !g.deps(id) && !g.protected[id] {
		g.unchoose(id)
		g.rejected[id] = true
		return false
	}
	return true
}

// deps satisfies id's relations in field order, depth first; it reports
// whether every hard one found a solution.
func (g *greedy) deps(id int) bool {
	p := g.u.pkgs[id]
	ok := true
	for _, f := range g.u.positive(p) {
		for _, rel := range f.rels {
			if !g.chosen[id] {
				return false
			}
			if g.satisfied(id, rel) {
				continue
			}
			picked := false
			for _, c := range g.aptOrder(id, rel) {
				if g.canInstall(c) && g.mark(c) {
					picked = true
					break
				}
			}
			if picked || !f.hard {
				continue
			}
			// apt would give up here; an older version or another
			// provider may still do, and the SAT solve will check.
			for _, c := range g.u.relSatisfiers(id, rel) {
				if g.canInstall(c) && g.mark(c) {
					picked = true
					break
				}
			}
			if !picked {
				ok = false
			}
		}
	}
	return ok
}

// aptOrder lists the solutions apt tries for relation rel of package id:
// apt's candidate (the newest version) of the target and of every
// provider, per alternative, sorted as apt's CompareProviders does:
// installed first, then the package of the very name (a real package
// before a virtual one's providers), Essential, the native architecture,
// then the higher Priority (required, important, standard, optional,
// extra); apt's last tie-break is its internal package id (higher first),
// approximated here by the name, later first.
// Installed solutions of any alternative come before new ones.
func (g *greedy) aptOrder(id int, rel relation.Relation) []int {
	u := g.u
	from := u.effArch(u.pkgs[id])
	var inst, fresh []int
	for i := range rel {
		pos := &rel[i]
		var cands []int
		for _, s := range u.satisfiers(from, pos, false) {
			q := u.pkgs[s]
			if u.installed[s] || u.newest[q.Name+"\x00"+q.Architecture] == s {
				cands = append(cands, s)
			}
		}
		sort.SliceStable(cands, func(a, b int) bool { return g.aptLess(pos, cands[a], cands[b]) })
		for _, c := range cands {
			if u.installed[c] {
				if !containsInt(inst, c) {
					inst = append(inst, c)
				}
			} else if !containsInt(fresh, c) {
				fresh = append(fresh, c)
			}
		}
	}
	return append(inst, fresh...)
}

func (g *greedy) aptLess(pos *relation.Possibility, a, b int) bool {
	u := g.u
	pa, pb := u.pkgs[a], u.pkgs[b]
	if ia, ib := u.installed[a], u.installed[b]; ia != ib {
		return ia
	}
	if sa, sb := pa.Name == pos.Name, pb.Name == pos.Name; sa != sb {
		return sa
	}
	if pa.Essential != pb.Essential {
		return pa.Essential
	}
	if na, nb := u.effArch(pa) == u.native, u.effArch(pb) == u.native; na != nb {
		return na
	}
	if ra, rb := priorityRank(pa.Priority), priorityRank(pb.Priority); ra != rb {
		return ra < rb
	}
	if pa.Name != pb.Name {
		// apt's last tie-break is its cache's package id, higher first; ids
		// follow the (name-sorted) index order, so the later name wins.
		return pa.Name > pb.Name
	}
	return u.better(a, b)
}

func priorityRank(p string) int {
	switch p {
	case "required":
		return 1
	case "important":
		return 2
	case "standard":
		return 3
	case "optional":
		return 4
	case "extra":
		return 5
	}
	return 6
}

// cost turns the preferred assignment into gophersat's cost function:
// chosen packages are decided first (in walk order) towards true, then
// every other candidate towards false, older versions first.
func (g *greedy) cost() *cost {
	c := &cost{}
	n := len(g.order)
	for rank, id := range g.order {
		c.lits = append(c.lits, -lit(id))
		c.weights = append(c.weights, 1_000_000+n-rank)
	}
	for id := range g.u.pkgs {
		if g.chosen[id] {
			continue
		}
		w := 10
		q := g.u.pkgs[id]
		if g.u.newest[q.Name+"\x00"+q.Architecture] != id {
			w = 20
		}
		if g.u.installed[id] {
			w = 5
		}
		c.lits = append(c.lits, lit(id))
		c.weights = append(c.weights, w)
	}
	return c
}

func cmpVersion(a, b *deb.Package) int { return version.Compare(a.Version, b.Version) }
