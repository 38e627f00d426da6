package distcheck

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/internal/testfixture"
)

// bookwormPackages decompresses the fixture's bookworm main index into a
// temporary directory (dose-distcheck reads it there too).
func bookwormPackages(t testing.TB) string {
	t.Helper()
	fix := testfixture.Bookworm(t)
	f, err := os.Open(filepath.Join(fix, "debian", "dists", "bookworm", "main", "binary-amd64", "Packages.xz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, _, err := compress.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := filepath.Join(t.TempDir(), "Packages")
	w, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, zr); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func brokenSet(t testing.TB, path string, opts Options) (*Report, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set := NewSet()
	if err := set.Read(context.Background(), f, path); err != nil {
		t.Fatal(err)
	}
	rep, err := CheckSet(context.Background(), set, opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range rep.Broken {
		got = append(got, b.Package.Name+" "+b.Package.Version.String())
		if b.Reason == "" {
			t.Errorf("%s: no reason", b.Package)
		}
	}
	return rep, got
}

// TestFullBookworm checks the fixture's whole index: the broken set must be
// the anchor list dose-distcheck produced (../shared/anchors), and the one
// the real dose-distcheck finds on the same file, run side by side. It runs
// in make test's non-race pass (testfixture.WholeIndex).
func TestFullBookworm(t *testing.T) {
	testfixture.WholeIndex(t)
	path := bookwormPackages(t)
	anchor := filepath.Join(filepath.Dir(testfixture.RepoRoot(t)), "shared", "anchors", "distcheck-broken-bookworm-main-amd64.txt")
	b, err := os.ReadFile(anchor)
	if err != nil {
		testfixture.Missing(t, anchor)
	}
	want := strings.Split(strings.TrimSpace(string(b)), "\n")
	dose := testfixture.Tool(t, "dose-distcheck", "dose-distcheck")
	type doseResult struct {
		broken []string
		err    error
		out    string
	}
	doseDone := make(chan doseResult, 1)
	go func() {
		cmd := exec.Command(dose, "--deb-native-arch=amd64", "-f", "deb://"+path)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		// dose-distcheck exits 1 when it finds broken packages.
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
			err = nil
		}
		doseDone <- doseResult{parseDose(out.Bytes()), err, errb.String()}
	}()

	rep, got := brokenSet(t, path, Options{})
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("broken set\n%s\nwant (anchor)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rep.Checked != 63440 {
		t.Errorf("checked %d packages, want 63440", rep.Checked)
	}
	t.Logf("%d checked, %d decided greedily, %d by SAT", rep.Checked, rep.Greedy, rep.SAT)
	// dose-distcheck --deb-ignore-essential gives the same set here.
	if _, got := brokenSet(t, path, Options{IgnoreEssential: true}); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("IgnoreEssential: broken set\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	d := <-doseDone
	if d.err != nil {
		t.Fatalf("dose-distcheck: %v\n%s", d.err, d.out)
	}
	if strings.Join(got, "\n") != strings.Join(d.broken, "\n") {
		t.Errorf("broken set\n%s\nwant (dose-distcheck, this run)\n%s", strings.Join(got, "\n"), strings.Join(d.broken, "\n"))
	}
}

// parseDose reads "name version" of each report entry of dose's YAML.
func parseDose(yaml []byte) []string {
	var out []string
	var name string
	sc := bufio.NewScanner(bytes.NewReader(yaml))
	for sc.Scan() {
		line := sc.Text()
		// Report entries are " -\n  package: x\n  version: y"; deeper
		// indentation belongs to explanations.
		if v, ok := strings.CutPrefix(line, "  package: "); ok {
			name = v
		}
		if v, ok := strings.CutPrefix(line, "  version: "); ok && name != "" {
			out = append(out, name+" "+v)
			name = ""
		}
	}
	sort.Strings(out)
	return out
}

// BenchmarkDistcheck reads the decompressed bookworm main index and checks
// it, as `grey distcheck --packages` does.
func BenchmarkDistcheck(b *testing.B) {
	path := bookwormPackages(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		set := NewSet()
		err = set.Read(context.Background(), f, path)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		rep, err := CheckSet(context.Background(), set, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Broken) != 16 {
			b.Fatalf("%d broken", len(rep.Broken))
		}
	}
}
