package distcheck

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/resolver"
)

// readPackages decodes an index into whole packages (deb.FromStanza).
func readPackages(_ context.Context, r io.Reader, name string) ([]*deb.Package, error) {
	return resolver.ReadPackages(r, name, name)
}

// runCheck checks index both ways, as decoded packages (Check) and as a
// Set read from the text (CheckSet, the command's way), and fails unless
// the two reports agree.
func runCheck(t *testing.T, index string, opts Options) (*Report, map[string]Broken) {
	t.Helper()
	pkgs, err := readPackages(context.Background(), strings.NewReader(index), "test")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Check(context.Background(), pkgs, opts)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSet()
	if err := s.Read(context.Background(), strings.NewReader(index), "test"); err != nil {
		t.Fatal(err)
	}
	srep, err := CheckSet(context.Background(), s, opts)
	if err != nil {
		t.Fatal(err)
	}
	if summary(rep) != summary(srep) {
		t.Fatalf("Check and CheckSet disagree:\n%s\n--\n%s", summary(rep), summary(srep))
	}
	got := make(map[string]Broken)
	for _, b := range rep.Broken {
		got[b.Package.Name+"_"+b.Package.Version.String()] = b
	}
	return rep, got
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		index  string
		opts   Options
		broken map[string]string // name_version -> words the reason contains
	}{
		{
			name:   "missing dependency",
			index:  "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: nothere\n",
			broken: map[string]string{"a_1": "depends on nothere, which no package satisfies (not in the index)"},
		},
		{
			name: "version too new",
			index: "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: b (>= 2)\n\n" +
				"Package: b\nVersion: 1\nArchitecture: amd64\n",
			broken: map[string]string{"a_1": "(available: b 1)"},
		},
		{
			name: "broken chain",
			index: "Package: a\nVersion: 1\nArchitecture: all\nDepends: b\n\n" +
				"Package: b\nVersion: 1\nArchitecture: amd64\nDepends: c (>> 1)\n\n" +
				"Package: c\nVersion: 1\nArchitecture: amd64\n",
			broken: map[string]string{"a_1": "none of its candidates can be installed: b_1_amd64", "b_1": "c (>> 1)"},
		},
		{
			name: "alternative saves it",
			index: "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: gone | b\n\n" +
				"Package: b\nVersion: 1\nArchitecture: amd64\n",
		},
		{
			name: "versioned provides",
			index: "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: v (>= 2)\n\n" +
				"Package: p\nVersion: 1\nArchitecture: amd64\nProvides: v (= 3)\n\n" +
				"Package: b\nVersion: 1\nArchitecture: amd64\nDepends: w (>= 1)\n\n" +
				"Package: q\nVersion: 1\nArchitecture: amd64\nProvides: w\n",
			broken: map[string]string{"b_1": "w (>= 1)"},
		},
		{
			// The greedy search picks x first and then cannot add z; the
			// SAT solver finds y.
			name: "needs backtracking",
			index: "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: x | y, z\n\n" +
				"Package: x\nVersion: 1\nArchitecture: amd64\nConflicts: z\n\n" +
				"Package: y\nVersion: 1\nArchitecture: amd64\n\n" +
				"Package: z\nVersion: 1\nArchitecture: amd64\n",
		},
		{
			name: "conflict between dependencies",
			index: "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: x, z\n\n" +
				"Package: x\nVersion: 1\nArchitecture: amd64\n\n" +
				"Package: z\nVersion: 1\nArchitecture: amd64\nBreaks: x\n",
			broken: map[string]string{"a_1": "a_1_amd64 depends on x; a_1_amd64 depends on z; x_1_amd64 is broken by z_1_amd64"},
		},
		{
			name: "self conflict through own provides",
			index: "Package: mta\nVersion: 1\nArchitecture: amd64\nProvides: mail-transport-agent\nConflicts: mail-transport-agent\n\n" +
				"Package: user\nVersion: 1\nArchitecture: amd64\nDepends: mail-transport-agent\n",
		},
		{
			name: "two versions of one name",
			index: "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: lib (= 1), b\n\n" +
				"Package: b\nVersion: 1\nArchitecture: amd64\nDepends: lib (= 2)\n\n" +
				"Package: lib\nVersion: 1\nArchitecture: amd64\n\n" +
				"Package: lib\nVersion: 2\nArchitecture: amd64\n",
			broken: map[string]string{"a_1": "another version of"},
		},
		{
			name: "essential set counts",
			index: "Package: base\nVersion: 1\nArchitecture: amd64\nEssential: yes\n\n" +
				"Package: a\nVersion: 1\nArchitecture: amd64\nConflicts: base\n",
			broken: map[string]string{"a_1": "conflict"},
		},
		{
			name: "essential ignored",
			index: "Package: base\nVersion: 1\nArchitecture: amd64\nEssential: yes\n\n" +
				"Package: a\nVersion: 1\nArchitecture: amd64\nConflicts: base\n",
			opts: Options{IgnoreEssential: true},
		},
		{
			name: "multi-arch",
			index: "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: tool, py:any, plain:any, foreign-only\n\n" +
				"Package: tool\nVersion: 1\nArchitecture: i386\nMulti-Arch: foreign\n\n" +
				"Package: py\nVersion: 1\nArchitecture: i386\nMulti-Arch: allowed\n\n" +
				"Package: plain\nVersion: 1\nArchitecture: amd64\n\n" +
				"Package: foreign-only\nVersion: 1\nArchitecture: amd64\n\n" +
				"Package: b\nVersion: 1\nArchitecture: amd64\nDepends: plain32\n\n" +
				"Package: plain32\nVersion: 1\nArchitecture: i386\n\n" +
				"Package: c\nVersion: 1\nArchitecture: armhf\nDepends: nothing\n",
			opts:   Options{ForeignArchs: []string{"i386"}},
			broken: map[string]string{"a_1": "plain:any", "b_1": "plain32"},
		},
		{
			name: "arch restriction",
			index: "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: gone [i386], b [amd64]\n\n" +
				"Package: b\nVersion: 1\nArchitecture: amd64\n",
		},
		{
			name:   "arch restriction applies",
			index:  "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: gone [amd64 arm64]\n",
			broken: map[string]string{"a_1": "depends on gone [amd64 arm64], which no package satisfies"},
		},
		{
			name:  "negated arch restriction left out",
			index: "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: gone [!amd64]\n",
		},
		{
			name:   "negated arch restriction applies",
			index:  "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: gone [!i386]\n",
			broken: map[string]string{"a_1": "gone [!i386]"},
		},
		{
			name:  "arch restriction wildcards left out",
			index: "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: gone [hurd-any], gone2 [any-i386], gone3 [!linux-any], gone4 [foo-any]\n",
		},
		{
			name:   "arch restriction wildcard applies",
			index:  "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: gone [linux-any]\n\nPackage: b\nVersion: 1\nArchitecture: amd64\nDepends: gone [!any-i386]\n",
			broken: map[string]string{"a_1": "gone [linux-any]", "b_1": "gone [!any-i386]"},
		},
		{
			name: "alternative left out by its restriction",
			index: "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: b [i386] | gone\n\n" +
				"Package: b\nVersion: 1\nArchitecture: amd64\n",
			broken: map[string]string{"a_1": "depends on b [i386] | gone, which no package satisfies"},
		},
		{
			name: "conflict restricted to another architecture",
			index: "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: b\nConflicts: b [i386]\n\n" +
				"Package: b\nVersion: 1\nArchitecture: amd64\n",
		},
		{
			name: "conflict restricted to the package's architecture",
			index: "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: b\nBreaks: b [amd64]\n\n" +
				"Package: b\nVersion: 1\nArchitecture: amd64\n",
			broken: map[string]string{"a_1": "breaks b_1_amd64"},
		},
		{
			name:   "architecture all reads the native architecture",
			index:  "Package: a\nVersion: 1\nArchitecture: all\nDepends: gone [amd64]\n\nPackage: c\nVersion: 1\nArchitecture: all\nDepends: gone [arm64]\n",
			opts:   Options{Architecture: "arm64"},
			broken: map[string]string{"c_1": "gone [arm64]"},
		},
		{
			name:   "foreign package reads its own architecture",
			index:  "Package: a\nVersion: 1\nArchitecture: i386\nDepends: gone [amd64]\n\nPackage: c\nVersion: 1\nArchitecture: i386\nDepends: gone [i386]\n",
			opts:   Options{ForeignArchs: []string{"i386"}},
			broken: map[string]string{"c_1": "gone [i386]"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, got := runCheck(t, tc.index, tc.opts)
			for id, words := range tc.broken {
				b, ok := got[id]
				if !ok {
					t.Errorf("%s not reported broken", id)
					continue
				}
				all := strings.Join(b.Explanation, " | ")
				if !strings.Contains(all, words) || b.Reason != b.Explanation[0] {
					t.Errorf("%s: explanation %q lacks %q", id, all, words)
				}
			}
			for id := range got {
				if _, ok := tc.broken[id]; !ok {
					t.Errorf("%s reported broken: %v", id, got[id].Explanation)
				}
			}
			if tc.name == "needs backtracking" && rep.SAT == 0 {
				t.Error("the greedy search alone decided a case built to need the SAT solver")
			}
			if rep.Greedy+rep.SAT != rep.Checked {
				t.Errorf("counts: greedy %d + sat %d != checked %d", rep.Greedy, rep.SAT, rep.Checked)
			}
		})
	}
}

