// Package config reads grey's configuration file, ROOT/etc/grey/grey.conf.
//
// The file uses apt.conf(5)'s syntax, so an apt user can copy lines from
// apt.conf.d: each setting is a name of "::"-separated parts and a value,
// ended by a semicolon, and names may be grouped in braces:
//
//	// comments run to the end of the line, as do those from a # on
//	Acquire::http::Proxy "http://proxy.example.org:3128";
//	Acquire::http {
//	  Timeout "30";
//	  Proxy::deb.example.org "DIRECT";
//	};
//
// Values are quoted (an unquoted value ends at a blank, and "//" starts a
// comment). Names are compared without regard to case, as apt does.
// Lists, #include and #clear are not supported and are refused with the
// line number. A
// missing file is an empty configuration. Settings grey does not know are
// kept and ignored, as apt ignores them.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// File is where the configuration is kept, relative to the root.
const File = "etc/grey/grey.conf"

// Config is a parsed configuration: values by name.
type Config struct {
	// Path is the file it was read from ("" for none), for messages.
	Path string
	vals map[string]entry
}

type entry struct {
	name  string // as written (for Names)
	value string
	line  int
}

// Load reads ROOT/etc/grey/grey.conf; a missing file is an empty
// configuration.
func Load(root string) (*Config, error) {
	path := filepath.Join(root, File)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{vals: map[string]entry{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return Parse(data, path)
}

// Parse reads a configuration from data; name is used in messages.
func Parse(data []byte, name string) (*Config, error) {
	c := &Config{Path: name, vals: map[string]entry{}}
	p := &parser{src: string(data), line: 1, name: name}
	var scope []string
	for {
		tok, line, err := p.next()
		if err != nil {
			return nil, err
		}
		switch {
		case tok.kind == tokEOF:
			if len(scope) > 0 {
				return nil, p.errorf(line, "%d unclosed '{'", len(scope))
			}
			return c, nil
		case tok.kind == tokClose:
			if len(scope) == 0 {
				return nil, p.errorf(line, "'}' without '{'")
			}
			scope = scope[:len(scope)-1]
			if err := p.expect(tokSemi, "';' after '}'"); err != nil {
				return nil, err
			}
		case tok.kind == tokWord && strings.HasPrefix(tok.text, "#"):
			return nil, p.errorf(line, "%s is not supported", strings.Fields(tok.text)[0])
		case tok.kind == tokWord:
			if strings.HasPrefix(tok.text, "::") || strings.HasSuffix(tok.text, "::") || strings.Contains(tok.text, "::::") {
				return nil, p.errorf(line, "malformed name %q", tok.text)
			}
			full := strings.Join(append(append([]string(nil), scope...), tok.text), "::")
			after, _, err := p.next()
			if err != nil {
				return nil, err
			}
			switch after.kind {
			case tokOpen:
				scope = append(scope, tok.text)
			case tokString, tokWord:
				if err := p.expect(tokSemi, "';' after the value of "+full); err != nil {
					return nil, err
				}
				c.vals[strings.ToLower(full)] = entry{name: full, value: after.text, line: line}
			case tokSemi:
				c.vals[strings.ToLower(full)] = entry{name: full, line: line}
			default:
				return nil, p.errorf(line, "a value for %s expected", full)
			}
		case tok.kind == tokString:
			return nil, p.errorf(line, "a value without a name (lists are not supported)")
		default:
			return nil, p.errorf(line, "unexpected %q", tok.text)
		}
	}
}

// Get returns the value of a setting and whether it is set.
func (c *Config) Get(name string) (string, bool) {
	e, ok := c.vals[strings.ToLower(name)]
	return e.value, ok
}

// String returns the value of a setting, or "" when it is not set.
func (c *Config) String(name string) string {
	v, _ := c.Get(name)
	return v
}

// Seconds returns a setting given in whole seconds, as apt's timeouts are
// (0 when it is not set).
func (c *Config) Seconds(name string) (time.Duration, error) {
	v, ok := c.Get(name)
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 31)
	if err != nil {
		return 0, c.valueError(name, v, "a whole number of seconds")
	}
	return time.Duration(n) * time.Second, nil
}

// Int returns a setting that is a whole number (0 when it is not set).
func (c *Config) Int(name string) (int64, error) {
	v, ok := c.Get(name)
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, c.valueError(name, v, "a whole number")
	}
	return n, nil
}

// Under returns the settings one level below prefix, by the rest of their
// name (as written): Under("Acquire::http::Proxy") gives the per-host
// proxies of Acquire::http::Proxy::HOST.
func (c *Config) Under(prefix string) map[string]string {
	p := strings.ToLower(prefix) + "::"
	out := map[string]string{}
	for k, e := range c.vals {
		if rest, ok := strings.CutPrefix(k, p); ok && rest != "" {
			out[e.name[len(p):]] = e.value
		}
	}
	return out
}

// Names lists the names set, sorted.
func (c *Config) Names() []string {
	out := make([]string, 0, len(c.vals))
	for _, e := range c.vals {
		out = append(out, e.name)
	}
	sort.Strings(out)
	return out
}

