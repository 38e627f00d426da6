// Package sources reads where packages come from: apt's source definitions,
// in the one-line format of sources.list and the deb822 format of .sources
// files, with the options apt knows (signed-by, arch, check-valid-until,
// trusted, ...) and any others kept as given.
//
// Parsing follows apt's own parser (apt-pkg/sourcelist.cc), so a file that
// apt accepts means the same thing here. Two deliberate differences, both
// because grey trusts per source only: a relative signed-by path is kept as
// written (apt rejects it) for the caller to resolve, and inline keys may
// also reach a one-line entry through %-escapes.
//
// Only Load and LoadFS read files; everything else works on strings.
package sources

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Type values of a Source.
const (
	Binary = "deb"     // binary packages
	Src    = "deb-src" // source packages; grey reads them but does not use them
)

// Tristate is an option that may be unset, so that the default of the
// caller (or of the repository) applies.
type Tristate int8

// The values of a Tristate.
const (
	Unset Tristate = iota
	Yes
	No
)

// String returns "yes", "no" or "unset".
func (t Tristate) String() string {
	switch t {
	case Yes:
		return "yes"
	case No:
		return "no"
	}
	return "unset"
}

// Bool returns the value, or def when it is unset.
func (t Tristate) Bool(def bool) bool {
	switch t {
	case Yes:
		return true
	case No:
		return false
	}
	return def
}

// Source is one archive suite to read packages from: one "deb" line, or one
// combination of type, URI and suite of a deb822 stanza.
type Source struct {
	Type string   // Binary ("deb") or Src ("deb-src")
	URI  *url.URL // the archive root
	// Suite is the distribution (bookworm) or, for a flat repository, a
	// path ending in "/" relative to URI ("./"). It may contain $(ARCH).
	Suite      string
	Components []string // empty for a flat repository
	Flat       bool     // Suite is a path: no dists/, no components

	// Architectures restricts the source to these architectures (option
	// arch, Architectures); nil means the caller's default. See Archs for
	// arch+= and arch-=.
	Architectures []string
	// SignedBy lists the keyring files and key fingerprints (option
	// signed-by, Signed-By) the Release must be signed with. Paths are as
	// written: a relative path is the caller's to resolve.
	SignedBy []string
	// SignedByKey is an ASCII-armored public key block given inline in
	// Signed-By, normalised (one key line per line, "." lines emptied).
	SignedByKey string
	// CheckValidUntil is the check-valid-until option.
	CheckValidUntil Tristate
	// Trusted is the trusted option: Yes skips signature checks, No
	// distrusts even a good signature.
	Trusted Tristate
	// ValidUntilMin and ValidUntilMax are valid-until-min/-max (seconds in
	// the file); zero when unset.
	ValidUntilMin, ValidUntilMax time.Duration

	// Options holds every option of the entry under its one-line name
	// ("arch", "signed-by", "lang", "target", "by-hash", "arch+", or any
	// unknown name as written; deb822 field names are mapped to these, and
	// unknown deb822 fields lower-cased). Multi-value options are
	// comma-separated. Options the fields above decode hold the canonical
	// form of their field.
	Options map[string]string

	// File and Line locate the definition; File is "" for Parse.
	File string
	Line int
}

// IsBinary reports whether the source provides binary packages.
func (s *Source) IsBinary() bool { return s.Type == Binary }

// Archs returns the architectures to fetch for this source, given the
// caller's defaults: Architectures when set, else defaults, then with the
// arch+ values added and the arch- values removed, as apt applies them.
func (s *Source) Archs(defaults []string) []string {
	out := slices.Clone(s.Architectures)
	if out == nil {
		out = slices.Clone(defaults)
	}
	for _, a := range splitList(s.Options["arch+"]) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if rm := splitList(s.Options["arch-"]); len(rm) > 0 {
		out = slices.DeleteFunc(out, func(a string) bool { return slices.Contains(rm, a) })
	}
	return out
}

// ExpandSuite returns Suite with $(ARCH) replaced by arch, as apt does for
// flat repositories.
func (s *Source) ExpandSuite(arch string) string {
	return strings.ReplaceAll(s.Suite, "$(ARCH)", arch)
}

// DistURL returns the directory holding the InRelease and Release files:
// URI/dists/SUITE/, or URI/SUITE for a flat repository. arch replaces
// $(ARCH) in the suite.
func (s *Source) DistURL(arch string) *url.URL {
	u := *s.URI
	suite := s.ExpandSuite(arch)
	if s.Flat {
		u.Path = joinDir(u.Path, suite)
	} else {
		u.Path = joinDir(u.Path, "dists/"+suite)
	}
	u.RawPath = ""
	return &u
}

