package index

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
)

func names(ps []*deb.Package) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name+"="+p.Version.String()+"@"+p.Origin)
	}
	return out
}

func TestSample(t *testing.T) {
	dir := t.TempDir()
	inputs := []Input{
		writeInput(t, dir, "main", samplePackages),
		writeInput(t, dir, "security", samplePackages2),
	}
	cache := filepath.Join(dir, "cache")
	rep, err := Build(context.Background(), cache, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Built) != 2 || len(rep.Skipped) != 1 {
		t.Fatalf("report: built %d, skipped %v", len(rep.Built), rep.Skipped)
	}
	var se *SkipError
	if !errors.As(rep.Skipped[0], &se) || se.Path != inputs[0].Path {
		t.Errorf("skip error %v", rep.Skipped[0])
	}
	x, res := mustLoad(t, cache, inputs)
	if len(res.Rebuilt) != 0 {
		t.Errorf("fresh cache rebuilt: %v", res.Rebuilt)
	}
	if x.Len() != 6 {
		t.Errorf("Len %d, want 6", x.Len())
	}
	tests := []struct {
		name      string
		packages  []string
		providers []string
		versions  []string
	}{
		{"hello", []string{"hello=2.10-3@main", "hello=2.9-1@main", "hello=2.10-3+deb12u1@security"}, nil,
			[]string{"2.10-3+deb12u1", "2.10-3", "2.9-1"}},
		{"mail-transport-agent", nil, []string{"mail-transport=1.0@main", "exim4=4.96-15@main"}, nil},
		{"default-mta", nil, []string{"mail-transport=1.0@main"}, nil},
		{"broken", nil, nil, nil},
		{"zzz", []string{"zzz=1:0.1@security"}, nil, []string{"1:0.1"}},
		{"absent", nil, nil, nil},
		{"", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := names(x.Packages(tt.name)); !slices.Equal(got, tt.packages) {
				t.Errorf("Packages = %v, want %v", got, tt.packages)
			}
			if got := names(x.Providers(tt.name)); !slices.Equal(got, tt.providers) {
				t.Errorf("Providers = %v, want %v", got, tt.providers)
			}
			var vs []string
			for _, s := range x.Versions(tt.name) {
				vs = append(vs, s.Version)
			}
			if !slices.Equal(vs, tt.versions) {
				t.Errorf("Versions = %v, want %v", vs, tt.versions)
			}
		})
	}
	// The same .deb in two inputs is one version from two places; the
	// same version with other content is another.
	var groups [][]string
	for _, g := range x.Distinct("hello") {
		var vs []string
		for _, s := range g {
			vs = append(vs, s.Version+"@"+s.Origin)
		}
		groups = append(groups, vs)
	}
	if want := [][]string{{"2.10-3+deb12u1@security"}, {"2.10-3@main"}, {"2.9-1@main"}}; !reflect.DeepEqual(groups, want) {
		t.Errorf("Distinct(hello) = %v, want %v", groups, want)
	}
	if pv := x.ProvidersOf("default-mta"); len(pv) != 1 || pv[0].Version != "1.0" {
		t.Errorf("ProvidersOf(default-mta) = %+v", pv)
	}
	if pv := x.ProvidersOf("mail-transport-agent"); len(pv) != 2 || pv[0].Version != "" {
		t.Errorf("ProvidersOf(mail-transport-agent) = %+v", pv)
	}
	if got := slices.Collect(x.Names()); !slices.Equal(got, []string{"exim4", "hello", "mail-transport", "zzz"}) {
		t.Errorf("Names = %v", got)
	}
	if c, ok := x.Candidate("hello"); !ok || c.Origin != "security" || c.Description != "example package based on GNU hello (security)" {
		t.Errorf("Candidate(hello) = %+v", c)
	}
	hits, err := x.Search(context.Background(), regexp.MustCompile("(?i)mail|GREETING"))
	if err != nil {
		t.Fatal(err)
	}
	want := []SearchHit{{"exim4", "Exim is a mail transport agent"}, {"hello", "example package based on GNU hello (security)"}, {"mail-transport", "a fake MTA"}}
	if !reflect.DeepEqual(hits, want) {
		t.Errorf("Search = %v, want %v", hits, want)
	}
	// The decoded package keeps the whole stanza and its line.
	p := x.Packages("hello")[0]
	if p.Stanza.Line != 1 || p.Depends.String() != "libc6 (>= 2.34)" || p.SHA256 == "" ||
		p.Stanza.Get("Description") != "example package based on GNU hello\n The GNU hello program produces a familiar, friendly greeting." {
		t.Errorf("decoded hello: line %d, %+v", p.Stanza.Line, p.Stanza.Fields)
	}
	if x.Packages("hello")[0] != p {
		t.Error("Packages does not memoize")
	}
	if err := x.Err(); err != nil {
		t.Error(err)
	}
}

