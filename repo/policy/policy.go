// Package policy is apt's policy: the pin priority of every version of a
// package (apt_preferences(5)), from the releases its Packages files come
// from and the preferences files' pins, and the candidate version that
// follows from them (apt's pkgPolicy). grey's resolver, `grey policy` and
// the PKG/SUITE syntax read it, so that one set of pins, apt's own files,
// governs apt and grey on a host.
//
// The rules are apt's, read from apt-pkg/policy.cc and versionmatch.cc:
//   - a Packages file has priority 500, 1 when its Release says
//     "NotAutomatic: yes", 100 when it also says "ButAutomaticUpgrades:
//     yes", and dpkg's status file (the installed versions) 100;
//   - pins for "Package: *" set the priority of the files they match, the
//     first matching pin winning ("never" always wins);
//   - a pin naming packages sets the priority of the versions it matches,
//     the first matching pin winning;
//   - a version's priority is its pin's, or else the highest of its files';
//   - the candidate is the version of highest priority, newer first on a
//     tie, never one older than the installed version unless its priority
//     is 1000 or more, and never one of priority zero or less.
package policy

import (
	"fmt"
	"strings"

	"github.com/greypm/grey/deb/version"
)

// The default priorities of apt_preferences(5).
const (
	DefaultPriority = 500
	// NotAutomaticPriority is a release's with "NotAutomatic: yes"
	// (experimental).
	NotAutomaticPriority = 1
	// AutomaticUpgradesPriority is a release's with "NotAutomatic: yes"
	// and "ButAutomaticUpgrades: yes" (backports).
	AutomaticUpgradesPriority = 100
	// StatusPriority is dpkg's status file's: the installed versions.
	StatusPriority = 100
	// TargetReleasePriority is the release named by -t (APT::Default-Release).
	TargetReleasePriority = 990
	// Downgrade is the priority from which a version replaces a newer
	// installed one.
	Downgrade = 1000
)

// File is one Packages file as the policy sees it: what its signed
// Release says, and where it is.
type File struct {
	// Archive is the Release's Suite (apt's "a="), Codename its "n=",
	// Version "v=", Origin "o=", Label "l=".
	Archive, Codename, Version, Origin, Label string
	// Component ("c=") and Architecture ("b=") of the Packages file.
	Component, Architecture string
	// Site is the host name of the source's URI ("Pin: origin"); "" for
	// file: and other local sources.
	Site string
	// NotAutomatic and ButAutomaticUpgrades are the Release's fields.
	NotAutomatic, ButAutomaticUpgrades bool
	// Status marks dpkg's status file: the installed versions ("now").
	Status bool
	// Describe names the file in `policy` output, as apt does: "URI
	// SUITE/COMPONENT ARCH Packages", or "/var/lib/dpkg/status".
	Describe string
}

// Version is one version of a package, with the files it is available
// from (indexes into the Policy's files).
type Version struct {
	Name, Architecture, Version string
	// Source and SourceVersion are its source package (source pins).
	Source, SourceVersion string
	Files                 []int
	// Installed marks the installed version of its name and
	// architecture.
	Installed bool
}

// Policy holds the priorities of a set of Packages files under a set of
// pins. It is read-only after New and safe for concurrent use.
type Policy struct {
	files    []File
	filePrio []int
	native   string
	// pkgPins are the pins that name packages, in the preferences'
	// order, compiled.
	pkgPins []pkgPin
}

type pkgPin struct {
	Pin
	source bool   // "src:NAME"
	name   string // without "src:" and ":ARCH"
	arch   string
	expr   expr // the name when it is a pattern
	m      matcher
}

