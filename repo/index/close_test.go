package index

import (
	"strings"
	"testing"
)

// TestStringsOutliveClose: every string the Index hands out (summaries,
// providers and their versions, names, groups, Essential names, decoded
// packages) stays readable after Close, which unmaps the cache files; a
// string that aliased the mapping would crash the test.
func TestStringsOutliveClose(t *testing.T) {
	dir := t.TempDir()
	in := writeInput(t, dir, "o", "Package: a\nVersion: 1.0\nArchitecture: amd64\nEssential: yes\nProvides: v (= 2)\nDescription: the a package\n\n"+
		"Package: b\nVersion: 2:3-4\nArchitecture: all\nDescription: the b package\n")
	x, _ := mustLoad(t, dir+"/cache", []Input{in})
	var got []string
	keep := func(ss ...string) { got = append(got, ss...) }
	for _, s := range x.Lookup("a") {
		keep(s.Name, s.Version, s.Architecture, s.Description)
	}
	for _, p := range x.ProvidersOf("v") {
		keep(p.Name, p.Version, p.Summary.Version, p.Description)
	}
	for n := range x.Names() {
		keep(n)
	}
	for n, group := range x.ByName() {
		keep(n)
		for _, s := range group {
			keep(s.Name, s.Version, s.Description)
		}
	}
	for s := range x.Summaries() {
		keep(s.Name, s.Architecture)
	}
	for _, g := range x.Distinct("b") {
		keep(g[0].Version)
	}
	keep(x.EssentialNames()...)
	for _, p := range x.Packages("b") {
		keep(p.Name, p.Version.Upstream, p.Architecture)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	want := "a 1.0 amd64 the a package a 2 1.0 the a package a b a a 1.0 the a package b b 2:3-4 the b package a amd64 b all 2:3-4 a b 3 all"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("after Close:\n got %q\nwant %q", s, want)
	}
}
