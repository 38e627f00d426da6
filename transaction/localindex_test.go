package transaction

import (
	"slices"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/resolver"
)

// TestLocalIndexEssentialNames: full-upgrade needs the Essential names of
// the sources and of the local .deb files, each once.
func TestLocalIndexEssentialNames(t *testing.T) {
	pkg := func(name string, essential bool) *deb.Package {
		return &deb.Package{Name: name, Version: version.MustParse("1.0"), Architecture: "amd64", Essential: essential}
	}
	base := resolver.NewMemIndex([]*deb.Package{pkg("dash", true), pkg("hello", false), pkg("sed", true)})
	x := &localIndex{base: base, extra: []*deb.Package{pkg("sed", true), pkg("mytool", true), pkg("other", false)}}
	var _ resolver.EssentialIndex = x
	got := x.EssentialNames()
	slices.Sort(got)
	if want := []string{"dash", "mytool", "sed"}; !slices.Equal(got, want) {
		t.Errorf("EssentialNames = %v, want %v", got, want)
	}
}
