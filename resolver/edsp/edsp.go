// Package edsp reads and writes apt's External Dependency Solver Protocol,
// version 0.5 (apt-doc's external-dependency-solver-protocol.md): the
// scenario apt sends to an external solver (a Request stanza followed by the
// package universe) and the answer the solver writes back (Install, Remove
// and Autoremove stanzas naming packages by APT-ID, or one Error stanza).
//
// A Scenario maps onto the resolver's Request and Index (see Scenario.Resolve),
// so grey works as an apt solver (`grey solve`) and EDSP files serve as the
// resolver's test cases (testdata/resolver).
package edsp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/version"
)

// Version is the protocol version this package speaks.
const Version = "EDSP 0.5"

// Request is the scenario's Request stanza.
type Request struct {
	// Protocol is the Request field's value ("EDSP 0.5").
	Protocol string
	// Architecture is the native architecture; Architectures every
	// architecture apt knows (the native one when the field is absent).
	Architecture  string
	Architectures []string
	// Install and Remove hold arch-qualified package names ("hello:amd64").
	Install, Remove []string
	// UpgradeAll asks to upgrade every installed package; Upgrade and
	// DistUpgrade are the deprecated spellings, already folded into
	// UpgradeAll, ForbidNewInstall and ForbidRemove by Read.
	UpgradeAll, Upgrade, DistUpgrade bool
	Autoremove                       bool
	// StrictPinning (default true) limits choices to APT candidates and
	// installed versions.
	StrictPinning    bool
	ForbidNewInstall bool
	ForbidRemove     bool
	// Solver and Preferences are informational strings.
	Solver, Preferences string
}

// Package is one stanza of the package universe: the package and apt's
// annotations.
type Package struct {
	*deb.Package
	// ID is the APT-ID, the name by which an answer refers to it.
	ID        string
	Installed bool
	Hold      bool
	// Pin is the APT-Pin priority.
	Pin       int
	Candidate bool
	// Automatic is APT-Automatic: installed only to satisfy another package.
	Automatic bool
	// Releases are the APT-Release lines ("o=Debian,a=stable,...").
	Releases []string
}

// Scenario is a whole EDSP input.
type Scenario struct {
	Request  Request
	Packages []*Package
	// Comments are the "#" lines before the Request stanza, without the
	// "#": testdata/resolver keeps expectations there (apt never writes
	// any).
	Comments []string
	// Warnings are what Read accepted as apt does but noted: a missing
	// Request stanza, a reused APT-ID, an unknown Multi-Arch value.
	Warnings []string
}

// FormatError reports input that is not a valid EDSP scenario or answer.
type FormatError struct {
	// Line is the offending stanza's first line (0 when unknown).
	Line int
	Msg  string
}

// Error prints "edsp: line N: msg".
func (e *FormatError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("edsp: line %d: %s", e.Line, e.Msg)
	}
	return "edsp: " + e.Msg
}

