package index

import (
	"errors"
	"strings"

	"github.com/greypm/grey/deb/control"
)

var errNotCanonical = errors.New("stanza text is not in canonical form")

// decodeCanonical reads back a stanza written by appendCanonical. The cache
// does not go through control.Reader here: that reader is built for
// streaming large files (it allocates a 1 MiB buffer per call), and the
// canonical form needs no more than splitting lines. text must be a string
// the caller owns: the fields are substrings of it.
func decodeCanonical(text string, line int) (*control.Stanza, error) {
	if text == "" || text[len(text)-1] != '\n' {
		return nil, errNotCanonical
	}
	n := 0
	for i := 0; i < len(text); i++ {
		if (i == 0 || text[i-1] == '\n') && text[i] != ' ' && text[i] != '\t' {
			n++
		}
	}
	st := &control.Stanza{Fields: make([]control.Field, 0, n), Line: line}
	rest := text
	for rest != "" {
		// The field runs to the first newline not followed by a
		// continuation line.
		end := 0
		for {
			i := strings.IndexByte(rest[end:], '\n')
			if i < 0 {
				return nil, errNotCanonical
			}
			end += i + 1
			if end == len(rest) || rest[end] != ' ' && rest[end] != '\t' {
				break
			}
		}
		f := rest[:end-1]
		rest = rest[end:]
		name, val, ok := strings.Cut(f, ":")
		if !ok || name == "" || name[0] == ' ' || name[0] == '\t' {
			return nil, errNotCanonical
		}
		if val != "" && val[0] == ' ' {
			val = val[1:]
		}
		st.Fields = append(st.Fields, control.Field{Name: name, Value: val})
	}
	return st, nil
}
