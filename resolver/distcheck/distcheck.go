// Package distcheck finds the packages of an index that cannot be installed
// in any consistent set, as dose-distcheck does.
//
// A package is installable when some set of packages holds it, satisfies
// every Pre-Depends and Depends of its members (alternatives, versions,
// versioned Provides, Multi-Arch), holds no two packages that conflict
// (Conflicts, Breaks, two versions of one name and architecture), and, as
// dose-distcheck does by default, also holds every Essential package.
//
// The method, for speed on a 63,000-package index:
//
//  1. Relations are resolved once to integer candidate lists and symmetric
//     conflict lists.
//  2. A greedy search (apt's habit: first alternative that is not ruled
//     out, newest version first) grows an installation set from the
//     Essential set plus the package. Whatever it builds is consistent by
//     construction, so success proves installability, and every member of
//     the set is proven installable too and is not checked again.
//  3. Only when the greedy search fails is the package's closure (every
//     alternative, every provider) encoded in CNF and given to a SAT solver
//     (gophersat, through resolver/internal/sat): a model proves installability (and that of its
//     members), unsatisfiability proves the package broken.
//
// Broken packages get a reason in words, built from the relations: a
// dependency nothing satisfies, a dependency whose every candidate is
// itself broken, or, when the conflict lies deeper, a minimal set of rules
// that cannot hold together (see minimalCore).
package distcheck

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/resolver/internal/pool"
	"github.com/greypm/grey/resolver/internal/sat"
)

// Options tune a check.
type Options struct {
	// Architecture is the native architecture ("amd64" when empty).
	Architecture string
	// ForeignArchs are further architectures whose packages take part.
	ForeignArchs []string
	// IgnoreEssential checks each package on its own, without the
	// Essential set (dose-distcheck's --deb-ignore-essential).
	IgnoreEssential bool
}

// Broken is a package that cannot be installed, with the reason.
type Broken struct {
	Package *deb.Package
	// Reason is one sentence: the first step of Explanation.
	Reason string
	// Explanation is the chain of relations behind the verdict, from the
	// package down to the missing or conflicting packages.
	Explanation []string
}

// Report is the outcome of a check.
type Report struct {
	// Checked is the number of packages examined (those of the native
	// and foreign architectures and "all").
	Checked int
	// Broken lists the uninstallable packages sorted by name, version and
	// architecture.
	Broken []Broken
	// Greedy and SAT count how packages were decided: proven installable
	// by a greedy set (their own or an earlier one), or by the SAT solver
	// (installable or not).
	Greedy, SAT int
}

// Check examines every package of pkgs. Broken.Package is the package
// of pkgs. A whole archive is better checked as a Set (CheckSet), which
// needs only a fraction of the memory of decoded packages.
func Check(ctx context.Context, pkgs []*deb.Package, opts Options) (*Report, error) {
	s := NewSet()
	for _, p := range pkgs {
		s.p.Add(p)
	}
	return s.check(ctx, opts, func(i int32) *deb.Package { return pkgs[i] })
}

// CheckSet examines every package of s; s takes no more packages
// afterwards. Broken.Package is what the set keeps of the package.
func CheckSet(ctx context.Context, s *Set, opts Options) (*Report, error) {
	return s.check(ctx, opts, s.p.Package)
}

