package index

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/compress"
)

// BenchmarkLoad maps the whole fixture index (66,506 packages, three
// sources) from a warm cache and closes it. Target: under 60 ms; libsolv
// loads its .solv of bookworm main in about 56 ms on the same machine.
func BenchmarkLoad(b *testing.B) {
	benchLoaded(b, func(*Index) {})
}

// BenchmarkLoadShow is what `grey show hello` costs inside the process: load
// the index, find and decode every hello.
func BenchmarkLoadShow(b *testing.B) {
	benchLoaded(b, func(x *Index) {
		if len(x.Packages("hello")) == 0 {
			b.Fatal("no hello")
		}
	})
}

// BenchmarkDecodeAll decodes every package of the fixture from a loaded
// index: the cost distcheck pays on top of Load.
func BenchmarkDecodeAll(b *testing.B) {
	benchLoaded(b, func(x *Index) {
		n := 0
		for range x.All() {
			n++
		}
		if n != x.Len() {
			b.Fatalf("decoded %d of %d", n, x.Len())
		}
	})
}

// BenchmarkBuild parses the three fixture Packages.xz files and writes their
// caches: the cost grey update adds once per changed index.
func BenchmarkBuild(b *testing.B) {
	inputs := fixtureInputs(b, false)
	benchBuild(b, inputs)
}

// BenchmarkBuildSystem is BenchmarkBuild with the host's xz decoding in a
// child process, as grey update runs it: the profile then shows the parse
// side (the child's CPU is not counted).
func BenchmarkBuildSystem(b *testing.B) {
	inputs := fixtureInputs(b, false)
	dec := compress.SystemDecoder()
	if dec.XZCommand == "" {
		b.Skip("no xz on PATH")
	}
	for i := range inputs {
		inputs[i].Decoder = dec
	}
	benchBuild(b, inputs)
}

// BenchmarkBuildPlain builds the cache of bookworm main from its plain
// Packages file: no decompression at all, so ns/op is the parse and write
// side's CPU time alone.
func BenchmarkBuildPlain(b *testing.B) {
	main := fixtureInputs(b, false)[0]
	f, err := os.Open(main.Path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	zr, _, err := compress.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	in := writeInput(b, b.TempDir(), "bookworm", string(text))
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	benchBuild(b, []Input{in})
}

// warmCache builds the fixture's cache once, outside the timer, for the
// benchmarks that read it.
func warmCache(b *testing.B) (string, []Input) {
	inputs := fixtureInputs(b, false)
	cache := b.TempDir()
	if _, err := Build(context.Background(), cache, inputs); err != nil {
		b.Fatal(err)
	}
	return cache, inputs
}

// benchLoaded times loading the warm fixture cache, use(x) and closing
// the index, per loop.
func benchLoaded(b *testing.B, use func(x *Index)) {
	cache, inputs := warmCache(b)
	b.ResetTimer()
	for b.Loop() {
		x, _, err := Load(context.Background(), cache, inputs)
		if err != nil {
			b.Fatal(err)
		}
		use(x)
		x.Close()
	}
}

// benchBuild times Build of inputs into a fresh cache directory per loop.
func benchBuild(b *testing.B, inputs []Input) {
	for b.Loop() {
		cache := b.TempDir()
		if _, err := Build(context.Background(), cache, inputs); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(cache)
	}
}

// BenchmarkCompact is BenchmarkDecodeAll through Compact: every package
// without its stanza, as a consumer that keeps the whole index would hold
// them.
func BenchmarkCompact(b *testing.B) {
	benchLoaded(b, func(x *Index) {
		var all []*deb.Package
		for p := range x.Compact() {
			all = append(all, p)
		}
		if len(all) != x.Len() {
			b.Fatalf("decoded %d of %d", len(all), x.Len())
		}
	})
}
