// Package edsptest runs real apt in a private, throw-away configuration, for
// tests that need apt to write EDSP scenarios or to use grey as its
// external solver.
//
// Everything apt writes (lists, caches, logs, extended_states, the dpkg
// status it reads) lives under one temporary directory; the host's
// /etc/apt (apt.conf.d, sources.list.d, preferences) is never read.
package edsptest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/testfixture"
)

// Apt is a private apt configuration (testfixture.AptEnv) with apt-get
// and apt's solvers to run in it.
type Apt struct {
	*testfixture.AptEnv
	aptGet string
}

// Options describe the configuration.
type Options struct {
	// Suites are the fixture's suites to use as sources: "bookworm",
	// "bookworm-updates", "bookworm-security". Empty means bookworm.
	Suites []string
	// Status is the dpkg status file's content ("" for an empty root).
	Status string
	// ExtendedStates is apt's extended_states content (Auto-Installed
	// marks), or "".
	ExtendedStates string
}

// New writes the configuration (testfixture.NewAptEnv, the fixture's
// suites' lists in place). It skips (or fails under CI) when apt-get or
// the fixture is missing.
func New(t testing.TB, opts Options) *Apt {
	t.Helper()
	aptGet := testfixture.Tool(t, "apt-get", "apt")
	suites := opts.Suites
	if len(suites) == 0 {
		suites = []string{"bookworm"}
	}
	env := testfixture.NewAptEnv(t, testfixture.AptOptions{
		Suites: suites, Status: opts.Status, ExtendedStates: opts.ExtendedStates,
	})
	return &Apt{AptEnv: env, aptGet: aptGet}
}

// Run runs apt-get with args (and the extra environment, "K=V") and
// returns its combined output.
func (a *Apt) Run(extra []string, args ...string) (string, error) {
	cmd := a.Command(context.Background(), a.aptGet, append([]string{"-q", "-o", "Dpkg::Use-Pty=0"}, args...)...)
	cmd.Env = append(cmd.Env, extra...)
	cmd.Dir = a.Dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Dump has apt write the EDSP scenario of an apt-get command (such as
// "install hello") without solving it, and returns the scenario's path.
func (a *Apt) Dump(t testing.TB, args ...string) string {
	t.Helper()
	path := filepath.Join(a.Dir, "dump-"+strings.Join(args, "_")+".edsp")
	out, _ := a.Run([]string{"APT_EDSP_DUMP_FILENAME=" + path}, append([]string{"-s", "--solver", "dump"}, args...)...)
	// The dump solver always "fails" after writing the file.
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		t.Fatalf("apt did not dump %v: %v\n%s", args, err, out)
	}
	return path
}

// Solve runs apt's own solver (/usr/lib/apt/solvers/apt) on a scenario,
// with extra command-line options ("-o", "APT::Install-Recommends=false"),
// and returns its answer.
func (a *Apt) Solve(t testing.TB, scenario string, options ...string) []byte {
	t.Helper()
	f, err := os.Open(scenario)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := a.Command(context.Background(), "/usr/lib/apt/solvers/apt", options...)
	cmd.Stdin = f
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("apt's solver on %s: %v\n%s", scenario, err, errb.String())
	}
	return out.Bytes()
}

// Status returns a dpkg status file holding what apt's own solver installs
// for `apt-get install names...` in a (fresh, empty-root) configuration a,
// with every stanza taken from the fixture's bookworm main index.
func (a *Apt) Status(t testing.TB, names ...string) string {
	t.Helper()
	out, err := a.Run(nil, append([]string{"-s", "-o", "APT::Install-Recommends=false", "install"}, names...)...)
	if err != nil {
		t.Fatalf("apt-get -s install %v: %v\n%s", names, err, out)
	}
	want := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		// Inst NAME (VERSION Debian:...)
		rest, ok := strings.CutPrefix(line, "Inst ")
		if !ok {
			continue
		}
		name, rest, _ := strings.Cut(rest, " (")
		ver, _, _ := strings.Cut(rest, " ")
		want[name] = ver
	}
	if len(want) == 0 {
		t.Fatalf("apt installs nothing for %v:\n%s", names, out)
	}
	f, err := os.Open(filepath.Join(testfixture.Bookworm(t), "debian", "dists", "bookworm", "main", "binary-amd64", "Packages.xz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := control.NewReader(f)
	defer r.Close()
	var b bytes.Buffer
	w := control.NewWriter(&b)
	found := 0
	for {
		s, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := want[s.Get("Package")]; !ok || v != s.Get("Version") {
			continue
		}
		st := &control.Stanza{}
		st.Set("Package", s.Get("Package"))
		st.Set("Status", "install ok installed")
		for _, fld := range s.Fields {
			switch fld.Name {
			case "Package", "Filename", "Size", "MD5sum", "SHA256", "Description-md5":
				continue
			}
			st.Set(fld.Name, fld.Value)
		}
		if err := w.Write(st); err != nil {
			t.Fatal(err)
		}
		found++
	}
	if found != len(want) {
		t.Fatalf("found %d of the %d packages apt installs in the fixture index", found, len(want))
	}
	return b.String()
}