func (s *Set) check(ctx context.Context, opts Options, pkgOf func(int32) *deb.Package) (*Report, error) {
	native := opts.Architecture
	if native == "" {
		native = "amd64"
	}
	s.p.Freeze()
	u := newUniverse(s.p, native, opts.ForeignArchs)
	c := newChecker(u)
	rep := &Report{}
	var seeds [][]int32
	if !opts.IgnoreEssential {
		seeds = u.essential
		if !c.setBase(firsts(seeds)) {
			// The Essential set does not fit together greedily: every
			// attempt then starts from it (and most go to the SAT
			// solver).
			c.clearBase()
			c.roots = firsts(seeds)
		}
	}
	n := s.p.Len()
	for i := range n {
		if i&255 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if !u.considered[i] {
			continue
		}
		rep.Checked++
		if c.verdict[i] != unknown {
			if c.verdict[i] == installable {
				rep.Greedy++
			}
			continue
		}
		if c.try(int32(i)) {
			rep.Greedy++
			continue
		}
		rep.SAT++
		ok, err := c.decide(ctx, int32(i), seeds)
		if err != nil {
			return nil, err
		}
		if !ok {
			c.verdict[i] = broken
		}
	}
	for i := range n {
		if c.verdict[i] == broken {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			expl := c.explain(ctx, int32(i), seeds)
			rep.Broken = append(rep.Broken, Broken{Package: pkgOf(int32(i)), Reason: expl[0], Explanation: expl})
		}
	}
	sort.SliceStable(rep.Broken, func(a, b int) bool {
		x, y := rep.Broken[a].Package, rep.Broken[b].Package
		if x.Name != y.Name {
			return x.Name < y.Name
		}
		if c := version.Compare(x.Version, y.Version); c != 0 {
			return c < 0
		}
		return x.Architecture < y.Architecture
	})
	return rep, nil
}

type verdict uint8

const (
	unknown verdict = iota
	installable
	broken
)

// checker holds the greedy search's state. Membership uses generation
// stamps so a new attempt starts in O(1).
type checker struct {
	u       *universe
	verdict []verdict
	// inst and forb hold the generation in which a package was added to,
	// or ruled out of, the current attempt; baseInst and baseForb are the
	// Essential set's, shared by every attempt.
	inst, forb         []uint32
	baseInst, baseForb []bool
	gen                uint32
	queue              []int32
	// clash records the conflict that ended the last failed attempt.
	clashA, clashB int32
	// parent[i] is the package whose dependency pulled i into the
	// current attempt (-1 for the roots), for explanations.
	parent []int32
	// roots are added to every attempt when the Essential set could not
	// serve as a shared base.
	roots []int32
}

func newChecker(u *universe) *checker {
	n := u.p.Len()
	return &checker{
		u:        u,
		verdict:  make([]verdict, n),
		inst:     make([]uint32, n),
		forb:     make([]uint32, n),
		baseInst: make([]bool, n),
		baseForb: make([]bool, n),
		parent:   make([]int32, n),
	}
}

func (c *checker) isInst(x int32) bool { return c.baseInst[x] || c.inst[x] == c.gen }
func (c *checker) isForb(x int32) bool { return c.baseForb[x] || c.forb[x] == c.gen }

// add puts x in the current attempt and rules out what conflicts with it;
// it fails when x is ruled out already.
func (c *checker) add(x, parent int32) bool {
	if c.isInst(x) {
		return true
	}
	if c.isForb(x) {
		c.clashA, c.clashB = x, c.blocker(x)
		c.parent[x] = parent
		return false
	}
	c.inst[x] = c.gen
	c.parent[x] = parent
	for _, y := range c.u.conflicts(x) {
		c.forb[y] = c.gen
	}
	c.queue = append(c.queue, x)
	return true
}

// blocker finds the installed package that rules x out.
func (c *checker) blocker(x int32) int32 {
	for _, y := range c.u.conflicts(x) {
		if c.isInst(y) {
			return y
		}
	}
	return -1
}

// grow runs the greedy search from roots on top of the base; it reports
// whether a consistent set was built (its members are then stamped with
// the current generation).
func (c *checker) grow(roots []int32) bool {
	c.gen++
	c.queue = c.queue[:0]
	c.clashA, c.clashB = -1, -1
	for _, r := range roots {
		if !c.add(r, -1) {
			return false
		}
	}
	for qi := 0; qi < len(c.queue); qi++ {
		x := c.queue[qi]
		for k, e := range c.u.dep(x) {
			rel := c.u.cand(e)
			if c.satisfied(rel) {
				continue
			}
			picked := false
			for _, y := range rel {
				if !c.isForb(y) && c.verdict[y] != broken {
					picked = c.add(y, x)
					break
				}
			}
			if !picked {
				if len(rel) > 0 {
					c.clashA, c.clashB = rel[0], c.blocker(rel[0])
					c.parent[rel[0]] = x
				} else {
					c.clashA, c.clashB = x, -2-int32(k) // a relation nothing satisfies
				}
				return false
			}
		}
	}
	return true
}

