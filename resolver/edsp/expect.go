package edsp

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/resolver/check"
)

// Expectation is what a scenario's expected outcome demands of an answer.
// It is written as "#" lines at the head of the scenario (kept by Read as
// Comments) or, one directive a line, in a file beside it; the syntax is
// in docs/resolver.md ("Scenarios"):
//
//	recommends: yes|no
//	expect: valid | final A=1 B=2 | contains A | absent B | size N P% | error WORD...
//	known-failure: REASON
//	source: WHERE THE SCENARIO COMES FROM
type Expectation struct {
	// Recommends says whether the scenario is solved with Recommends on.
	Recommends bool
	// Valid asks only that the checker accept the answer.
	Valid bool
	// Final is the exact final set, "name[:arch]=version", sorted.
	Final []string
	// Contains and Absent name packages ("name[:arch][=version]") that
	// must be in, or not in, the final set.
	Contains, Absent []string
	// IsError asks for an Error answer whose message holds every one of
	// ErrWords.
	IsError  bool
	ErrWords []string
	// Size, when positive, is the final set's size, within SizeTol percent.
	Size    int
	SizeTol float64
	// Known, when set, is a known failure of grey's resolver: the reason.
	Known string
	// Source names where the scenario comes from (free text).
	Source string
}

// ParseExpectation reads the expectation from comment lines (with or
// without their "#"); lines that are not directives are ignored. It is an
// error when nothing is expected.
func ParseExpectation(lines []string) (*Expectation, error) {
	e := &Expectation{}
	for _, c := range lines {
		c = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(c), "#"))
		key, val, ok := strings.Cut(c, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch strings.TrimSpace(key) {
		case "recommends":
			switch val {
			case "yes":
				e.Recommends = true
			case "no":
			default:
				return nil, fmt.Errorf("recommends: want yes or no, got %q", val)
			}
		case "known-failure":
			e.Known = val
		case "source":
			e.Source = val
		case "expect":
			kind, rest, _ := strings.Cut(val, " ")
			args := strings.Fields(rest)
			switch kind {
			case "valid":
				e.Valid = true
			case "final":
				e.Final = append(e.Final, args...)
			case "contains":
				e.Contains = append(e.Contains, args...)
			case "absent":
				e.Absent = append(e.Absent, args...)
			case "error":
				e.IsError = true
				e.ErrWords = append(e.ErrWords, args...)
			case "size":
				if len(args) != 2 || !strings.HasSuffix(args[1], "%") {
					return nil, fmt.Errorf("expect: size wants N P%%, got %q", rest)
				}
				n, err1 := strconv.Atoi(args[0])
				p, err2 := strconv.ParseFloat(strings.TrimSuffix(args[1], "%"), 64)
				if err1 != nil || err2 != nil || n <= 0 || p < 0 {
					return nil, fmt.Errorf("expect: size wants N P%%, got %q", rest)
				}
				e.Size, e.SizeTol = n, p
			default:
				return nil, fmt.Errorf("unknown expectation %q", kind)
			}
		}
	}
	if !e.Valid && e.Final == nil && e.Contains == nil && e.Absent == nil && !e.IsError && e.Size == 0 {
		return nil, errors.New("no expectation (an \"expect:\" line)")
	}
	if e.IsError && (e.Final != nil || e.Contains != nil || e.Size > 0) {
		return nil, errors.New("an error expectation cannot also expect packages")
	}
	sort.Strings(e.Final)
	return e, nil
}

// Label prints a package as expectations name it: name[:arch]=version,
// the architecture only when it is neither native nor "all".
func Label(p *Package, native string) string {
	s := p.Name
	if p.Architecture != native && p.Architecture != "all" {
		s += ":" + p.Architecture
	}
	return s + "=" + p.Version.String()
}

// matchLabel reports whether "name[:arch][=version]" names p.
func matchLabel(want string, p *Package, native string) bool {
	nameArch, ver, hasVer := strings.Cut(want, "=")
	name, arch, hasArch := strings.Cut(nameArch, ":")
	if name != p.Name || (hasVer && ver != p.Version.String()) {
		return false
	}
	if hasArch {
		return arch == p.Architecture
	}
	return p.Architecture == native || p.Architecture == "all"
}

