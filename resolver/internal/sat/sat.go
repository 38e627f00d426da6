// Package sat is the one wrapper around gophersat that the resolver and
// distcheck both call: every satisfiability check in the process goes
// through Solve, which guards the library's pitfalls and serialises its
// use (gophersat's solvers share a package-level buffer).
package sat

import (
	"context"
	"fmt"
	"sync"

	"github.com/crillab/gophersat/solver"
)

// mu serialises every use of gophersat in the process: its conflict
// analysis writes a package-level buffer (solver.bufLits), so two solvers
// running in goroutines corrupt each other's learned clauses. This is the
// one piece of package-level state under resolver/, and it exists because
// of that library's.
var mu sync.Mutex

// Problem is a problem in DIMACS-style integers: variable v is literal v,
// its negation -v; variables are 1..Vars.
type Problem struct {
	Vars    int
	Clauses [][]int
}

// Cost steers the search without optimising: a literal with a larger
// weight is decided earlier, towards false (so a cost on -v means "try v
// true first"). gophersat derives its initial decision order and phase
// from the cost function; Solve never minimises it.
type Cost struct {
	Lits    []int
	Weights []int
}

// Solve runs one satisfiability check and returns a model (index v is
// variable v; index 0 unused) or nil when the problem is unsatisfiable.
// c may be nil.
//
// It guards gophersat's pitfalls, each reproduced on real data:
//   - Unit clauses are applied at parse time and then lost when Assume
//     resets the trail; so no unit ever reaches the Problem: they are
//     passed to Assume, after a contradiction check done here (Assume does
//     not notice x and -x).
//   - A Problem cannot serve a second solver (wrong UNSAT): one is built
//     per call.
//   - Solvers share a package-level buffer: calls are serialised.
//   - Nothing stops a running solve: ctx is checked before it starts only.
//   - SetCostFunc with nil weights panics later: weights are always given.
//   - DetectAtMostOne drops clauses: never called.
func Solve(ctx context.Context, p *Problem, c *Cost) ([]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var units []int
	unitVal := make(map[int]bool)
	clauses := make([][]int, 0, len(p.Clauses))
	for _, cl := range p.Clauses {
		switch len(cl) {
		case 0:
			return nil, nil
		case 1:
			v, pos := cl[0], cl[0] > 0
			if v < 0 {
				v = -v
			}
			if prev, ok := unitVal[v]; ok {
				if prev != pos {
					return nil, nil
				}
				continue
			}
			unitVal[v] = pos
			units = append(units, cl[0])
		default:
			clauses = append(clauses, cl)
		}
	}
	if p.Vars == 0 {
		return []bool{false}, nil
	}
	if len(clauses) == 0 {
		// gophersat needs at least one clause to know the variables; a
		// tautology over the last one is harmless.
		clauses = append(clauses, []int{p.Vars, -p.Vars})
	}
	mu.Lock()
	defer mu.Unlock()
	pb := solver.ParseSliceNb(clauses, p.Vars)
	if pb.Status == solver.Unsat {
		return nil, nil
	}
	if c != nil && len(c.Lits) > 0 {
		lits := make([]solver.Lit, len(c.Lits))
		for i, l := range c.Lits {
			lits[i] = solver.IntToLit(int32(l))
		}
		pb.SetCostFunc(lits, c.Weights)
	}
	s := solver.New(pb)
	if len(units) > 0 {
		lits := make([]solver.Lit, len(units))
		for i, l := range units {
			lits[i] = solver.IntToLit(int32(l))
		}
		if s.Assume(lits) == solver.Unsat {
			return nil, nil
		}
	}
	switch s.Solve() {
	case solver.Sat:
	case solver.Unsat:
		return nil, nil
	default:
		return nil, fmt.Errorf("sat solver stopped without an answer")
	}
	m := s.Model()
	model := make([]bool, p.Vars+1)
	copy(model[1:], m)
	// The assumptions hold in the model by construction; check anyway, as
	// every clause is checked by the caller's verification.
	for v, val := range unitVal {
		if model[v] != val {
			return nil, fmt.Errorf("sat solver model violates assumption %d", v)
		}
	}
	return model, nil
}
