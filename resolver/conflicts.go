package resolver

import (
	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/deb/version"
)

// Negative relations: a candidate's Conflicts and Breaks with their
// names' entries, and which candidates of one name may be installed
// together.

// negPos is one Conflicts or Breaks possibility of a candidate with the
// entry of its name.
type negPos struct {
	e *nameEntry
	// k numbers the possibility among the candidate's Conflicts, then
	// Breaks, and pos is the possibility once negPossibility found it:
	// most are never read, since their name has no candidate the walk or
	// the answer holds.
	k   int32
	pos *relation.Possibility
}

// negs returns id's Conflicts and Breaks possibilities, in field order,
// with their names' entries.
func (u *universe) negs(id int) []negPos {
	if u.negDone[id] {
		return u.negEnt[id]
	}
	var out []negPos
	if info := u.info[id]; info != nil {
		// The index's numbers name every possibility: the package's
		// fields are not read.
		if len(info.negs) > 0 {
			out = carve(&u.negPool, len(info.negs), poolSize)
		}
		for k, g := range info.negs {
			out = append(out, negPos{e: u.internID(g), k: int32(k)})
		}
	} else {
		p := u.pkgs[id]
		k := int32(0)
		for _, d := range [2]relation.Dependency{p.Conflicts, p.Breaks} {
			for _, rel := range d {
				for i := range rel {
					out = append(out, negPos{e: u.intern(rel[i].Name), k: k, pos: &rel[i]})
					k++
				}
			}
		}
	}
	u.negEnt[id], u.negDone[id] = out, true
	return out
}

// negPossibility returns possibility k of id's Conflicts, then Breaks
// (negs must have listed them).
func (u *universe) negPossibility(id int, k int32) *relation.Possibility {
	np := &u.negEnt[id][k]
	if np.pos != nil {
		return np.pos
	}
	p := u.pkgs[id]
	for _, d := range [2]relation.Dependency{p.Conflicts, p.Breaks} {
		for _, rel := range d {
			if int(k) < len(rel) {
				np.pos = &rel[k]
				return np.pos
			}
			k -= int32(len(rel))
		}
	}
	return nil
}

// coinstallable reports whether two different candidates of the same name
// may be installed together: only Multi-Arch: same ones of different
// architectures can, and dpkg wants them at the same version.
func (u *universe) coinstallable(a, b int) bool {
	pa, pb := u.pkgs[a], u.pkgs[b]
	return pa.MultiArch == deb.MultiArchSame && pb.MultiArch == deb.MultiArchSame &&
		pa.Architecture != pb.Architecture && pa.Architecture != "all" && pb.Architecture != "all" &&
		version.Compare(pa.Version, pb.Version) == 0
}
