package edsp

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// scenarioDir is testdata/resolver at the top of the repository.
func scenarioDir(t testing.TB) string {
	return filepath.Join(testfixture.RepoRoot(t), "testdata", "resolver")
}

// runScenario solves one scenario file and checks the answer against the
// independent checker and the file's expectation.
func runScenario(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	sc, err := Read(r)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	exp, err := ParseExpectation(sc.Comments)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if exp.Known != "" {
		t.Skipf("known failure: %s", exp.Known)
	}
	ans, _, err := sc.Solve(context.Background(), Options{Recommends: exp.Recommends})
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
	for _, v := range sc.Validate(ans) {
		t.Errorf("invalid answer: %s", v)
	}
	for _, d := range sc.Compare(exp, ans) {
		t.Errorf("%s", d)
	}
	if ans.Error != nil && !exp.IsError {
		t.Logf("error: %s", ans.Error.Message)
	}
}

// TestScenarios runs every scenario of testdata/resolver through the
// resolver, the independent checker and the scenario's expectation.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(scenarioDir(t), "*", "*.edsp"))
	if err != nil {
		t.Fatal(err)
	}
	// Scenarios dumped from a whole installed system are kept gzipped.
	gz, _ := filepath.Glob(filepath.Join(scenarioDir(t), "*", "*.edsp.gz"))
	files = append(files, gz...)
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
		check func(*Expectation) bool
	}{
		{[]string{" expect: valid"}, func(e *Expectation) bool { return e.Valid && !e.Recommends }},
		{[]string{" recommends: yes", " expect: final b=1 a=2"}, func(e *Expectation) bool {
			return e.Recommends && strings.Join(e.Final, " ") == "a=2 b=1"
		}},
		{[]string{" expect: error conflicts hello"}, func(e *Expectation) bool {
			return e.IsError && strings.Join(e.ErrWords, ",") == "conflicts,hello"
		}},
		{[]string{" expect: size 120 5%"}, func(e *Expectation) bool { return e.Size == 120 && e.SizeTol == 5 }},
		{[]string{" free text: ignored", " expect: absent x", " expect: contains y=1"}, func(e *Expectation) bool {
			return e.Absent[0] == "x" && e.Contains[0] == "y=1"
		}},
		{[]string{"# source: apt test/integration/test-x", "#expect: valid"}, func(e *Expectation) bool {
			return e.Valid && e.Source == "apt test/integration/test-x"
		}},
	}
	for _, g := range good {
		e, err := ParseExpectation(g.lines)
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
		if _, err := ParseExpectation(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzParseExpectation: any lines either parse into an expectation that
// expects something, or are refused; never a panic.
func FuzzParseExpectation(f *testing.F) {
	f.Add("# expect: final a=1 b:i386=2\n# recommends: yes")
	f.Add("expect: size 10 5%\nexpect: absent x\nsource: apt")
	f.Add("expect: error words here\nknown-failure: why")
	f.Fuzz(func(t *testing.T, text string) {
		e, err := ParseExpectation(strings.Split(text, "\n"))
		if err != nil {
			return
		}
		if !e.Valid && e.Final == nil && e.Contains == nil && e.Absent == nil && !e.IsError && e.Size == 0 {
			t.Fatalf("accepted %q without an expectation", text)
		}
	})
}
