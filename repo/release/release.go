// Package release parses the Release file of a Debian repository (the text
// of an InRelease, once its signature is checked): the suite's identity, its
// dates, and the size and hash of every index file it vouches for.
package release

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/greypm/grey/deb/control"
)

// File is one line of a hash list: an index file the Release vouches for.
type File struct {
	// Path is relative to the suite's directory (dists/SUITE/), for example
	// "main/binary-amd64/Packages.xz".
	Path string
	Size int64
	// Hash is lower-case hex.
	Hash string
}

// Release is a parsed Release file.
type Release struct {
	Origin, Label, Suite, Codename, Version, Description string
	// Date is when the archive published this Release.
	Date time.Time
	// ValidUntil is the zero time when the Release does not expire.
	ValidUntil    time.Time
	Architectures []string
	Components    []string
	// AcquireByHash says index files may be fetched from
	// DIR/by-hash/SHA256/HASH, which stays consistent while a mirror updates.
	AcquireByHash bool
	// NoSupportArchAll is true when "No-Support-for-Architecture-all:
	// Packages" says arch-all packages are listed in each architecture's
	// Packages file, so there is no binary-all index to fetch.
	NoSupportArchAll bool
	// NotAutomatic ("NotAutomatic: yes", as experimental and backports
	// have) gives the release's packages apt's priority 1: never a
	// candidate over another source's; with ButAutomaticUpgrades too,
	// priority 100: upgraded once installed (apt_preferences(5)).
	NotAutomatic, ButAutomaticUpgrades bool
	MD5Sum                             []File
	SHA256                             []File
	// Stanza holds every field, including those not decoded above.
	Stanza *control.Stanza

	bySHA256 map[string]int
}

// Lookup returns the SHA256 entry for path.
func (r *Release) Lookup(path string) (File, bool) {
	i, ok := r.bySHA256[path]
	if !ok {
		return File{}, false
	}
	return r.SHA256[i], true
}

// HasArchitecture reports whether the Release lists arch in its
// Architectures field. A Release without that field is taken to have every
// architecture, as apt does.
func (r *Release) HasArchitecture(arch string) bool {
	if len(r.Architectures) == 0 {
		return true
	}
	for _, a := range r.Architectures {
		if a == arch {
			return true
		}
	}
	return false
}

// Error is a Release field that cannot be used.
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string { return fmt.Sprintf("Release field %s: %s", e.Field, e.Msg) }

// Parse reads a Release file. It requires a Date (grey refuses metadata
// older than what it accepted before, which needs one) and a SHA256 list
// (MD5Sum alone cannot vouch for anything).
func Parse(data []byte) (*Release, error) {
	st, err := control.ParseOne(data)
	if err != nil {
		return nil, fmt.Errorf("parse Release: %w", err)
	}
	r := &Release{
		Origin:        st.Get("Origin"),
		Label:         st.Get("Label"),
		Suite:         st.Get("Suite"),
		Codename:      st.Get("Codename"),
		Version:       st.Get("Version"),
		Description:   st.Get("Description"),
		Architectures: strings.Fields(st.Get("Architectures")),
		Components:    strings.Fields(st.Get("Components")),
		Stanza:        st,
	}
	for _, f := range []string{"Origin", "Label", "Suite", "Codename", "Version"} {
		if strings.Contains(st.Get(f), "\n") {
			return nil, &Error{f, "spans several lines"}
		}
	}
	date, ok := st.Lookup("Date")
	if !ok {
		return nil, &Error{"Date", "missing"}
	}
	if r.Date, err = ParseDate(date); err != nil {
		return nil, &Error{"Date", err.Error()}
	}
	if v, ok := st.Lookup("Valid-Until"); ok {
		if r.ValidUntil, err = ParseDate(v); err != nil {
			return nil, &Error{"Valid-Until", err.Error()}
		}
	}
	if r.AcquireByHash, err = yesNo(st, "Acquire-By-Hash"); err != nil {
		return nil, err
	}
	r.NoSupportArchAll = st.Get("No-Support-for-Architecture-all") == "Packages"
	// apt takes only "yes" and ignores any other value, as here: these
	// fields lower a release's priority, so an odd value must not make the
	// release unusable.
	r.NotAutomatic = strings.EqualFold(st.Get("NotAutomatic"), "yes")
	r.ButAutomaticUpgrades = strings.EqualFold(st.Get("ButAutomaticUpgrades"), "yes")
	if v, ok := st.Lookup("MD5Sum"); ok {
		if r.MD5Sum, err = parseFiles("MD5Sum", v, 32); err != nil {
			return nil, err
		}
	}
	v, ok := st.Lookup("SHA256")
	if !ok {
		return nil, &Error{"SHA256", "missing"}
	}
	if r.SHA256, err = parseFiles("SHA256", v, 64); err != nil {
		return nil, err
	}
	r.bySHA256 = make(map[string]int, len(r.SHA256))
	for i, f := range r.SHA256 {
		if _, dup := r.bySHA256[f.Path]; dup {
			return nil, &Error{"SHA256", "lists " + f.Path + " twice"}
		}
		r.bySHA256[f.Path] = i
	}
	return r, nil
}

