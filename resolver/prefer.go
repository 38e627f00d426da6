package resolver

import (
	"slices"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/resolver/internal/sat"
)

// greedy computes the preferred assignment the way apt's MarkInstall does:
// depth first from the request, each dependency not already satisfied by
// a chosen package gets the first installable solution in apt's order
// (see aptOrder). The SAT solve is then steered towards this assignment;
// when it is consistent (the usual case) the solver reproduces it without
// a single conflict.
//
// The walk runs before the encoding, on a universe closed under hard
// relations only: Recommends are soft and never become clauses, so the
// candidates of a Recommends are loaded (with their hard closure) only
// when the walk reaches it. Conflicts are checked against the chosen set
// directly, through indexes kept as packages are chosen.
type greedy struct {
	s      *state
	u      *universe
	chosen []bool
	order  []int
	// dead: 0 unknown, 1 installable as far as relations go, 2 a hard
	// relation has no live satisfier (or a remove job), 3 being computed.
	dead []int8
	// rejected marks candidates the walk took back (their relations could
	// not be met); they are not chosen again, so the walk ends.
	rejected []bool
	// protected marks the request's packages: nothing the walk takes
	// later may displace them.
	protected []bool
	// negs is carve's pool for the lists of nameWalk.neg.
	negs []negEntry
	// inst, fresh and cands are aptOrder's working lists.
	inst, fresh, cands []int
	// noNew, while set, lets deps take only versions of installed names:
	// an installed package broken by the request is repaired with what is
	// installed (or an upgrade of it), or it leaves, as apt removes the
	// dependents of a removed package instead of pulling new providers.
	noNew bool
	// journal records the walk's changes while journaling > 0, so that
	// tryMark can take back everything a failed mark did.
	journal    []journalOp
	journaling int
	// The walk indexes the chosen set by name, by provided name, and the
	// chosen set's Conflicts and Breaks by target name in each name's
	// entry (nameEntry.walk): one walk per universe.
}

// journalOp is one change of the walk: id chosen, unchosen (from
// position pos of the order) or rejected.
type journalOp struct {
	kind int8
	id   int
	pos  int
}

const (
	opChoose int8 = iota
	opUnchoose
	opReject
)

// negEntry is a chosen package's Conflicts or Breaks possibility.
type negEntry struct {
	id int
	k  int32 // the possibility's number (universe.negPossibility)
}

func newGreedy(s *state) *greedy {
	g := &greedy{s: s, u: s.u, order: make([]int, 0, candCap),
		chosen: make([]bool, 0, candCap), dead: make([]int8, 0, candCap), rejected: make([]bool, 0, candCap), protected: make([]bool, 0, candCap)}
	g.grow()
	// The universe grows while the walk runs (a relation's names are
	// loaded when the walk first needs its satisfiers).
	s.u.onAdd = g.grow
	return g
}

// grow sizes the per-candidate slices after the universe grew.
func (g *greedy) grow() {
	n := len(g.u.pkgs)
	if k := cap(g.u.pkgs) - len(g.chosen); cap(g.chosen) < n {
		// As the universe's own slices (universe.reserve): at once.
		g.chosen = slices.Grow(g.chosen, k)
		g.dead = slices.Grow(g.dead, k)
		g.rejected = slices.Grow(g.rejected, k)
		g.protected = slices.Grow(g.protected, k)
	}
	for len(g.chosen) < n {
		g.chosen = append(g.chosen, false)
		g.dead = append(g.dead, 0)
		g.rejected = append(g.rejected, false)
		g.protected = append(g.protected, false)
	}
}

// isDead reports whether a candidate can never be installed: it is
// removed by the request, or one of its hard relations has no live
// satisfier. apt would fail to MarkInstall it and try the next
// alternative, and so does the walk. Cycles count as live.
func (g *greedy) isDead(id int) bool {
	switch g.dead[id] {
	case 1, 3:
		return false
	case 2:
		return true
	}
	if g.s.isRemoved(id) {
		g.dead[id] = 2
		return true
	}
	g.dead[id] = 3
	for k := range int(g.u.nHard[id]) {
		live := false
		for _, sid := range g.u.satisfiersAt(id, k) {
			if sid == id || !g.isDead(sid) {
				live = true
				break
			}
		}
		if !live {
			g.dead[id] = 2
			return true
		}
	}
	g.dead[id] = 1
	return false
}

