package index

import (
	"context"
	"slices"
	"testing"

	"github.com/greypm/grey/resolver"
)

// Index must satisfy the resolver's optional interface, or a full upgrade
// silently skips the missing Essential packages.
var _ resolver.EssentialIndex = (*Index)(nil)

func TestEssentialText(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       bool
	}{
		{"yes", "Package: a\nEssential: yes\nVersion: 1\n", true},
		{"last field", "Package: a\nEssential: yes\n", true},
		{"case", "Package: a\nessential: YES\n", true},
		{"no", "Package: a\nEssential: no\n", false},
		{"absent", "Package: a\nVersion: 1\n", false},
		{"other field", "Package: a\nEssentialish: yes\n", false},
		{"in a value", "Package: a\nDescription: x\n Essential: yes\n", false},
		{"continued", "Package: a\nEssential: yes\n more\n", false},
		{"trailing text", "Package: a\nEssential: yes please\n", false},
		{"empty", "", false},
	} {
		if got := essentialText([]byte(tc.text)); got != tc.want {
			t.Errorf("%s: essentialText(%q) = %v, want %v", tc.name, tc.text, got, tc.want)
		}
	}
}

// TestEssentialNamesSample checks order (inputs, then file order), that a
// name counts once however many of its versions are Essential, and that a
// name is listed when any version is.
func TestEssentialNamesSample(t *testing.T) {
	dir := t.TempDir()
	in1 := writeInput(t, dir, "one", `Package: dpkg
Version: 1.21
Architecture: amd64
Essential: yes

Package: hello
Version: 1
Architecture: amd64

Package: base-files
Version: 12
Architecture: amd64
essential: Yes

Package: dpkg
Version: 1.22
Architecture: amd64
Essential: yes
`)
	in2 := writeInput(t, dir, "two", `Package: hello
Version: 2
Architecture: amd64
Essential: no

Package: bash
Version: 5.2
Architecture: amd64
Essential: yes

Package: base-files
Version: 13
Architecture: amd64
Essential: yes
`)
	x, _ := mustLoad(t, t.TempDir(), []Input{in1, in2})
	want := []string{"dpkg", "base-files", "bash"}
	got := x.EssentialNames()
	if !slices.Equal(got, want) {
		t.Fatalf("EssentialNames = %q, want %q", got, want)
	}
	if again := x.EssentialNames(); &again[0] != &got[0] {
		t.Error("EssentialNames is not memoized")
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	// The names are copies: still readable after Close.
	if !slices.Equal(got, want) {
		t.Fatalf("after Close: %q", got)
	}
}

// TestEssentialNamesFixture compares the scan with the Essential flag of
// every decoded package of the fixture.
func TestEssentialNamesFixture(t *testing.T) {
	x, _ := mustLoad(t, t.TempDir(), fixtureInputs(t, raceEnabled))
	var want []string
	for p := range x.All() {
		if p.Essential && !slices.Contains(want, p.Name) {
			want = append(want, p.Name)
		}
	}
	if len(want) == 0 {
		t.Fatal("the fixture has no Essential package")
	}
	if got := x.EssentialNames(); !slices.Equal(got, want) {
		t.Fatalf("EssentialNames = %q, want %q", got, want)
	}
	if err := x.Err(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkEssentialNames measures the first call on a freshly loaded
// index of the whole fixture (later calls return the memo).
func BenchmarkEssentialNames(b *testing.B) {
	eachFreshIndex(b, func(x *Index) {
		if len(x.EssentialNames()) == 0 {
			b.Fatal("no Essential names")
		}
	})
}

// eachFreshIndex builds the whole fixture's index once, then loads it
// afresh for each iteration of b (nothing memoized from the last) and
// runs f on it.
func eachFreshIndex(b *testing.B, f func(x *Index)) {
	inputs := fixtureInputs(b, false)
	cache := b.TempDir()
	if _, err := Build(context.Background(), cache, inputs); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		x, _, err := Load(context.Background(), cache, inputs)
		if err != nil {
			b.Fatal(err)
		}
		f(x)
		x.Close()
	}
}

// TestRequiredNamesFixture compares the text scan with the decoded
// packages of the fixture, for the fixture's architecture and one it
// lacks (then only Architecture: all packages count).
func TestRequiredNamesFixture(t *testing.T) {
	x, _ := mustLoad(t, t.TempDir(), fixtureInputs(t, raceEnabled))
	for _, arch := range []string{"amd64", "s390x"} {
		want := map[string]bool{}
		for p := range x.All() {
			if (p.Architecture == arch || p.Architecture == "all") && (p.Essential || p.Priority == "required") {
				want[p.Name] = true
			}
		}
		got, err := x.RequiredNames(context.Background(), arch)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Errorf("%s: not sorted and unique: %q", arch, got)
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d names, want %d", arch, len(got), len(want))
		}
		for _, n := range got {
			if !want[n] {
				t.Errorf("%s: %s is neither Essential nor required", arch, n)
			}
		}
		if arch == "amd64" && len(got) == 0 {
			t.Error("amd64: no names")
		}
		// The race build reads a sample of the fixture without them.
		if arch == "amd64" && !raceEnabled && (!slices.Contains(got, "dpkg") || !slices.Contains(got, "base-files")) {
			t.Errorf("amd64: %q lacks dpkg or base-files", got)
		}
	}
}

func TestRequiredNamesSample(t *testing.T) {
	dir := t.TempDir()
	in := writeInput(t, dir, "one", `Package: dpkg
Version: 1.21
Architecture: amd64
Essential: yes

Package: mawk
Version: 1
Architecture: amd64
Priority: required

Package: tzdata
Version: 1
Architecture: all
Priority: Required

Package: base-files
Version: 12
Architecture: arm64
Essential: yes

Package: hello
Version: 1
Architecture: amd64
Priority: optional
Description: x
 Priority: required
`)
	x, _ := mustLoad(t, t.TempDir(), []Input{in})
	got, err := x.RequiredNames(context.Background(), "amd64")
	if want := []string{"dpkg", "mawk"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("RequiredNames = %q, %v; want %q", got, err, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := x.RequiredNames(ctx, "amd64"); err == nil {
		t.Error("RequiredNames ignores a cancelled context")
	}
}

// BenchmarkRequiredNames measures the scan of the whole fixture, against
// BenchmarkRequiredNamesDecoded, what image and app did before: decode
// every package.
func BenchmarkRequiredNames(b *testing.B) {
	x := loadedFixture(b)
	for b.Loop() {
		if n, err := x.RequiredNames(context.Background(), "amd64"); err != nil || len(n) == 0 {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkRequiredNamesDecoded(b *testing.B) {
	// A fresh index each time: All memoizes what it decodes.
	eachFreshIndex(b, func(x *Index) {
		n := 0
		for p := range x.All() {
			if (p.Architecture == "amd64" || p.Architecture == "all") && (p.Essential || p.Priority == "required") {
				n++
			}
		}
		if n == 0 {
			b.Fatal("none")
		}
	})
}

func loadedFixture(b *testing.B) *Index {
	inputs := fixtureInputs(b, false)
	cache := b.TempDir()
	if _, err := Build(context.Background(), cache, inputs); err != nil {
		b.Fatal(err)
	}
	x, _, err := Load(context.Background(), cache, inputs)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { x.Close() })
	return x
}
