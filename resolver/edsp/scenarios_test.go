package edsp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/resolver/check"
)

// scenarioDir is testdata/resolver at the top of the repository.
func scenarioDir(t testing.TB) string {
	return filepath.Join(testfixture.RepoRoot(t), "testdata", "resolver")
}

// expectation is what a scenario's header comments demand; the format is
// documented in docs/resolver.md ("EDSP harness").
type expectation struct {
	recommends bool
	valid      bool
	final      []string // exact final set, "name[:arch]=version", sorted
	contains   []string // name[:arch][=version] that must be in the final set
	absent     []string // name[:arch] that must not be
	errWords   []string // the request must fail, the explanation holding each
	isError    bool
	size       int // final set size, when > 0
	sizeTol    float64
	known      string // a known failure: the reason; the scenario is skipped
}

func parseExpectation(comments []string) (expectation, error) {
	var e expectation
	for _, c := range comments {
		c = strings.TrimSpace(c)
		key, val, ok := strings.Cut(c, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch strings.TrimSpace(key) {
		case "recommends":
			switch val {
			case "yes":
				e.recommends = true
			case "no":
			default:
				return e, fmt.Errorf("recommends: want yes or no, got %q", val)
			}
		case "known-failure":
			e.known = val
		case "expect":
			kind, rest, _ := strings.Cut(val, " ")
			args := strings.Fields(rest)
			switch kind {
			case "valid":
				e.valid = true
			case "final":
				e.final = append(e.final, args...)
			case "contains":
				e.contains = append(e.contains, args...)
			case "absent":
				e.absent = append(e.absent, args...)
			case "error":
				e.isError = true
				e.errWords = append(e.errWords, args...)
			case "size":
				if len(args) != 2 || !strings.HasSuffix(args[1], "%") {
					return e, fmt.Errorf("expect: size wants N P%%, got %q", rest)
				}
				n, err1 := strconv.Atoi(args[0])
				p, err2 := strconv.ParseFloat(strings.TrimSuffix(args[1], "%"), 64)
				if err1 != nil || err2 != nil || n <= 0 || p < 0 {
					return e, fmt.Errorf("expect: size wants N P%%, got %q", rest)
				}
				e.size, e.sizeTol = n, p
			default:
				return e, fmt.Errorf("unknown expectation %q", kind)
			}
		}
	}
	if !e.valid && e.final == nil && e.contains == nil && e.absent == nil && !e.isError && e.size == 0 {
		return e, errors.New("no expectation (a \"# expect:\" line)")
	}
	if e.isError && (e.final != nil || e.contains != nil || e.size > 0) {
		return e, errors.New("an error expectation cannot also expect packages")
	}
	sort.Strings(e.final)
	return e, nil
}

// label prints a package as the expectations name it.
func label(p *Package, native string) string {
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

// checkRequest maps the EDSP request to the independent checker's.
func checkRequest(sc *Scenario) check.Request {
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
			if arch == sc.Request.Architecture {
				arch = ""
			}
			*list.dst = append(*list.dst, check.Target{Name: name, Arch: arch})
		}
	}
	return r
}

