package index

import (
	"bytes"
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

// essentialKey is the field's name followed by its colon.
const essentialKey = "Essential:"

// essentialText reports whether a canonical stanza text (one field per
// line, continuation lines starting with a space or a tab) has an
// Essential field whose value is "yes", in any case, as deb.FromStanza
// reads it.
func essentialText(t []byte) bool {
	for len(t) > 0 {
		line := t
		if n := bytes.IndexByte(t, '\n'); n >= 0 {
			line, t = t[:n], t[n+1:]
		} else {
			t = nil
		}
		// The first letter rules out almost every line before a
		// case-insensitive comparison.
		if len(line) < len(essentialKey) || line[0]|0x20 != 'e' ||
			!bytes.EqualFold(line[:len(essentialKey)], []byte(essentialKey)) {
			continue
		}
		if len(t) > 0 && (t[0] == ' ' || t[0] == '\t') {
			// A value continued on the next line is not "yes".
			return false
		}
		val := line[len(essentialKey):]
		if len(val) > 0 && val[0] == ' ' {
			val = val[1:]
		}
		return bytes.EqualFold(val, []byte("yes"))
	}
	return false
}
