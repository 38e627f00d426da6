package edsp

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/resolver/check"
	"github.com/greypm/grey/resolver/edsp/edsptest"
)

// TestBigRealDumps has apt dump whole-universe scenarios (30 MB each, in a
// temporary directory, never committed) for large requests, answers each
// with grey through EDSP and with apt's own solver, and checks grey's
// answer with the independent checker and its size against apt's (within
// 5%). The dumps are too big for testdata/resolver, so they are made here.
func TestFullBigRealDumps(t *testing.T) {
	// Slow under the race detector: make test runs it in the non-race pass;
	// the reduced dumps in testdata/resolver/real run under -race.
	testfixture.WholeIndex(t)
	a := edsptest.New(t, edsptest.Options{})
	for _, c := range []struct {
		pkg        string
		recommends bool
	}{
		{"build-essential", false},
		{"nginx", true},
		{"python3-pandas", false},
		{"postgresql", true},
	} {
		t.Run(fmt.Sprintf("%s-recommends=%v", c.pkg, c.recommends), func(t *testing.T) {
			path := a.Dump(t, "install", c.pkg)
			defer os.Remove(path)
			sc := readScenario(t, path)
			aptAns, err := ReadAnswer(bytes.NewReader(a.Solve(t, path, "-o", fmt.Sprintf("APT::Install-Recommends=%v", c.recommends))), sc)
			if err != nil || aptAns.Error != nil {
				t.Fatalf("apt: %v %+v", err, aptAns)
			}
			ans, _, err := sc.Solve(context.Background(), Options{Recommends: c.recommends})
			if err != nil {
				t.Fatal(err)
			}
			if ans.Error != nil {
				t.Fatalf("grey: %s", ans.Error.Message)
			}
			var universe, final []*deb.Package
			for _, p := range sc.Packages {
				universe = append(universe, p.Package)
			}
			for _, p := range sc.Final(ans) {
				final = append(final, p.Package)
			}
			if err := check.Check(check.Case{Universe: universe, Request: sc.CheckRequest(), Final: final}); err != nil {
				t.Errorf("the checker rejects grey's answer: %v", err)
			}
			got, want := len(final), len(sc.Final(aptAns))
			t.Logf("grey installs %d packages, apt %d", got, want)
			if math.Abs(float64(got-want)) > math.Ceil(float64(want)*0.05) {
				t.Errorf("grey installs %d packages, apt %d: more than 5%% apart", got, want)
			}
		})
	}
}