func yesNo(st *control.Stanza, field string) (bool, error) {
	switch v := strings.ToLower(st.Get(field)); v {
	case "", "no":
		return false, nil
	case "yes":
		return true, nil
	default:
		return false, &Error{field, fmt.Sprintf("%q is neither yes nor no", v)}
	}
}

// parseFiles reads the lines " HASH SIZE PATH" of a hash list.
func parseFiles(field, value string, hashLen int) ([]File, error) {
	var files []File
	for line := range strings.SplitSeq(value, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		parts := strings.Fields(line)
		if len(parts) != 3 {
			return nil, &Error{field, fmt.Sprintf("line %q is not HASH SIZE PATH", line)}
		}
		hash := strings.ToLower(parts[0])
		if _, err := hex.DecodeString(hash); err != nil || len(hash) != hashLen {
			return nil, &Error{field, fmt.Sprintf("bad hash %q", parts[0])}
		}
		size, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil || size < 0 {
			return nil, &Error{field, fmt.Sprintf("bad size %q for %s", parts[1], parts[2])}
		}
		if !safePath(parts[2]) {
			return nil, &Error{field, fmt.Sprintf("unsafe path %q", parts[2])}
		}
		files = append(files, File{Path: parts[2], Size: size, Hash: hash})
	}
	return files, nil
}

// safePath reports whether p stays inside the suite directory.
func safePath(p string) bool {
	if strings.HasPrefix(p, "/") || strings.Contains(p, "\\") {
		return false
	}
	for part := range strings.SplitSeq(p, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

// The date layouts apt accepts in Release files: RFC 1123 with a zone name or
// a numeric offset (with or without the weekday, one- or two-digit day), RFC
// 850 and C's asctime.
var layouts = []string{
	"Mon, _2 Jan 2006 15:04:05 MST",
	"Mon, _2 Jan 2006 15:04:05 -0700",
	"_2 Jan 2006 15:04:05 MST",
	"_2 Jan 2006 15:04:05 -0700",
	"Monday, _2-Jan-06 15:04:05 MST",
	"Mon Jan _2 15:04:05 2006",
}

// ParseDate parses a Release date. Zone names other than UTC, GMT and Z
// are refused: Go would read an unknown abbreviation as UTC silently, and a
// wrong offset of hours would defeat the Valid-Until check.
func ParseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range layouts {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		if strings.Contains(layout, "MST") {
			name, off := t.Zone()
			if (name != "UTC" && name != "GMT" && name != "Z") || off != 0 {
				return time.Time{}, fmt.Errorf("date %q: time zone %s is not UTC", s, name)
			}
		}
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("date %q is not in RFC 1123 form (Sat, 11 Jul 2026 10:16:37 UTC)", s)
}
