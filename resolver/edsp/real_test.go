package edsp

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/resolver/check"
	"github.com/greypm/grey/resolver/edsp/edsptest"
)

var updateReal = flag.Bool("update-real", false, "regenerate testdata/resolver/real/*.edsp with real apt from the fixture")

// realCase is a scenario apt dumps from the fixture.
type realCase struct {
	name       string
	args       []string // the apt-get command
	recommends bool
	root       string // "" (empty root) or "base" (the fixture's 22-package closure, installed from bookworm main)
	known      string // a known failure of grey's resolver (see the rules table)
}

// baseSet is what the fixture's 22 .deb files are the closure of.
var baseSet = []string{"hello", "busybox", "dash", "grep", "sed", "netbase", "base-files", "zlib1g"}

func realCases() []realCase {
	var cs []realCase
	for _, n := range []string{"hello", "dash", "grep", "sed", "netbase", "base-files", "zlib1g", "busybox",
		"coreutils", "bash", "less", "nano", "jq", "curl", "wget", "make", "patch", "diffutils", "tar", "gzip",
		"xz-utils", "bzip2", "file", "tree", "rsync", "openssh-client", "ca-certificates", "vim-tiny", "sudo",
		"cron", "procps", "iproute2", "ed", "bc", "zip", "unzip"} {
		cs = append(cs, realCase{name: "install-" + n, args: []string{"install", n}})
	}
	for _, n := range []string{"hello", "curl", "wget", "nano", "less", "jq", "rsync", "sudo"} {
		cs = append(cs, realCase{name: "install-" + n + "-recommends", args: []string{"install", n}, recommends: true})
	}
	cs = append(cs,
		realCase{name: "base-upgrade", args: []string{"upgrade"}, root: "base"},
		realCase{name: "base-dist-upgrade", args: []string{"dist-upgrade"}, root: "base",
			known: "grey's full upgrade does not install the missing Essential packages that apt's dist-upgrade adds"},
		realCase{name: "base-remove-hello", args: []string{"remove", "hello"}, root: "base"},
		realCase{name: "base-remove-hello-autoremove", args: []string{"remove", "--autoremove", "hello"}, root: "base"},
		realCase{name: "base-autoremove", args: []string{"autoremove"}, root: "base"},
		realCase{name: "base-install-curl", args: []string{"install", "curl"}, root: "base"},
		realCase{name: "base-install-curl-recommends", args: []string{"install", "curl"}, root: "base", recommends: true},
	)
	return cs
}

// maxRealSize keeps committed scenarios small.
const maxRealSize = 200 << 10

// TestUpdateRealScenarios regenerates testdata/resolver/real with real apt
// (go test ./resolver/edsp -run TestUpdateRealScenarios -update-real). The
// full dumps (30 MB each) live only in a temporary directory; what is
// committed is each dump reduced to its request's closure (Reduce), after
// checking that apt's own solver gives the reduced scenario the same
// answer as the full one, and that the independent checker accepts apt's
// answer.
func TestUpdateRealScenarios(t *testing.T) {
	if !*updateReal {
		t.Skip("regenerates testdata/resolver/real; run with -update-real")
	}
	dir := filepath.Join(scenarioDir(t), "real")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	empty := edsptest.New(t, edsptest.Options{})
	base := baseRoot(t, empty)
	for _, c := range realCases() {
		t.Run(c.name, func(t *testing.T) {
			a := empty
			rootText := "an empty root, sources: bookworm main"
			if c.root == "base" {
				a = base
				rootText = "a root holding the fixture's 22-package closure of " + strings.Join(baseSet, " ") +
					" from bookworm main (automatic except those), sources: bookworm, bookworm-updates, bookworm-security"
			}
			writeReal(t, a, c, filepath.Join(dir, c.name+".edsp"), rootText)
		})
	}
}

