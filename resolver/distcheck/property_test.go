package distcheck

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/resolver/check"
	"github.com/greypm/grey/resolver/internal/randrel"
)

// randomIndex writes a small random Packages index: names p0..p4 in one or
// two versions, some i386, virtual names v0 and v1, alternatives, versioned
// relations and Provides, Conflicts and Breaks, Multi-Arch, Essential.
func randomIndex(r *rand.Rand) string {
	names := []string{"p0", "p1", "p2", "p3", "p4"}
	target := func() string {
		if r.IntN(4) == 0 {
			return fmt.Sprintf("v%d", r.IntN(2))
		}
		return names[r.IntN(len(names))]
	}
	constraint := randrel.Constraint(r)
	var b strings.Builder
	for _, n := range names {
		for v := 1; v <= 1+r.IntN(2); v++ {
			fmt.Fprintf(&b, "Package: %s\nVersion: %d\n", n, v)
			arch := "amd64"
			if r.IntN(6) == 0 {
				arch = "i386"
			} else if r.IntN(6) == 0 {
				arch = "all"
			}
			fmt.Fprintf(&b, "Architecture: %s\n", arch)
			if ma := r.IntN(5); ma == 1 {
				b.WriteString("Multi-Arch: foreign\n")
			} else if ma == 2 && arch != "all" {
				b.WriteString("Multi-Arch: same\n")
			}
			if r.IntN(12) == 0 {
				b.WriteString("Essential: yes\n")
			}
			randrel.Write(&b, r, target, constraint, randrel.Odds{Conflicts: 3, Breaks: 4})
			b.WriteString("\n")
		}
	}
	return b.String()
}

// bruteInstallable decides with the independent checker over every subset:
// p is installable when some consistent subset holds it and the Essential
// packages (one version of each Essential name, as distcheck reads dose).
func bruteInstallable(pkgs []*deb.Package, p int, essential bool) bool {
	n := len(pkgs)
	for mask := 0; mask < 1<<n; mask++ {
		if mask&(1<<p) == 0 {
			continue
		}
		var set []*deb.Package
		has := map[string]bool{}
		for i := 0; i < n; i++ {
			if mask&(1<<i) != 0 {
				set = append(set, pkgs[i])
				if pkgs[i].Architecture != "i386" {
					has[pkgs[i].Name] = true
				}
			}
		}
		if essential {
			ok := true
			for _, q := range pkgs {
				if q.Essential && q.Architecture != "i386" && !has[q.Name] {
					ok = false
				}
			}
			if !ok {
				continue
			}
		}
		if check.Check(check.Case{Universe: pkgs, Request: check.Request{Architecture: "amd64"}, Final: set}) == nil {
			return true
		}
	}
	return false
}

// TestPropertyAgainstChecker compares distcheck's verdicts with brute
// force over the independent checker on random small indexes.
func TestPropertyAgainstChecker(t *testing.T) {
	runs := 300
	if testing.Short() || raceEnabled {
		runs = 60
	}
	for seed := 0; seed < runs; seed++ {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		index := randomIndex(r)
		pkgs, err := readPackages(context.Background(), strings.NewReader(index), "random")
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, index)
		}
		if len(pkgs) > 12 {
			continue
		}
		for _, ignore := range []bool{false, true} {
			rep, err := Check(context.Background(), pkgs, Options{ForeignArchs: []string{"i386"}, IgnoreEssential: ignore})
			if err != nil {
				t.Fatal(err)
			}
			broken := map[*deb.Package]bool{}
			for _, b := range rep.Broken {
				broken[b.Package] = true
			}
			for i, p := range pkgs {
				want := bruteInstallable(pkgs, i, !ignore)
				if want == broken[p] {
					t.Fatalf("seed %d, ignore-essential=%v: %s: distcheck says broken=%v, brute force says installable=%v\n%s",
						seed, ignore, p, broken[p], want, index)
				}
			}
		}
	}
}
