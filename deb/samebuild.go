package deb

import (
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/deb/version"
)

// SameBuild reports whether installed package a and candidate b of the
// same name, version and architecture are one build, as apt's cache
// decides (debListParser::SameVersion): the same Installed-Size (when
// both give one), Depends, Pre-Depends, Conflicts, Breaks, Replaces and
// Multi-Arch. When they are not (the archive rebuilt the package, or
// changed its control data, without a new version), apt keeps the
// candidate apart from the installed version and upgrades to it, as it
// does to a newer version: "1 upgraded", `Inst hello [2.10-3] (2.10-3 ...)`.
func SameBuild(a, b *Package) bool {
	if a == b {
		return true
	}
	if a.Name != b.Name || a.Architecture != b.Architecture || version.Compare(a.Version, b.Version) != 0 {
		return false
	}
	if a.InstalledSize != 0 && b.InstalledSize != 0 && a.InstalledSize != b.InstalledSize {
		return false
	}
	if a.MultiArch != b.MultiArch {
		return false
	}
	for _, f := range [5][2]relation.Dependency{
		{a.Depends, b.Depends}, {a.PreDepends, b.PreDepends}, {a.Conflicts, b.Conflicts},
		{a.Breaks, b.Breaks}, {a.Replaces, b.Replaces},
	} {
		if !sameDependency(f[0], f[1]) {
			return false
		}
	}
	return true
}

// sameDependency compares two relationship fields as apt's version hash
// does: the same relations in the same order (spaces, and the spelling of
// a version such as an explicit 0: epoch, do not count).
func sameDependency(a, b relation.Dependency) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			p, q := &a[i][j], &b[i][j]
			if p.Name != q.Name || p.ArchQual != q.ArchQual || p.Op != q.Op ||
				(p.Op != relation.NoOp && version.Compare(p.Version, q.Version) != 0) ||
				len(p.Archs) != len(q.Archs) {
				return false
			}
			for k := range p.Archs {
				if p.Archs[k] != q.Archs[k] {
					return false
				}
			}
		}
	}
	return true
}
