package resolver

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/repo/index"
)

// BenchmarkSolveRepoIndex solves the anchor requests (with Recommends)
// against the real index cache of repo/index, as `grey install` does: the
// cache is built once outside the timer; "cold-ms" is the first solve of
// the request on a freshly loaded index (every candidate decoded on
// first use), ns/op the solves after it (decoded packages memoised).
func BenchmarkSolveRepoIndex(b *testing.B) {
	dir := b.TempDir()
	in := []index.Input{{
		Origin: "bookworm",
		Path:   filepath.Join(testfixture.Bookworm(b), "debian/dists/bookworm/main/binary-amd64/Packages.xz"),
		SHA256: "9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5",
	}}
	ctx := context.Background()
	if _, err := index.Build(ctx, dir, in); err != nil {
		b.Fatal(err)
	}
	for _, fr := range fixtureRequests() {
		req := Request{Install: jobs(b, fr.pkgs...), Recommends: true, Architecture: "amd64"}
		b.Run(fr.name, func(b *testing.B) {
			x, _, err := index.Load(ctx, dir, in)
			if err != nil {
				b.Fatal(err)
			}
			defer x.Close()
			t0 := time.Now()
			pl, err := Solve(ctx, x, req)
			if err != nil {
				b.Fatal(err)
			}
			cold := time.Since(t0)
			for b.Loop() {
				if pl, err = Solve(ctx, x, req); err != nil {
					b.Fatal(err)
				}
			}
			if d := float64(len(pl.Final)-fr.aptRec) / float64(fr.aptRec); d > 0.05 || d < -0.05 {
				b.Fatalf("%d packages, apt installs %d", len(pl.Final), fr.aptRec)
			}
			b.ReportMetric(float64(cold)/float64(time.Millisecond), "cold-ms")
		})
	}
}