func formatErr(line int, format string, args ...any) error {
	return &FormatError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// yesNo reads an EDSP boolean; missing fields take def.
func yesNo(s *control.Stanza, field string, def bool) (bool, error) {
	v, ok := s.Lookup(field)
	if !ok || v == "" {
		return def, nil
	}
	switch strings.ToLower(v) {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return def, formatErr(s.Line, "field %s: want yes or no, got %q", field, v)
}

// Read parses a scenario. It accepts what apt's own solver accepts: a
// universe without a Request stanza (an empty request: nothing to do; the
// native architecture is that of the first package not of "all"), an
// APT-ID used by several stanzas (apt's solver answers with the shared id;
// ReadAnswer tells the packages apart by the answer's Package, Version
// and Architecture fields), and an unknown Multi-Arch value such as
// "none" (apt warns and reads it as "no"; so does Read, in
// Scenario.Warnings). Every package stanza must otherwise decode
// (deb.FromStanza) and carry an APT-ID.
func Read(r io.Reader) (*Scenario, error) {
	comments, body, err := splitComments(r)
	if err != nil {
		return nil, err
	}
	cr := control.NewReader(body)
	defer cr.Close()
	first, err := cr.Next()
	if errors.Is(err, io.EOF) {
		return nil, formatErr(0, "empty input: no Request stanza and no packages")
	}
	if err != nil {
		return nil, fmt.Errorf("edsp: %w", err)
	}
	sc := &Scenario{Comments: comments}
	pending := first
	if _, isReq := first.Lookup("Request"); isReq {
		if err := parseRequest(first, &sc.Request); err != nil {
			return nil, err
		}
		pending = nil
	} else if _, isPkg := first.Lookup("Package"); isPkg {
		// No Request stanza: apt's solver reads the universe and has
		// nothing to do.
		sc.Request = Request{Protocol: Version, StrictPinning: true}
		sc.Warnings = append(sc.Warnings, "no Request stanza: an empty request")
	} else {
		return nil, formatErr(first.Line, "the first stanza is neither a Request nor a Package stanza")
	}
	ids := make(map[string]bool)
	for {
		st := pending
		pending = nil
		if st == nil {
			st, err = cr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("edsp: %w", err)
			}
		}
		p, warn, err := parsePackage(st)
		if err != nil {
			return nil, err
		}
		if warn != "" {
			sc.Warnings = append(sc.Warnings, warn)
		}
		if ids[p.ID] {
			sc.Warnings = append(sc.Warnings, fmt.Sprintf("line %d: package %s: APT-ID %s used before", st.Line, p.Package, p.ID))
		}
		ids[p.ID] = true
		sc.Packages = append(sc.Packages, p)
	}
	if sc.Request.Architecture == "" {
		for _, p := range sc.Packages {
			if p.Architecture != "all" {
				sc.Request.Architecture = p.Architecture
				break
			}
		}
		if sc.Request.Architecture == "" {
			return nil, formatErr(0, "no Request stanza and no package of a real architecture: the native architecture is unknown")
		}
		sc.Request.Architectures = []string{sc.Request.Architecture}
	}
	return sc, nil
}

// splitComments takes the leading "#" lines off the input so they can be
// kept (the control reader would drop them). Blank lines stand in for them,
// so line numbers in errors stay those of the file.
func splitComments(r io.Reader) ([]string, io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var comments []string
	for {
		c, err := br.Peek(1)
		if err != nil || c[0] != '#' {
			break
		}
		line, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("edsp: read: %w", err)
		}
		comments = append(comments, strings.TrimRight(strings.TrimPrefix(line, "#"), "\r\n"))
	}
	pad := strings.Repeat("\n", len(comments))
	return comments, io.MultiReader(strings.NewReader(pad), br), nil
}

func parseRequest(s *control.Stanza, req *Request) error {
	proto, ok := s.Lookup("Request")
	if !ok {
		return formatErr(s.Line, "the first stanza is not a Request stanza")
	}
	if !strings.HasPrefix(proto, "EDSP ") {
		return formatErr(s.Line, "Request: %q is not an EDSP version", proto)
	}
	req.Protocol = proto
	req.Architecture = s.Get("Architecture")
	if req.Architecture == "" {
		return formatErr(s.Line, "Request stanza without Architecture")
	}
	req.Architectures = strings.Fields(s.Get("Architectures"))
	if len(req.Architectures) == 0 {
		req.Architectures = []string{req.Architecture}
	}
	req.Install = strings.Fields(s.Get("Install"))
	req.Remove = strings.Fields(s.Get("Remove"))
	req.Solver = s.Get("Solver")
	req.Preferences = s.Get("Preferences")
	var err error
	for _, f := range []struct {
		name string
		dst  *bool
		def  bool
	}{
		{"Upgrade-All", &req.UpgradeAll, false},
		{"Upgrade", &req.Upgrade, false},
		{"Dist-Upgrade", &req.DistUpgrade, false},
		{"Autoremove", &req.Autoremove, false},
		{"Strict-Pinning", &req.StrictPinning, true},
		{"Forbid-New-Install", &req.ForbidNewInstall, false},
		{"Forbid-Remove", &req.ForbidRemove, false},
	} {
		if *f.dst, err = yesNo(s, f.name, f.def); err != nil {
			return err
		}
	}
	// The deprecated fields, as the protocol defines them.
	if req.Upgrade {
		req.UpgradeAll, req.ForbidNewInstall, req.ForbidRemove = true, true, true
	}
	if req.DistUpgrade {
		req.UpgradeAll = true
	}
	return nil
}

