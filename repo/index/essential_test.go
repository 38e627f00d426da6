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
		if len(x.EssentialNames()) == 0 {
			b.Fatal("no Essential names")
		}
		x.Close()
	}
}
