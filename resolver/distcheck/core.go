package distcheck

import (
	"context"
	"fmt"

	"github.com/greypm/grey/resolver/internal/sat"
)

// coreRule is one rule of a package's closure in CNF, with its owner and
// the sentence that states it.
type coreRule struct {
	owner   int32
	clauses [][]int
	text    string
}

// closureRules encodes p's closure (and the Essential groups) as rules:
// the root, one rule per Essential name, one per dependency relation, one
// per conflicting pair. vars maps package index to SAT variable.
func (c *checker) closureRules(p int32, seeds [][]int32) ([]coreRule, map[int32]int) {
	roots := []int32{p}
	for _, g := range seeds {
		roots = append(roots, g...)
	}
	cl := c.closure(roots)
	v := make(map[int32]int, len(cl))
	for i, x := range cl {
		v[x] = i + 1
	}
	rules := []coreRule{{owner: p, clauses: [][]int{{v[p]}}, text: ""}}
	for _, g := range seeds {
		clause := make([]int, len(g))
		for i, e := range g {
			clause[i] = v[e]
		}
		rules = append(rules, coreRule{owner: g[0], clauses: [][]int{clause},
			text: fmt.Sprintf("%s is Essential, and the Essential set is installed with every package checked (--ignore-essential drops it)", c.u.p.Name(c.u.p.Pkg(g[0]).Name))})
	}
	for _, x := range cl {
		pkg := c.u.p.String(x)
		for _, e := range c.u.dep(x) {
			rel := c.u.cand(e)
			clause := []int{-v[x]}
			for _, y := range rel {
				clause = append(clause, v[y])
			}
			text := fmt.Sprintf("%s depends on %s", pkg, c.u.p.Relation(c.u.entRel[e]))
			if len(rel) == 0 {
				text += ", which no package satisfies" + c.u.available(e)
			}
			rules = append(rules, coreRule{owner: x, clauses: [][]int{clause}, text: text})
		}
		for _, y := range c.u.conflicts(x) {
			if w, ok := v[y]; ok && w > v[x] {
				rules = append(rules, coreRule{owner: x, clauses: [][]int{{-v[x], -w}},
					text: fmt.Sprintf("%s %s %s", pkg, c.u.clashWord(x, y), c.u.p.String(y))})
			}
		}
	}
	return rules, v
}

// unsat reports whether the rules whose keep flag is set are
// unsatisfiable over n variables. A cancelled ctx answers false (the rule
// is kept); Check then returns ctx's error.
func unsat(ctx context.Context, rules []coreRule, keep []bool, n int) bool {
	var cnf [][]int
	for i, r := range rules {
		if keep[i] {
			cnf = append(cnf, r.clauses...)
		}
	}
	if len(cnf) == 0 {
		return false
	}
	m, err := sat.Solve(ctx, &sat.Problem{Vars: n, Clauses: cnf}, nil)
	return err == nil && m == nil
}

// maxCoreRules bounds the deletion search: beyond it the explanation falls
// back to the conflict the greedy search met.
const maxCoreRules = 4000

// minimalCore returns the sentences of a minimal set of rules that cannot
// hold together with p installed (deletion: each rule is dropped in turn
// and stays dropped when the rest is still unsatisfiable), or nil when the
// closure is too large to search.
func (c *checker) minimalCore(ctx context.Context, p int32, seeds [][]int32) []string {
	rules, v := c.closureRules(p, seeds)
	if len(rules) > maxCoreRules {
		return nil
	}
	n := len(v)
	keep := make([]bool, len(rules))
	for i := range keep {
		keep[i] = true
	}
	if !unsat(ctx, rules, keep, n) {
		return nil
	}
	// Drop whole owners first (cheap when most of the closure is
	// irrelevant), then single rules. The root rule stays.
	byOwner := map[int32][]int{}
	var owners []int32
	for i, r := range rules {
		if i == 0 {
			continue
		}
		if _, ok := byOwner[r.owner]; !ok {
			owners = append(owners, r.owner)
		}
		byOwner[r.owner] = append(byOwner[r.owner], i)
	}
	// Owners go in halving chunks, so a core of a few rules in a closure
	// of hundreds of packages costs tens of SAT calls, not hundreds.
	dropped := make([]bool, len(owners))
	set := func(from, to int, v bool) {
		for _, o := range owners[from:to] {
			for _, i := range byOwner[o] {
				keep[i] = v
			}
		}
	}
	for size := (len(owners) + 1) / 2; size >= 1; size /= 2 {
		for from := 0; from < len(owners); from += size {
			to := min(from+size, len(owners))
			all := true
			for k := from; k < to; k++ {
				all = all && dropped[k]
			}
			if all {
				continue
			}
			set(from, to, false)
			if unsat(ctx, rules, keep, n) {
				for k := from; k < to; k++ {
					dropped[k] = true
				}
				continue
			}
			// Restore what was kept before this try.
			for k := from; k < to; k++ {
				if !dropped[k] {
					set(k, k+1, true)
				}
			}
		}
	}
	for i := 1; i < len(rules); i++ {
		if !keep[i] {
			continue
		}
		keep[i] = false
		if !unsat(ctx, rules, keep, n) {
			keep[i] = true
		}
	}
	var out []string
	for i, r := range rules {
		if keep[i] && r.text != "" {
			out = append(out, r.text)
		}
	}
	return out
}
