// Package image composes Debian root file systems offline and reproducibly
// from a spec: it resolves the spec's packages against its own verified
// sources into a lock (every package pinned by version, URL, size and
// SHA256), installs exactly the locked files into a fresh root through the
// transaction package, and writes the root as a directory, a tar archive or an
// OCI image layout whose bytes depend only on the lock and the spec.
//
// The root is a dpkg root (dpkg --root=OUT -l lists every package) and a grey
// root (grey --root OUT works on it), so an image can be inspected, upgraded
// and verified afterwards like any system.
package image

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/greypm/grey/repo/sources"
)

// Spec is what an image is made of, as read from a YAML spec file.
type Spec struct {
	// Path is the spec file; relative paths inside it (keyrings, file
	// sources) are relative to its directory.
	Path string
	// Sources are the archives to resolve from, with relative signed-by
	// keyring paths made absolute.
	Sources []*sources.Source
	// Architecture is the image's native architecture (amd64 when unset).
	Architecture string
	// Packages are the requested packages (resolver job syntax: name,
	// name=version, name/suite, name:arch).
	Packages []string
	// Recommends installs Recommends too.
	Recommends bool
	// Essential adds every Essential: yes and Priority: required package.
	Essential bool
	// Scripts runs maintainer scripts inside the root (it needs a shell).
	Scripts bool
	// Command is the program the image runs: a clean absolute path inside
	// the root, or a name looked up in its PATH ("" = none). It is the OCI
	// image's Cmd and the program "grey app run" starts for an app
	// installed from the spec.
	Command string
	// SourceDateEpoch is the time every file's mtime is clamped to and the
	// OCI image's creation time, in seconds since 1970.
	SourceDateEpoch int64
	// Files are written into the root after the packages.
	Files []File
	// Groups and Users are appended to etc/group and etc/passwd.
	Groups []Group
	Users  []User
}

// File is an extra file of the image.
type File struct {
	// Path is absolute inside the root.
	Path string
	// Mode is the permission bits (0644 when unset).
	Mode os.FileMode
	// Content is the file's text; Source, when set instead, is a host file
	// (relative to the spec) to copy.
	Content string
	Source  string
	// UID and GID own the file.
	UID, GID int
}

// User is a line of etc/passwd.
type User struct {
	Name  string
	UID   int
	GID   int
	Gecos string
	Home  string
	Shell string
}

// Group is a line of etc/group.
type Group struct {
	Name    string
	GID     int
	Members []string
}

// SpecError is a problem in a spec file, located by file, line and key.
type SpecError struct {
	File string
	Line int
	// Key is the offending key, as a path ("files[2].mode"); empty when
	// the problem is the file as a whole.
	Key string
	Msg string
}

func (e *SpecError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": %s", e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// ReadSpec reads and checks the spec file at path.
func ReadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return ParseSpec(data, path)
}

// rawSpec is a spec file as decoded, before its values are checked: every
// key a spec may have is a field, and the decoder refuses any other
// (KnownFields), so a typo ("recomends") is reported instead of silently
// ignored. Values are kept as nodes, so checks name their line.
type rawSpec struct {
	Sources         yaml.Node  `yaml:"sources"`
	Architecture    yaml.Node  `yaml:"architecture"`
	Packages        yaml.Node  `yaml:"packages"`
	Recommends      yaml.Node  `yaml:"recommends"`
	Essential       yaml.Node  `yaml:"essential"`
	Scripts         yaml.Node  `yaml:"scripts"`
	Command         yaml.Node  `yaml:"command"`
	SourceDateEpoch yaml.Node  `yaml:"source-date-epoch"`
	Files           []rawFile  `yaml:"files"`
	Users           []rawUser  `yaml:"users"`
	Groups          []rawGroup `yaml:"groups"`
}

// rawFile is an entry of files.
type rawFile struct {
	Path    yaml.Node `yaml:"path"`
	Mode    yaml.Node `yaml:"mode"`
	Content yaml.Node `yaml:"content"`
	Source  yaml.Node `yaml:"source"`
	UID     yaml.Node `yaml:"uid"`
	GID     yaml.Node `yaml:"gid"`
}

