// Package randrel writes the relationship fields of random packages for the
// resolver's property tests (distcheck and EDSP draw their universes with
// it), so that both generate Depends, Conflicts, Breaks and Provides the
// same way.
package randrel

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Odds says how often a package gets each optional field: one in N.
type Odds struct {
	Conflicts, Breaks int
}

// Write appends to b up to two Depends (each with an alternative one time
// in three), then Conflicts and Breaks at the given odds, then one time in
// three a Provides of v0 or v1, versioned half of the time. target and
// constraint draw a relation's name and its optional version constraint.
func Write(b *strings.Builder, r *rand.Rand, target, constraint func() string, odds Odds) {
	var deps []string
	for i := 0; i < r.IntN(3); i++ {
		alts := []string{target() + constraint()}
		if r.IntN(3) == 0 {
			alts = append(alts, target()+constraint())
		}
		deps = append(deps, strings.Join(alts, " | "))
	}
	if len(deps) > 0 {
		fmt.Fprintf(b, "Depends: %s\n", strings.Join(deps, ", "))
	}
	if r.IntN(odds.Conflicts) == 0 {
		fmt.Fprintf(b, "Conflicts: %s%s\n", target(), constraint())
	}
	if r.IntN(odds.Breaks) == 0 {
		fmt.Fprintf(b, "Breaks: %s%s\n", target(), constraint())
	}
	if r.IntN(3) == 0 {
		p := fmt.Sprintf("v%d", r.IntN(2))
		if r.IntN(2) == 0 {
			p += fmt.Sprintf(" (= %d)", 1+r.IntN(3))
		}
		fmt.Fprintf(b, "Provides: %s\n", p)
	}
}

// Constraint returns a function that draws a relation's optional version
// constraint from r: " (>= 1)" or " (>= 2)" one time in four, " (<< 2)" or
// " (<< 3)" one time in four, else none.
func Constraint(r *rand.Rand) func() string {
	return func() string {
		switch r.IntN(4) {
		case 0:
			return fmt.Sprintf(" (>= %d)", 1+r.IntN(2))
		case 1:
			return fmt.Sprintf(" (<< %d)", 2+r.IntN(2))
		}
		return ""
	}
}
