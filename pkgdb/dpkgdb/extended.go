package dpkgdb

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/greypm/grey/deb/control"
)

// ExtendedStatesPath is apt's file of automatic-installation marks,
// relative to the root.
const ExtendedStatesPath = "var/lib/apt/extended_states"

// ExtendedStates is apt's extended_states file: which instances are
// marked as installed automatically.
type ExtendedStates struct {
	// Auto maps instance keys ("libfoo:amd64") to true for the packages
	// apt marks automatic.
	Auto map[string]bool
	raw  map[string][]byte
	keys []string // file order
}

// ParseExtendedStates reads the file. name is used in errors. Stanzas
// with Auto-Installed: 0 read as manual.
func ParseExtendedStates(name string, data []byte) (*ExtendedStates, error) {
	es := &ExtendedStates{Auto: map[string]bool{}, raw: map[string][]byte{}}
	for len(data) > 0 {
		if data[0] == '\n' {
			data = data[1:]
			continue
		}
		end := bytes.Index(data, []byte("\n\n"))
		var raw []byte
		if end < 0 {
			raw, data = data, nil
		} else {
			raw, data = data[:end+1], data[end+1:]
		}
		st, err := control.ParseOne(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		pkg, arch := st.Get("Package"), st.Get("Architecture")
		if pkg == "" {
			return nil, fmt.Errorf("%s: stanza without Package", name)
		}
		k := InstanceKey(pkg, arch)
		if _, dup := es.raw[k]; !dup {
			es.keys = append(es.keys, k)
		}
		es.raw[k] = raw
		if strings.TrimSpace(st.Get("Auto-Installed")) == "1" {
			es.Auto[k] = true
		} else {
			delete(es.Auto, k)
		}
	}
	return es, nil
}

// Set marks the instance key automatic or not. A manual package's stanza
// is dropped, as apt does.
func (es *ExtendedStates) Set(key string, auto bool) {
	if es.Auto == nil {
		es.Auto = map[string]bool{}
		es.raw = map[string][]byte{}
	}
	if !auto {
		es.Drop(key)
		return
	}
	if es.Auto[key] {
		return // already marked: its stanza stays as it is
	}
	es.Auto[key] = true
	name, arch, _ := strings.Cut(key, ":")
	if _, ok := es.raw[key]; !ok {
		es.keys = append(es.keys, key)
	}
	es.raw[key] = []byte(fmt.Sprintf("Package: %s\nArchitecture: %s\nAuto-Installed: 1\n", name, arch))
}

// Drop forgets the instance (it was removed).
func (es *ExtendedStates) Drop(key string) {
	delete(es.Auto, key)
	delete(es.raw, key)
}

// Bytes renders the file: stanzas read from it unchanged and in their
// order, new ones after them sorted.
func (es *ExtendedStates) Bytes() []byte {
	var buf bytes.Buffer
	done := map[string]bool{}
	var added []string
	for _, k := range es.keys {
		if _, ok := es.raw[k]; ok && !done[k] {
			done[k] = true
			buf.Write(es.raw[k])
			buf.WriteByte('\n')
		}
	}
	for k := range es.raw {
		if !done[k] {
			added = append(added, k)
		}
	}
	sort.Strings(added)
	for _, k := range added {
		buf.Write(es.raw[k])
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}
