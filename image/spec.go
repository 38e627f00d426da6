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
	"sort"
	"strconv"
	"strings"

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

// topKeys are the keys a spec may have; anything else is an error, so a
// typo ("recomends") is reported instead of silently ignored.
var topKeys = []string{"sources", "architecture", "packages", "recommends", "essential", "scripts", "source-date-epoch", "files", "users", "groups"}

// ParseSpec parses a spec; file names it in errors and is the base of its
// relative paths.
func ParseSpec(data []byte, file string) (*Spec, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, &SpecError{File: file, Msg: "not valid YAML: " + err.Error()}
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &SpecError{File: file, Line: doc.Line, Msg: "the spec must be a mapping of keys (sources, packages, ...)"}
	}
	p := &parser{file: file, dir: filepath.Dir(file)}
	s := &Spec{Path: file}
	top := doc.Content[0]
	if err := p.checkKeys(top, "", topKeys); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i].Value, top.Content[i+1]
		var err error
		switch k {
		case "sources":
			s.Sources, err = p.sources(v)
		case "architecture":
			s.Architecture, err = p.str(v, k)
		case "packages":
			s.Packages, err = p.strs(v, k)
		case "recommends":
			s.Recommends, err = p.boolean(v, k)
		case "essential":
			s.Essential, err = p.boolean(v, k)
		case "scripts":
			s.Scripts, err = p.boolean(v, k)
		case "source-date-epoch":
			var n int
			n, err = p.integer(v, k)
			s.SourceDateEpoch = int64(n)
			if err == nil && n < 0 {
				err = p.errf(v, k, "must not be negative")
			}
		case "files":
			s.Files, err = p.files(v)
		case "users":
			s.Users, err = p.users(v)
		case "groups":
			s.Groups, err = p.groups(v)
		}
		if err != nil {
			return nil, err
		}
		seen[k] = true
	}
	if !seen["sources"] || len(s.Sources) == 0 {
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
}

func (p *parser) errf(n *yaml.Node, key, format string, args ...any) error {
	return &SpecError{File: p.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// checkKeys refuses keys of the mapping n that are not in allowed, and
// duplicated keys.
func (p *parser) checkKeys(n *yaml.Node, prefix string, allowed []string) error {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		name := k.Value
		if prefix != "" {
			name = prefix + "." + k.Value
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == k.Value
		}
		if !ok {
			return p.errf(k, name, "unknown key (known: %s)", strings.Join(allowed, ", "))
		}
		if seen[k.Value] {
			return p.errf(k, name, "given twice")
		}
		seen[k.Value] = true
	}
	return nil
}

func (p *parser) str(n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", p.errf(n, key, "must be a string")
	}
	return n.Value, nil
}

func (p *parser) strs(n *yaml.Node, key string) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, key, "must be a list of strings")
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		s, err := p.str(c, fmt.Sprintf("%s[%d]", key, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (p *parser) boolean(n *yaml.Node, key string) (bool, error) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		return false, p.errf(n, key, "must be true or false, not %q", n.Value)
	}
	return b, nil
}

func (p *parser) integer(n *yaml.Node, key string) (int, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return 0, p.errf(n, key, "must be an integer, not %q", n.Value)
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, p.errf(n, key, "must be a decimal integer, not %q", n.Value)
	}
	return int(v), nil
}

