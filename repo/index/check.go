package index

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/deb/version"
)

// The fields checkStanza reads, in the order deb.FromStanza checks them;
// the relationship fields last, in its order too, so that the first bad one
// is the one it reports.
const (
	fPackage = iota
	fVersion
	fArchitecture
	fMultiArch
	fSource
	fInstalledSize
	fSize
	fSHA256
	fDescription
	fDepends // the first relationship field
	fPreDepends
	fRecommends
	fSuggests
	fEnhances
	fConflicts
	fBreaks
	fProvides
	fReplaces
	numFields
)

// fieldNames spells the fields as deb.FromStanza names them in its errors.
var fieldNames = [numFields]string{
	fPackage: "Package", fVersion: "Version", fArchitecture: "Architecture",
	fMultiArch: "Multi-Arch", fSource: "Source", fInstalledSize: "Installed-Size",
	fSize: "Size", fSHA256: "SHA256", fDescription: "Description",
	fDepends: "Depends", fPreDepends: "Pre-Depends", fRecommends: "Recommends",
	fSuggests: "Suggests", fEnhances: "Enhances", fConflicts: "Conflicts",
	fBreaks: "Breaks", fProvides: "Provides", fReplaces: "Replaces",
}

// fieldID returns the field's number, or -1 for a field checkStanza does not
// read. Names compare case-insensitively, as control.Stanza.Get compares
// them.
func fieldID(name string) int {
	var cands []int
	switch len(name) {
	case 4:
		cands = []int{fSize}
	case 6:
		cands = []int{fSource, fSHA256, fBreaks}
	case 7:
		cands = []int{fPackage, fVersion, fDepends}
	case 8:
		cands = []int{fSuggests, fEnhances, fProvides, fReplaces}
	case 9:
		cands = []int{fConflicts}
	case 10:
		cands = []int{fMultiArch, fRecommends}
	case 11:
		cands = []int{fDescription, fPreDepends}
	case 12:
		cands = []int{fArchitecture}
	case 14:
		cands = []int{fInstalledSize}
	default:
		return -1
	}
	for _, id := range cands {
		if name == fieldNames[id] { // the usual spelling
			return id
		}
	}
	for _, id := range cands {
		if strings.EqualFold(name, fieldNames[id]) {
			return id
		}
	}
	return -1
}

// checkWritable returns control.CheckStanza(st): whether the stanza can be
// stored so that it reads back unchanged. It checks each field with
// control.CheckField, as CheckStanza does, but compares a name with the
// earlier ones only when a cheap key says they may be equal; CheckStanza
// compares every pair (190 case-insensitive comparisons for a typical
// stanza of 20 fields). Whenever it finds anything wrong, or the stanza is
// not a typical one, it returns what control.CheckStanza says, so the
// answer is CheckStanza's by construction.
func checkWritable(st *control.Stanza) error {
	if len(st.Fields) == 0 || len(st.Fields) > 32 {
		return control.CheckStanza(st)
	}
	var seen [4]uint64 // a set of nameKeys
	for i, f := range st.Fields {
		if err := control.CheckField(f); err != nil {
			return control.CheckStanza(st)
		}
		k := nameKey(f.Name)
		if seen[k/64]&(1<<(k%64)) != 0 {
			for _, g := range st.Fields[:i] {
				if len(g.Name) == len(f.Name) && strings.EqualFold(g.Name, f.Name) {
					return control.CheckStanza(st)
				}
			}
		}
		seen[k/64] |= 1 << (k % 64)
	}
	return nil
}

// nameKey condenses a field name that control.CheckField accepted (so
// ASCII) into 0..255; names equal but for case have the same key.
func nameKey(name string) uint {
	lower := func(c byte) uint {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		return uint(c)
	}
	return (uint(len(name))*131 + lower(name[0])*31 + lower(name[len(name)-1])*7 + lower(name[len(name)/2])) % 256
}

