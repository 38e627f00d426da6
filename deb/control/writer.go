package control

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrInvalidField reports a field that cannot be written so that it reads
// back unchanged: a bad name, a duplicate, or a value whose continuation
// lines would be lost or change meaning.
var ErrInvalidField = errors.New("invalid field")

// Writer writes stanzas in canonical form, separated by one blank line.
type Writer struct {
	w   io.Writer
	buf []byte
	n   int
}

// NewWriter returns a Writer to w. Each Write issues one w.Write call, so no
// Flush is needed.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// Write writes s, preceded by a blank line unless it is the first stanza.
func (w *Writer) Write(s *Stanza) error {
	w.buf = w.buf[:0]
	if w.n > 0 {
		w.buf = append(w.buf, '\n')
	}
	var err error
	w.buf, err = AppendStanza(w.buf, s)
	if err != nil {
		return err
	}
	if _, err := w.w.Write(w.buf); err != nil {
		return fmt.Errorf("write stanza: %w", err)
	}
	w.n++
	return nil
}

// WriteStanza writes s to w as "Name: Value\n" lines, without a blank line
// before or after it.
func WriteStanza(w io.Writer, s *Stanza) error {
	b, err := AppendStanza(nil, s)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write stanza: %w", err)
	}
	return nil
}

// AppendStanza appends s in canonical form to dst: one "Name: Value" line per
// field, multi-line values as stored (a value starting with "\n" follows the
// colon directly), each line ended by "\n". It checks every field first
// (errors wrap ErrInvalidField) so that what it writes reads back equal.
func AppendStanza(dst []byte, s *Stanza) ([]byte, error) {
	if err := CheckStanza(s); err != nil {
		return dst, err
	}
	for _, f := range s.Fields {
		dst = append(dst, f.Name...)
		dst = append(dst, ':')
		if f.Value != "" && f.Value[0] != '\n' {
			dst = append(dst, ' ')
		}
		dst = append(dst, f.Value...)
		dst = append(dst, '\n')
	}
	return dst, nil
}

// CheckStanza reports, wrapping ErrInvalidField, the first field of s that
// cannot be written faithfully, or a stanza without fields.
func CheckStanza(s *Stanza) error {
	if len(s.Fields) == 0 {
		return fmt.Errorf("%w: stanza has no fields", ErrInvalidField)
	}
	for i, f := range s.Fields {
		if err := CheckField(f); err != nil {
			return err
		}
		if i < 32 {
			for _, g := range s.Fields[:i] {
				if len(g.Name) == len(f.Name) && strings.EqualFold(g.Name, f.Name) {
					return fmt.Errorf("%w: duplicate field %q", ErrInvalidField, f.Name)
				}
			}
		}
	}
	if len(s.Fields) > 32 {
		seen := make(map[string]bool, len(s.Fields))
		for _, f := range s.Fields {
			k := strings.ToLower(f.Name)
			if seen[k] {
				return fmt.Errorf("%w: duplicate field %q", ErrInvalidField, f.Name)
			}
			seen[k] = true
		}
	}
	return nil
}

// CheckField reports, wrapping ErrInvalidField, why f cannot be written so
// that it reads back unchanged, or nil.
func CheckField(f Field) error {
	if !validName(f.Name) {
		return fmt.Errorf("%w: bad field name %q", ErrInvalidField, f.Name)
	}
	v := f.Value
	if v == "" {
		return nil
	}
	bad := func(why string) error {
		return fmt.Errorf("%w: field %s: %s", ErrInvalidField, f.Name, why)
	}
	if v[0] == ' ' || v[0] == '\t' {
		return bad("value starts with a blank")
	}
	if c := v[len(v)-1]; c == ' ' || c == '\t' || c == '\r' || c == '\n' {
		return bad("value ends with whitespace")
	}
	first, rest, more := strings.Cut(v, "\n")
	if more && first != trimRight(first) {
		return bad("first line ends with whitespace")
	}
	for more {
		var line string
		line, rest, more = strings.Cut(rest, "\n")
		if line == "" || (line[0] != ' ' && line[0] != '\t') {
			return bad("continuation line does not start with a space or tab")
		}
		if trimRight(line) == "" {
			return bad("blank continuation line (use \" .\" for an empty line)")
		}
		if line[len(line)-1] == '\r' {
			return bad("continuation line ends with CR")
		}
	}
	return nil
}