// TestMinimalReason checks that a conflict deep in the closure is explained
// by exactly the rules behind it, and nothing irrelevant.
func TestMinimalReason(t *testing.T) {
	_, got := runCheck(t, "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: b, c, f\n\n"+
		"Package: b\nVersion: 1\nArchitecture: amd64\nDepends: d | d2\n\n"+
		"Package: c\nVersion: 1\nArchitecture: amd64\nDepends: e\n\n"+
		"Package: d\nVersion: 1\nArchitecture: amd64\nConflicts: e\n\n"+
		"Package: d2\nVersion: 1\nArchitecture: amd64\nBreaks: e (<< 2)\n\n"+
		"Package: e\nVersion: 1\nArchitecture: amd64\n\n"+
		"Package: f\nVersion: 1\nArchitecture: amd64\nDepends: g\n\n"+
		"Package: g\nVersion: 1\nArchitecture: all\n", Options{})
	b, ok := got["a_1"]
	if !ok || len(got) != 1 {
		t.Fatalf("broken: %v", got)
	}
	want := []string{
		"a_1_amd64 depends on b",
		"a_1_amd64 depends on c",
		"b_1_amd64 depends on d | d2",
		"c_1_amd64 depends on e",
		"d_1_amd64 conflicts with e_1_amd64",
		"d2_1_amd64 breaks e_1_amd64",
	}
	if strings.Join(b.Explanation[1:], "\n") != strings.Join(want, "\n") {
		t.Fatalf("explanation:\n%s\nwant:\n%s", strings.Join(b.Explanation[1:], "\n"), strings.Join(want, "\n"))
	}
}

