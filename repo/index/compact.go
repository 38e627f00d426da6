package index

import (
	"iter"
	"unsafe"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/deb/version"
)

// Compact yields every package in index order, decoded but without its
// control stanza (Stanza is nil) and with all its strings packed into one
// allocation, and keeps none of them: for a consumer that holds the whole
// index at once, such as distcheck, it needs about half the memory of All
// (a decoded package otherwise keeps its stanza's text and field list).
// Each is decoded afresh, independent of the shared ones Packages,
// Providers and All return. Packages that fail to decode are left out (see Err).
func (x *Index) Compact() iter.Seq[*deb.Package] {
	return func(yield func(*deb.Package) bool) {
		for p := range x.Fresh() {
			compact(p)
			if !yield(p) {
				return
			}
		}
	}
}

// Fresh yields every package in index order, decoded afresh (independent
// of the shared ones) and kept by nobody: for a consumer that keeps only
// part of each package (distcheck's Set), which Compact's copying
// would only slow down. Packages that fail to decode are left out (see Err).
func (x *Index) Fresh() iter.Seq[*deb.Package] {
	return func(yield func(*deb.Package) bool) {
		for _, f := range x.files {
			for i := 0; i < f.m.n; i++ {
				f.m.releaseText(i)
				// Decoded afresh even when memoized: the shared package
				// must not change.
				p, err := f.decode(i)
				if err != nil {
					x.fail(f, err)
					continue
				}
				if !yield(p) {
					return
				}
			}
		}
	}
}

// compact drops p's stanza and moves every string p keeps into one
// allocation, so that the stanza's text can be freed. A string field this
// walk does not know merely keeps the text alive: it costs memory, never
// correctness.
func compact(p *deb.Package) {
	p.Stanza = nil
	size := 0
	eachString(p, func(s *string) { size += len(*s) })
	arena := make([]byte, 0, size)
	eachString(p, func(s *string) {
		if *s == "" {
			return
		}
		off := len(arena)
		arena = append(arena, *s...) // never grows: size was counted
		*s = unsafe.String(&arena[off], len(*s))
	})
}

// eachString calls f on every string field of p, its versions and its
// relations.
func eachString(p *deb.Package, f func(*string)) {
	for _, s := range []*string{&p.Name, &p.Architecture, &p.Priority, &p.Section, &p.Maintainer,
		&p.Source, &p.Filename, &p.SHA256, &p.MD5sum, &p.Origin} {
		f(s)
	}
	ver := func(v *version.Version) { f(&v.Upstream); f(&v.Revision) }
	ver(&p.Version)
	ver(&p.SourceVersion)
	for _, d := range []relation.Dependency{p.Depends, p.PreDepends, p.Recommends, p.Suggests,
		p.Enhances, p.Conflicts, p.Breaks, p.Provides, p.Replaces} {
		for i := range d {
			for j := range d[i] {
				alt := &d[i][j]
				f(&alt.Name)
				f(&alt.ArchQual)
				ver(&alt.Version)
				for k := range alt.Archs {
					f(&alt.Archs[k].Arch)
				}
				for k := range alt.Profiles {
					for l := range alt.Profiles[k] {
						f(&alt.Profiles[k][l].Name)
					}
				}
			}
		}
	}
}
