package testfixture

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

// AptOptions describe a scratch apt configuration (NewAptEnv).
type AptOptions struct {
	// Sources are sources.list lines, written as given.
	Sources []string
	// Suites are suites of the bookworm fixture ("bookworm",
	// "bookworm-updates", "bookworm-security") added as trusted file:
	// sources with their lists already in place, as apt-get update would
	// leave them: apt-cache and apt-get -s answer at once, offline. The
	// lists are the fixture's verified files, so no signature is checked.
	Suites []string
	// Preferences is the apt_preferences(5) file's content.
	Preferences string
	// Status is the dpkg status file's content ("" for an empty root).
	Status string
	// ExtendedStates is apt's extended_states content (Auto-Installed
	// marks), or "" for none.
	ExtendedStates string
}

// AptEnv is a private apt configuration: every directory apt reads or
// writes is under Dir, the host's apt.conf.d, sources, preferences and
// keyrings are never read, and locking is off. It is the oracle tests
// compare grey with.
type AptEnv struct {
	// Dir holds everything apt reads and writes.
	Dir string
	// Config is the APT_CONFIG file.
	Config string
	// Status is the dpkg status file apt reads (apt prints this path
	// where grey prints the root's /var/lib/dpkg/status).
	Status string
	// Archives is where apt-get puts the packages it downloads.
	Archives string
	// Fixture is the path the Suites' sources name the fixture by ("" with
	// no Suites).
	Fixture string
	// Solvers is the directory apt searches first for external solvers
	// (Dir::Bin::Solvers); /usr/lib/apt/solvers comes after it.
	Solvers string
	t       testing.TB
}

