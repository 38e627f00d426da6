package edsp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/resolver"
	"github.com/greypm/grey/resolver/check"
	"github.com/greypm/grey/resolver/internal/randrel"
)

// randomScenario writes a small random EDSP scenario without Strict-Pinning
// (every version may be chosen): names p0..p4 in one or two versions, some
// i386, virtual names, alternatives, versioned relations and Provides,
// Conflicts, Breaks, Multi-Arch same, foreign and allowed, Essential,
// ":any" relations, an installed set, and a request installing or removing
// one or two names (an Essential one included).
func randomScenario(r *rand.Rand) string {
	names := []string{"p0", "p1", "p2", "p3", "p4"}
	target := func() string {
		if r.IntN(4) == 0 {
			return fmt.Sprintf("v%d", r.IntN(2))
		}
		n := names[r.IntN(len(names))]
		if r.IntN(5) == 0 {
			// Satisfied only by a Multi-Arch: allowed or foreign
			// package, of any architecture.
			n += ":any"
		}
		return n
	}
	constraint := randrel.Constraint(r)
	var pk strings.Builder
	id := 0
	installed := map[string]bool{}
	essential := map[string]bool{}
	for _, n := range names {
		for v := 1; v <= 1+r.IntN(2); v++ {
			id++
			arch := "amd64"
			if r.IntN(6) == 0 {
				arch = "i386"
			}
			fmt.Fprintf(&pk, "\nPackage: %s\nArchitecture: %s\nVersion: %d\nAPT-ID: %d\nAPT-Pin: 500\nAPT-Candidate: yes\n", n, arch, v, id)
			switch r.IntN(6) {
			case 1:
				pk.WriteString("Multi-Arch: foreign\n")
			case 2:
				pk.WriteString("Multi-Arch: same\n")
			case 3:
				pk.WriteString("Multi-Arch: allowed\n")
			}
			// Essential packages are native, as in Debian (an Essential
			// package of a foreign architecture is out of scope).
			if arch == "amd64" && r.IntN(10) == 0 {
				pk.WriteString("Essential: yes\n")
				essential[n] = true
			}
			randrel.Write(&pk, r, target, constraint, randrel.Odds{Conflicts: 4, Breaks: 5})
			// One installed package per name: two architectures of a name
			// that is not Multi-Arch: same would be a broken state to
			// start from.
			if !installed[n] && r.IntN(5) == 0 {
				installed[n] = true
				pk.WriteString("Installed: yes\n")
				if r.IntN(2) == 0 {
					pk.WriteString("APT-Automatic: yes\n")
				}
			}
		}
	}
	var install, remove []string
	for i := 0; i < 1+r.IntN(2); i++ {
		n := names[r.IntN(len(names))]
		arch := "amd64"
		if r.IntN(5) == 0 {
			arch = "i386"
		}
		// An Essential name is removed only when asked for, and then
		// more often, so that the generator reaches that case.
		if r.IntN(4) == 0 || essential[n] && r.IntN(2) == 0 {
			remove = append(remove, n+":"+arch)
		} else {
			install = append(install, n+":"+arch)
		}
	}
	req := "Request: EDSP 0.5\nArchitecture: amd64\nArchitectures: amd64 i386\nStrict-Pinning: no\n"
	if len(install) > 0 {
		req += "Install: " + strings.Join(install, " ") + "\n"
	}
	if len(remove) > 0 {
		req += "Remove: " + strings.Join(remove, " ") + "\n"
	}
	return req + pk.String()
}

// satisfiable searches every subset of the universe for a final set the
// independent checker accepts, within the resolver's documented semantics
// for an install or remove request (docs/resolver.md, Requests): an
// installed package stays at its version or leaves; only the names the
// request installs may change version. (Upgrading an unrequested installed
// package to make room is what apt would also try; the resolver does not,
// see the known failure breaks-upgrades-installed.) An installed Essential
// package stays, on its architecture, unless req.AllowRemoveEssential: the
// resolver refuses to remove one even on request without it, as apt does
// (the checker alone accepts a removal the request names).
func satisfiable(universe, installed []*deb.Package, req check.Request) bool {
	n := len(universe)
	instVersion := map[string]string{}
	var essential []string
	for _, p := range installed {
		instVersion[p.Name+":"+p.Architecture] = p.Version.String()
		if p.Essential && !req.AllowRemoveEssential {
			essential = append(essential, p.Name+":"+p.Architecture)
		}
	}
	requested := map[string]bool{}
	for _, t := range req.Install {
		requested[t.Name] = true
	}
next:
	for mask := 0; mask < 1<<n; mask++ {
		var set []*deb.Package
		for i := 0; i < n; i++ {
			if mask&(1<<i) != 0 {
				p := universe[i]
				if v, ok := instVersion[p.Name+":"+p.Architecture]; ok && v != p.Version.String() && !requested[p.Name] {
					continue next
				}
				set = append(set, p)
			}
		}
		for _, na := range essential {
			if !slices.ContainsFunc(set, func(p *deb.Package) bool { return p.Name+":"+p.Architecture == na }) {
				continue next
			}
		}
		if check.Check(check.Case{Universe: universe, Installed: installed, Request: req, Final: set}) == nil {
			return true
		}
	}
	return false
}