// hits reports whether possibility pos of a Conflicts or Breaks of
// package from hits candidate q (a package never hits its own name).
func (g *greedy) hits(from *deb.Package, pos *relation.Possibility, q int) bool {
	u := g.u
	qp := u.pkgs[q]
	if qp.Name == from.Name || !deb.ArchSatisfies(qp, pos, u.effArch(from), u.native, true) {
		return false
	}
	if qp.Name == pos.Name && pos.Satisfies(qp.Version) {
		return true
	}
	return providesMatch(qp, pos)
}

// ownHits lists the chosen packages that id's own Conflicts and Breaks hit.
func (g *greedy) ownHits(id int, out []int) []int {
	p := g.u.pkgs[id]
	for _, np := range g.u.negs(id) {
		if len(np.e.walk.byName)+len(np.e.walk.byProv) == 0 {
			// Nothing chosen under that name: the possibility is not read.
			continue
		}
		pos := g.u.negPossibility(id, np.k)
		for _, list := range [2][]int{np.e.walk.byName, np.e.walk.byProv} {
			for _, q := range list {
				if g.hits(p, pos, q) && !containsInt(out, q) {
					out = append(out, q)
				}
			}
		}
	}
	return out
}

// hitBy lists the chosen packages whose Conflicts or Breaks hit id, and
// the chosen other versions of id's name that exclude it.
func (g *greedy) hitBy(id int, out, same []int) ([]int, []int) {
	u := g.u
	for _, o := range u.ent[id].walk.byName {
		if o != id && !u.coinstallable(o, id) {
			same = append(same, o)
		}
	}
	check := func(ne *nameEntry) {
		for _, e := range ne.walk.neg {
			if e.id != id && g.hits(u.pkgs[e.id], u.negPossibility(e.id, e.k), id) && !containsInt(out, e.id) {
				out = append(out, e.id)
			}
		}
	}
	check(u.ent[id])
	for _, pe := range u.provEnt[id] {
		check(pe)
	}
	return out, same
}

// canInstall reports whether the walk may take id now.
//
// As apt's MarkInstall does, a candidate whose own Conflicts or Breaks hit
// packages the walk chose earlier may be taken (mark then drops those), and
// so may apt's candidate version of a name whose other version was chosen
// (an upgrade). A chosen package that hits the candidate without being hit
// back blocks it, unless it is an installed package and drop is set.
// Without drop, no installed package may be displaced at all (an upgrade
// of an installed name to its newest version is no displacement): the walk
// first looks for a solution that keeps the installed set (keeping
// installed packages comes before the alternatives' order), then allows
// displacing them. Requested packages are never displaced.
func (g *greedy) canInstall(id int, drop bool) bool {
	if g.rejected[id] || g.isDead(id) {
		return false
	}
	if g.chosen[id] {
		return true
	}
	u := g.u
	by, same := g.hitBy(id, nil, nil)
	for _, o := range same {
		// Upgrading an installed name to apt's candidate is not
		// displacing it: apt upgrades an installed solution before it
		// takes a new one (issue 15, point 5).
		if g.protected[o] || !u.isNewest[id] {
			return false
		}
	}
	own := g.ownHits(id, nil)
	for _, q := range own {
		if g.protected[q] || (u.installed[q] && !drop) {
			return false
		}
	}
	for _, q := range by {
		if g.protected[q] || (!containsInt(own, q) && !(drop && u.installed[q])) || (u.installed[q] && !drop) {
			return false
		}
	}
	return true
}

func (g *greedy) choose(id int) {
	g.chooseAt(id, len(g.order))
}

