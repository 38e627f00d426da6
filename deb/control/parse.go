package control

import (
	"bytes"
	"io"
)

// ParseOne parses data that must hold exactly one stanza, as a package's
// DEBIAN/control file does. data is read as plain text, never decompressed.
// Zero or several stanzas are a *SyntaxError.
func ParseOne(data []byte) (*Stanza, error) {
	r := NewReader(bytes.NewReader(data))
	r.plain = true
	st, err := r.Next()
	if err == io.EOF {
		return nil, &SyntaxError{Line: r.line + 1, Msg: "no stanza"}
	}
	if err != nil {
		return nil, err
	}
	extra, err := r.Next()
	switch {
	case err == nil:
		return nil, &SyntaxError{Line: extra.Line, Msg: "more than one stanza"}
	case err != io.EOF:
		return nil, err
	}
	return st, nil
}

// ParseAll reads every stanza of r (plain or compressed). On error it returns
// the stanzas read before it together with the error.
func ParseAll(r io.Reader) ([]*Stanza, error) {
	cr := NewReader(r)
	defer cr.Close()
	var all []*Stanza
	for {
		st, err := cr.Next()
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return all, err
		}
		all = append(all, st)
	}
}
