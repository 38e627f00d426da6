package index

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"sync"
)

// essentialMemo holds EssentialNames' answer, computed on first use.
type essentialMemo struct {
	once  sync.Once
	names []string
}

// EssentialNames returns the names of which some package is marked
// "Essential: yes", each once, in index order (the inputs' order, then each
// file's). It makes an Index a resolver.EssentialIndex, so that a full
// upgrade installs the Essential packages the root lacks.
//
// The cache keeps no Essential flag, so the first call scans every
// package's stanza text for the field (without decoding the stanzas) and
// the answer is memoized: only a full upgrade asks, once. A package whose
// stanza fails its checksum is skipped, and Err reports it.
func (x *Index) EssentialNames() []string {
	x.essential.once.Do(func() {
		seen := make(map[string]bool)
		names := []string{}
		for _, f := range x.files {
			v := f.m.view
			for i := 0; i < f.m.n; i++ {
				t, err := v.text(i)
				if err != nil || !essentialText(t) {
					continue
				}
				// The name table's strings alias the mapping; copies
				// stay valid after Close.
				name := v.name(int(le32(v.pkg(i), pName)))
				if name == "" || seen[name] {
					continue
				}
				seen[name] = true
				names = append(names, strings.Clone(name))
			}
		}
		x.essential.names = names
	})
	return x.essential.names
}

// RequiredNames returns, sorted and each once, the names of which some
// package for arch or "all" is marked "Essential: yes" or has
// "Priority: required": the set an image spec's "essential: true" and
// "grey app install --essential" add to a request. Like EssentialNames
// it reads the two fields from each stanza's text rather than decoding
// every package (which costs about a second and 300 MB for bookworm
// main, where this takes a few tens of milliseconds), and compares them
// as deb.FromStanza reads them. It stops with ctx's error when ctx is
// done, and returns Err's error when a file is corrupt.
func (x *Index) RequiredNames(ctx context.Context, arch string) ([]string, error) {
	seen := make(map[string]bool)
	for _, f := range x.files {
		v := f.m.view
		for i := 0; i < f.m.n; i++ {
			if i%4096 == 0 && ctx.Err() != nil {
				return nil, ctx.Err()
			}
			r := v.pkg(i)
			if a := v.str(le32(r, pArchOff), le32(r, pArchLen)); a != arch && a != "all" {
				continue
			}
			t, err := v.text(i)
			if err != nil || !(fieldIs(t, essentialKey, "yes", true) || fieldIs(t, priorityKey, "required", false)) {
				continue
			}
			if name := v.name(int(le32(r, pName))); name != "" && !seen[name] {
				seen[name] = true
			}
		}
	}
	if err := x.Err(); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		// The name table's strings alias the mapping; copies stay
		// valid after Close.
		names = append(names, strings.Clone(n))
	}
	sort.Strings(names)
	return names, nil
}

// The fields RequiredNames and EssentialNames look for, each followed by
// its colon.
const (
	essentialKey = "Essential:"
	priorityKey  = "Priority:"
)

// essentialText reports whether a canonical stanza text has an Essential
// field whose value is "yes", in any case, as deb.FromStanza reads it.
func essentialText(t []byte) bool { return fieldIs(t, essentialKey, "yes", true) }

// fieldIs reports whether a canonical stanza text (one field per line,
// continuation lines starting with a space or a tab) has the field key
// (its name and colon, matched in any case) with the value want: in any
// case when fold is set, else exactly. A value continued on the next
// line never matches.
func fieldIs(t []byte, key, want string, fold bool) bool {
	for len(t) > 0 {
		line := t
		if n := bytes.IndexByte(t, '\n'); n >= 0 {
			line, t = t[:n], t[n+1:]
		} else {
			t = nil
		}
		// The first letter rules out almost every line before a
		// case-insensitive comparison.
		if len(line) < len(key) || line[0]|0x20 != key[0]|0x20 ||
			!bytes.EqualFold(line[:len(key)], []byte(key)) {
			continue
		}
		if len(t) > 0 && (t[0] == ' ' || t[0] == '\t') {
			return false
		}
		val := bytes.TrimSpace(line[len(key):])
		if fold {
			return bytes.EqualFold(val, []byte(want))
		}
		return string(val) == want
	}
	return false
}