// New computes the priorities of files under pins, for a host whose native
// architecture is native. defaultRelease, when set, is apt's -t
// (APT::Default-Release): the files of that release get priority 990; it
// must name a release of files (or "now"), else New fails.
func New(files []File, pins []Pin, native, defaultRelease string) (*Policy, error) {
	p := &Policy{files: files, filePrio: make([]int, len(files)), native: native}
	for i, f := range files {
		switch {
		case f.Status:
			p.filePrio[i] = StatusPriority
		case f.ButAutomaticUpgrades:
			p.filePrio[i] = AutomaticUpgradesPriority
		case f.NotAutomatic:
			p.filePrio[i] = NotAutomaticPriority
		default:
			p.filePrio[i] = DefaultPriority
		}
	}
	var defaults []Pin
	if defaultRelease != "" {
		e := compile(defaultRelease)
		found := len(defaultRelease) > 2 && defaultRelease[1] == '=' || e.match("now")
		for _, f := range files {
			if !f.Status && (e.match(f.Archive) || e.match(f.Codename) || e.match(f.Version)) {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("the value '%s' is invalid for APT::Default-Release as such a release is not available in the sources", defaultRelease)
		}
		defaults = append(defaults, Pin{Type: PinRelease, Data: defaultRelease, Priority: TargetReleasePriority})
	}
	for _, pin := range pins {
		if pin.Package == "" {
			defaults = append(defaults, pin)
			continue
		}
		pp := pkgPin{Pin: pin, name: pin.Package, m: newMatcher(pin.Type, pin.Data)}
		if n, ok := strings.CutPrefix(pp.name, "src:"); ok {
			pp.source, pp.name = true, n
		}
		if i := strings.LastIndexByte(pp.name, ':'); i >= 0 {
			pp.name, pp.arch = pp.name[:i], pp.name[i+1:]
		}
		if isPattern(pp.name) {
			pp.expr = compile(pp.name)
		}
		p.pkgPins = append(p.pkgPins, pp)
	}
	fixed := make([]bool, len(files))
	for _, pin := range defaults {
		m := newMatcher(pin.Type, pin.Data)
		for i := range files {
			if (!fixed[i] || pin.Priority == Never) && p.filePrio[i] != Never && m.file(&files[i]) {
				p.filePrio[i] = pin.Priority
				fixed[i] = true
			}
		}
	}
	return p, nil
}

// Files returns the files the policy was made with.
func (p *Policy) Files() []File { return p.files }

// FilePriority returns the priority of file i.
func (p *Policy) FilePriority(i int) int { return p.filePrio[i] }

// Trivial reports whether every version's priority is the default one,
// so that the candidate is always the newest version (no pin, no
// NotAutomatic release, no default release): callers may skip the policy.
func (p *Policy) Trivial() bool {
	if len(p.pkgPins) > 0 {
		return false
	}
	for i, f := range p.files {
		if !f.Status && p.filePrio[i] != DefaultPriority {
			return false
		}
	}
	return true
}

// PinPriority returns the priority the first pin naming v's package gives
// v, and whether one does (apt's GetPriority(ver, false)).
func (p *Policy) PinPriority(v Version) (int, bool) {
	for i := range p.pkgPins {
		pp := &p.pkgPins[i]
		if !pp.appliesTo(v, p.native) {
			continue
		}
		if pp.m.version(v, p.files) {
			return pp.Priority, true
		}
	}
	return 0, false
}

// Priority returns v's priority (apt's GetPriority(ver, true)): its pin's
// when a pin names it and it is available from a file not pinned to
// never; else the highest of its files' (dpkg's status file counting only
// for the installed version); 0 when it has no file.
func (p *Policy) Priority(v Version) int {
	if prio, ok := p.PinPriority(v); ok {
		if prio == Never {
			return Never
		}
		for _, f := range v.Files {
			if p.filePrio[f] != Never {
				return prio
			}
		}
	}
	best, any := 0, false
	for _, f := range v.Files {
		prio := p.filePrio[f]
		if p.files[f].Status && !v.Installed {
			prio = -1
		}
		if !any || prio > best {
			best, any = prio, true
		}
	}
	return best
}

// Candidate returns the index in vs (the versions of one package, newest
// first) of apt's candidate, or -1 when there is none: the version of
// highest priority, the newer on a tie, skipping versions of priority 0
// and versions older than the installed one unless their priority is at
// least 1000.
func (p *Policy) Candidate(vs []Version) int {
	cur := -1
	for i, v := range vs {
		if v.Installed {
			cur = i
			break
		}
	}
	cand, candPrio := -1, -1
	for i, v := range vs {
		prio := p.Priority(v)
		if prio == 0 || prio <= candPrio {
			continue
		}
		if cur >= 0 && prio < Downgrade && older(v.Version, vs[cur].Version) {
			continue
		}
		cand, candPrio = i, prio
	}
	return cand
}

// older reports whether version a sorts before b; a version that does not
// parse is never older (it cannot be installed anyway).
func older(a, b string) bool {
	c, err := version.CompareStrings(a, b)
	return err == nil && c < 0
}

// appliesTo reports whether the pin's package name covers v: the name (or
// the pattern, or the source package's), and the architecture (the native
// one, and "all", when the pin gives none).
func (pp *pkgPin) appliesTo(v Version, native string) bool {
	name := v.Name
	if pp.source {
		name = v.Source
		if name == "" {
			name = v.Name
		}
	}
	if pp.expr.re != nil {
		if !pp.expr.match(name) {
			return false
		}
	} else if name != pp.name {
		return false
	}
	want := pp.arch
	if want == "" {
		want = native
	}
	return v.Architecture == want || v.Architecture == "all" && (pp.arch == "" || pp.arch == native) || want == "any"
}

// matcher is apt's pkgVersionMatch: one pin's data, parsed, its
// expressions compiled once.
type matcher struct {
	typ PinType
	// Version and SourceVersion pins.
	ver       string
	verPrefix bool
	verExpr   expr
	// Release pins: every field set is a condition.
	all                                               bool
	relVer                                            string
	relVerPrefix                                      bool
	relVerExpr                                        expr
	origin, archive, codename, label, comp, arch, rel field
	// Origin pins.
	site expr
}

// field is one "x=VALUE" of a release pin.
type field struct {
	set bool
	e   expr
}

func newField(v string) field { return field{true, compile(v)} }

func (f field) fails(s string) bool { return f.set && !f.e.match(s) }

func newMatcher(t PinType, data string) matcher {
	m := matcher{typ: t}
	if data == "" {
		m.typ = 0
		return m
	}
	switch t {
	case PinVersion, PinSourceVersion:
		m.ver = data
		if strings.HasSuffix(data, "*") {
			m.ver, m.verPrefix = data[:len(data)-1], true
		}
		m.verExpr = compile(data)
	case PinRelease:
		if data == "*" {
			m.all = true
			return m
		}
		if !strings.Contains(data, "=") {
			if data[0] >= '0' && data[0] <= '9' {
				m.relVer = data
			} else {
				m.rel = newField(data)
			}
		} else {
			for _, frag := range strings.Split(data, ",") {
				frag = strings.TrimSpace(frag)
				if len(frag) < 3 || frag[1] != '=' {
					continue
				}
				val := frag[2:]
				switch strings.ToLower(frag[:1]) {
				case "v":
					m.relVer = val
				case "o":
					m.origin = newField(val)
				case "a":
					m.archive = newField(val)
				case "n":
					m.codename = newField(val)
				case "l":
					m.label = newField(val)
				case "c":
					m.comp = newField(val)
				case "b":
					m.arch = newField(val)
				}
			}
		}
		if m.relVer != "" {
			m.relVerExpr = compile(m.relVer)
			if strings.HasSuffix(m.relVer, "*") {
				m.relVer, m.relVerPrefix = m.relVer[:len(m.relVer)-1], true
			}
		}
	case PinOrigin:
		site := data
		if len(data) >= 2 && data[0] == '"' && data[len(data)-1] == '"' {
			site = data[1 : len(data)-1]
		}
		m.site = compile(site)
	}
	return m
}

// matchVer is apt's MatchVer: equal, or a prefix when prefix, ignoring case.
func matchVer(s, want string, prefix bool) bool {
	if prefix {
		return len(s) >= len(want) && strings.EqualFold(s[:len(want)], want)
	}
	return strings.EqualFold(s, want)
}

// version reports whether the pin matches version v (apt's VersionMatches).
func (m *matcher) version(v Version, files []File) bool {
	switch m.typ {
	case PinVersion:
		return matchVer(v.Version, m.ver, m.verPrefix) || m.verExpr.match(v.Version)
	case PinSourceVersion:
		sv := v.SourceVersion
		if sv == "" {
			sv = v.Version
		}
		return matchVer(sv, m.ver, m.verPrefix) || m.verExpr.match(sv)
	case PinRelease, PinOrigin:
		for _, f := range v.Files {
			if m.file(&files[f]) {
				return true
			}
		}
	}
	return false
}

// file reports whether the pin matches a Packages file (apt's FileMatch).
func (m *matcher) file(f *File) bool {
	switch m.typ {
	case PinRelease:
		if m.all {
			return true
		}
		if f.Status {
			// dpkg's status file has no Release: apt compares the
			// archive and the component with "now" and refuses every
			// other field.
			if m.origin.set || m.label.set || m.relVer != "" || m.codename.set || m.arch.set {
				return false
			}
			return !m.archive.fails("now") && !m.rel.fails("now") && !m.comp.fails("now")
		}
		if m.relVer == "" && !m.origin.set && !m.archive.set && !m.label.set && !m.rel.set && !m.codename.set && !m.comp.set && !m.arch.set {
			return false
		}
		if m.relVer != "" && !matchVer(f.Version, m.relVer, m.relVerPrefix) && !m.relVerExpr.match(f.Version) {
			return false
		}
		if m.origin.fails(f.Origin) || m.archive.fails(f.Archive) || m.codename.fails(f.Codename) || m.label.fails(f.Label) {
			return false
		}
		if m.rel.set && !m.rel.e.match(f.Archive) && !m.rel.e.match(f.Codename) {
			return false
		}
		return !m.comp.fails(f.Component) && !m.arch.fails(f.Architecture)
	case PinOrigin:
		return !f.Status && m.site.match(f.Site)
	}
	return false
}

// InRelease reports whether file f belongs to the release named rel, as
// apt's "PKG/RELEASE" selects it: rel matches the Release's suite or
// codename (a glob or /regex/ too, as apt allows), or "now" names the
// installed version.
func InRelease(f *File, rel string) bool {
	if f.Status {
		return strings.EqualFold(rel, "now")
	}
	e := compile(rel)
	return e.match(f.Archive) || e.match(f.Codename)
}
