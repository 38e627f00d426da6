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
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/testfixture"
)

// Apt is a private apt configuration.
type Apt struct {
	// Dir holds everything apt reads and writes.
	Dir string
	// Config is the APT_CONFIG file.
	Config string
	// Solvers is the directory apt searches first for external solvers
	// (Dir::Bin::Solvers); /usr/lib/apt/solvers comes after it.
	Solvers string
	aptGet  string
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

// New writes the configuration under t.TempDir() and runs apt-get update
// in it. It skips (or fails under CI) when apt-get or the fixture is
// missing.
func New(t testing.TB, opts Options) *Apt {
	t.Helper()
	aptGet := testfixture.Tool(t, "apt-get", "apt")
	fix := testfixture.Bookworm(t)
	dir := t.TempDir()
	a := &Apt{Dir: dir, Config: filepath.Join(dir, "apt.conf"), Solvers: filepath.Join(dir, "solvers"), aptGet: aptGet}
	for _, d := range []string{"etc/apt.conf.d", "etc/sources.list.d", "etc/preferences.d", "state/lists/partial", "cache/archives/partial", "log", "solvers"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	suites := opts.Suites
	if len(suites) == 0 {
		suites = []string{"bookworm"}
	}
	var src strings.Builder
	for _, s := range suites {
		root := "debian"
		if strings.HasSuffix(s, "-security") {
			root = "debian-security"
		}
		fmt.Fprintf(&src, "deb [signed-by=%s] file://%s %s main\n",
			filepath.Join(fix, "debian-archive-keyring.gpg"), filepath.Join(fix, root), s)
	}
	files := map[string]string{
		"etc/sources.list":      src.String(),
		"state/status":          opts.Status,
		"state/extended_states": opts.ExtendedStates,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`Dir "%[1]s/";
Dir::Etc "%[1]s/etc/";
Dir::Etc::main "/dev/null";
Dir::Etc::sourcelist "%[1]s/etc/sources.list";
Dir::Etc::sourceparts "%[1]s/etc/sources.list.d";
Dir::Etc::parts "%[1]s/etc/apt.conf.d";
Dir::Etc::preferences "%[1]s/etc/preferences";
Dir::Etc::preferencesparts "%[1]s/etc/preferences.d";
Dir::Etc::trusted "%[1]s/etc/trusted.gpg";
Dir::Etc::trustedparts "%[1]s/etc/trusted.gpg.d";
Dir::State "%[1]s/state/";
Dir::State::lists "%[1]s/state/lists/";
Dir::State::status "%[1]s/state/status";
Dir::State::extended_states "%[1]s/state/extended_states";
Dir::Cache "%[1]s/cache/";
Dir::Cache::archives "%[1]s/cache/archives/";
Dir::Log "%[1]s/log/";
Dir::Bin::dpkg "/usr/bin/dpkg";
Dir::Bin::Solvers { "%[1]s/solvers"; "/usr/lib/apt/solvers"; };
Dir::Bin::Planners { "/usr/lib/apt/planners"; };
Dir::Bin::Methods "/usr/lib/apt/methods";
Debug::NoLocking "1";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
Acquire::Check-Valid-Until "false";
Acquire::Check-Date "false";
APT::Sandbox::User "root";
APT::Solver::RunAsUser "root";
`, dir)
	if err := os.WriteFile(a.Config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := a.Run(nil, "update"); err != nil {
		t.Fatalf("apt-get update in %s: %v\n%s", dir, err, out)
	}
	return a
}

// Env returns the environment apt runs with: the private APT_CONFIG and
// extra ("K=V").
func (a *Apt) Env(extra ...string) []string {
	env := append(os.Environ(), "APT_CONFIG="+a.Config, "LC_ALL=C")
	return append(env, extra...)
}

// Run runs apt-get with args (and the extra environment) and returns its
// combined output.
func (a *Apt) Run(extra []string, args ...string) (string, error) {
	cmd := exec.Command(a.aptGet, append([]string{"-q", "-o", "Dpkg::Use-Pty=0"}, args...)...)
	cmd.Env = a.Env(extra...)
	cmd.Dir = a.Dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
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
	cmd := exec.Command("/usr/lib/apt/solvers/apt", options...)
	cmd.Env = a.Env()
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
