package distcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/deb/version"
)

// ReadPackages decodes every stanza of a Packages index (plain or
// compressed, see control.NewReader) into packages that carry only what an
// installability check reads: name, version, architecture, Multi-Arch,
// Essential, Pre-Depends, Depends, Conflicts, Breaks and Provides, with
// their strings copied and interned so the index text itself can be freed
// (a whole Debian index then takes a fifth of the memory). name labels
// errors and becomes each package's Origin.
func ReadPackages(ctx context.Context, r io.Reader, name string) ([]*deb.Package, error) {
	cr := control.NewReaderName(r, name)
	defer cr.Close()
	in := newInterner()
	var out []*deb.Package
	for i := 0; ; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		s, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		p, err := in.decode(s)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		p.Origin = name
		out = append(out, p)
	}
}

// interner copies strings once each, so decoded packages do not keep the
// stanzas they came from alive, and shares identical relations between
// packages (a check only reads them): "libc6 (>= 2.34)" is one slice for
// the thousands of packages that depend on it.
type interner struct {
	strs map[string]string
	rels map[string]relation.Relation
	key  []byte
}

func newInterner() *interner {
	return &interner{strs: map[string]string{}, rels: map[string]relation.Relation{}}
}

func (in *interner) s(v string) string {
	if v == "" {
		return ""
	}
	if c, ok := in.strs[v]; ok {
		return c
	}
	c := strings.Clone(v)
	in.strs[c] = c
	return c
}

// rel returns the shared copy of rel: the first relation seen with the
// same alternatives, or rel itself, its strings interned and its
// build-profile lists (which matter to build dependencies only) dropped.
func (in *interner) rel(rel relation.Relation) relation.Relation {
	in.key = in.key[:0]
	for i := range rel {
		pv := &rel[i]
		in.key = append(in.key, pv.Name...)
		in.key = append(in.key, 0)
		in.key = append(in.key, pv.ArchQual...)
		in.key = append(in.key, 0, byte(pv.Op))
		in.key = strconv.AppendUint(in.key, uint64(pv.Version.Epoch), 10)
		in.key = append(in.key, 0)
		in.key = append(in.key, pv.Version.Upstream...)
		in.key = append(in.key, 0)
		in.key = append(in.key, pv.Version.Revision...)
		for _, a := range pv.Archs {
			if a.Not {
				in.key = append(in.key, '!')
			}
			in.key = append(in.key, a.Arch...)
			in.key = append(in.key, 0)
		}
		in.key = append(in.key, 1)
	}
	if r, ok := in.rels[string(in.key)]; ok {
		return r
	}
	for k := range rel {
		pv := &rel[k]
		pv.Name, pv.ArchQual = in.s(pv.Name), in.s(pv.ArchQual)
		pv.Version = in.version(pv.Version)
		for a := range pv.Archs {
			pv.Archs[a].Arch = in.s(pv.Archs[a].Arch)
		}
		pv.Profiles = nil
	}
	r := slices.Clip(rel)
	in.rels[string(in.key)] = r
	return r
}

func (in *interner) version(v version.Version) version.Version {
	v.Upstream, v.Revision = in.s(v.Upstream), in.s(v.Revision)
	return v
}

// decode decodes a stanza with deb.FromStanza (the one place the rules
// of a package stanza live: a stanza it refuses is refused here too) and
// slims it.
func (in *interner) decode(s *control.Stanza) (*deb.Package, error) {
	full, err := deb.FromStanza(s)
	if err != nil {
		return nil, err
	}
	return in.slim(full), nil
}

// slim returns what a check reads of p, its strings interned and its
// relations shared (rel), so nothing of p's own strings stays reachable.
func (in *interner) slim(full *deb.Package) *deb.Package {
	p := &deb.Package{
		Name: in.s(full.Name), Version: in.version(full.Version), Architecture: in.s(full.Architecture),
		MultiArch: full.MultiArch, Essential: full.Essential, Origin: in.s(full.Origin),
		PreDepends: full.PreDepends, Depends: full.Depends, Conflicts: full.Conflicts,
		Breaks: full.Breaks, Provides: full.Provides,
	}
	for _, d := range []relation.Dependency{p.PreDepends, p.Depends, p.Conflicts, p.Breaks, p.Provides} {
		for i, rel := range d {
			d[i] = in.rel(rel)
		}
	}
	return p
}

// Slimmer keeps of each package only what a check reads (see
// ReadPackages), with every string interned: a whole archive's packages,
// decoded elsewhere (an index cache), then take a fraction of the memory.
// It modifies the relations of the packages it is given.
type Slimmer struct{ in *interner }

// NewSlimmer returns an empty Slimmer.
func NewSlimmer() *Slimmer { return &Slimmer{in: newInterner()} }

// Slim returns the slim copy of p.
func (s *Slimmer) Slim(p *deb.Package) *deb.Package { return s.in.slim(p) }

// universe is the packages with their relations resolved to package
// indexes: for each package, each dependency relation's candidates in
// preference order, and its conflicts (symmetric, self excluded).
type universe struct {
	pkgs   []*deb.Package
	native string
	// archOK holds the architectures a candidate may have.
	archs map[string]bool
	// deps[i] are the Pre-Depends and Depends relations of package i, each
	// as its candidates; an empty relation has no candidate at all.
	deps [][][]int32
	// rels[i][k] is the text of deps[i][k], for explanations.
	rels [][]relation.Relation
	// conflicts[i] are the packages that cannot be installed with i.
	conflicts [][]int32
	// essential groups the native (and "all") versions of each name that
	// a native or "all" version marks Essential, newest first: one of each group is
	// installed with every package checked.
	essential [][]int32
	// considered is false for packages of an architecture the check does
	// not cover (they are neither checked nor candidates).
	considered []bool
}

