package resolver

import (
	"errors"
	"strings"
	"testing"
)

func TestSolveSmokeAndExplain(t *testing.T) {
	u := parsePkgs(t, `
Package: hello
Version: 2.10-3
Depends: libc6 (>= 2.34)

Package: libc6
Version: 2.36-9
Depends: libgcc-s1

Package: libgcc-s1
Version: 12.2.0-14
`)
	pl, err := solve(t, u, Request{Install: jobs(t, "hello"), Recommends: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(pl.Final), "hello=2.10-3 libc6=2.36-9 libgcc-s1=12.2.0-14"; got != want {
		t.Fatalf("final = %s, want %s", got, want)
	}
	u[1].Version.Upstream = "2.31"
	_, err = solve(t, u, Request{Install: jobs(t, "hello"), Recommends: true})
	var ue *Unsatisfiable
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want *Unsatisfiable", err)
	}
	if want := "hello 2.10-3 depends on libc6 (>= 2.34), but the only libc6 available is 2.31-9"; !strings.Contains(err.Error(), want) {
		t.Fatalf("explanation %q lacks %q", err, want)
	}
}
