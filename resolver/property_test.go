package resolver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/resolver/internal/sat"
)

// randomUniverse writes a small random Packages text: names n0..n4 with
// one or two versions, dependencies with alternatives and version
// constraints, Conflicts and Breaks, and Provides of virtual names v0..v2,
// some versioned.
func randomUniverse(r *rand.Rand, size int) string {
	var b strings.Builder
	relName := func() string {
		if r.IntN(4) == 0 {
			return fmt.Sprintf("v%d", r.IntN(3))
		}
		return fmt.Sprintf("n%d", r.IntN(5))
	}
	constraint := func() string {
		switch r.IntN(5) {
		case 0:
			return fmt.Sprintf(" (>= %d)", 1+r.IntN(2))
		case 1:
			return fmt.Sprintf(" (<< %d)", 2+r.IntN(2))
		case 2:
			return fmt.Sprintf(" (= %d)", 1+r.IntN(2))
		}
		return ""
	}
	seen := map[string]bool{}
	for i := 0; i < size; i++ {
		name := fmt.Sprintf("n%d", r.IntN(5))
		ver := 1 + r.IntN(2)
		key := fmt.Sprintf("%s=%d", name, ver)
		if seen[key] {
			continue
		}
		seen[key] = true
		fmt.Fprintf(&b, "Package: %s\nVersion: %d\nArchitecture: amd64\n", name, ver)
		var deps []string
		for k := r.IntN(3); k > 0; k-- {
			alt := []string{relName() + constraint()}
			if r.IntN(3) == 0 {
				alt = append(alt, relName()+constraint())
			}
			deps = append(deps, strings.Join(alt, " | "))
		}
		if len(deps) > 0 {
			fmt.Fprintf(&b, "Depends: %s\n", strings.Join(deps, ", "))
		}
		if r.IntN(4) == 0 {
			fmt.Fprintf(&b, "Conflicts: %s%s\n", relName(), constraint())
		}
		if r.IntN(5) == 0 {
			fmt.Fprintf(&b, "Breaks: %s%s\n", relName(), constraint())
		}
		if r.IntN(3) == 0 {
			v := fmt.Sprintf("v%d", r.IntN(3))
			if r.IntN(2) == 0 {
				v += fmt.Sprintf(" (= %d)", 1+r.IntN(2))
			}
			fmt.Fprintf(&b, "Provides: %s\n", v)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// bruteForce reports whether some subset of pkgs passes checkPlan for req.
func bruteForce(pkgs []*deb.Package, req Request) bool {
	n := len(pkgs)
	for mask := 0; mask < 1<<n; mask++ {
		var set []*deb.Package
		for i := 0; i < n; i++ {
			if mask&(1<<i) != 0 {
				set = append(set, pkgs[i])
			}
		}
		if checkPlan(pkgs, req, &Plan{Final: set}) == nil {
			return true
		}
	}
	return false
}

// TestPropertyRandomUniverses checks every answer on random small
// universes with the test checker, and each verdict against brute force
// over all subsets: a satisfiable request must be solved, an
// unsatisfiable one must really be unsatisfiable (and be explained).
func TestPropertyRandomUniverses(t *testing.T) {
	runs := 600
	if testing.Short() || raceEnabled {
		runs = 150
	}
	seed := uint64(7)
	if s := os.Getenv("GREY_PROPERTY_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	r := rand.New(rand.NewPCG(seed, 11))
	var sat, unsat, fallbacks int
	for i := 0; i < runs; i++ {
		text := randomUniverse(r, 4+r.IntN(9))
		pkgs := parsePkgs(t, text)
		if len(pkgs) > 12 {
			pkgs = pkgs[:12]
		}
		present := map[string]bool{}
		for _, p := range pkgs {
			present[p.Name] = true
		}
		var install []string
		for n := range present {
			install = append(install, n)
		}
		if len(install) == 0 {
			continue
		}
		sort.Strings(install)
		want := install[r.IntN(len(install)):]
		if len(want) > 2 {
			want = want[:2]
		}
		req := Request{Install: jobs(t, want...), Recommends: r.IntN(2) == 0}
		// Half the cases start from an installed set (a random subset,
		// consistent or not), with a removal or a no-removal upgrade.
		if r.IntN(2) == 0 {
			have := map[string]bool{}
			for _, p := range pkgs {
				if r.IntN(4) == 0 && !have[p.Name] {
					have[p.Name] = true
					req.Installed = append(req.Installed, Installed{Package: p, Auto: r.IntN(2) == 0})
				}
			}
			switch r.IntN(3) {
			case 0:
				req.Remove = jobs(t, install[r.IntN(len(install))])
			case 1:
				req.UpgradeAll = true
			}
			req.Autoremove = r.IntN(2) == 0
		}
		var pl *Plan
		var err error
		if i%10 == 0 {
			// One case in ten also on repo/index's cache, which must
			// give the same answer (building a cache costs fsyncs).
			pl, err = solve(t, pkgs, req)
		} else {
			pl, err = Solve(context.Background(), NewMemIndex(pkgs), req)
		}
		possible := bruteForce(pkgs, req)
		if err == nil && preferredFails(t, pkgs, req) {
			fallbacks++
		}
		switch {
		case err == nil:
			sat++
			again, err2 := Solve(context.Background(), NewMemIndex(pkgs), req)
			if err2 != nil || planText(again) != planText(pl) {
				t.Fatalf("case %d: second solve differs: %v\n%s\n%s", i, err2, planText(pl), planText(again))
			}
			if cerr := checkPlan(pkgs, req, pl); cerr != nil {
				t.Fatalf("case %d: invalid plan %s: %v\nrequest %v\n%s", i, plNames(pl), cerr, want, text)
			}
			if !possible {
				t.Fatalf("case %d: solved but brute force found no valid set\n%s", i, text)
			}
		default:
			unsat++
			var ue *Unsatisfiable
			if !errors.As(err, &ue) {
				t.Fatalf("case %d: error %v is not *Unsatisfiable\nrequest %+v\n%s", i, err, req, text)
			}
			if possible {
				t.Fatalf("case %d: request %v reported unsatisfiable (%v) but a valid set exists\n%s", i, want, err, text)
			}
			if len(ue.Explanation) == 0 {
				t.Fatalf("case %d: empty explanation", i)
			}
		}
	}
	t.Logf("%d satisfiable (%d solved only by the whole closure), %d unsatisfiable", sat, fallbacks, unsat)
	if sat == 0 || unsat == 0 || fallbacks == 0 {
		t.Fatalf("generator produced %d sat (%d through the fallback) and %d unsat cases: all kinds are needed", sat, fallbacks, unsat)
	}
}

// planText prints a plan completely (sets and reasons) for comparisons.
func planText(pl *Plan) string {
	if pl == nil {
		return "<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "install %s\nremove %s\nkeep %s\nfinal %s\n", names(pl.Install), names(pl.Remove), names(pl.Keep), names(pl.Final))
	for _, c := range pl.Upgrade {
		fmt.Fprintf(&b, "upgrade %s %s -> %s\n", c.To.Name, c.From.Version, c.To.Version)
	}
	for _, c := range pl.Downgrade {
		fmt.Fprintf(&b, "downgrade %s %s -> %s\n", c.To.Name, c.From.Version, c.To.Version)
	}
	for _, p := range pl.Final {
		r := pl.Reasons[Key(p)]
		by := ""
		if r.By != nil {
			by = r.By.Name + " " + r.By.Version.String()
		}
		fmt.Fprintf(&b, "%s: req=%v inst=%v auto=%v by=%s %s %s\n", Key(p), r.Requested, r.Installed, r.Auto, by, r.Field, r.Relation)
	}
	return b.String()
}

// preferredFails reports whether the preferred set alone (every other
// candidate assumed false) is unsatisfiable for req, so that Solve had to
// fall back to the whole closure.
func preferredFails(t *testing.T, pkgs []*deb.Package, req Request) bool {
	t.Helper()
	st, err := prepare(NewMemIndex(pkgs), &req)
	if err != nil {
		t.Fatal(err)
	}
	g := newGreedy(st)
	g.run()
	st.enc = encode(st.u, st.req, append([]bool(nil), g.chosen...))
	st.requestRules()
	m, err := sat.Solve(context.Background(), st.problem(), g.cost())
	if err != nil {
		t.Fatal(err)
	}
	return m == nil
}