func (c *checker) satisfied(rel []int32) bool {
	for _, y := range rel {
		if c.isInst(y) {
			return true
		}
	}
	return false
}

// setBase installs the Essential set greedily and keeps it as the base of
// every later attempt.
func (c *checker) setBase(ess []int32) bool {
	if !c.grow(ess) {
		return false
	}
	for i := range c.inst {
		if c.inst[i] == c.gen {
			c.baseInst[i] = true
			c.verdict[i] = installable
		}
		if c.forb[i] == c.gen {
			c.baseForb[i] = true
		}
	}
	return true
}

func (c *checker) clearBase() {
	for i := range c.baseInst {
		c.baseInst[i], c.baseForb[i] = false, false
		if c.verdict[i] == installable {
			c.verdict[i] = unknown
		}
	}
}

// try runs the greedy search for p and records every member of a
// successful set as installable.
func (c *checker) try(p int32) bool {
	if !c.grow(append([]int32{p}, c.roots...)) {
		return false
	}
	for _, x := range c.queue {
		c.verdict[x] = installable
	}
	return true
}

// closure returns the packages reachable from roots through every
// candidate of every dependency.
func (c *checker) closure(roots []int32) []int32 {
	c.gen++
	var out []int32
	for _, r := range roots {
		if c.inst[r] != c.gen {
			c.inst[r] = c.gen
			out = append(out, r)
		}
	}
	for i := 0; i < len(out); i++ {
		for _, e := range c.u.dep(out[i]) {
			for _, y := range c.u.cand(e) {
				if c.inst[y] != c.gen {
					c.inst[y] = c.gen
					out = append(out, y)
				}
			}
		}
	}
	return out
}

// decide decides p with the SAT solver over its closure and the Essential
// set; a model marks all its members installable.
func (c *checker) decide(ctx context.Context, p int32, seeds [][]int32) (bool, error) {
	roots := []int32{p}
	for _, g := range seeds {
		roots = append(roots, g...)
	}
	cl := c.closure(roots)
	v := make(map[int32]int, len(cl))
	for i, x := range cl {
		v[x] = i + 1
	}
	cnf := [][]int{{1}}
	// One version of each Essential name is required (dose's default).
	for _, g := range seeds {
		clause := make([]int, len(g))
		for i, e := range g {
			clause[i] = v[e]
		}
		cnf = append(cnf, clause)
	}
	for _, x := range cl {
		for _, e := range c.u.dep(x) {
			clause := []int{-v[x]}
			for _, y := range c.u.cand(e) {
				clause = append(clause, v[y])
			}
			cnf = append(cnf, clause)
		}
		for _, y := range c.u.conflicts(x) {
			if w, ok := v[y]; ok && w > v[x] {
				cnf = append(cnf, []int{-v[x], -w})
			}
		}
	}
	model, err := sat.Solve(ctx, &sat.Problem{Vars: len(cl), Clauses: cnf}, nil)
	if err != nil {
		return false, fmt.Errorf("distcheck: %s: %w", c.u.p.String(p), err)
	}
	if model == nil {
		return false, nil
	}
	for i, x := range cl {
		if model[i+1] {
			c.verdict[x] = installable
		}
	}
	return true, nil
}