func TestCheckForeignArchNotChecked(t *testing.T) {
	rep, _ := runCheck(t, "Package: c\nVersion: 1\nArchitecture: armhf\nDepends: nothing\n", Options{})
	if rep.Checked != 0 || len(rep.Broken) != 0 {
		t.Fatalf("a package of another architecture was checked: %+v", rep)
	}
}

// summary prints a report's counts and every broken package with its
// explanation.
func summary(r *Report) string {
	var b strings.Builder
	for _, x := range r.Broken {
		fmt.Fprintf(&b, "%s: %s\n", x.Package, strings.Join(x.Explanation, " / "))
	}
	fmt.Fprintf(&b, "checked %d, greedy %d, SAT %d", r.Checked, r.Greedy, r.SAT)
	return b.String()
}

func TestCheckCancelled(t *testing.T) {
	pkgs, err := readPackages(context.Background(), strings.NewReader("Package: a\nVersion: 1\nArchitecture: amd64\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Check(ctx, pkgs, Options{}); err == nil {
		t.Fatal("a cancelled check ran")
	}
}

// TestSetReadError: a stanza deb.FromStanza refuses is refused, the
// error naming the file and the field (a bad Source or Recommends too,
// which a check does not read).
func TestSetReadError(t *testing.T) {
	for _, c := range []struct{ stanza, field string }{
		{"Package: a\nVersion: 1\n", "Architecture"},
		{"Package: a\nVersion: 1\nArchitecture: amd64\nSource: b (1\n", "Source"},
		{"Package: a\nVersion: 1\nArchitecture: amd64\nRecommends: b (>>\n", "Recommends"},
		{"Package: a\nVersion: 1\nArchitecture: amd64\nInstalled-Size: -3\n", "Installed-Size"},
	} {
		err := NewSet().Read(context.Background(), strings.NewReader(c.stanza), "idx")
		if err == nil || !strings.Contains(err.Error(), "idx") || !strings.Contains(err.Error(), "field "+c.field) {
			t.Errorf("%q: error does not name the file and field %s: %v", c.stanza, c.field, err)
		}
	}
}

// TestSetChecked: a checked set takes no more packages.
func TestSetChecked(t *testing.T) {
	s := NewSet()
	if err := s.Read(context.Background(), strings.NewReader("Package: a\nVersion: 1\nArchitecture: amd64\n"), "x"); err != nil {
		t.Fatal(err)
	}
	rep, err := CheckSet(context.Background(), s, Options{})
	if err != nil || rep.Checked != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
	if err := s.Add(&deb.Package{Name: "b", Architecture: "amd64"}); err == nil {
		t.Error("Add after the check succeeded")
	}
	if err := s.Read(context.Background(), strings.NewReader("Package: b\nVersion: 1\nArchitecture: amd64\n"), "x"); err == nil {
		t.Error("Read after the check succeeded")
	}
}
