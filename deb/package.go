// Package deb holds the types that tie Debian's format vocabulary together:
// a binary package's metadata, decoded from a control stanza (an index
// entry, a .deb's control file, or a dpkg status entry).
//
// The vocabulary itself lives in sub-packages: version (dpkg's order),
// relation (the dependency grammar), control (deb822 stanzas), archive
// (.deb files) and compress (the stream formats).
package deb

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/deb/version"
)

// MultiArch is the Multi-Arch field's value.
type MultiArch uint8

// The Multi-Arch values; MultiArchNo is the default when the field is absent.
const (
	MultiArchNo MultiArch = iota
	MultiArchSame
	MultiArchForeign
	MultiArchAllowed
)

// String returns the field's spelling ("no", "same", "foreign", "allowed").
func (m MultiArch) String() string {
	switch m {
	case MultiArchSame:
		return "same"
	case MultiArchForeign:
		return "foreign"
	case MultiArchAllowed:
		return "allowed"
	}
	return "no"
}

// ParseMultiArch parses a Multi-Arch field value; "" is MultiArchNo.
func ParseMultiArch(s string) (MultiArch, error) {
	switch s {
	case "", "no":
		return MultiArchNo, nil
	case "same":
		return MultiArchSame, nil
	case "foreign":
		return MultiArchForeign, nil
	case "allowed":
		return MultiArchAllowed, nil
	}
	return MultiArchNo, fmt.Errorf("unknown Multi-Arch value %q", s)
}

// Package is a binary package's metadata.
type Package struct {
	Name         string
	Version      version.Version
	Architecture string
	MultiArch    MultiArch
	Essential    bool
	Priority     string
	Section      string
	Maintainer   string
	// Source is the source package's name; it defaults to Name.
	Source string
	// SourceVersion is the source package's version; it defaults to Version.
	SourceVersion version.Version
	// InstalledSize is in KiB, as the Installed-Size field gives it.
	InstalledSize int64

	// Filename, Size, SHA256 and MD5sum locate and check the .deb in an
	// archive; they are empty for a package read from a .deb or a status file.
	Filename string
	Size     int64
	SHA256   string
	MD5sum   string

	Depends    relation.Dependency
	PreDepends relation.Dependency
	Recommends relation.Dependency
	Suggests   relation.Dependency
	Enhances   relation.Dependency
	Conflicts  relation.Dependency
	Breaks     relation.Dependency
	Provides   relation.Dependency
	Replaces   relation.Dependency

	// Stanza is the whole control stanza the package was decoded from.
	Stanza *control.Stanza

	// Origin says where this candidate comes from: a source's identifier,
	// "installed", or a file path. It is not a control field: whoever
	// loads the package sets it, and the resolver reports it.
	Origin string
}

// FieldError reports a field of a stanza that could not be decoded.
type FieldError struct {
	// Package is the stanza's Package field ("" if that is what is missing).
	Package string
	// Line is the stanza's first line in its file, when known.
	Line int
	// Field names the field.
	Field string
	// Err is the underlying problem.
	Err error
}