// rawUser is an entry of users.
type rawUser struct {
	Name  yaml.Node `yaml:"name"`
	UID   yaml.Node `yaml:"uid"`
	GID   yaml.Node `yaml:"gid"`
	Gecos yaml.Node `yaml:"gecos"`
	Home  yaml.Node `yaml:"home"`
	Shell yaml.Node `yaml:"shell"`
}

// rawGroup is an entry of groups.
type rawGroup struct {
	Name    yaml.Node `yaml:"name"`
	GID     yaml.Node `yaml:"gid"`
	Members yaml.Node `yaml:"members"`
}

// ParseSpec parses a spec; file names it in errors and is the base of its
// relative paths.
func ParseSpec(data []byte, file string) (*Spec, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, &SpecError{File: file, Msg: "not valid YAML: " + err.Error()}
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &SpecError{File: file, Line: doc.Line, Msg: "the spec must be a mapping of keys (sources, packages, ...)"}
	}
	p := &parser{file: file, dir: filepath.Dir(file), top: doc.Content[0]}
	var raw rawSpec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, p.decodeError(err)
	}
	// Each check below records the first problem (p.err) and the rest
	// then do nothing: the first problem in the spec's key order is
	// reported.
	s := &Spec{
		Path:         file,
		Sources:      p.sources(&raw.Sources),
		Architecture: p.str(&raw.Architecture, "architecture"),
		Packages:     p.strs(&raw.Packages, "packages"),
		Recommends:   p.boolean(&raw.Recommends, "recommends"),
		Essential:    p.boolean(&raw.Essential, "essential"),
		Scripts:      p.boolean(&raw.Scripts, "scripts"),
		Command:      p.command(&raw.Command),
	}
	if n := &raw.SourceDateEpoch; n.Kind != 0 {
		if s.SourceDateEpoch = int64(p.integer(n, "source-date-epoch")); s.SourceDateEpoch < 0 {
			p.fail(n, "source-date-epoch", "must not be negative")
		}
	}
	s.Files = p.files(raw.Files)
	s.Users = p.users(raw.Users)
	s.Groups = p.groups(raw.Groups)
	if p.err != nil {
		return nil, p.err
	}
	if len(s.Sources) == 0 {
		return nil, &SpecError{File: file, Key: "sources", Msg: "at least one source is needed"}
	}
	if len(s.Packages) == 0 && !s.Essential {
		return nil, &SpecError{File: file, Key: "packages", Msg: "no packages (and essential is false): the image would be empty"}
	}
	if s.Architecture == "" {
		s.Architecture = "amd64"
	}
	return s, nil
}

type parser struct {
	file, dir string
	// top is the spec's mapping, as parsed: decode errors, which carry
	// only a line, are located in it to name their key.
	top *yaml.Node
	// err is the first problem found by the checks; once it is set, the
	// checks do nothing and return zero values.
	err error
}

func (p *parser) errf(n *yaml.Node, key, format string, args ...any) error {
	return &SpecError{File: p.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// fail records a problem at n unless one was recorded before.
func (p *parser) fail(n *yaml.Node, key, format string, args ...any) {
	if p.err == nil {
		p.err = p.errf(n, key, format, args...)
	}
}

// skip reports whether a check of n has nothing to do: n is absent from
// the spec, or a problem was found already.
func (p *parser) skip(n *yaml.Node) bool { return n.Kind == 0 || p.err != nil }

// The shape of each list of mappings, for messages: the Go type the
// decoder names, the list's hint and its keys.
var (
	entryHints = map[string]string{"rawFile": "path, mode, content or source", "rawUser": "name, uid, gid, home, shell, gecos", "rawGroup": "name, gid, members"}
	entryKeys  = map[string]string{
		"rawSpec": yamlKeys(rawSpec{}), "rawFile": yamlKeys(rawFile{}), "rawUser": yamlKeys(rawUser{}), "rawGroup": yamlKeys(rawGroup{}),
	}
	decodeLine = regexp.MustCompile("^line ([0-9]+): (?:field (.*) not found in type image\\.(\\w+)|field (.*) already set in type .*|mapping key \"(.*)\" already defined at line [0-9]+|cannot unmarshal (!!\\w+).* into (\\[\\])?image\\.(\\w+))$")
)

// yamlKeys lists the yaml keys of a raw struct, comma-separated.
func yamlKeys(v any) string {
	t := reflect.TypeOf(v)
	keys := make([]string, t.NumField())
	for i := range keys {
		keys[i] = t.Field(i).Tag.Get("yaml")
	}
	return strings.Join(keys, ", ")
}

// decodeError turns the decoder's first complaint into a SpecError naming
// the key, found in the parsed spec by its line.
func (p *parser) decodeError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		return &SpecError{File: p.file, Msg: err.Error()}
	}
	m := decodeLine.FindStringSubmatch(te.Errors[0])
	if m == nil {
		return &SpecError{File: p.file, Msg: te.Errors[0]}
	}
	line, _ := strconv.Atoi(m[1])
	switch {
	case m[2] != "": // unknown key
		if key, n := p.locate(line, true, m[2]); n != nil {
			return p.errf(n, key, "unknown key (known: %s)", entryKeys[m[3]])
		}
	case m[4] != "" || m[5] != "": // a key given twice
		if key, n := p.locate(line, true, m[4]+m[5]); n != nil {
			return p.errf(n, key, "given twice")
		}
	default: // a list or an entry of the wrong shape
		tag, list, entry := m[6], m[7] != "", m[8]
		if key, n := p.locate(line, false, tag); n != nil {
			if list {
				return p.errf(n, key, "must be a list of mappings (%s)", entryHints[entry])
			}
			return p.errf(n, key, "must be a mapping (%s)", entryHints[entry])
		}
	}
	return &SpecError{File: p.file, Line: line, Msg: te.Errors[0]}
}

