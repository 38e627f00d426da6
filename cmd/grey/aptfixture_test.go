package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/internal/testfixture"
)

// fixtureSuites are the bookworm fixture's suites: archive folder, suite.
var fixtureSuites = [][2]string{{"debian", "bookworm"}, {"debian", "bookworm-updates"}, {"debian-security", "bookworm-security"}}

// aptFixture makes a scratch apt configuration over the fixture's suites,
// with their lists in place as apt update would leave them (no network,
// no signature check: the lists are the fixture's verified files), the
// given preferences file and dpkg status file. It is the oracle
// the tests compare grey's answers with.
func aptFixture(t *testing.T, suites [][2]string, preferences, status string) aptEnv {
	t.Helper()
	fixture := testfixture.Bookworm(t)
	// apt names list files after the URI, quoting some characters ('_'
	// of a subtest's temporary folder among them); a path of plain
	// letters and digits keeps that simple wherever the fixture is.
	a, err := os.MkdirTemp("", "aptfixture")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(a) })
	fx := filepath.Join(a, "fx")
	if err := os.Symlink(fixture, fx); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"etc/apt.conf.d", "etc/preferences.d", "etc/sources.list.d", "state/lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(a, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var srcList strings.Builder
	for _, s := range suites {
		fmt.Fprintf(&srcList, "deb [arch=amd64 trusted=yes] file:%s/%s %s main\n", fx, s[0], s[1])
		pre := strings.ReplaceAll(filepath.Join(fx, s[0], "dists", s[1]), "/", "_")
		in, err := os.ReadFile(filepath.Join(fixture, s[0], "dists", s[1], "InRelease"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(a, "state/lists", pre+"_InRelease"), in, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(filepath.Join(fixture, s[0], "dists", s[1], "main/binary-amd64/Packages.xz"))
		if err != nil {
			t.Fatal(err)
		}
		zr, _, err := compress.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(a, "state/lists", pre+"_main_binary-amd64_Packages"), plain, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`Dir::Etc "%[1]s/etc/";
Dir::Etc::sourcelist "sources.list";
Dir::Etc::sourceparts "sources.list.d";
Dir::Etc::parts "apt.conf.d";
Dir::Etc::main "/dev/null";
Dir::Etc::preferences "preferences";
Dir::Etc::preferencesparts "preferences.d";
Dir::State "%[1]s/state/";
Dir::State::lists "lists/";
Dir::State::status "%[1]s/state/status";
Dir::State::extended_states "%[1]s/state/extended_states";
Dir::Cache "%[1]s/cache/";
Dir::Cache::pkgcache "pkgcache.bin";
Dir::Cache::srcpkgcache "srcpkgcache.bin";
Debug::NoLocking "1";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
Acquire::GzipIndexes "false";
`, a)
	files := map[string]string{"apt.conf": conf, "etc/sources.list": srcList.String(), "etc/preferences": preferences, "state/status": status}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(a, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return aptEnv{env: append(os.Environ(), "APT_CONFIG="+filepath.Join(a, "apt.conf")), dir: a, status: filepath.Join(a, "state/status"), fixture: fx}
}

// aptEnv is a scratch apt configuration (aptFixture).
type aptEnv struct {
	// env is the environment that points apt at it.
	env []string
	// status is its dpkg status file: apt prints this path where grey
	// prints the root's /var/lib/dpkg/status.
	status string
	// fixture is the path apt's sources name the fixture by.
	fixture string
	dir     string
}

// set replaces the preferences and the status file.
func (e aptEnv) set(t *testing.T, preferences, status string) {
	t.Helper()
	for name, data := range map[string]string{"etc/preferences": preferences, "state/status": status} {
		if err := os.WriteFile(filepath.Join(e.dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
