package resolver

import (
	"slices"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/version"
)

// The order of candidates: newest first, native architecture first, and
// apt's candidate (the newest) of each name and architecture.

// finish orders candidates (newest first, native architecture first) so
// that every later walk is deterministic, and records apt's candidate
// version of every name and architecture.
func (u *universe) finish() {
	for _, e := range u.dirty {
		ids := e.real
		// better is a total order (ids break ties), so any sort gives
		// the one answer; most names have a single candidate.
		if len(ids) > 1 {
			slices.SortFunc(ids, u.betterCmp)
		}
		if u.policy != nil {
			u.policyCandidates(ids)
		} else {
			for i, id := range ids {
				// Sorted newest first: the first of each architecture.
				u.isNewest[id] = true
				for _, prev := range ids[:i] {
					if u.pkgs[prev].Architecture == u.pkgs[id].Architecture {
						u.isNewest[id] = false
						break
					}
				}
			}
		}
		if ps := e.prov; len(ps) > 1 {
			slices.SortFunc(ps, u.betterCmp)
		}
		e.dirty = false
	}
	u.dirty = u.dirty[:0]
}

// policyCandidates marks, among one name's candidates (sorted newest
// first), the candidate of each architecture that the policy selects.
func (u *universe) policyCandidates(ids []int) {
	var group []*deb.Package
	var gids []int
	for _, id := range ids {
		u.isNewest[id] = false
	}
	for i, id := range ids {
		arch := u.pkgs[id].Architecture
		if slices.ContainsFunc(ids[:i], func(o int) bool { return u.pkgs[o].Architecture == arch }) {
			continue // this architecture's group was done
		}
		group, gids = group[:0], gids[:0]
		inst := -1
		for _, o := range ids[i:] {
			if u.pkgs[o].Architecture == arch {
				if u.installed[o] {
					inst = len(group)
				}
				group = append(group, u.pkgs[o])
				gids = append(gids, o)
			}
		}
		if c := u.policy.Candidate(group, inst); c >= 0 {
			u.isNewest[gids[c]] = true
		}
	}
}

// newestOf returns apt's candidate of id's name and architecture.
func (u *universe) newestOf(id int) int {
	p := u.pkgs[id]
	for _, o := range u.ent[id].real {
		if u.isNewest[o] && u.pkgs[o].Architecture == p.Architecture {
			return o
		}
	}
	return id
}

// betterCmp is better as a comparison for slices.SortFunc.
func (u *universe) betterCmp(a, b int) int {
	switch {
	case a == b:
		return 0
	case u.better(a, b):
		return -1
	}
	return 1
}

// better orders two candidates: newer version first, then the native
// architecture, then name, then id (first loaded).
func (u *universe) better(a, b int) bool {
	pa, pb := u.pkgs[a], u.pkgs[b]
	if pa.Name != pb.Name {
		return pa.Name < pb.Name
	}
	if c := version.Compare(pa.Version, pb.Version); c != 0 {
		return c > 0
	}
	if na, nb := pa.Architecture == u.native, pb.Architecture == u.native; na != nb {
		return na
	}
	if pa.Architecture != pb.Architecture {
		return pa.Architecture < pb.Architecture
	}
	if ia, ib := u.installed[a], u.installed[b]; ia != ib {
		// A rebuild of the installed version (deb.SameBuild) is apt's
		// candidate: the archive's version before the installed one.
		return ib
	}
	return a < b
}