// locate finds, at line, the first key named what (isKey) or the first
// value tagged what, and returns its key path ("files[2].mode").
func (p *parser) locate(line int, isKey bool, what string) (string, *yaml.Node) {
	var walk func(n *yaml.Node, path string) (string, *yaml.Node)
	walk = func(n *yaml.Node, path string) (string, *yaml.Node) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				kp := k.Value
				if path != "" {
					kp = path + "." + k.Value
				}
				if isKey && k.Line == line && k.Value == what {
					return kp, k
				}
				if !isKey && v.Line == line && v.ShortTag() == what {
					return kp, v
				}
				if got, gn := walk(v, kp); gn != nil {
					return got, gn
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				cp := fmt.Sprintf("%s[%d]", path, i)
				if !isKey && c.Line == line && c.ShortTag() == what {
					return cp, c
				}
				if got, gn := walk(c, cp); gn != nil {
					return got, gn
				}
			}
		}
		return "", nil
	}
	return walk(p.top, "")
}

// entry returns the parsed node of entry i of the top-level list key (the
// key's own node, or the spec's, when it cannot be found: an alias, a
// merge).
func (p *parser) entry(key string, i int) *yaml.Node {
	for j := 0; j+1 < len(p.top.Content); j += 2 {
		if p.top.Content[j].Value != key {
			continue
		}
		l := p.top.Content[j+1]
		for l.Kind == yaml.AliasNode && l.Alias != nil {
			l = l.Alias
		}
		if i < len(l.Content) {
			return l.Content[i]
		}
		return p.top.Content[j]
	}
	return p.top
}

func (p *parser) str(n *yaml.Node, key string) string {
	if p.skip(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.fail(n, key, "must be a string")
	}
	return n.Value
}

func (p *parser) strs(n *yaml.Node, key string) []string {
	if p.skip(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n, key, "must be a list of strings")
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		out = append(out, p.str(c, fmt.Sprintf("%s[%d]", key, i)))
	}
	return out
}

func (p *parser) boolean(n *yaml.Node, key string) bool {
	var b bool
	if !p.skip(n) && (n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil) {
		p.fail(n, key, "must be true or false, not %q", n.Value)
	}
	return b
}

func (p *parser) integer(n *yaml.Node, key string) int {
	if p.skip(n) {
		return 0
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		p.fail(n, key, "must be an integer, not %q", n.Value)
		return 0
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		p.fail(n, key, "must be a decimal integer, not %q", n.Value)
	}
	return int(v)
}

// id reads an optional uid or gid: -1 when the key is absent, so that
// "required" can be told from 0 (root).
func (p *parser) id(n *yaml.Node, key string) int {
	if n.Kind == 0 {
		return -1
	}
	return p.integer(n, key)
}