// stanzaInfo is what the index keeps of a stanza that checkStanza accepts.
type stanzaInfo struct {
	name, arch, sha256 string
	// rawVersion is the Version field as written; version, parsed.
	rawVersion string
	version    version.Version
	// description is the Description field (its first line is the summary).
	description string
	// provides is the parsed Provides field.
	provides relation.Dependency
}

// errMissing is deb.FromStanza's error for a required field that is absent.
var errMissing = errors.New("missing")

// checkStanza decides, as deb.FromStanza does, whether st decodes as a
// binary package, and returns the same *deb.FieldError when it does not:
// Build must keep exactly the stanzas that decode later. It reads the
// stanza's fields in one pass, validates the relationship fields without
// building them (relation.Validate), and parses only Provides, which the
// index needs; FromStanza would build the whole deb.Package and every
// relation, most of the garbage of a build. TestCheckStanzaAgrees and
// FuzzCheckStanza hold the two to the same decisions and error texts.
func checkStanza(st *control.Stanza) (stanzaInfo, error) {
	var (
		vals [numFields]string
		have uint32 // bit i: vals[i] came from the stanza
	)
	for _, f := range st.Fields {
		// The first field of a name wins, as with Stanza.Get.
		if id := fieldID(f.Name); id >= 0 && have&(1<<id) == 0 {
			vals[id] = f.Value
			have |= 1 << id
		}
	}
	var info stanzaInfo
	fail := func(field int, err error) (stanzaInfo, error) {
		return stanzaInfo{}, &deb.FieldError{Package: info.name, Line: st.Line, Field: fieldNames[field], Err: err}
	}
	info.name = vals[fPackage]
	if info.name == "" {
		return fail(fPackage, errMissing)
	}
	info.rawVersion = vals[fVersion]
	if info.rawVersion == "" {
		return fail(fVersion, errMissing)
	}
	v, err := version.Parse(info.rawVersion)
	if err != nil {
		return fail(fVersion, err)
	}
	info.version = v
	info.arch = vals[fArchitecture]
	if info.arch == "" {
		return fail(fArchitecture, errMissing)
	}
	if _, err := deb.ParseMultiArch(vals[fMultiArch]); err != nil {
		return fail(fMultiArch, err)
	}
	if src := vals[fSource]; src != "" {
		_, rest, hasVersion := strings.Cut(src, " ")
		if hasVersion {
			rest = strings.TrimSpace(rest)
			if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
				return fail(fSource, fmt.Errorf("want %q or %q, got %q", "NAME", "NAME (VERSION)", src))
			}
			if _, err := version.Parse(rest[1 : len(rest)-1]); err != nil {
				return fail(fSource, err)
			}
		}
	}
	for _, id := range []int{fInstalledSize, fSize} {
		if s := vals[id]; s != "" {
			if n, err := strconv.ParseInt(s, 10, 64); err != nil || n < 0 {
				return fail(id, fmt.Errorf("not a size: %q", s))
			}
		}
	}
	info.sha256 = vals[fSHA256]
	info.description = vals[fDescription]
	for id := fDepends; id < numFields; id++ {
		// An absent field and an empty one both parse as no relations.
		if id == fProvides {
			d, err := relation.Parse(vals[id])
			if err != nil {
				return fail(id, err)
			}
			info.provides = d
			continue
		}
		if err := relation.Validate(vals[id]); err != nil {
			return fail(id, err)
		}
	}
	return info, nil
}

// String is deb.Package.String of the package: name_version_architecture.
func (info *stanzaInfo) String() string {
	return info.name + "_" + info.version.String() + "_" + info.arch
}

// appendVersion appends v.String() to dst without the intermediate string.
func appendVersion(dst []byte, v version.Version) []byte {
	if v.Epoch != 0 || strings.IndexByte(v.Upstream, ':') >= 0 {
		dst = strconv.AppendUint(dst, uint64(v.Epoch), 10)
		dst = append(dst, ':')
	}
	dst = append(dst, v.Upstream...)
	if v.Revision != "" {
		dst = append(dst, '-')
		dst = append(dst, v.Revision...)
	}
	return dst
}