// NewAptEnv writes a private apt configuration under a new temporary
// directory and checks with apt-config that apt resolves every directory
// inside it. It skips (or fails under CI) when apt, or the fixture that
// opts.Suites need, is missing.
func NewAptEnv(t testing.TB, opts AptOptions) *AptEnv {
	t.Helper()
	Tool(t, "apt-config", "apt")
	// apt names list files after the URI, quoting some characters ('_'
	// of a subtest's temporary folder among them); a path of plain
	// letters and digits keeps the offline lists' names simple.
	dir, err := os.MkdirTemp("", "aptenv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	e := &AptEnv{
		Dir: dir, Config: filepath.Join(dir, "apt.conf"), Status: filepath.Join(dir, "state", "status"),
		Archives: filepath.Join(dir, "cache", "archives"), Solvers: filepath.Join(dir, "solvers"), t: t,
	}
	for _, d := range []string{
		"root", "state/lists/partial", "cache/archives/partial", "log", "tmp", "solvers",
		"etc/sources.list.d", "etc/apt.conf.d", "etc/preferences.d", "etc/trusted.gpg.d",
	} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sources := append([]string(nil), opts.Sources...)
	if len(opts.Suites) > 0 {
		fixture := Bookworm(t)
		e.Fixture = filepath.Join(dir, "fx")
		if err := os.Symlink(fixture, e.Fixture); err != nil {
			t.Fatal(err)
		}
		for _, s := range opts.Suites {
			archive := "debian"
			if strings.HasSuffix(s, "-security") {
				archive = "debian-security"
			}
			sources = append(sources, fmt.Sprintf("deb [arch=amd64 trusted=yes] file:%s/%s %s main", e.Fixture, archive, s))
			e.placeLists(fixture, archive, s)
		}
	}
	var src string
	if len(sources) > 0 {
		src = strings.Join(sources, "\n") + "\n"
	}
	conf := fmt.Sprintf(`// Everything relative resolves under the temporary root.
Dir "%[1]s/root/";
Dir::State "%[1]s/state/";
Dir::State::lists "%[1]s/state/lists/";
Dir::State::status "%[1]s/state/status";
Dir::State::extended_states "%[1]s/state/extended_states";
Dir::Cache "%[1]s/cache/";
Dir::Cache::archives "%[1]s/cache/archives/";
Dir::Cache::pkgcache "%[1]s/cache/pkgcache.bin";
Dir::Cache::srcpkgcache "%[1]s/cache/srcpkgcache.bin";
Dir::Log "%[1]s/log/";
Dir::Etc "%[1]s/etc/";
Dir::Etc::main "%[1]s/etc/apt.conf";
Dir::Etc::parts "%[1]s/etc/apt.conf.d/";
Dir::Etc::sourcelist "%[1]s/etc/sources.list";
Dir::Etc::sourceparts "%[1]s/etc/sources.list.d/";
Dir::Etc::preferences "%[1]s/etc/preferences";
Dir::Etc::preferencesparts "%[1]s/etc/preferences.d/";
Dir::Etc::trusted "%[1]s/etc/trusted.gpg";
Dir::Etc::trustedparts "%[1]s/etc/trusted.gpg.d/";
Dir::Bin::methods "/usr/lib/apt/methods/";
Dir::Bin::dpkg "/usr/bin/dpkg";
Dir::Bin::Solvers { "%[1]s/solvers"; "/usr/lib/apt/solvers"; };
Dir::Bin::Planners { "/usr/lib/apt/planners"; };
Debug::NoLocking "1";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
Acquire::GzipIndexes "false";
Acquire::http::Proxy "DIRECT";
Acquire::Retries "0";
// The temporary directories are private to this user; do not drop to _apt.
APT::Sandbox::User "root";
APT::Solver::RunAsUser "root";
`, dir)
	files := map[string]string{"apt.conf": conf, "etc/sources.list": src}
	if opts.ExtendedStates != "" {
		files["state/extended_states"] = opts.ExtendedStates
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.Set(t, opts.Preferences, opts.Status)
	e.CheckPrivate()
	return e
}

// placeLists writes suite's InRelease and its plain amd64 Packages index
// where apt-get update would have left them.
func (e *AptEnv) placeLists(fixture, archive, suite string) {
	t := e.t
	t.Helper()
	from := filepath.Join(fixture, archive, "dists", suite)
	prefix := filepath.Join(e.Dir, "state", "lists", strings.ReplaceAll(filepath.Join(e.Fixture, archive, "dists", suite), "/", "_"))
	in, err := os.ReadFile(filepath.Join(from, "InRelease"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prefix+"_InRelease", in, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(from, "main", "binary-amd64", "Packages.xz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := xz.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", f.Name(), err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", f.Name(), err)
	}
	if err := os.WriteFile(prefix+"_main_binary-amd64_Packages", plain, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Set replaces the preferences and the dpkg status file. A new status
// file also removes apt's cache: apt rebuilds it when the status file's
// size or mtime changes, and two status files of one size written within
// one second look the same to it. The preferences are not in the cache
// (apt computes its policy from them on each run), so a status file
// that stays as it was keeps the cache, which saves a rebuild of the
// whole index's cache per case.
func (e *AptEnv) Set(t testing.TB, preferences, status string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.Dir, "etc/preferences"), []byte(preferences), 0o644); err != nil {
		t.Fatal(err)
	}
	if old, err := os.ReadFile(e.Status); err == nil && string(old) == status {
		return
	}
	if err := os.WriteFile(e.Status, []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cache/pkgcache.bin", "cache/srcpkgcache.bin"} {
		if err := os.Remove(filepath.Join(e.Dir, name)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
}

// Command returns an apt program (apt-get, apt-cache, apt-config...) to run
// with the private configuration, in a clean environment (C.UTF-8:
// English messages, UTF-8 text printed as it is).
func (e *AptEnv) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = []string{
		"APT_CONFIG=" + e.Config,
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"TMPDIR=" + filepath.Join(e.Dir, "tmp"),
		"LC_ALL=C.UTF-8",
		"HOME=" + e.Dir,
	}
	return cmd
}

// Run runs an apt program with the private configuration and returns its
// standard output and error together.
func (e *AptEnv) Run(ctx context.Context, name string, args ...string) (string, error) {
	out, err := e.Command(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// CheckPrivate asks apt itself where its directories and files resolve to
// and fails the test unless every one is inside Dir, so a test can never
// touch the host's apt state.
func (e *AptEnv) CheckPrivate() {
	t := e.t
	t.Helper()
	vars := []string{
		"Dir/d", "Dir::State/d", "Dir::State::lists/d", "Dir::State::status/f",
		"Dir::State::extended_states/f", "Dir::Cache/d", "Dir::Cache::archives/d",
		"Dir::Cache::pkgcache/f", "Dir::Cache::srcpkgcache/f", "Dir::Log/d",
		"Dir::Log::Terminal/f", "Dir::Log::History/f", "Dir::Log::Planner/f",
		"Dir::Etc/d", "Dir::Etc::main/f", "Dir::Etc::parts/d", "Dir::Etc::sourcelist/f",
		"Dir::Etc::sourceparts/d", "Dir::Etc::trusted/f", "Dir::Etc::trustedparts/d",
		"Dir::Etc::preferences/f", "Dir::Etc::preferencesparts/d",
	}
	args := []string{"shell"}
	for i, v := range vars {
		args = append(args, fmt.Sprintf("V%d", i), v)
	}
	out, err := e.Run(context.Background(), "apt-config", args...)
	if err != nil {
		t.Fatalf("apt-config: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(vars) {
		t.Fatalf("apt-config resolved %d of %d directories:\n%s", len(lines), len(vars), out)
	}
	for _, l := range lines {
		_, v, _ := strings.Cut(l, "=")
		v = strings.Trim(v, "'")
		if !strings.HasPrefix(v, e.Dir+"/") {
			t.Fatalf("apt would use %s outside the test directory (%s)", v, l)
		}
	}
}