// command reads command: one program, a clean absolute path inside the
// root or a bare name, without arguments (they are given at run time:
// "grey app run NAME -- ARGS", or the container's command line).
func (p *parser) command(n *yaml.Node) string {
	if p.skip(n) {
		return ""
	}
	if n.Kind == yaml.SequenceNode {
		p.fail(n, "command", "must be one program (a name or an absolute path), not a list: arguments go after 'grey app run NAME --'")
		return ""
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		p.fail(n, "command", "must not be empty (leave it out for none)")
		return ""
	}
	c := p.str(n, "command")
	switch {
	case p.err != nil:
	case c == "":
		p.fail(n, "command", "must not be empty (leave it out for none)")
	case strings.ContainsFunc(c, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		p.fail(n, "command", "must be one program (a name or an absolute path), not a command line: %q (arguments go after 'grey app run NAME --')", c)
	case strings.Contains(c, "/") && (!path.IsAbs(c) || path.Clean(c) != c || c == "/"):
		p.fail(n, "command", "must be a program name or a clean absolute path inside the root, not %q", c)
	case c == "." || c == "..":
		p.fail(n, "command", "must be a program name or a clean absolute path inside the root, not %q", c)
	}
	return c
}

// noneOf records a problem when the string at n contains one of chars
// (what spells them for the message).
func (p *parser) noneOf(n *yaml.Node, key, v, chars, what string) {
	if strings.ContainsAny(v, chars) {
		p.fail(n, key, "must not contain %s", what)
	}
}

func (p *parser) sources(n *yaml.Node) []*sources.Source {
	if p.skip(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "sources", "must be a list of source lines or deb822 mappings")
		return nil
	}
	var out []*sources.Source
	for i, c := range n.Content {
		key := fmt.Sprintf("sources[%d]", i)
		got, err := p.source(c, key)
		if err != nil {
			p.fail(c, key, "%v", err)
		}
		for _, s := range got {
			if !s.IsBinary() {
				p.fail(c, key, "only binary (deb) sources make images")
			}
			for j, k := range s.SignedBy {
				// A path (not a fingerprint) relative to the spec.
				if strings.ContainsAny(k, "/.") && !filepath.IsAbs(k) {
					s.SignedBy[j] = filepath.Join(p.dir, k)
				}
			}
			if v, ok := s.Options["signed-by"]; ok && v != "" {
				s.Options["signed-by"] = strings.Join(s.SignedBy, ",")
			}
			out = append(out, s)
		}
	}
	return out
}

// source reads one entry of sources: a one-line-style source, or a
// deb822 stanza written as a mapping (a list value is joined by spaces).
// An error from the sources parser is returned for the caller to place;
// problems of the entry's keys and values are recorded (p.fail).
func (p *parser) source(c *yaml.Node, key string) ([]*sources.Source, error) {
	switch c.Kind {
	case yaml.ScalarNode:
		s, err := sources.Parse(c.Value)
		if err != nil {
			return nil, err
		}
		return []*sources.Source{s}, nil
	case yaml.MappingNode:
		var b strings.Builder
		for j := 0; j+1 < len(c.Content); j += 2 {
			k, v := c.Content[j], c.Content[j+1]
			kk := key + "." + k.Value
			val := v.Value
			switch v.Kind {
			case yaml.ScalarNode:
			case yaml.SequenceNode:
				val = strings.Join(p.strs(v, kk), " ")
			default:
				p.fail(v, kk, "must be a string or a list of strings")
			}
			if strings.ContainsAny(k.Value, ": \t\n") || k.Value == "" {
				p.fail(k, kk, "not a deb822 field name")
			}
			if strings.Contains(val, "\n") {
				p.fail(v, kk, "multi-line values are not supported here; give a list")
			}
			fmt.Fprintf(&b, "%s: %s\n", k.Value, val)
		}
		if p.err != nil {
			return nil, nil
		}
		return sources.ParseSources(strings.NewReader(b.String()), p.file)
	}
	p.fail(c, key, "must be a source line or a deb822 mapping")
	return nil, nil
}

