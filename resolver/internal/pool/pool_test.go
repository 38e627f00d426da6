package pool

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/relation"
)

const index = `Package: a
Version: 1:2.0-1
Architecture: amd64
Multi-Arch: same
Pre-Depends: p (>= 1)
Depends: c (>= 1) [amd64 arm64], d:any | e (<< 3) [!i386]
Recommends: r <!nocheck>
Conflicts: x
Breaks: y (<< 2)
Provides: v (= 1.5), w

Package: b
Version: 1
Architecture: all
Essential: yes
Depends: d:any | e (<< 3) [!i386], c (>= 1) [amd64 arm64]
Conflicts: c (>= 1) [amd64 arm64]
Provides: v

Package: a
Version: 3
Architecture: i386
Multi-Arch: same
`

func decode(t *testing.T, text string) []*deb.Package {
	t.Helper()
	r := control.NewReader(strings.NewReader(text))
	defer r.Close()
	var out []*deb.Package
	for {
		st, err := r.Next()
		if err != nil {
			return out
		}
		p, err := deb.FromStanza(st)
		if err != nil {
			t.Fatal(err)
		}
		p.Origin = "o" + p.Name
		out = append(out, p)
	}
}

// TestPackageRoundTrip: what the pool keeps of a package reads back as
// deb/relation wrote it (build-profile lists dropped), with its name,
// version, architecture, Multi-Arch, Essential and Origin.
func TestPackageRoundTrip(t *testing.T) {
	pkgs := decode(t, index)
	p := New()
	for i, q := range pkgs {
		if got := p.Add(q); got != int32(i) {
			t.Fatalf("Add numbered package %d as %d", i, got)
		}
	}
	p.Freeze()
	if !p.Frozen() || p.Len() != len(pkgs) {
		t.Fatalf("frozen %v, %d packages", p.Frozen(), p.Len())
	}
	for i, q := range pkgs {
		got := p.Package(int32(i))
		want := &deb.Package{Name: q.Name, Version: q.Version, Architecture: q.Architecture,
			MultiArch: q.MultiArch, Essential: q.Essential, Origin: q.Origin,
			PreDepends: q.PreDepends, Depends: q.Depends, Recommends: q.Recommends,
			Conflicts: q.Conflicts, Breaks: q.Breaks, Provides: q.Provides}
		for _, d := range []relation.Dependency{want.PreDepends, want.Depends, want.Recommends, want.Conflicts, want.Breaks, want.Provides} {
			for _, rel := range d {
				for k := range rel {
					rel[k].Profiles = nil
				}
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("package %d:\n got %+v\nwant %+v", i, got, want)
		}
		if p.String(int32(i)) != q.String() {
			t.Errorf("String = %q, want %q", p.String(int32(i)), q.String())
		}
	}
}

// TestShared: names are numbered once, equal relations of different
// packages are one number, different ones are not, and each name lists
// its packages and providers in the order they were added.
func TestShared(t *testing.T) {
	p := New()
	for _, q := range decode(t, index) {
		p.Add(q)
	}
	p.Freeze()
	a, b := int32(0), int32(1)
	da, db := p.Field(a, Depends), p.Field(b, Depends)
	if da[0] != db[1] || da[1] != db[0] {
		t.Errorf("equal relations numbered apart: %v %v", da, db)
	}
	if c := p.Field(b, Conflicts)[0]; c != da[0] {
		t.Errorf("Conflicts %q and Depends %q are the same relation and numbered apart", p.Relation(c), p.Relation(da[0]))
	}
	if p.Field(a, Breaks)[0] == p.Field(a, Conflicts)[0] {
		t.Error("different relations share a number")
	}
	id, ok := p.Lookup("a")
	if !ok || p.Name(id) != "a" {
		t.Fatalf("Lookup(a) = %d, %v", id, ok)
	}
	if got := p.Packages(id); !slices.Equal(got, []int32{0, 2}) {
		t.Errorf("Packages(a) = %v", got)
	}
	v, _ := p.Lookup("v")
	var provs []string
	for _, pr := range p.Providers(v) {
		pv := p.Possibility(p.PossAt(pr.Poss))
		provs = append(provs, p.String(pr.Pkg)+" "+pv.String())
	}
	if want := []string{"a_1:2.0-1_amd64 v (= 1.5)", "b_1_all v"}; !slices.Equal(provs, want) {
		t.Errorf("Providers(v) = %q, want %q", provs, want)
	}
	if _, ok := p.Lookup("r"); !ok {
		t.Error("a name only a Recommends mentions is not numbered")
	}
	if got := p.Packages(v); len(got) != 0 {
		t.Errorf("Packages(v) = %v", got)
	}
}
