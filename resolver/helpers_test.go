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
	ps, err := ReadPackages(strings.NewReader(strings.TrimSpace(text)+"\n"), "test", "test")
	if err != nil {
		t.Fatalf("parse test universe: %v", err)
	}
	for _, p := range ps {
		if p.Architecture == "" {
			p.Architecture = "amd64"
		}
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
