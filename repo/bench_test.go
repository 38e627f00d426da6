package repo

import (
	"context"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// BenchmarkUpdate is `grey update` of the three fixture sources over
// file:// into an empty root: three signature checks, 9.2 MB of indexes
// copied and hashed, the state written.
func BenchmarkUpdate(b *testing.B) {
	dir := testfixture.Bookworm(b)
	srcs := parseSources(b, fixtureLines(dir)...)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		root := b.TempDir()
		b.StartTimer()
		if _, err := Update(context.Background(), srcs, options(root, newMemStore(), testfixture.Clock)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateHit is the same update when nothing changed: the
// signatures are checked again and the stored indexes re-hashed.
func BenchmarkUpdateHit(b *testing.B) {
	dir := testfixture.Bookworm(b)
	srcs := parseSources(b, fixtureLines(dir)...)
	root := b.TempDir()
	store := newMemStore()
	if _, err := Update(context.Background(), srcs, options(root, store, testfixture.Clock)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		results, err := Update(context.Background(), srcs, options(root, store, testfixture.Clock))
		if err != nil || results[0].Status != Hit {
			b.Fatal(err)
		}
	}
}