func (p *parser) sources(n *yaml.Node) ([]*sources.Source, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, "sources", "must be a list of source lines or deb822 mappings")
	}
	var out []*sources.Source
	for i, c := range n.Content {
		key := fmt.Sprintf("sources[%d]", i)
		var got []*sources.Source
		switch c.Kind {
		case yaml.ScalarNode:
			s, err := sources.Parse(c.Value)
			if err != nil {
				return nil, p.errf(c, key, "%v", err)
			}
			got = []*sources.Source{s}
		case yaml.MappingNode:
			var b strings.Builder
			for j := 0; j+1 < len(c.Content); j += 2 {
				k, v := c.Content[j], c.Content[j+1]
				var val string
				switch v.Kind {
				case yaml.ScalarNode:
					val = v.Value
				case yaml.SequenceNode:
					vs, err := p.strs(v, key+"."+k.Value)
					if err != nil {
						return nil, err
					}
					val = strings.Join(vs, " ")
				default:
					return nil, p.errf(v, key+"."+k.Value, "must be a string or a list of strings")
				}
				if strings.ContainsAny(k.Value, ": \t\n") || k.Value == "" {
					return nil, p.errf(k, key+"."+k.Value, "not a deb822 field name")
				}
				if strings.Contains(val, "\n") {
					return nil, p.errf(v, key+"."+k.Value, "multi-line values are not supported here; give a list")
				}
				fmt.Fprintf(&b, "%s: %s\n", k.Value, val)
			}
			ss, err := sources.ParseSources(strings.NewReader(b.String()), p.file)
			if err != nil {
				return nil, p.errf(c, key, "%v", err)
			}
			got = ss
		default:
			return nil, p.errf(c, key, "must be a source line or a deb822 mapping")
		}
		for _, s := range got {
			if !s.IsBinary() {
				return nil, p.errf(c, key, "only binary (deb) sources make images")
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
	return out, nil
}

// mappingList walks a list of mappings (files, users, groups): each entry
// must be a mapping with only the allowed keys; entry gets its key path
// ("files[2]") and node. hint names the keys in the error messages.
func (p *parser) mappingList(n *yaml.Node, name, hint string, keys []string, entry func(key string, c *yaml.Node) error) error {
	if n.Kind != yaml.SequenceNode {
		return p.errf(n, name, "must be a list of mappings (%s)", hint)
	}
	for i, c := range n.Content {
		key := fmt.Sprintf("%s[%d]", name, i)
		if c.Kind != yaml.MappingNode {
			return p.errf(c, key, "must be a mapping (%s)", hint)
		}
		if err := p.checkKeys(c, key, keys); err != nil {
			return err
		}
		if err := entry(key, c); err != nil {
			return err
		}
	}
	return nil
}

// pairs calls f for every key and value of mapping c, with the value's key
// path, and stops at the first error.
func pairs(c *yaml.Node, key string, f func(k string, v *yaml.Node, kk string) error) error {
	for j := 0; j+1 < len(c.Content); j += 2 {
		k := c.Content[j].Value
		if err := f(k, c.Content[j+1], key+"."+k); err != nil {
			return err
		}
	}
	return nil
}

var fileKeys = []string{"path", "mode", "content", "source", "uid", "gid"}

func (p *parser) files(n *yaml.Node) ([]File, error) {
	var out []File
	paths := map[string]bool{}
	err := p.mappingList(n, "files", "path, mode, content or source", fileKeys, func(key string, c *yaml.Node) error {
		f := File{Mode: 0o644}
		hasContent := false
		err := pairs(c, key, func(k string, v *yaml.Node, kk string) (err error) {
			switch k {
			case "path":
				f.Path, err = p.str(v, kk)
				if err == nil && (!path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/") {
					err = p.errf(v, kk, "must be a clean absolute path inside the root, not %q", f.Path)
				}
			case "mode":
				var s string
				s, err = p.str(v, kk)
				if err == nil {
					var m uint64
					m, err = strconv.ParseUint(s, 8, 32)
					if err != nil || m > 0o7777 {
						err = p.errf(v, kk, "must be octal permission bits like 0644, not %q", s)
					}
					f.Mode = os.FileMode(m & 0o777)
					if m&0o4000 != 0 {
						f.Mode |= os.ModeSetuid
					}
					if m&0o2000 != 0 {
						f.Mode |= os.ModeSetgid
					}
					if m&0o1000 != 0 {
						f.Mode |= os.ModeSticky
					}
				}
			case "content":
				f.Content, err = p.str(v, kk)
				hasContent = true
			case "source":
				f.Source, err = p.str(v, kk)
				if err == nil && !filepath.IsAbs(f.Source) {
					f.Source = filepath.Join(p.dir, f.Source)
				}
			case "uid":
				f.UID, err = p.integer(v, kk)
			case "gid":
				f.GID, err = p.integer(v, kk)
			}
			return err
		})
		switch {
		case err != nil:
			return err
		case f.Path == "":
			return p.errf(c, key+".path", "missing")
		case hasContent == (f.Source != ""):
			return p.errf(c, key, "give exactly one of content and source")
		case paths[f.Path]:
			return p.errf(c, key+".path", "%s is given twice", f.Path)
		}
		paths[f.Path] = true
		out = append(out, f)
		return nil
	})
	return out, err
}

var userKeys = []string{"name", "uid", "gid", "gecos", "home", "shell"}

func (p *parser) users(n *yaml.Node) ([]User, error) {
	var out []User
	err := p.mappingList(n, "users", "name, uid, gid, home, shell, gecos", userKeys, func(key string, c *yaml.Node) error {
		u := User{UID: -1, GID: -1}
		err := pairs(c, key, func(k string, v *yaml.Node, kk string) (err error) {
			switch k {
			case "name":
				u.Name, err = p.str(v, kk)
			case "uid":
				u.UID, err = p.integer(v, kk)
			case "gid":
				u.GID, err = p.integer(v, kk)
			case "gecos":
				u.Gecos, err = p.str(v, kk)
			case "home":
				u.Home, err = p.str(v, kk)
			case "shell":
				u.Shell, err = p.str(v, kk)
			}
			if err == nil && strings.ContainsAny(v.Value, ":\n") {
				err = p.errf(v, kk, "must not contain ':' or a newline")
			}
			return err
		})
		if err != nil {
			return err
		}
		if u.Name == "" || u.UID < 0 || u.GID < 0 {
			return p.errf(c, key, "name, uid and gid are required")
		}
		if u.Home == "" {
			u.Home = "/nonexistent"
		}
		if u.Shell == "" {
			u.Shell = "/usr/sbin/nologin"
		}
		out = append(out, u)
		return nil
	})
	return out, err
}

var groupKeys = []string{"name", "gid", "members"}

func (p *parser) groups(n *yaml.Node) ([]Group, error) {
	var out []Group
	err := p.mappingList(n, "groups", "name, gid, members", groupKeys, func(key string, c *yaml.Node) error {
		g := Group{GID: -1}
		err := pairs(c, key, func(k string, v *yaml.Node, kk string) (err error) {
			switch k {
			case "name":
				g.Name, err = p.str(v, kk)
				if err == nil && strings.ContainsAny(g.Name, ":,\n") {
					err = p.errf(v, kk, "must not contain ':', ',' or a newline")
				}
			case "gid":
				g.GID, err = p.integer(v, kk)
			case "members":
				g.Members, err = p.strs(v, kk)
				for _, m := range g.Members {
					if err == nil && strings.ContainsAny(m, ":,\n") {
						err = p.errf(v, kk, "member %q must not contain ':', ',' or a newline", m)
					}
				}
				sort.Strings(g.Members)
			}
			return err
		})
		if err != nil {
			return err
		}
		if g.Name == "" || g.GID < 0 {
			return p.errf(c, key, "name and gid are required")
		}
		out = append(out, g)
		return nil
	})
	return out, err
}

// LockPath is where the lock of the spec at specPath lives: beside it, with
// the extension replaced by .lock (spec.yaml → spec.lock).
func LockPath(specPath string) string {
	ext := filepath.Ext(specPath)
	return strings.TrimSuffix(specPath, ext) + ".lock"
}

// errNoPackages is returned when resolution selects nothing.
var errNoPackages = errors.New("nothing to install")
