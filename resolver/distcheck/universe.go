package distcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/resolver/internal/pool"
)

// Set is a package set numbered for a check (resolver/internal/pool, the
// representation the resolver shares): names and packages numbered once,
// relations as int32 slices into shared tables, strings interned. It
// keeps what a check reads (name, version, architecture, Multi-Arch,
// Essential, Origin and the relationship fields) and copies it, so the
// packages and stanzas it was given can be freed: a whole Debian archive
// takes a few tens of megabytes. A Set is checked once (CheckSet) and
// takes no more packages afterwards.
type Set struct {
	p *pool.Pool
}

// NewSet returns an empty Set.
func NewSet() *Set { return &Set{p: pool.New()} }

// Len is the number of packages in the set.
func (s *Set) Len() int { return s.p.Len() }

// Add copies what a check reads of p into the set.
func (s *Set) Add(p *deb.Package) error {
	if s.frozen() {
		return errors.New("distcheck: Add after the set was checked")
	}
	s.p.Add(p)
	return nil
}

func (s *Set) frozen() bool { return s.p.Frozen() }

// Read adds every stanza of a Packages index (plain or compressed, see
// control.NewReader), each decoded by deb.FromStanza (the one place of a
// stanza's rules: a stanza it refuses is refused here, the error naming
// name). name becomes each package's Origin.
func (s *Set) Read(ctx context.Context, r io.Reader, name string) error {
	if s.frozen() {
		return errors.New("distcheck: Read after the set was checked")
	}
	cr := control.NewReaderName(r, name)
	defer cr.Close()
	for i := 0; ; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		st, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		p, err := deb.FromStanza(st)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		p.Origin = name
		s.p.Add(p)
	}
}

// universe is the set's packages with their relations resolved to package
// numbers: for each package, each dependency relation's candidates in
// preference order, and its conflicts (symmetric, self excluded). Lists
// are stored flat (offsets into one slice), and a relation's candidates,
// which depend only on the relation and the architecture it is read
// from, are computed once and shared by every package that has it.
type universe struct {
	p      *pool.Pool
	native string
	// archs holds the effective architectures a candidate may have (the
	// native one first; "all" counts as native); arch numbers them.
	archs []string
	// byName lists each name's considered packages, newest first: the
	// greedy search tries them in that order.
	byNameAt []int32
	byName   []int32
	// Package i's dependency relations (Pre-Depends, then Depends, those
	// that apply to its architecture) are deps[depAt[i]:depAt[i+1]],
	// each an entry of the shared table below.
	depAt []int32
	deps  []int32
	// Entry e is relation entRel[e] of the pool, read from one
	// architecture; its candidates are cands[entAt[e]:entAt[e+1]] (none
	// at all: nothing satisfies it). entByID finds the entry of a
	// relation and architecture number (-1: no alternative applies)
	// while the universe is built.
	entRel  []int32
	entAt   []int32
	cands   []int32
	entByID map[int64]int32
	// conflicts of package i, sorted: confs[confAt[i]:confAt[i+1]].
	confAt []int32
	confs  []int32
	// essential groups the native (and "all") versions of each name that
	// a native or "all" version marks Essential, newest first: one of each
	// group is installed with every package checked.
	essential [][]int32
	// considered is false for packages of an architecture the check does
	// not cover (they are neither checked nor candidates); arch numbers
	// each considered package's effective architecture in archs.
	considered []bool
	arch       []uint8
}

func newUniverse(p *pool.Pool, native string, foreign []string) *universe {
	u := &universe{p: p, native: native, archs: []string{native}, entByID: map[int64]int32{}}
	for _, a := range foreign {
		if !slices.Contains(u.archs, a) && a != "all" {
			u.archs = append(u.archs, a)
		}
	}
	n := p.Len()
	u.considered = make([]bool, n)
	u.arch = make([]uint8, n)
	for i := range n {
		k := slices.Index(u.archs, u.eff(p.Pkg(int32(i)).Arch))
		if k >= 0 && k < 256 {
			u.considered[i], u.arch[i] = true, uint8(k)
		}
	}
	// Each name's considered packages, newest version first (stable).
	nn := p.NumNames()
	u.byNameAt = make([]int32, nn+1)
	for id := range nn {
		u.byNameAt[id] = int32(len(u.byName))
		start := len(u.byName)
		for _, j := range p.Packages(int32(id)) {
			if u.considered[j] {
				u.byName = append(u.byName, j)
			}
		}
		if ids := u.byName[start:]; len(ids) > 1 {
			slices.SortStableFunc(ids, func(a, b int32) int {
				return -version.Compare(p.Version(p.Pkg(a).Ver), p.Version(p.Pkg(b).Ver))
			})
		}
	}
	u.byNameAt[nn] = int32(len(u.byName))
	u.byName = slices.Clip(u.byName)
	for i := range n {
		q := p.Pkg(int32(i))
		if !q.Essential || !u.considered[i] || u.arch[i] != 0 {
			continue
		}
		// The first Essential package of a name makes its group.
		first := true
		for _, j := range u.names(q.Name) {
			if j < int32(i) && p.Pkg(j).Essential && u.arch[j] == 0 {
				first = false
				break
			}
		}
		if !first {
			continue
		}
		var g []int32
		for _, j := range u.names(q.Name) {
			if u.arch[j] == 0 {
				g = append(g, j)
			}
		}
		u.essential = append(u.essential, g)
	}
	u.depAt = make([]int32, n+1)
	u.entAt = []int32{0}
	var pairs [][2]int32
	var buf []int32
	for i := range n {
		u.depAt[i] = int32(len(u.deps))
		if !u.considered[i] {
			continue
		}
		for _, f := range [2]pool.Field{pool.PreDepends, pool.Depends} {
			for _, r := range p.Field(int32(i), f) {
				if e, ok := u.entry(r, u.arch[i]); ok {
					u.deps = append(u.deps, e)
				}
			}
		}
		buf = buf[:0]
		arch := u.archs[u.arch[i]]
		self := p.Pkg(int32(i))
		for _, f := range [2]pool.Field{pool.Conflicts, pool.Breaks} {
			for _, r := range p.Field(int32(i), f) {
				for _, x := range p.Rel(r) {
					pv := p.Possibility(&x)
					if pv.AppliesTo(arch) {
						buf = u.candidates(buf, &pv, arch, true, int32(i))
					}
				}
			}
		}
		for _, j := range u.names(self.Name) {
			q := p.Pkg(j)
			switch {
			case int(j) == i:
			case u.arch[j] == u.arch[i]:
				// Another version of the same name and architecture.
				buf = append(buf, j)
			case self.MultiArch != deb.MultiArchSame || q.MultiArch != deb.MultiArchSame || self.Ver != q.Ver && version.Compare(p.Version(self.Ver), p.Version(q.Ver)) != 0:
				// Multi-Arch: a name installed for two architectures
				// must be Multi-Arch: same on both, at one version.
				buf = append(buf, j)
			}
		}
		for _, j := range buf {
			pairs = append(pairs, [2]int32{int32(i), j}, [2]int32{j, int32(i)})
		}
	}
	u.depAt[n] = int32(len(u.deps))
	u.deps = slices.Clip(u.deps)
	u.cands = slices.Clip(u.cands)
	u.entByID = nil
	// Conflicts, symmetric, sorted and without repeats, stored flat.
	slices.SortFunc(pairs, func(a, b [2]int32) int {
		if a[0] != b[0] {
			return int(a[0] - b[0])
		}
		return int(a[1] - b[1])
	})
	pairs = slices.Compact(pairs)
	u.confAt = make([]int32, n+1)
	u.confs = make([]int32, len(pairs))
	for k, pr := range pairs {
		u.confAt[pr[0]+1]++
		u.confs[k] = pr[1]
	}
	for i := 1; i <= n; i++ {
		u.confAt[i] += u.confAt[i-1]
	}
	return u
}

