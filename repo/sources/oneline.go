package sources

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Parse reads one source in the one-line format, such as the CLI's
// --source flag gives: "deb [signed-by=/k.gpg arch=amd64] URI SUITE
// [COMPONENT...]". A '#' outside the options starts a comment. An empty or
// comment-only line is an error.
func Parse(line string) (*Source, error) {
	if strings.ContainsAny(line, "\n\r") {
		return nil, &Error{Msg: fmt.Sprintf("source %q: more than one line", line)}
	}
	s, err := parseLine(line)
	if err != nil {
		return nil, &Error{Msg: fmt.Sprintf("source %q: %v", line, err)}
	}
	if s == nil {
		return nil, &Error{Msg: fmt.Sprintf("source %q: no source on the line", line)}
	}
	return s, nil
}

// ParseList reads a sources.list file: one source per line, blank lines and
// comments skipped. name is used in errors and recorded in each Source.
func ParseList(r io.Reader, name string) ([]*Source, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var out []*Source
	for n := 1; sc.Scan(); n++ {
		s, err := parseLine(sc.Text())
		if err != nil {
			return out, &Error{File: name, Line: n, Msg: err.Error()}
		}
		if s != nil {
			s.File, s.Line = name, n
			out = append(out, s)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func trimSpace(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
}

// stripComment cuts the line at the first '#' that is not inside the
// option brackets, as apt does.
func stripComment(line string) string {
	depth := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '[':
			depth++
		case ']':
			depth--
		case '#':
			if depth <= 0 {
				return line[:i]
			}
		}
	}
	return line
}

// parseLine parses one line of a .list file; it returns nil, nil for a
// blank or comment line.
func parseLine(line string) (*Source, error) {
	line = trimSpace(stripComment(line))
	if line == "" {
		return nil, nil
	}
	i := strings.IndexAny(line, " \t\v")
	if i < 0 {
		return nil, fmt.Errorf("malformed line: no URI after the type %q", line)
	}
	typ := line[:i]
	if typ != Binary && typ != Src {
		return nil, fmt.Errorf("type %q is not known (want deb or deb-src)", typ)
	}
	s := &Source{Type: typ, Options: map[string]string{}}
	rest := skipSpace(line[i:])

	if strings.HasPrefix(rest, "[") {
		var err error
		if rest, err = s.parseOptions(skipSpace(rest[1:])); err != nil {
			return nil, err
		}
	}

	uri, rest, ok := quoteWord(rest)
	if !ok {
		return nil, fmt.Errorf("missing URI")
	}
	suite, rest, ok := quoteWord(rest)
	if !ok {
		return nil, fmt.Errorf("missing suite after URI %q", uri)
	}
	var err error
	if s.URI, err = parseURI(uri); err != nil {
		return nil, err
	}
	if suite == "" {
		return nil, fmt.Errorf("empty suite")
	}
	s.Suite = suite
	if strings.HasSuffix(suite, "/") {
		if c, _, ok := quoteWord(rest); ok {
			return nil, fmt.Errorf("flat repository suite %q takes no components, found %q", suite, c)
		}
		s.Flat = true
		return s, nil
	}
	for {
		c, r, ok := quoteWord(rest)
		if !ok {
			break
		}
		if c == "" {
			return nil, fmt.Errorf("empty component")
		}
		s.Components = append(s.Components, c)
		rest = r
	}
	if len(s.Components) == 0 {
		return nil, fmt.Errorf("suite %q needs at least one component (or a trailing '/' for a flat repository)", suite)
	}
	return s, nil
}

func skipSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	return s
}

// parseOptions reads "opt=val ...]" (the '[' already consumed) and returns
// what follows the closing bracket.
func (s *Source) parseOptions(rest string) (string, error) {
	for !strings.HasPrefix(rest, "]") {
		raw, next, ok := quoteWordRaw(rest)
		if !ok {
			return "", fmt.Errorf("malformed option list: missing ']'")
		}
		opt := unquote(raw)
		// apt accepts "[arch=amd64]" with no blank before the ']'.
		if strings.HasSuffix(raw, "]") {
			opt = unquote(raw[:len(raw)-1])
			next = "]" + next
		}
		if len(opt) < 3 {
			return "", fmt.Errorf("option %q is too short", opt)
		}
		key, value, ok := strings.Cut(opt, "=")
		switch {
		case !ok:
			return "", fmt.Errorf("option %q is not key=value", opt)
		case key == "":
			return "", fmt.Errorf("option %q has no name", opt)
		case value == "":
			return "", fmt.Errorf("option %q has no value", opt)
		}
		if err := s.setOption(key, value); err != nil {
			return "", err
		}
		rest = next
	}
	return skipSpace(rest[1:]), nil
}

// quoteWord splits the next word off s as apt's ParseQuoteWord does: a word
// ends at a blank outside "..." and [...] groups; its double quotes are
// removed and %XX escapes decoded. ok is false when s holds no word (or an
// unterminated group).
func quoteWord(s string) (word, rest string, ok bool) {
	raw, rest, ok := quoteWordRaw(s)
	if !ok {
		return "", s, false
	}
	return unquote(raw), rest, true
}

func quoteWordRaw(s string) (raw, rest string, ok bool) {
	s = skipSpace(s)
	if s == "" {
		return "", s, false
	}
	i := 0
	for i < len(s) && !isSpace(s[i]) {
		switch s[i] {
		case '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return "", s, false
			}
			i += 1 + j
		case '[':
			j := strings.IndexByte(s[i+1:], ']')
			if j < 0 {
				return "", s, false
			}
			i += 1 + j
		}
		i++
	}
	return s[:i], skipSpace(s[i:]), true
}

func unquote(raw string) string {
	if !strings.ContainsAny(raw, "\"%") {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '%' && i+2 < len(raw) && isHex(raw[i+1]) && isHex(raw[i+2]):
			b.WriteByte(unhex(raw[i+1])<<4 | unhex(raw[i+2]))
			i += 2
		case c == '"':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// parseURI checks that an archive URI is absolute: a scheme and a host or
// an absolute path. file: and copy: URIs name a local directory and may
// have no host but "localhost" (dropped); every other scheme needs a host.
// Fragments have no meaning for an archive and would be taken for a
// comment in the one-line format, so they are refused.
func parseURI(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("bad URI %q: %v", raw, err)
	}
	local := u.Scheme == "file" || u.Scheme == "copy"
	if local && strings.EqualFold(u.Host, "localhost") {
		u.Host = ""
	}
	switch {
	case u.Scheme == "":
		return nil, fmt.Errorf("URI %q has no scheme (file:, http:, https:)", raw)
	case u.Opaque != "" || (u.Host == "" && !strings.HasPrefix(u.Path, "/")):
		return nil, fmt.Errorf("URI %q is not absolute", raw)
	case local && u.Host != "":
		return nil, fmt.Errorf("URI %q names a host, but %s: is a local path", raw, u.Scheme)
	case !local && u.Host == "":
		return nil, fmt.Errorf("URI %q has no host", raw)
	case u.Fragment != "" || strings.HasSuffix(raw, "#"):
		return nil, fmt.Errorf("URI %q has a fragment", raw)
	}
	return u, nil
}
