package sat

import (
	"context"
	"testing"
)

// TestSolve covers the pitfalls Solve guards: units passed as
// assumptions (and contradicting ones), an empty clause, no clauses, a
// cancelled context.
func TestSolve(t *testing.T) {
	for _, c := range []struct {
		name string
		p    Problem
		sat  bool
	}{
		{"units agree with clauses", Problem{Vars: 3, Clauses: [][]int{{1}, {-1, 2}, {-2, 3}}}, true},
		{"contradicting units", Problem{Vars: 1, Clauses: [][]int{{1}, {-1}}}, false},
		{"empty clause", Problem{Vars: 2, Clauses: [][]int{{1, 2}, {}}}, false},
		{"units only", Problem{Vars: 2, Clauses: [][]int{{1}, {-2}}}, true},
		{"no variables", Problem{}, true},
		{"needs search", Problem{Vars: 4, Clauses: [][]int{{1, 2}, {3, 4}, {-1, -3}, {-1, -4}, {-2, -3}, {-2, -4}}}, false},
	} {
		m, err := Solve(context.Background(), &c.p, &Cost{Lits: []int{-1}, Weights: []int{1}})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (m != nil) != c.sat {
			t.Errorf("%s: model %v, want satisfiable %v", c.name, m, c.sat)
			continue
		}
		for _, cl := range c.p.Clauses {
			if m == nil {
				break
			}
			ok := false
			for _, l := range cl {
				ok = ok || l > 0 && m[l] || l < 0 && !m[-l]
			}
			if !ok {
				t.Errorf("%s: model %v violates %v", c.name, m, cl)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Solve(ctx, &Problem{Vars: 1, Clauses: [][]int{{1}}}, nil); err == nil {
		t.Error("a cancelled solve ran")
	}
}
