package sources

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/greypm/grey/deb/control"
)

// ParseSources reads a deb822 .sources file. Each stanza gives one Source
// per combination of its Types, URIs and Suites, in that order (Components
// stay together in each); a stanza with "Enabled: no" gives none. name is
// used in errors and recorded in each Source.
func ParseSources(r io.Reader, name string) ([]*Source, error) {
	cr := control.NewReaderName(r, name)
	defer cr.Close()
	var out []*Source
	for {
		st, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		srcs, err := FromStanza(st)
		if err != nil {
			return out, &Error{File: name, Line: st.Line, Msg: err.Error()}
		}
		for _, s := range srcs {
			s.File, s.Line = name, st.Line
		}
		out = append(out, srcs...)
	}
}

// FromStanza expands one deb822 stanza into its sources. A disabled stanza
// gives none and no error.
func FromStanza(st *control.Stanza) ([]*Source, error) {
	if v, ok := st.Lookup("Enabled"); ok {
		on, valid := parseBool(v)
		if !valid {
			return nil, fmt.Errorf("field Enabled: %q is not yes or no", v)
		}
		if !on {
			return nil, nil
		}
	}
	types := strings.Fields(st.Get("Types"))
	uris := strings.Fields(st.Get("URIs"))
	suites := strings.Fields(st.Get("Suites"))
	components := strings.Fields(st.Get("Components"))
	switch {
	case len(types) == 0:
		return nil, fmt.Errorf("missing Types")
	case len(uris) == 0:
		return nil, fmt.Errorf("missing URIs")
	case len(suites) == 0:
		return nil, fmt.Errorf("missing Suites")
	}
	for _, t := range types {
		if t != Binary && t != Src {
			return nil, fmt.Errorf("type %q is not known (want deb or deb-src)", t)
		}
	}

	// Options are decoded once into a template Source.
	var tmpl Source
	tmpl.Options = map[string]string{}
	for _, f := range st.Fields {
		switch strings.ToLower(f.Name) {
		case "types", "uris", "suites", "components", "enabled":
			continue
		}
		if strings.Contains(f.Name, "=") {
			return nil, fmt.Errorf("field name %q cannot name an option: it contains '='", f.Name)
		}
		key := optionName(f.Name)
		value := f.Value
		if multiValue(key) {
			value = strings.Join(strings.Fields(value), ",")
		}
		if value == "" {
			return nil, fmt.Errorf("field %s has no value", f.Name)
		}
		if err := tmpl.setOption(key, value); err != nil {
			return nil, fmt.Errorf("field %s: %v", f.Name, err)
		}
	}

	var out []*Source
	for _, t := range types {
		for _, raw := range uris {
			u, err := parseURI(raw)
			if err != nil {
				return nil, err
			}
			for _, suite := range suites {
				s := tmpl.clone()
				s.Type, s.URI, s.Suite = t, u, suite
				if strings.HasSuffix(suite, "/") {
					if len(components) > 0 {
						return nil, fmt.Errorf("flat repository suite %q takes no Components", suite)
					}
					s.Flat = true
				} else {
					if len(components) == 0 {
						return nil, fmt.Errorf("suite %q needs Components (or a trailing '/' for a flat repository)", suite)
					}
					s.Components = append([]string(nil), components...)
				}
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// clone copies s deeply enough that changing the copy's slices, map or URI
// leaves s alone.
func (s *Source) clone() *Source {
	c := *s
	c.Components = append([]string(nil), s.Components...)
	c.Architectures = append([]string(nil), s.Architectures...)
	c.SignedBy = append([]string(nil), s.SignedBy...)
	if s.Components == nil {
		c.Components = nil
	}
	if s.Architectures == nil {
		c.Architectures = nil
	}
	if s.SignedBy == nil {
		c.SignedBy = nil
	}
	c.Options = make(map[string]string, len(s.Options))
	for k, v := range s.Options {
		c.Options[k] = v
	}
	if s.URI != nil {
		u := *s.URI
		c.URI = &u
	}
	return &c
}

// Stanza returns the source as a deb822 stanza (one Type, URI and Suite),
// inline keys included; FromStanza reads it back to an equal Source.
func (s *Source) Stanza() *control.Stanza {
	st := &control.Stanza{}
	st.Set("Types", s.Type)
	if s.URI != nil {
		st.Set("URIs", s.URI.String())
	}
	st.Set("Suites", s.Suite)
	if len(s.Components) > 0 {
		st.Set("Components", strings.Join(s.Components, " "))
	}
	opts := s.options()
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := opts[k]
		switch {
		case multiValue(k):
			v = strings.ReplaceAll(v, ",", " ")
		case k == "signed-by" && s.SignedByKey != "":
			v = encodeKey(s.SignedByKey)
		}
		st.Set(deb822Name(k), v)
	}
	return st
}

// encodeKey writes an armored key as a deb822 multi-line value: every line
// indented, empty lines as ".".
func encodeKey(key string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimRight(key, "\n"), "\n") {
		b.WriteString("\n ")
		if line == "" {
			line = "."
		}
		b.WriteString(line)
	}
	return b.String()
}