// TestFixture compares every package read from the cache with the same
// stanza decoded straight from the Packages file.
func TestFixture(t *testing.T) {
	inputs := fixtureInputs(t, raceEnabled)
	cache := t.TempDir()
	x, res := mustLoad(t, cache, inputs)
	if len(res.Rebuilt) != len(inputs) || res.Report == nil || len(res.Report.Skipped) != 0 {
		t.Fatalf("first load: rebuilt %v, report %+v", res.Rebuilt, res.Report)
	}
	for _, err := range res.Rebuilt {
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("first load: %v, want not exist", err)
		}
	}
	want := 0
	refs := x.Summaries()
	next, stop := iterPull(refs)
	defer stop()
	for _, in := range inputs {
		f, err := os.Open(in.Path)
		if err != nil {
			t.Fatal(err)
		}
		rd := control.NewReaderName(f, in.Path)
		for {
			st, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			want++
			s, ok := next()
			if !ok {
				t.Fatalf("index ends before %s line %d", in.Path, st.Line)
			}
			p, err := x.Decode(s.Ref)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Stanza, st) || p.Origin != in.Origin || s.Name != p.Name ||
				s.Version != st.Get("Version") || s.Architecture != p.Architecture || s.Origin != in.Origin {
				t.Fatalf("%s line %d: cache gives %+v (%+v)", in.Path, st.Line, p.Stanza, s)
			}
		}
		f.Close()
	}
	if x.Len() != want {
		t.Errorf("Len %d, want %d", x.Len(), want)
	}
	// Every name is found through the hash tables, with exactly the
	// packages that carry it.
	total := 0
	for name := range x.Names() {
		ss := x.Lookup(name)
		if len(ss) == 0 {
			t.Fatalf("Lookup(%q) finds nothing", name)
		}
		for _, s := range ss {
			if s.Name != name {
				t.Fatalf("Lookup(%q) gives %q", name, s.Name)
			}
		}
		total += len(ss)
	}
	if total != want {
		t.Errorf("lookups of every name give %d packages, want %d", total, want)
	}
	if !raceEnabled && want != 66506 {
		t.Errorf("%d packages, the fixture has 66,506", want)
	}
	// The same .deb in main and security is one version, as apt sees it.
	if !raceEnabled {
		if g := x.Distinct("activemq"); len(g) != 1 || len(g[0]) != 2 || g[0][0].Origin != "bookworm" {
			t.Errorf("Distinct(activemq) = %+v, want one version from bookworm and bookworm-security", g)
		}
	}
	// Real provides and a package in two sources.
	if got := names(x.Packages("liblzma5")); len(got) < 2 && !raceEnabled {
		t.Errorf("liblzma5: %v, want it from main and security", got)
	}
	if !raceEnabled {
		if len(x.Providers("mail-transport-agent")) < 5 {
			t.Errorf("mail-transport-agent providers: %v", names(x.Providers("mail-transport-agent")))
		}
		if c, _ := x.Candidate("liblzma5"); c.Origin != "bookworm-security" {
			t.Errorf("liblzma5 candidate from %s, want bookworm-security", c.Origin)
		}
	}
	// A second load maps the caches it just built.
	y, res := mustLoad(t, cache, inputs)
	if len(res.Rebuilt) != 0 || y.Len() != x.Len() {
		t.Errorf("second load: rebuilt %v, %d packages", res.Rebuilt, y.Len())
	}
}

