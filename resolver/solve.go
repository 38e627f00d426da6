package resolver

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/resolver/internal/sat"
)

// Solve computes the plan that meets req against idx. When no set of
// packages can, the error is an *Unsatisfiable that says why. Same input,
// same plan: nothing depends on map order or timing.
func Solve(ctx context.Context, idx Index, req Request) (*Plan, error) {
	s, err := prepare(idx, &req)
	if err != nil {
		return nil, err
	}
	return s.run(ctx)
}

// state is one Solve's working data.
type state struct {
	req  *Request
	u    *universe
	enc  *encoding
	jobs [][]int // candidate ids of each install job
	// removed marks candidates a remove job forbids.
	removed []bool
	// upgrade marks names whose newest version is preferred over the
	// installed one.
	upgrade map[string]bool
	// essential lists, for a full upgrade, the native (or "all")
	// candidates of each Essential name the root lacks, best first: apt's
	// dist-upgrade installs one of each when it can.
	essential [][]int
}

func prepare(idx Index, req *Request) (*state, error) {
	native := req.Architecture
	if native == "" {
		native = "amd64"
	}
	u := newUniverse(idx, native, req.ForeignArchs, req.Recommends)
	u.sameBuild = req.SameBuild
	if u.sameBuild == nil {
		u.sameBuild = deb.SameBuild
	}
	if req.Policy != nil {
		u.policy = req.Policy
		u.named = map[string]bool{}
		for _, j := range req.Install {
			if j.Version != "" || j.Origin != "" {
				u.named[j.Name] = true
			}
		}
	}
	s := &state{req: req, u: u, upgrade: make(map[string]bool)}
	if req.ForbidNewInstall {
		u.only = make(map[string]bool, len(req.Installed))
		for _, in := range req.Installed {
			if in.Package != nil {
				u.only[in.Name+":"+u.effArch(in.Package)] = true
			}
		}
	}
	var work []int
	seen := make(map[string]*deb.Package, len(req.Installed))
	for _, in := range req.Installed {
		if in.Package == nil {
			return nil, fmt.Errorf("installed package entry without metadata")
		}
		if o := seen[Key(in.Package)]; o != nil {
			return nil, fmt.Errorf("installed set holds two versions of %s: %s and %s", Key(in.Package), o.Version, in.Version)
		}
		seen[Key(in.Package)] = in.Package
		n := len(u.pkgs)
		if id := u.add(in.Package, nil, true, in.Auto); id == n {
			work = append(work, id)
		}
	}
	for _, name := range req.Upgrade {
		s.upgrade[name] = true
	}
	for _, in := range req.Installed {
		if req.UpgradeAll || req.FullUpgrade || s.upgrade[in.Name] {
			s.upgrade[in.Name] = true
		}
		// Every version of an installed name is a candidate even when the
		// request does not upgrade it: keeping an installed name may take
		// another version of it (a new package Breaks the old one; apt
		// upgrades it rather than removing it).
		work = u.load(in.Name, work)
	}
	var essential []string
	if ei, ok := idx.(EssentialIndex); ok && req.FullUpgrade && !req.ForbidNewInstall {
		essential = ei.EssentialNames()
		for _, name := range essential {
			work = u.load(name, work)
		}
	}
	for _, j := range req.Install {
		s.upgrade[j.Name] = true
		work = u.load(j.Name, work)
	}
	for _, j := range req.Remove {
		work = u.load(j.Name, work)
	}
	// Nothing more is loaded now: the walk loads the candidates of a
	// name when it first needs the satisfiers of a relation that mentions
	// it (universe.relSatisfiers), so the universe holds what the walk
	// looked at, not the whole closure (which the SAT solve loads, when it
	// is needed).
	u.finish()
	if err := s.selectJobs(); err != nil {
		return nil, err
	}
	s.missingEssential(essential)
	return s, nil
}

// missingEssential records, for a full upgrade, the Essential names of
// which no native (or "all") version is installed, with their native
// candidates best first (apt's FindPreferredPkg takes the native package
// of the name group; its candidate is the newest version).
func (s *state) missingEssential(names []string) {
	u := s.u
	for _, name := range names {
		var ids []int
		have := false
		for _, id := range u.real(name) {
			if u.eff[id] != u.native {
				continue
			}
			if u.installed[id] {
				have = true
				break
			}
			if u.pkgs[id].Essential && !s.isRemoved(id) {
				ids = append(ids, id)
			}
		}
		if !have && len(ids) > 0 {
			s.essential = append(s.essential, ids)
		}
	}
}

