package mirror

import (
	"context"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// BenchmarkFullNoopSync is a sync of the bookworm fixture's three suites
// (file://) when nothing changed upstream: three InRelease files fetched
// and verified, nothing else (target: under 0.2 s).
func BenchmarkFullNoopSync(b *testing.B) {
	testfixture.WholeIndex(b)
	m := newMirror(b, fixtureSources(b, "file://"+testfixture.Bookworm(b)), nil)
	syncOnce(b, m)
	b.ResetTimer()
	for b.Loop() {
		sum, err := Sync(context.Background(), m, SyncOptions{Now: clock, Fetcher: testFetcher()})
		if err != nil || sum.Files != 0 {
			b.Fatalf("%v %+v", err, sum)
		}
	}
}

// BenchmarkFullPartialSync mirrors hello with its dependencies (apt's
// choices) from the full bookworm index of the fixture into an empty
// mirror: the full index is fetched, verified and parsed, the closure
// computed, four .debs fetched, the filtered indexes signed.
func BenchmarkFullPartialSync(b *testing.B) {
	testfixture.WholeIndex(b)
	fx := testfixture.Bookworm(b)
	_, kp := testKey(b, "mirror", b.TempDir())
	for b.Loop() {
		b.StopTimer()
		m := newMirror(b, fixtureSources(b, "file://"+fx)[:1], func(c *Config) {
			c.Packages, c.WithDeps, c.Closure, c.Key = []string{"hello"}, true, Preferred, kp.Secret
		})
		b.StartTimer()
		syncOnce(b, m)
	}
}
