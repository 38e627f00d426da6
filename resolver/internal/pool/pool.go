// Package pool is the numbered representation of a package set that the
// resolver and distcheck share, as libsolv's pool: every name (package,
// provided or mentioned in a relation) is numbered once, every package
// is a small record of numbers, relations are int32 slices into shared
// tables, and strings are interned, so a whole Debian archive (63,440
// packages) takes a few tens of megabytes and its stanzas can be freed.
//
// A Pool is built by Add (one package at a time, from a deb.Package
// decoded by deb.FromStanza, the one place of a stanza's rules) and
// frozen by Freeze, which lists each name's packages and providers. A
// frozen pool is read-only and may be read from many goroutines.
//
// Relations keep what a dependency check reads: names, architecture
// qualifiers, version constraints and architecture restriction lists
// ([amd64], [!i386]). Build-profile lists (<!nocheck>) matter to build
// dependencies only and are dropped.
package pool

import (
	"encoding/binary"
	"slices"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/deb/version"
)

// Field is one relationship field a pool keeps.
type Field uint8

// The fields, in the order a package's relations are stored.
const (
	PreDepends Field = iota
	Depends
	Recommends
	Conflicts
	Breaks
	Provides
	numFields
)

// Pkg is one package: its numbered name and version, and where its
// relations are.
type Pkg struct {
	// Name is the package's name number.
	Name int32
	// Ver is the version's number (Pool.Version).
	Ver int32
	// Arch is the Architecture field, interned.
	Arch      string
	MultiArch deb.MultiArch
	Essential bool
	// origin numbers the package's Origin (Pool.Origin).
	origin uint16
	// rels is where the package's relations start in Pool.pkgRels; n
	// counts them per field, in Field order.
	rels int32
	n    [numFields]uint32
}

// Poss is one possibility (alternative) of a relation, in numbers.
type Poss struct {
	// Name is the name number.
	Name int32
	// Ver numbers the version of the constraint (-1: none, Op is NoOp).
	Ver int32
	// Archs numbers the architecture restriction list (-1: none).
	Archs int32
	Op    relation.Op
	// ArchQual is the qualifier after a colon ("", "any", "native",
	// an architecture), interned.
	ArchQual string
}

// Provide is a package that provides a name, with the possibility of its
// Provides field that does.
type Provide struct {
	Pkg, Poss int32
}

// Pool is the numbered package set. The zero value is not usable: see New.
type Pool struct {
	names  []string
	nameID map[string]int32

	pkgs    []Pkg
	pkgRels []int32 // relation numbers of every package, by package and field
	origins []string

	vers []version.Version
	// poss holds the possibilities of every relation: relation r's are
	// poss[relAt[r]:relAt[r+1]]. (Possibilities are not shared between
	// relations: nearly every relation has one, and equal relations are
	// one already.)
	poss  []Poss
	relAt []int32
	archs [][]relation.ArchSpec

	// Built by Freeze: the packages of each name and its providers, in
	// the order they were added.
	byNameAt []int32
	byName   []int32
	provAt   []int32
	prov     []Provide

	b *builder // nil once frozen
}

// builder holds the interning tables, dropped by Freeze.
type builder struct {
	strs    map[string]string
	verID   map[version.Version]int32
	relID   map[string]int32
	archID  map[string]int32
	origins map[string]uint16
	key     []byte
	poss    []Poss
}

// New returns an empty pool.
func New() *Pool {
	p := &Pool{nameID: map[string]int32{}, relAt: []int32{0}, b: &builder{
		strs: map[string]string{}, verID: map[version.Version]int32{},
		relID: map[string]int32{}, archID: map[string]int32{}, origins: map[string]uint16{},
	}}
	return p
}

// Reserve makes room for n more packages (and their names, relations and
// versions, at a Debian archive's proportions), so that a caller who
// knows how many packages come spares the tables' growing.
func (p *Pool) Reserve(n int) {
	if p.b == nil || n <= 0 {
		return
	}
	p.pkgs = slices.Grow(p.pkgs, n)
	p.pkgRels = slices.Grow(p.pkgRels, 6*n)
	p.poss = slices.Grow(p.poss, 2*n)
	p.relAt = slices.Grow(p.relAt, 2*n)
	p.names = slices.Grow(p.names, 2*n)
	p.vers = slices.Grow(p.vers, n/2)
	if len(p.nameID) == 0 {
		p.nameID = make(map[string]int32, 2*n)
		p.b.relID = make(map[string]int32, 2*n)
		p.b.verID = make(map[version.Version]int32, n/2)
	}
}

// Frozen reports whether Freeze was called.
func (p *Pool) Frozen() bool { return p.b == nil }

// Len is the number of packages.
func (p *Pool) Len() int { return len(p.pkgs) }

// Pkg returns package i.
func (p *Pool) Pkg(i int32) *Pkg { return &p.pkgs[i] }

// NumNames is the number of numbered names.
func (p *Pool) NumNames() int { return len(p.names) }

// Name returns the name numbered id.
func (p *Pool) Name(id int32) string { return p.names[id] }