func (c *Config) valueError(name, v, want string) error {
	e := c.vals[strings.ToLower(name)]
	if e.line == 0 { // from Set: the command line's -o
		return fmt.Errorf("-o %s=%s: not %s", e.name, v, want)
	}
	where := c.Path
	if where == "" {
		where = "configuration"
	}
	return fmt.Errorf("%s:%d: %s %q: not %s", where, e.line, e.name, v, want)
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokString
	tokOpen
	tokClose
	tokSemi
)

type token struct {
	kind tokKind
	text string
}

type parser struct {
	src  string
	pos  int
	line int
	name string
}

func (p *parser) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.name, line, fmt.Sprintf(format, args...))
}

func (p *parser) expect(k tokKind, what string) error {
	tok, line, err := p.next()
	if err != nil {
		return err
	}
	if tok.kind != k {
		return p.errorf(line, "%s expected", what)
	}
	return nil
}

// next returns the next token and the line it starts on.
func (p *parser) next() (token, int, error) {
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '\n':
			p.line++
			p.pos++
		case c == ' ' || c == '\t' || c == '\r':
			p.pos++
		case strings.HasPrefix(p.src[p.pos:], "//"):
			p.skipLine()
		case strings.HasPrefix(p.src[p.pos:], "/*"):
			start := p.line
			end := strings.Index(p.src[p.pos+2:], "*/")
			if end < 0 {
				return token{}, start, p.errorf(start, "unclosed comment")
			}
			p.line += strings.Count(p.src[p.pos:p.pos+2+end], "\n")
			p.pos += end + 4
		case c == '#':
			if !p.atLineStart() || !(strings.HasPrefix(p.src[p.pos:], "#include") || strings.HasPrefix(p.src[p.pos:], "#clear")) {
				p.skipLine() // a comment
				continue
			}
			line := p.line
			end := strings.IndexByte(p.src[p.pos:], '\n')
			if end < 0 {
				end = len(p.src) - p.pos
			}
			text := p.src[p.pos : p.pos+end]
			p.pos += end
			return token{tokWord, text}, line, nil
		case c == '{':
			p.pos++
			return token{tokOpen, "{"}, p.line, nil
		case c == '}':
			p.pos++
			return token{tokClose, "}"}, p.line, nil
		case c == ';':
			p.pos++
			return token{tokSemi, ";"}, p.line, nil
		case c == '"':
			line := p.line
			end := strings.IndexByte(p.src[p.pos+1:], '"')
			if end < 0 {
				return token{}, line, p.errorf(line, "unclosed quote")
			}
			text := p.src[p.pos+1 : p.pos+1+end]
			if strings.Contains(text, "\n") {
				return token{}, line, p.errorf(line, "a quoted value runs over the end of the line")
			}
			p.pos += end + 2
			return token{tokString, text}, line, nil
		default:
			start := p.pos
			for p.pos < len(p.src) && !strings.ContainsRune(" \t\r\n{};\"", rune(p.src[p.pos])) {
				if strings.HasPrefix(p.src[p.pos:], "//") {
					break
				}
				p.pos++
			}
			return token{tokWord, p.src[start:p.pos]}, p.line, nil
		}
	}
	return token{kind: tokEOF}, p.line, nil
}

func (p *parser) skipLine() {
	end := strings.IndexByte(p.src[p.pos:], '\n')
	if end < 0 {
		p.pos = len(p.src)
		return
	}
	p.pos += end
}

// atLineStart reports whether only blanks precede pos on its line.
func (p *parser) atLineStart() bool {
	for i := p.pos - 1; i >= 0; i-- {
		switch p.src[i] {
		case '\n':
			return true
		case ' ', '\t', '\r':
			continue
		}
		return false
	}
	return true
}

// Set sets a setting, replacing any earlier value, as a command line's
// -o NAME=VALUE does over the file.
func (c *Config) Set(name, value string) {
	if c.vals == nil {
		c.vals = map[string]entry{}
	}
	c.vals[strings.ToLower(name)] = entry{name: name, value: value}
}

// Bool returns a setting that is true or false in apt.conf(5)'s words
// (true, yes, on, with, enable, 1; false, no, off, without, disable, 0;
// case does not matter) and whether it is set.
func (c *Config) Bool(name string) (value, set bool, err error) {
	v, ok := c.Get(name)
	if !ok {
		return false, false, nil
	}
	b, ok := ParseBool(v)
	if !ok {
		return false, true, c.valueError(name, v, "true or false")
	}
	return b, true, nil
}

// ParseBool reads a truth value as apt does (see Bool).
func ParseBool(v string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "with", "enable", "1":
		return true, true
	case "false", "no", "off", "without", "disable", "0":
		return false, true
	}
	return false, false
}

// Invalid returns the error of a setting whose value is not what it must
// be (want: "auto, always or never"), naming where it was set: the file
// and line, or -o.
func (c *Config) Invalid(name, want string) error {
	v, _ := c.Get(name)
	return c.valueError(name, v, want)
}
