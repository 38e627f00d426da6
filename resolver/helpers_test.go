package resolver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/repo/index"
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

// solve solves req over pkgs with both index implementations, the
// in-memory one and repo/index's cache (as grey install reads it), fails
// the test unless they give the same plan (planText) or the same error,
// and returns the in-memory one's answer: every rule test that calls it
// runs against both.
func solve(t testing.TB, pkgs []*deb.Package, req Request) (*Plan, error) {
	t.Helper()
	pl, err := Solve(context.Background(), NewMemIndex(pkgs), req)
	pl2, err2 := Solve(context.Background(), repoIndex(t, pkgs), req)
	if fmt.Sprint(err) != fmt.Sprint(err2) || planText(pl) != planText(pl2) {
		t.Fatalf("the two indexes disagree:\nin-memory: %v\n%s\nrepo/index: %v\n%s", err, planText(pl), err2, planText(pl2))
	}
	return pl, err
}

// repoIndex builds and loads a repo/index cache of pkgs (their stanzas,
// one Packages file per Origin), closed at the end of the test.
func repoIndex(t testing.TB, pkgs []*deb.Package) *index.Index {
	t.Helper()
	dir := t.TempDir()
	var inputs []index.Input
	files := map[string]*bytes.Buffer{}
	for _, p := range pkgs {
		b := files[p.Origin]
		if b == nil {
			b = &bytes.Buffer{}
			files[p.Origin] = b
			inputs = append(inputs, index.Input{Origin: p.Origin, Path: filepath.Join(dir, fmt.Sprintf("Packages-%d", len(inputs)))})
		}
		if err := control.WriteStanza(b, p.Stanza); err != nil {
			t.Fatal(err)
		}
		b.WriteByte('\n')
	}
	for i, in := range inputs {
		data := files[in.Origin].Bytes()
		if err := os.WriteFile(in.Path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		inputs[i].SHA256 = hex.EncodeToString(sum[:])
	}
	x, _, err := index.Load(context.Background(), filepath.Join(dir, "cache"), inputs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}