// TestPropertyRandomScenarios solves random scenarios end to end (EDSP in,
// resolver, EDSP answer) and judges them with the independent checker: a
// solution must pass it, and "no solution" must be confirmed by brute force
// over every subset. A request that removes an installed Essential package
// is solved a second time with AllowRemoveEssential, judged the same way.
func TestPropertyRandomScenarios(t *testing.T) {
	// GREY_PROPERTY_RUNS=N runs more seeds; 3,000 pass.
	runs := 400
	if testing.Short() {
		runs = 80
	}
	if n, err := strconv.Atoi(os.Getenv("GREY_PROPERTY_RUNS")); err == nil && n > 0 {
		runs = n
	}
	solved, unsat, allowed := 0, 0, 0
	for seed := 0; seed < runs; seed++ {
		text := randomScenario(rand.New(rand.NewPCG(uint64(seed), 11)))
		sc, err := Read(strings.NewReader(text))
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, text)
		}
		if len(sc.Packages) > 11 {
			continue
		}
		ans, _, err := sc.Solve(context.Background(), Options{})
		if err != nil {
			t.Fatalf("seed %d: solve: %v\n%s", seed, err, text)
		}
		var universe, installed, final []*deb.Package
		removesEssential := false
		req := sc.CheckRequest()
		for _, p := range sc.Packages {
			universe = append(universe, p.Package)
			if p.Installed {
				installed = append(installed, p.Package)
				removesEssential = removesEssential || p.Essential && slices.ContainsFunc(req.Remove, func(r check.Target) bool {
					return r.Name == p.Name && (r.Arch == "" && p.Architecture == sc.Request.Architecture || r.Arch == p.Architecture)
				})
			}
		}
		if ans.Error != nil {
			unsat++
			if satisfiable(universe, installed, req) {
				t.Errorf("seed %d: the resolver says no solution (%s), but brute force finds one\n%s", seed, ans.Error.Message, text)
			}
		} else {
			solved++
			for _, p := range sc.Final(ans) {
				final = append(final, p.Package)
			}
			if err := check.Check(check.Case{Universe: universe, Installed: installed, Request: req, Final: final}); err != nil {
				t.Errorf("seed %d: the checker rejects the answer: %v\n%s", seed, err, text)
			}
		}
		if !removesEssential {
			continue
		}
		// The same request with AllowRemoveEssential (which EDSP cannot
		// say): the removal must then go through, or brute force must
		// confirm that nothing else can.
		allowed++
		idx, rreq, err := sc.Input(Options{})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		rreq.AllowRemoveEssential = true
		req.AllowRemoveEssential = true
		plan, err := resolver.Solve(context.Background(), idx, rreq)
		var u *resolver.Unsatisfiable
		switch {
		case errors.As(err, &u):
			if satisfiable(universe, installed, req) {
				t.Errorf("seed %d, AllowRemoveEssential: the resolver says no solution (%s), but brute force finds one\n%s", seed, strings.Join(u.Explanation, "; "), text)
			}
		case err != nil:
			t.Fatalf("seed %d, AllowRemoveEssential: %v\n%s", seed, err, text)
		default:
			if err := check.Check(check.Case{Universe: universe, Installed: installed, Request: req, Final: plan.Final}); err != nil {
				t.Errorf("seed %d, AllowRemoveEssential: the checker rejects the answer: %v\n%s", seed, err, text)
			}
		}
	}
	t.Logf("%d solved, %d unsatisfiable (confirmed by brute force), %d also with AllowRemoveEssential", solved, unsat, allowed)
	if solved == 0 || unsat == 0 || allowed == 0 {
		t.Errorf("the generator is lopsided: %d solved, %d unsatisfiable, %d removing an installed Essential package", solved, unsat, allowed)
	}
}
