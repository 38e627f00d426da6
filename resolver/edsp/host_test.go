package edsp

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/greypm/grey/resolver/edsp/edsptest"
)

var updateHost = flag.Bool("update-host", false, "regenerate testdata/resolver/host/*.edsp with real apt from this machine's dpkg status against the fixture")

// hostCase is an apt-get command run by real apt on this machine's own
// installed system (/var/lib/dpkg/status and apt's extended_states, about
// 700 packages of Debian 12) with the fixture's bookworm, bookworm-updates
// and bookworm-security as sources.
type hostCase struct {
	name  string
	args  []string
	known string
}

func hostCases() []hostCase {
	return []hostCase{
		{name: "remove-git-autoremove", args: []string{"remove", "--autoremove", "git"}},
		{name: "autoremove", args: []string{"autoremove"}},
		{name: "upgrade", args: []string{"upgrade"}},
		{name: "dist-upgrade", args: []string{"dist-upgrade"}},
		{name: "remove-systemd", args: []string{"remove", "systemd"}},
		{name: "install-sysvinit-core", args: []string{"install", "sysvinit-core"}},
		// udev is not installed; its candidate needs libudev1 252.39, and
		// apt upgrades every installed binary of the systemd source with
		// it (systemd, libsystemd0, libsystemd-shared, ...: issue 15,
		// point 3).
		{name: "install-udev", args: []string{"install", "udev"}},
	}
}

// maxHostSize bounds a committed host scenario.
const maxHostSize = 1700 << 10

// TestUpdateHostScenarios regenerates testdata/resolver/host (go test
// ./resolver/edsp -run TestUpdateHostScenarios -update-host): each case is
// dumped by apt (APT_EDSP_DUMP_FILENAME, `apt-get -s --solver dump`),
// answered by apt's own solver with Recommends on (apt's default), reduced
// to the request's closure (Reduce; apt's answer to the reduced scenario
// must be the same) and written with apt's final set as the expectation.
func TestUpdateHostScenarios(t *testing.T) {
	if !*updateHost {
		t.Skip("regenerates testdata/resolver/host; run with -update-host")
	}
	status, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		t.Skipf("no dpkg status on this machine: %v", err)
	}
	ext, _ := os.ReadFile("/var/lib/apt/extended_states")
	a := edsptest.New(t, edsptest.Options{
		Suites:         []string{"bookworm", "bookworm-updates", "bookworm-security"},
		Status:         string(status),
		ExtendedStates: string(ext),
	})
	dir := filepath.Join(scenarioDir(t), "host")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range hostCases() {
		t.Run(c.name, func(t *testing.T) {
			fullPath := a.Dump(t, c.args...)
			defer os.Remove(fullPath)
			full := readScenario(t, fullPath)
			opts := []string{"-o", "APT::Install-Recommends=true"}
			fullAns, err := ReadAnswer(bytes.NewReader(a.Solve(t, fullPath, opts...)), full)
			if err != nil {
				t.Fatal(err)
			}
			if fullAns.Error != nil {
				t.Fatalf("apt cannot solve %v: %s", c.args, fullAns.Error.Message)
			}
			red := Reduce(full, true)
			final := red.Final(fullAns)
			var labels []string
			for _, p := range final {
				labels = append(labels, Label(p, red.Request.Architecture))
			}
			sort.Strings(labels)
			red.Comments = []string{
				fmt.Sprintf(" host: `apt-get -s %s` on this machine's installed system (%d packages installed) with the fixture's bookworm, bookworm-updates and bookworm-security;", strings.Join(c.args, " "), countInstalled(full)),
				fmt.Sprintf(" dumped by apt 2.6 from %d packages, reduced to the request's closure (%d).", len(full.Packages), len(red.Packages)),
				fmt.Sprintf(" apt's own solver (Recommends on) installs %d and removes %d.", len(fullAns.Install), len(fullAns.Remove)),
				" source: apt-get --solver dump on the host, answer of /usr/lib/apt/solvers/apt",
				" recommends: yes",
				" expect: final " + strings.Join(labels, " "),
			}
			if c.known != "" {
				red.Comments = append(red.Comments, " known-failure: "+c.known)
			}
			var b bytes.Buffer
			if err := red.Write(&b); err != nil {
				t.Fatal(err)
			}
			if b.Len() > maxHostSize {
				t.Fatalf("reduced scenario is %d bytes, over %d", b.Len(), maxHostSize)
			}
			// Committed gzipped (each is about 600 KB plain).
			out := filepath.Join(dir, c.name+".edsp")
			if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			defer gzipFile(t, out)
			redRead := readScenario(t, out)
			redAns, err := ReadAnswer(bytes.NewReader(a.Solve(t, out, opts...)), redRead)
			if err != nil {
				t.Fatal(err)
			}
			if finalIDs(redRead.Final(redAns)) != finalIDs(final) {
				t.Errorf("apt answers the reduced scenario differently")
			}
		})
	}
}

// gzipFile replaces path by path.gz.
func gzipFile(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".gz", b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
}

func countInstalled(sc *Scenario) int {
	n := 0
	for _, p := range sc.Packages {
		if p.Installed {
			n++
		}
	}
	return n
}

// TestHostSourceSiblings: on this machine's installed system, `apt-get
// install udev` (udev is new; its candidate needs libudev1 252.39) upgrades
// every installed binary package of the systemd source to 252.39 with it,
// and so does grey: none is left at 252.38 (issue 15, point 3). The
// scenario's expectation is apt's own answer, so TestScenarios compares the
// whole final set too; this test names the rule.
func TestHostSourceSiblings(t *testing.T) {
	path := filepath.Join(scenarioDir(t), "host", "install-udev.edsp.gz")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := Read(zr)
	if err != nil {
		t.Fatal(err)
	}
	ans, _, err := sc.Solve(context.Background(), Options{Recommends: true})
	if err != nil || ans.Error != nil {
		t.Fatalf("solve: %v %v", err, ans.Error)
	}
	final := sc.Final(ans)
	var udev string
	for _, p := range final {
		if p.Name == "udev" {
			udev = p.Version.String()
		}
	}
	if udev != "252.39-1~deb12u2" {
		t.Fatalf("udev %q in the final set, want 252.39-1~deb12u2", udev)
	}
	installed := map[string]bool{}
	for _, p := range sc.Packages {
		if p.Installed && p.Source == "systemd" {
			installed[p.Name] = true
		}
	}
	var moved []string
	for _, p := range final {
		if !installed[p.Name] {
			continue
		}
		if p.Version.String() != udev {
			t.Errorf("%s stays at %s while udev goes to %s", p.Name, p.Version, udev)
		}
		moved = append(moved, p.Name)
	}
	sort.Strings(moved)
	// apt's answer: these eight, with udev itself new.
	want := "libnss-systemd libpam-systemd libsystemd-shared libsystemd0 libudev1 systemd systemd-sysv systemd-timesyncd"
	if got := strings.Join(moved, " "); got != want {
		t.Errorf("systemd binaries in the final set: %s, want %s", got, want)
	}
}