// CheckRequest maps the scenario's request to the independent checker's.
// An Install of an installed name whose candidate is another version asks
// for the candidate, as in Input.
func (sc *Scenario) CheckRequest() check.Request {
	upgrades := sc.candidateUpgrades()
	r := check.Request{
		Architecture:     sc.Request.Architecture,
		ForbidRemove:     sc.Request.ForbidRemove,
		ForbidNewInstall: sc.Request.ForbidNewInstall,
	}
	for _, list := range []struct {
		names []string
		dst   *[]check.Target
	}{{sc.Request.Install, &r.Install}, {sc.Request.Remove, &r.Remove}} {
		for _, s := range list.names {
			name, arch, _ := strings.Cut(s, ":")
			var ver string
			if list.dst == &r.Install {
				for _, a := range []string{arch, "all"} {
					if v, ok := upgrades[name+":"+a]; ok {
						ver = v
					}
				}
			}
			if arch == sc.Request.Architecture {
				arch = ""
			}
			*list.dst = append(*list.dst, check.Target{Name: name, Arch: arch, Version: ver})
		}
	}
	return r
}

// Validate checks a solution with the independent checker (resolver/check)
// and, under Strict-Pinning, that every package it installs is the APT
// candidate. It returns the violations, none for a valid answer; an Error
// answer has none.
func (sc *Scenario) Validate(a *Answer) []string {
	if a.Error != nil {
		return nil
	}
	var universe, installed, final []*deb.Package
	for _, p := range sc.Packages {
		universe = append(universe, p.Package)
		if p.Installed {
			installed = append(installed, p.Package)
		}
	}
	for _, p := range sc.Final(a) {
		final = append(final, p.Package)
	}
	var out []string
	if err := check.Check(check.Case{Universe: universe, Installed: installed, Request: sc.CheckRequest(), Final: final}); err != nil {
		out = append(out, err.Error())
	}
	if sc.Request.StrictPinning {
		for _, p := range a.Install {
			if !p.Candidate && !p.Installed {
				out = append(out, fmt.Sprintf("%s installed, but it is not the APT candidate (Strict-Pinning)", p.Package))
			}
		}
	}
	return out
}

// Compare checks an answer against the expectation and returns every
// difference, none when the answer is what was expected.
func (sc *Scenario) Compare(e *Expectation, a *Answer) []string {
	if e.IsError {
		if a.Error == nil {
			return []string{"expected an error, got a solution"}
		}
		var out []string
		for _, w := range e.ErrWords {
			if !strings.Contains(a.Error.Message, w) {
				out = append(out, fmt.Sprintf("the error message lacks %q", w))
			}
		}
		return out
	}
	if a.Error != nil {
		return []string{"expected a solution, got an error: " + firstLine(a.Error.Message)}
	}
	final := sc.Final(a)
	native := sc.Request.Architecture
	var labels []string
	for _, p := range final {
		labels = append(labels, Label(p, native))
	}
	sort.Strings(labels)
	var out []string
	if e.Final != nil && strings.Join(labels, " ") != strings.Join(e.Final, " ") {
		extra, missing := setDiff(labels, e.Final), setDiff(e.Final, labels)
		if len(e.Final) <= 8 && len(labels) <= 8 {
			out = append(out, fmt.Sprintf("final set %s, want %s", strings.Join(labels, " "), strings.Join(e.Final, " ")))
		} else {
			out = append(out, fmt.Sprintf("final set differs: more %s; less %s", orNone(extra), orNone(missing)))
		}
	}
	for _, w := range e.Contains {
		found := false
		for _, p := range final {
			found = found || matchLabel(w, p, native)
		}
		if !found {
			out = append(out, fmt.Sprintf("final set lacks %s", w))
		}
	}
	for _, w := range e.Absent {
		for _, p := range final {
			if matchLabel(w, p, native) {
				out = append(out, fmt.Sprintf("final set holds %s, which must be absent", Label(p, native)))
			}
		}
	}
	if e.Size > 0 {
		tol := math.Ceil(float64(e.Size) * e.SizeTol / 100)
		if d := math.Abs(float64(len(final) - e.Size)); d > tol {
			out = append(out, fmt.Sprintf("final set has %d packages, want %d ± %.0f", len(final), e.Size, tol))
		}
	}
	return out
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// setDiff lists the strings of a that are not in b.
func setDiff(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, " ")
}
