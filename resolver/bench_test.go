package resolver

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time; on a shared, loaded host
// it is a steadier measure than wall time, so benchmarks report both.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSolve measures the solver alone on the fixture (the index is
// loaded once, outside the timer): closure, encoding, preferred walk, SAT,
// trim and verification, for each anchor request with and without
// Recommends. cpu-ms/op counts every thread of the process (GC included).
func BenchmarkSolve(b *testing.B) {
	pkgs := loadBookworm(b)
	// The resolver never reads Stanza; dropping it leaves a heap like the
	// one a lazily decoding index (repo/index) gives, so the garbage
	// collector's marking does not measure the test's copy of 50 MB of
	// control text.
	for _, p := range pkgs {
		p.Stanza = nil
	}
	idx := NewMemIndex(pkgs)
	runtime.GC()
	for _, fr := range fixtureRequests() {
		for _, rec := range []bool{true, false} {
			label := fr.name + "/norec"
			if rec {
				label = fr.name + "/rec"
			}
			req := Request{Install: jobs(b, fr.pkgs...), Recommends: rec, Architecture: "amd64"}
			apt := fr.aptNo
			if rec {
				apt = fr.aptRec
			}
			b.Run(label, func(b *testing.B) {
				c0 := cpuTime(b)
				n := 0
				var pl *Plan
				for b.Loop() {
					var err error
					if pl, err = Solve(context.Background(), idx, req); err != nil {
						b.Fatal(err)
					}
					n++
				}
				cpu := cpuTime(b) - c0
				// A benchmark of wrong answers is worthless: the last plan
				// is checked and compared with apt's size, as the
				// (non-race) fixture test does.
				if err := checkPlan(pkgs, req, pl); err != nil {
					b.Fatal(err)
				}
				if d := float64(len(pl.Final)-apt) / float64(apt); d > 0.05 || d < -0.05 {
					b.Fatalf("%d packages, apt installs %d", len(pl.Final), apt)
				}
				b.ReportMetric(float64(len(pl.Final)), "pkgs")
				b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(n), "cpu-ms/op")
			})
		}
	}
}
