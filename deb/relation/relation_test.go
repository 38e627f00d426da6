package relation

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/internal/testfixture"
)

func TestParseCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{"libc6 (>= 2.34)", "libc6 (>= 2.34)"},
		{"libc6(>=2.34)", "libc6 (>= 2.34)"},
		{"a | b | c", "a | b | c"},
		{"a|b,c", "a | b, c"},
		{"foo:any", "foo:any"},
		{"foo:native (<< 1:2.0-1)", "foo:native (<< 1:2.0-1)"},
		{"foo:amd64", "foo:amd64"},
		{"foo [amd64 !i386]", "foo [amd64 !i386]"},
		{"foo [ amd64  i386 ]", "foo [amd64 i386]"},
		{"foo <!nocheck>", "foo <!nocheck>"},
		{"foo <!nocheck> <stage1 cross>", "foo <!nocheck> <stage1 cross>"},
		{"foo (>= 1.0) [linux-any] <!nodoc>", "foo (>= 1.0) [linux-any] <!nodoc>"},
		{"foo (< 1.0)", "foo (<= 1.0)"},
		{"foo (> 1.0)", "foo (>= 1.0)"},
		{"foo (= 0:1.0)", "foo (= 1.0)"},
		{"  a ,\n b (>> 2)\n | c ", "a, b (>> 2) | c"},
		{"", ""},
		{"   ", ""},
		{"python3-pkg-resources, python3:any (>= 3.9~)", "python3-pkg-resources, python3:any (>= 3.9~)"},
	}
	for _, tt := range tests {
		d, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := d.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseStructure(t *testing.T) {
	d, err := Parse("a:any (>= 1:2.3-4) [amd64 !i386] <!nocheck cross> <stage1> | b")
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 1 || len(d[0]) != 2 {
		t.Fatalf("shape = %v", d)
	}
	p := d[0][0]
	if p.Name != "a" || p.ArchQual != "any" || p.Op != GE || p.Version.String() != "1:2.3-4" {
		t.Errorf("possibility = %+v", p)
	}
	if len(p.Archs) != 2 || p.Archs[0] != (ArchSpec{false, "amd64"}) || p.Archs[1] != (ArchSpec{true, "i386"}) {
		t.Errorf("archs = %+v", p.Archs)
	}
	if len(p.Profiles) != 2 || len(p.Profiles[0]) != 2 || !p.Profiles[0][0].Not || p.Profiles[1][0].Name != "stage1" {
		t.Errorf("profiles = %+v", p.Profiles)
	}
	if d[0][1].Name != "b" || d[0][1].Op != NoOp {
		t.Errorf("second alternative = %+v", d[0][1])
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"a,", ",a", "a,,b", "a |", "| a", "a (>= )", "a (>= 1.0", "a (~ 1.0)", "a (>=< 1.0)",
		"a (>= 1.0 2)", "a [amd64", "a []", "a <>", "a <!nocheck", "a:", "-a", "a b", "a (>= a1)", "a (1.0)",
	} {
		_, err := Parse(in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want *SyntaxError", in, err)
		}
	}
}

func TestSatisfies(t *testing.T) {
	tests := []struct {
		rel, ver string
		want     bool
	}{
		{"a (>= 2.34)", "2.36-9", true},
		{"a (>= 2.34)", "2.31-13", false},
		{"a (<< 2.0)", "2.0~rc1", true},
		{"a (= 1.0-1)", "1.0-1", true},
		{"a (= 1.0-1)", "1.0-1+b1", false},
		{"a (>> 1.0)", "1.0", false},
		{"a (<= 1.0)", "1.0", true},
		{"a", "0.1", true},
	}
	for _, tt := range tests {
		r, err := ParseRelation(tt.rel)
		if err != nil {
			t.Fatal(err)
		}
		v, err := version.Parse(tt.ver)
		if err != nil {
			t.Fatal(err)
		}
		if got := r[0].Satisfies(v); got != tt.want {
			t.Errorf("%s satisfied by %s = %v, want %v", tt.rel, tt.ver, got, tt.want)
		}
	}
}

var relationFields = []string{"Depends", "Pre-Depends", "Recommends", "Suggests", "Enhances",
	"Conflicts", "Breaks", "Provides", "Replaces"}

// TestFullFixtureFields parses every relationship field of all 66,506
// stanzas of the fixture, and checks that printing is a fixed point of
// parsing.
func TestFullFixtureFields(t *testing.T) {
	testfixture.WholeIndex(t)
	checkFixtureFields(t, testfixture.Indexes, 66506)
}

// TestFixtureFieldsSmall does the same on the two small indexes, so the race
// detector sees real data too.
func TestFixtureFieldsSmall(t *testing.T) {
	checkFixtureFields(t, testfixture.Indexes[1:], 38+3028)
}

func checkFixtureFields(t *testing.T, indexes []string, wantStanzas int) {
	root := testfixture.Bookworm(t)
	stanzas, fields := 0, 0
	for _, rel := range indexes {
		path := filepath.Join(root, rel)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r, _, err := compress.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for line := 1; sc.Scan(); line++ {
			text := sc.Text()
			if strings.HasPrefix(text, "Package: ") {
				stanzas++
			}
			name, value, ok := strings.Cut(text, ": ")
			if !ok || !isRelationField(name) {
				continue
			}
			fields++
			d, err := Parse(value)
			if verr := Validate(value); (verr == nil) != (err == nil) {
				t.Errorf("%s:%d: %s: Validate %v, Parse %v", rel, line, name, verr, err)
			}
			if err != nil {
				t.Errorf("%s:%d: %s: %v", rel, line, name, err)
				continue
			}
			again, err := Parse(d.String())
			if err != nil || again.String() != d.String() {
				t.Errorf("%s:%d: %s: canonical form %q does not reparse to itself", rel, line, name, d.String())
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if stanzas != wantStanzas {
		t.Errorf("read %d stanzas, want %d", stanzas, wantStanzas)
	}
	t.Logf("%d relationship fields in %d stanzas parse", fields, stanzas)
}

func isRelationField(name string) bool {
	for _, f := range relationFields {
		if name == f {
			return true
		}
	}
	return false
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"libc6 (>= 2.34)", "a | b, c", "foo:any [amd64 !i386] <!nocheck> <stage1 cross>",
		"default-mta | mail-transport-agent", "perl:any, python3 (<< 3.12), python3 (>= 3.11~)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		out := d.String()
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", out, s, err)
		}
		if again.String() != out {
			t.Fatalf("canonical form not stable: %q -> %q", out, again.String())
		}
	})
}

func BenchmarkParse(b *testing.B) {
	const s = "libc6 (>= 2.34), libgcc-s1 (>= 3.0), libstdc++6 (>= 12), default-mta | mail-transport-agent, python3:any (>= 3.9~)"
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMatchingRules: the architecture restriction list and versioned
// Provides, the rules the resolver and distcheck both call.
func TestMatchingRules(t *testing.T) {
	one := func(s string) *Possibility {
		d, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return &d[0][0]
	}
	for _, c := range []struct {
		pos, arch string
		want      bool
	}{
		{"a", "amd64", true},
		{"a [amd64]", "amd64", true},
		{"a [amd64 arm64]", "i386", false},
		{"a [!i386]", "amd64", true},
		{"a [!i386 !amd64]", "amd64", false},
		{"a [!i386]", "i386", false},
	} {
		if got := one(c.pos).AppliesTo(c.arch); got != c.want {
			t.Errorf("%q.AppliesTo(%s) = %v, want %v", c.pos, c.arch, got, c.want)
		}
	}
	for _, c := range []struct {
		pos, provide string
		want         bool
	}{
		{"a", "a", true},
		{"a", "b", false},
		{"a", "a (= 1)", true},
		{"a (>= 1)", "a", false}, // an unversioned Provides never satisfies a versioned dependency
		{"a (>= 1)", "a (= 1.5)", true},
		{"a (>= 2)", "a (= 1.5)", false},
		{"a (<< 2)", "a (= 1:1)", false},
		{"a (>= 1)", "b (= 1)", false},
	} {
		if got := one(c.pos).ProvidedBy(one(c.provide)); got != c.want {
			t.Errorf("%q.ProvidedBy(%q) = %v, want %v", c.pos, c.provide, got, c.want)
		}
	}
}

// TestForArch: a field reduced for one architecture keeps the
// alternatives its restriction lists allow there and drops a relation
// left with none; a field without restrictions is returned as is.
func TestForArch(t *testing.T) {
	for _, c := range []struct{ in, arch, want string }{
		{"a, b (>= 1)", "amd64", "a, b (>= 1)"},
		{"a [amd64], b", "amd64", "a [amd64], b"},
		{"a [amd64], b", "i386", "b"},
		{"a [!i386], b", "i386", "b"},
		{"a [!i386], b", "arm64", "a [!i386], b"},
		{"a [i386] | c, b", "amd64", "c, b"},
		{"a [i386] | c [!amd64]", "amd64", ""},
		{"a [amd64 arm64] | c", "arm64", "a [amd64 arm64] | c"},
		{"", "amd64", ""},
	} {
		d, err := Parse(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.ForArch(c.arch).String(); got != c.want {
			t.Errorf("%q.ForArch(%s) = %q, want %q", c.in, c.arch, got, c.want)
		}
	}
	d, _ := Parse("a, b [amd64]")
	if got := d.ForArch("amd64"); &got[0] != &d[0] {
		t.Error("a field with nothing to drop was copied")
	}
}
