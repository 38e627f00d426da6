// Package relation parses and prints Debian's package relationship fields
// (Depends, Pre-Depends, Recommends, Suggests, Enhances, Conflicts, Breaks,
// Provides, Replaces, Build-Depends and friends).
//
// The model follows the grammar: a Dependency is a comma-separated list of
// Relations, all of which must hold; a Relation is a "|"-separated list of
// Possibilities, one of which must hold; a Possibility names a package with
// an optional architecture qualifier, version constraint, architecture
// restriction list and build-profile restriction formulas:
//
//	libc6 (>= 2.34), default-mta | mail-transport-agent, foo:any [amd64 !i386] <!nocheck>
//
// See docs/formats.md for the grammar in full.
package relation

import (
	"fmt"
	"strings"

	"github.com/greypm/grey/deb/version"
)

// Op is a version relation operator.
type Op uint8

// The operators, in dpkg's spelling: << <= = >= >>. NoOp means the
// possibility has no version constraint.
const (
	NoOp Op = iota
	LT      // <<
	LE      // <=
	EQ      // =
	GE      // >=
	GT      // >>
)

var opText = [...]string{NoOp: "", LT: "<<", LE: "<=", EQ: "=", GE: ">=", GT: ">>"}

// String returns the operator in canonical form ("" for NoOp).
func (o Op) String() string {
	if int(o) < len(opText) {
		return opText[o]
	}
	return fmt.Sprintf("Op(%d)", o)
}

// ParseOp parses a relation operator as it appears in a dependency field.
// The obsolete "<" and ">" mean "<=" and ">=", as dpkg reads them.
func ParseOp(s string) (Op, error) {
	switch s {
	case "<<":
		return LT, nil
	case "<=", "<":
		return LE, nil
	case "=":
		return EQ, nil
	case ">=", ">":
		return GE, nil
	case ">>":
		return GT, nil
	}
	return NoOp, fmt.Errorf("unknown relation operator %q", s)
}

// Holds reports whether a comparison result (version.Compare(candidate,
// constraint)) satisfies the operator. NoOp always holds.
func (o Op) Holds(cmp int) bool {
	switch o {
	case LT:
		return cmp < 0
	case LE:
		return cmp <= 0
	case EQ:
		return cmp == 0
	case GE:
		return cmp >= 0
	case GT:
		return cmp > 0
	}
	return true
}

// ArchSpec is one entry of an architecture restriction list: "amd64" or
// "!i386".
type ArchSpec struct {
	Not  bool
	Arch string
}

// Profile is one term of a build-profile formula: "nocheck" or "!nocheck".
type Profile struct {
	Not  bool
	Name string
}

// Possibility is one alternative: a package name with optional qualifiers.
type Possibility struct {
	// Name is the package (or virtual package) name.
	Name string
	// ArchQual is the architecture qualifier after a colon: "", "any",
	// "native" or an architecture name.
	ArchQual string
	// Op and Version constrain the version; Op is NoOp when unconstrained.
	Op      Op
	Version version.Version
	// Archs is the architecture restriction list in square brackets.
	Archs []ArchSpec
	// Profiles are the build-profile formulas, one per <...> group; the
	// possibility applies when any group holds, a group when all its terms do.
	Profiles [][]Profile
}

// Relation is a list of alternatives, one of which must be satisfied.
type Relation []Possibility

// Dependency is a whole relationship field: every Relation must hold.
type Dependency []Relation