// runScenario solves one scenario file and checks the answer against the
// independent checker and the file's expectation.
func runScenario(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc, err := Read(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	exp, err := parseExpectation(sc.Comments)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if exp.known != "" {
		t.Skipf("known failure: %s", exp.known)
	}
	ans, _, err := sc.Solve(context.Background(), Options{Recommends: exp.recommends})
	if err != nil {
		t.Fatalf("solve: %v", err)
	}
	// The answer goes through its EDSP text, as apt would read it.
	var buf bytes.Buffer
	if err := WriteAnswer(&buf, ans); err != nil {
		t.Fatal(err)
	}
	ans, err = ReadAnswer(bytes.NewReader(buf.Bytes()), sc)
	if err != nil {
		t.Fatalf("answer does not read back: %v\n%s", err, buf.String())
	}
	if exp.isError {
		if ans.Error == nil {
			t.Fatalf("expected an error, got a solution:\n%s", buf.String())
		}
		for _, w := range exp.errWords {
			if !strings.Contains(ans.Error.Message, w) {
				t.Errorf("explanation lacks %q:\n%s", w, ans.Error.Message)
			}
		}
		return
	}
	if ans.Error != nil {
		t.Fatalf("expected a solution, got an error:\n%s", ans.Error.Message)
	}
	final := sc.Final(ans)
	native := sc.Request.Architecture

	// The independent checker sees only package lists.
	var universe, installed, finalPkgs []*deb.Package
	for _, p := range sc.Packages {
		universe = append(universe, p.Package)
		if p.Installed {
			installed = append(installed, p.Package)
		}
	}
	for _, p := range final {
		finalPkgs = append(finalPkgs, p.Package)
	}
	if err := check.Check(check.Case{Universe: universe, Installed: installed, Request: checkRequest(sc), Final: finalPkgs}); err != nil {
		t.Errorf("the checker rejects the answer: %v", err)
	}
	// Strict pinning: whatever is newly installed must be apt's candidate.
	if sc.Request.StrictPinning {
		for _, p := range ans.Install {
			if !p.Candidate {
				t.Errorf("%s installed, but it is not the APT candidate (Strict-Pinning)", p.Package)
			}
		}
	}

	var labels []string
	for _, p := range final {
		labels = append(labels, label(p, native))
	}
	sort.Strings(labels)
	if exp.final != nil && strings.Join(labels, " ") != strings.Join(exp.final, " ") {
		t.Errorf("final set\n  %s\nwant\n  %s", strings.Join(labels, " "), strings.Join(exp.final, " "))
	}
	for _, w := range exp.contains {
		found := false
		for _, p := range final {
			found = found || matchLabel(w, p, native)
		}
		if !found {
			t.Errorf("final set lacks %s: %s", w, strings.Join(labels, " "))
		}
	}
	for _, w := range exp.absent {
		for _, p := range final {
			if matchLabel(w, p, native) {
				t.Errorf("final set holds %s, which must be absent", label(p, native))
			}
		}
	}
	if exp.size > 0 {
		tol := math.Ceil(float64(exp.size) * exp.sizeTol / 100)
		if d := math.Abs(float64(len(final) - exp.size)); d > tol {
			t.Errorf("final set has %d packages, want %d ± %.0f: %s", len(final), exp.size, tol, strings.Join(labels, " "))
		}
	}
}

// TestScenarios runs every scenario of testdata/resolver through the
// resolver, the independent checker and the scenario's expectation.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(scenarioDir(t), "*", "*.edsp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 80 {
		t.Errorf("%d scenarios, want at least 80", len(files))
	}
	for _, path := range files {
		rel, _ := filepath.Rel(scenarioDir(t), path)
		t.Run(filepath.ToSlash(rel), func(t *testing.T) { runScenario(t, path) })
	}
}

func TestParseExpectation(t *testing.T) {
	good := []struct {
		lines []string
		check func(expectation) bool
	}{
		{[]string{" expect: valid"}, func(e expectation) bool { return e.valid && !e.recommends }},
		{[]string{" recommends: yes", " expect: final b=1 a=2"}, func(e expectation) bool {
			return e.recommends && strings.Join(e.final, " ") == "a=2 b=1"
		}},
		{[]string{" expect: error conflicts hello"}, func(e expectation) bool {
			return e.isError && strings.Join(e.errWords, ",") == "conflicts,hello"
		}},
		{[]string{" expect: size 120 5%"}, func(e expectation) bool { return e.size == 120 && e.sizeTol == 5 }},
		{[]string{" free text: ignored", " expect: absent x", " expect: contains y=1"}, func(e expectation) bool {
			return e.absent[0] == "x" && e.contains[0] == "y=1"
		}},
	}
	for _, g := range good {
		e, err := parseExpectation(g.lines)
		if err != nil || !g.check(e) {
			t.Errorf("%q: %+v %v", g.lines, e, err)
		}
	}
	for _, bad := range [][]string{
		{" describe: nothing expected"},
		{" expect: maybe"},
		{" expect: size 5"},
		{" expect: size many 5%"},
		{" recommends: sometimes", " expect: valid"},
		{" expect: error x", " expect: final a=1"},
	} {
		if _, err := parseExpectation(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