type provide struct {
	pkg int32
	pv  relation.Possibility
}

func newUniverse(pkgs []*deb.Package, native string, foreign []string) *universe {
	u := &universe{pkgs: pkgs, native: native, archs: map[string]bool{native: true, "all": true}}
	for _, a := range foreign {
		u.archs[a] = true
	}
	n := len(pkgs)
	u.considered = make([]bool, n)
	byName := make(map[string][]int32, n)
	provides := make(map[string][]provide)
	for i, p := range pkgs {
		if !u.archs[p.Architecture] {
			continue
		}
		u.considered[i] = true
		byName[p.Name] = append(byName[p.Name], int32(i))
		for _, rel := range p.Provides {
			for _, pv := range rel {
				provides[pv.Name] = append(provides[pv.Name], provide{int32(i), pv})
			}
		}
	}
	// Newest version first, so the greedy search tries it first.
	for _, ids := range byName {
		if len(ids) > 1 {
			sort.SliceStable(ids, func(a, b int) bool {
				return version.Compare(pkgs[ids[a]].Version, pkgs[ids[b]].Version) > 0
			})
		}
	}
	seenEss := map[string]bool{}
	for _, p := range pkgs {
		if !p.Essential || seenEss[p.Name] || u.eff(p.Architecture) != native {
			continue
		}
		seenEss[p.Name] = true
		var g []int32
		for _, j := range byName[p.Name] {
			if u.eff(pkgs[j].Architecture) == native {
				g = append(g, j)
			}
		}
		if len(g) > 0 {
			u.essential = append(u.essential, g)
		}
	}
	u.deps = make([][][]int32, n)
	u.rels = make([][]relation.Relation, n)
	u.conflicts = make([][]int32, n)
	var buf []int32
	for i, p := range pkgs {
		if !u.considered[i] {
			continue
		}
		arch := u.eff(p.Architecture)
		for _, d := range []relation.Dependency{p.PreDepends, p.Depends} {
			for _, rel := range d {
				applies := false
				buf = buf[:0]
				for k := range rel {
					pv := &rel[k]
					if !pv.AppliesTo(arch) {
						continue
					}
					applies = true
					buf = u.candidates(buf, pv, arch, false, byName, provides, int32(i))
				}
				if !applies {
					continue
				}
				u.deps[i] = append(u.deps[i], dedup(buf))
				u.rels[i] = append(u.rels[i], rel)
			}
		}
		buf = buf[:0]
		for _, d := range []relation.Dependency{p.Conflicts, p.Breaks} {
			for _, rel := range d {
				for k := range rel {
					pv := &rel[k]
					if pv.AppliesTo(arch) {
						buf = u.candidates(buf, pv, arch, true, byName, provides, int32(i))
					}
				}
			}
		}
		// Other versions of the same name and architecture.
		for _, j := range byName[p.Name] {
			if int(j) != i && u.eff(pkgs[j].Architecture) == arch {
				buf = append(buf, j)
			}
		}
		// Multi-Arch: a name installed for two architectures must be
		// Multi-Arch: same on both.
		for _, j := range byName[p.Name] {
			q := pkgs[j]
			if u.eff(q.Architecture) != arch && (p.MultiArch != deb.MultiArchSame || q.MultiArch != deb.MultiArchSame || version.Compare(p.Version, q.Version) != 0) {
				buf = append(buf, j)
			}
		}
		for _, j := range buf {
			u.conflicts[i] = append(u.conflicts[i], j)
			u.conflicts[j] = append(u.conflicts[j], int32(i))
		}
	}
	for i, c := range u.conflicts {
		slices.Sort(c)
		u.conflicts[i] = slices.Compact(c)
	}
	return u
}

// eff is an architecture as dpkg compares it (deb.EffectiveArch).
func (u *universe) eff(a string) string { return deb.EffectiveArch(a, u.native) }

// candidates appends the packages that satisfy pv, written in a package
// of architecture depArch (for Conflicts and Breaks when conflict is set,
// excluding self), to dst: real packages first, newest first, then
// providers.
func (u *universe) candidates(dst []int32, pv *relation.Possibility, depArch string, conflict bool, byName map[string][]int32, provides map[string][]provide, self int32) []int32 {
	selfName := u.pkgs[self].Name
	for _, j := range byName[pv.Name] {
		q := u.pkgs[j]
		if conflict && (j == self || q.Name == selfName) {
			continue
		}
		if pv.Satisfies(q.Version) && deb.ArchSatisfies(q, pv, u.eff(depArch), u.native, conflict) {
			dst = append(dst, j)
		}
	}
	for _, pr := range provides[pv.Name] {
		q := u.pkgs[pr.pkg]
		if conflict && (pr.pkg == self || q.Name == selfName) {
			continue
		}
		if !pv.ProvidedBy(&pr.pv) {
			continue
		}
		if deb.ArchSatisfies(q, pv, u.eff(depArch), u.native, conflict) {
			dst = append(dst, pr.pkg)
		}
	}
	return dst
}

// dedup removes repeated ids, keeping the first occurrence, into a fresh
// slice.
func dedup(ids []int32) []int32 {
	out := make([]int32, 0, len(ids))
	for _, id := range ids {
		dup := false
		for _, o := range out {
			if o == id {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, id)
		}
	}
	return out
}
