package policy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/greypm/grey/deb/control"
)

// Where apt keeps its preferences, relative to a root: grey reads apt's
// own files, so that one set of pins governs apt and grey on a host.
const (
	PreferencesFile  = "etc/apt/preferences"
	PreferencesParts = "etc/apt/preferences.d"
)

// PinType is what a pin's data describes: apt's "Pin: release ...",
// "Pin: origin ...", "Pin: version ..." and "Pin: source-version ...".
type PinType int

// The pin types of apt_preferences(5).
const (
	PinRelease PinType = iota + 1
	PinOrigin
	PinVersion
	PinSourceVersion
)

func (t PinType) String() string {
	switch t {
	case PinRelease:
		return "release"
	case PinOrigin:
		return "origin"
	case PinVersion:
		return "version"
	case PinSourceVersion:
		return "source-version"
	}
	return "unknown"
}

// Never is the priority of "Pin-Priority: never": the versions it matches
// are never installed, whatever other pin matches them (apt's NEVER_PIN,
// the lowest short integer).
const Never = math.MinInt16

// Pin is one package name of one record of a preferences file. A record
// naming several packages ("Package: a b") gives one Pin each, in order.
type Pin struct {
	// File and Line say where the record is, for messages.
	File string
	Line int
	// Package is "" for "Package: *" (a pin of whole package files);
	// otherwise a name, a glob (*, ?, [...]) or a /regex/, optionally
	// with "src:" before it (the pin applies to the binaries of that
	// source package) and ":ARCH" after it.
	Package string
	Type    PinType
	// Data is what follows the pin's type: "a=bookworm,c=main",
	// "1.2*", "deb.debian.org".
	Data     string
	Priority int
}

// ParseError is a preferences record apt refuses.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Parse reads a preferences file as apt does (apt_preferences(5)): one
// record per stanza, "#" comment lines, the "Explanation" field ignored. A
// record apt refuses (no Package field, a priority of zero or out of range,
// "never" for a named package) is a *ParseError naming the file and line;
// a record apt only warns about (an unknown pin type, no Pin field) is
// skipped and reported in warnings. name is used in messages.
func Parse(r io.Reader, name string) (pins []Pin, warnings []string, err error) {
	cr := control.NewReaderName(r, name)
	defer cr.Close()
	for {
		st, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return pins, warnings, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if len(st.Fields) == 0 {
			continue
		}
		bad := func(format string, args ...any) error {
			return &ParseError{File: name, Line: st.Line, Msg: fmt.Sprintf(format, args...)}
		}
		names, ok := st.Lookup("Package")
		if !ok || strings.TrimSpace(names) == "" {
			return nil, nil, bad("record has no Package field")
		}
		pinField, ok := st.Lookup("Pin")
		if !ok {
			// apt skips such a record without a word.
			continue
		}
		pinField = strings.TrimSpace(pinField)
		word, data, _ := strings.Cut(pinField, " ")
		data = strings.TrimSpace(data)
		named := strings.TrimSpace(names) != "*"
		var typ PinType
		switch strings.ToLower(word) {
		case "release":
			typ = PinRelease
		case "origin":
			typ = PinOrigin
		case "version":
			typ = PinVersion
		case "source-version":
			typ = PinSourceVersion
		}
		if typ == 0 || (typ == PinVersion || typ == PinSourceVersion) && !named {
			warnings = append(warnings, fmt.Sprintf("%s:%d: did not understand pin type %s", name, st.Line, word))
			continue
		}
		prioText := strings.TrimSpace(st.Get("Pin-Priority"))
		var prio int
		switch {
		case prioText == "never":
			if named {
				return nil, nil, bad("the special 'Pin-Priority: never' can only be used for 'Package: *' records")
			}
			prio = Never
		case prioText == "":
			return nil, nil, bad("no priority (or zero) specified for pin")
		default:
			n, err := strconv.Atoi(prioText)
			if err != nil || n < math.MinInt16 || n > math.MaxInt16 {
				return nil, nil, bad("value %s is outside the range of valid pin priorities (%d to %d)", prioText, math.MinInt16, math.MaxInt16)
			}
			if n == 0 {
				return nil, nil, bad("no priority (or zero) specified for pin")
			}
			if n == Never {
				// apt keeps "never" for the word: a number that happens
				// to equal it is one higher.
				n++
			}
			prio = n
		}
		if !named {
			pins = append(pins, Pin{File: name, Line: st.Line, Type: typ, Data: data, Priority: prio})
			continue
		}
		for _, pkg := range strings.Fields(names) {
			pins = append(pins, Pin{File: name, Line: st.Line, Package: pkg, Type: typ, Data: data, Priority: prio})
		}
	}
}

// Load reads the preferences of the root at dir: etc/apt/preferences,
// then each file of etc/apt/preferences.d that apt reads (names of
// letters, digits, '_', '-' and ':', with no extension or ".pref"; others
// are skipped as apt skips them), in name order. The files are read
// through an os.Root, so a symbolic link cannot lead outside the root.
// Missing files and folders are no pins.
func Load(dir string) (pins []Pin, warnings []string, err error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("open root %s: %w", dir, err)
	}
	defer root.Close()
	names := []string{PreferencesFile}
	entries, err := fs.ReadDir(root.FS(), PreferencesParts)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("read %s: %w", path.Join(dir, PreferencesParts), err)
	}
	var parts []string
	for _, e := range entries {
		if e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0 {
			if partName(e.Name()) {
				parts = append(parts, path.Join(PreferencesParts, e.Name()))
			}
		}
	}
	slices.Sort(parts)
	names = append(names, parts...)
	for _, n := range names {
		f, err := root.Open(n)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("open %s: %w", path.Join(dir, n), err)
		}
		if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
			f.Close()
			continue
		}
		p, w, err := Parse(f, path.Join(dir, n))
		f.Close()
		if err != nil {
			return nil, nil, err
		}
		pins = append(pins, p...)
		warnings = append(warnings, w...)
	}
	return pins, warnings, nil
}

// partName reports whether apt reads a file of preferences.d called name:
// not hidden, no extension or the extension ".pref" (after the last dot),
// and otherwise run-parts' characters and dots.
func partName(name string) bool {
	if name == "" || name[0] == '.' || name[len(name)-1] == '.' {
		return false
	}
	if i := strings.LastIndexByte(name, '.'); i >= 0 && name[i+1:] != "pref" {
		return false
	}
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == ':', c == '.':
		default:
			return false
		}
	}
	return true
}
