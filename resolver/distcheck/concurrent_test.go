package distcheck

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/greypm/grey/resolver"
)

// TestConcurrentWithResolver runs resolver.Solve and Check at once in one
// process, both calling the SAT solver many times (an unsatisfiable
// request's explanation, a broken package's minimal core). gophersat's
// solvers share a package-level buffer, so this is a data race unless both
// go through resolver/internal/sat; run it with -race.
func TestConcurrentWithResolver(t *testing.T) {
	// a needs one x and one y, and every x conflicts with every y: the
	// solver must decide and learn to find that out.
	const index = "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: x1 | x2 | x3, y1 | y2 | y3\n\n" +
		"Package: x1\nVersion: 1\nArchitecture: amd64\nConflicts: y1, y2, y3\n\n" +
		"Package: x2\nVersion: 1\nArchitecture: amd64\nConflicts: y1, y2, y3\n\n" +
		"Package: x3\nVersion: 1\nArchitecture: amd64\nConflicts: y1, y2, y3\n\n" +
		"Package: y1\nVersion: 1\nArchitecture: amd64\n\n" +
		"Package: y2\nVersion: 1\nArchitecture: amd64\n\n" +
		"Package: y3\nVersion: 1\nArchitecture: amd64\n"
	ctx := context.Background()
	pkgs, err := readPackages(ctx, strings.NewReader(index), "test")
	if err != nil {
		t.Fatal(err)
	}
	idx := resolver.NewMemIndex(pkgs)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 20 {
				_, err := resolver.Solve(ctx, idx, resolver.Request{Install: []resolver.Job{{Name: "a"}}})
				var un *resolver.Unsatisfiable
				if !errors.As(err, &un) {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 20 {
				rep, err := Check(ctx, pkgs, Options{})
				if err != nil || len(rep.Broken) != 1 || rep.Broken[0].Package.Name != "a" {
					errs <- errors.Join(err, errors.New("want a broken"))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