// isRemoved reports whether a remove job forbids candidate id.
func (s *state) isRemoved(id int) bool { return id < len(s.removed) && s.removed[id] }

// selectJobs finds the candidates of every install and remove job. Their
// names are loaded before, so later growth of the universe (the walk's
// Recommends) cannot add candidates to them.
func (s *state) selectJobs() error {
	u, req := s.u, s.req
	s.removed = make([]bool, len(u.pkgs))
	for ji := range req.Install {
		j := req.Install[ji]
		var ids []int
		for _, id := range u.real(j.Name) {
			if j.MatchesIn(u.pkgs[id], req.Policy) && !u.installedOnly(id, j) {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 && j.Version == "" && j.Origin == "" && j.Arch == "" {
			// A virtual package: any provider will do, best first.
			for _, id := range u.prov(j.Name) {
				if providesMatch(u.pkgs[id], &relation.Possibility{Name: j.Name}) {
					ids = append(ids, id)
				}
			}
		}
		if len(ids) == 0 {
			return &Unsatisfiable{Explanation: []string{noCandidate(u, j)}}
		}
		// apt installs a name's candidate: it comes first (it is the
		// newest unless a policy pins another version).
		slices.SortStableFunc(ids, func(a, b int) int {
			switch {
			case u.isNewest[a] == u.isNewest[b]:
				return 0
			case u.isNewest[a]:
				return -1
			}
			return 1
		})
		s.jobs = append(s.jobs, ids)
	}
	for ji := range req.Remove {
		j := req.Remove[ji]
		for _, id := range u.real(j.Name) {
			if j.MatchesIn(u.pkgs[id], req.Policy) {
				s.removed[id] = true
			}
		}
	}
	return nil
}

// requestRules adds the request's own rules to the encoding: install and
// remove jobs, Essential packages, and the no-removal rule of a plain
// upgrade.
func (s *state) requestRules() {
	u, req := s.u, s.req
	e := s.enc
	for ji, ids := range s.jobs {
		cl := make([]int, 0, len(ids))
		for _, id := range ids {
			if e.in(id) {
				cl = append(cl, lit(id))
			}
		}
		s.enc.rules = append(s.enc.rules, rule{kind: ruleInstall, pkg: ids[0], other: -1, job: &req.Install[ji], clause: cl})
	}
	for ji := range req.Remove {
		j := req.Remove[ji]
		for _, id := range u.real(j.Name) {
			if j.MatchesIn(u.pkgs[id], req.Policy) && e.in(id) {
				s.enc.rules = append(s.enc.rules, rule{kind: ruleRemove, pkg: id, other: -1, job: &req.Remove[ji], clause: []int{-lit(id)}})
			}
		}
	}
	keepNames := map[string]bool{}
	for id, p := range u.pkgs {
		key := p.Name + ":" + u.eff[id]
		if !u.installed[id] || keepNames[key] {
			continue
		}
		kind := s.keepKind(id)
		if kind == 0 {
			continue
		}
		keepNames[key] = true
		// The name stays on its architecture: a crossgrade is a removal
		// (of name:arch) and an install, as dpkg and the checker see it.
		cl := []int{}
		for _, o := range u.real(p.Name) {
			if e.in(o) && u.eff[o] == u.eff[id] {
				cl = append(cl, lit(o))
			}
		}
		s.enc.rules = append(s.enc.rules, rule{kind: kind, pkg: id, other: -1, clause: cl})
	}
}

// installedOnly reports a candidate known only from the installed set
// when the job asks for a specific origin (the installed record has none).
func (u *universe) installedOnly(id int, j Job) bool {
	return j.Origin != "" && u.installed[id] && u.pkgs[id].Origin == "installed" && u.policy == nil
}

func (s *state) removedName(name string) bool {
	for _, j := range s.req.Remove {
		if j.Name == name {
			return true
		}
	}
	return false
}

func (s *state) problem() *sat.Problem {
	p := &sat.Problem{Vars: len(s.u.pkgs), Clauses: make([][]int, 0, len(s.enc.rules))}
	for i := range s.enc.rules {
		p.Clauses = append(p.Clauses, s.enc.rules[i].clause)
	}
	return p
}

func (s *state) run(ctx context.Context) (*Plan, error) {
	g := newGreedy(s)
	g.run()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// When the walk's set already meets every hard rule (checked over the
	// whole closure, as every answer is), it is the model the steered SAT
	// solve would return (TestFixtureSteering checks that they agree on
	// every anchor request), so the solver is not asked: encoding and
	// solving cost more than the walk itself on a large request. The SAT
	// solve below repairs the walk whenever it is not consistent.
	if reasons, keep := s.trim(s.settle(g.chosen)); s.verifyRelations(keep) == nil {
		return s.plan(keep, reasons), nil
	}
	// The SAT solve needs the whole hard closure: every version and
	// provider of every alternative of every dependency, not only what the
	// walk looked at.
	s.u.closeAll()
	// First the preferred set alone: every other candidate is assumed
	// false (left out of the encoding). When the walk's choices hold
	// together, as they do on every anchor request, this small problem
	// is satisfiable and its model is the answer. Otherwise the whole
	// closure is encoded and solved, still steered by the same costs.
	member := append([]bool(nil), g.chosen...)
	s.enc = encode(s.u, s.req, member)
	s.requestRules()
	model, err := sat.Solve(ctx, s.problem(), g.cost())
	if err != nil {
		return nil, err
	}
	if model == nil {
		member = nil
		s.enc = encode(s.u, s.req, nil)
		s.requestRules()
		if model, err = sat.Solve(ctx, s.problem(), g.cost()); err != nil {
			return nil, err
		}
	}
	if model == nil {
		return nil, s.explain(ctx)
	}
	in := make([]bool, len(s.u.pkgs))
	for id := range in {
		// Candidates left out of the encoding are false.
		in[id] = model[lit(id)] && (member == nil || member[id])
	}
	reasons, keep := s.trim(s.settle(in))
	if err := s.verify(keep); err != nil {
		return nil, fmt.Errorf("internal error: the solver's answer is wrong: %w", err)
	}
	return s.plan(keep, reasons), nil
}

// settle computes the satisfiers of every positive relation of the
// members of set, which loads the candidates of names not loaded yet, and
// returns set extended to the universe's new size: trim and verification
// then read only lists that exist, over a universe that no longer grows.
func (s *state) settle(set []bool) []bool {
	u := s.u
	for id, in := range set {
		if !in {
			continue
		}
		for k := range u.numPositive(id) {
			u.satisfiersAt(id, k)
		}
	}
	out := make([]bool, len(u.pkgs))
	copy(out, set)
	return out
}

// trim keeps what the answer needs: the requested packages, the installed
// ones the request keeps, and whatever their relations reach through the
// answer (the first satisfied alternative of each), recording why each is
// there. Everything else the SAT model turned on is dropped: removing a
// package never breaks a conflict, and every kept package's relations are
// satisfied by kept packages by construction.
func (s *state) trim(in []bool) ([]Reason, []bool) {
	u := s.u
	keep := make([]bool, len(in))
	// Indexed by candidate: keep says which entries are set.
	reasons := make([]Reason, len(in))
	var queue []int
	reach := func(id int, r Reason) {
		if keep[id] {
			return
		}
		keep[id] = true
		reasons[id] = r
		queue = append(queue, id)
	}
	for _, ids := range s.jobs {
		for _, id := range ids {
			if in[id] {
				reach(id, Reason{Requested: true})
				break
			}
		}
	}
	for _, ids := range s.essential {
		for _, id := range ids {
			if in[id] {
				reach(id, Reason{Essential: true, Auto: true})
				break
			}
		}
	}
	// Installed packages are roots: manual ones first, then (unless
	// autoremove drops them) automatic ones that nothing reached, so that
	// an automatic package something needs is explained by that need. A
	// name kept at another version (an upgrade) counts as installed.
	// Under autoremove, the automatic packages apt's MarkRequired counts
	// as roots (AutoremoveRoot: Essential, Protected, required) are roots
	// with the manual ones, before keepImportant follows what every root
	// suggests (dpkg, Essential, Suggests apt).
	for _, auto := range [2]bool{false, true} {
		s.walk(in, keep, &queue, reach)
		if auto && s.req.Autoremove {
			s.keepImportant(in, keep, &queue, reach)
		}
		for id := range in {
			if !in[id] || keep[id] {
				continue
			}
			inst, wasAuto := u.installed[id], u.auto[id]
			if !inst {
				if !s.wasInstalledName(id) {
					continue
				}
				wasAuto = s.autoName(id)
			}
			root := !wasAuto || (s.req.Autoremove && !s.req.AllowRemoveEssential && AutoremoveRoot(u.pkgs[id]))
			if root == auto || (auto && s.req.Autoremove) {
				continue
			}
			reach(id, Reason{Installed: true, Auto: wasAuto})
		}
	}
	s.walk(in, keep, &queue, reach)
	return reasons, keep
}

// keepImportant reaches, before autoremove lets automatic packages go,
// every installed package that a kept package still needs as apt's
// MarkRequired counts it: any installed satisfier of any alternative of
// its Pre-Depends and Depends, and of its Recommends and Suggests
// (APT::AutoRemove::RecommendsImportant and SuggestsImportant, on by
// default), whether or not the request follows Recommends; and what those
// need in turn. It runs only under Autoremove, over the model's packages.
func (s *state) keepImportant(in, keep []bool, queue *[]int, reach func(int, Reason)) {
	u := s.u
	byName := make(map[string][]int)
	for id, ok := range in {
		if !ok || !(u.installed[id] || s.wasInstalledName(id)) {
			continue
		}
		p := u.pkgs[id]
		byName[p.Name] = append(byName[p.Name], id)
		for _, rel := range p.Provides {
			for _, pv := range rel {
				byName[pv.Name] = append(byName[pv.Name], id)
			}
		}
	}
	done := make([]bool, len(in))
	for changed := true; changed; {
		changed = false
		for id, ok := range in {
			if !ok || !keep[id] || done[id] {
				continue
			}
			done[id] = true
			p := u.pkgs[id]
			for _, f := range [4]struct {
				name string
				deps relation.Dependency
			}{{"Pre-Depends", p.PreDepends}, {"Depends", p.Depends}, {"Recommends", p.Recommends}, {"Suggests", p.Suggests}} {
				for _, rel := range f.deps {
					for i := range rel {
						pos := &rel[i]
						for _, q := range byName[pos.Name] {
							if keep[q] || !importantHit(pos, u.pkgs[q]) {
								continue
							}
							reach(q, Reason{By: p, Field: f.name, Relation: rel, Auto: true})
							changed = true
						}
					}
				}
			}
		}
		s.walk(in, keep, queue, reach)
	}
}

// importantHit reports whether q satisfies pos, by name and version or
// through a Provides (architectures are not compared: keeping one package
// too many is the safe side of autoremove).
func importantHit(pos *relation.Possibility, q *deb.Package) bool {
	if q.Name == pos.Name && pos.Satisfies(q.Version) {
		return true
	}
	for _, rel := range q.Provides {
		for i := range rel {
			if pos.ProvidedBy(&rel[i]) {
				return true
			}
		}
	}
	return false
}

// walk follows the relations of the queued packages through the model,
// reaching the first satisfied alternative of each.
func (s *state) walk(in, keep []bool, queue *[]int, reach func(int, Reason)) {
	u := s.u
	for len(*queue) > 0 {
		id := (*queue)[0]
		*queue = (*queue)[1:]
		for k := range u.numPositive(id) {
			for _, sid := range u.satisfiersAt(id, k) {
				if in[sid] {
					if !keep[sid] {
						// Only a package reached for the first time
						// needs the relation's words.
						f, ri := u.slotField(id, k)
						reach(sid, Reason{By: u.pkgs[id], Field: f.name(), Relation: f.rels[ri], Auto: true})
					}
					break
				}
			}
		}
	}
}

// wasInstalledName reports whether some version of id's name (same
// architecture) is installed.
func (s *state) wasInstalledName(id int) bool {
	p := s.u.pkgs[id]
	for _, o := range s.u.ent[id].real {
		if s.u.installed[o] && s.u.pkgs[o].Architecture == p.Architecture {
			return true
		}
	}
	return false
}

func (s *state) autoName(id int) bool {
	p := s.u.pkgs[id]
	for _, o := range s.u.ent[id].real {
		if s.u.installed[o] && s.u.pkgs[o].Architecture == p.Architecture {
			return s.u.auto[o]
		}
	}
	return false
}

// verify checks the final set against every hard rule. It is the last
// line of defence against a solver bug: no answer leaves the package
// without it.
func (s *state) verify(keep []bool) error {
	// The encoded rules first (they may cover only the preferred set)...
	for i := range s.enc.rules {
		r := &s.enc.rules[i]
		ok := false
		for _, l := range r.clause {
			if l > 0 && keep[l-1] || l < 0 && !keep[-l-1] {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("rule violated: %s", s.describe(r))
		}
	}
	return s.verifyRelations(keep)
}

// verifyRelations checks a final set against the relations themselves,
// over the whole closure: dependencies, Conflicts and Breaks, one version
// per name, the request (install and remove jobs, installed Essential
// names and, for a plain upgrade, every installed name kept on its
// architecture).
func (s *state) verifyRelations(keep []bool) error {
	u := s.u
	var kept []int
	for id, k := range keep {
		if k {
			kept = append(kept, id)
		}
	}
	for _, id := range kept {
		p := u.pkgs[id]
		for k := range int(u.nHard[id]) {
			ok := false
			for _, q := range u.satisfiersAt(id, k) {
				if keep[q] {
					ok = true
					break
				}
			}
			if !ok {
				f, ri := u.slotField(id, k)
				return fmt.Errorf("%s %s: %s %s not satisfied", p.Name, p.Version, f.name(), f.rels[ri])
			}
		}
		from := u.eff[id]
		for _, np := range u.negs(id) {
			if !anyKept(np.e.real, keep) && !anyKept(np.e.prov, keep) {
				// Only kept candidates could conflict: the possibility
				// is not read.
				continue
			}
			pos := u.negPossibility(id, np.k)
			for _, q := range u.arena.slice(u.entrySatisfiers(from, pos, np.e, true)) {
				if keep[q] && q != id && u.pkgs[q].Name != p.Name {
					return fmt.Errorf("%s %s conflicts with %s %s (%s)", p.Name, p.Version, u.pkgs[q].Name, u.pkgs[q].Version, *pos)
				}
			}
		}
		for _, o := range u.ent[id].real {
			if o != id && keep[o] && !u.coinstallable(o, id) {
				return fmt.Errorf("two versions of %s: %s and %s", p.Name, p.Version, u.pkgs[o].Version)
			}
		}
	}
	for ji, ids := range s.jobs {
		ok := false
		for _, id := range ids {
			ok = ok || keep[id]
		}
		if !ok {
			return fmt.Errorf("requested %s is missing", s.req.Install[ji])
		}
	}
	for id, r := range s.removed {
		if r && keep[id] {
			return fmt.Errorf("removed %s %s is still there", u.pkgs[id].Name, u.pkgs[id].Version)
		}
	}
	for id, p := range u.pkgs {
		if !u.installed[id] || s.keepKind(id) == 0 {
			continue
		}
		ok := false
		for _, o := range u.ent[id].real {
			if keep[o] && u.eff[o] == u.eff[id] {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("installed %s (%s) must stay and is gone", p.Name, u.eff[id])
		}
	}
	return nil
}

// anyKept reports whether keep holds one of ids.
func anyKept(ids []int, keep []bool) bool {
	for _, id := range ids {
		if keep[id] {
			return true
		}
	}
	return false
}

// keepKind says which rule keeps installed package id's name on its
// architecture: ruleEssential, ruleKeep (a plain upgrade), or 0 (none).
func (s *state) keepKind(id int) ruleKind {
	p, req := s.u.pkgs[id], s.req
	switch {
	case p.Essential && !req.AllowRemoveEssential:
		return ruleEssential
	case req.UpgradeAll && !req.FullUpgrade && !s.removedName(p.Name) && !(req.Autoremove && s.u.auto[id]):
		// An upgrade removes nothing, except what autoremove may.
		return ruleKeep
	}
	return 0
}

// plan turns the final set into the changes against the installed set.
// reasons[id] is why kept candidate id is there.
func (s *state) plan(keep []bool, reasons []Reason) *Plan {
	u := s.u
	// The final set is sorted as sortPackages does, on copies of the names
	// and architectures side by side: comparing through the packages
	// themselves missed the cache on every comparison.
	// pre holds a name's first eight bytes (namePrefix): most comparisons
	// end on one integer compare.
	type item struct {
		pre        uint64
		name, arch string
		id         int
	}
	n := 0
	for _, k := range keep {
		if k {
			n++
		}
	}
	items := make([]item, 0, n)
	size := 0
	for id, k := range keep {
		if k {
			p := u.pkgs[id]
			items = append(items, item{namePrefix(p.Name), p.Name, p.Architecture, id})
			size += len(p.Name) + 1 + len(p.Architecture)
		}
	}
	slices.SortFunc(items, func(a, b item) int {
		if a.pre != b.pre {
			if a.pre < b.pre {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := strings.Compare(a.arch, b.arch); c != 0 {
			return c
		}
		return version.Compare(u.pkgs[a.id].Version, u.pkgs[b.id].Version)
	})
	// Every key (Key) is a substring of one string: one allocation
	// instead of one per package (a Builder's String does not copy).
	var kb strings.Builder
	kb.Grow(size)
	for _, it := range items {
		kb.WriteString(it.name)
		kb.WriteByte(':')
		kb.WriteString(it.arch)
	}
	keys := kb.String()
	pl := &Plan{Reasons: make(map[string]Reason, len(items))}
	if len(items) > 0 {
		pl.Final = make([]*deb.Package, len(items))
	}
	// Installed packages are looked up by Key.
	before := make(map[string]*deb.Package, len(s.req.Installed))
	for _, in := range s.req.Installed {
		before[Key(in.Package)] = in.Package
	}
	inFinal := make(map[string]bool, len(s.req.Installed))
	oldOf := make(map[*deb.Package]*deb.Package, len(s.req.Installed))
	off := 0
	for i, it := range items {
		n := len(it.name) + 1 + len(it.arch)
		key := keys[off : off+n]
		off += n
		p := u.original(it.id)
		pl.Final[i] = p
		if old, ok := before[key]; ok {
			inFinal[key] = true
			oldOf[p] = old
		}
		r := reasons[it.id]
		if r.Requested {
			r.Auto = false
		}
		pl.Reasons[key] = r
	}
	if n := len(pl.Final) - len(oldOf); n > 0 {
		// Every final package not installed before is an install.
		pl.Install = make([]*deb.Package, 0, n)
	}
	for _, p := range pl.Final {
		old, ok := oldOf[p]
		switch {
		case !ok:
			pl.Install = append(pl.Install, p)
		case cmpVersion(p, old) == 0 && (p == old || u.sameBuild(old, p)):
			pl.Keep = append(pl.Keep, old)
		case cmpVersion(p, old) == 0:
			// Another build of the installed version.
			pl.Upgrade = append(pl.Upgrade, Change{From: old, To: p})
		case cmpVersion(p, old) > 0:
			pl.Upgrade = append(pl.Upgrade, Change{From: old, To: p})
		default:
			pl.Downgrade = append(pl.Downgrade, Change{From: old, To: p})
		}
	}
	for _, in := range s.req.Installed {
		if !inFinal[Key(in.Package)] {
			pl.Remove = append(pl.Remove, in.Package)
		}
	}
	sortPackages(pl.Remove)
	sortPackages(pl.Keep)
	return pl
}

// namePrefix packs the first eight bytes of s big-endian, padded with
// zeros. When two prefixes differ they order as the strings do (a shorter
// string's padding sorts before any longer string's byte but NUL, and a
// NUL there makes the prefixes equal); equal prefixes decide nothing.
func namePrefix(s string) uint64 {
	var v uint64
	for i := range 8 {
		v <<= 8
		if i < len(s) {
			v |= uint64(s[i])
		}
	}
	return v
}
