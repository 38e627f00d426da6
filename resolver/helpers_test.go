package resolver

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
)

// parsePkgs reads a Packages-format text written in a test.
func parsePkgs(t testing.TB, text string) []*deb.Package {
	t.Helper()
	// Stanzas default to Architecture: amd64 to keep the tables short.
	var b strings.Builder
	for _, st := range strings.Split(strings.TrimSpace(text), "\n\n") {
		st = strings.TrimSpace(st)
		if st == "" {
			continue
		}
		b.WriteString(st)
		if !strings.Contains(st, "Architecture:") {
			b.WriteString("\nArchitecture: amd64")
		}
		b.WriteString("\n\n")
	}
	ps, err := ReadPackages(strings.NewReader(b.String()), "test", "test")
	if err != nil {
		t.Fatalf("parse test universe: %v", err)
	}
	return ps
}

// names prints a package list as "name=version" words, sorted.
func names(ps []*deb.Package) string {
	var out []string
	for _, p := range ps {
		s := p.Name + "=" + p.Version.String()
		if p.Architecture != "amd64" && p.Architecture != "all" {
			s = p.Name + ":" + p.Architecture + "=" + p.Version.String()
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func jobs(t testing.TB, ss ...string) []Job {
	t.Helper()
	var out []Job
	for _, s := range ss {
		j, err := ParseJob(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

func solve(t testing.TB, pkgs []*deb.Package, req Request) (*Plan, error) {
	t.Helper()
	return Solve(context.Background(), NewMemIndex(pkgs), req)
}