// baseRoot is an apt configuration whose dpkg status holds the base set.
func baseRoot(t *testing.T, empty *edsptest.Apt) *edsptest.Apt {
	full := readScenario(t, empty.Dump(t, append([]string{"install"}, baseSet...)...))
	ans, err := ReadAnswer(bytes.NewReader(empty.Solve(t, pathOf(t, full), "-o", "APT::Install-Recommends=false")), full)
	if err != nil {
		t.Fatal(err)
	}
	var status, ext bytes.Buffer
	manual := map[string]bool{}
	for _, n := range baseSet {
		manual[n] = true
	}
	w := control.NewWriter(&status)
	for _, p := range ans.Install {
		s := &control.Stanza{}
		s.Set("Package", p.Name)
		s.Set("Status", "install ok installed")
		for _, f := range p.Stanza.Fields {
			if strings.HasPrefix(f.Name, "APT-") || f.Name == "Package" || f.Name == "Source-Version" {
				continue
			}
			s.Set(f.Name, f.Value)
		}
		s.Set("Maintainer", "fixture")
		s.Set("Description", "installed for a resolver scenario")
		if err := w.Write(s); err != nil {
			t.Fatal(err)
		}
		if !manual[p.Name] {
			fmt.Fprintf(&ext, "Package: %s\nArchitecture: %s\nAuto-Installed: 1\n\n", p.Name, p.Architecture)
		}
	}
	if len(ans.Install) != 22 {
		t.Fatalf("the base closure has %d packages, the fixture README says 22", len(ans.Install))
	}
	return edsptest.New(t, edsptest.Options{
		Suites:         []string{"bookworm", "bookworm-updates", "bookworm-security"},
		Status:         status.String(),
		ExtendedStates: ext.String(),
	})
}

var scenarioPaths = map[*Scenario]string{}

func readScenario(t *testing.T, path string) *Scenario {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc, err := Read(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	scenarioPaths[sc] = path
	return sc
}

func pathOf(t *testing.T, sc *Scenario) string {
	p, ok := scenarioPaths[sc]
	if !ok {
		t.Fatal("scenario without a file")
	}
	return p
}

func finalIDs(ps []*Package) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s ", p.Package)
	}
	return b.String()
}

func writeReal(t *testing.T, a *edsptest.Apt, c realCase, out, rootText string) {
	fullPath := a.Dump(t, c.args...)
	defer os.Remove(fullPath)
	full := readScenario(t, fullPath)
	opts := []string{"-o", fmt.Sprintf("APT::Install-Recommends=%v", c.recommends)}
	fullAns, err := ReadAnswer(bytes.NewReader(a.Solve(t, fullPath, opts...)), full)
	if err != nil {
		t.Fatal(err)
	}
	if fullAns.Error != nil {
		t.Fatalf("apt cannot solve %v: %s", c.args, fullAns.Error.Message)
	}
	red := Reduce(full, c.recommends)
	final := red.Final(fullAns)
	red.Comments = []string{
		fmt.Sprintf(" real: `apt-get -s %s` on %s;", strings.Join(c.args, " "), rootText),
		fmt.Sprintf(" dumped by apt 2.6 (APT_EDSP_DUMP_FILENAME) from %d packages and reduced to the request's closure (%d).", len(full.Packages), len(red.Packages)),
		fmt.Sprintf(" apt's own solver installs %d and removes %d: a final set of %d packages.", len(fullAns.Install), len(fullAns.Remove), len(final)),
		fmt.Sprintf(" recommends: %s", map[bool]string{true: "yes", false: "no"}[c.recommends]),
		" expect: valid",
		fmt.Sprintf(" expect: size %d 5%%", len(final)),
	}
	if c.known != "" {
		red.Comments = append(red.Comments, " known-failure: "+c.known)
	}
	var b bytes.Buffer
	if err := red.Write(&b); err != nil {
		t.Fatal(err)
	}
	if b.Len() > maxRealSize {
		t.Fatalf("reduced scenario is %d bytes, over %d", b.Len(), maxRealSize)
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// apt's answer to the reduced scenario must be the same.
	redRead := readScenario(t, out)
	redAns, err := ReadAnswer(bytes.NewReader(a.Solve(t, out, opts...)), redRead)
	if err != nil {
		t.Fatal(err)
	}
	// (apt re-lists unchanged installed packages in some answers, so
	// the final sets are compared, not the stanzas.)
	if finalIDs(redRead.Final(redAns)) != finalIDs(final) {
		t.Errorf("apt answers the reduced scenario differently:\n%s\nfull:\n%s", finalIDs(redRead.Final(redAns)), finalIDs(final))
	}
	// And the independent checker accepts apt's answer.
	var universe, installed, fin []*deb.Package
	for _, p := range full.Packages {
		universe = append(universe, p.Package)
		if p.Installed {
			installed = append(installed, p.Package)
		}
	}
	for _, p := range full.Final(fullAns) {
		fin = append(fin, p.Package)
	}
	if err := check.Check(check.Case{Universe: universe, Installed: installed, Request: full.CheckRequest(), Final: fin}); err != nil {
		t.Errorf("the checker rejects apt's own answer: %v", err)
	}
}