// BaseURL returns the archive root with a trailing slash: the Filename
// fields of its Packages indexes are relative to it.
func (s *Source) BaseURL() *url.URL {
	u := *s.URI
	u.Path = joinDir(u.Path, "")
	u.RawPath = ""
	return &u
}

func joinDir(base, rel string) string {
	p := path.Join("/", base, rel)
	if p != "/" {
		p += "/"
	}
	return p
}

// maxIDLen keeps an ID well below the 255-byte file name limit.
const maxIDLen = 160

// ID returns a stable identifier of the archive suite this source reads,
// safe as a file name: the scheme, the host (absent for file:) and the
// directory holding InRelease (see DistURL), '/' written as '_' and every
// byte other than letters, digits and ".+~-" written as %XX, so different
// suites never share an ID. "file:/srv/debian bookworm" gives
// "file_srv_debian_dists_bookworm" and "http://deb.debian.org/debian
// bookworm" gives "http_deb.debian.org_debian_dists_bookworm". Credentials,
// the type and the components take no part: deb and deb-src of one suite
// share an ID, as do "file:/srv/d dists/x/" and "file:/srv/d x". An ID
// longer than 160 bytes is cut and ends with a hash of the whole.
func (s *Source) ID() string {
	dir := s.URI.Path
	if s.Flat {
		dir = path.Join("/", dir, s.Suite)
	} else {
		dir = path.Join("/", dir, "dists", s.Suite)
	}
	var b strings.Builder
	// Whether a URI has a host depends only on its scheme (see parseURI),
	// so leaving the host out for file: cannot make two IDs equal.
	b.WriteString(escapeID(strings.ToLower(s.URI.Scheme)))
	if s.URI.Host != "" {
		b.WriteByte('_')
		b.WriteString(escapeID(strings.ToLower(s.URI.Host)))
	}
	if dir != "/" {
		b.WriteString(escapeID(dir))
	}
	id := b.String()
	if len(id) > maxIDLen {
		sum := sha256.Sum256([]byte(id))
		id = id[:maxIDLen-17] + "~" + hex.EncodeToString(sum[:8])
	}
	return id
}

func escapeID(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/':
			b.WriteByte('_')
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '+', c == '~', c == '-':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// String returns the source in the one-line format, options sorted by name;
// Parse reads it back to an equal Source. Characters that would end a word
// or start a comment are %-escaped, as apt decodes them.
func (s *Source) String() string {
	var b strings.Builder
	b.WriteString(s.Type)
	opts := s.options()
	if len(opts) > 0 {
		keys := make([]string, 0, len(opts))
		for k := range opts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteString(" [")
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(escapeWord(k + "=" + opts[k]))
		}
		b.WriteByte(']')
	}
	b.WriteByte(' ')
	if s.URI != nil {
		b.WriteString(escapeWord(s.URI.String()))
	}
	b.WriteByte(' ')
	b.WriteString(escapeWord(s.Suite))
	for _, c := range s.Components {
		b.WriteByte(' ')
		b.WriteString(escapeWord(c))
	}
	return b.String()
}

// options returns Options with the decoded fields written back in
// canonical form, so that a Source changed through its fields prints what
// it holds.
func (s *Source) options() map[string]string {
	out := make(map[string]string, len(s.Options)+4)
	for k, v := range s.Options {
		out[k] = v
	}
	setOrDelete := func(k, v string) {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	setOrDelete("arch", strings.Join(s.Architectures, ","))
	signed := strings.Join(s.SignedBy, ",")
	if s.SignedByKey != "" {
		signed = s.SignedByKey
	}
	setOrDelete("signed-by", signed)
	setOrDelete("check-valid-until", tristateOption(s.CheckValidUntil))
	setOrDelete("trusted", tristateOption(s.Trusted))
	setOrDelete("valid-until-min", durationOption(s.ValidUntilMin))
	setOrDelete("valid-until-max", durationOption(s.ValidUntilMax))
	return out
}

func tristateOption(t Tristate) string {
	if t == Unset {
		return ""
	}
	return t.String()
}

func durationOption(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return strconv.FormatInt(int64(d/time.Second), 10)
}

// escapeWord %-escapes the bytes that apt's word splitter would treat
// specially: blanks and control bytes, '"', '#', '%', '[' and ']'.
func escapeWord(w string) string {
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c <= ' ' || c == 0x7f || c == '"' || c == '#' || c == '%' || c == '[' || c == ']' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// splitList splits a comma-separated option value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Error is a malformed source definition.
type Error struct {
	File string // "" for Parse
	Line int
	Msg  string
}

// Error returns "FILE:LINE: msg", or just the message for Parse, whose
// message quotes the line.
func (e *Error) Error() string {
	if e.File == "" {
		return e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}