// TestConcurrent decodes the same packages from many goroutines: the memo
// must hand every caller the same value (run with -race).
func TestConcurrent(t *testing.T) {
	dir := t.TempDir()
	inputs := []Input{writeInput(t, dir, "main", samplePackages), writeInput(t, dir, "security", samplePackages2)}
	x, _ := mustLoad(t, filepath.Join(dir, "cache"), inputs)
	const n = 8
	got := make([][]*deb.Package, n)
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() {
			for name := range x.Names() {
				got[g] = append(got[g], x.Packages(name)...)
			}
			got[g] = append(got[g], x.Providers("mail-transport-agent")...)
		})
	}
	wg.Wait()
	for g := 1; g < n; g++ {
		if !slices.Equal(got[g], got[0]) {
			t.Fatalf("goroutine %d saw other packages than goroutine 0", g)
		}
	}
}

func TestByName(t *testing.T) {
	dir := t.TempDir()
	inputs := []Input{writeInput(t, dir, "main", samplePackages), writeInput(t, dir, "security", samplePackages2)}
	x, _ := mustLoad(t, filepath.Join(dir, "cache"), inputs)
	var got []string
	for name, group := range x.ByName() {
		SortVersions(group)
		var vs []string
		for _, s := range group {
			vs = append(vs, s.Version+"@"+s.Origin)
		}
		got = append(got, name+"="+strings.Join(vs, ","))
	}
	want := []string{"exim4=4.96-15@main", "hello=2.10-3+deb12u1@security,2.10-3@main,2.9-1@main", "mail-transport=1.0@main", "zzz=1:0.1@security"}
	if !slices.Equal(got, want) {
		t.Errorf("ByName = %q, want %q", got, want)
	}
	// Stopping early is honoured.
	n := 0
	for range x.ByName() {
		n++
		break
	}
	if n != 1 {
		t.Errorf("ByName went on after break")
	}
}

func TestDistinct(t *testing.T) {
	dir := t.TempDir()
	const sha1, sha2 = "SHA256: 1111111111111111111111111111111111111111111111111111111111111111\n", "SHA256: 2222222222222222222222222222222222222222222222222222222222222222\n"
	inputs := []Input{
		writeInput(t, dir, "a", "Package: p\nVersion: 1\nArchitecture: all\n"+sha1+"\nPackage: q\nVersion: 1\nArchitecture: all\n"+sha1),
		writeInput(t, dir, "b", "Package: p\nVersion: 1\nArchitecture: all\n"+sha1+"\nPackage: q\nVersion: 1\nArchitecture: all\n"+sha2+
			"\nPackage: p\nVersion: 2\nArchitecture: all\n"+sha2+"\nPackage: p\nVersion: 1\nArchitecture: amd64\n"+sha1),
	}
	x, _ := mustLoad(t, filepath.Join(dir, "cache"), inputs)
	tests := []struct {
		name string
		want [][]string
	}{
		{"p", [][]string{{"2 all@b"}, {"1 all@a", "1 all@b"}, {"1 amd64@b"}}},
		{"q", [][]string{{"1 all@a"}, {"1 all@b"}}},
		{"none", nil},
	}
	for _, tt := range tests {
		var got [][]string
		for _, g := range x.Distinct(tt.name) {
			var vs []string
			for _, s := range g {
				vs = append(vs, s.Version+" "+s.Architecture+"@"+s.Origin)
			}
			got = append(got, vs)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Distinct(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestCompact checks that Compact yields the same packages as All, without
// their stanzas, and leaves the shared packages alone.
func TestCompact(t *testing.T) {
	inputs := fixtureInputs(t, true)
	x, _ := mustLoad(t, t.TempDir(), inputs)
	var full []*deb.Package
	for p := range x.All() {
		full = append(full, p)
	}
	i := 0
	for p := range x.Compact() {
		if i >= len(full) {
			t.Fatal("Compact yields more packages than All")
		}
		want := *full[i]
		want.Stanza = nil
		if p.Stanza != nil || !reflect.DeepEqual(*p, want) {
			t.Fatalf("package %d: Compact gives %+v, want %+v", i, *p, want)
		}
		if p == full[i] || full[i].Stanza == nil {
			t.Fatalf("package %d: Compact changed or returned the shared package", i)
		}
		i++
	}
	if i != len(full) || x.Err() != nil {
		t.Errorf("Compact yielded %d of %d packages (%v)", i, len(full), x.Err())
	}
}