// Lookup returns the number of name.
func (p *Pool) Lookup(name string) (int32, bool) {
	id, ok := p.nameID[name]
	return id, ok
}

// Version returns the version numbered id.
func (p *Pool) Version(id int32) version.Version { return p.vers[id] }

// Origin returns package i's Origin.
func (p *Pool) Origin(i int32) string { return p.origins[p.pkgs[i].origin] }

// Field returns the relation numbers of package i's field f.
func (p *Pool) Field(i int32, f Field) []int32 {
	q := &p.pkgs[i]
	start := q.rels
	for k := Field(0); k < f; k++ {
		start += int32(q.n[k])
	}
	return p.pkgRels[start : start+int32(q.n[f]) : start+int32(q.n[f])]
}

// Rel returns the possibilities of relation r, in order.
func (p *Pool) Rel(r int32) []Poss { return p.poss[p.relAt[r]:p.relAt[r+1]:p.relAt[r+1]] }

// PossAt returns possibility k of the pool's table (Provide.Poss).
func (p *Pool) PossAt(k int32) *Poss { return &p.poss[k] }

// Possibility returns x as deb/relation writes it, so that its rules
// (Satisfies, AppliesTo, ProvidedBy) are the ones applied. It allocates
// nothing: the strings and the restriction list are the pool's.
func (p *Pool) Possibility(x *Poss) relation.Possibility {
	out := relation.Possibility{Name: p.names[x.Name], ArchQual: x.ArchQual, Op: x.Op}
	if x.Ver >= 0 {
		out.Version = p.vers[x.Ver]
	}
	if x.Archs >= 0 {
		out.Archs = p.archs[x.Archs]
	}
	return out
}

// Relation returns relation r as deb/relation writes it (a fresh slice).
func (p *Pool) Relation(r int32) relation.Relation {
	xs := p.Rel(r)
	out := make(relation.Relation, len(xs))
	for i := range xs {
		out[i] = p.Possibility(&xs[i])
	}
	return out
}

// Dependency returns package i's field f as deb/relation writes it.
func (p *Pool) Dependency(i int32, f Field) relation.Dependency {
	rs := p.Field(i, f)
	if len(rs) == 0 {
		return nil
	}
	out := make(relation.Dependency, len(rs))
	for k, r := range rs {
		out[k] = p.Relation(r)
	}
	return out
}

// Package returns package i as a deb.Package: what the pool keeps of it
// (name, version, architecture, Multi-Arch, Essential, Origin and the
// six fields), for reports.
func (p *Pool) Package(i int32) *deb.Package {
	q := &p.pkgs[i]
	return &deb.Package{
		Name: p.names[q.Name], Version: p.vers[q.Ver], Architecture: q.Arch,
		MultiArch: q.MultiArch, Essential: q.Essential, Origin: p.Origin(i),
		PreDepends: p.Dependency(i, PreDepends), Depends: p.Dependency(i, Depends),
		Recommends: p.Dependency(i, Recommends), Conflicts: p.Dependency(i, Conflicts),
		Breaks: p.Dependency(i, Breaks), Provides: p.Dependency(i, Provides),
	}
}

// String names package i as deb.Package.String does.
func (p *Pool) String(i int32) string {
	q := &p.pkgs[i]
	return p.names[q.Name] + "_" + p.vers[q.Ver].String() + "_" + q.Arch
}

// Packages returns the packages named id, in the order they were added.
func (p *Pool) Packages(id int32) []int32 {
	return p.byName[p.byNameAt[id]:p.byNameAt[id+1]:p.byNameAt[id+1]]
}

// Providers returns the packages whose Provides name id, each with the
// possibility that does, in the order they were added (a package that
// provides a name twice, at two versions, is listed twice).
func (p *Pool) Providers(id int32) []Provide {
	return p.prov[p.provAt[id]:p.provAt[id+1]:p.provAt[id+1]]
}

// intern returns s's interned copy.
func (b *builder) intern(s string) string {
	if s == "" {
		return ""
	}
	if c, ok := b.strs[s]; ok {
		return c
	}
	c := strings.Clone(s)
	b.strs[c] = c
	return c
}

// name returns name's number, numbering it when new.
func (p *Pool) name(name string) int32 {
	if id, ok := p.nameID[name]; ok {
		return id
	}
	c := strings.Clone(name)
	id := int32(len(p.names))
	p.names = append(p.names, c)
	p.nameID[c] = id
	return id
}

func (p *Pool) version(v version.Version) int32 {
	b := p.b
	if id, ok := b.verID[v]; ok {
		return id
	}
	v.Upstream, v.Revision = strings.Clone(v.Upstream), strings.Clone(v.Revision)
	id := int32(len(p.vers))
	p.vers = append(p.vers, v)
	b.verID[v] = id
	return id
}