// eff is an architecture as dpkg compares it (deb.EffectiveArch).
func (u *universe) eff(a string) string { return deb.EffectiveArch(a, u.native) }

// names returns the considered packages named id, newest first.
func (u *universe) names(id int32) []int32 { return u.byName[u.byNameAt[id]:u.byNameAt[id+1]] }

// dep returns package i's dependency entries.
func (u *universe) dep(i int32) []int32 { return u.deps[u.depAt[i]:u.depAt[i+1]] }

// cand returns the candidates of entry e.
func (u *universe) cand(e int32) []int32 { return u.cands[u.entAt[e]:u.entAt[e+1]] }

// conflicts returns the packages that cannot be installed with i.
func (u *universe) conflicts(i int32) []int32 { return u.confs[u.confAt[i]:u.confAt[i+1]] }

// entry returns the entry of relation r read from architecture number a,
// computing its candidates on first use; false when no alternative of r
// applies to a (its restriction lists leave it out).
func (u *universe) entry(r int32, a uint8) (int32, bool) {
	key := int64(r)<<8 | int64(a)
	if e, ok := u.entByID[key]; ok {
		return e, e >= 0
	}
	arch := u.archs[a]
	applies := false
	start := len(u.cands)
	for _, x := range u.p.Rel(r) {
		pv := u.p.Possibility(&x)
		if !pv.AppliesTo(arch) {
			continue
		}
		applies = true
		u.cands = u.candidates(u.cands, &pv, arch, false, -1)
	}
	if !applies {
		u.cands = u.cands[:start]
		u.entByID[key] = -1
		return -1, false
	}
	u.cands = dedup(u.cands, start)
	e := int32(len(u.entRel))
	u.entRel = append(u.entRel, r)
	u.entAt = append(u.entAt, int32(len(u.cands)))
	u.entByID[key] = e
	return e, true
}

// candidates appends the packages that satisfy pv, written in a package
// of architecture depArch (for Conflicts and Breaks when conflict is set,
// excluding self's name), to dst: real packages first, newest first, then
// providers.
func (u *universe) candidates(dst []int32, pv *relation.Possibility, depArch string, conflict bool, self int32) []int32 {
	p := u.p
	id, ok := p.Lookup(pv.Name)
	if !ok {
		return dst
	}
	selfName := int32(-1)
	if self >= 0 {
		selfName = p.Pkg(self).Name
	}
	for _, j := range u.names(id) {
		q := p.Pkg(j)
		if conflict && q.Name == selfName {
			continue
		}
		if pv.Satisfies(p.Version(q.Ver)) && deb.ArchSatisfiesAs(q.Arch, q.MultiArch, pv, depArch, u.native, conflict) {
			dst = append(dst, j)
		}
	}
	for _, pr := range p.Providers(id) {
		if !u.considered[pr.Pkg] {
			continue
		}
		q := p.Pkg(pr.Pkg)
		if conflict && q.Name == selfName {
			continue
		}
		prov := p.Possibility(p.PossAt(pr.Poss))
		if !pv.ProvidedBy(&prov) {
			continue
		}
		if deb.ArchSatisfiesAs(q.Arch, q.MultiArch, pv, depArch, u.native, conflict) {
			dst = append(dst, pr.Pkg)
		}
	}
	return dst
}

// dedup removes repeated ids from ids[start:], keeping the first
// occurrence.
func dedup(ids []int32, start int) []int32 {
	out := ids[:start]
	for _, id := range ids[start:] {
		if !slices.Contains(out[start:], id) {
			out = append(out, id)
		}
	}
	return out
}