func (e *FieldError) Error() string {
	where := e.Package
	if where == "" {
		where = "stanza"
	}
	if e.Line > 0 {
		where = fmt.Sprintf("%s (line %d)", where, e.Line)
	}
	return fmt.Sprintf("%s: field %s: %v", where, e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// FromStanza decodes a binary package stanza. Package, Version and
// Architecture are required; every relationship field must parse.
func FromStanza(s *control.Stanza) (*Package, error) {
	p := &Package{Stanza: s}
	fail := func(field string, err error) (*Package, error) {
		return nil, &FieldError{Package: p.Name, Line: s.Line, Field: field, Err: err}
	}
	p.Name = s.Get("Package")
	if p.Name == "" {
		return fail("Package", fmt.Errorf("missing"))
	}
	vs := s.Get("Version")
	if vs == "" {
		return fail("Version", fmt.Errorf("missing"))
	}
	v, err := version.Parse(vs)
	if err != nil {
		return fail("Version", err)
	}
	p.Version = v
	p.Architecture = s.Get("Architecture")
	if p.Architecture == "" {
		return fail("Architecture", fmt.Errorf("missing"))
	}
	if p.MultiArch, err = ParseMultiArch(s.Get("Multi-Arch")); err != nil {
		return fail("Multi-Arch", err)
	}
	p.Essential = strings.EqualFold(s.Get("Essential"), "yes")
	p.Priority = s.Get("Priority")
	p.Section = s.Get("Section")
	p.Maintainer = s.Get("Maintainer")
	p.Source, p.SourceVersion = p.Name, p.Version
	if src := s.Get("Source"); src != "" {
		name, rest, hasVersion := strings.Cut(src, " ")
		p.Source = name
		if hasVersion {
			rest = strings.TrimSpace(rest)
			if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
				return fail("Source", fmt.Errorf("want %q or %q, got %q", "NAME", "NAME (VERSION)", src))
			}
			sv, err := version.Parse(rest[1 : len(rest)-1])
			if err != nil {
				return fail("Source", err)
			}
			p.SourceVersion = sv
		}
	}
	if is := s.Get("Installed-Size"); is != "" {
		n, err := strconv.ParseInt(is, 10, 64)
		if err != nil || n < 0 {
			return fail("Installed-Size", fmt.Errorf("not a size: %q", is))
		}
		p.InstalledSize = n
	}
	p.Filename = s.Get("Filename")
	if sz := s.Get("Size"); sz != "" {
		n, err := strconv.ParseInt(sz, 10, 64)
		if err != nil || n < 0 {
			return fail("Size", fmt.Errorf("not a size: %q", sz))
		}
		p.Size = n
	}
	p.SHA256 = s.Get("SHA256")
	p.MD5sum = s.Get("MD5sum")
	for _, f := range []struct {
		name string
		dst  *relation.Dependency
	}{
		{"Depends", &p.Depends}, {"Pre-Depends", &p.PreDepends}, {"Recommends", &p.Recommends},
		{"Suggests", &p.Suggests}, {"Enhances", &p.Enhances}, {"Conflicts", &p.Conflicts},
		{"Breaks", &p.Breaks}, {"Provides", &p.Provides}, {"Replaces", &p.Replaces},
	} {
		val, ok := s.Lookup(f.name)
		if !ok {
			continue
		}
		d, err := relation.Parse(val)
		if err != nil {
			return fail(f.name, err)
		}
		*f.dst = d
	}
	return p, nil
}

// String identifies the package as name_version_architecture, the form of
// a .deb file name.
func (p *Package) String() string {
	return p.Name + "_" + p.Version.String() + "_" + p.Architecture
}

// EffectiveArch is the architecture a package of architecture arch is
// installed and resolves its dependencies as, on a system whose native
// architecture is native: "all" counts as native.
func EffectiveArch(arch, native string) string {
	if arch == "all" {
		return native
	}
	return arch
}

// ArchSatisfies is dpkg's deparchsatisfied: may p (by its name or through
// its Provides) satisfy possibility pv, written in a package whose
// effective architecture is from, on a system whose native architecture is
// native? An Architecture: all package counts as native, and so must from.
//
// A Multi-Arch: foreign package satisfies a dependency from any
// architecture; "name:any" is satisfied only by a Multi-Arch: allowed (or
// foreign) package, never by a plain one even of the same architecture;
// "name:native" and "name:ARCH" name the architecture. Conflicts and Breaks
// (conflict set) without a qualifier, or with ":any", hit every
// architecture.
func ArchSatisfies(p *Package, pv *relation.Possibility, from, native string, conflict bool) bool {
	return ArchSatisfiesAs(p.Architecture, p.MultiArch, pv, from, native, conflict)
}

// ArchSatisfiesAs is ArchSatisfies for a package known by its
// Architecture field and Multi-Arch value alone (a numbered package set
// keeps no deb.Package).
func ArchSatisfiesAs(architecture string, ma MultiArch, pv *relation.Possibility, from, native string, conflict bool) bool {
	if conflict && (pv.ArchQual == "" || pv.ArchQual == "any") {
		return true
	}
	if ma == MultiArchForeign {
		return true
	}
	arch := EffectiveArch(architecture, native)
	switch pv.ArchQual {
	case "":
		return arch == from
	case "any":
		return ma == MultiArchAllowed
	case "native":
		return arch == native
	case "all":
		return arch == native
	}
	return arch == pv.ArchQual
}

// HostArch returns the Debian name of the architecture grey runs on (Go's
// GOARCH, renamed where Debian's name differs).
func HostArch() string {
	switch runtime.GOARCH {
	case "386":
		return "i386"
	case "arm":
		return "armhf"
	case "ppc64le":
		return "ppc64el"
	case "mips64le":
		return "mips64el"
	case "mipsle":
		return "mipsel"
	}
	return runtime.GOARCH
}
