package resolver

import (
	"slices"

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
		if ps := e.prov; len(ps) > 1 {
			slices.SortFunc(ps, u.betterCmp)
		}
		e.dirty = false
	}
	u.dirty = u.dirty[:0]
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
		// A rebuild of the installed version (SameBuild) is apt's
		// candidate: the archive's version before the installed one.
		return ib
	}
	return a < b
}