// explain builds the reason chain for a broken package.
func (c *checker) explain(ctx context.Context, p int32, seeds [][]int32) []string {
	var out []string
	c.explainDeps(p, 0, map[int32]bool{}, &out)
	if len(out) > 0 {
		return out
	}
	// Every dependency has an installable candidate: the conflict lies
	// in how they combine. A minimal set of rules that cannot hold
	// together says exactly which.
	name := c.u.p.String(p)
	if core := c.minimalCore(ctx, p, seeds); len(core) > 0 {
		out = append(out, fmt.Sprintf("%s cannot be installed: its relations cannot all hold: %s", name, strings.Join(core, "; ")))
		return append(out, core...)
	}
	// Too large a closure to search: show the conflict the greedy search
	// ran into.
	c.grow(append([]int32{p}, firsts(seeds)...))
	if c.clashA >= 0 && c.clashB >= 0 {
		a, b := c.clashA, c.clashB
		out = append(out, fmt.Sprintf("%s cannot be installed: its dependencies conflict; for example %s (%s) %s %s (%s)",
			name, c.u.p.String(a), c.chain(a), c.u.clashWord(a, b), c.u.p.String(b), c.chain(b)))
	} else {
		out = append(out, fmt.Sprintf("%s cannot be installed: no choice among its dependencies' alternatives avoids a conflict", name))
	}
	for _, x := range []int32{c.clashA, c.clashB} {
		if x >= 0 && c.baseInst[x] {
			out = append(out, fmt.Sprintf("%s belongs to the Essential set, which is installed with every package checked (--ignore-essential drops it)", c.u.p.String(x)))
		}
	}
	return out
}

// chain says how a package was pulled into the last attempt.
func (c *checker) chain(x int32) string {
	var parts []string
	for y, n := c.parent[x], 0; y >= 0 && n < 8; y, n = c.parent[y], n+1 {
		parts = append(parts, c.u.p.Name(c.u.p.Pkg(y).Name))
	}
	if len(parts) == 0 {
		if c.u.p.Pkg(x).Essential {
			return "Essential"
		}
		return "requested"
	}
	return "needed by " + strings.Join(parts, " <- ")
}

// explainDeps finds a dependency of p that no installable package
// satisfies and recurses into its candidates.
func (c *checker) explainDeps(p int32, depth int, seen map[int32]bool, out *[]string) {
	if seen[p] || depth > 6 {
		return
	}
	seen[p] = true
	pkg := c.u.p.String(p)
	for _, e := range c.u.dep(p) {
		rel := c.u.cand(e)
		text := c.u.p.Relation(c.u.entRel[e]).String()
		if len(rel) == 0 {
			*out = append(*out, fmt.Sprintf("%s depends on %s, which no package satisfies%s", pkg, text, c.u.available(e)))
			return
		}
		all := true
		for _, y := range rel {
			if c.verdict[y] != broken {
				all = false
				break
			}
		}
		if all {
			var names []string
			for _, y := range rel {
				names = append(names, c.u.p.String(y))
			}
			*out = append(*out, fmt.Sprintf("%s depends on %s, and none of its candidates can be installed: %s", pkg, text, strings.Join(names, ", ")))
			c.explainDeps(rel[0], depth+1, seen, out)
			return
		}
	}
}

// available names the versions that exist for the package names of
// entry e's relation but do not satisfy it.
func (u *universe) available(e int32) string {
	var have []string
	for _, x := range u.p.Rel(u.entRel[e]) {
		id := x.Name
		for _, j := range u.p.Packages(id) {
			if u.considered[j] {
				have = append(have, u.p.Name(id)+" "+u.p.Version(u.p.Pkg(j).Ver).String())
			}
		}
	}
	if len(have) == 0 {
		return " (not in the index)"
	}
	return " (available: " + strings.Join(have, ", ") + ")"
}

// clashWord says how packages a and b exclude each other, from either
// side.
func (u *universe) clashWord(a, b int32) string {
	pa, pb := u.p.Pkg(a), u.p.Pkg(b)
	if pa.Name == pb.Name {
		return "is another version of"
	}
	names := func(x int32, f pool.Field, n int32) bool {
		for _, r := range u.p.Field(x, f) {
			for _, x := range u.p.Rel(r) {
				if x.Name == n {
					return true
				}
			}
		}
		return false
	}
	switch {
	case names(a, pool.Breaks, pb.Name):
		return "breaks"
	case names(b, pool.Breaks, pa.Name):
		return "is broken by"
	case names(a, pool.Conflicts, pb.Name):
		return "conflicts with"
	case names(b, pool.Conflicts, pa.Name):
		return "is in conflict with"
	}
	return "conflicts (through a provided name) with"
}

// firsts returns the first (newest) package of each group.
func firsts(groups [][]int32) []int32 {
	out := make([]int32, len(groups))
	for i, g := range groups {
		out[i] = g[0]
	}
	return out
}