// SyntaxError reports a malformed relationship field.
type SyntaxError struct {
	// Input is the field value that failed to parse.
	Input string
	// Offset is the byte offset in Input where the problem was found.
	Offset int
	// Msg says what was expected.
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("relation %q: at offset %d: %s", clip(e.Input), e.Offset, e.Msg)
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// Satisfies reports whether a package version satisfies the possibility's
// version constraint (names and architectures are the caller's business).
func (p *Possibility) Satisfies(v version.Version) bool {
	if p.Op == NoOp {
		return true
	}
	return p.Op.Holds(version.Compare(v, p.Version))
}

// AppliesTo evaluates the possibility's architecture restriction list
// ("[amd64 arm64]", "[!i386]", "[linux-any]", "[!any-i386]") for a
// package built for arch, as dpkg's debarch_is_concerned does: true when
// there is none; otherwise the entries are read in order, an entry
// matching arch (ArchIs: names and architecture wildcards, compared in
// lower case) decides (true, or false when negated), and when none
// matches the list applies if it holds a negation. A wildcard naming
// no architecture ("[foo-any]") matches nothing.
func (p *Possibility) AppliesTo(arch string) bool {
	seen := false
	for _, a := range p.Archs {
		match := ArchIs(arch, strings.ToLower(a.Arch))
		if a.Not {
			if match {
				return false
			}
			seen = true
		} else if match {
			return true
		}
	}
	return len(p.Archs) == 0 || seen
}

// ForArch returns the field as it applies to a package built for arch:
// the alternatives whose architecture restriction list excludes arch
// (AppliesTo) left out, and a relation left without any alternative left
// out whole (it does not apply at all), as dpkg-gencontrol reduces a
// field for one architecture. The field itself is returned, not a copy,
// when nothing is left out; the lists that remain are not cleared.
func (d Dependency) ForArch(arch string) Dependency {
	drop := false
	for _, rel := range d {
		for i := range rel {
			if !rel[i].AppliesTo(arch) {
				drop = true
			}
		}
	}
	if !drop {
		return d
	}
	out := make(Dependency, 0, len(d))
	for _, rel := range d {
		var kept Relation
		for i := range rel {
			if rel[i].AppliesTo(arch) {
				kept = append(kept, rel[i])
			}
		}
		if len(kept) > 0 {
			out = append(out, kept)
		}
	}
	return out
}

// ProvidedBy reports whether the Provides entry pr satisfies p (the
// providing package's architecture is the caller's business): it must
// name p's package, and when p constrains the version, provide exactly
// ("= v") a version v that satisfies it. A Provides without a version
// never satisfies a versioned dependency.
func (p *Possibility) ProvidedBy(pr *Possibility) bool {
	if pr.Name != p.Name {
		return false
	}
	return p.Op == NoOp || pr.Op == EQ && p.Satisfies(pr.Version)
}

// String prints the possibility canonically:
// name[:arch] [(op version)] [[archs]] [<profiles>...].
func (p Possibility) String() string {
	var b strings.Builder
	p.write(&b)
	return b.String()
}

func (p *Possibility) write(b *strings.Builder) {
	b.WriteString(p.Name)
	if p.ArchQual != "" {
		b.WriteByte(':')
		b.WriteString(p.ArchQual)
	}
	if p.Op != NoOp {
		b.WriteString(" (")
		b.WriteString(p.Op.String())
		b.WriteByte(' ')
		b.WriteString(p.Version.String())
		b.WriteByte(')')
	}
	if len(p.Archs) > 0 {
		b.WriteString(" [")
		for i, a := range p.Archs {
			if i > 0 {
				b.WriteByte(' ')
			}
			if a.Not {
				b.WriteByte('!')
			}
			b.WriteString(a.Arch)
		}
		b.WriteByte(']')
	}
	for _, group := range p.Profiles {
		b.WriteString(" <")
		for i, t := range group {
			if i > 0 {
				b.WriteByte(' ')
			}
			if t.Not {
				b.WriteByte('!')
			}
			b.WriteString(t.Name)
		}
		b.WriteByte('>')
	}
}

// String prints the alternatives joined by " | ".
func (r Relation) String() string {
	var b strings.Builder
	r.write(&b)
	return b.String()
}

func (r Relation) write(b *strings.Builder) {
	for i := range r {
		if i > 0 {
			b.WriteString(" | ")
		}
		r[i].write(b)
	}
}

// String prints the field canonically, relations joined by ", ".
func (d Dependency) String() string {
	var b strings.Builder
	for i, r := range d {
		if i > 0 {
			b.WriteString(", ")
		}
		r.write(&b)
	}
	return b.String()
}

// Parse parses a relationship field value. An empty (or all-blank) value is
// an empty Dependency. Line breaks are blanks, as in a folded field.
func Parse(s string) (Dependency, error) {
	p := parser{s: s}
	p.skip()
	if p.i == len(s) {
		return nil, nil
	}
	// Count commas first so the outer slice is allocated once.
	d := make(Dependency, 0, strings.Count(s, ",")+1)
	for {
		r, err := p.relation()
		if err != nil {
			return nil, err
		}
		d = append(d, r)
		p.skip()
		if p.i == len(s) {
			return d, nil
		}
		if s[p.i] != ',' {
			return nil, p.errorf("expected ',' or end of field, found %q", s[p.i])
		}
		p.i++
	}
}

// ParseRelation parses a single relation (alternatives, no commas).
func ParseRelation(s string) (Relation, error) {
	p := parser{s: s}
	r, err := p.relation()
	if err != nil {
		return nil, err
	}
	p.skip()
	if p.i != len(s) {
		return nil, p.errorf("unexpected %q after relation", s[p.i])
	}
	return r, nil
}

// Validate reports whether s parses as a relationship field, exactly as
// Parse would: it returns nil when Parse succeeds and the same error when it
// fails, without building the Dependency. It allocates nothing on success,
// which matters to a caller that checks every field of a 60,000-stanza index
// but needs few of them parsed.
func Validate(s string) error {
	p := parser{s: s, check: true}
	p.skip()
	if p.i == len(s) {
		return nil
	}
	for {
		if _, err := p.relation(); err != nil {
			return err
		}
		p.skip()
		if p.i == len(s) {
			return nil
		}
		if s[p.i] != ',' {
			return p.errorf("expected ',' or end of field, found %q", s[p.i])
		}
		p.i++
	}
}

type parser struct {
	s string
	i int
	// check: only validate (Validate); relation returns nil and
	// possibility records neither architectures nor profiles.
	check bool
}

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{Input: p.s, Offset: p.i, Msg: fmt.Sprintf(format, args...)}
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *parser) skip() {
	for p.i < len(p.s) && isBlank(p.s[p.i]) {
		p.i++
	}
}

