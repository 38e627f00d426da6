// Package parallel runs independent steps of a loop on every CPU: the one
// worker pool that reading or encoding thousands of records (a dpkg
// database's adoption) shares.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Each calls f(i) for every i in [0, n), on up to GOMAXPROCS goroutines,
// and returns the error of the lowest i that failed (the one a loop run in
// order would have stopped at), or nil. Every f runs, even after a
// failure: the steps are independent, and f must be safe to run
// concurrently with the others.
func Each(n int, f func(i int) error) error {
	errs := make([]error, n)
	workers := min(runtime.GOMAXPROCS(0), n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				errs[i] = f(i)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