func (p *parser) files(raw []rawFile) []File {
	var out []File
	paths := map[string]bool{}
	for i := range raw {
		r, key, c := &raw[i], fmt.Sprintf("files[%d]", i), p.entry("files", i)
		f := File{
			Path: p.str(&r.Path, key+".path"), Mode: 0o644,
			Content: p.str(&r.Content, key+".content"), Source: p.str(&r.Source, key+".source"),
			UID: p.integer(&r.UID, key+".uid"), GID: p.integer(&r.GID, key+".gid"),
		}
		if r.Mode.Kind != 0 {
			f.Mode = p.mode(&r.Mode, key+".mode")
		}
		if f.Source != "" && !filepath.IsAbs(f.Source) {
			f.Source = filepath.Join(p.dir, f.Source)
		}
		switch {
		case p.err != nil:
			return nil
		case f.Path == "":
			p.fail(c, key+".path", "missing")
		case !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/":
			p.fail(&r.Path, key+".path", "must be a clean absolute path inside the root, not %q", f.Path)
		case (r.Content.Kind != 0) == (f.Source != ""):
			p.fail(c, key, "give exactly one of content and source")
		case paths[f.Path]:
			p.fail(c, key+".path", "%s is given twice", f.Path)
		}
		paths[f.Path] = true
		out = append(out, f)
	}
	return out
}

// mode reads octal permission bits ("0644", 4755), set-id and sticky bits
// included.
func (p *parser) mode(n *yaml.Node, key string) os.FileMode {
	s := p.str(n, key)
	if p.err != nil {
		return 0
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o7777 {
		p.fail(n, key, "must be octal permission bits like 0644, not %q", s)
	}
	mode := os.FileMode(m & 0o777)
	for bit, flag := range map[uint64]os.FileMode{0o4000: os.ModeSetuid, 0o2000: os.ModeSetgid, 0o1000: os.ModeSticky} {
		if m&bit != 0 {
			mode |= flag
		}
	}
	return mode
}

func (p *parser) users(raw []rawUser) []User {
	var out []User
	for i := range raw {
		r, key := &raw[i], fmt.Sprintf("users[%d]", i)
		u := User{
			Name:  p.str(&r.Name, key+".name"),
			Gecos: p.str(&r.Gecos, key+".gecos"), Home: p.str(&r.Home, key+".home"), Shell: p.str(&r.Shell, key+".shell"),
			UID: p.id(&r.UID, key+".uid"), GID: p.id(&r.GID, key+".gid"),
		}
		for _, f := range []struct {
			n *yaml.Node
			k string
		}{{&r.Name, "name"}, {&r.UID, "uid"}, {&r.GID, "gid"}, {&r.Gecos, "gecos"}, {&r.Home, "home"}, {&r.Shell, "shell"}} {
			p.noneOf(f.n, key+"."+f.k, f.n.Value, ":\n", "':' or a newline")
		}
		if p.err != nil {
			return nil
		}
		if u.Name == "" || u.UID < 0 || u.GID < 0 {
			p.fail(p.entry("users", i), key, "name, uid and gid are required")
		}
		if u.Home == "" {
			u.Home = "/nonexistent"
		}
		if u.Shell == "" {
			u.Shell = "/usr/sbin/nologin"
		}
		out = append(out, u)
	}
	return out
}

func (p *parser) groups(raw []rawGroup) []Group {
	var out []Group
	for i := range raw {
		r, key := &raw[i], fmt.Sprintf("groups[%d]", i)
		g := Group{Name: p.str(&r.Name, key+".name"), Members: p.strs(&r.Members, key+".members"), GID: p.id(&r.GID, key+".gid")}
		p.noneOf(&r.Name, key+".name", g.Name, ":,\n", "':', ',' or a newline")
		for _, m := range g.Members {
			if strings.ContainsAny(m, ":,\n") {
				p.fail(&r.Members, key+".members", "member %q must not contain ':', ',' or a newline", m)
			}
		}
		sort.Strings(g.Members)
		if p.err != nil {
			return nil
		}
		if g.Name == "" || g.GID < 0 {
			p.fail(p.entry("groups", i), key, "name and gid are required")
		}
		out = append(out, g)
	}
	return out
}

// LockPath is where the lock of the spec at specPath lives: beside it, with
// the extension replaced by .lock (spec.yaml → spec.lock).
func LockPath(specPath string) string {
	ext := filepath.Ext(specPath)
	return strings.TrimSuffix(specPath, ext) + ".lock"
}

// errNoPackages is returned when resolution selects nothing.
var errNoPackages = errors.New("nothing to install")