// chooseAt chooses id at position pos of the walk order.
func (g *greedy) chooseAt(id, pos int) {
	u := g.u
	g.chosen[id] = true
	g.order = slices.Insert(g.order, pos, id)
	if g.journaling > 0 {
		g.journal = append(g.journal, journalOp{opChoose, id, pos})
	}
	e := u.ent[id]
	e.walk.byName = u.push(e.walk.byName, id)
	for _, pe := range u.provEnt[id] {
		pe.walk.byProv = u.push(pe.walk.byProv, id)
	}
	for _, np := range u.negs(id) {
		l := np.e.walk.neg
		if cap(l) == 0 {
			l = carve(&g.negs, 2, poolSize)
		}
		np.e.walk.neg = append(l, negEntry{id, np.k})
	}
}

func removeInt(s []int, x int) []int {
	out := s[:0]
	for _, v := range s {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

func (g *greedy) unchoose(id int) {
	u := g.u
	if !g.chosen[id] {
		// Displaced already (mark takes back a package its own
		// dependencies displaced).
		return
	}
	g.chosen[id] = false
	if g.journaling > 0 {
		g.journal = append(g.journal, journalOp{opUnchoose, id, slices.Index(g.order, id)})
	}
	g.order = removeInt(g.order, id)
	e := u.ent[id]
	e.walk.byName = removeInt(e.walk.byName, id)
	for _, pe := range u.provEnt[id] {
		pe.walk.byProv = removeInt(pe.walk.byProv, id)
	}
	for _, np := range u.negs(id) {
		w := &np.e.walk
		es := w.neg[:0]
		for _, e := range w.neg {
			if e.id != id {
				es = append(es, e)
			}
		}
		w.neg = es
	}
}

func (g *greedy) run() {
	u, s := g.u, g.s
	// Installed packages first: kept at their version, or the newest
	// candidate when the request upgrades them.
	for id := range u.pkgs {
		if !u.installed[id] || s.isRemoved(id) {
			continue
		}
		p := u.pkgs[id]
		target := id
		if s.upgrade[p.Name] {
			if n := u.newestOf(id); !g.isDead(n) {
				target = n
			}
		}
		if !g.chosen[target] && g.canInstall(target, false) {
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
			if !g.isDead(id) {
				pick = id
				break
			}
		}
		if pick < 0 {
			pick = ids[0]
		}
		// The request wins over what is installed: drop what it
		// conflicts with, and what conflicts with it.
		drop := g.ownHits(pick, nil)
		// Read only (drops are collected, then taken back): no copy of
		// the order per job.
		for _, c := range g.order {
			if u.installed[c] && !g.protected[c] && c != pick && g.conflictsWith(c, pick) {
				drop = append(drop, c)
			}
		}
		for _, c := range drop {
			if g.chosen[c] && !g.protected[c] {
				g.unchoose(c)
			}
		}
		g.protected[pick] = true
		g.mark(pick)
	}
	g.sourceSiblings()
	// A full upgrade installs the Essential packages the root lacks, as
	// apt's dist-upgrade marks each one after the upgrades.
	for _, ids := range s.essential {
		if g.anyChosen(ids) {
			continue
		}
		for _, c := range ids {
			if g.canInstall(c, false) && g.mark(c) {
				break
			}
		}
	}
	// Installed names the walk displaced get another version, and
	// installed packages whose dependencies the walk broke (or that were
	// broken already) get a solution, or leave the preferred set.
	for changed := true; changed; {
		changed = g.restore()
		for _, id := range append([]int(nil), g.order...) {
			if !g.chosen[id] || g.hardOK(id) {
				continue
			}
			// An installed package the request broke is repaired
			// without new names (minimal change, as apt).
			g.noNew = u.installed[id]
			g.deps(id)
			g.noNew = false
			if !g.hardOK(id) && !g.protected[id] {
				g.unchoose(id)
				g.reject(id)
				changed = true
			}
		}
	}
}

// sourceSiblings upgrades, with every package the walk chose to install or
// upgrade, the other
// installed binary packages of the same source to the version built from
// the same source version, when that is apt's candidate and can be taken
// without displacing anything installed: apt upgrades the binaries of a
// source together ("Upgrading pkg-bar due to pkg"), so udev and systemd,
// or mesa's drivers, do not drift apart.
func (g *greedy) sourceSiblings() {
	u := g.u
	if len(g.s.req.Installed) == 0 {
		return
	}
	// Every package the walk takes, new or an upgrade, as apt's
	// MarkInstall_UpgradeOtherBinaries runs for both: a new
	// mesa-vulkan-drivers upgrades the installed libgl1-mesa-dri.
	var ups []int
	for _, id := range g.order {
		if g.chosen[id] && !u.installed[id] {
			ups = append(ups, id)
		}
	}
	if len(ups) == 0 {
		return
	}
	bySource := make(map[string][]int)
	for id := range u.pkgs {
		if u.installed[id] {
			src := u.pkgs[id].Source
			bySource[src] = append(bySource[src], id)
		}
	}
	for i := 0; i < len(ups); i++ {
		p := u.pkgs[ups[i]]
		for _, o := range bySource[p.Source] {
			if !g.chosen[o] || u.pkgs[o].Name == p.Name || g.s.isRemoved(o) {
				// Not kept at its installed version (already upgraded,
				// removed, or the upgraded package itself).
				continue
			}
			n := u.newestOf(o)
			if n == o || g.chosen[n] || u.pkgs[n].Source != p.Source || version.Compare(u.pkgs[n].SourceVersion, p.SourceVersion) != 0 {
				continue
			}
			if g.canInstall(n, false) && g.tryMark(n) {
				// Its own siblings follow too.
				ups = append(ups, n)
			}
		}
	}
}

func (g *greedy) anyChosen(ids []int) bool {
	for _, id := range ids {
		if g.chosen[id] {
			return true
		}
	}
	return false
}

// restore gives every installed name that has lost its version (a
// package the walk took Conflicts with or Breaks it, or its dependencies
// failed) another version of the same name and architecture, newest
// first, when one can be taken without displacing anything installed:
// keeping an installed package means keeping its name, and apt upgrades
// a package a new one Breaks rather than removing it. It reports whether
// it chose anything.
func (g *greedy) restore() bool {
	u, s := g.u, g.s
	changed := false
	for id := range u.installed {
		if !u.installed[id] || g.chosen[id] || s.isRemoved(id) {
			continue
		}
		if s.req.Autoremove && u.auto[id] && !AutoremoveRoot(u.pkgs[id]) {
			// Autoremove may let it go; nothing the walk chose needs it.
			continue
		}
		var same []int
		kept := false
		for _, o := range u.ent[id].real {
			if u.eff[o] != u.eff[id] {
				continue
			}
			if g.chosen[o] {
				kept = true
				break
			}
			same = append(same, o)
		}
		if kept {
			continue
		}
		for _, c := range same {
			if g.canInstall(c, false) && g.tryMark(c) {
				changed = true
				break
			}
		}
	}
	return changed
}

// hardOK reports whether every hard relation of id has a chosen satisfier.
func (g *greedy) hardOK(id int) bool {
	for k := range int(g.u.nHard[id]) {
		if !g.anyChosen(g.u.satisfiersAt(id, k)) {
			return false
		}
	}
	return true
}

// reject marks id as taken back: the walk does not choose it again.
func (g *greedy) reject(id int) {
	if !g.rejected[id] && g.journaling > 0 {
		g.journal = append(g.journal, journalOp{opReject, id, 0})
	}
	g.rejected[id] = true
}

// tryMark is mark that takes back everything it changed when it fails (id
// itself stays rejected): the walk's optional moves on an installed
// system, repairing a displaced name (restore) and upgrading a source's
// siblings, either succeed or leave the chosen set as it was. It succeeds
// when id and its hard relations are met and every package it displaced
// kept its name at another version. Without it, a
// failed repair of libpam-systemd to 252.39 (its `systemd-sysv | logind`
// cannot hold next to sysvinit-core) left systemd upgraded to 252.39, and
// its siblings with it, where apt keeps 252.38 (issue 15,
// install-sysvinit-core).
func (g *greedy) tryMark(id int) bool {
	start := len(g.journal)
	g.journaling++
	ok := g.mark(id) && g.hardOK(id) && g.namesKept(start)
	g.journaling--
	if !ok {
		// Undo in reverse; the undo itself is not journalled.
		ops := g.journal[start:]
		depth := g.journaling
		g.journaling = 0
		for i := len(ops) - 1; i >= 0; i-- {
			op := ops[i]
			switch op.kind {
			case opChoose:
				g.unchoose(op.id)
			case opUnchoose:
				g.chooseAt(op.id, op.pos)
			case opReject:
				g.rejected[op.id] = false
			}
		}
		g.journaling = depth
		g.journal = g.journal[:start]
		g.reject(id)
	}
	if g.journaling == 0 {
		g.journal = g.journal[:0]
	}
	return ok
}

// namesKept reports whether every package the walk took back since
// journal entry start still has a chosen version of its name and
// architecture: a repair may upgrade what it needs, not displace it.
func (g *greedy) namesKept(start int) bool {
	u := g.u
	for _, op := range g.journal[start:] {
		if op.kind != opUnchoose {
			continue
		}
		kept := false
		for _, o := range u.ent[op.id].real {
			if g.chosen[o] && u.eff[o] == u.eff[op.id] {
				kept = true
				break
			}
		}
		if !kept {
			return false
		}
	}
	return true
}

// mark takes id and satisfies its relations depth first, dropping earlier
// choices its Conflicts and Breaks hit. As apt's MarkInstall fails early,
// it reports false (and takes id back) when a hard relation of id finds
// no solution.
func (g *greedy) mark(id int) bool {
	if g.chosen[id] {
		return true
	}
	by, same := g.hitBy(id, nil, nil)
	drops := g.ownHits(id, same)
	for _, q := range by {
		if g.u.installed[q] {
			drops = append(drops, q)
		}
	}
	for _, c := range drops {
		if g.chosen[c] && !g.protected[c] {
			// A displaced package does not come back in this walk: two
			// packages that exclude each other would otherwise take
			// turns forever.
			g.unchoose(c)
			g.reject(c)
		}
	}
	g.choose(id)
	if !g.deps(id) && !g.protected[id] {
		g.unchoose(id)
		g.reject(id)
		return false
	}
	return true
}

// deps satisfies id's relations in field order, depth first; it reports
// whether every hard one found a solution.
func (g *greedy) deps(id int) bool {
	ok := true
	u := g.u
	// Relations already met are seen through their cached slots; the
	// package's fields are read only for one that is not.
	for k := range u.numPositive(id) {
		if !g.chosen[id] {
			return false
		}
		if g.anyChosen(u.satisfiersAt(id, k)) {
			continue
		}
		f, ri := u.slotField(id, k)
		if !f.hard() && g.oldRecommends(id, f.rels[ri]) {
			continue
		}
		picked := false
		order := g.aptOrder(id, &f, ri)
		for _, drop := range [2]bool{false, true} {
			for _, c := range order {
				if g.noNew && !g.s.wasInstalledName(c) {
					continue
				}
				if g.canInstall(c, drop) && g.mark(c) {
					picked = true
					break
				}
			}
			if picked {
				break
			}
		}
		if picked || !f.hard() {
			continue
		}
		// apt would give up here; an older version or another
		// provider may still do, and the SAT solve will check.
		for _, c := range u.relSatisfiers(id, &f, ri) {
			if g.noNew && !g.s.wasInstalledName(c) {
				continue
			}
			if g.canInstall(c, true) && g.mark(c) {
				picked = true
				break
			}
		}
		if !picked {
			ok = false
		}
	}
	return ok
}

// oldRecommends reports whether Recommends rel of id, a new version of an
// installed name, is one the installed version already had (a Recommends
// of it names one of rel's packages) and left unsatisfied: apt installs
// only Recommends that are new in the candidate, so such a one stays
// unsatisfied in an upgrade.
func (g *greedy) oldRecommends(id int, rel relation.Relation) bool {
	u := g.u
	if u.installed[id] || len(g.s.req.Installed) == 0 {
		return false
	}
	for _, o := range u.ent[id].real {
		if !u.installed[o] || u.eff[o] != u.eff[id] {
			continue
		}
		fs, n := u.positive(u.pkgs[o])
		if n < 3 {
			return false
		}
		rf := fs[2]
		for ri, orel := range rf.rels {
			if !shareName(orel, rel) {
				continue
			}
			for _, sid := range u.satisfiersAt(o, rf.off+ri) {
				if u.installed[sid] {
					// It was satisfied: keep it so.
					return false
				}
			}
			return true
		}
		return false
	}
	return false
}

// shareName reports whether two relations name a common package.
func shareName(a, b relation.Relation) bool {
	for i := range a {
		for j := range b {
			if a[i].Name == b[j].Name {
				return true
			}
		}
	}
	return false
}

// aptOrder lists the solutions apt tries for relation rel of package id:
// apt's candidate (the newest version) of the target and of every
// provider, per alternative, sorted as apt's CompareProviders does:
// installed first (the version, then the name: an upgrade), then the package of the very name (a real package
// before a virtual one's providers), Essential, the native architecture,
// then the higher Priority (required, important, standard, optional,
// extra); apt's last tie-break is its internal package id (higher first),
// approximated here by the name, later first.
// Installed solutions of any alternative come before new ones.
func (g *greedy) aptOrder(id int, f *depField, ri int) []int {
	u := g.u
	rel := f.rels[ri]
	// The working lists are the walk's, reused (aptOrder does not
	// recurse); the answer is cut from the universe's pool, since the
	// walk holds it while it recurses.
	inst, fresh, cands := g.inst[:0], g.fresh[:0], g.cands
	for i := range rel {
		pos := &rel[i]
		cands = cands[:0]
		for _, s := range u.altSatisfiers(id, f, ri, i) {
			if u.installed[s] || u.isNewest[s] {
				cands = append(cands, s)
			}
		}
		// aptLess is a total order (it ends in better), so an unstable
		// sort gives the one answer; most alternatives have one candidate.
		if len(cands) > 1 {
			slices.SortFunc(cands, func(a, b int) int {
				switch {
				case a == b:
					return 0
				case g.aptLess(pos, a, b):
					return -1
				}
				return 1
			})
		}
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
	g.inst, g.fresh, g.cands = inst, fresh, cands
	out := carve(&u.ints, len(inst)+len(fresh), poolSize)
	out = append(out, inst...)
	return append(out, fresh...)
}

func (g *greedy) aptLess(pos *relation.Possibility, a, b int) bool {
	u := g.u
	pa, pb := u.pkgs[a], u.pkgs[b]
	if ia, ib := u.installed[a], u.installed[b]; ia != ib {
		return ia
	}
	// apt's CompareProviders prefers a package whose name is installed
	// (an upgrade) to a new one.
	if len(g.s.req.Installed) > 0 {
		if ia, ib := g.s.wasInstalledName(a), g.s.wasInstalledName(b); ia != ib {
			return ia
		}
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
	if rk := g.s.req.Rank; rk != nil {
		ra, oka := rk[u.original(a)]
		rb, okb := rk[u.original(b)]
		if oka && okb && ra != rb {
			return ra > rb
		}
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
func (g *greedy) cost() *sat.Cost {
	c := &sat.Cost{}
	n := len(g.order)
	for rank, id := range g.order {
		c.Lits = append(c.Lits, -lit(id))
		c.Weights = append(c.Weights, 1_000_000+n-rank)
	}
	for id := range g.u.pkgs {
		if g.chosen[id] {
			continue
		}
		w := 10
		if !g.u.isNewest[id] {
			w = 20
		}
		if g.u.installed[id] {
			w = 5
		}
		c.Lits = append(c.Lits, lit(id))
		c.Weights = append(c.Weights, w)
	}
	return c
}

func cmpVersion(a, b *deb.Package) int { return version.Compare(a.Version, b.Version) }

// conflictsWith reports whether chosen package a and candidate b exclude
// each other: one's Conflicts or Breaks hit the other, or they are two
// versions of one name.
func (g *greedy) conflictsWith(a, b int) bool {
	u := g.u
	pa, pb := u.pkgs[a], u.pkgs[b]
	if pa.Name == pb.Name {
		return !u.coinstallable(a, b)
	}
	for _, x := range [2][2]int{{a, b}, {b, a}} {
		p := u.pkgs[x[0]]
		for _, d := range [2]relation.Dependency{p.Conflicts, p.Breaks} {
			for _, rel := range d {
				for i := range rel {
					if g.hits(p, &rel[i], x[1]) {
						return true
					}
				}
			}
		}
	}
	return false
}
