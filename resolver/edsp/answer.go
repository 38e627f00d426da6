package edsp

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/greypm/grey/deb/control"
)

// Answer is a solver's reply: a solution (Install, Remove, Autoremove) or,
// when Error is set, an error report.
type Answer struct {
	// Install lists packages to install, upgrade or downgrade to; an
	// upgrade's implicit removal of the old version is not listed.
	Install []*Package
	// Remove lists installed packages to remove.
	Remove []*Package
	// Autoremove lists packages that a later autoremove could remove.
	Autoremove []*Package
	// Error, when set, is the error report; the lists are then empty.
	Error *ErrorReport
}

// ErrorReport is an Error stanza.
type ErrorReport struct {
	// ID is the Error field: an identifier apt ignores.
	ID string
	// Message explains the failure: a short first line, details after.
	Message string
}

// WriteAnswer writes an answer as apt reads it: one stanza per package
// with Install/Remove/Autoremove: APT-ID plus Package, Version and
// Architecture for readability, or a single Error stanza.
func WriteAnswer(w io.Writer, a *Answer) error {
	cw := control.NewWriter(w)
	if a.Error != nil {
		s := &control.Stanza{}
		id := a.Error.ID
		if id == "" {
			id = "grey-unsatisfiable"
		}
		s.Set("Error", id)
		s.Set("Message", messageValue(a.Error.Message))
		if err := cw.Write(s); err != nil {
			return fmt.Errorf("edsp: write error stanza: %w", err)
		}
		return nil
	}
	for _, list := range []struct {
		field string
		pkgs  []*Package
	}{{"Install", a.Install}, {"Remove", a.Remove}, {"Autoremove", a.Autoremove}} {
		for _, p := range list.pkgs {
			s := &control.Stanza{}
			s.Set(list.field, p.ID)
			s.Set("Package", p.Name)
			s.Set("Version", p.Version.String())
			s.Set("Architecture", p.Architecture)
			if err := cw.Write(s); err != nil {
				return fmt.Errorf("edsp: write %s stanza for %s: %w", list.field, p.Package, err)
			}
		}
	}
	return nil
}

// messageValue turns free text into a deb822 field value: the first line
// as is, later lines indented, empty lines as " .".
func messageValue(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return "no solution"
	}
	lines := strings.Split(msg, "\n")
	for i := 1; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], " \t")
		if l == "" {
			l = "."
		}
		lines[i] = " " + l
	}
	lines[0] = strings.TrimSpace(lines[0])
	if lines[0] == "" {
		lines[0] = "no solution"
	}
	return strings.Join(lines, "\n")
}

// WriteProgress writes a Progress stanza (apt shows the message while the
// solver runs). The stanza ends with a blank line so that the next stanza
// can follow.
func WriteProgress(w io.Writer, now time.Time, percent int, msg string) error {
	s := &control.Stanza{}
	s.Set("Progress", now.UTC().Format(time.RFC1123Z))
	s.Set("Percentage", fmt.Sprint(percent))
	if msg != "" {
		s.Set("Message", msg)
	}
	b, err := control.AppendStanza(nil, s)
	if err != nil {
		return fmt.Errorf("edsp: progress: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("edsp: progress: %w", err)
	}
	return nil
}

// ReadAnswer parses an answer (apt's own solver's, or grey's) against the
// scenario it answers: every APT-ID must name one of its packages.
// Progress stanzas are skipped. When several packages share an APT-ID
// (apt's solver accepts that), the stanza's Package, Version and
// Architecture fields choose among them; without those, an Install names
// the one that is not installed, a Remove the installed one.
func ReadAnswer(r io.Reader, sc *Scenario) (*Answer, error) {
	byID := make(map[string][]*Package, len(sc.Packages))
	for _, p := range sc.Packages {
		byID[p.ID] = append(byID[p.ID], p)
	}
	cr := control.NewReader(r)
	defer cr.Close()
	a := &Answer{}
	for {
		s, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("edsp answer: %w", err)
		}
		if _, ok := s.Lookup("Progress"); ok {
			continue
		}
		if id, ok := s.Lookup("Error"); ok {
			a.Error = &ErrorReport{ID: id, Message: s.Get("Message")}
			continue
		}
		if msg, ok := s.Lookup("Message"); ok && len(s.Fields) == 1 {
			// apt-cudf (aspcud, mccs, packup) reports "no solution"
			// with a lone Message field and no Error field.
			a.Error = &ErrorReport{Message: msg}
			continue
		}
		var dst *[]*Package
		var id string
		for _, f := range []struct {
			name string
			list *[]*Package
		}{{"Install", &a.Install}, {"Remove", &a.Remove}, {"Autoremove", &a.Autoremove}} {
			if v, ok := s.Lookup(f.name); ok {
				dst, id = f.list, v
				break
			}
		}
		if dst == nil {
			return nil, formatErr(s.Line, "answer stanza is neither Install, Remove, Autoremove, Error nor Progress")
		}
		p := pickByID(byID[id], s, dst == &a.Remove)
		if p == nil {
			return nil, formatErr(s.Line, "answer names APT-ID %q, which is not in the scenario", id)
		}
		*dst = append(*dst, p)
	}
	if a.Error != nil && (len(a.Install) > 0 || len(a.Remove) > 0) {
		return nil, formatErr(0, "answer holds both an Error and a solution")
	}
	return a, nil
}

// Final applies a solution to the scenario's installed set and returns the
// resulting set of packages, sorted by name, architecture and APT-ID. An
// install of an installed name+architecture replaces its old version.
func (sc *Scenario) Final(a *Answer) []*Package {
	type na struct{ name, arch string }
	set := make(map[na]*Package)
	for _, p := range sc.Packages {
		if p.Installed {
			set[na{p.Name, p.Architecture}] = p
		}
	}
	for _, p := range a.Remove {
		delete(set, na{p.Name, p.Architecture})
	}
	for _, p := range a.Install {
		set[na{p.Name, p.Architecture}] = p
	}
	out := make([]*Package, 0, len(set))
	for _, p := range set {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		if out[i].Architecture != out[j].Architecture {
			return out[i].Architecture < out[j].Architecture
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// pickByID chooses among the packages that share an APT-ID the one an
// answer stanza means (see ReadAnswer); nil when there is none.
func pickByID(ps []*Package, s *control.Stanza, remove bool) *Package {
	if len(ps) <= 1 {
		if len(ps) == 0 {
			return nil
		}
		return ps[0]
	}
	var fit []*Package
	for _, p := range ps {
		if n := s.Get("Package"); n != "" && n != p.Name {
			continue
		}
		if v := s.Get("Version"); v != "" && v != p.Version.String() {
			continue
		}
		if a := s.Get("Architecture"); a != "" && a != p.Architecture {
			continue
		}
		fit = append(fit, p)
	}
	if len(fit) == 0 {
		fit = ps
	}
	for _, p := range fit {
		if p.Installed == remove {
			return p
		}
	}
	return fit[0]
}