func parsePackage(s *control.Stanza) (*Package, string, error) {
	var warn string
	switch ma := s.Get("Multi-Arch"); ma {
	case "", "no", "same", "foreign", "allowed":
	default:
		// apt: "Unknown Multi-Arch type", read as no.
		warn = fmt.Sprintf("line %d: package %s: unknown Multi-Arch value %q read as \"no\"", s.Line, s.Get("Package"), ma)
		c := &control.Stanza{Line: s.Line, Fields: append([]control.Field(nil), s.Fields...)}
		c.Delete("Multi-Arch")
		s = c
	}
	dp, err := deb.FromStanza(s)
	if err != nil {
		return nil, "", fmt.Errorf("edsp: line %d: %w", s.Line, err)
	}
	if sv := s.Get("Source-Version"); sv != "" {
		// EDSP's Source holds the name only, the version comes apart.
		if v, err := version.Parse(sv); err == nil {
			dp.SourceVersion = v
		}
	}
	p := &Package{Package: dp}
	p.ID = s.Get("APT-ID")
	if p.ID == "" {
		return nil, "", formatErr(s.Line, "package %s: no APT-ID", dp)
	}
	if pin := s.Get("APT-Pin"); pin != "" {
		n, err := strconv.Atoi(pin)
		if err != nil {
			return nil, "", formatErr(s.Line, "package %s: APT-Pin %q is not an integer", dp, pin)
		}
		p.Pin = n
	}
	for _, f := range []struct {
		name string
		dst  *bool
	}{
		{"Installed", &p.Installed}, {"Hold", &p.Hold},
		{"APT-Candidate", &p.Candidate}, {"APT-Automatic", &p.Automatic},
	} {
		if *f.dst, err = yesNo(s, f.name, false); err != nil {
			return nil, "", err
		}
	}
	for _, line := range strings.Split(s.Get("APT-Release"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			p.Releases = append(p.Releases, line)
		}
	}
	if p.Origin == "" {
		p.Origin = "edsp"
		if p.Installed {
			p.Origin = "installed"
		}
	}
	return p, warn, nil
}

// Write writes the scenario in EDSP form: the comments, the Request
// stanza, then every package's stanza (as read, with the EDSP fields set
// from the Package's values).
func (sc *Scenario) Write(w io.Writer) error {
	var b strings.Builder
	for _, c := range sc.Comments {
		b.WriteString("#" + c + "\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("edsp: write: %w", err)
	}
	cw := control.NewWriter(w)
	if err := cw.Write(sc.Request.stanza()); err != nil {
		return fmt.Errorf("edsp: request: %w", err)
	}
	for _, p := range sc.Packages {
		if err := cw.Write(p.stanza()); err != nil {
			return fmt.Errorf("edsp: package %s: %w", p.Package, err)
		}
	}
	return nil
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (req *Request) stanza() *control.Stanza {
	s := &control.Stanza{}
	proto := req.Protocol
	if proto == "" {
		proto = Version
	}
	s.Set("Request", proto)
	s.Set("Architecture", req.Architecture)
	if len(req.Architectures) > 0 {
		s.Set("Architectures", strings.Join(req.Architectures, " "))
	}
	if len(req.Install) > 0 {
		s.Set("Install", strings.Join(req.Install, " "))
	}
	if len(req.Remove) > 0 {
		s.Set("Remove", strings.Join(req.Remove, " "))
	}
	for _, f := range []struct {
		name string
		v    bool
		def  bool
	}{
		{"Upgrade-All", req.UpgradeAll, false},
		{"Autoremove", req.Autoremove, false},
		{"Strict-Pinning", req.StrictPinning, true},
		{"Forbid-New-Install", req.ForbidNewInstall, false},
		{"Forbid-Remove", req.ForbidRemove, false},
	} {
		if f.v != f.def {
			s.Set(f.name, yes(f.v))
		}
	}
	if req.Solver != "" {
		s.Set("Solver", req.Solver)
	}
	if req.Preferences != "" {
		s.Set("Preferences", req.Preferences)
	}
	return s
}

// stanza is the package's stanza with the EDSP fields brought up to date.
func (p *Package) stanza() *control.Stanza {
	s := &control.Stanza{}
	if p.Stanza != nil {
		s.Fields = append(s.Fields, p.Stanza.Fields...)
	} else {
		s.Set("Package", p.Name)
		s.Set("Version", p.Version.String())
		s.Set("Architecture", p.Architecture)
	}
	s.Set("APT-ID", p.ID)
	s.Set("APT-Pin", strconv.Itoa(p.Pin))
	for _, f := range []struct {
		name string
		v    bool
	}{{"Installed", p.Installed}, {"Hold", p.Hold}, {"APT-Candidate", p.Candidate}, {"APT-Automatic", p.Automatic}} {
		if f.v {
			s.Set(f.name, "yes")
		} else {
			s.Delete(f.name)
		}
	}
	if len(p.Releases) > 0 {
		s.Set("APT-Release", "\n "+strings.Join(p.Releases, "\n "))
	}
	return s
}
