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
