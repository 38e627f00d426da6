// Package dpkgdb reads and edits dpkg's own database (the admin directory,
// var/lib/dpkg) and apt's extended_states, as those programs write them, so
// that grey can adopt a root dpkg made and keep both databases in step.
//
// The status file is handled as a list of raw stanzas: an edit replaces or
// drops the stanzas of the packages it names and copies every other stanza
// byte for byte, in dpkg's order.
package dpkgdb

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/greypm/grey/deb/control"
)

// AdminDir is dpkg's database directory, relative to the root.
const AdminDir = "var/lib/dpkg"

// Entry is one package instance's stanza in dpkg's status file.
type Entry struct {
	// Package and Arch are the stanza's Package and Architecture fields.
	Package, Arch string
	// MultiArch is the Multi-Arch field ("same" puts ":arch" in the
	// instance's info file names).
	MultiArch string
	// Status is the Status field: "want flag state", such as
	// "install ok installed" or "hold ok installed".
	Status string
	// Raw is the stanza exactly as the file holds it, each line ended by
	// "\n", without the blank line that separates it from the next.
	Raw []byte
	// Fields is the parsed stanza.
	Fields *control.Stanza
}

// Key is the instance's name with its architecture, "libc6:amd64", the key
// under which an edit names it.
func (e *Entry) Key() string { return InstanceKey(e.Package, e.Arch) }

// InfoName is the base name of the instance's files under info/: "name",
// or "name:arch" for Multi-Arch: same.
func (e *Entry) InfoName() string {
	if e.MultiArch == "same" {
		return e.Package + ":" + e.Arch
	}
	return e.Package
}

// Want, Flag and State are the three words of Status.
func (e *Entry) Want() string  { return word(e.Status, 0) }
func (e *Entry) Flag() string  { return word(e.Status, 1) }
func (e *Entry) State() string { return word(e.Status, 2) }

func word(s string, i int) string {
	f := strings.Fields(s)
	if i < len(f) {
		return f[i]
	}
	return ""
}

// InstanceKey joins a package name and architecture as "name:arch".
func InstanceKey(name, arch string) string { return name + ":" + arch }

// States dpkg writes in the third word of Status.
var validStates = map[string]bool{
	"not-installed": true, "config-files": true, "half-installed": true, "unpacked": true,
	"half-configured": true, "triggers-awaited": true, "triggers-pending": true, "installed": true,
}

var validWants = map[string]bool{"unknown": true, "install": true, "hold": true, "deinstall": true, "purge": true}

// ParseStatus splits a status file into its stanzas. name is used in
// errors. A stanza without Package, or with a Status that is not three
// words dpkg knows, is an error naming its line.
func ParseStatus(name string, data []byte) ([]*Entry, error) {
	var out []*Entry
	line := 1
	for len(data) > 0 {
		// Skip blank separator lines.
		if data[0] == '\n' {
			data = data[1:]
			line++
			continue
		}
		end := bytes.Index(data, []byte("\n\n"))
		var raw []byte
		if end < 0 {
			raw = data
			data = nil
			if raw[len(raw)-1] != '\n' {
				raw = append(raw[:len(raw):len(raw)], '\n')
			}
		} else {
			raw = data[:end+1]
			data = data[end+1:]
		}
		st, err := control.ParseOne(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: stanza at line %d: %w", name, line, err)
		}
		e := &Entry{
			Package: st.Get("Package"), Arch: st.Get("Architecture"), MultiArch: st.Get("Multi-Arch"),
			Status: strings.Join(strings.Fields(st.Get("Status")), " "), Raw: raw, Fields: st,
		}
		if e.Package == "" {
			return nil, fmt.Errorf("%s: stanza at line %d has no Package field", name, line)
		}
		if w := strings.Fields(e.Status); len(w) != 3 || !validWants[w[0]] || !validStates[w[2]] {
			return nil, fmt.Errorf("%s: package %s (line %d): bad Status %q", name, e.Package, line, st.Get("Status"))
		}
		out = append(out, e)
		line += bytes.Count(raw, []byte("\n"))
	}
	return out, nil
}

// Edit is a set of per-package changes to the status file.
type Edit struct {
	// Put maps an instance key ("hello:amd64") to its new stanza, each
	// line ended by "\n"; an instance the file does not hold is inserted
	// in dpkg's order (by name, then architecture).
	Put map[string][]byte
	// Drop lists instance keys whose stanzas go.
	Drop map[string]bool
	// Status maps instance keys to a new Status value ("hold ok
	// installed"): only that line of the stanza changes, the rest stays
	// byte for byte. Put and Drop win over it.
	Status map[string]string
}

// SetStatus returns raw with its Status field's value replaced (or added
// after Package when it has none).
func SetStatus(raw []byte, status string) []byte {
	lines := bytes.SplitAfter(raw, []byte("\n"))
	var out []byte
	done := false
	for _, l := range lines {
		if !done && len(l) >= 7 && strings.EqualFold(string(l[:7]), "Status:") {
			out = append(out, "Status: "+status+"\n"...)
			done = true
			continue
		}
		out = append(out, l...)
	}
	if !done {
		out = out[:0]
		for _, l := range lines {
			out = append(out, l...)
			if !done && len(l) >= 8 && strings.EqualFold(string(l[:8]), "Package:") {
				out = append(out, "Status: "+status+"\n"...)
				done = true
			}
		}
	}
	return out
}

// Apply returns data with e applied. Stanzas e does not name are copied
// byte for byte and keep their order.
func (e Edit) Apply(name string, data []byte) ([]byte, error) {
	entries, err := ParseStatus(name, data)
	if err != nil {
		return nil, err
	}
	type item struct {
		name, arch string
		raw        []byte
	}
	var items []item
	seen := map[string]bool{}
	for _, en := range entries {
		k := en.Key()
		seen[k] = true
		if e.Drop[k] {
			continue
		}
		raw := en.Raw
		if st, ok := e.Status[k]; ok {
			raw = SetStatus(raw, st)
		}
		if p, ok := e.Put[k]; ok {
			raw = p
		}
		items = append(items, item{en.Package, en.Arch, raw})
	}
	var added []string
	for k := range e.Put {
		if !seen[k] && !e.Drop[k] {
			added = append(added, k)
		}
	}
	sort.Strings(added)
	for _, k := range added {
		n, a, _ := strings.Cut(k, ":")
		it := item{n, a, e.Put[k]}
		// dpkg writes its status sorted by name then architecture; a new
		// stanza goes before the first that sorts after it.
		i := sort.Search(len(items), func(i int) bool {
			if items[i].name != n {
				return items[i].name > n
			}
			return items[i].arch > a
		})
		items = append(items, item{})
		copy(items[i+1:], items[i:])
		items[i] = it
	}
	var buf bytes.Buffer
	for _, it := range items {
		raw := it.raw
		if len(raw) == 0 {
			continue
		}
		buf.Write(raw)
		if raw[len(raw)-1] != '\n' {
			buf.WriteByte('\n')
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}
