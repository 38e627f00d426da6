package resolver

import (
	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
)

// Growing the universe: loading a name's candidates and providers from
// the index, and the hard closure of a set of candidates.

// load fetches every candidate named name or providing it; it returns the
// ids that are new to the universe.
func (u *universe) load(name string, out []int) []int {
	return u.loadEntry(u.entry(name), out)
}

func (u *universe) loadEntry(e *nameEntry, out []int) []int {
	if e.loaded {
		return out
	}
	e.loaded = true
	if e.gid >= 0 {
		pkgs, pkgN, provs, provN := u.ids.byID(e.gid)
		for k, list := range [2][]*deb.Package{pkgs, provs} {
			infos := pkgN
			if k == 1 {
				infos = provN
			}
			for i, p := range list {
				n := len(u.pkgs)
				if id := u.add(p, infos[i], false, false); id == n {
					out = append(out, id)
				}
			}
		}
		return out
	}
	var lists [2][]*deb.Package
	if u.both != nil {
		lists[0], lists[1] = u.both.both(e.name)
	} else {
		lists[0], lists[1] = u.idx.Packages(e.name), u.idx.Providers(e.name)
	}
	for _, list := range lists {
		for _, p := range list {
			n := len(u.pkgs)
			if id := u.add(p, nil, false, false); id == n {
				out = append(out, id)
			}
		}
	}
	return out
}

// close grows the universe from the given ids until every name that a
// Depends or Pre-Depends of a member mentions is loaded. Conflicts and
// Breaks never pull packages in (a conflict with a package outside the
// closure cannot matter), and neither do Recommends: they are soft, so
// the preferred walk loads their candidates when it reaches them.
func (u *universe) close(work []int) {
	for len(work) > 0 {
		id := work[len(work)-1]
		work = work[:len(work)-1]
		p := u.pkgs[id]
		for _, d := range [2]relation.Dependency{p.PreDepends, p.Depends} {
			for _, rel := range d {
				for i := range rel {
					if e := u.entry(rel[i].Name); !e.loaded {
						work = u.loadEntry(e, work)
					}
				}
			}
		}
	}
	u.finish()
}

// closeAll loads the whole hard closure of the universe's candidates.
func (u *universe) closeAll() {
	work := make([]int, len(u.pkgs))
	for id := range work {
		work[id] = id
	}
	u.close(work)
}