func (p *parser) relation() (Relation, error) {
	var r Relation
	for {
		var poss Possibility
		if err := p.possibility(&poss); err != nil {
			return nil, err
		}
		if !p.check {
			if r == nil {
				r = make(Relation, 0, 1)
			}
			r = append(r, poss)
		}
		p.skip()
		if p.i < len(p.s) && p.s[p.i] == '|' {
			p.i++
			continue
		}
		return r, nil
	}
}

// isNameChar accepts what dpkg allows in package names plus upper case and
// '_', which old Provides and EDSP universes carry; names must still start
// with an alphanumeric.
func isNameChar(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		c == '+' || c == '-' || c == '.' || c == '_'
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')
}

func (p *parser) word(what string) (string, error) {
	start := p.i
	for p.i < len(p.s) && isNameChar(p.s[p.i]) {
		p.i++
	}
	if p.i == start {
		if p.i == len(p.s) {
			return "", p.errorf("missing %s at end of field", what)
		}
		return "", p.errorf("expected %s, found %q", what, p.s[p.i])
	}
	if !isAlnum(p.s[start]) {
		p.i = start
		return "", p.errorf("%s %q must start with a letter or digit", what, p.s[start:start+1])
	}
	return p.s[start:p.i], nil
}

func (p *parser) possibility(out *Possibility) error {
	p.skip()
	name, err := p.word("package name")
	if err != nil {
		return err
	}
	out.Name = name
	if p.i < len(p.s) && p.s[p.i] == ':' {
		p.i++
		q, err := p.word("architecture qualifier")
		if err != nil {
			return err
		}
		out.ArchQual = q
	}
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		p.i++
		p.skip()
		opStart := p.i
		for p.i < len(p.s) && (p.s[p.i] == '<' || p.s[p.i] == '>' || p.s[p.i] == '=') {
			p.i++
		}
		if p.i == opStart {
			return p.errorf("expected a relation operator (<< <= = >= >>) after '('")
		}
		op, err := ParseOp(p.s[opStart:p.i])
		if err != nil {
			p.i = opStart
			return p.errorf("%v", err)
		}
		out.Op = op
		p.skip()
		vStart := p.i
		for p.i < len(p.s) && p.s[p.i] != ')' && !isBlank(p.s[p.i]) {
			p.i++
		}
		if p.i == vStart {
			return p.errorf("missing version after %q", op.String())
		}
		v, err := version.Parse(p.s[vStart:p.i])
		if err != nil {
			p.i = vStart
			return p.errorf("%v", err)
		}
		out.Version = v
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return p.errorf("expected ')' to close the version constraint")
		}
		p.i++
		p.skip()
	}
	if p.i < len(p.s) && p.s[p.i] == '[' {
		p.i++
		n := 0 // entries in the list
		for {
			p.skip()
			if p.i >= len(p.s) {
				return p.errorf("unterminated architecture list")
			}
			if p.s[p.i] == ']' {
				p.i++
				break
			}
			var a ArchSpec
			if p.s[p.i] == '!' {
				a.Not = true
				p.i++
			}
			arch, err := p.word("architecture")
			if err != nil {
				return err
			}
			a.Arch = arch
			n++
			if !p.check {
				out.Archs = append(out.Archs, a)
			}
		}
		if n == 0 {
			return p.errorf("empty architecture list")
		}
		p.skip()
	}
	for p.i < len(p.s) && p.s[p.i] == '<' {
		p.i++
		var group []Profile
		n := 0 // terms in the group
		for {
			p.skip()
			if p.i >= len(p.s) {
				return p.errorf("unterminated build-profile list")
			}
			if p.s[p.i] == '>' {
				p.i++
				break
			}
			var t Profile
			if p.s[p.i] == '!' {
				t.Not = true
				p.i++
			}
			name, err := p.word("build profile")
			if err != nil {
				return err
			}
			t.Name = name
			n++
			if !p.check {
				group = append(group, t)
			}
		}
		if n == 0 {
			return p.errorf("empty build-profile list")
		}
		if !p.check {
			out.Profiles = append(out.Profiles, group)
		}
		p.skip()
	}
	return nil
}
