// Package control reads and writes deb822 control stanzas: DEBIAN/control
// files, Packages and Release indexes, dpkg's status file and apt's .sources
// files.
//
// The Reader is built for 66,000-stanza indexes: it reads in large chunks,
// turns each stanza's bytes into one string and hands out fields as
// substrings of it, so parsing costs a few allocations per stanza, not per
// field. Input compressed with xz, gzip, zstd or bzip2 is decompressed
// transparently.
//
// The syntax accepted is the one dpkg and apt read: field names are
// case-insensitive; a line starting with space or tab continues the previous
// field; lines starting with '#' in column 0 are comments; one or more blank
// lines (empty or only spaces and tabs) separate stanzas; CRLF line ends and
// a leading UTF-8 byte order mark are tolerated. A malformed input is always
// reported as a *SyntaxError naming the file and line.
package control

import (
	"fmt"
	"strings"
)

// Field is one "Name: Value" pair of a stanza.
//
// Value is the text after the colon with the first line's leading and
// trailing blanks removed; each continuation line follows after a "\n",
// verbatim with its leading space or tab; trailing whitespace of the whole
// value is removed. A Description thus reads "short\n long text\n .\n more",
// and "Conffiles:\n /etc/x abc" has the Value "\n /etc/x abc".
type Field struct{ Name, Value string }

// Stanza is one paragraph of fields, in input order.
type Stanza struct {
	Fields []Field
	// Line is the 1-based line of the stanza's first field in its input
	// (0 for a stanza built in memory).
	Line int
}

// Get returns the value of the field called name, compared
// case-insensitively, or "" when the stanza has no such field.
func (s *Stanza) Get(name string) string {
	v, _ := s.Lookup(name)
	return v
}

// Lookup returns the value of the field called name (compared
// case-insensitively) and whether the stanza has it, so an empty value can be
// told apart from a missing field.
func (s *Stanza) Lookup(name string) (string, bool) {
	if i := s.index(name); i >= 0 {
		return s.Fields[i].Value, true
	}
	return "", false
}

// Set replaces the value of the field called name (compared
// case-insensitively, keeping the existing spelling and position), or
// appends the field when the stanza does not have it.
func (s *Stanza) Set(name, value string) {
	if i := s.index(name); i >= 0 {
		s.Fields[i].Value = value
		return
	}
	s.Fields = append(s.Fields, Field{Name: name, Value: value})
}

// Delete removes the field called name (compared case-insensitively) and
// reports whether it was present.
func (s *Stanza) Delete(name string) bool {
	i := s.index(name)
	if i < 0 {
		return false
	}
	s.Fields = append(s.Fields[:i], s.Fields[i+1:]...)
	return true
}

func (s *Stanza) index(name string) int {
	for i := range s.Fields {
		if len(s.Fields[i].Name) == len(name) && strings.EqualFold(s.Fields[i].Name, name) {
			return i
		}
	}
	return -1
}

// SyntaxError reports malformed deb822 input. Every parse failure of this
// package is a *SyntaxError, so callers can tell bad data from I/O errors
// with errors.As.
type SyntaxError struct {
	File string // the name given to NewReaderName, or ""
	Line int    // 1-based line of the offending input
	Msg  string
}

// Error returns "FILE:LINE: msg", or "line LINE: msg" when the input had no
// name.
func (e *SyntaxError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// validName reports whether name may be a field name: non-empty printable
// US-ASCII without space or colon, not starting with '#' or '-' (deb822(5)).
func validName(name string) bool {
	if name == "" || name[0] == '#' || name[0] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}
