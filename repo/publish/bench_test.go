package publish

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchInputs writes n fake packages (control text as content, read by
// textControl) with realistic stanza sizes.
func benchInputs(b *testing.B, n int) []string {
	b.Helper()
	dir := b.TempDir()
	desc := strings.Repeat(" a line of a long description, as real packages have.\n", 8)
	var out []string
	for i := 0; i < n; i++ {
		c := ctl(fmt.Sprintf("pkg%05d", i), fmt.Sprintf("1.%d-1", i%7), "amd64",
			"Maintainer: Bench <bench@example.org>\nInstalled-Size: 1234\n",
			fmt.Sprintf("Depends: libc6 (>= 2.34), pkg%05d (= 1.0)\n", (i+1)%n),
			"Section: misc\nPriority: optional\nDescription: benchmark package\n", desc)
		p := filepath.Join(dir, fmt.Sprintf("%05d.deb", i))
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			b.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// BenchmarkPublish publishes n packages into a fresh directory: hashing,
// indexes (plain, gzip, xz), by-hash, Release and both signatures.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{100, 2000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			opts := baseOptions(b, benchInputs(b, n)...)
			opts.ReadControl = textControl
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out := b.TempDir()
				if _, err := Publish(context.Background(), Dir{Root: out}, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRepublishUnchanged republishes the same 2000 packages: the pool
// is checked by hash and nothing new is written but indexes and Release.
func BenchmarkRepublishUnchanged(b *testing.B) {
	opts := baseOptions(b, benchInputs(b, 2000)...)
	opts.ReadControl = textControl
	out := b.TempDir()
	if _, err := Publish(context.Background(), Dir{Root: out}, opts); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Publish(context.Background(), Dir{Root: out}, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishBuiltDebs publishes 300 real (tiny) .deb files built by
// deb/archive, read back with the default control reader.
func BenchmarkPublishBuiltDebs(b *testing.B) {
	in := b.TempDir()
	var debs []string
	for i := 0; i < 300; i++ {
		debs = append(debs, buildDeb(b, in, debSpec{name: fmt.Sprintf("pkg%03d", i), version: "1.0-1", arch: "amd64", content: fmt.Sprint(i)}))
	}
	opts := baseOptions(b, debs...)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Publish(context.Background(), Dir{Root: b.TempDir()}, opts); err != nil {
			b.Fatal(err)
		}
	}
}
