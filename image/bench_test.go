package image

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkComposeFixture composes the 22 fixture packages (scripts off)
// from a lock into a fresh directory per iteration: the --locked build of
// examples/debian-minimal.yaml with the .debs already in the state
// directory's cache (their SHA256 is still checked). Nothing is deleted
// until the benchmark ends (ext4 without a journal slows down for minutes
// after mass deletes; see ../shared/anchors/install-results.md).
func BenchmarkComposeFixture(b *testing.B) {
	path, clock := fixtureSpec(b, true)
	s, err := ReadSpec(path)
	must(b, err)
	ctx := context.Background()
	state := b.TempDir()
	_, _, err = LockSpec(ctx, s, ResolveOptions{StateDir: state, Now: func() time.Time { return clock }})
	must(b, err)
	outs := b.TempDir()
	opts := BuildOptions{Locked: true, StateDir: state, Now: func() time.Time { return clock }}
	// One warm-up build fills the download cache.
	opts.Output = Output{Kind: Directory, Path: filepath.Join(outs, "warm")}
	_, err = Build(ctx, s, opts)
	must(b, err)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		opts.Output = Output{Kind: Directory, Path: filepath.Join(outs, fmt.Sprint(i))}
		if _, err := Build(ctx, s, opts); err != nil {
			b.Fatal(err)
		}
	}
}