func (p *Pool) archList(l []relation.ArchSpec) int32 {
	if len(l) == 0 {
		return -1
	}
	b := p.b
	b.key = b.key[:0]
	for _, a := range l {
		if a.Not {
			b.key = append(b.key, '!')
		}
		b.key = append(b.key, a.Arch...)
		b.key = append(b.key, 0)
	}
	if id, ok := b.archID[string(b.key)]; ok {
		return id
	}
	c := make([]relation.ArchSpec, len(l))
	for i, a := range l {
		c[i] = relation.ArchSpec{Not: a.Not, Arch: b.intern(a.Arch)}
	}
	id := int32(len(p.archs))
	p.archs = append(p.archs, c)
	b.archID[string(b.key)] = id
	return id
}

// relation numbers rel: equal relations of different packages are one.
func (p *Pool) relation(rel relation.Relation) int32 {
	b := p.b
	b.poss = b.poss[:0]
	b.key = b.key[:0]
	for i := range rel {
		pv := &rel[i]
		x := Poss{Name: p.name(pv.Name), Ver: -1, Archs: p.archList(pv.Archs), Op: pv.Op, ArchQual: pv.ArchQual}
		if pv.Op != relation.NoOp {
			x.Ver = p.version(pv.Version)
		}
		b.poss = append(b.poss, x)
		b.key = binary.LittleEndian.AppendUint32(b.key, uint32(x.Name))
		b.key = binary.LittleEndian.AppendUint32(b.key, uint32(x.Ver))
		b.key = binary.LittleEndian.AppendUint32(b.key, uint32(x.Archs))
		b.key = append(b.key, byte(x.Op))
		b.key = append(b.key, x.ArchQual...)
		b.key = append(b.key, 0)
	}
	if id, ok := b.relID[string(b.key)]; ok {
		return id
	}
	for i := range b.poss {
		b.poss[i].ArchQual = b.intern(b.poss[i].ArchQual)
	}
	id := int32(len(p.relAt) - 1)
	p.poss = append(p.poss, b.poss...)
	p.relAt = append(p.relAt, int32(len(p.poss)))
	b.relID[string(b.key)] = id
	return id
}

// Add numbers pkg and returns its number. It copies what it keeps: pkg
// and the stanza it came from can be freed. Add panics on a frozen pool
// (a programming error).
func (p *Pool) Add(pkg *deb.Package) int32 {
	if p.b == nil {
		panic("pool: Add after Freeze")
	}
	b := p.b
	o, ok := b.origins[pkg.Origin]
	if !ok {
		o = uint16(len(p.origins))
		if int(o) != len(p.origins) {
			o = 0 // more than 65,535 origins: the first one stands for the rest
		} else {
			c := strings.Clone(pkg.Origin)
			p.origins = append(p.origins, c)
			b.origins[c] = o
		}
	}
	q := Pkg{
		Name: p.name(pkg.Name), Ver: p.version(pkg.Version), Arch: b.intern(pkg.Architecture),
		MultiArch: pkg.MultiArch, Essential: pkg.Essential, origin: o, rels: int32(len(p.pkgRels)),
	}
	for f, d := range [numFields]relation.Dependency{pkg.PreDepends, pkg.Depends, pkg.Recommends, pkg.Conflicts, pkg.Breaks, pkg.Provides} {
		for _, rel := range d {
			p.pkgRels = append(p.pkgRels, p.relation(rel))
		}
		q.n[f] = uint32(len(d))
	}
	id := int32(len(p.pkgs))
	p.pkgs = append(p.pkgs, q)
	return id
}

// Freeze lists each name's packages and providers and drops the
// interning tables; the pool is read-only afterwards.
func (p *Pool) Freeze() {
	if p.b == nil {
		return
	}
	p.b = nil
	n := len(p.names)
	p.byNameAt = make([]int32, n+1)
	p.provAt = make([]int32, n+1)
	for i := range p.pkgs {
		p.byNameAt[p.pkgs[i].Name+1]++
		for _, r := range p.Field(int32(i), Provides) {
			for _, x := range p.Rel(r) {
				p.provAt[x.Name+1]++
			}
		}
	}
	for i := 1; i <= n; i++ {
		p.byNameAt[i] += p.byNameAt[i-1]
		p.provAt[i] += p.provAt[i-1]
	}
	p.byName = make([]int32, len(p.pkgs))
	p.prov = make([]Provide, p.provAt[n])
	nextN := slices.Clone(p.byNameAt[:n])
	nextP := slices.Clone(p.provAt[:n])
	for i := range p.pkgs {
		nm := p.pkgs[i].Name
		p.byName[nextN[nm]] = int32(i)
		nextN[nm]++
		for _, r := range p.Field(int32(i), Provides) {
			for k := p.relAt[r]; k < p.relAt[r+1]; k++ {
				pn := p.poss[k].Name
				p.prov[nextP[pn]] = Provide{Pkg: int32(i), Poss: k}
				nextP[pn]++
			}
		}
	}
	p.pkgs = slices.Clip(p.pkgs)
	p.pkgRels = slices.Clip(p.pkgRels)
	p.vers = slices.Clip(p.vers)
	p.poss = slices.Clip(p.poss)
	p.relAt = slices.Clip(p.relAt)
	p.names = slices.Clip(p.names)
}
